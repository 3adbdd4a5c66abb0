import { drawCommittee } from './committee.js';
import { epochReality, type MeasurementModel, observeEpoch, type Provider } from './measure.js';
import type { Prng } from './prng.js';
import {
  type GameParams,
  isViolation,
  settleEpoch,
  settleRound,
  type Verdict,
  violationTime,
} from './rules.js';
import { reveal, type Strategy } from './strategies.js';

/*
 * One lease epoch of the game: the pool draws a committee from the eligible witnesses
 * (WitnessPool.drawCommittee), each member reveals by its strategy (commit-reveal hides reveals from
 * one another, so each decides alone), the pool settles the round (WitnessPool.finalize) and the
 * market the epoch (Market.onRoundSettled). Leases run epoch after epoch until a violation outcome
 * fails them (Market.onRoundSettled: Failed).
 */

export interface Lease {
  readonly provider: Provider;
  /** The provider is the colluding witnesses' ally. */
  readonly cartel: boolean;
  /** Collateral left (Registry.leaseCollateral); the pool slashes a share of it. */
  collateral: number;
  /** The provider's fee share per epoch (Market._feeShares). */
  readonly share: number;
  /** Market's Stale clock (seconds; 0 outside a Stale run). */
  staleSince: number;
  failed: boolean;
}

export interface EpochResult {
  readonly verdict: Verdict;
  /** Committee members: positions in the pool and their strategies, reveals and payoffs. */
  readonly members: readonly number[];
  readonly strategies: readonly Strategy[];
  readonly payoffs: readonly number[];
  readonly slashed: number;
  /** Paid to the provider for the epoch, and whether the lease failed. */
  readonly providerPaid: number;
  readonly fails: boolean;
  /** Honest members' own verdicts (before the majority), for false-flag rates. */
  readonly honestViolationReports: number;
  /**
   * With `deviation`: per member, its payoff minus what it would have received had it alone reported
   * honestly (its own measurement of the same epoch, every other reveal unchanged); 0 for honest
   * members. A positive mean for a strategy means the rules pay it for departing from the truth.
   */
  readonly deviationGains?: readonly number[];
}

export function runEpoch(
  rng: Prng,
  pool: readonly Strategy[],
  lease: Lease,
  epoch: number,
  m: MeasurementModel,
  p: GameParams,
  opts: { readonly deviation?: boolean } = {},
): EpochResult {
  const members = drawCommittee(rng, pool.length, p.committeeSize);
  const strategies = members.map((i) => pool[i]!);
  const reality = epochReality(rng, lease.provider, m);
  const informed = strategies.filter((s) => s === 'informed').length;
  const reveals = strategies.map((s) =>
    reveal(
      s,
      () => observeEpoch(rng, lease.provider, reality, m),
      lease.cartel,
      m.epochS,
      informed,
      p.majority,
    ),
  );
  const reports = reveals.map((r) => r.report);
  // Market.onRoundSettled counts the report only while the lease is Fulfilling.
  const counted = !lease.failed;
  const round = settleRound(reports, p, counted, lease.collateral);
  let providerPaid = 0;
  let fails = false;
  if (counted) {
    const startsAt = epoch * m.epochS;
    const times = reveals.filter((r) => isViolation(r.report)).map((r) => startsAt + r.violationAt);
    const at = isViolation(round.verdict) ? violationTime(times, p.majority) : startsAt + m.epochS;
    const e = settleEpoch(
      round.verdict,
      lease.share,
      startsAt,
      startsAt + m.epochS,
      lease.staleSince,
      p.staleGrace,
      at,
    );
    providerPaid = e.paid;
    fails = e.fails;
    lease.staleSince = e.staleSince;
    lease.collateral -= round.slashed;
    if (fails) lease.failed = true;
  }
  const honestViolationReports = reveals.filter(
    (r, i) => strategies[i] === 'honest' && isViolation(r.report),
  ).length;
  const deviationGains = opts.deviation
    ? strategies.map((s, i) => {
        if (s === 'honest') return 0;
        const truth = reveal(
          'honest',
          () => observeEpoch(rng, lease.provider, reality, m),
          lease.cartel,
          m.epochS,
        );
        const alt = reports.map((r, j) => (j === i ? truth.report : r));
        return round.payoffs[i]! - settleRound(alt, p, counted, lease.collateral + round.slashed).payoffs[i]!;
      })
    : undefined;
  return {
    verdict: round.verdict,
    members,
    strategies,
    payoffs: round.payoffs,
    slashed: round.slashed,
    providerPaid,
    fails,
    honestViolationReports,
    ...(deviationGains ? { deviationGains } : {}),
  };
}

/** A pool of `size` witnesses with the given strategy shares (rounded; the rest honest), in order. */
export function makePool(size: number, shares: Partial<Record<Strategy, number>>): Strategy[] {
  const pool: Strategy[] = [];
  for (const s of ['lazy', 'colluding', 'informed', 'absent'] as const) {
    const k = Math.round((shares[s] ?? 0) * size);
    for (let i = 0; i < k; i++) pool.push(s);
  }
  if (pool.length > size) throw new RangeError('strategy shares add up to more than 1');
  while (pool.length < size) pool.push('honest');
  return pool;
}

/** Epochs until the lease fails (1 = its first epoch), or `maxEpochs + 1` if it never does. */
export function epochsUntilFailure(
  rng: Prng,
  pool: readonly Strategy[],
  lease: Lease,
  m: MeasurementModel,
  p: GameParams,
  maxEpochs: number,
): number {
  for (let e = 0; e < maxEpochs; e++) if (runEpoch(rng, pool, lease, e, m, p).fails) return e + 1;
  return maxEpochs + 1;
}
