/*
 * Judging a provider against its lease's SLA from probe observations (docs/witness.md, "Judging the
 * SLA"). A handful of probes cannot prove a 99.9 % availability promise broken, so each term is a
 * one-sided binomial test: the provider violates a term only when what was observed would happen with
 * probability below `alpha` if the provider met the term exactly. An honest provider is therefore
 * judged in violation of a term with probability at most `alpha` per epoch, whatever the sample size.
 * - Availability (availabilityBps): a probe is missed when it got no answer (failed or timed out);
 *   a provider at the promised level misses each probe with probability q = 1 − bps/10⁴.
 * - Latency (p95LatencyMs): a provider at the promised p95 answers above it with probability 0.05.
 * - Correctness: one answer that differs from the known answer is fraud; it needs no statistics.
 */

/**
 * `refused`: the enclave refused the probe for the witness's own authorisation (its grant spent,
 * expired, for another epoch): not the provider's miss, and left out of the judgement.
 */
export type ProbeOutcome = 'ok' | 'wrong' | 'failed' | 'unanswered' | 'refused';

export interface ProbeObservation {
  /** When the probe was sent (ms, the runner's clock). */
  readonly sentAt: number;
  readonly outcome: ProbeOutcome;
  /** Until the answer arrived; absent when none did. */
  readonly latencyMs?: number;
  /** Index of the known answer used. */
  readonly answer: number;
  /** What went wrong (an error code, the hash received). */
  readonly detail?: string;
}

export interface ProbeSla {
  /** Promised availability in basis points (0..10000). */
  readonly availabilityBps: number;
  /** Promised 95th-percentile latency. */
  readonly p95LatencyMs: number;
}

export interface SlaJudgement {
  readonly verdict: 'Ok' | 'Fraud' | 'Unavailable';
  /** Probes judged (sent, less those the enclave refused for the witness's own authorisation). */
  readonly probes: number;
  readonly refused: number;
  readonly wrong: number;
  readonly missed: number;
  /** P(at least `missed` misses | availability exactly as promised). */
  readonly availabilityP: number;
  /** Answers slower than p95LatencyMs. */
  readonly slow: number;
  /** P(at least `slow` slow answers | p95 exactly as promised). */
  readonly latencyP: number;
  /** Observed 95th percentile of the answered probes' latency (undefined when none answered). */
  readonly p95Ms: number | undefined;
  readonly why: string;
}

/** Per-term significance: two terms at 5·10⁻⁴ keep an honest provider's false verdict ≤ 10⁻³ per epoch. */
export const DEFAULT_ALPHA = 5e-4;

export function judgeSla(
  obs: readonly ProbeObservation[],
  sla: ProbeSla,
  alpha = DEFAULT_ALPHA,
): SlaJudgement {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError('alpha must be in (0, 1)');
  if (!Number.isInteger(sla.availabilityBps) || sla.availabilityBps < 0 || sla.availabilityBps > 10_000)
    throw new RangeError('availabilityBps must be an integer in 0..10000');
  if (!(sla.p95LatencyMs > 0)) throw new RangeError('p95LatencyMs must be positive');
  const answered = obs.filter((o) => o.outcome === 'ok' || o.outcome === 'wrong');
  const wrong = answered.filter((o) => o.outcome === 'wrong').length;
  const refused = obs.filter((o) => o.outcome === 'refused').length;
  const judged = obs.length - refused;
  const missed = judged - answered.length;
  const latencies = answered.map((o) => o.latencyMs ?? Number.POSITIVE_INFINITY).sort((x, y) => x - y);
  const slow = latencies.filter((l) => l > sla.p95LatencyMs).length;
  const availabilityP = binomialTail(judged, missed, 1 - sla.availabilityBps / 10_000);
  const latencyP = binomialTail(answered.length, slow, 0.05);
  const p95Ms = latencies.length === 0 ? undefined : latencies[Math.ceil(0.95 * latencies.length) - 1];
  const base = { probes: judged, refused, wrong, missed, availabilityP, slow, latencyP, p95Ms };
  if (wrong > 0)
    return {
      ...base,
      verdict: 'Fraud',
      why: `${wrong} of ${answered.length} answers differ from the known answers`,
    };
  if (availabilityP < alpha)
    return {
      ...base,
      verdict: 'Unavailable',
      why: `${missed} of ${judged} probes unanswered (p = ${availabilityP.toExponential(2)} at ${sla.availabilityBps} bps promised)`,
    };
  if (latencyP < alpha)
    return {
      ...base,
      verdict: 'Unavailable',
      why: `${slow} of ${answered.length} answers slower than ${sla.p95LatencyMs} ms (p = ${latencyP.toExponential(2)})`,
    };
  return {
    ...base,
    verdict: 'Ok',
    why: `${answered.length} of ${judged} probes answered correctly within the SLA${refused > 0 ? ` (${refused} refused for the witness's own grant, not judged)` : ''}`,
  };
}

/** P(X ≥ k) for X ~ Binomial(n, q), summed in log space (exact enough for n up to millions). */
export function binomialTail(n: number, k: number, q: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (q <= 0) return 0;
  if (q >= 1) return 1;
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  // log C(n, k) built up term by term from log C(n, 0) = 0.
  let logC = 0;
  for (let i = 0; i < k; i++) logC += Math.log(n - i) - Math.log(i + 1);
  let sum = 0;
  for (let i = k; i <= n; i++) {
    const term = Math.exp(logC + i * lq + (n - i) * l1q);
    sum += term;
    if (term < sum * 1e-17) break;
    logC += Math.log(n - i) - Math.log(i + 1);
  }
  return Math.min(1, sum);
}
