import { describe, expect, it } from 'vitest';
import type { MeasurementModel, Provider } from './measure.js';
import { Prng } from './prng.js';
import type { GameParams } from './rules.js';
import { type Lease, makePool, runEpoch } from './runner.js';

const P: GameParams = {
  committeeSize: 5,
  majority: 3,
  rewardUnit: 0.1,
  reputationLoss: 1,
  providerSlashBps: 5000,
  customerShareBps: 5000,
  witnessShareBps: 2500,
  minWitnessStake: 100,
  staleGrace: 7 * 86400,
};
const m: MeasurementModel = {
  epochS: 14_400,
  challenges: 3,
  missesToFlag: 2,
  challengeN: 1024,
  margin: 1.5,
  slackMs: 50,
  rtt: { medianMs: 40, sigma: 0.2 },
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
const honest: Provider = {
  kind: 'honest',
  claimedGflops: 10,
  trueGflops: 15,
  failProb: 0,
  outageProbPerEpoch: 0,
  outageMeanS: 0,
};
const lease = (provider: Provider, cartel = false): Lease => ({
  provider,
  cartel,
  collateral: 1000,
  share: 1,
  staleSince: 0,
  failed: false,
});

describe('one lease epoch', () => {
  it('an honest committee convicts a non-serving provider: lease failed, half the collateral slashed', () => {
    const l = lease({ ...honest, kind: 'non-serving' });
    const r = runEpoch(new Prng(1), makePool(20, {}), l, 0, m, P);
    expect(r.verdict).toBe('Unavailable');
    expect(r.fails).toBe(true);
    expect(l.failed).toBe(true);
    expect(l.collateral).toBeCloseTo(500);
    for (const x of r.payoffs) expect(x).toBeCloseTo(0.1 + 125 / 5);
    // A later round of the failed lease is not counted: nothing more is slashed.
    expect(runEpoch(new Prng(2), makePool(20, {}), l, 1, m, P).slashed).toBe(0);
  });

  it('an honest provider before an honest committee is Ok and paid its share', () => {
    const r = runEpoch(new Prng(3), makePool(20, {}), lease(honest), 0, m, P);
    expect(r).toMatchObject({ verdict: 'Ok', fails: false, providerPaid: 1 });
  });

  it('a pool of informed cartel members convicts an honest provider; lazy members acquit a dead one', () => {
    const rigged = runEpoch(new Prng(4), makePool(10, { informed: 1 }), lease(honest), 0, m, P);
    expect(rigged.verdict).toBe('Unavailable');
    const lazy = runEpoch(
      new Prng(5),
      makePool(10, { lazy: 1 }),
      lease({ ...honest, kind: 'non-serving' }),
      0,
      m,
      P,
    );
    expect(lazy).toMatchObject({ verdict: 'Ok', providerPaid: 1 });
  });
});

describe('what departing from the truth earns (deviation gains)', () => {
  it('with a slash share, an informed cartel that holds the committee gains by framing an honest provider', () => {
    const r = runEpoch(new Prng(4), makePool(10, { informed: 1 }), lease(honest), 0, m, P, {
      deviation: true,
    });
    expect(r.verdict).toBe('Unavailable');
    // Alone, an honest report (Ok) would not change the 5-of-5 outcome and would earn 0; the lie earns
    // rewardUnit and a fifth of witnessShareBps of the slash (500 · 25 %).
    for (const g of r.deviationGains!) expect(g).toBeCloseTo(0.1 + 125 / 5);
  });

  it('with the slash burned, the same frame earns the cartel only the rewardUnit an honest Ok would have', () => {
    const burn = { ...P, customerShareBps: 0, witnessShareBps: 0 };
    const r = runEpoch(new Prng(4), makePool(10, { informed: 1 }), lease(honest), 0, m, burn, {
      deviation: true,
    });
    expect(r.verdict).toBe('Unavailable');
    for (const g of r.deviationGains!) expect(g).toBeCloseTo(0.1);
  });

  it('a lazy member before a dead provider and an honest majority loses the reward an honest report earns', () => {
    const pool = makePool(5, {});
    pool[0] = 'lazy';
    const r = runEpoch(new Prng(6), pool, lease({ ...honest, kind: 'non-serving' }), 0, m, P, {
      deviation: true,
    });
    expect(r.verdict).toBe('Unavailable');
    const i = r.strategies.indexOf('lazy');
    expect(r.deviationGains![i]).toBeCloseTo(-(0.1 + 125 / 5));
    expect(r.deviationGains!.filter((_, j) => j !== i).every((g) => g === 0)).toBe(true);
  });

  it('without the option nothing extra is computed', () => {
    expect(runEpoch(new Prng(3), makePool(20, {}), lease(honest), 0, m, P).deviationGains).toBeUndefined();
  });
});
