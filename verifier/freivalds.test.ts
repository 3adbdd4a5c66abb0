import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandChallengeMatrices, maxProductEntry } from '../protocol/challenge-matrices.js';
import { freivalds } from './freivalds.js';

/** The reference product: the schoolbook triple loop, exact in doubles for these sizes. */
function multiplyNaive(n: number, a: Uint8Array, b: Uint8Array): Int32Array {
  const c = new Int32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k]! * b[k * n + j]!;
      c[i * n + j] = s;
    }
  return c;
}

/** A seeded generator (mulberry32), so the statistical test is reproducible. */
function seeded(seed: number): (max: number) => number {
  let t = seed >>> 0;
  return (max) => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * max);
  };
}

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('Freivalds check of a challenge product', () => {
  it('always accepts the correct product', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 24 }), (seed, n) => {
        const { a, b } = expandChallengeMatrices(seed, n);
        expect(freivalds(n, a, b, multiplyNaive(n, a, b))).toEqual({ ok: true, rounds: 2 });
      }),
      { numRuns: 60 },
    );
  });

  it('catches any single wrong entry', () => {
    fc.assert(
      fc.property(
        seedArb,
        fc.integer({ min: 1, max: 16 }),
        fc.nat(),
        fc.integer({ min: 1, max: 1000 }),
        (seed, n, at, delta) => {
          const { a, b } = expandChallengeMatrices(seed, n);
          const c = multiplyNaive(n, a, b);
          const i = at % (n * n);
          c[i] = c[i]! + delta <= maxProductEntry(n) ? c[i]! + delta : c[i]! - delta;
          fc.pre(c[i]! >= 0);
          const r = freivalds(n, a, b, c);
          expect(r.ok).toBe(false);
          if (!r.ok && r.reason === 'mismatch') expect(r.row).toBe(Math.floor(i / n));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses out-of-range entries without drawing a vector', () => {
    const n = 8;
    const { a, b } = expandChallengeMatrices(new Uint8Array(32).fill(7), n);
    const random = () => {
      throw new Error('no vector may be drawn for an out-of-range product');
    };
    for (const bad of [-1, maxProductEntry(n) + 1, -(2 ** 31)]) {
      const c = multiplyNaive(n, a, b);
      c[13] = bad;
      expect(freivalds(n, a, b, c, { random })).toEqual({
        ok: false,
        reason: 'out-of-range',
        index: 13,
        value: bad,
      });
    }
  });

  it('accepts a wrong product with probability 1/p per round (p = 101, k = 1)', () => {
    // One wrong entry (i, j) with error d: a round accepts iff d·r_j ≡ 0 (mod p), i.e. r_j = 0.
    const n = 4;
    const { a, b } = expandChallengeMatrices(new Uint8Array(32).fill(1), n);
    const c = multiplyNaive(n, a, b);
    c[5] = c[5]! + 3;
    const random = seeded(42);
    const trials = 20_000;
    let accepted = 0;
    for (let t = 0; t < trials; t++)
      if (freivalds(n, a, b, c, { rounds: 1, modulus: 101, random }).ok) accepted++;
    const expected = trials / 101; // ≈ 198, σ ≈ 14
    expect(Math.abs(accepted - expected)).toBeLessThan(5 * Math.sqrt(expected));
  });

  it('stays exact at the largest entries (all 255: every product entry is n·255²)', () => {
    const n = 64;
    const a = new Uint8Array(n * n).fill(255);
    const c = multiplyNaive(n, a, a);
    expect(c[0]).toBe(maxProductEntry(n));
    expect(freivalds(n, a, a, c).ok).toBe(true);
    c[n * n - 1] = c[n * n - 1]! - 1;
    expect(freivalds(n, a, a, c).ok).toBe(false);
  });

  it('stays exact near the largest entries a challenge allows (n = 2048, all 255)', () => {
    const n = 2048;
    const a = new Uint8Array(n * n).fill(255);
    const c = new Int32Array(n * n).fill(maxProductEntry(n)); // every entry of A·A is n·255² ≈ 2²⁷
    expect(freivalds(n, a, a, c).ok).toBe(true);
    c[12_345] = c[12_345]! - 1;
    expect(freivalds(n, a, a, c)).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('refuses matrices of the wrong size and bad options', () => {
    const a = new Uint8Array(4);
    expect(() => freivalds(2, a, a, new Int32Array(3))).toThrow(/4 entries/);
    expect(() => freivalds(2, a, a, new Int32Array(4), { rounds: 0 })).toThrow(/rounds/);
    expect(() => freivalds(2, a, a, new Int32Array(4), { modulus: 2 ** 31 })).toThrow(/modulus/);
  });
});
