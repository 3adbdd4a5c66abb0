import { randomInt } from 'node:crypto';
import { maxProductEntry } from '../protocol/challenge-matrices.js';
import { freivaldsWasm, MAX_WASM_FREIVALDS_N } from './freivalds-wasm.js';

/*
 * Freivalds' randomized check of a matrix product (ARCHITECTURE.md, "Witness checks"): C = A·B is
 * accepted when A(B·r) = C·r over GF(p) for `rounds` independent uniform vectors r, in O(n²) per round.
 * A wrong C passes one round with probability at most 1/p, so k = 2 rounds over p = 2³¹ − 1 accept a
 * wrong product with probability at most 2⁻⁶². The vectors must be drawn only after the executor has
 * committed to C. Every entry of C is range-checked first: the product of two CPU-class factors
 * (entries 0..255) has entries in 0..n·255², so anything else is refused without drawing a vector.
 *
 * For the default field and k = 2 (every capacity challenge), n ≤ 4096, the check runs in WebAssembly
 * SIMD (verifier/freivalds-wasm.ts: one pass over each matrix for both rounds, exact integer
 * arithmetic). The loop here is the reference for other moduli and round counts, and the naive check
 * the fast path is tested against: given the same `random`, both draw the same vectors in the same
 * order (round 1's n entries, then round 2's) and return the same result.
 *
 * The reference's arithmetic stays exact in doubles: the terms of B·r and A·(B·r) are below 2³⁹
 * (entries ≤ 255, vector entries < p < 2³¹) and are reduced before their sum reaches 2⁵³; a term of
 * C·r could reach 2⁵⁹ (c ≤ n·255² < 2²⁸ for n ≤ 4096), so r is split into 16-bit halves there.
 */

export const MERSENNE_31 = 2_147_483_647;

export type FreivaldsResult =
  | { readonly ok: true; readonly rounds: number }
  | { readonly ok: false; readonly reason: 'out-of-range'; readonly index: number; readonly value: number }
  | { readonly ok: false; readonly reason: 'mismatch'; readonly round: number; readonly row: number };

export interface FreivaldsOptions {
  /** Independent rounds (default 2). */
  readonly rounds?: number;
  /** The field's prime (default 2³¹ − 1); smaller primes are for measuring the false-accept rate. */
  readonly modulus?: number;
  /** Uniform integer in [0, max); defaults to node:crypto's CSPRNG. */
  readonly random?: (max: number) => number;
}

/**
 * Checks C = A·B for n×n row-major matrices: `a`, `b` with entries 0..255, `c` as the executor sent it
 * (little-endian int32 on the wire).
 */
export function freivalds(
  n: number,
  a: Uint8Array,
  b: Uint8Array,
  c: Int32Array,
  o: FreivaldsOptions = {},
): FreivaldsResult {
  const { rounds, p } = checkArguments(n, a, b, c, o);
  if (p === MERSENNE_31 && rounds === 2 && n >= 1 && n <= MAX_WASM_FREIVALDS_N) {
    const r = freivaldsWasm(n, a, b, c, o.random);
    return r.ok ? { ok: true, rounds } : r;
  }
  return reference(n, a, b, c, rounds, p, o.random ?? ((max: number) => randomInt(max)));
}

/**
 * The same check in plain JavaScript, one round at a time, for any modulus and round count; by
 * default each vector entry is one node:crypto `randomInt` call.
 */
export function freivaldsReference(
  n: number,
  a: Uint8Array,
  b: Uint8Array,
  c: Int32Array,
  o: FreivaldsOptions = {},
): FreivaldsResult {
  const { rounds, p } = checkArguments(n, a, b, c, o);
  return reference(n, a, b, c, rounds, p, o.random ?? ((max: number) => randomInt(max)));
}

function checkArguments(
  n: number,
  a: Uint8Array,
  b: Uint8Array,
  c: Int32Array,
  o: FreivaldsOptions,
): { rounds: number; p: number } {
  const nn = n * n;
  if (a.length !== nn || b.length !== nn || c.length !== nn)
    throw new RangeError(`matrices must have ${nn} entries (n = ${n})`);
  const rounds = o.rounds ?? 2;
  const p = o.modulus ?? MERSENNE_31;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError('rounds must be a positive integer');
  if (!Number.isInteger(p) || p < 2 || p > MERSENNE_31)
    throw new RangeError(`modulus must be in 2..${MERSENNE_31}`);
  return { rounds, p };
}

function reference(
  n: number,
  a: Uint8Array,
  b: Uint8Array,
  c: Int32Array,
  rounds: number,
  p: number,
  random: (max: number) => number,
): FreivaldsResult {
  const nn = n * n;
  const max = maxProductEntry(n);
  for (let i = 0; i < nn; i++) {
    const v = c[i]!;
    if (v < 0 || v > max) return { ok: false, reason: 'out-of-range', index: i, value: v };
  }
  const r = new Float64Array(n);
  const rHi = new Float64Array(n);
  const rLo = new Float64Array(n);
  const br = new Float64Array(n);
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < n; j++) {
      r[j] = random(p);
      rHi[j] = Math.floor(r[j]! / 65536);
      rLo[j] = r[j]! - rHi[j]! * 65536;
    }
    // B·r: b ≤ 255 and r < 2³¹, so each term is below 2³⁹; reduce each row once per 2¹³ terms.
    for (let i = 0; i < n; i++) br[i] = dotSmall(b, i * n, r, n, p);
    for (let i = 0; i < n; i++) {
      const left = dotSmall(a, i * n, br, n, p);
      const right = dotProduct(c, i * n, rHi, rLo, n, p);
      if (left !== right) return { ok: false, reason: 'mismatch', round, row: i };
    }
  }
  return { ok: true, rounds };
}

/** Σ m[off + j]·v[j] mod p for m entries 0..255 and v entries below p. */
function dotSmall(m: Uint8Array, off: number, v: Float64Array, n: number, p: number): number {
  let acc = 0;
  for (let j = 0; j < n; j++) {
    acc += m[off + j]! * v[j]!;
    if ((j & 0x1fff) === 0x1fff) acc %= p; // 2¹³ terms below 2³⁹ stay below 2⁵²
  }
  return acc % p;
}

/**
 * Σ c[off + j]·r[j] mod p for c entries below 2²⁸, with r = rHi·2¹⁶ + rLo: a term is below 2⁴⁴, so
 * 2⁸ of them sum below 2⁵² before each reduction.
 */
function dotProduct(
  c: Int32Array,
  off: number,
  rHi: Float64Array,
  rLo: Float64Array,
  n: number,
  p: number,
): number {
  let hi = 0;
  let lo = 0;
  for (let j = 0; j < n; j++) {
    const x = c[off + j]!;
    hi += x * rHi[j]!;
    lo += x * rLo[j]!;
    if ((j & 0xff) === 0xff) {
      hi %= p;
      lo %= p;
    }
  }
  return ((((hi % p) * 65536) % p) + (lo % p)) % p;
}
