import { randomInt } from 'node:crypto';
import { VerifierError } from '../errors.js';
import type { KnownAnswers } from './known-answers.js';
import type { ProbeObservation } from './sla.js';

/*
 * Sending hidden probes (docs/witness.md, "Hidden probes"): ordinary invocations of the customer's
 * function with known-answer inputs, through a session like any customer's, at Poisson times (so
 * their timing carries no pattern), each compared with the answer the customer recorded.
 */

/** One invocation through an attested session; the verifier declares it, cli/ and tests wire the SDK. */
export interface ProbeChannel {
  /**
   * Invokes the lease's function. Resolves with the output hash of the verified call record (the
   * hash of the output received, or of the error the enclave reported when the function failed);
   * rejects when the call got no answer from the enclave.
   */
  invoke(input: Uint8Array): Promise<{ readonly outputHash: string }>;
}

export interface ProbeClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Uniform in [0, 1). */
  random(): number;
}

export const SYSTEM_CLOCK: ProbeClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  random: () => randomInt(2 ** 47) / 2 ** 47,
};

export interface ProbePlan {
  /** Probes to send (1..100,000). */
  readonly count: number;
  /** Mean time between probes (Poisson process). */
  readonly meanIntervalMs: number;
  /** A probe unanswered for this long is `unanswered`. */
  readonly timeoutMs: number;
}

const MAX_PROBES = 100_000;

/**
 * Sealed refusals that concern the witness's own authorisation, not the provider's service: its
 * grant spent (VOUCHER_OVER_BUDGET), expired, for another epoch, lease or wallet, or over the
 * lease's quota of granted witnesses.
 */
const WITNESS_REFUSALS: ReadonlySet<string> = new Set([
  'VOUCHER_OVER_BUDGET',
  'PROBE_GRANT_EXPIRED',
  'PROBE_GRANT_WRONG_EPOCH',
  'PROBE_GRANT_INVALID',
  'PROBE_GRANT_MISMATCH',
  'PROBE_GRANT_OVER_BUDGET',
  'PROBE_GRANT_LIMIT',
  'NOT_LEASE_CUSTOMER',
]);

function checkPlan(p: ProbePlan): void {
  if (!Number.isInteger(p.count) || p.count < 1 || p.count > MAX_PROBES)
    throw new VerifierError('PROBE_PLAN_INVALID', `probe count must be an integer in 1..${MAX_PROBES}`);
  if (!(p.meanIntervalMs >= 0) || !(p.timeoutMs > 0))
    throw new VerifierError('PROBE_PLAN_INVALID', 'meanIntervalMs must be ≥ 0 and timeoutMs > 0');
}

/** Sends `plan.count` probes at Poisson times, without waiting for earlier answers; resolves when all are judged. */
export async function runProbes(
  channel: ProbeChannel,
  known: KnownAnswers,
  plan: ProbePlan,
  clock: ProbeClock = SYSTEM_CLOCK,
): Promise<ProbeObservation[]> {
  checkPlan(plan);
  const pending: Promise<ProbeObservation>[] = [];
  for (let i = 0; i < plan.count; i++) {
    if (i > 0) await clock.sleep(-Math.log(1 - clock.random()) * plan.meanIntervalMs);
    pending.push(probeOnce(channel, known, plan.timeoutMs, clock));
  }
  return Promise.all(pending);
}

/**
 * Keeps at least `inFlight` probes outstanding for as long as `work` runs (e.g. a capacity
 * challenge), so a host that starves calls to pass the challenge is caught by its probes; at most
 * `maxProbes` are sent. Resolves with `work`'s outcome and the observations.
 */
export async function probeWhile<T>(
  channel: ProbeChannel,
  known: KnownAnswers,
  work: Promise<T>,
  o: { readonly inFlight: number; readonly timeoutMs: number; readonly maxProbes: number },
  clock: ProbeClock = SYSTEM_CLOCK,
): Promise<{ result: PromiseSettledResult<T>; observations: ProbeObservation[] }> {
  if (!Number.isInteger(o.inFlight) || o.inFlight < 1 || o.inFlight > o.maxProbes || o.maxProbes > MAX_PROBES)
    throw new VerifierError('PROBE_PLAN_INVALID', `inFlight must be in 1..maxProbes (≤ ${MAX_PROBES})`);
  let done = false;
  const settled = work.then(
    (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
    (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
  );
  void settled.then(() => {
    done = true;
  });
  const all: Promise<ProbeObservation>[] = [];
  const lane = async (): Promise<void> => {
    while (!done && all.length < o.maxProbes) {
      const p = probeOnce(channel, known, o.timeoutMs, clock);
      all.push(p);
      await p;
    }
  };
  const lanes = Array.from({ length: o.inFlight }, lane);
  const result = await settled;
  await Promise.all(lanes);
  return { result, observations: await Promise.all(all) };
}

/** One probe: a known answer drawn at random, sent, timed and compared. Never rejects. */
export async function probeOnce(
  channel: ProbeChannel,
  known: KnownAnswers,
  timeoutMs: number,
  clock: ProbeClock = SYSTEM_CLOCK,
): Promise<ProbeObservation> {
  const answer = Math.min(known.answers.length - 1, Math.floor(clock.random() * known.answers.length));
  const expected = known.answers[answer]!;
  const sentAt = clock.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const got = await Promise.race([channel.invoke(expected.input), timeout]);
    if (got === 'timeout')
      return { sentAt, answer, outcome: 'unanswered', detail: `no answer in ${timeoutMs} ms` };
    const latencyMs = clock.now() - sentAt;
    return got.outputHash === expected.outputHash
      ? { sentAt, answer, outcome: 'ok', latencyMs }
      : { sentAt, answer, outcome: 'wrong', latencyMs, detail: got.outputHash };
  } catch (e) {
    const { code, origin } = e as { code?: unknown; origin?: unknown };
    const detail = typeof code === 'string' ? code : String(e);
    // The enclave's own word (sealed) that the witness's authorisation does not cover the call.
    if (origin === 'sealed' && typeof code === 'string' && WITNESS_REFUSALS.has(code))
      return { sentAt, answer, outcome: 'refused', detail };
    return { sentAt, answer, outcome: 'failed', detail };
  } finally {
    clearTimeout(timer);
  }
}
