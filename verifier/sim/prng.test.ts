import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';

describe('Prng', () => {
  it('repeats its sequence for a seed and differs for another', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const xs = Array.from({ length: 100 }, () => a.u32());
    expect(Array.from({ length: 100 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.u32())).not.toEqual(xs);
  });

  it('gives the same draws of every kind for a seed', () => {
    const draw = (r: Prng) => [
      r.next(),
      r.normal(),
      r.lognormal(10, 0.5),
      r.exponential(3),
      r.poisson(4),
      ...r.sample(50, 5),
    ];
    expect(draw(new Prng(7))).toEqual(draw(new Prng(7)));
  });

  it('draws uniform numbers in [0, 1) with the right mean', () => {
    const r = new Prng(1);
    const xs = Array.from({ length: 20_000 }, () => r.next());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.5, 1);
  });

  it('samples distinct indices without replacement, each equally often', () => {
    const r = new Prng(2);
    const counts = new Array(10).fill(0);
    for (let t = 0; t < 10_000; t++) {
      const s = r.sample(10, 5);
      expect(new Set(s).size).toBe(5);
      for (const i of s) counts[i]++;
    }
    for (const c of counts) expect(Math.abs(c - 5000)).toBeLessThan(250);
    expect(() => r.sample(3, 4)).toThrow(RangeError);
  });
});
