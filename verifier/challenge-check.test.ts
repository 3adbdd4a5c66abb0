import { describe, expect, it } from 'vitest';
import { expandChallengeMatrices, maxProductEntry } from '../protocol/challenge-matrices.js';
import { challengeDeadlineMs, p95 } from './challenge.js';
import { checkFullProduct, checkRows, exactRow } from './challenge-check.js';

const n = 24;
const { a, b } = expandChallengeMatrices(new Uint8Array(32).fill(3), n);
const product = () => {
  const c = new Int32Array(n * n);
  for (let i = 0; i < n; i++) c.set(exactRow(n, a, b, i), i * n);
  return c;
};

describe('product checks', () => {
  it('accept the product and name the wrong entry of any changed one', () => {
    expect(checkFullProduct(n, a, b, product())).toEqual({ ok: true });
    for (const [at, delta] of [
      [0, 1],
      [n * n - 1, -1],
      [7 * n + 3, 2 ** 31 - 1],
    ] as const) {
      const c = product();
      const actual = c[at]!;
      c[at] = (c[at]! + delta) | 0;
      expect(checkFullProduct(n, a, b, c)).toEqual({
        ok: false,
        row: Math.floor(at / n),
        column: at % n,
        claimed: c[at],
        actual,
      });
    }
  });

  it('check rows alone, an out-of-range entry included', () => {
    const c = product();
    const rows = [2, 5, 11].map((index) => ({ index, row: c.slice(index * n, (index + 1) * n) }));
    expect(checkRows(n, a, b, rows)).toEqual({ ok: true });
    rows[1]!.row[4] = maxProductEntry(n) + 1;
    expect(checkRows(n, a, b, rows)).toMatchObject({ ok: false, row: 5, column: 4 });
    rows[1]!.row[4] = c[5 * n + 4]! + 1;
    expect(checkRows(n, a, b, rows)).toMatchObject({ ok: false, row: 5, column: 4 });
  });
});

describe('deadline', () => {
  it('is RTT_p95 + 1.5 · 2n³ / (claimed · 1e9) s + 50 ms', () => {
    expect(challengeDeadlineMs(10, 128, 0.05)).toBeCloseTo(10 + (1.5 * 2 * 128 ** 3 * 1000) / 5e7 + 50);
    expect(p95([5, 1, 4, 2, 3])).toBe(5);
    expect(p95(Array.from({ length: 100 }, (_, i) => i + 1))).toBe(95);
  });
});
