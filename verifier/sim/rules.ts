/*
 * The contracts' rules for one round and one epoch, as plain functions over numbers (token amounts in
 * DFS as floating point; the contracts use integer wei, which only changes rounding in the last
 * digit). Each function names the function it mirrors, in contracts/src/WitnessPool.sol (WitnessPool.*),
 * contracts/src/Market.sol (Market.*) or contracts/src/Registry.sol (Registry.*); nothing here is a
 * rule of its own. Parameters are passed in (experiments/ reads them from contracts/deploy.ts
 * DEFAULT_PARAMS).
 */

/** IWitnessPool.Verdict. */
export type Verdict = 'None' | 'Ok' | 'Fraud' | 'Unavailable' | 'Stale';

/** What a member did in a round: a revealed verdict, or no reveal at all. */
export type Report = 'Ok' | 'Fraud' | 'Unavailable' | 'Stale' | 'NoReveal';

/** WitnessPool.Params (the ones the game needs) and Market/Registry parameters, in DFS and seconds. */
export interface GameParams {
  /** Committee size N and majority M (Market order terms; WitnessPool.validateCommittee bounds them). */
  readonly committeeSize: number;
  readonly majority: number;
  /** WitnessPool.rewardUnit: paid per agreeing member; the round's fee is N · rewardUnit. */
  readonly rewardUnit: number;
  readonly reputationLoss: number;
  readonly providerSlashBps: number;
  readonly customerShareBps: number;
  readonly witnessShareBps: number;
  /** Registry.minWitnessStake: eligibility needs at least this stake (Registry._syncEligibility). */
  readonly minWitnessStake: number;
  /** Market.staleGrace (seconds). */
  readonly staleGrace: number;
}

const BPS = 10_000;

/** WitnessPool.validateCommittee: 3 ≤ N ≤ 15, M a strict majority, M ≤ N − 1. */
export function validateCommittee(size: number, majority: number): void {
  if (size < 3 || size > 15 || majority * 2 <= size || majority > size - 1)
    throw new RangeError(`bad committee: size ${size}, majority ${majority}`);
}

/**
 * WitnessPool._outcome over the revealed reports (WitnessPool.revealVerdict counts Fraud reports,
 * violation reports — Fraud or Unavailable — and Stale reports): Fraud if ≥ M Fraud; else Unavailable
 * if ≥ M violation reports; else Stale if ≥ M Stale; else Ok. Members that did not reveal count for
 * nothing, so a round nobody revealed is Ok.
 */
export function outcome(reports: readonly Report[], majority: number): Verdict {
  let fraud = 0;
  let violated = 0;
  let stale = 0;
  for (const r of reports) {
    if (r === 'Fraud') {
      fraud++;
      violated++;
    } else if (r === 'Unavailable') violated++;
    else if (r === 'Stale') stale++;
  }
  if (fraud >= majority) return 'Fraud';
  if (violated >= majority) return 'Unavailable';
  if (stale >= majority) return 'Stale';
  return 'Ok';
}

export const isViolation = (v: Verdict | Report): boolean => v === 'Fraud' || v === 'Unavailable';

/**
 * WitnessPool._violationTime: the M-th smallest violation time among the violation reports, so no
 * minority can move the paid-up-to time earlier than an honest report.
 */
export function violationTime(times: readonly number[], majority: number): number {
  if (times.length < majority) throw new RangeError('fewer violation reports than the majority');
  return [...times].sort((x, y) => x - y)[majority - 1]!;
}

export interface RoundSettlement {
  readonly verdict: Verdict;
  /** Per member, in the reports' order: tokens received (> 0) or stake taken (< 0). */
  readonly payoffs: readonly number[];
  /** Collateral slashed from the lease (WitnessPool._slash), 0 when the outcome does not slash. */
  readonly slashed: number;
  /** The slash's share paid to each violation reporter. */
  readonly perReporter: number;
  /** To the customer: the slash's customer share plus the fee not paid out. */
  readonly toCustomer: number;
  /** Slash remainder plus witness penalties (Token.burn). */
  readonly burned: number;
}

/**
 * WitnessPool.finalize with WitnessPool._slash and WitnessPool._payMembers. `counted` is
 * Market.onRoundSettled's answer (the report settled an epoch of a running lease); only a counted
 * Fraud/Unavailable outcome slashes `providerSlashBps` of the collateral left. Per member:
 * - no reveal: −2·rewardUnit of stake (and −reputationLoss reputation, Registry.penalizeWitness);
 * - a violation report: +rewardUnit + perReporter when the outcome is a violation, else −rewardUnit;
 * - an Ok or Stale report on an Ok/Stale outcome: +rewardUnit when it agrees (Stale ⇔ outcome Stale),
 *   else 0;
 * - an Ok or Stale report on a violation outcome: 0.
 * What the fee (N · rewardUnit) does not pay goes back to the customer. Penalties are capped by the
 * stake in Registry.penalizeWitness; `stakes` (optional) applies that cap.
 */
export function settleRound(
  reports: readonly Report[],
  p: GameParams,
  counted: boolean,
  collateralLeft: number,
  stakes?: readonly number[],
): RoundSettlement {
  const verdict = outcome(reports, p.majority);
  const violation = isViolation(verdict);
  const reporters = reports.filter(isViolation).length;
  let slashed = 0;
  let perReporter = 0;
  let toCustomer = 0;
  let burned = 0;
  if (violation && counted) {
    slashed = (collateralLeft * p.providerSlashBps) / BPS;
    if (slashed > 0) {
      toCustomer = (slashed * p.customerShareBps) / BPS;
      perReporter = (slashed * p.witnessShareBps) / BPS / reporters;
      burned += slashed - toCustomer - perReporter * reporters;
    }
  }
  let rewards = 0;
  const unit = p.rewardUnit;
  const payoffs = reports.map((r, i) => {
    const cap = stakes?.[i] ?? Number.POSITIVE_INFINITY;
    if (r === 'NoReveal') {
      const taken = Math.min(2 * unit, cap);
      burned += taken;
      return -taken;
    }
    if (isViolation(r)) {
      if (violation) {
        rewards += unit;
        return unit + perReporter;
      }
      const taken = Math.min(unit, cap);
      burned += taken;
      return -taken;
    }
    if (!violation && (r === 'Stale') === (verdict === 'Stale')) {
      rewards += unit;
      return unit;
    }
    return 0;
  });
  toCustomer += reports.length * unit - rewards;
  return { verdict, payoffs, slashed, perReporter, toCustomer, burned };
}

/**
 * Registry.penalizeWitness and Registry._syncEligibility: the penalty comes out of the active stake
 * (then the thawing stake, not modelled), reputation drops by `loss` (not below 0), and the witness
 * stays eligible only with stake ≥ minWitnessStake and reputation > 0.
 */
export function penalizeWitness(
  stake: number,
  reputation: number,
  amount: number,
  loss: number,
  minWitnessStake: number,
): { stake: number; reputation: number; slashed: number; eligible: boolean } {
  const slashed = Math.min(amount, stake);
  const rep = loss >= reputation ? 0 : reputation - loss;
  const left = stake - slashed;
  return { stake: left, reputation: rep, slashed, eligible: left >= minWitnessStake && rep !== 0 };
}

export interface EpochSettlement {
  /** The epoch's fee share paid to the provider. */
  readonly paid: number;
  /** Refunded to the customer. */
  readonly refund: number;
  /** The lease fails (Fraud or Unavailable, Market.onRoundSettled). */
  readonly fails: boolean;
  /** Market's Stale clock after the epoch (0: not in a Stale run). */
  readonly staleSince: number;
}

/**
 * Market._settleEpoch and the end of Market.onRoundSettled for a lease epoch `[startsAt, endsAt)` with
 * fee share `share`: Ok pays the share and ends a Stale run; Stale pays while the epoch starts within
 * staleGrace of the first Stale epoch of the run, else refunds; None (round cancelled) refunds; Fraud
 * or Unavailable pays pro rata up to the violation time clamped into the epoch, refunds the rest and
 * fails the lease.
 */
export function settleEpoch(
  verdict: Verdict,
  share: number,
  startsAt: number,
  endsAt: number,
  staleSince: number,
  staleGrace: number,
  violationAt = endsAt,
): EpochSettlement {
  if (verdict === 'Ok') return { paid: share, refund: 0, fails: false, staleSince: 0 };
  if (verdict === 'Stale') {
    const since = staleSince === 0 ? startsAt : staleSince;
    const within = startsAt < since + staleGrace;
    return { paid: within ? share : 0, refund: within ? 0 : share, fails: false, staleSince: since };
  }
  if (verdict === 'None') return { paid: 0, refund: share, fails: false, staleSince };
  const t = Math.min(Math.max(violationAt, startsAt), endsAt);
  const paid = (share * (t - startsAt)) / (endsAt - startsAt);
  return { paid, refund: share - paid, fails: true, staleSince };
}
