import { fail } from '../errors.js';

/*
 * Intel TCB Info (Intel PCS API v4, "TCB Info" V2/V3 JSON; SGX and TDX). Parsing only: the signature
 * over the exact text is checked in collateral.ts, and the TCB level matching lives in tcb-status.ts.
 * Every field we use must be present with the right type; unknown extra fields are ignored so that a
 * new optional field from Intel does not break verification.
 */

/** Every `tcbStatus` value the TCB Info and QE Identity may carry (Intel PCS API v4, "tcbLevels"). */
export const TCB_INFO_STATUS_NAMES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;

export type TcbInfoStatus = (typeof TCB_INFO_STATUS_NAMES)[number];

export interface TcbLevel {
  /** SGX TCB components SGXTCBComp01SVN..16SVN (16 values). */
  readonly sgxComponents: readonly number[];
  readonly pceSvn: number;
  /** TDX TCB components (16 values), present exactly for TDX TCB Info. */
  readonly tdxComponents?: readonly number[];
  readonly tcbDate: Date;
  readonly tcbStatus: TcbInfoStatus;
  readonly advisoryIds: readonly string[];
}

export interface TdxModuleTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: Date;
  readonly tcbStatus: TcbInfoStatus;
  readonly advisoryIds: readonly string[];
}

/** `tdxModule` (TCB Info V3 TDX): the expected MRSIGNER and attributes of the TDX module (SEAM). */
export interface TdxModule {
  /** 48 bytes. */
  readonly mrSigner: Uint8Array;
  /** 8 bytes. */
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
}

/** One entry of `tdxModuleIdentities` (TCB Info V3 TDX): id "TDX_<major version, 2 hex digits>". */
export interface TdxModuleIdentity extends TdxModule {
  readonly id: string;
  readonly tcbLevels: readonly TdxModuleTcbLevel[];
}

export interface TcbInfo {
  readonly id: 'SGX' | 'TDX';
  readonly version: 2 | 3;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  /** 6 bytes. */
  readonly fmspc: Uint8Array;
  /** 2 bytes. */
  readonly pceId: Uint8Array;
  readonly tcbType: number;
  readonly tcbEvaluationDataNumber: number;
  readonly tdxModule?: TdxModule;
  readonly tdxModuleIdentities?: readonly TdxModuleIdentity[];
  /** In the order Intel publishes them (newest, i.e. highest, first). */
  readonly tcbLevels: readonly TcbLevel[];
}

// --- strict JSON readers (shared with qe-identity.ts) ---

export type JsonObject = Readonly<Record<string, unknown>>;

export function malformed(what: string, why: string): never {
  return fail('COLLATERAL_MALFORMED', `${what}: ${why}`, { item: what });
}

export function parseJsonObject(text: string, what: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return fail(
      'COLLATERAL_MALFORMED',
      `${what}: not valid JSON (${(e as Error).message})`,
      { item: what },
      e,
    );
  }
  return asObject(v, what);
}

export function asObject(v: unknown, what: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) malformed(what, 'expected a JSON object');
  return v as JsonObject;
}

export function field(o: JsonObject, key: string, what: string): unknown {
  if (!Object.hasOwn(o, key)) malformed(what, `missing field "${key}"`);
  return o[key];
}

export function str(o: JsonObject, key: string, what: string): string {
  const v = field(o, key, what);
  if (typeof v !== 'string') malformed(what, `field "${key}" must be a string`);
  return v;
}

/** A non-negative integer no larger than `max`. */
export function uint(o: JsonObject, key: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = field(o, key, what);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    malformed(what, `field "${key}" must be an integer in [0, ${max}]`);
  }
  return v;
}

export function arr(o: JsonObject, key: string, what: string): readonly unknown[] {
  const v = field(o, key, what);
  if (!Array.isArray(v)) malformed(what, `field "${key}" must be an array`);
  return v;
}

/** Hex field of exactly `len` bytes (either case, no prefix). */
export function hexBytes(o: JsonObject, key: string, what: string, len: number): Uint8Array {
  const s = str(o, key, what);
  if (s.length !== len * 2 || !/^[0-9a-fA-F]*$/.test(s)) {
    malformed(what, `field "${key}" must be ${len} bytes of hex`);
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

// Intel PCS API v4: dates are ISO 8601 UTC, "yyyy-MM-ddTHH:mm:ssZ" (fractions tolerated).
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

export function date(o: JsonObject, key: string, what: string): Date {
  const s = str(o, key, what);
  const d = new Date(s);
  if (!ISO_UTC.test(s) || Number.isNaN(d.getTime()))
    malformed(what, `field "${key}" is not an ISO 8601 UTC date`);
  return d;
}

export function status(o: JsonObject, key: string, what: string): TcbInfoStatus {
  const s = str(o, key, what);
  if (!(TCB_INFO_STATUS_NAMES as readonly string[]).includes(s)) malformed(what, `unknown ${key} "${s}"`);
  return s as TcbInfoStatus;
}

/** Optional `advisoryIDs` (array of strings). */
export function advisories(o: JsonObject, what: string): string[] {
  if (!Object.hasOwn(o, 'advisoryIDs')) return [];
  const a = arr(o, 'advisoryIDs', what);
  return a.map((x) => {
    if (typeof x !== 'string' || x.length === 0) malformed(what, 'advisoryIDs must be non-empty strings');
    return x;
  });
}

// --- TCB Info ---

/**
 * Parses the signed `tcbInfo` object text (Intel PCS API v4 "TCB Info V2" for SGX, "V3" for SGX and TDX).
 * V2 levels carry flat `sgxtcbcompNNsvn`/`pcesvn`; V3 levels carry `sgxtcbcomponents`, `pcesvn` and, for
 * TDX, `tdxtcbcomponents`.
 */
export function parseTcbInfo(text: string): TcbInfo {
  const W = 'TCB Info';
  const o = parseJsonObject(text, W);
  const version = uint(o, 'version', W);
  if (version !== 2 && version !== 3) malformed(W, `unsupported version ${version}`);
  let id: 'SGX' | 'TDX' = 'SGX';
  if (version === 3) {
    const s = str(o, 'id', W);
    if (s !== 'SGX' && s !== 'TDX') malformed(W, `unknown id "${s}"`);
    id = s;
  } else if (Object.hasOwn(o, 'id') && o.id !== 'SGX') {
    malformed(W, 'TCB Info V2 exists only for SGX');
  }
  const isTdx = id === 'TDX';
  const levelsRaw = arr(o, 'tcbLevels', W);
  if (levelsRaw.length === 0) malformed(W, 'tcbLevels is empty');
  const tcbLevels = levelsRaw.map((l, i) => parseTcbLevel(l, version, isTdx, `${W} tcbLevels[${i}]`));

  let tdxModule: TdxModule | undefined;
  let tdxModuleIdentities: TdxModuleIdentity[] | undefined;
  if (isTdx) {
    tdxModule = parseTdxModule(asObject(field(o, 'tdxModule', W), `${W} tdxModule`), `${W} tdxModule`);
    if (Object.hasOwn(o, 'tdxModuleIdentities')) {
      tdxModuleIdentities = arr(o, 'tdxModuleIdentities', W).map((m, i) =>
        parseTdxModuleIdentity(m, `${W} tdxModuleIdentities[${i}]`),
      );
    }
  }
  return {
    id,
    version,
    issueDate: date(o, 'issueDate', W),
    nextUpdate: date(o, 'nextUpdate', W),
    fmspc: hexBytes(o, 'fmspc', W, 6),
    pceId: hexBytes(o, 'pceId', W, 2),
    tcbType: tcbType(o, W),
    tcbEvaluationDataNumber: uint(o, 'tcbEvaluationDataNumber', W),
    ...(tdxModule ? { tdxModule } : {}),
    ...(tdxModuleIdentities ? { tdxModuleIdentities } : {}),
    tcbLevels,
  };
}

/** Only tcbType 0 exists: CPUSVN compared component by component (Intel PCS API v4, "tcbType"). */
function tcbType(o: JsonObject, what: string): number {
  const t = uint(o, 'tcbType', what);
  if (t !== 0) malformed(what, `unsupported tcbType ${t}`);
  return t;
}

function parseTcbLevel(raw: unknown, version: 2 | 3, isTdx: boolean, what: string): TcbLevel {
  const l = asObject(raw, what);
  const tcb = asObject(field(l, 'tcb', what), `${what} tcb`);
  const W = `${what} tcb`;
  let sgxComponents: number[];
  let tdxComponents: number[] | undefined;
  if (version === 2) {
    sgxComponents = [];
    for (let i = 1; i <= 16; i++)
      sgxComponents.push(uint(tcb, `sgxtcbcomp${String(i).padStart(2, '0')}svn`, W, 255));
  } else {
    sgxComponents = components(tcb, 'sgxtcbcomponents', W);
    if (isTdx) tdxComponents = components(tcb, 'tdxtcbcomponents', W);
  }
  return {
    sgxComponents,
    pceSvn: uint(tcb, 'pcesvn', W, 0xffff),
    ...(tdxComponents ? { tdxComponents } : {}),
    tcbDate: date(l, 'tcbDate', what),
    tcbStatus: status(l, 'tcbStatus', what),
    advisoryIds: advisories(l, what),
  };
}

/** `sgxtcbcomponents` / `tdxtcbcomponents`: exactly 16 objects with an 8-bit `svn`. */
function components(tcb: JsonObject, key: string, what: string): number[] {
  const a = arr(tcb, key, what);
  if (a.length !== 16) malformed(what, `${key} must have 16 entries, has ${a.length}`);
  return a.map((c, i) => uint(asObject(c, `${what} ${key}[${i}]`), 'svn', `${what} ${key}[${i}]`, 255));
}

function parseTdxModule(o: JsonObject, what: string): TdxModule {
  return {
    mrSigner: hexBytes(o, 'mrsigner', what, 48),
    attributes: hexBytes(o, 'attributes', what, 8),
    attributesMask: hexBytes(o, 'attributesMask', what, 8),
  };
}

function parseTdxModuleIdentity(raw: unknown, what: string): TdxModuleIdentity {
  const o = asObject(raw, what);
  const id = str(o, 'id', what);
  if (!/^TDX_[0-9A-Fa-f]{2}$/.test(id)) malformed(what, `id "${id}" is not TDX_<2 hex digits>`);
  const levels = arr(o, 'tcbLevels', what).map((l, i) => {
    const w = `${what} tcbLevels[${i}]`;
    const lo = asObject(l, w);
    return {
      isvSvn: uint(asObject(field(lo, 'tcb', w), `${w} tcb`), 'isvsvn', `${w} tcb`, 255),
      tcbDate: date(lo, 'tcbDate', w),
      tcbStatus: status(lo, 'tcbStatus', w),
      advisoryIds: advisories(lo, w),
    };
  });
  return { id, ...parseTdxModule(o, what), tcbLevels: levels };
}
