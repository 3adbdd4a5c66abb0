import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  readVector,
  readVectorText,
  VECTORS,
  type VectorIndexEntry,
  vectorIndex,
} from '../../test/vectors.js';
import { toHex } from '../bytes.js';
import { type AttestationErrorCode, isAttestationError } from '../errors.js';
import { checkPckRevocation, parseCollateralJson, verifyCollateral } from './collateral.js';
import type { QeIdentity } from './qe-identity.js';
import type { TcbInfo, TcbLevel } from './tcb-info.js';
import {
  type AssessIntelTcbInput,
  assessIntelTcb,
  INTEL_TCB_STATUS_ORDER,
  matchTcbLevels,
} from './tcb-status.js';
import type { EnclaveReportBody, PckExtensions } from './types.js';

function errorOf(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    if (isAttestationError(e)) return e;
    throw e;
  }
  throw new Error('expected an AttestationError, nothing was thrown');
}

function codeOf(fn: () => unknown): AttestationErrorCode {
  return errorOf(fn).code;
}

/*
 * A deliberately tiny extraction of what the TCB assessment needs from a quote, independent of
 * quote.ts (which another file owns): the QE report sits right after the ECDSA signature and key
 * (v3: signed ‖ len(4) ‖ sig(64) ‖ key(64) ‖ report; v4/v5 add a cert-data type(2) and size(4)), and
 * the PCK certificates are the PEM blocks of the certification data.
 */
function qeReportOf(raw: Uint8Array, version: number, signedLength: number): EnclaveReportBody {
  const off = signedLength + 4 + 128 + (version >= 4 ? 6 : 0);
  const r = raw.slice(off, off + 384);
  const dv = new DataView(r.buffer);
  return {
    cpuSvn: r.slice(0, 16),
    miscSelect: dv.getUint32(16, true),
    attributes: r.slice(48, 64),
    mrEnclave: r.slice(64, 96),
    mrSigner: r.slice(128, 160),
    isvProdId: dv.getUint16(256, true),
    isvSvn: dv.getUint16(258, true),
    reportData: r.slice(320, 384),
    raw: r,
  };
}

function pemCertsOf(raw: Uint8Array): X509Certificate[] {
  const text = Buffer.from(raw).toString('latin1');
  return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map(
    (p) => new X509Certificate(p),
  );
}

/** Value of an Intel SGX extension sub-OID (1.2.840.113741.1.13.1.<n>) holding an OCTET STRING. */
function sgxExtOctets(cert: X509Certificate, n: number): Uint8Array {
  const der = new Uint8Array(cert.raw);
  const oid = [0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01, n];
  for (let i = 0; i + oid.length + 2 < der.length; i++) {
    if (oid.every((b, j) => der[i + j] === b) && der[i + oid.length] === 0x04) {
      const len = der[i + oid.length + 1]!;
      return der.slice(i + oid.length + 2, i + oid.length + 2 + len);
    }
  }
  throw new Error(`SGX extension ${n} not found`);
}

function hexOf(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

interface Case {
  entry: VectorIndexEntry;
  input: AssessIntelTcbInput;
  pckChain: X509Certificate[];
  collateralJson: string;
  now: Date;
}

function caseOf(entry: VectorIndexEntry): Case {
  const f = entry.facts as Record<string, unknown>;
  const raw = readVector(entry.quote as string);
  const tee = f.tee_type === '0x81' ? 'tdx' : 'sgx';
  const pckChain = pemCertsOf(raw);
  const pck: PckExtensions = {
    ppid: sgxExtOctets(pckChain[0]!, 1),
    cpuSvn: new Uint8Array(f.pck_tcb_comp_svns as number[]),
    tcbComponents: f.pck_tcb_comp_svns as number[],
    pceSvn: f.pck_pcesvn as number,
    pceId: sgxExtOctets(pckChain[0]!, 3),
    fmspc: sgxExtOctets(pckChain[0]!, 4),
    sgxType: 0,
  };
  expect(toHex(pck.fmspc).toUpperCase()).toBe((f.fmspc as string).toUpperCase());
  const qeReport = qeReportOf(raw, f.quote_version as number, f.signed_length as number);
  expect(qeReport.isvSvn).toBe(f.qe_isvsvn);
  const collateralJson = readVectorText(entry.collateral_json as string);
  const v = verifyCollateral(parseCollateralJson(collateralJson), { now: new Date(entry.verify_at) });
  const input: AssessIntelTcbInput = {
    tee,
    tcbInfo: v.tcbInfo,
    qeIdentity: v.qeIdentity,
    pck,
    qeReport,
    ...(tee === 'tdx'
      ? {
          teeTcbSvn: hexOf(f.tee_tcb_svn as string),
          mrSignerSeam: new Uint8Array(48), // facts: mr_signer_seam_zero
          seamAttributes: hexOf(f.seam_attributes as string),
          ...(f.tee_tcb_svn2 ? { teeTcbSvn2: hexOf(f.tee_tcb_svn2 as string) } : {}),
        }
      : {}),
  };
  if (tee === 'tdx') expect(f.mr_signer_seam_zero).toBe(true);
  return { entry, input, pckChain, collateralJson, now: new Date(entry.verify_at) };
}

describe.skipIf(!VECTORS)('assessIntelTcb on the hardware vectors (expected = Intel QVL)', () => {
  const index = VECTORS ? vectorIndex() : { tdx: [], sgx: [] };
  const all = [...index.tdx, ...index.sgx];
  const accepted = all.filter((e) => typeof e.expected.tcb_status === 'string');

  it.each(accepted.map((e) => [e.id, e] as const))('%s', (_id, e) => {
    const c = caseOf(e);
    const r = assessIntelTcb(c.input);
    expect(r.tcbStatus).toBe(e.expected.tcb_status);
    expect(r.advisoryIds).toEqual([...((e.expected.advisory_ids as string[]) ?? [])].sort());
    expect(r.relaunchAdvised).toBe(false);
    const vc = verifyCollateral(parseCollateralJson(c.collateralJson), { now: c.now });
    checkPckRevocation(vc, c.pckChain);
  });

  it('v4-cos-00806f05-module-index-skip: UpToDate through TDX_01 (dcap-qvl says OutOfDate)', () => {
    const r = assessIntelTcb(caseOf(all.find((e) => e.id === 'v4-cos-00806f05-module-index-skip')!).input);
    expect(r).toMatchObject({
      tcbStatus: 'UpToDate',
      platformStatus: 'UpToDate',
      tdxModuleStatus: 'UpToDate',
    });
  });

  it('v4-azure-00806f05-outofdate-module: platform and module both OutOfDate', () => {
    const r = assessIntelTcb(caseOf(all.find((e) => e.id === 'v4-azure-00806f05-outofdate-module')!).input);
    expect(r).toMatchObject({ tcbStatus: 'OutOfDate', tdxModuleStatus: 'OutOfDate', qeStatus: 'UpToDate' });
    expect(r.tcbLevelDate?.toISOString()).toBe('2023-08-09T00:00:00.000Z');
  });

  it.each([['v5-phala-90c06f-tcb-not-supported'], ['v4-gotdx-50806f-tcb-not-supported']])(
    '%s: TCB_NOT_SUPPORTED',
    (id) => {
      const c = caseOf(all.find((e) => e.id === id)!);
      expect(codeOf(() => assessIntelTcb(c.input))).toBe('TCB_NOT_SUPPORTED');
    },
  );

  it('v4-phala-b0c06f-WRONG-collateral: every wrong piece is caught', () => {
    const c = caseOf(all.find((e) => e.id === 'v4-phala-b0c06f-WRONG-collateral')!);
    const vc = verifyCollateral(parseCollateralJson(c.collateralJson), { now: c.now });
    // Intel QVL's first failure: PCK CRL (Processor CA) is not from the PCK's issuer (Platform CA).
    expect(codeOf(() => checkPckRevocation(vc, c.pckChain))).toBe('CRL_INVALID');
    const e = errorOf(() => assessIntelTcb(c.input));
    expect(e.code).toBe('TCB_INFO_MISMATCH');
    expect(e.info.tcbInfoId).toBe('SGX');
    // With a TDX TCB Info, the SGX QE Identity ("QE") is refused for the TDX quote.
    const good = caseOf(all.find((x) => x.id === 'v4-phala-b0c06f-uptodate')!);
    const e2 = errorOf(() => assessIntelTcb({ ...c.input, tcbInfo: good.input.tcbInfo }));
    expect(e2.code).toBe('QE_IDENTITY_MISMATCH');
    expect(e2.info.qeIdentityId).toBe('QE');
  });

  it('the three-argument form (quote, PCK extensions, verified collateral) gives the same answer', () => {
    const c = caseOf(all.find((e) => e.id === 'v4-azure-00806f05-outofdate-module')!);
    const i = c.input;
    const quoteLike = {
      tee: 'tdx' as const,
      qeReport: i.qeReport,
      body: { teeTcbSvn: i.teeTcbSvn!, mrSignerSeam: i.mrSignerSeam!, seamAttributes: i.seamAttributes! },
    };
    expect(assessIntelTcb(quoteLike, i.pck, { tcbInfo: i.tcbInfo, qeIdentity: i.qeIdentity })).toEqual(
      assessIntelTcb(i),
    );
    const s = caseOf(all.find((e) => e.id === 'v3-phala-00a067110000-config-swhardening')!);
    const sgxLike = { tee: 'sgx' as const, qeReport: s.input.qeReport, body: s.input.qeReport };
    expect(assessIntelTcb(sgxLike, s.input.pck, s.input).tcbStatus).toBe('ConfigurationAndSWHardeningNeeded');
  });

  describe('mutations of a good TDX case', () => {
    const good = () => caseOf(all.find((e) => e.id === 'v4-phala-b0c06f-uptodate')!).input;
    const flip = (b: Uint8Array, i = 0) => {
      const o = b.slice();
      o[i] = o[i]! ^ 1;
      return o;
    };

    it('PCK FMSPC / PCE-ID / TEE type', () => {
      const g = good();
      expect(codeOf(() => assessIntelTcb({ ...g, pck: { ...g.pck, fmspc: flip(g.pck.fmspc) } }))).toBe(
        'TCB_INFO_MISMATCH',
      );
      expect(codeOf(() => assessIntelTcb({ ...g, pck: { ...g.pck, pceId: flip(g.pck.pceId) } }))).toBe(
        'TCB_INFO_MISMATCH',
      );
      expect(codeOf(() => assessIntelTcb({ ...g, tee: 'sgx' }))).toBe('TCB_INFO_MISMATCH');
    });

    it('QE report against QE Identity', () => {
      const g = good();
      const q = g.qeReport;
      for (const qeReport of [
        { ...q, mrSigner: flip(q.mrSigner) },
        { ...q, isvProdId: q.isvProdId + 1 },
        { ...q, miscSelect: q.miscSelect ^ 1 },
        { ...q, attributes: flip(q.attributes) }, // bit 0 of byte 0 (INIT) is under the mask
      ]) {
        expect(codeOf(() => assessIntelTcb({ ...g, qeReport }))).toBe('QE_IDENTITY_MISMATCH');
      }
      // Byte 0 bit 2 is outside the TD_QE attributes mask (FB…): ignored.
      const a = q.attributes.slice();
      a[0] = a[0]! ^ 0x04;
      expect(assessIntelTcb({ ...g, qeReport: { ...q, attributes: a } }).tcbStatus).toBe('UpToDate');
      // QE ISVSVN below every QE Identity level.
      expect(codeOf(() => assessIntelTcb({ ...g, qeReport: { ...q, isvSvn: 0 } }))).toBe('TCB_NOT_SUPPORTED');
    });

    it('TDX module identity', () => {
      const g = good();
      expect(codeOf(() => assessIntelTcb({ ...g, mrSignerSeam: flip(g.mrSignerSeam!) }))).toBe(
        'TCB_INFO_MISMATCH',
      );
      expect(codeOf(() => assessIntelTcb({ ...g, seamAttributes: flip(g.seamAttributes!) }))).toBe(
        'TCB_INFO_MISMATCH',
      );
      const svn = g.teeTcbSvn!.slice();
      svn[1] = 0x07; // no TDX_07 identity
      const e = errorOf(() => assessIntelTcb({ ...g, teeTcbSvn: svn }));
      expect(e.code).toBe('TCB_INFO_MISMATCH');
      expect(e.info.tdxModuleId).toBe('TDX_07');
      expect(codeOf(() => assessIntelTcb({ ...g, teeTcbSvn: undefined as unknown as Uint8Array }))).toBe(
        'INVALID_ARGUMENT',
      );
    });
  });
});

// --- synthetic TCB Info: the convergence rules on their own ---

const D = (s: string) => new Date(`${s}T00:00:00Z`);

function level(
  sgx: number,
  pce: number,
  tdx0: number,
  tdx2: number,
  status: TcbLevel['tcbStatus'],
  adv: string[] = [],
) {
  const sgxComponents = Array.from({ length: 16 }, (_, i) => (i < 2 ? sgx : 0));
  const tdxComponents = Array.from({ length: 16 }, (_, i) => (i === 0 ? tdx0 : i === 2 ? tdx2 : 0));
  return {
    sgxComponents,
    pceSvn: pce,
    tdxComponents,
    tcbDate: D(`20${10 + sgx}-01-01`),
    tcbStatus: status,
    advisoryIds: adv,
  };
}

function synth(levels: TcbLevel[], moduleLevels: [number, TcbLevel['tcbStatus']][] = []): TcbInfo {
  const zero48 = new Uint8Array(48);
  const attrs = {
    mrSigner: zero48,
    attributes: new Uint8Array(8),
    attributesMask: new Uint8Array(8).fill(0xff),
  };
  return {
    id: 'TDX',
    version: 3,
    issueDate: D('2025-01-01'),
    nextUpdate: D('2025-02-01'),
    fmspc: new Uint8Array(6),
    pceId: new Uint8Array(2),
    tcbType: 0,
    tcbEvaluationDataNumber: 1,
    tdxModule: attrs,
    tdxModuleIdentities: [
      {
        id: 'TDX_01',
        ...attrs,
        tcbLevels: moduleLevels.map(([isvSvn, tcbStatus]) => ({
          isvSvn,
          tcbStatus,
          tcbDate: D('2024-01-01'),
          advisoryIds: tcbStatus === 'UpToDate' ? [] : ['INTEL-SA-MODULE'],
        })),
      },
    ],
    tcbLevels: levels,
  };
}

const qeMrSigner = new Uint8Array(32).fill(7);
function synthQe(levels: [number, TcbLevel['tcbStatus']][]): QeIdentity {
  return {
    id: 'TD_QE',
    version: 2,
    issueDate: D('2025-01-01'),
    nextUpdate: D('2025-02-01'),
    tcbEvaluationDataNumber: 1,
    miscSelect: new Uint8Array(4),
    miscSelectMask: new Uint8Array(4).fill(0xff),
    attributes: new Uint8Array(16),
    attributesMask: new Uint8Array(16),
    mrSigner: qeMrSigner,
    isvProdId: 2,
    tcbLevels: levels.map(([isvSvn, tcbStatus]) => ({
      isvSvn,
      tcbStatus,
      tcbDate: D('2023-01-01'),
      advisoryIds: tcbStatus === 'UpToDate' ? [] : ['INTEL-SA-QE'],
    })),
  };
}

function synthInput(
  tcbInfo: TcbInfo,
  qe: QeIdentity,
  o: { sgx: number; pce: number; tee: number[]; qeSvn: number },
) {
  const teeTcbSvn = new Uint8Array(16);
  teeTcbSvn.set(o.tee);
  return {
    tee: 'tdx' as const,
    tcbInfo,
    qeIdentity: qe,
    pck: {
      ppid: new Uint8Array(16),
      cpuSvn: new Uint8Array(16),
      tcbComponents: Array.from({ length: 16 }, (_, i) => (i < 2 ? o.sgx : 0)),
      pceSvn: o.pce,
      pceId: new Uint8Array(2),
      fmspc: new Uint8Array(6),
      sgxType: 0,
    },
    qeReport: {
      cpuSvn: new Uint8Array(16),
      miscSelect: 0,
      attributes: new Uint8Array(16),
      mrEnclave: new Uint8Array(32),
      mrSigner: qeMrSigner,
      isvProdId: 2,
      isvSvn: o.qeSvn,
      reportData: new Uint8Array(64),
      raw: new Uint8Array(384),
    },
    teeTcbSvn,
    mrSignerSeam: new Uint8Array(48),
    seamAttributes: new Uint8Array(8),
  };
}

describe('TCB status convergence (synthetic TCB Info)', () => {
  const levels = [
    level(9, 13, 5, 9, 'UpToDate'),
    level(8, 13, 4, 8, 'ConfigurationNeeded', ['INTEL-SA-C']),
    level(7, 13, 3, 7, 'OutOfDate', ['INTEL-SA-O']),
    level(6, 13, 3, 6, 'Revoked', ['INTEL-SA-R']),
  ];
  const tcb = synth(levels, [
    [4, 'UpToDate'],
    [2, 'OutOfDate'],
    [1, 'Revoked'],
  ]);
  const qe = synthQe([
    [8, 'UpToDate'],
    [6, 'OutOfDate'],
    [4, 'Revoked'],
  ]);
  const run = (o: { sgx: number; pce: number; tee: number[]; qeSvn: number }) =>
    assessIntelTcb(synthInput(tcb, qe, o));

  it('orders the status names best to worst', () => {
    expect(INTEL_TCB_STATUS_ORDER[0]).toBe('UpToDate');
    expect(INTEL_TCB_STATUS_ORDER.at(-1)).toBe('Revoked');
  });

  it('module version 0: all 16 TEE_TCB_SVN bytes are compared', () => {
    expect(run({ sgx: 9, pce: 13, tee: [5, 0, 9], qeSvn: 8 }).tcbStatus).toBe('UpToDate');
    // TEE_TCB_SVN[0] = 4 < 5 drops to the second level.
    expect(run({ sgx: 9, pce: 13, tee: [4, 0, 9], qeSvn: 8 })).toMatchObject({
      tcbStatus: 'ConfigurationNeeded',
      advisoryIds: ['INTEL-SA-C'],
    });
  });

  it('module version > 0: bytes 0-1 skipped, the module rated by its identity', () => {
    // Byte 0 = 4 would fail level 1 (5), but is skipped; module TDX_01 isvsvn 4 is UpToDate.
    expect(run({ sgx: 9, pce: 13, tee: [4, 1, 9], qeSvn: 8 }).tcbStatus).toBe('UpToDate');
    // Module OutOfDate on an UpToDate platform → OutOfDate, with the module's advisories.
    expect(run({ sgx: 9, pce: 13, tee: [3, 1, 9], qeSvn: 8 })).toMatchObject({
      tcbStatus: 'OutOfDate',
      advisoryIds: ['INTEL-SA-MODULE'],
    });
    // Module OutOfDate on a ConfigurationNeeded platform → OutOfDateConfigurationNeeded.
    expect(run({ sgx: 8, pce: 13, tee: [3, 1, 8], qeSvn: 8 }).tcbStatus).toBe('OutOfDateConfigurationNeeded');
    // Module Revoked, or below every module level.
    expect(codeOf(() => run({ sgx: 9, pce: 13, tee: [1, 1, 9], qeSvn: 8 }))).toBe('TCB_REVOKED');
    expect(codeOf(() => run({ sgx: 9, pce: 13, tee: [0, 1, 9], qeSvn: 8 }))).toBe('TCB_NOT_SUPPORTED');
  });

  it('SGX level and TDX level are chosen separately (first match of each)', () => {
    // SGX components fit level 1, TDX byte 2 only level 3.
    const r = run({ sgx: 9, pce: 13, tee: [5, 0, 7], qeSvn: 8 });
    expect(r).toMatchObject({
      tcbStatus: 'OutOfDate',
      platformStatus: 'OutOfDate',
      advisoryIds: ['INTEL-SA-O'],
    });
    const i = synthInput(tcb, qe, { sgx: 9, pce: 13, tee: [5, 0, 7], qeSvn: 8 });
    const m = matchTcbLevels(tcb, i.pck, i.teeTcbSvn);
    expect(m.sgxLevel).toBe(levels[0]);
    expect(m.tdxLevel).toBe(levels[2]);
  });

  it('PCESVN and SGX components: below every level → TCB_NOT_SUPPORTED; revoked level → TCB_REVOKED', () => {
    expect(codeOf(() => run({ sgx: 9, pce: 12, tee: [5, 0, 9], qeSvn: 8 }))).toBe('TCB_NOT_SUPPORTED');
    expect(codeOf(() => run({ sgx: 5, pce: 13, tee: [5, 0, 9], qeSvn: 8 }))).toBe('TCB_NOT_SUPPORTED');
    expect(codeOf(() => run({ sgx: 6, pce: 13, tee: [5, 0, 9], qeSvn: 8 }))).toBe('TCB_REVOKED');
  });

  it('QE Identity status converges with the platform status', () => {
    expect(run({ sgx: 9, pce: 13, tee: [5, 0, 9], qeSvn: 6 })).toMatchObject({
      tcbStatus: 'OutOfDate',
      qeStatus: 'OutOfDate',
      advisoryIds: ['INTEL-SA-QE'],
    });
    expect(run({ sgx: 8, pce: 13, tee: [5, 0, 8], qeSvn: 7 }).tcbStatus).toBe('OutOfDateConfigurationNeeded');
    expect(codeOf(() => run({ sgx: 9, pce: 13, tee: [5, 0, 9], qeSvn: 5 }))).toBe('TCB_REVOKED');
    expect(codeOf(() => run({ sgx: 9, pce: 13, tee: [5, 0, 9], qeSvn: 3 }))).toBe('TCB_NOT_SUPPORTED');
  });

  it('TD 1.5 relaunch advice when TEE_TCB_SVN_2 already reaches the latest module', () => {
    const base = synthInput(tcb, qe, { sgx: 9, pce: 13, tee: [3, 1, 9], qeSvn: 8 });
    const svn2 = new Uint8Array(16);
    svn2.set([4, 1, 9]);
    expect(assessIntelTcb({ ...base, teeTcbSvn2: svn2 })).toMatchObject({
      tcbStatus: 'OutOfDate',
      relaunchAdvised: true,
    });
    svn2[0] = 3;
    expect(assessIntelTcb({ ...base, teeTcbSvn2: svn2 }).relaunchAdvised).toBe(false);
    // An out-of-date QE disables the advice.
    svn2[0] = 4;
    expect(
      assessIntelTcb({ ...base, qeReport: { ...base.qeReport, isvSvn: 6 }, teeTcbSvn2: svn2 })
        .relaunchAdvised,
    ).toBe(false);
  });
});
