import { describe, expect, it } from 'vitest';
import { Prng } from '../sim/prng.js';
import { binomialTail, DEFAULT_ALPHA, judgeSla, type ProbeObservation } from './sla.js';

/** Exact P(X ≥ k) for small n, by the definition. */
function tailExact(n: number, k: number, q: number): number {
  let s = 0;
  let c = 1;
  for (let i = 0; i <= n; i++) {
    if (i >= k) s += c * q ** i * (1 - q) ** (n - i);
    c = (c * (n - i)) / (i + 1);
  }
  return s;
}

/** A seeded uniform generator in [0, 1). */
function rng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

/** `n` probes of a provider that misses each with probability `miss` and is slow with probability `slow`. */
function epoch(n: number, miss: number, slow: number, random: () => number): ProbeObservation[] {
  return Array.from({ length: n }, (_, i): ProbeObservation => {
    if (random() < miss) return { sentAt: i, answer: 0, outcome: 'unanswered' };
    return { sentAt: i, answer: 0, outcome: 'ok', latencyMs: random() < slow ? 900 : 40 };
  });
}

const SLA = { availabilityBps: 9900, p95LatencyMs: 500 };

describe('binomialTail', () => {
  it('matches the definition', () => {
    for (const [n, k, q] of [
      [10, 0, 0.3],
      [10, 3, 0.3],
      [20, 20, 0.5],
      [40, 5, 0.01],
      [60, 1, 0.05],
      [30, 31, 0.2],
    ] as const)
      expect(binomialTail(n, k, q)).toBeCloseTo(tailExact(n, k, q), 12);
  });
  it('is 0 when no miss is allowed and one happened, 1 when nothing was observed', () => {
    expect(binomialTail(100, 1, 0)).toBe(0);
    expect(binomialTail(100, 0, 0)).toBe(1);
  });
});

describe('judgeSla', () => {
  it('one wrong answer is fraud', () => {
    const obs = epoch(50, 0, 0, () => 0.5);
    const j = judgeSla(
      [...obs, { sentAt: 99, answer: 1, outcome: 'wrong', latencyMs: 10, detail: '0xab' }],
      SLA,
    );
    expect(j.verdict).toBe('Fraud');
    expect(j.wrong).toBe(1);
  });

  it('a provider that answers nothing is unavailable after a handful of probes', () => {
    expect(
      judgeSla(
        epoch(4, 1, 0, () => 0),
        SLA,
      ).verdict,
    ).toBe('Unavailable');
    // One unanswered probe is not significant at 99 % promised (p = 0.01).
    expect(
      judgeSla(
        epoch(1, 1, 0, () => 0),
        SLA,
      ).verdict,
    ).toBe('Ok');
  });

  it('a provider exactly at its promise is judged in violation at most alpha of the epochs', () => {
    const random = rng(7);
    let violations = 0;
    const epochs = 4000;
    for (let e = 0; e < epochs; e++)
      if (judgeSla(epoch(120, 0.01, 0.05, random), SLA).verdict !== 'Ok') violations++;
    // Two terms at alpha each: at most 2·alpha·epochs expected (≈ 4); 20 is far outside the noise.
    expect(violations).toBeLessThan(20);
    expect(2 * DEFAULT_ALPHA * epochs).toBeLessThan(20);
  });

  it('catches a provider down a fifth of the time, or slow on a third of its calls, within one epoch of 120 probes', () => {
    const random = rng(11);
    let down = 0;
    let slow = 0;
    for (let e = 0; e < 200; e++) {
      if (judgeSla(epoch(120, 0.2, 0.05, random), SLA).verdict === 'Unavailable') down++;
      if (judgeSla(epoch(120, 0.01, 0.33, random), SLA).verdict === 'Unavailable') slow++;
    }
    expect(down).toBeGreaterThanOrEqual(198);
    expect(slow).toBeGreaterThanOrEqual(198);
  });

  it("leaves probes refused for the witness's own grant out of the judgement", () => {
    const refused: ProbeObservation[] = Array.from({ length: 50 }, (_, i) => ({
      sentAt: i,
      answer: 0,
      outcome: 'refused',
    }));
    const j = judgeSla([...epoch(20, 0, 0, () => 0.5), ...refused], SLA);
    expect(j).toMatchObject({ verdict: 'Ok', probes: 20, refused: 50, missed: 0 });
  });

  it('refuses impossible terms', () => {
    expect(() => judgeSla([], { availabilityBps: 10_001, p95LatencyMs: 1 })).toThrow(RangeError);
    expect(() => judgeSla([], { availabilityBps: 9000, p95LatencyMs: 0 })).toThrow(RangeError);
  });
});
