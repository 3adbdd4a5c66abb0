import { judgeSla, type ProbeObservation, type ProbeSla } from '../probes/sla.js';
import type { Prng } from './prng.js';
import { type Lognormal, p95 } from './stats.js';

/*
 * What an honest witness observes of a provider during one epoch, and the verdict it draws from it.
 * - Capacity: C challenges at uniform times; each asks for an n×n product (2n³ operations). The
 *   deadline is D = RTT_p95 + margin · 2n³ / R_claimed + slack; the answer arrives after one RTT, the
 *   provider's compute time 2n³ / R (R its achieved rate for this challenge) and the session's cost of
 *   carrying the product back. `missesToFlag` missed deadlines in the epoch (2 of 3 by default) are a
 *   capacity violation, reported Unavailable with the second miss as violation time.
 * - Probes: known-answer calls at Poisson times (at least `minProbes`, as verifier/agent/probes.ts
 *   tops up at evaluation), judged by verifier/probes/sla.ts `judgeSla` against the lease's
 *   availabilityBps and p95LatencyMs.
 * The verdict is the more severe of the two (verifier/agent/evaluator.ts `allOf`: Fraud > Unavailable
 * > Ok).
 */

export type ProviderKind = 'honest' | 'non-serving' | 'under-provisioned' | 'intermittent';

/** One provider over one lease. */
export interface Provider {
  readonly kind: ProviderKind;
  /** The capacity target: the confirmed bid's claimed GFLOP/s (Market.confirmLease). */
  readonly claimedGflops: number;
  /** What the provider actually has; per challenge it achieves this times a lognormal jitter. */
  readonly trueGflops: number;
  /** Chance that one call fails outside any outage. */
  readonly failProb: number;
  /** Intermittent: chance that an epoch holds an outage, and its mean length (exponential). */
  readonly outageProbPerEpoch: number;
  readonly outageMeanS: number;
}

export interface MeasurementModel {
  readonly epochS: number;
  readonly challenges: number;
  readonly missesToFlag: number;
  readonly challengeN: number;
  /** Deadline margin on the claimed compute time (1.5) and fixed slack (50 ms). */
  readonly margin: number;
  readonly slackMs: number;
  /** Round-trip time witness ↔ provider. */
  readonly rtt: Lognormal;
  /** The session's cost of returning the product (hashing, sealing, copies, transfer), per challenge. */
  readonly challengeOverhead: Lognormal;
  /** Fixed transfer time of the product over the network. */
  readonly challengeTransferMs: number;
  /** Sigma of the achieved rate's lognormal jitter around trueGflops. */
  readonly rateSigma: number;
  /** Mean probes per epoch (Poisson) and the minimum the agent tops up to. */
  readonly probesPerEpoch: number;
  readonly minProbes: number;
  /** A probe's latency beyond the RTT: session call cost and the function's compute time. */
  readonly probeCall: Lognormal;
  readonly probeCompute: Lognormal;
  readonly sla: ProbeSla;
  readonly alpha: number;
}

/** The epoch as it happened at the provider, shared by every witness watching it. */
export interface EpochReality {
  /** Outage intervals in seconds from the epoch's start. */
  readonly outages: readonly (readonly [number, number])[];
}

export function epochReality(rng: Prng, provider: Provider, m: MeasurementModel): EpochReality {
  if (provider.kind !== 'intermittent' || !rng.bernoulli(provider.outageProbPerEpoch)) return { outages: [] };
  const start = rng.uniform(0, m.epochS);
  const end = Math.min(m.epochS, start + rng.exponential(provider.outageMeanS));
  return { outages: [[start, end]] };
}

const down = (p: Provider, r: EpochReality, t: number) =>
  p.kind === 'non-serving' || r.outages.some(([a, b]) => t >= a && t < b);

export interface Observation {
  readonly verdict: 'Ok' | 'Fraud' | 'Unavailable';
  /** Seconds from the epoch's start of the first violation seen (the epoch's end for Ok). */
  readonly violationAt: number;
  readonly capacityMisses: number;
  readonly probes: number;
  readonly probeVerdict: 'Ok' | 'Fraud' | 'Unavailable';
}

/** The deadline of one challenge (ms). */
export function challengeDeadlineMs(m: MeasurementModel, claimedGflops: number): number {
  const ops = 2 * m.challengeN ** 3;
  return p95(m.rtt) + (m.margin * ops) / (claimedGflops * 1e6) + m.slackMs;
}

/** The capacity challenges of one epoch: how many missed, and when the flagging miss happened. */
export function observeCapacity(
  rng: Prng,
  provider: Provider,
  reality: EpochReality,
  m: MeasurementModel,
): { misses: number; flaggedAt: number } {
  const deadline = challengeDeadlineMs(m, provider.claimedGflops);
  const ops = 2 * m.challengeN ** 3;
  const times = Array.from({ length: m.challenges }, () => rng.uniform(0, m.epochS)).sort((x, y) => x - y);
  let misses = 0;
  let flaggedAt = m.epochS;
  for (const t of times) {
    let missed: boolean;
    if (down(provider, reality, t) || rng.bernoulli(provider.failProb)) missed = true;
    else {
      const rate = provider.trueGflops * Math.exp(m.rateSigma * rng.normal());
      const response =
        rng.lognormal(m.rtt.medianMs, m.rtt.sigma) +
        ops / (rate * 1e6) +
        rng.lognormal(m.challengeOverhead.medianMs, m.challengeOverhead.sigma) +
        m.challengeTransferMs;
      missed = response > deadline;
    }
    if (missed) {
      misses++;
      if (misses === m.missesToFlag) flaggedAt = t;
    }
  }
  return { misses, flaggedAt };
}

/** The hidden probes of one epoch. */
export function observeProbes(
  rng: Prng,
  provider: Provider,
  reality: EpochReality,
  m: MeasurementModel,
): ProbeObservation[] {
  const count = Math.max(m.minProbes, rng.poisson(m.probesPerEpoch));
  const slowdown = provider.claimedGflops / provider.trueGflops;
  const obs: ProbeObservation[] = [];
  for (let i = 0; i < count; i++) {
    const t = rng.uniform(0, m.epochS);
    if (down(provider, reality, t) || rng.bernoulli(provider.failProb)) {
      obs.push({ sentAt: t * 1000, outcome: 'unanswered', answer: i });
      continue;
    }
    const latencyMs =
      rng.lognormal(m.rtt.medianMs, m.rtt.sigma) +
      rng.lognormal(m.probeCall.medianMs, m.probeCall.sigma) +
      slowdown * rng.lognormal(m.probeCompute.medianMs, m.probeCompute.sigma);
    obs.push({ sentAt: t * 1000, outcome: 'ok', latencyMs, answer: i });
  }
  return obs.sort((a, b) => a.sentAt - b.sentAt);
}

/** An honest witness's verdict on one epoch: the capacity rule and judgeSla, the more severe wins. */
export function observeEpoch(
  rng: Prng,
  provider: Provider,
  reality: EpochReality,
  m: MeasurementModel,
): Observation {
  const cap = observeCapacity(rng, provider, reality, m);
  const obs = observeProbes(rng, provider, reality, m);
  const judged = judgeSla(obs, m.sla, m.alpha);
  const capacityViolated = cap.misses >= m.missesToFlag;
  let violationAt = m.epochS;
  if (capacityViolated) violationAt = cap.flaggedAt;
  if (judged.verdict !== 'Ok') {
    const first = obs.find((o) => o.outcome !== 'ok' || (o.latencyMs ?? 0) > m.sla.p95LatencyMs);
    if (first) violationAt = Math.min(violationAt, first.sentAt / 1000);
  }
  const verdict = judged.verdict === 'Fraud' ? 'Fraud' : capacityViolated ? 'Unavailable' : judged.verdict;
  return {
    verdict,
    violationAt,
    capacityMisses: cap.misses,
    probes: obs.length,
    probeVerdict: judged.verdict,
  };
}
