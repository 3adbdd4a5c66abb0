import { describe, expect, it } from 'vitest';
import {
  type GameParams,
  outcome,
  penalizeWitness,
  settleEpoch,
  settleRound,
  validateCommittee,
  violationTime,
} from './rules.js';

/** contracts/deploy.ts DEFAULT_PARAMS in DFS. */
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

const close = (xs: readonly number[], ys: readonly number[]) => {
  expect(xs).toHaveLength(ys.length);
  for (const [i, x] of xs.entries()) expect(x).toBeCloseTo(ys[i]!, 9);
};

describe('WitnessPool.finalize payoffs', () => {
  it('3 violation reports against 2 Ok: Unavailable, slash of half the collateral, reporters share a quarter', () => {
    const s = settleRound(['Unavailable', 'Unavailable', 'Unavailable', 'Ok', 'Ok'], P, true, 1000);
    expect(s.verdict).toBe('Unavailable');
    // slash 1000 · 50 % = 500: customer 250, witnesses 125 / 3 each, burn 125.
    expect(s.slashed).toBeCloseTo(500);
    expect(s.perReporter).toBeCloseTo(125 / 3);
    close(s.payoffs, [0.1 + 125 / 3, 0.1 + 125 / 3, 0.1 + 125 / 3, 0, 0]);
    // customer: its slash share and the 2 unpaid seats of the fee (5 · 0.1 − 3 · 0.1).
    expect(s.toCustomer).toBeCloseTo(250.2);
    expect(s.burned).toBeCloseTo(125);
  });

  it('3 Ok against 2 violation reports: Ok; the two violation reporters lose rewardUnit of stake', () => {
    const s = settleRound(['Ok', 'Ok', 'Ok', 'Unavailable', 'Fraud'], P, true, 1000);
    expect(s.verdict).toBe('Ok');
    close(s.payoffs, [0.1, 0.1, 0.1, -0.1, -0.1]);
    expect(s.slashed).toBe(0);
    expect(s.toCustomer).toBeCloseTo(0.2);
    expect(s.burned).toBeCloseTo(0.2);
  });

  it('one liar among four honest: the liar loses rewardUnit, the others earn it', () => {
    const s = settleRound(['Ok', 'Ok', 'Ok', 'Ok', 'Unavailable'], P, true, 1000);
    close(s.payoffs, [0.1, 0.1, 0.1, 0.1, -0.1]);
  });

  it('no reveal costs 2 · rewardUnit, capped by the stake', () => {
    const s = settleRound(['Ok', 'Ok', 'Ok', 'Ok', 'NoReveal'], P, true, 1000);
    close(s.payoffs, [0.1, 0.1, 0.1, 0.1, -0.2]);
    const capped = settleRound(
      ['Ok', 'Ok', 'Ok', 'Ok', 'NoReveal'],
      P,
      true,
      1000,
      [100, 100, 100, 100, 0.05],
    );
    expect(capped.payoffs[4]).toBeCloseTo(-0.05);
  });

  it('Fraud needs M Fraud reports; 2 Fraud + 1 Unavailable is Unavailable and every violation reporter agrees', () => {
    expect(outcome(['Fraud', 'Fraud', 'Unavailable', 'Ok', 'Ok'], 3)).toBe('Unavailable');
    expect(outcome(['Fraud', 'Fraud', 'Fraud', 'Unavailable', 'Ok'], 3)).toBe('Fraud');
    const s = settleRound(['Fraud', 'Fraud', 'Unavailable', 'Ok', 'Ok'], P, true, 1000);
    close(s.payoffs, [0.1 + 125 / 3, 0.1 + 125 / 3, 0.1 + 125 / 3, 0, 0]);
  });

  it('Stale by majority: Stale reporters earn, Ok reporters get nothing, violation reporters lose', () => {
    const s = settleRound(['Stale', 'Stale', 'Stale', 'Ok', 'Unavailable'], P, true, 1000);
    expect(s.verdict).toBe('Stale');
    close(s.payoffs, [0.1, 0.1, 0.1, 0, -0.1]);
    // On an Ok outcome a Stale report disagrees (0).
    close(settleRound(['Ok', 'Ok', 'Ok', 'Stale', 'Stale'], P, true, 1000).payoffs, [0.1, 0.1, 0.1, 0, 0]);
  });

  it('an outcome the market does not count slashes nothing but pays members all the same', () => {
    const s = settleRound(['Unavailable', 'Unavailable', 'Unavailable', 'Ok', 'Ok'], P, false, 1000);
    expect(s.slashed).toBe(0);
    close(s.payoffs, [0.1, 0.1, 0.1, 0, 0]);
  });

  it('a round nobody revealed is Ok and burns 2 · rewardUnit per member', () => {
    const s = settleRound(['NoReveal', 'NoReveal', 'NoReveal', 'NoReveal', 'NoReveal'], P, true, 1000);
    expect(s.verdict).toBe('Ok');
    expect(s.burned).toBeCloseTo(1);
    expect(s.toCustomer).toBeCloseTo(0.5);
  });
});

describe('other rules', () => {
  it('violation time is the M-th smallest report', () => {
    expect(violationTime([50, 0, 30, 10], 3)).toBe(30);
    expect(() => violationTime([1, 2], 3)).toThrow(RangeError);
  });

  it('validateCommittee follows WitnessPool.validateCommittee', () => {
    expect(() => validateCommittee(5, 3)).not.toThrow();
    for (const [n, m] of [
      [2, 2],
      [5, 2],
      [5, 5],
      [16, 9],
    ] as const)
      expect(() => validateCommittee(n, m)).toThrow(RangeError);
  });

  it('a witness staked at the minimum becomes ineligible after any penalty', () => {
    expect(penalizeWitness(100, 3, 0.1, 0, 100)).toMatchObject({ eligible: false, reputation: 3 });
    expect(penalizeWitness(101, 1, 0.2, 1, 100)).toMatchObject({ eligible: false, reputation: 0 });
    expect(penalizeWitness(101, 3, 0.2, 1, 100)).toMatchObject({ eligible: true, reputation: 2 });
  });

  it('Market._settleEpoch: Ok pays, Stale within grace pays, after it refunds, None refunds, violation pays pro rata', () => {
    const g = 7 * 86400;
    expect(settleEpoch('Ok', 1, 0, 100, 50, g)).toEqual({ paid: 1, refund: 0, fails: false, staleSince: 0 });
    const first = settleEpoch('Stale', 1, 1000, 2000, 0, g);
    expect(first).toEqual({ paid: 1, refund: 0, fails: false, staleSince: 1000 });
    expect(settleEpoch('Stale', 1, 1000 + g, 2000 + g, 1000, g)).toMatchObject({ paid: 0, refund: 1 });
    expect(settleEpoch('None', 1, 0, 100, 0, g)).toMatchObject({ paid: 0, refund: 1, fails: false });
    expect(settleEpoch('Unavailable', 1, 0, 100, 0, g, 25)).toEqual({
      paid: 0.25,
      refund: 0.75,
      fails: true,
      staleSince: 0,
    });
    expect(settleEpoch('Fraud', 1, 100, 200, 0, g, 5)).toMatchObject({ paid: 0, refund: 1, fails: true });
  });
});
