import { createHash } from 'node:crypto';
import { TCB_STATUSES, type TcbStatus, TEE_TYPES, type TeeType } from '../../attestation/evidence.js';
import {
  LOG_ENTRY_KINDS,
  LOG_ENTRY_VERDICTS,
  type LogClaims,
  type LogEntryKind,
} from '../../protocol/log-submission.js';
import { parseCid } from './cid.js';
import { logFail } from './errors.js';

/*
 * One entry of the attestation log (docs/log.md, "Entries"): an attestation event as UTF-8 JSON, one
 * object with exactly the keys below in exactly this order, no whitespace, every key present (null
 * where unknown). There is one byte string per entry value: `parseEntry` re-encodes what it read and
 * refuses anything that differs, so equal entries have equal leaf hashes and an auditor can re-derive
 * every entry from its fields.
 *
 * Fields the log derives itself from the evidence it verified (`tee`, `tcbStatus`, `measurements`,
 * `reportData`, `evidence.sha256`, `evidence.cid`, `time`) and fields it takes from the submitter
 * and checks where it can (`kind`, `chain`, `provider`, `executorId`, `leaseId`, `roundId`,
 * `enclave`, `policyHash`, `verdict`, `code`) are said apart in docs/log.md.
 */

/** Entry bundles prefix each entry with a uint16 length (c2sp.org/tlog-tiles), so 65,535 bytes at most. */
export const MAX_ENTRY_BYTES = 65_535;

/** An entry: what the log read from the evidence, and what the submitter claims (protocol/log-submission.ts). */
export interface LogEntry extends LogClaims {
  readonly v: 1;
  readonly kind: LogEntryKind;
  /** Unix seconds: when the log verified the evidence (its collateral was judged at this time). */
  readonly time: number;
  readonly evidence: {
    /** SHA-256 of the raw evidence (a quote, a report, a witness record), lower-case hex: the chain's evidence hash. */
    readonly sha256: string;
    /** CID of the stored blob (the evidence bundle with its collateral, or the witness record). */
    readonly cid: string;
  };
  readonly tee: TeeType | null;
  readonly tcbStatus: TcbStatus | null;
  /** Measurement registers by policy name, lower-case hex, keys sorted. */
  readonly measurements: Readonly<Record<string, string>> | null;
  /** REPORTDATA / REPORT_DATA, lower-case hex. */
  readonly reportData: string | null;
}

const KEYS = [
  'v',
  'kind',
  'time',
  'chain',
  'evidence',
  'tee',
  'tcbStatus',
  'measurements',
  'reportData',
  'enclave',
  'provider',
  'executorId',
  'leaseId',
  'roundId',
  'policyHash',
  'verdict',
  'code',
] as const satisfies readonly (keyof LogEntry)[];

const HEX = (bytes: number) => new RegExp(`^[0-9a-f]{${bytes * 2}}$`);
const HEX32 = HEX(32);
const HEX64 = HEX(64);
const ANY_HEX = /^(?:[0-9a-f]{2}){1,128}$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
const UINT256 = /^(?:0|[1-9][0-9]{0,77})$/;
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const MEASUREMENT_NAME = /^[a-zA-Z][a-zA-Z0-9]{0,31}$/;

/** The entry's bytes (UTF-8 JSON in the key order above); validates every field first. */
export function encodeEntry(e: LogEntry): Uint8Array {
  validate(e);
  const bytes = new TextEncoder().encode(canonical(e));
  if (bytes.length > MAX_ENTRY_BYTES)
    logFail('LOG_ENTRY_MALFORMED', `entry is ${bytes.length} bytes, more than ${MAX_ENTRY_BYTES}`);
  return bytes;
}

/** Parses an entry; anything that is not byte-for-byte what `encodeEntry` writes is LOG_ENTRY_MALFORMED. */
export function parseEntry(bytes: Uint8Array): LogEntry {
  if (bytes.length > MAX_ENTRY_BYTES)
    logFail('LOG_ENTRY_MALFORMED', `entry is ${bytes.length} bytes, more than ${MAX_ENTRY_BYTES}`);
  let text: string;
  let o: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    o = JSON.parse(text);
  } catch {
    return logFail('LOG_ENTRY_MALFORMED', 'entry is not UTF-8 JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    logFail('LOG_ENTRY_MALFORMED', 'entry is not an object');
  const keys = Object.keys(o);
  if (keys.length !== KEYS.length || keys.some((k, i) => k !== KEYS[i]))
    logFail('LOG_ENTRY_MALFORMED', `entry keys must be exactly ${KEYS.join(', ')} in that order`, {
      keys: keys.slice(0, 40).join(','),
    });
  const e = o as LogEntry;
  validate(e);
  if (canonical(e) !== text) logFail('LOG_ENTRY_MALFORMED', 'entry is not in canonical form');
  return e;
}

function canonical(e: LogEntry): string {
  const measurements =
    e.measurements === null
      ? null
      : Object.fromEntries(
          Object.keys(e.measurements)
            .sort()
            .map((k) => [k, e.measurements![k]]),
        );
  const chain = e.chain === null ? null : { id: e.chain.id, block: e.chain.block };
  const evidence = { sha256: e.evidence.sha256, cid: e.evidence.cid };
  return JSON.stringify(
    Object.fromEntries(
      KEYS.map((k) => [
        k,
        k === 'measurements' ? measurements : k === 'chain' ? chain : k === 'evidence' ? evidence : e[k],
      ]),
    ),
  );
}

function validate(e: LogEntry): void {
  const bad = (field: string, why: string): never =>
    logFail('LOG_ENTRY_MALFORMED', `entry ${field} ${why}`, { field });
  const nullable = <T>(x: T | null, check: (x: T) => boolean, field: string, why: string) => {
    if (x !== null && !check(x)) bad(field, why);
  };
  const isString = (x: unknown): x is string => typeof x === 'string';
  const safeUint = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (e.v !== 1) bad('v', 'must be 1');
  if (!LOG_ENTRY_KINDS.includes(e.kind)) bad('kind', `must be one of ${LOG_ENTRY_KINDS.join(', ')}`);
  if (!safeUint(e.time)) bad('time', 'must be unix seconds');
  if (e.chain !== null) {
    if (typeof e.chain !== 'object' || Object.keys(e.chain).join() !== 'id,block')
      bad('chain', 'must be {id, block} or null');
    if (!safeUint(e.chain.id) || e.chain.id === 0) bad('chain.id', 'must be a positive integer');
    if (!safeUint(e.chain.block)) bad('chain.block', 'must be a block number');
  }
  if (
    typeof e.evidence !== 'object' ||
    e.evidence === null ||
    Object.keys(e.evidence).join() !== 'sha256,cid'
  )
    bad('evidence', 'must be {sha256, cid}');
  if (!isString(e.evidence.sha256) || !HEX32.test(e.evidence.sha256))
    bad('evidence.sha256', 'must be 32 bytes of lower-case hex');
  if (!isString(e.evidence.cid)) bad('evidence.cid', 'must be a CID');
  parseCid(e.evidence.cid);
  nullable(e.tee, (x) => TEE_TYPES.includes(x), 'tee', `must be one of ${TEE_TYPES.join(', ')} or null`);
  nullable(e.tcbStatus, (x) => TCB_STATUSES.includes(x), 'tcbStatus', 'must be an Intel TCB status or null');
  if (e.measurements !== null) {
    if (typeof e.measurements !== 'object' || Array.isArray(e.measurements))
      bad('measurements', 'must be an object or null');
    const names = Object.keys(e.measurements);
    if (names.length > 32) bad('measurements', 'has more than 32 registers');
    for (const k of names) {
      const v = e.measurements[k];
      if (!MEASUREMENT_NAME.test(k) || !isString(v) || !ANY_HEX.test(v))
        bad('measurements', `register ${k.slice(0, 40)} must be a name with 1..128 bytes of lower-case hex`);
    }
  }
  nullable(
    e.reportData,
    (x) => isString(x) && HEX64.test(x),
    'reportData',
    'must be 64 bytes of lower-case hex or null',
  );
  for (const f of ['enclave', 'provider'] as const)
    nullable(e[f], (x) => isString(x) && ADDRESS.test(x), f, 'must be a lower-case 0x address or null');
  for (const f of ['executorId', 'leaseId', 'roundId'] as const)
    nullable(
      e[f],
      (x) => isString(x) && UINT256.test(x) && BigInt(x) < 2n ** 256n,
      f,
      'must be a uint256 in decimal or null',
    );
  nullable(
    e.policyHash,
    (x) => isString(x) && HEX32.test(x),
    'policyHash',
    'must be 32 bytes of lower-case hex or null',
  );
  nullable(
    e.verdict,
    (x) => LOG_ENTRY_VERDICTS.includes(x),
    'verdict',
    `must be one of ${LOG_ENTRY_VERDICTS.join(', ')} or null`,
  );
  nullable(e.code, (x) => isString(x) && CODE.test(x), 'code', 'must be an UPPER_SNAKE error code or null');
  if (e.kind === 'verdict-revealed') {
    if (e.roundId === null || e.leaseId === null)
      bad('roundId', 'and leaseId are required for a revealed verdict');
    if (e.verdict === null || e.verdict === 'accepted' || e.verdict === 'refused')
      bad('verdict', 'of a revealed verdict must be Ok, Fraud, Unavailable or Stale');
  } else {
    if (e.tee === null) bad('tee', 'is required for an attestation event');
    if (e.verdict !== null && e.verdict !== 'accepted' && e.verdict !== 'refused')
      bad('verdict', 'of an attestation event must be accepted, refused or null');
  }
}

/**
 * What makes two entries the same event: the SHA-256 of the entry with its `time` set to 0. A log
 * that deduplicates by it (LogStore's `identity`) keeps the first time it verified an event and
 * answers a repeat with that entry's index.
 */
export function entryIdentity(bytes: Uint8Array): Uint8Array {
  const e = parseEntry(bytes);
  return new Uint8Array(
    createHash('sha256')
      .update(encodeEntry({ ...e, time: 0 }))
      .digest(),
  );
}
