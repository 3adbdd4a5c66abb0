import { describe, expect, it } from 'vitest';
import {
  challengeDeadlineMs,
  epochReality,
  type MeasurementModel,
  observeEpoch,
  type Provider,
} from './measure.js';
import { Prng } from './prng.js';

const m: MeasurementModel = {
  epochS: 14_400,
  challenges: 3,
  missesToFlag: 2,
  challengeN: 1024,
  margin: 1.5,
  slackMs: 50,
  rtt: { medianMs: 40, sigma: 0 },
  challengeOverhead: { medianMs: 10, sigma: 0.2 },
  challengeTransferMs: 0,
  rateSigma: 0.1,
  probesPerEpoch: 24,
  minProbes: 10,
  probeCall: { medianMs: 5, sigma: 0.3 },
  probeCompute: { medianMs: 50, sigma: 0.3 },
  sla: { availabilityBps: 9990, p95LatencyMs: 300 },
  alpha: 5e-4,
};
const base: Provider = {
  kind: 'honest',
  claimedGflops: 10,
  trueGflops: 15,
  failProb: 0,
  outageProbPerEpoch: 0,
  outageMeanS: 0,
};

describe('an honest witness measuring one epoch', () => {
  it('deadline = RTT_p95 + margin · 2n³ / R_claimed + slack', () => {
    // σ 0: p95 = median = 40 ms; 2 · 1024³ / 10 GFLOP/s = 214.75 ms.
    expect(challengeDeadlineMs(m, 10)).toBeCloseTo(40 + 1.5 * 214.748 + 50, 2);
  });

  it('finds a non-serving provider Unavailable and an honest one Ok', () => {
    const rng = new Prng(3);
    const dead = { ...base, kind: 'non-serving' as const };
    for (let i = 0; i < 20; i++) {
      expect(observeEpoch(rng, dead, epochReality(rng, dead, m), m).verdict).toBe('Unavailable');
      expect(observeEpoch(rng, base, epochReality(rng, base, m), m).verdict).toBe('Ok');
    }
  });

  it('flags a provider at a third of its claim on capacity', () => {
    const rng = new Prng(4);
    const slow = { ...base, kind: 'under-provisioned' as const, trueGflops: 10 / 3 };
    const o = observeEpoch(rng, slow, epochReality(rng, slow, m), m);
    expect(o.verdict).toBe('Unavailable');
    expect(o.capacityMisses).toBeGreaterThanOrEqual(2);
  });
});
