import { bytesEqual, isAllZero, toHex } from '../bytes.js';
import { fail } from '../errors.js';
import type { TcbStatus } from '../evidence.js';
import type { QeIdentity } from './qe-identity.js';
import {
  TCB_INFO_STATUS_NAMES,
  type TcbInfo,
  type TcbInfoStatus,
  type TcbLevel,
  type TdxModuleIdentity,
  type TdxModuleTcbLevel,
} from './tcb-info.js';
import type { EnclaveReportBody, PckExtensions, VerifiedCollateral } from './types.js';

/*
 * Intel's TCB status logic for DCAP quotes, following the Intel SGX/TDX DCAP Quote Verification Library
 * (intel/SGX-TDX-DCAP-QuoteVerificationLibrary, Src/AttestationLibrary/src/Verifiers):
 * QuoteVerifier::verify (steps 4.1.2.4.9-4.1.2.4.17), EnclaveReportVerifier::verify (4.1.2.9.5-10),
 * Checks/TcbLevelCheck.cpp (matchTcbLevels, checkTcbLevel, convergeTcbStatusWithQeTcbStatus),
 * Checks/TdxModuleCheck.cpp (checkTdxModuleTcbStatus, convergeTcbStatusWithTdxModuleStatus) and
 * Checks/TDRelaunchCheck.cpp (checkForRelaunch). Our own code; the step numbers are Intel's.
 *
 * A status that Intel reports as an error (no matching level, Revoked, a mismatch) is thrown as an
 * AttestationError; every other status is returned for the policy to judge.
 */

/** Intel TCB statuses from best to worst, as named in TCB Info ("Revoked" never survives verification). */
export const INTEL_TCB_STATUS_ORDER: readonly TcbInfoStatus[] = TCB_INFO_STATUS_NAMES;

export interface AssessIntelTcbInput {
  readonly tee: 'tdx' | 'sgx';
  /** Verified (signature, chain, window) collateral, see verifyCollateral. */
  readonly tcbInfo: TcbInfo;
  readonly qeIdentity: QeIdentity;
  /** Intel SGX extensions of the quote's PCK certificate. */
  readonly pck: PckExtensions;
  /** The QE report of the quote (its signature already verified with the PCK key). */
  readonly qeReport: EnclaveReportBody;
  /** TDX: TEE_TCB_SVN of the TD report (16 bytes). */
  readonly teeTcbSvn?: Uint8Array;
  /** TDX 1.5 (quote v5, body type 3): TEE_TCB_SVN_2 (16 bytes), for the TD relaunch check. */
  readonly teeTcbSvn2?: Uint8Array;
  /** TDX: MRSIGNERSEAM (48 bytes). */
  readonly mrSignerSeam?: Uint8Array;
  /** TDX: SEAMATTRIBUTES (8 bytes). */
  readonly seamAttributes?: Uint8Array;
}

export interface IntelTcbAssessment {
  readonly tcbStatus: TcbStatus;
  /** Union of the advisory IDs of every matched level (platform, TDX module, QE), sorted. */
  readonly advisoryIds: string[];
  /** Earliest tcbDate among the matched levels. */
  readonly tcbLevelDate?: Date;
  /**
   * TDX 1.5: Intel's TCB_TD_RELAUNCH_ADVISED(_CONFIGURATION_NEEDED). The platform already runs a TDX
   * module at the latest level (TEE_TCB_SVN_2); relaunching the TD would make it up to date. The status
   * stays OutOfDate(ConfigurationNeeded), as the TD itself still runs on the older module.
   */
  readonly relaunchAdvised: boolean;
  /** The parts the status converged from, for diagnostics. */
  readonly platformStatus: TcbInfoStatus;
  readonly qeStatus: TcbInfoStatus;
  readonly tdxModuleStatus?: TcbInfoStatus;
}

/** The parts of a parsed quote (quote.ts SgxQuote / TdxQuote) that the TCB assessment reads. */
export interface QuoteForTcb {
  readonly tee: 'tdx' | 'sgx';
  readonly qeReport: EnclaveReportBody;
  readonly body:
    | EnclaveReportBody
    | {
        readonly teeTcbSvn: Uint8Array;
        readonly mrSignerSeam: Uint8Array;
        readonly seamAttributes: Uint8Array;
        readonly teeTcbSvn2?: Uint8Array;
      };
}

/**
 * Matches a quote's TCB against verified TCB Info and QE Identity and returns the converged status.
 * Throws TCB_INFO_MISMATCH, QE_IDENTITY_MISMATCH, TCB_NOT_SUPPORTED or TCB_REVOKED.
 */
export function assessIntelTcb(input: AssessIntelTcbInput): IntelTcbAssessment;
export function assessIntelTcb(
  quote: QuoteForTcb,
  pck: PckExtensions,
  collateral: Pick<VerifiedCollateral, 'tcbInfo' | 'qeIdentity'>,
): IntelTcbAssessment;
export function assessIntelTcb(
  a: AssessIntelTcbInput | QuoteForTcb,
  pck?: PckExtensions,
  collateral?: Pick<VerifiedCollateral, 'tcbInfo' | 'qeIdentity'>,
): IntelTcbAssessment {
  if (pck === undefined || collateral === undefined) return assess(a as AssessIntelTcbInput);
  const q = a as QuoteForTcb;
  const td = 'teeTcbSvn' in q.body ? q.body : undefined;
  return assess({
    tee: q.tee,
    tcbInfo: collateral.tcbInfo,
    qeIdentity: collateral.qeIdentity,
    pck,
    qeReport: q.qeReport,
    ...(td
      ? {
          teeTcbSvn: td.teeTcbSvn,
          mrSignerSeam: td.mrSignerSeam,
          seamAttributes: td.seamAttributes,
          ...(td.teeTcbSvn2 ? { teeTcbSvn2: td.teeTcbSvn2 } : {}),
        }
      : {}),
  });
}

function assess(input: AssessIntelTcbInput): IntelTcbAssessment {
  const { tee, tcbInfo, qeIdentity, pck, qeReport } = input;
  const isTdx = tee === 'tdx';

  // 4.1.2.4.9: TCB Info generated for the quote's TEE (TDX needs TCB Info V3 id "TDX").
  const wantId = isTdx ? 'TDX' : 'SGX';
  if (tcbInfo.id !== wantId || (isTdx && tcbInfo.version < 3)) {
    fail(
      'TCB_INFO_MISMATCH',
      `TCB Info id "${tcbInfo.id}" (v${tcbInfo.version}) does not apply to a ${tee} quote`,
      {
        tcbInfoId: tcbInfo.id,
        tee,
      },
    );
  }
  // 4.1.2.4.10: FMSPC and PCE-ID of the PCK certificate.
  if (!bytesEqual(pck.fmspc, tcbInfo.fmspc)) {
    fail(
      'TCB_INFO_MISMATCH',
      `TCB Info is for FMSPC ${hex(tcbInfo.fmspc)}, the PCK certificate has ${hex(pck.fmspc)}`,
      {
        tcbInfoFmspc: hex(tcbInfo.fmspc),
        pckFmspc: hex(pck.fmspc),
      },
    );
  }
  if (!bytesEqual(pck.pceId, tcbInfo.pceId)) {
    fail(
      'TCB_INFO_MISMATCH',
      `TCB Info is for PCE-ID ${hex(tcbInfo.pceId)}, the PCK certificate has ${hex(pck.pceId)}`,
      {
        tcbInfoPceId: hex(tcbInfo.pceId),
        pckPceId: hex(pck.pceId),
      },
    );
  }

  let teeTcbSvn: Uint8Array | undefined;
  let moduleIdentity: TdxModuleIdentity | undefined;
  if (isTdx) {
    teeTcbSvn = need(input.teeTcbSvn, 'teeTcbSvn', 16);
    moduleIdentity = checkTdxModuleIdentity(
      tcbInfo,
      teeTcbSvn,
      need(input.mrSignerSeam, 'mrSignerSeam', 48),
      need(input.seamAttributes, 'seamAttributes', 8),
    );
  }

  // 4.1.2.4.14-15: QE Identity for the quote's TEE, then the QE report against it.
  const qeLevel = checkQeReport(tee, qeIdentity, qeReport);

  // 4.1.2.4.17: checkTcbLevel.
  const { sgxLevel, tdxLevel } = matchTcbLevels(tcbInfo, pck, teeTcbSvn);
  if (!sgxLevel) {
    fail(
      'TCB_NOT_SUPPORTED',
      'no TCB level of the TCB Info matches the PCK certificate (SGX components, PCESVN)',
      {
        pckTcbComponents: [...pck.tcbComponents],
        pckPceSvn: pck.pceSvn,
        fmspc: hex(pck.fmspc),
      },
    );
  }
  const matched: { advisoryIds: readonly string[]; tcbDate: Date }[] = [qeLevel];
  let status: Status;
  let relaunchAdvised = false;
  let platformStatus: TcbInfoStatus = sgxLevel.tcbStatus;
  let moduleLevel: TdxModuleTcbLevel | undefined;
  // EnclaveReportVerifier::verify 4.1.2.9.10: any QE level status other than UpToDate and Revoked
  // counts as ISVSVN_OUT_OF_DATE.
  const qeStatus: Status =
    qeLevel.tcbStatus === 'UpToDate' || qeLevel.tcbStatus === 'Revoked' ? qeLevel.tcbStatus : 'OutOfDate';

  if (!isTdx) {
    matched.push(sgxLevel);
    status = convergeWithQe(sgxLevel.tcbStatus, qeStatus);
  } else {
    if (!tdxLevel) {
      fail('TCB_NOT_SUPPORTED', 'no TCB level of the TCB Info matches TEE_TCB_SVN', {
        teeTcbSvn: hex(teeTcbSvn!),
        fmspc: hex(pck.fmspc),
      });
    }
    platformStatus = tdxLevel.tcbStatus;
    matched.push(tdxLevel);
    // 4.1.2.4.17.4.1: checkTdxModuleTcbStatus.
    moduleLevel = tdxModuleTcbLevel(teeTcbSvn!, moduleIdentity);
    if (moduleLevel) matched.push(moduleLevel);
    status = convergeWithTdxModule(tdxLevel.tcbStatus, moduleLevel?.tcbStatus ?? 'UpToDate');
    // 4.1.2.4.17.4.3: TD 1.5 relaunch advice (only when the QE is current).
    if (input.teeTcbSvn2 && status !== 'Revoked' && qeStatus === 'UpToDate') {
      relaunchAdvised = checkForRelaunch(
        need(input.teeTcbSvn2, 'teeTcbSvn2', 16),
        tcbInfo,
        sgxLevel.tcbStatus,
        status,
        moduleLevel?.tcbStatus,
      );
    }
    status = convergeWithQe(status, qeStatus);
  }

  if (status === 'Revoked') {
    fail('TCB_REVOKED', 'the TCB level of this platform is revoked', {
      platformStatus,
      qeStatus,
      ...(moduleLevel ? { tdxModuleStatus: moduleLevel.tcbStatus } : {}),
    });
  }
  const advisoryIds = [...new Set(matched.flatMap((l) => l.advisoryIds))].sort();
  const tcbLevelDate = new Date(Math.min(...matched.map((l) => l.tcbDate.getTime())));
  return {
    tcbStatus: status,
    advisoryIds,
    tcbLevelDate,
    relaunchAdvised,
    platformStatus,
    qeStatus,
    ...(moduleLevel ? { tdxModuleStatus: moduleLevel.tcbStatus } : {}),
  };
}

type Status = TcbInfoStatus;

function hex(b: Uint8Array): string {
  return toHex(b).toUpperCase();
}

function need(v: Uint8Array | undefined, name: string, len: number): Uint8Array {
  if (!v || v.length !== len)
    fail('INVALID_ARGUMENT', `assessIntelTcb: ${name} of ${len} bytes is required for TDX`);
  return v;
}

/**
 * QuoteVerifier::verify 4.1.2.4.11: the TDX module that produced the TD report. With TEE_TCB_SVN[1]
 * (the module's major version) > 0 the expected MRSIGNER/attributes come from tdxModuleIdentities
 * "TDX_<version>", otherwise from `tdxModule`. Intel compares SEAMATTRIBUTES byte by byte and requires
 * them to be zero (no mask is applied).
 */
function checkTdxModuleIdentity(
  tcbInfo: TcbInfo,
  teeTcbSvn: Uint8Array,
  mrSignerSeam: Uint8Array,
  seamAttributes: Uint8Array,
): TdxModuleIdentity | undefined {
  const version = teeTcbSvn[1]!;
  let expected = tcbInfo.tdxModule;
  let identity: TdxModuleIdentity | undefined;
  if (version > 0) {
    identity = findTdxModuleIdentity(tcbInfo, version);
    expected = identity;
  }
  if (!expected) fail('TCB_INFO_MISMATCH', 'TDX TCB Info has no tdxModule');
  if (!bytesEqual(mrSignerSeam, expected.mrSigner)) {
    fail(
      'TCB_INFO_MISMATCH',
      'MRSIGNERSEAM of the TD report differs from the TDX module MRSIGNER in TCB Info',
      {
        mrSignerSeam: hex(mrSignerSeam),
        expected: hex(expected.mrSigner),
      },
    );
  }
  if (!isAllZero(seamAttributes) || !bytesEqual(seamAttributes, expected.attributes)) {
    fail(
      'TCB_INFO_MISMATCH',
      'SEAMATTRIBUTES of the TD report are not zero or differ from the TDX module attributes',
      {
        seamAttributes: hex(seamAttributes),
        expected: hex(expected.attributes),
      },
    );
  }
  return identity;
}

/** TdxModuleCheck.cpp findTdxModuleIdentity: id "TDX_" + two upper-case hex digits of the version. */
function findTdxModuleIdentity(tcbInfo: TcbInfo, version: number): TdxModuleIdentity {
  const id = `TDX_${version.toString(16).toUpperCase().padStart(2, '0')}`;
  if (!tcbInfo.tdxModuleIdentities) {
    fail(
      'TCB_INFO_MISMATCH',
      `TDX module version ${version} needs tdxModuleIdentities, absent from the TCB Info`,
      {
        tdxModuleId: id,
      },
    );
  }
  const found = tcbInfo.tdxModuleIdentities.find((m) => m.id.toUpperCase() === id);
  if (!found) fail('TCB_INFO_MISMATCH', `TCB Info has no TDX module identity ${id}`, { tdxModuleId: id });
  return found;
}

/**
 * TdxModuleCheck.cpp checkTdxModuleTcbStatus: module major version 0 needs no identity (status OK);
 * otherwise the first level of the identity with TEE_TCB_SVN[0] >= isvsvn, or TCB_NOT_SUPPORTED.
 */
function tdxModuleTcbLevel(
  teeTcbSvn: Uint8Array,
  identity: TdxModuleIdentity | undefined,
): TdxModuleTcbLevel | undefined {
  if (!identity) return undefined;
  const isvSvn = teeTcbSvn[0]!;
  const level = identity.tcbLevels.find((l) => isvSvn >= l.isvSvn);
  if (!level) {
    fail('TCB_NOT_SUPPORTED', `TDX module ${identity.id} ISVSVN ${isvSvn} matches no level of the TCB Info`, {
      tdxModuleId: identity.id,
      isvSvn,
    });
  }
  return level;
}

/**
 * QuoteVerifier::verify 4.1.2.4.14 and EnclaveReportVerifier::verify 4.1.2.9.5-10. Returns the QE
 * Identity TCB level of the QE's ISVSVN (the first level with ISVSVN <= the report's).
 */
function checkQeReport(tee: 'tdx' | 'sgx', qe: QeIdentity, report: EnclaveReportBody) {
  const wantId = tee === 'tdx' ? 'TD_QE' : 'QE';
  if (qe.id !== wantId) {
    fail(
      'QE_IDENTITY_MISMATCH',
      `QE Identity id "${qe.id}" does not apply to a ${tee} quote (expected "${wantId}")`,
      {
        qeIdentityId: qe.id,
        tee,
      },
    );
  }
  // MISCSELECT: the REPORT field is a little-endian u32; the identity's hex is in the same byte order.
  const misc = new Uint8Array(4);
  new DataView(misc.buffer).setUint32(0, report.miscSelect >>> 0, true);
  if (!bytesEqual(mask(misc, qe.miscSelectMask), qe.miscSelect)) {
    fail('QE_IDENTITY_MISMATCH', 'QE report MISCSELECT (masked) differs from the QE Identity', {
      field: 'miscselect',
      report: hex(misc),
      expected: hex(qe.miscSelect),
    });
  }
  if (
    report.attributes.length !== 16 ||
    !bytesEqual(mask(report.attributes, qe.attributesMask), qe.attributes)
  ) {
    fail('QE_IDENTITY_MISMATCH', 'QE report ATTRIBUTES (masked) differ from the QE Identity', {
      field: 'attributes',
      report: hex(report.attributes),
      expected: hex(qe.attributes),
    });
  }
  if (!bytesEqual(report.mrSigner, qe.mrSigner)) {
    fail('QE_IDENTITY_MISMATCH', 'QE report MRSIGNER differs from the QE Identity', {
      field: 'mrsigner',
      report: hex(report.mrSigner),
      expected: hex(qe.mrSigner),
    });
  }
  if (report.isvProdId !== qe.isvProdId) {
    fail(
      'QE_IDENTITY_MISMATCH',
      `QE report ISVPRODID ${report.isvProdId} differs from the QE Identity's ${qe.isvProdId}`,
      {
        field: 'isvprodid',
        report: report.isvProdId,
        expected: qe.isvProdId,
      },
    );
  }
  const level = qe.tcbLevels.find((l) => report.isvSvn >= l.isvSvn);
  if (!level) {
    // STATUS_SGX_ENCLAVE_REPORT_ISVSVN_NOT_SUPPORTED converges to STATUS_TCB_NOT_SUPPORTED.
    fail('TCB_NOT_SUPPORTED', `QE ISVSVN ${report.isvSvn} matches no level of the QE Identity`, {
      qeIsvSvn: report.isvSvn,
    });
  }
  return level;
}

function mask(v: Uint8Array, m: Uint8Array): Uint8Array {
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! & (m[i] ?? 0);
  return out;
}

/**
 * TcbLevelCheck.cpp matchTcbLevels. Levels in TCB Info order. `sgxLevel`: the first level whose SGX
 * components and PCESVN are all <= the PCK's. For TDX, `tdxLevel`: the first such level whose TDX
 * components are also <= TEE_TCB_SVN (isTdxTcbHigherOrEqual), skipping indices 0-1 when TEE_TCB_SVN[1] > 0
 * because those describe the TDX module, which is rated separately through tdxModuleIdentities.
 */
export function matchTcbLevels(
  tcbInfo: TcbInfo,
  pck: Pick<PckExtensions, 'tcbComponents' | 'pceSvn'>,
  teeTcbSvn: Uint8Array | undefined,
): { sgxLevel?: TcbLevel; tdxLevel?: TcbLevel } {
  let sgxLevel: TcbLevel | undefined;
  for (const level of tcbInfo.tcbLevels) {
    const sgxOk =
      level.sgxComponents.every((svn, i) => (pck.tcbComponents[i] ?? 0) >= svn) && pck.pceSvn >= level.pceSvn;
    if (!sgxOk) continue;
    if (!teeTcbSvn) return { sgxLevel: level };
    sgxLevel ??= level;
    if (isTdxTcbHigherOrEqual(teeTcbSvn, level)) return { sgxLevel, tdxLevel: level };
  }
  return sgxLevel ? { sgxLevel } : {};
}

function isTdxTcbHigherOrEqual(teeTcbSvn: Uint8Array, level: TcbLevel): boolean {
  const comps = level.tdxComponents;
  if (!comps) return false;
  const start = teeTcbSvn[1]! > 0 ? 2 : 0;
  for (let i = start; i < 16; i++) if (teeTcbSvn[i]! < comps[i]!) return false;
  return true;
}

/** TdxModuleCheck.cpp convergeTcbStatusWithTdxModuleStatus. */
function convergeWithTdxModule(platform: Status, module: Status): Status {
  if (module === 'OutOfDate') {
    if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
    if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') {
      return 'OutOfDateConfigurationNeeded';
    }
  }
  if (module === 'Revoked') return 'Revoked';
  return platform;
}

/** TcbLevelCheck.cpp convergeTcbStatusWithQeTcbStatus (QE status OutOfDate / Revoked dominate). */
function convergeWithQe(platform: Status, qe: Status): Status {
  if (qe === 'OutOfDate') {
    if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
    if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') {
      return 'OutOfDateConfigurationNeeded';
    }
  }
  if (qe === 'Revoked') return 'Revoked';
  return platform;
}

/**
 * TDRelaunchCheck.cpp checkForRelaunch: the TD is out of date only because of its TDX module, and
 * TEE_TCB_SVN_2 (the module now loaded on the platform) reaches the latest TCB level (or the latest
 * level of its module identity): relaunching the TD would bring it up to date.
 */
function checkForRelaunch(
  teeTcbSvn2: Uint8Array,
  tcbInfo: TcbInfo,
  sgxStatus: Status,
  tdxStatus: Status,
  moduleStatus: Status | undefined,
): boolean {
  const sgxFine = [
    'UpToDate',
    'SWHardeningNeeded',
    'ConfigurationNeeded',
    'ConfigurationAndSWHardeningNeeded',
  ];
  if (!sgxFine.includes(sgxStatus)) return false;
  if (tdxStatus !== 'OutOfDate' && tdxStatus !== 'OutOfDateConfigurationNeeded') return false;
  if (moduleStatus !== 'OutOfDate') return false;
  const latest = tcbInfo.tcbLevels[0]!;
  const latestComp = (i: number) => latest.tdxComponents?.[i] ?? 0;
  if (teeTcbSvn2[1] === 0) {
    return teeTcbSvn2[0]! >= latestComp(0) && teeTcbSvn2[2]! >= latestComp(2);
  }
  const identity2 = findTdxModuleIdentity(tcbInfo, teeTcbSvn2[1]!);
  const latestModule = identity2.tcbLevels[0];
  if (!latestModule) fail('TCB_NOT_SUPPORTED', `TDX module identity ${identity2.id} has no TCB level`);
  return teeTcbSvn2[0]! >= latestModule.isvSvn && teeTcbSvn2[2]! >= latestComp(2);
}
