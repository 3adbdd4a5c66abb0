import { describe, expect, it } from 'vitest';
import { captureBinomial, captureExact, captureMonteCarlo, drawCommittee } from './committee.js';
import { Prng } from './prng.js';

describe('committee capture', () => {
  it('matches the hypergeometric tail worked by hand: 3 of 10 adversarial, N = 3, M = 2', () => {
    // [C(3,2)·C(7,1) + C(3,3)] / C(10,3) = 22 / 120
    expect(captureExact(10, 3, 3, 2)).toBeCloseTo(22 / 120, 12);
  });

  it('Monte Carlo over the contract-style draw agrees with the exact formula', () => {
    const trials = 20_000;
    const p = 22 / 120;
    const mc = captureMonteCarlo(new Prng(5), 10, 3, 3, 2, trials);
    expect(Math.abs(mc - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / trials));
  });

  it('binomial tail at f = 10 %, N = 5, M = 3 is about 0.86 %', () => {
    // 10·0.1³·0.9² + 5·0.1⁴·0.9 + 0.1⁵
    expect(captureBinomial(0.1, 5, 3)).toBeCloseTo(0.00856, 5);
    expect(captureExact(100, 10, 5, 3)).toBeCloseTo(499_752 / 75_287_520, 12);
  });

  it('draws N distinct members', () => {
    const m = drawCommittee(new Prng(9), 7, 5);
    expect(new Set(m).size).toBe(5);
    expect(m.every((i) => i >= 0 && i < 7)).toBe(true);
  });
});
