import { randomBytes, randomInt } from 'node:crypto';
import type { ChallengeCommitment__Output } from '../proto/gen/defaas/executor/v1/ChallengeCommitment.js';
import type { ChallengeOpenRequest } from '../proto/gen/defaas/executor/v1/ChallengeOpenRequest.js';
import type { ChallengeOpenResponse__Output } from '../proto/gen/defaas/executor/v1/ChallengeOpenResponse.js';
import type { ChallengeRequest } from '../proto/gen/defaas/executor/v1/ChallengeRequest.js';
import {
  CHALLENGE_CLASS_CPU,
  challengeCommitmentSigner,
  challengeResultHash,
  commitmentFromWire,
  equalBytes,
  fromInt32LE,
  OPENED_ROWS,
  rowLeafHash,
  rowsMode,
  type SignedChallengeCommitment,
  signChallengeRequest,
  verifyMerklePath,
} from '../protocol/challenge.js';
import { expandChallengeMatrices, MAX_CHALLENGE_N } from '../protocol/challenge-matrices.js';
import { FRAME_ENVELOPE_BYTES, LENGTH_PREFIX_BYTES } from '../protocol/frame-padding.js';
import { addressOfPrivateKey } from '../protocol/secp256k1.js';
import type { TypedDataDomain } from '../protocol/typed-data.js';
import { checkFullProduct, checkRows, type ProductCheck } from './challenge-check.js';
import { VerifierError } from './errors.js';
import { buildEvidence, type EvidenceBundle, type EvidenceInput } from './evidence.js';

/*
 * One capacity challenge, witness side (docs/witness.md, "Capacity challenges"):
 *  0. an untimed one-entry challenge, so the executor's membership read (once per epoch) is not timed;
 *  1. RTT_p95 over at least 5 small round trips on the same channel;
 *  2. a fresh 32-byte seed and id; the request, signed by the witness key for this session, is sent
 *     and the time until the signed commitment arrives is measured;
 *  3. the commitment must be signed by the session's enclave identity (EIP-712, the lease's domain)
 *     and echo lease, witness, id, seed, n and class;
 *  4. deadline D = RTT_p95 + 1.5 · 2n³ / (claimedGflops · 1e9) s + 50 ms;
 *  5. untimed opening (all of C when n ≤ 1024, else 40 rows drawn at that point, with their Merkle paths), and
 *     only then the random vectors of the check (Freivalds, k = 2 over GF(2³¹ − 1)).
 * Verdict: `wrong` (the product, its opening or its commitment is bad: fraud, with an evidence
 * bundle) wins over `late` (the commitment came after D: capacity unverified for this challenge);
 * `pass` otherwise; `refused` (a sealed typed refusal, `code`, of the challenge or of its opening)
 * and `unreachable` (no answer) end the challenge early.
 */

/**
 * The session a challenge runs on (the SDK Session provides it: sdk/session/challenge.ts). Requests
 * reject with an error carrying `code` and `origin`: `origin === 'sealed'` when the enclave refused
 * (a typed fact), anything else when there was no authenticated answer.
 */
export interface ChallengeChannel {
  /** The session's id (the witness proof names it). */
  readonly sessionId: Uint8Array;
  /** Lower-case 0x address of the enclave identity key that opened the session. */
  readonly enclaveAddress: string;
  readonly evidenceHash: Uint8Array;
  /** The EIP-712 domain of the lease terms the enclave signed in the handshake. */
  readonly domain: TypedDataDomain;
  /** The session's max message size (its lease terms' limits). */
  readonly maxMessageBytes: number;
  /** One small sealed round trip on the challenge path; resolves with its time in ms. */
  rtt(): Promise<number>;
  challenge(req: ChallengeRequest): Promise<ChallengeCommitment__Output>;
  open(req: ChallengeOpenRequest): Promise<ChallengeOpenResponse__Output>;
}

export type ChallengeVerdict = 'pass' | 'late' | 'wrong' | 'unreachable' | 'refused';

export interface ChallengeOptions {
  /** The witness wallet's private key (32 bytes). */
  readonly witnessKey: Uint8Array;
  /** The lease challenged; 0 for a standalone executor. */
  readonly leaseId: bigint;
  readonly n: number;
  /** The capacity the lease claims, GFLOP/s. */
  readonly claimedGflops: number;
  /** Round trips measured before the challenge (default 7, at least 5). */
  readonly rttSamples?: number;
}

export interface ChallengeResult {
  readonly verdict: ChallengeVerdict;
  /** Why, in words (and the refusal's code for `refused`). */
  readonly reason: string;
  readonly code?: string;
  readonly n: number;
  readonly claimedGflops: number;
  /** 95th percentile of the round trips measured before the challenge, ms. */
  readonly rttP95Ms: number;
  /** D, ms after the request was sent. */
  readonly deadlineMs: number;
  /** Time from sending the request to the commitment, ms (undefined without a commitment). */
  readonly commitMs?: number;
  /** 2n³ / max(commitMs − RTT_p95, 1 ms), in GFLOP/s. */
  readonly measuredGflops?: number;
  /** The executor's own compute time (informational). */
  readonly computedMs?: number;
  readonly commitment?: SignedChallengeCommitment;
  /** For `wrong`: what proves it (verifier/evidence.ts). */
  readonly evidence?: EvidenceBundle;
}

/** D in ms: RTT_p95 + 1.5 · 2n³ / (claimedGflops · 1e9) s + 50 ms. */
export function challengeDeadlineMs(rttP95Ms: number, n: number, claimedGflops: number): number {
  return rttP95Ms + (1.5 * 2 * n ** 3 * 1000) / (claimedGflops * 1e9) + 50;
}

export function p95(samples: readonly number[]): number {
  const s = [...samples].sort((x, y) => x - y);
  return s[Math.max(0, Math.ceil(0.95 * s.length) - 1)]!;
}

function errorOf(e: unknown): { code: string; sealed: boolean; message: string } {
  const x = e as { code?: unknown; origin?: unknown; message?: unknown };
  return {
    code: typeof x?.code === 'string' ? x.code : 'UNKNOWN',
    sealed: x?.origin === 'sealed',
    message: typeof x?.message === 'string' ? x.message : String(e),
  };
}

export async function runChallenge(ch: ChallengeChannel, o: ChallengeOptions): Promise<ChallengeResult> {
  if (!Number.isInteger(o.n) || o.n < 1 || o.n > MAX_CHALLENGE_N)
    throw new VerifierError('CHALLENGE_OPTIONS_INVALID', `n must be in 1..${MAX_CHALLENGE_N}`);
  if (!(o.claimedGflops > 0) || !Number.isFinite(o.claimedGflops))
    throw new VerifierError('CHALLENGE_OPTIONS_INVALID', 'claimed GFLOP/s must be a positive number');
  const samples = Math.max(5, o.rttSamples ?? 7);
  const base = { n: o.n, claimedGflops: o.claimedGflops };
  const witness = addressOfPrivateKey(o.witnessKey);
  const request = (n: number) => {
    const id = new Uint8Array(randomBytes(32));
    const seed = new Uint8Array(randomBytes(32));
    const proof = signChallengeRequest(o.witnessKey, ch.sessionId, {
      leaseId: o.leaseId,
      id,
      seed,
      n,
      cls: CHALLENGE_CLASS_CPU,
    });
    const wire = {
      leaseId: o.leaseId.toString(),
      witness,
      witnessProof: Buffer.from(proof),
      id: Buffer.from(id),
      seed: Buffer.from(seed),
      n,
      class: 'CHALLENGE_CLASS_CPU' as const,
    };
    return { id, seed, wire };
  };
  // The executor reads the witness's membership from the chain on its first challenge of an epoch
  // (then keeps it for the epoch): a one-entry challenge first, untimed, keeps that read out of the
  // timed one. A refusal here ends the challenge; a busy executor is only asked again below.
  try {
    await ch.challenge(request(1).wire);
  } catch (e) {
    const err = errorOf(e);
    if (!err.sealed)
      return {
        ...base,
        verdict: 'unreachable',
        code: err.code,
        reason: err.message,
        rttP95Ms: 0,
        deadlineMs: 0,
      };
    if (err.code !== 'CHALLENGE_BUSY')
      return { ...base, verdict: 'refused', code: err.code, reason: err.message, rttP95Ms: 0, deadlineMs: 0 };
  }
  const rtts: number[] = [];
  try {
    for (let i = 0; i < samples; i++) rtts.push(await ch.rtt());
  } catch (e) {
    const err = errorOf(e);
    return { ...base, verdict: 'unreachable', reason: err.message, rttP95Ms: 0, deadlineMs: 0 };
  }
  const rttP95Ms = p95(rtts);
  const deadlineMs = challengeDeadlineMs(rttP95Ms, o.n, o.claimedGflops);
  const timing = { rttP95Ms, deadlineMs };
  const { id, seed, wire: req } = request(o.n);
  const t0 = performance.now();
  let wire: ChallengeCommitment__Output;
  try {
    wire = await ch.challenge(req);
  } catch (e) {
    const err = errorOf(e);
    if (err.sealed) return { ...base, ...timing, verdict: 'refused', code: err.code, reason: err.message };
    return { ...base, ...timing, verdict: 'unreachable', code: err.code, reason: err.message };
  }
  const commitMs = performance.now() - t0;
  const late = commitMs > deadlineMs;
  const measuredGflops = (2 * o.n ** 3) / (Math.max(commitMs - rttP95Ms, 1) / 1000) / 1e9;
  const timed = { ...base, ...timing, commitMs, measuredGflops };
  let c: SignedChallengeCommitment;
  try {
    c = commitmentFromWire(wire);
  } catch (e) {
    return { ...timed, verdict: 'wrong', reason: `malformed commitment: ${errorOf(e).message}` };
  }
  const withC = { ...timed, computedMs: c.computedMs, commitment: c };
  const echoed =
    c.leaseId === o.leaseId &&
    c.witness === witness &&
    equalBytes(c.id, id) &&
    equalBytes(c.seed, seed) &&
    c.n === o.n &&
    c.cls === CHALLENGE_CLASS_CPU;
  const signer = challengeCommitmentSigner(ch.domain, c, c.signature);
  const evidence = (opened: EvidenceInput['opened'], reason: string) =>
    buildEvidence({
      executor: { identityAddress: ch.enclaveAddress, evidenceHash: ch.evidenceHash },
      domain: ch.domain,
      commitment: c,
      opened,
      verdict: { verdict: 'wrong', reason, rttP95Ms, deadlineMs, commitMs, at: new Date().toISOString() },
    });
  const noRows: EvidenceInput['opened'] = rowsMode(o.n)
    ? { kind: 'rows', rows: [] }
    : { kind: 'full', c: new Int32Array(o.n * o.n) };
  if (!echoed || signer !== ch.enclaveAddress) {
    const reason = !echoed
      ? 'the commitment does not echo the request'
      : 'the commitment is not signed by the enclave identity';
    return { ...withC, verdict: 'wrong', reason, evidence: evidence(noRows, reason) };
  }
  // Untimed opening; the check's randomness is drawn only after the commitment arrived.
  let opened: EvidenceInput['opened'];
  let check: ProductCheck | { ok: false; reason: string };
  try {
    const r = rowsMode(o.n) ? await openRows(ch, c) : await openFull(ch, c);
    opened = r.opened;
    check = r.bad ?? productCheck(c, opened);
  } catch (e) {
    const err = errorOf(e);
    const reason = `the executor did not open its commitment: ${err.code}: ${err.message}`;
    // An opening that is not the rows asked for is a breach; a typed refusal (the product was dropped
    // under the executor's memory bounds, or expired) leaves the capacity unverified, as does no answer.
    if (e instanceof OpeningInvalid)
      return { ...withC, verdict: 'wrong', code: err.code, reason, evidence: evidence(noRows, reason) };
    return { ...withC, verdict: err.sealed ? 'refused' : 'unreachable', code: err.code, reason };
  }
  if (!check.ok) {
    const reason =
      'reason' in check
        ? check.reason
        : `C[${check.row}][${check.column}] is ${check.claimed}, A·B has ${check.actual}`;
    return { ...withC, verdict: 'wrong', reason, evidence: evidence(opened, reason) };
  }
  if (late)
    return {
      ...withC,
      verdict: 'late',
      reason: `the commitment came after ${commitMs.toFixed(1)} ms, the deadline was ${deadlineMs.toFixed(1)} ms`,
    };
  return { ...withC, verdict: 'pass', reason: 'the product is right and came in time' };
}

function productCheck(c: SignedChallengeCommitment, opened: EvidenceInput['opened']): ProductCheck {
  const { a, b } = expandChallengeMatrices(c.seed, c.n);
  return opened.kind === 'full' ? checkFullProduct(c.n, a, b, opened.c) : checkRows(c.n, a, b, opened.rows);
}

class OpeningInvalid extends Error {
  readonly code = 'OPENING_INVALID';
}

/** The bytes of rows one opening response may carry under the session's frames. */
function rowsPerOpening(ch: ChallengeChannel, n: number): number {
  const body = ch.maxMessageBytes - FRAME_ENVELOPE_BYTES - LENGTH_PREFIX_BYTES - 256;
  return Math.max(1, Math.floor(body / (4 * n)));
}

async function openFull(
  ch: ChallengeChannel,
  c: SignedChallengeCommitment,
): Promise<{ opened: EvidenceInput['opened']; bad?: { ok: false; reason: string } }> {
  const n = c.n;
  const out = new Int32Array(n * n);
  const per = rowsPerOpening(ch, n);
  for (let first = 0; first < n; ) {
    const r = await ch.open({ id: Buffer.from(c.id), firstRow: first, rowCount: Math.min(per, n - first) });
    const k = r.rowsLe.length / (4 * n);
    if (r.firstRow !== first || !Number.isInteger(k) || k < 1 || first + k > n)
      throw new OpeningInvalid(`the opening of rows from ${first} is not whole rows in range`);
    out.set(fromInt32LE(r.rowsLe), first * n);
    first += k;
  }
  const opened = { kind: 'full' as const, c: out };
  if (!equalBytes(challengeResultHash(c.id, n, out), c.resultHash))
    return { opened, bad: { ok: false, reason: 'the opened C does not hash to the committed H_C' } };
  return { opened };
}

async function openRows(
  ch: ChallengeChannel,
  c: SignedChallengeCommitment,
): Promise<{ opened: EvidenceInput['opened']; bad?: { ok: false; reason: string } }> {
  const n = c.n;
  const chosen = new Set<number>();
  while (chosen.size < OPENED_ROWS) chosen.add(randomInt(n));
  const rows = [...chosen];
  const r = await ch.open({ id: Buffer.from(c.id), rows });
  if (r.proofs.length !== rows.length) throw new OpeningInvalid(`expected ${rows.length} rows`);
  const opened = r.proofs.map((p, i) => {
    if (p.index !== rows[i] || p.row.length !== 4 * n)
      throw new OpeningInvalid(`row ${rows[i]} is not what was asked`);
    return { index: p.index, row: fromInt32LE(p.row), path: p.path.map((x) => new Uint8Array(x)) };
  });
  const result = { kind: 'rows' as const, rows: opened };
  for (const p of opened)
    if (!verifyMerklePath(p.index, n, rowLeafHash(r.proofs[opened.indexOf(p)]!.row), p.path, c.rowsRoot))
      return {
        opened: result,
        bad: { ok: false, reason: `row ${p.index} is not under the committed rows root` },
      };
  return { opened: result };
}
