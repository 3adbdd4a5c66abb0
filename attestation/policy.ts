import { bytesEqual, fromHex, toHex } from './bytes.js';
import { AttestationError, fail } from './errors.js';
import {
  type SnpTcb,
  TCB_STATUSES,
  type TcbStatus,
  TEE_TYPES,
  type TeeType,
  type VerifiedEvidence,
} from './evidence.js';
import { SIMULATED_MEASUREMENT_NAMES } from './simulated.js';

/*
 * Policy as data: what a relying party accepts of genuine evidence (the validate stage). Everything
 * defaults to the strict side: TEE types must be listed, measurements must be pinned (or the policy
 * says `dangerouslyAllowAnyMeasurement`), debug is refused, only TCB status UpToDate passes, no
 * advisory passes unless listed.
 */

/** A measurement value: one allowed hex string, or a list of allowed values (e.g. during a roll-out). */
export type MeasurementRule = string | readonly string[];

export interface Policy {
  /** TEE types accepted. `simulated` must be listed explicitly; no default policy lists it. */
  readonly allowedTees: readonly TeeType[];
  /** Expected measurements per TEE type, by register name (see MEASUREMENT_NAMES). */
  readonly measurements?: Partial<Record<TeeType, Readonly<Record<string, MeasurementRule>>>>;
  /** Accept any measurement: only for discovering measurements or platform-level checks. */
  readonly dangerouslyAllowAnyMeasurement?: boolean;
  /** Accept debug TDs, enclaves and guests (their memory is readable by the host). */
  readonly dangerouslyAllowDebug?: boolean;
  /** Intel TCB statuses accepted; default ['UpToDate']. */
  readonly acceptedTcbStatuses?: readonly TcbStatus[];
  /** Intel advisory IDs tolerated; any reported advisory not listed is refused. */
  readonly allowedAdvisoryIds?: readonly string[];
  /** Expected REPORTDATA, hex of 64 bytes (a binding function can be passed to validateEvidence instead). */
  readonly reportData?: string;
  /** Pinned hardware: Intel PPIDs, AMD CHIP_IDs (hex). When a list is present, evidence must match one. */
  readonly hardwareIds?: { readonly ppid?: readonly string[]; readonly chipId?: readonly string[] };
  /** Refuse collateral (TCB Info, QE Identity, CRLs) issued longer ago than this at `now`. */
  readonly maxCollateralAgeSeconds?: number;
  readonly sgx?: { readonly isvProdId?: number; readonly minIsvSvn?: number };
  readonly sevSnp?: {
    /** Minimum REPORTED_TCB, per component. */
    readonly minTcb?: Partial<SnpTcb>;
    /** Required VMPL of the requesting guest layer. */
    readonly vmpl?: number;
    readonly minGuestSvn?: number;
  };
  readonly simulated?: {
    /** SHA-256 of accepted simulated roots' public keys (hex). Absent: any simulated root. */
    readonly rootKeyHashes?: readonly string[];
  };
}

/** Register names per TEE, as produced by the verifiers (camelCase of the spec field names). */
export const MEASUREMENT_NAMES: Readonly<Record<TeeType, readonly string[]>> = {
  tdx: [
    'mrTd',
    'rtmr0',
    'rtmr1',
    'rtmr2',
    'rtmr3',
    'mrConfigId',
    'mrOwner',
    'mrOwnerConfig',
    'xfam',
    'tdAttributes',
    'mrSeam',
    'mrSignerSeam',
    'seamAttributes',
    'teeTcbSvn',
    'mrServiceTd',
    'teeTcbSvn2',
  ],
  sgx: ['mrEnclave', 'mrSigner', 'attributes'],
  'sev-snp': ['measurement', 'hostData', 'idKeyDigest', 'authorKeyDigest', 'familyId', 'imageId', 'reportId'],
  simulated: SIMULATED_MEASUREMENT_NAMES,
};

/**
 * The platform policy of `defaas attest verify` without --policy: genuine hardware evidence, fresh
 * collateral, TCB UpToDate, debug off; measurements reported, not pinned.
 */
export const PLATFORM_POLICY: Policy = {
  allowedTees: ['tdx', 'sgx', 'sev-snp'],
  dangerouslyAllowAnyMeasurement: true,
};

export type ReportDataExpectation = Uint8Array | ((reportData: Uint8Array) => boolean);

export interface ValidateOptions {
  /** Overrides policy.reportData: exact bytes or a binding predicate. */
  readonly reportData?: ReportDataExpectation;
  /** Needed only for maxCollateralAgeSeconds. */
  readonly now?: Date;
}

/** Applies `policy` to verified evidence; throws a policy-kind AttestationError on the first refusal. */
export function validateEvidence(v: VerifiedEvidence, policy: Policy, opts: ValidateOptions = {}): void {
  if (!policy.allowedTees.includes(v.tee)) {
    fail(
      'POLICY_TEE_NOT_ALLOWED',
      `TEE type ${v.tee} is not allowed by the policy (allowed: ${policy.allowedTees.join(', ') || 'none'})`,
      {
        tee: v.tee,
      },
    );
  }
  if (v.debug && !policy.dangerouslyAllowDebug) {
    fail(
      'POLICY_DEBUG',
      `the ${v.tee} evidence reports a debug ${v.tee === 'sev-snp' ? 'guest' : v.tee === 'sgx' ? 'enclave' : 'TD'}`,
      {
        tee: v.tee,
      },
    );
  }
  validateMeasurements(v, policy);
  if (v.tee === 'tdx' || v.tee === 'sgx') {
    const accepted = policy.acceptedTcbStatuses ?? ['UpToDate'];
    if (!accepted.includes(v.tcbStatus)) {
      fail(
        'POLICY_TCB_STATUS',
        `TCB status ${v.tcbStatus} is not accepted (accepted: ${accepted.join(', ')})`,
        {
          tcbStatus: v.tcbStatus,
          advisoryIds: v.advisoryIds,
        },
      );
    }
    const allowed = policy.allowedAdvisoryIds ?? [];
    const refused = v.advisoryIds.filter((a) => !allowed.includes(a));
    if (refused.length > 0) {
      fail('POLICY_ADVISORY', `advisories not allowed by the policy: ${refused.join(', ')}`, {
        advisoryIds: refused,
      });
    }
    if (policy.hardwareIds?.ppid) matchHardwareId('PPID', v.ppid, policy.hardwareIds.ppid);
  }
  if (v.tee === 'sgx' && policy.sgx) {
    const { isvProdId, minIsvSvn } = policy.sgx;
    if (isvProdId !== undefined && v.isvProdId !== isvProdId) {
      fail('POLICY_MEASUREMENT_MISMATCH', `ISVPRODID ${v.isvProdId} is not the expected ${isvProdId}`, {
        field: 'isvProdId',
      });
    }
    if (minIsvSvn !== undefined && v.isvSvn < minIsvSvn) {
      fail('POLICY_MIN_TCB', `ISVSVN ${v.isvSvn} is below the minimum ${minIsvSvn}`, { field: 'isvSvn' });
    }
  }
  if (v.tee === 'sev-snp') {
    const p = policy.sevSnp;
    if (p?.vmpl !== undefined && v.vmpl !== p.vmpl) {
      fail('POLICY_VMPL', `VMPL ${v.vmpl} is not the required ${p.vmpl}`, { vmpl: v.vmpl });
    }
    if (p?.minGuestSvn !== undefined && v.guestSvn < p.minGuestSvn) {
      fail('POLICY_MIN_TCB', `GUEST_SVN ${v.guestSvn} is below the minimum ${p.minGuestSvn}`, {
        field: 'guestSvn',
      });
    }
    if (p?.minTcb) {
      for (const [k, min] of Object.entries(p.minTcb) as [keyof SnpTcb, number | undefined][]) {
        const have = v.reportedTcb[k];
        if (min !== undefined && (have === undefined || have < min)) {
          fail('POLICY_MIN_TCB', `REPORTED_TCB.${k} = ${have ?? 'absent'} is below the minimum ${min}`, {
            field: k,
          });
        }
      }
    }
    if (policy.hardwareIds?.chipId) matchHardwareId('CHIP_ID', v.chipId, policy.hardwareIds.chipId);
  }
  if (v.tee === 'simulated' && policy.simulated?.rootKeyHashes) {
    matchHardwareId('simulated root key', v.rootKeyHash, policy.simulated.rootKeyHashes);
  }
  const rd =
    opts.reportData ??
    (policy.reportData !== undefined ? fromHex(policy.reportData, 'policy.reportData') : undefined);
  if (rd !== undefined) {
    const ok = typeof rd === 'function' ? rd(v.reportData) : bytesEqual(rd, v.reportData);
    if (!ok) {
      fail('POLICY_REPORT_DATA_MISMATCH', 'REPORTDATA does not match what the policy expects', {
        reportData: toHex(v.reportData),
      });
    }
  }
  if (policy.maxCollateralAgeSeconds !== undefined && v.collateralIssuedAt) {
    if (!opts.now) fail('INVALID_ARGUMENT', 'maxCollateralAgeSeconds needs `now`');
    const age = (opts.now.getTime() - v.collateralIssuedAt.getTime()) / 1000;
    if (age > policy.maxCollateralAgeSeconds) {
      fail(
        'POLICY_COLLATERAL_TOO_OLD',
        `collateral was issued ${Math.round(age)} s ago, more than ${policy.maxCollateralAgeSeconds} s`,
        {
          issuedAt: v.collateralIssuedAt.toISOString(),
        },
      );
    }
  }
}

function validateMeasurements(v: VerifiedEvidence, policy: Policy): void {
  const rules = policy.measurements?.[v.tee];
  if (!rules || Object.keys(rules).length === 0) {
    if (policy.dangerouslyAllowAnyMeasurement) return;
    fail(
      'POLICY_NO_MEASUREMENTS',
      `the policy pins no ${v.tee} measurements (set dangerouslyAllowAnyMeasurement to accept any)`,
      {
        tee: v.tee,
      },
    );
  }
  for (const [name, rule] of Object.entries(rules)) {
    const have = v.measurements[name];
    const allowed = typeof rule === 'string' ? [rule] : rule;
    if (!have || !allowed.some((a) => bytesEqual(fromHex(a, `policy measurement ${name}`), have))) {
      fail(
        'POLICY_MEASUREMENT_MISMATCH',
        `${v.tee} measurement ${name} is ${have ? toHex(have) : 'absent'}, not an allowed value`,
        {
          measurement: name,
          actual: have ? toHex(have) : null,
          allowed,
        },
      );
    }
  }
}

function matchHardwareId(what: string, have: Uint8Array, allowed: readonly string[]): void {
  if (!allowed.some((a) => bytesEqual(fromHex(a, what), have))) {
    fail('POLICY_HARDWARE_ID_MISMATCH', `${what} ${toHex(have)} is not pinned by the policy`, {
      [what]: toHex(have),
    });
  }
}

const POLICY_KEYS = new Set([
  'allowedTees',
  'measurements',
  'dangerouslyAllowAnyMeasurement',
  'dangerouslyAllowDebug',
  'acceptedTcbStatuses',
  'allowedAdvisoryIds',
  'reportData',
  'hardwareIds',
  'maxCollateralAgeSeconds',
  'sgx',
  'sevSnp',
  'simulated',
  '$comment',
]);

/**
 * Parses a policy from JSON text or an already-parsed object. Unknown keys, unknown TEE types,
 * unknown measurement names, malformed hex and wrong types are POLICY_MALFORMED: a typo must never
 * silently loosen a policy.
 */
export function parsePolicy(input: string | unknown): Policy {
  let obj: unknown = input;
  if (typeof input === 'string') {
    try {
      obj = JSON.parse(input);
    } catch (e) {
      return fail('POLICY_MALFORMED', 'policy is not valid JSON', {}, e);
    }
  }
  const bad = (why: string): never => fail('POLICY_MALFORMED', `policy: ${why}`);
  if (!isRecord(obj)) return bad('must be a JSON object');
  for (const k of Object.keys(obj)) if (!POLICY_KEYS.has(k)) bad(`unknown key "${k}"`);
  const p = obj as Record<string, unknown>;
  if (!Array.isArray(p.allowedTees) || p.allowedTees.length === 0)
    bad('allowedTees must be a non-empty array');
  for (const t of p.allowedTees as unknown[])
    if (!TEE_TYPES.includes(t as TeeType)) bad(`unknown TEE type ${JSON.stringify(t)}`);
  for (const k of ['dangerouslyAllowAnyMeasurement', 'dangerouslyAllowDebug']) {
    if (p[k] !== undefined && typeof p[k] !== 'boolean') bad(`${k} must be a boolean`);
  }
  if (p.measurements !== undefined) {
    if (!isRecord(p.measurements)) bad('measurements must be an object');
    for (const [tee, regs] of Object.entries(p.measurements as Record<string, unknown>)) {
      if (!TEE_TYPES.includes(tee as TeeType)) bad(`measurements: unknown TEE type "${tee}"`);
      if (!isRecord(regs)) bad(`measurements.${tee} must be an object`);
      for (const [name, rule] of Object.entries(regs as Record<string, unknown>)) {
        if (!MEASUREMENT_NAMES[tee as TeeType].includes(name))
          bad(`measurements.${tee}: unknown register "${name}"`);
        const list = typeof rule === 'string' ? [rule] : rule;
        if (!Array.isArray(list) || list.length === 0)
          bad(`measurements.${tee}.${name} must be hex or a non-empty list of hex`);
        for (const h of list as unknown[]) checkHex(h, `measurements.${tee}.${name}`);
      }
    }
  }
  if (p.acceptedTcbStatuses !== undefined) {
    if (!Array.isArray(p.acceptedTcbStatuses)) bad('acceptedTcbStatuses must be an array');
    for (const s of p.acceptedTcbStatuses as unknown[]) {
      if (!TCB_STATUSES.includes(s as TcbStatus))
        bad(`unknown TCB status ${JSON.stringify(s)} (Revoked is never acceptable)`);
    }
  }
  if (p.allowedAdvisoryIds !== undefined) stringList(p.allowedAdvisoryIds, 'allowedAdvisoryIds');
  if (p.reportData !== undefined) {
    checkHex(p.reportData, 'reportData');
    if ((p.reportData as string).replace(/^0x/, '').length !== 128) bad('reportData must be 64 bytes of hex');
  }
  if (p.hardwareIds !== undefined) {
    if (!isRecord(p.hardwareIds)) bad('hardwareIds must be an object');
    for (const [k, v] of Object.entries(p.hardwareIds as Record<string, unknown>)) {
      if (k !== 'ppid' && k !== 'chipId') bad(`hardwareIds: unknown key "${k}"`);
      for (const h of stringList(v, `hardwareIds.${k}`)) checkHex(h, `hardwareIds.${k}`);
    }
  }
  if (p.maxCollateralAgeSeconds !== undefined)
    nonNegInt(p.maxCollateralAgeSeconds, 'maxCollateralAgeSeconds');
  if (p.sgx !== undefined) {
    const s = objectWith(p.sgx, 'sgx', ['isvProdId', 'minIsvSvn']);
    for (const [k, v] of Object.entries(s)) nonNegInt(v, `sgx.${k}`);
  }
  if (p.sevSnp !== undefined) {
    const s = objectWith(p.sevSnp, 'sevSnp', ['minTcb', 'vmpl', 'minGuestSvn']);
    if (s.vmpl !== undefined) nonNegInt(s.vmpl, 'sevSnp.vmpl');
    if (s.minGuestSvn !== undefined) nonNegInt(s.minGuestSvn, 'sevSnp.minGuestSvn');
    if (s.minTcb !== undefined) {
      const t = objectWith(s.minTcb, 'sevSnp.minTcb', ['bootloader', 'tee', 'snp', 'microcode', 'fmc']);
      for (const [k, v] of Object.entries(t)) nonNegInt(v, `sevSnp.minTcb.${k}`);
    }
  }
  if (p.simulated !== undefined) {
    const s = objectWith(p.simulated, 'simulated', ['rootKeyHashes']);
    if (s.rootKeyHashes !== undefined)
      for (const h of stringList(s.rootKeyHashes, 'simulated.rootKeyHashes'))
        checkHex(h, 'simulated.rootKeyHashes');
  }
  return p as unknown as Policy;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkHex(h: unknown, where: string): void {
  if (typeof h !== 'string') fail('POLICY_MALFORMED', `policy: ${where} must be a hex string`);
  try {
    fromHex(h, where);
  } catch (e) {
    if (e instanceof AttestationError) fail('POLICY_MALFORMED', `policy: ${where} is not valid hex`);
    throw e;
  }
}

function stringList(x: unknown, where: string): string[] {
  if (!Array.isArray(x) || x.some((s) => typeof s !== 'string'))
    fail('POLICY_MALFORMED', `policy: ${where} must be an array of strings`);
  return x as string[];
}

function nonNegInt(x: unknown, where: string): void {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
    fail('POLICY_MALFORMED', `policy: ${where} must be a non-negative integer`);
}

function objectWith(x: unknown, where: string, keys: readonly string[]): Record<string, unknown> {
  if (!isRecord(x)) return fail('POLICY_MALFORMED', `policy: ${where} must be an object`);
  for (const k of Object.keys(x))
    if (!keys.includes(k)) fail('POLICY_MALFORMED', `policy: ${where}: unknown key "${k}"`);
  return x;
}
