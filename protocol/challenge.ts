import { createHash } from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { AbiCoder, keccak256, TypedDataEncoder } from 'ethers';
import { fromHex, toHex } from '../attestation/bytes.js';
import type {
  ChallengeCommitment__Output,
  ChallengeCommitment as CommitmentMsg,
} from '../proto/gen/defaas/executor/v1/ChallengeCommitment.js';
import type { ChallengeRequest__Output } from '../proto/gen/defaas/executor/v1/ChallengeRequest.js';
import { MAX_CHALLENGE_N } from './challenge-matrices.js';
import { sessionFail } from './errors.js';
import { recoverDigestSigner, signDigest } from './secp256k1.js';
import { eip712Domain, type TypedDataDomain } from './typed-data.js';
import { parseAddress, parseUint } from './wire.js';

/*
 * Capacity challenge protocol v1 (docs/witness.md, "Capacity challenges"): the hashes, the row
 * Merkle tree, the EIP-712 commitment and the codecs both ends use.
 *
 * - challengeRequestDigest = keccak256("defaas/challenge-request/v1" ‖ session id ‖ lease id uint256 BE
 *   ‖ id ‖ seed ‖ n uint32 BE ‖ class uint8): the witness key signs this raw digest, which binds the
 *   request to one session (it cannot be replayed into another).
 * - H_C = SHA-256("defaas/challenge/result/v1" ‖ id ‖ n uint32 BE ‖ C row-major int32 LE).
 * - Row Merkle tree (RFC 9162 §2.1): leaf = SHA-256(0x00 ‖ row as n int32 LE), node =
 *   SHA-256(0x01 ‖ left ‖ right), the RFC's unpadded shape; used when n > ROWS_MODE_ABOVE.
 * - The executor signs ChallengeCommitment(uint256 leaseId,address witness,bytes32 id,bytes32 seed,
 *   uint32 n,uint8 class,bytes32 resultHash,bytes32 rowsRoot) as EIP-712 typed data under the
 *   lease's Settlement domain (typed-data.ts), so a contract can ecrecover it.
 */

export const CHALLENGE_CLASS_CPU = 1;
/** Above this n, C is opened as OPENED_ROWS rows with Merkle paths; up to it, in full. */
export const ROWS_MODE_ABOVE = 1024;
/** Rows a witness opens in rows mode (exactly, distinct). */
export const OPENED_ROWS = 40;

const REQUEST_PREFIX = new TextEncoder().encode('defaas/challenge-request/v1');
const RESULT_PREFIX = new TextEncoder().encode('defaas/challenge/result/v1');
const ZERO32 = new Uint8Array(32);

/** Whether C of size n is opened by rows with Merkle paths (n > 1024) rather than in full. */
export function rowsMode(n: number): boolean {
  return n > ROWS_MODE_ABOVE;
}

/** The request fields the witness signs, plus the session. */
export interface ChallengeRequestFields {
  readonly leaseId: bigint;
  readonly id: Uint8Array;
  readonly seed: Uint8Array;
  readonly n: number;
  readonly cls: number;
}

function u32be(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0, false);
  return b;
}

function u256be(x: bigint): Uint8Array {
  if (x < 0n || x >= 1n << 256n) throw new RangeError('lease id must be a uint256');
  const b = new Uint8Array(32);
  for (let i = 31; i >= 0 && x > 0n; i--, x >>= 8n) b[i] = Number(x & 0xffn);
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function challengeRequestDigest(sessionId: Uint8Array, r: ChallengeRequestFields): Uint8Array {
  if (r.id.length !== 32 || r.seed.length !== 32) throw new RangeError('id and seed are 32 bytes');
  if (!Number.isInteger(r.cls) || r.cls < 0 || r.cls > 255) throw new RangeError('class is a uint8');
  return keccak_256(
    concat([REQUEST_PREFIX, sessionId, u256be(r.leaseId), r.id, r.seed, u32be(r.n), Uint8Array.of(r.cls)]),
  );
}

/** The witness's 65-byte proof for this request on this session. */
export function signChallengeRequest(
  priv: Uint8Array,
  sessionId: Uint8Array,
  r: ChallengeRequestFields,
): Uint8Array {
  return signDigest(priv, challengeRequestDigest(sessionId, r));
}

/** The lower-case address that signed the proof, or null. */
export function challengeRequestSigner(
  proof: Uint8Array,
  sessionId: Uint8Array,
  r: ChallengeRequestFields,
): string | null {
  return recoverDigestSigner(challengeRequestDigest(sessionId, r), proof);
}

/** The bytes of C as int32 little-endian (a view when the platform is little-endian). */
export function int32LE(c: Int32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  const out = new Uint8Array(c.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < c.length; i++) dv.setInt32(i * 4, c[i]!, true);
  return out;
}

/** Parses int32 little-endian bytes (length a multiple of 4) into a fresh Int32Array. */
export function fromInt32LE(b: Uint8Array): Int32Array {
  if (b.length % 4 !== 0) throw new RangeError('int32 data must be a multiple of 4 bytes');
  const out = new Int32Array(b.length / 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getInt32(i * 4, true);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Int32Array.of(1).buffer)[0] === 1;

/** H_C over the full product (n² int32, row-major). */
export function challengeResultHash(id: Uint8Array, n: number, c: Int32Array): Uint8Array {
  if (id.length !== 32) throw new RangeError('id is 32 bytes');
  if (c.length !== n * n) throw new RangeError(`C must have ${n * n} entries`);
  return digest(createHash('sha256').update(RESULT_PREFIX).update(id).update(u32be(n)).update(int32LE(c)));
}

// ---- Row Merkle tree (RFC 9162 §2.1) ----

// SHA-256 through node:crypto (native): the executor hashes up to 64 MiB of C inside a challenge's
// deadline.
function digest(h: ReturnType<typeof createHash>): Uint8Array {
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

export function rowLeafHash(row: Uint8Array): Uint8Array {
  return digest(createHash('sha256').update(LEAF).update(row));
}

function nodeHash(l: Uint8Array, r: Uint8Array): Uint8Array {
  return digest(createHash('sha256').update(NODE).update(l).update(r));
}

/** Largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 1) return leaves[lo]!;
  const k = split(n);
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/** The leaf hashes of the rows of C. */
export function rowLeaves(n: number, c: Int32Array): Uint8Array[] {
  const bytes = int32LE(c);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(rowLeafHash(bytes.subarray(i * n * 4, (i + 1) * n * 4)));
  return out;
}

export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) throw new RangeError('a tree needs at least one leaf');
  return mth(leaves, 0, leaves.length);
}

/** The audit path of leaf `m` (RFC 9162 §2.1.3.1), leaf side first. */
export function merklePath(leaves: readonly Uint8Array[], m: number): Uint8Array[] {
  if (!Number.isInteger(m) || m < 0 || m >= leaves.length) throw new RangeError('leaf index out of range');
  const path: Uint8Array[] = [];
  const walk = (lo: number, hi: number, idx: number) => {
    const n = hi - lo;
    if (n === 1) return;
    const k = split(n);
    if (idx < k) {
      walk(lo, lo + k, idx);
      path.push(mth(leaves, lo + k, hi));
    } else {
      walk(lo + k, hi, idx - k);
      path.push(mth(leaves, lo, lo + k));
    }
  };
  walk(0, leaves.length, m);
  return path;
}

/** Verifies an audit path (RFC 9162 §2.1.3.2) for leaf `index` of a tree of `size` leaves. */
export function verifyMerklePath(
  index: number,
  size: number,
  leaf: Uint8Array,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (p.length !== 32 || sn === 0) return false;
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && equalBytes(r, root);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

// ---- The commitment (EIP-712) ----

export const CHALLENGE_COMMITMENT_TYPES = {
  ChallengeCommitment: [
    { name: 'leaseId', type: 'uint256' },
    { name: 'witness', type: 'address' },
    { name: 'id', type: 'bytes32' },
    { name: 'seed', type: 'bytes32' },
    { name: 'n', type: 'uint32' },
    { name: 'class', type: 'uint8' },
    { name: 'resultHash', type: 'bytes32' },
    { name: 'rowsRoot', type: 'bytes32' },
  ],
} as const;

const COMMITMENT_TYPEHASH = keccak256(
  new TextEncoder().encode(
    'ChallengeCommitment(uint256 leaseId,address witness,bytes32 id,bytes32 seed,uint32 n,uint8 class,bytes32 resultHash,bytes32 rowsRoot)',
  ),
);

/** What the executor signs: the request echoed and its answer. */
export interface ChallengeCommitmentFields {
  readonly leaseId: bigint;
  /** Lower-case 0x address. */
  readonly witness: string;
  readonly id: Uint8Array;
  readonly seed: Uint8Array;
  readonly n: number;
  readonly cls: number;
  readonly resultHash: Uint8Array;
  /** 32 zero bytes unless rows mode. */
  readonly rowsRoot: Uint8Array;
}

export interface SignedChallengeCommitment extends ChallengeCommitmentFields {
  readonly computedMs: number;
  readonly signature: Uint8Array;
}

const abi = AbiCoder.defaultAbiCoder();
const hex = (b: Uint8Array) => `0x${toHex(b)}`;

/** The EIP-712 digest (hand-encoded; challenge.test.ts checks it against ethers' TypedDataEncoder). */
export function challengeCommitmentDigest(domain: TypedDataDomain, c: ChallengeCommitmentFields): Uint8Array {
  const structHash = keccak256(
    abi.encode(
      ['bytes32', 'uint256', 'address', 'bytes32', 'bytes32', 'uint32', 'uint8', 'bytes32', 'bytes32'],
      [
        COMMITMENT_TYPEHASH,
        c.leaseId,
        c.witness,
        hex(c.id),
        hex(c.seed),
        c.n,
        c.cls,
        hex(c.resultHash),
        hex(c.rowsRoot),
      ],
    ),
  );
  const domainSeparator = TypedDataEncoder.hashDomain(eip712Domain(domain));
  return keccak_256(concat([Uint8Array.of(0x19, 0x01), fromHex(domainSeparator), fromHex(structHash)]));
}

/** The typed-data value of a commitment, as ethers and wallets take it. */
export function challengeCommitmentValue(c: ChallengeCommitmentFields) {
  return {
    leaseId: c.leaseId,
    witness: c.witness,
    id: hex(c.id),
    seed: hex(c.seed),
    n: c.n,
    class: c.cls,
    resultHash: hex(c.resultHash),
    rowsRoot: hex(c.rowsRoot),
  };
}

export function signChallengeCommitment(
  domain: TypedDataDomain,
  c: ChallengeCommitmentFields,
  priv: Uint8Array,
): Uint8Array {
  return signDigest(priv, challengeCommitmentDigest(domain, c));
}

export function challengeCommitmentSigner(
  domain: TypedDataDomain,
  c: ChallengeCommitmentFields,
  signature: Uint8Array,
): string | null {
  return recoverDigestSigner(challengeCommitmentDigest(domain, c), signature);
}

// ---- Codecs (strict parsing: CHALLENGE_MALFORMED / REQUEST_MALFORMED) ----

function bytes32(b: Uint8Array, what: string): Uint8Array {
  if (b.length !== 32) sessionFail('CHALLENGE_MALFORMED', `${what} must be 32 bytes`);
  return new Uint8Array(b);
}

function classNumber(c: string | number): number {
  if (c === 'CHALLENGE_CLASS_CPU' || c === CHALLENGE_CLASS_CPU) return CHALLENGE_CLASS_CPU;
  if (c === 'CHALLENGE_CLASS_UNSPECIFIED' || c === 0) return 0;
  return -1;
}

function checkClassAndN(cls: number, n: number): void {
  if (cls !== CHALLENGE_CLASS_CPU)
    sessionFail('CHALLENGE_MALFORMED', 'only class CHALLENGE_CLASS_CPU is served', { class: cls });
  if (!Number.isInteger(n) || n < 1 || n > MAX_CHALLENGE_N)
    sessionFail('CHALLENGE_MALFORMED', `n must be in 1..${MAX_CHALLENGE_N}`, { n });
}

export interface ParsedChallengeRequest extends ChallengeRequestFields {
  readonly witness: string;
  readonly proof: Uint8Array;
}

export function challengeRequestFromWire(w: ChallengeRequest__Output): ParsedChallengeRequest {
  const leaseId = parseUint(w.leaseId, 'lease id');
  const witness = parseAddress(w.witness, 'witness');
  const cls = classNumber(w.class);
  checkClassAndN(cls, w.n);
  if (w.witnessProof.length !== 65) sessionFail('CHALLENGE_MALFORMED', 'witness proof must be 65 bytes');
  return {
    leaseId,
    witness,
    proof: new Uint8Array(w.witnessProof),
    id: bytes32(w.id, 'id'),
    seed: bytes32(w.seed, 'seed'),
    n: w.n,
    cls,
  };
}

export function commitmentToWire(c: SignedChallengeCommitment): CommitmentMsg {
  return {
    leaseId: c.leaseId.toString(),
    witness: c.witness,
    id: Buffer.from(c.id),
    seed: Buffer.from(c.seed),
    n: c.n,
    class: c.cls === CHALLENGE_CLASS_CPU ? 'CHALLENGE_CLASS_CPU' : 'CHALLENGE_CLASS_UNSPECIFIED',
    resultHash: Buffer.from(c.resultHash),
    rowsRoot: Buffer.from(c.rowsRoot),
    computedMs: String(Math.max(0, Math.round(c.computedMs))),
    signature: Buffer.from(c.signature),
  };
}

/** Parses a commitment strictly (sizes, class, n); the signature is checked by the caller. */
export function commitmentFromWire(w: ChallengeCommitment__Output): SignedChallengeCommitment {
  const cls = classNumber(w.class);
  checkClassAndN(cls, w.n);
  if (w.signature.length !== 65) sessionFail('CHALLENGE_MALFORMED', 'commitment signature must be 65 bytes');
  const rowsRoot = bytes32(w.rowsRoot, 'rows root');
  if (rowsMode(w.n) === equalBytes(rowsRoot, ZERO32))
    sessionFail('CHALLENGE_MALFORMED', 'rows root must be nonzero exactly when n > 1024');
  return {
    leaseId: parseUint(w.leaseId, 'lease id'),
    witness: parseAddress(w.witness, 'witness'),
    id: bytes32(w.id, 'id'),
    seed: bytes32(w.seed, 'seed'),
    n: w.n,
    cls,
    resultHash: bytes32(w.resultHash, 'result hash'),
    rowsRoot,
    computedMs: Number(parseUint(w.computedMs || '0', 'computed ms', 64)),
    signature: new Uint8Array(w.signature),
  };
}

export { ZERO32 as ZERO_ROOT };
