import { keccak_256 } from '@noble/hashes/sha3.js';
import { DefaasError } from './errors.js';

/*
 * Verifiable randomized load balancing (docs/balancing.md). The randomness of a call's choice is
 * keccak256(blockHash ‖ requestId): a recent block's hash, which the customer cannot choose, and the
 * call's 32-byte request id, which it commits to before the block is known to matter. Anyone holding
 * both and the candidate list (leases in ascending id order) recomputes which two candidates were
 * drawn; the choice between them follows the policy.
 *
 * - `power-of-two`: the less loaded of the two drawn (ties: the first drawn);
 * - `choice-of-two`: one of the two drawn, by the draw's next bit, without load information;
 * - `none`: the first drawn only (one uniform choice, no balancing).
 */

export const BALANCE_POLICIES = ['power-of-two', 'choice-of-two', 'none'] as const;
export type BalancePolicy = (typeof BALANCE_POLICIES)[number];

/** What a choice was made from, so that it can be recomputed. */
export interface Draw {
  /** 0x-hex, 32 bytes: keccak256(blockHash ‖ requestId). */
  readonly seed: string;
  /** Indices into the candidate list of the two drawn (equal only when there is one candidate). */
  readonly first: number;
  readonly second: number;
  /** The index chosen. */
  readonly chosen: number;
}

function bytes32(v: string | Uint8Array, what: string): Uint8Array {
  if (typeof v !== 'string') {
    if (v.length !== 32) throw new DefaasError('SDK_INVALID_ARGUMENT', `${what} must be 32 bytes`);
    return v;
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(v))
    throw new DefaasError('SDK_INVALID_ARGUMENT', `${what} must be 0x and 64 hex digits`);
  return Uint8Array.from(Buffer.from(v.slice(2), 'hex'));
}

const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

/** keccak256(blockHash ‖ requestId), both 32 bytes. */
export function balanceSeed(blockHash: string | Uint8Array, requestId: string | Uint8Array): Uint8Array {
  const m = new Uint8Array(64);
  m.set(bytes32(blockHash, 'blockHash'), 0);
  m.set(bytes32(requestId, 'requestId'), 32);
  return keccak_256(m);
}

/** keccak256(seed ‖ tag) as an unsigned integer. */
function derive(seed: Uint8Array, tag: number): bigint {
  const m = new Uint8Array(33);
  m.set(seed, 0);
  m[32] = tag;
  return BigInt(hex(keccak_256(m)));
}

/**
 * The two distinct candidates of `n` a seed draws: first = H(seed‖0) mod n, second = (first + 1 +
 * H(seed‖1) mod (n−1)) mod n. With one candidate both are 0.
 */
export function drawTwo(seed: Uint8Array, n: number): readonly [number, number] {
  if (!(seed instanceof Uint8Array) || seed.length !== 32)
    throw new DefaasError('SDK_INVALID_ARGUMENT', 'seed must be 32 bytes (balanceSeed)');
  if (!Number.isSafeInteger(n) || n < 1)
    throw new DefaasError('SDK_INVALID_ARGUMENT', 'need at least one candidate to balance over');
  const first = Number(derive(seed, 0) % BigInt(n));
  if (n === 1) return [0, 0];
  const second = (first + 1 + Number(derive(seed, 1) % BigInt(n - 1))) % n;
  return [first, second];
}

/**
 * The candidate a policy picks for one call. `loads[i]` is candidate i's load (in-flight calls or
 * what the executor reports); only `power-of-two` reads it.
 */
export function choose(policy: BalancePolicy, seed: Uint8Array, loads: readonly number[]): Draw {
  if (!BALANCE_POLICIES.includes(policy))
    throw new DefaasError('SDK_INVALID_ARGUMENT', `unknown balance policy ${JSON.stringify(policy)}`);
  if (!loads.every((l) => Number.isFinite(l) && l >= 0))
    throw new DefaasError('SDK_INVALID_ARGUMENT', 'loads must be finite and not negative');
  const [first, second] = drawTwo(seed, loads.length);
  let chosen: number;
  if (policy === 'power-of-two') chosen = loads[second]! < loads[first]! ? second : first;
  else if (policy === 'choice-of-two') chosen = (derive(seed, 2) & 1n) === 0n ? first : second;
  else chosen = first;
  return { seed: hex(seed), first, second, chosen };
}
