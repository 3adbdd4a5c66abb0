import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KERNELS, kernelIsFresh } from '../examples/build-kernels.js';
import { expandChallengeMatrices, maxProductEntry } from '../protocol/challenge-matrices.js';
import { freivaldsReference, MERSENNE_31 as P } from './freivalds.js';
import { drawVectors, freivaldsLayout, freivaldsWasm, MAX_WASM_FREIVALDS_N } from './freivalds-wasm.js';

/*
 * The WebAssembly check (freivalds-wasm.ts, freivalds.wat) against the JavaScript reference
 * (freivaldsReference): given the same `random`, both draw the same vectors in the same order, so
 * on every input they must return the same result, not only the same verdict.
 */

/** The product C = A·B in the i-k-j order, exact in int32 for these sizes (entries ≤ n·255² < 2³¹). */
function multiply(n: number, a: Uint8Array, b: Uint8Array): Int32Array {
  const c = new Int32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const x = a[i * n + k]!;
      for (let j = 0; j < n; j++) c[i * n + j]! += x * b[k * n + j]!;
    }
  return c;
}

/** A seeded generator (mulberry32) of integers in [0, max). */
function seeded(seed: number): (max: number) => number {
  let t = seed >>> 0;
  return (max) => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * max);
  };
}

/** Both paths on the same vectors; the reference's result, with `rounds`, is the WASM result. */
function bothAgree(n: number, a: Uint8Array, b: Uint8Array, c: Int32Array, seed: number) {
  const wasm = freivaldsWasm(n, a, b, c, seeded(seed));
  const ref = freivaldsReference(n, a, b, c, { random: seeded(seed) });
  expect(ref.ok ? { ok: true, rounds: 2 } : ref).toEqual(wasm.ok ? { ok: true, rounds: 2 } : wasm);
  return wasm;
}

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
/** Orders around the 16-column blocks of the layout, and some beyond. */
const nArb = fc.oneof(
  fc.constantFrom(1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 65),
  fc.integer({ min: 1, max: 80 }),
);

describe('Freivalds in WebAssembly against the reference', () => {
  it('accepts every correct product, n not a multiple of 16 included', () => {
    fc.assert(
      fc.property(seedArb, nArb, fc.nat(), (seed, n, s) => {
        const { a, b } = expandChallengeMatrices(seed, n);
        expect(bothAgree(n, a, b, multiply(n, a, b), s)).toEqual({ ok: true });
        expect(freivaldsWasm(n, a, b, multiply(n, a, b))).toEqual({ ok: true });
      }),
      { numRuns: 80 },
    );
  });

  it('finds a single wrong entry in its row, as the reference does', () => {
    fc.assert(
      fc.property(
        seedArb,
        nArb,
        fc.nat(),
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.nat(),
        (seed, n, at, d, s) => {
          const { a, b } = expandChallengeMatrices(seed, n);
          const c = multiply(n, a, b);
          const i = at % (n * n);
          c[i] = c[i]! + d <= maxProductEntry(n) ? c[i]! + d : c[i]! - d;
          fc.pre(c[i]! >= 0);
          expect(bothAgree(n, a, b, c, s)).toEqual({
            ok: false,
            reason: 'mismatch',
            round: 0,
            row: Math.floor(i / n),
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reports the first entry out of range, as the reference does, without drawing a vector', () => {
    const random = () => {
      throw new Error('no vector may be drawn for an out-of-range product');
    };
    fc.assert(
      fc.property(
        seedArb,
        nArb,
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.oneof(fc.integer({ min: -(2 ** 31), max: -1 }), fc.integer({ min: 1, max: 2 ** 31 - 1 })),
          ),
        ),
        (seed, n, bad) => {
          fc.pre(bad.length > 0);
          const { a, b } = expandChallengeMatrices(seed, n);
          const c = multiply(n, a, b);
          const max = maxProductEntry(n);
          for (const [at, v] of bad) c[at % (n * n)] = v < 0 ? v : max + v;
          const ref = freivaldsReference(n, a, b, c, { random });
          expect(ref).toMatchObject({ ok: false, reason: 'out-of-range' });
          expect(freivaldsWasm(n, a, b, c, random)).toEqual(ref);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses the values just outside 0..n·255² and accepts the bounds themselves', () => {
    const n = 19;
    const a = new Uint8Array(n * n).fill(255);
    const c = multiply(n, a, a);
    const max = maxProductEntry(n);
    expect(c[0]).toBe(max);
    for (const v of [-1, -(2 ** 31), max + 1, 2 ** 31 - 1, 2 ** 28]) {
      const bad = c.slice();
      bad[n * n - 1] = v;
      expect(freivaldsWasm(n, a, a, bad)).toEqual({
        ok: false,
        reason: 'out-of-range',
        index: n * n - 1,
        value: v,
      });
    }
    const z = new Uint8Array(n * n);
    expect(freivaldsWasm(n, z, z, new Int32Array(n * n))).toEqual({ ok: true });
  });

  it('stays exact at n = 1024, all 255, for the vectors that push each bound furthest', () => {
    // All entries 255 make every product entry n·255², the largest C a challenge allows. The constant
    // vectors put the i16 pieces at their extremes (lo = −2¹⁵; |hi| = 2¹⁴ − 1 or 2¹⁴) and r at p − 1,
    // the largest factor of the C·r terms; at n = 1024 a row of A or B is exactly one chunk of 64
    // steps, the most the i32 lanes may hold (freivalds.wat, dots_u8).
    const n = 1024;
    const a = new Uint8Array(n * n).fill(255);
    const c = new Int32Array(n * n).fill(maxProductEntry(n));
    const extremes = [P - 32_768, P - 32_768 - (2 ** 14 - 1) * 65_536, (P - 1) / 2, P - 1, 1];
    for (const v of extremes) {
      const random = () => v;
      expect(freivaldsWasm(n, a, a, c, random)).toEqual({ ok: true });
      expect(freivaldsReference(n, a, a, c, { random })).toEqual({ ok: true, rounds: 2 });
    }
    c[777_777] = c[777_777]! - 1;
    for (const v of extremes) {
      const random = () => v;
      const expected = { ok: false, reason: 'mismatch', round: 0, row: Math.floor(777_777 / n) };
      expect(freivaldsWasm(n, a, a, c, random)).toEqual(expected);
      expect(freivaldsReference(n, a, a, c, { random })).toEqual(expected);
    }
  });

  it('carries the i32 lanes across chunks (n = 1100, all 255: a row is two chunks)', () => {
    const n = 1100;
    const a = new Uint8Array(n * n).fill(255);
    const c = new Int32Array(n * n).fill(maxProductEntry(n));
    for (const seed of [1, 2]) bothAgree(n, a, a, c, seed);
    expect(freivaldsWasm(n, a, a, c, () => P - 32_768)).toEqual({ ok: true });
    c[n * n - 1] = c[n * n - 1]! - 1;
    expect(bothAgree(n, a, a, c, 3)).toEqual({ ok: false, reason: 'mismatch', round: 0, row: n - 1 });
  });

  it('draws each vector entry uniformly from [0, p) by default', () => {
    const v = drawVectors(4096);
    expect(v.length).toBe(8192);
    expect(v.every((x) => x >= 0 && x < P)).toBe(true);
    // the top bit is masked off: with 8,192 draws, both halves of [0, p) are hit about equally often
    const high = v.filter((x) => x >= 2 ** 30).length;
    expect(Math.abs(high - 4096)).toBeLessThan(5 * Math.sqrt(2048));
    const seen: number[] = [];
    drawVectors(3, (max) => {
      seen.push(max);
      return seen.length;
    });
    expect(seen).toEqual([P, P, P, P, P, P]);
  });

  it('refuses n outside 1..4096', () => {
    const one = new Uint8Array(1);
    expect(() => freivaldsWasm(0, one, one, new Int32Array(1))).toThrow(RangeError);
    expect(() => freivaldsWasm(MAX_WASM_FREIVALDS_N + 1, one, one, new Int32Array(1))).toThrow(RangeError);
  });
});

describe('freivalds.wasm', () => {
  it('fits the largest check in the memory the module declares (2048 pages), the warm-up in one page', () => {
    expect(freivaldsLayout(MAX_WASM_FREIVALDS_N).bytes).toBeLessThanOrEqual(2048 * 65_536);
    expect(freivaldsLayout(48).bytes).toBeLessThanOrEqual(65_536);
  });

  it('is what freivalds.wat compiles to (rebuild: npm run build:wasm)', async () => {
    expect(await kernelIsFresh(KERNELS.freivalds)).toBe(true);
  });
});
