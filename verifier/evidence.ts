import { fromHex, toHex } from '../attestation/bytes.js';
import {
  CHALLENGE_CLASS_CPU,
  challengeCommitmentSigner,
  challengeResultHash,
  equalBytes,
  fromInt32LE,
  int32LE,
  OPENED_ROWS,
  rowLeafHash,
  rowsMode,
  type SignedChallengeCommitment,
  verifyMerklePath,
} from '../protocol/challenge.js';
import { expandChallengeMatrices, MAX_CHALLENGE_N } from '../protocol/challenge-matrices.js';
import type { TypedDataDomain } from '../protocol/typed-data.js';
import { checkFullProduct, checkRows } from './challenge-check.js';

/*
 * Evidence bundle of a capacity challenge (docs/witness.md, "Capacity challenges", "Evidence"): one
 * self-contained JSON file, format "defaas/challenge-evidence/v1". Byte fields are 0x-hex, except the
 * opened product (base64 of int32 little-endian). It holds the signed commitment, the executor's
 * identity address and evidence hash, the EIP-712 domain, the opened rows (the full C when n ≤ 1024,
 * 40 rows with their Merkle paths otherwise) and the witness's verdict and times.
 *
 * `verifyEvidence` trusts nothing in the file: it re-derives A and B from the seed, recovers the
 * commitment's signer, checks the opened rows against the signed hash or root, and proves the product
 * wrong by naming an entry whose value differs from the exact one. Any oddity rejects the bundle.
 */

export const EVIDENCE_FORMAT = 'defaas/challenge-evidence/v1';

export interface EvidenceBundle {
  readonly format: typeof EVIDENCE_FORMAT;
  readonly executor: { readonly identityAddress: string; readonly evidenceHash: string };
  readonly domain: { readonly chainId: string; readonly verifyingContract: string };
  readonly commitment: {
    readonly leaseId: string;
    readonly witness: string;
    readonly id: string;
    readonly seed: string;
    readonly n: number;
    readonly class: number;
    readonly resultHash: string;
    readonly rowsRoot: string;
    readonly computedMs: number;
    readonly signature: string;
  };
  readonly opened:
    | { readonly kind: 'full'; readonly c: string }
    | {
        readonly kind: 'rows';
        readonly rows: readonly {
          readonly index: number;
          readonly row: string;
          readonly path: readonly string[];
        }[];
      };
  readonly verdict: {
    readonly verdict: string;
    readonly reason: string;
    readonly rttP95Ms: number;
    readonly deadlineMs: number;
    readonly commitMs: number;
    readonly at: string;
  };
}

export type EvidenceRejection =
  /** Not JSON, or a field missing, of the wrong type or size, or unknown. */
  | 'malformed'
  | 'unsupported-format'
  /** The commitment is not signed by the executor's identity key. */
  | 'signature-invalid'
  /** The opened C does not hash to the signed result hash. */
  | 'hash-mismatch'
  /** An opened row's Merkle path does not lead to the signed rows root. */
  | 'path-invalid'
  /** Rows mode needs exactly 40 distinct rows. */
  | 'rows-incomplete'
  /** The opened product is right: nothing to prove. */
  | 'product-correct';

export type EvidenceResult =
  | {
      readonly result: 'fraud-proven';
      readonly executor: string;
      readonly row: number;
      readonly column: number;
      readonly claimed: number;
      readonly actual: number;
    }
  | { readonly result: 'rejected'; readonly reason: EvidenceRejection; readonly message: string };

export interface EvidenceInput {
  readonly executor: { readonly identityAddress: string; readonly evidenceHash: Uint8Array };
  readonly domain: TypedDataDomain;
  readonly commitment: SignedChallengeCommitment;
  readonly opened:
    | { readonly kind: 'full'; readonly c: Int32Array }
    | {
        readonly kind: 'rows';
        readonly rows: readonly {
          readonly index: number;
          readonly row: Int32Array;
          readonly path: readonly Uint8Array[];
        }[];
      };
  readonly verdict: EvidenceBundle['verdict'];
}

const hex = (b: Uint8Array) => `0x${toHex(b)}`;
const b64 = (c: Int32Array) => Buffer.from(int32LE(c)).toString('base64');

export function buildEvidence(e: EvidenceInput): EvidenceBundle {
  const c = e.commitment;
  return {
    format: EVIDENCE_FORMAT,
    executor: { identityAddress: e.executor.identityAddress, evidenceHash: hex(e.executor.evidenceHash) },
    domain: { chainId: e.domain.chainId.toString(), verifyingContract: e.domain.verifyingContract },
    commitment: {
      leaseId: c.leaseId.toString(),
      witness: c.witness,
      id: hex(c.id),
      seed: hex(c.seed),
      n: c.n,
      class: c.cls,
      resultHash: hex(c.resultHash),
      rowsRoot: hex(c.rowsRoot),
      computedMs: Math.round(c.computedMs),
      signature: hex(c.signature),
    },
    opened:
      e.opened.kind === 'full'
        ? { kind: 'full', c: b64(e.opened.c) }
        : {
            kind: 'rows',
            rows: e.opened.rows.map((r) => ({ index: r.index, row: b64(r.row), path: r.path.map(hex) })),
          },
    verdict: e.verdict,
  };
}

export function serializeEvidence(b: EvidenceBundle): string {
  return `${JSON.stringify(b, null, 2)}\n`;
}

class Malformed extends Error {}

function fail(m: string): never {
  throw new Malformed(m);
}

function obj(x: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(`${what} must be an object`);
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${what} has an unknown field ${k}`);
  return o;
}

function str(o: Record<string, unknown>, k: string, re?: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string' || (re && !re.test(v))) fail(`${k} is not a valid string`);
  return v;
}

function int(o: Record<string, unknown>, k: string, min: number, max: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(`${k} is not an integer in ${min}..${max}`);
  return v;
}

const HEX32 = /^0x[0-9a-f]{64}$/;
const HEX65 = /^0x[0-9a-f]{130}$/;
const ADDR = /^0x[0-9a-f]{40}$/;
const DEC = /^(0|[1-9][0-9]{0,77})$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bytes(s: string): Uint8Array {
  return fromHex(s.slice(2));
}

function int32s(s: string, entries: number, what: string): Int32Array {
  if (!B64.test(s)) fail(`${what} is not base64`);
  const b = Buffer.from(s, 'base64');
  if (b.length !== entries * 4 || b.toString('base64') !== s)
    fail(`${what} must be ${entries} int32 entries`);
  return fromInt32LE(b);
}

/** Parses a bundle strictly (fields, types, sizes); throws on any oddity. */
export function parseEvidence(text: string): EvidenceInput {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail('not JSON');
  }
  const top = obj(raw, 'bundle', ['format', 'executor', 'domain', 'commitment', 'opened', 'verdict']);
  if (top.format !== EVIDENCE_FORMAT) throw new UnsupportedFormat(String(top.format));
  const ex = obj(top.executor, 'executor', ['identityAddress', 'evidenceHash']);
  const dom = obj(top.domain, 'domain', ['chainId', 'verifyingContract']);
  const c = obj(top.commitment, 'commitment', [
    'leaseId',
    'witness',
    'id',
    'seed',
    'n',
    'class',
    'resultHash',
    'rowsRoot',
    'computedMs',
    'signature',
  ]);
  const n = int(c, 'n', 1, MAX_CHALLENGE_N);
  const cls = int(c, 'class', CHALLENGE_CLASS_CPU, CHALLENGE_CLASS_CPU);
  const rowsRoot = bytes(str(c, 'rowsRoot', HEX32));
  if (rowsMode(n) === equalBytes(rowsRoot, new Uint8Array(32)))
    fail('rows root must be nonzero exactly when n > 1024');
  const commitment: SignedChallengeCommitment = {
    leaseId: BigInt(str(c, 'leaseId', DEC)),
    witness: str(c, 'witness', ADDR),
    id: bytes(str(c, 'id', HEX32)),
    seed: bytes(str(c, 'seed', HEX32)),
    n,
    cls,
    resultHash: bytes(str(c, 'resultHash', HEX32)),
    rowsRoot,
    computedMs: int(c, 'computedMs', 0, Number.MAX_SAFE_INTEGER),
    signature: bytes(str(c, 'signature', HEX65)),
  };
  if (commitment.leaseId >= 1n << 256n) fail('lease id exceeds uint256');
  const o = obj(top.opened, 'opened', ['kind', 'c', 'rows']);
  let opened: EvidenceInput['opened'];
  if (o.kind === 'full') {
    if (rowsMode(n)) fail('n > 1024 is opened by rows');
    if ('rows' in o) fail('a full opening has no rows');
    opened = { kind: 'full', c: int32s(str(o, 'c'), n * n, 'opened C') };
  } else if (o.kind === 'rows') {
    if (!rowsMode(n)) fail('n ≤ 1024 is opened in full');
    if ('c' in o || !Array.isArray(o.rows) || o.rows.length > OPENED_ROWS)
      fail('rows must be a list of at most 40');
    opened = {
      kind: 'rows',
      rows: o.rows.map((x: unknown) => {
        const r = obj(x, 'row', ['index', 'row', 'path']);
        if (!Array.isArray(r.path) || r.path.length > 64) fail('path must be a list');
        return {
          index: int(r, 'index', 0, n - 1),
          row: int32s(str(r, 'row'), n, 'row'),
          path: r.path.map((p: unknown) => {
            if (typeof p !== 'string' || !HEX32.test(p)) fail('path entries are 32-byte hex');
            return bytes(p);
          }),
        };
      }),
    };
  } else fail('opened.kind must be full or rows');
  const v = obj(top.verdict, 'verdict', ['verdict', 'reason', 'rttP95Ms', 'deadlineMs', 'commitMs', 'at']);
  const num = (k: string) => {
    if (typeof v[k] !== 'number' || !Number.isFinite(v[k])) fail(`verdict.${k} must be a number`);
    return v[k] as number;
  };
  const chainId = str(dom, 'chainId', DEC);
  return {
    executor: {
      identityAddress: str(ex, 'identityAddress', ADDR),
      evidenceHash: bytes(str(ex, 'evidenceHash', HEX32)),
    },
    domain: { chainId: BigInt(chainId), verifyingContract: str(dom, 'verifyingContract', ADDR) },
    commitment,
    opened,
    verdict: {
      verdict: str(v, 'verdict'),
      reason: str(v, 'reason'),
      rttP95Ms: num('rttP95Ms'),
      deadlineMs: num('deadlineMs'),
      commitMs: num('commitMs'),
      at: str(v, 'at'),
    },
  };
}

class UnsupportedFormat extends Error {}

/**
 * Verifies a bundle offline: `fraud-proven` when the enclave identity signed a commitment whose opened
 * product is provably not A·B; otherwise a typed rejection saying why the bundle proves nothing.
 */
export function verifyEvidence(text: string): EvidenceResult {
  let e: EvidenceInput;
  try {
    e = parseEvidence(text);
  } catch (err) {
    if (err instanceof UnsupportedFormat)
      return {
        result: 'rejected',
        reason: 'unsupported-format',
        message: `format ${err.message} is not ${EVIDENCE_FORMAT}`,
      };
    return {
      result: 'rejected',
      reason: 'malformed',
      message: err instanceof Error ? err.message : String(err),
    };
  }
  const c = e.commitment;
  const signer = challengeCommitmentSigner(e.domain, c, c.signature);
  if (signer !== e.executor.identityAddress)
    return {
      result: 'rejected',
      reason: 'signature-invalid',
      message: `the commitment is signed by ${signer ?? 'nobody'}, not the executor ${e.executor.identityAddress}`,
    };
  const { a, b } = expandChallengeMatrices(c.seed, c.n);
  let check: ReturnType<typeof checkRows>;
  if (e.opened.kind === 'full') {
    if (!equalBytes(challengeResultHash(c.id, c.n, e.opened.c), c.resultHash))
      return {
        result: 'rejected',
        reason: 'hash-mismatch',
        message: 'the opened C does not hash to the signed result hash',
      };
    check = checkFullProduct(c.n, a, b, e.opened.c);
  } else {
    const rows = e.opened.rows;
    if (rows.length !== OPENED_ROWS || new Set(rows.map((r) => r.index)).size !== rows.length)
      return {
        result: 'rejected',
        reason: 'rows-incomplete',
        message: `rows mode needs ${OPENED_ROWS} distinct rows`,
      };
    for (const r of rows)
      if (!verifyMerklePath(r.index, c.n, rowLeafHash(int32LE(r.row)), r.path, c.rowsRoot))
        return {
          result: 'rejected',
          reason: 'path-invalid',
          message: `row ${r.index} is not under the signed rows root`,
        };
    check = checkRows(c.n, a, b, rows);
  }
  if (check.ok)
    return { result: 'rejected', reason: 'product-correct', message: 'the opened product is A·B' };
  return { result: 'fraud-proven', executor: e.executor.identityAddress, ...omitOk(check) };
}

function omitOk(c: { row: number; column: number; claimed: number; actual: number }) {
  return { row: c.row, column: c.column, claimed: c.claimed, actual: c.actual };
}
