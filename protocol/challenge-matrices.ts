import { createHash } from 'node:crypto';

/*
 * The matrices of a capacity challenge (ARCHITECTURE.md, "Witness checks"): the witness sends a fresh
 * 32-byte seed and both sides expand the two n×n factors from it, A = SHAKE256(seed ‖ "A") and
 * B = SHAKE256(seed ‖ "B"), one byte per entry in row-major order (the CPU class: entries 0..255).
 * The executor multiplies them; the witness checks the product (verifier/freivalds.ts).
 */

/** Largest n a challenge may ask for (the expansion is n² bytes per factor). */
export const MAX_CHALLENGE_N = 4096;

export interface ChallengeMatrices {
  readonly n: number;
  /** Row-major, n² entries each, 0..255. */
  readonly a: Uint8Array;
  readonly b: Uint8Array;
}

export function expandChallengeMatrices(seed: Uint8Array, n: number): ChallengeMatrices {
  if (seed.length !== 32) throw new RangeError(`a challenge seed is 32 bytes, got ${seed.length}`);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CHALLENGE_N)
    throw new RangeError(`challenge size n must be an integer in 1..${MAX_CHALLENGE_N}, got ${n}`);
  return { n, a: expand(seed, 0x41, n), b: expand(seed, 0x42, n) };
}

function expand(seed: Uint8Array, label: number, n: number): Uint8Array {
  const input = new Uint8Array(33);
  input.set(seed, 0);
  input[32] = label; // "A" or "B"
  // node:crypto's SHAKE256 (OpenSSL) expands 1 MiB in about a tenth of the time of a JS one.
  return new Uint8Array(
    createHash('shake256', { outputLength: n * n })
      .update(input)
      .digest(),
  );
}

/** The largest entry of A·B for n×n factors with entries 0..255. */
export function maxProductEntry(n: number): number {
  return n * 255 * 255;
}
