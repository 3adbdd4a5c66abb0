import type { SignedProbeGrant } from '../../protocol/probe-grant.js';
import type { KnownAnswers } from '../probes/known-answers.js';
import { type ProbeChannel, type ProbeClock, probeOnce, probeWhile, SYSTEM_CLOCK } from '../probes/runner.js';
import { judgeSla, type ProbeObservation } from '../probes/sla.js';
import {
  type Evaluation,
  type EvaluationInput,
  type Evaluator,
  evidenceDigest,
  keepEvidence,
} from './evaluator.js';

/*
 * Hidden probes over a round's epoch (docs/witness.md, "Hidden probes"): from the moment the agent
 * learns it was drawn (`observe`) until the epoch ends, known-answer calls go to the executor at
 * Poisson times through an attested session; at the epoch's end (`evaluate`) the observations are
 * judged against the lease's SLA (verifier/probes/sla.ts). An agent that learns of the round late, or
 * restarted, probes for what is left of the epoch; with fewer than `minProbes` observations at an
 * evaluation inside the epoch it sends the rest then. Probes go out only inside the epoch (the
 * customer's grant is for that epoch) and only with the customer's kit: without either, the lease
 * is reported not probed (Ok), never unavailable.
 */

/**
 * What a witness needs to probe a lease in an epoch, from the lease's customer: the known answers,
 * and the customer's grant that lets the executor serve (and the provider be paid for) the probes.
 */
export interface ProbeKit {
  readonly known: KnownAnswers;
  /** Absent for an executor that serves anyone (standalone). */
  readonly grant?: SignedProbeGrant;
}

/** An attested session to the lease's executor (the CLI wires the SDK's connect + a probe wallet). */
export type ProbeOpener = (t: {
  readonly endpoint: string;
  readonly leaseId: bigint;
  readonly enclave: string;
  readonly kit: ProbeKit;
  readonly signal: AbortSignal;
}) => Promise<{ readonly channel: ProbeChannel; close(): Promise<void> }>;

export interface ProbeEvaluatorOptions {
  readonly open: ProbeOpener;
  /** The kit the lease's customer gave this witness for an epoch; undefined: not probed then. */
  readonly kit: (leaseId: bigint, epoch: number) => ProbeKit | undefined;
  /** Mean time between probes. */
  readonly meanIntervalMs: number;
  readonly timeoutMs: number;
  /** Probes per round at most, and at least at evaluation. */
  readonly maxProbes: number;
  readonly minProbes: number;
  readonly evidenceDir?: string;
  readonly clock?: ProbeClock;
}

/** Probes kept in flight alongside one piece of other work (a challenge), at most. */
const DURING_PROBES = 9;

interface Run {
  readonly observations: ProbeObservation[];
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

export function probeEvaluator(o: ProbeEvaluatorOptions): Evaluator & {
  observe(input: EvaluationInput): void;
  during<T>(input: EvaluationInput, work: Promise<T>): Promise<T>;
} {
  if (!(o.minProbes >= 1 && o.minProbes <= o.maxProbes))
    throw new RangeError('need 1 ≤ minProbes ≤ maxProbes');
  const clock = o.clock ?? SYSTEM_CLOCK;
  const runs = new Map<string, Run>();
  /**
   * Probes sent (or set aside) per round: never more than the customer's grant allows (`maxCalls`),
   * since the executor refuses the calls beyond it and they would read as the provider's misses.
   */
  const spent = new Map<string, number>();
  const allowance = (key: string, kit: ProbeKit): number =>
    kit.grant === undefined
      ? Number.POSITIVE_INFINITY
      : Math.max(0, Number(kit.grant.grant.maxCalls) - (spent.get(key) ?? 0));
  const spend = (key: string, n: number) => spent.set(key, (spent.get(key) ?? 0) + n);
  /** Observations made alongside other work (`during`), by round, judged with the rest. */
  const alongside = new Map<string, ProbeObservation[]>();
  /** The kit, or why it could not be read: a customer's broken file is not the provider's fault. */
  const kitOf = (leaseId: bigint, epoch: number): { kit?: ProbeKit; error?: string } => {
    try {
      const kit = o.kit(leaseId, epoch);
      return kit ? { kit } : {};
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  };

  /** Sends probes until `stop`, the epoch's end or `limit`, into `obs`. */
  async function probe(
    input: EvaluationInput,
    kit: ProbeKit,
    obs: ProbeObservation[],
    stop: AbortSignal,
    limit: number,
    untilMs: number,
  ) {
    let session: Awaited<ReturnType<ProbeOpener>> | undefined;
    const pending: Promise<void>[] = [];
    let sent = 0;
    const key = input.roundId.toString();
    try {
      while (!stop.aborted && sent < limit && allowance(key, kit) > 0 && clock.now() < untilMs) {
        sent++;
        spend(key, 1);
        if (!session) {
          try {
            session = await o.open({
              endpoint: input.executor.endpoint,
              leaseId: input.leaseId,
              enclave: input.executor.enclave,
              kit,
              signal: stop,
            });
          } catch (e) {
            // No session is no answer: this probe is missed.
            const code = (e as { code?: unknown }).code;
            obs.push({
              sentAt: clock.now(),
              answer: -1,
              outcome: 'failed',
              detail: typeof code === 'string' ? code : String(e),
            });
          }
        }
        if (session) {
          const ch = session.channel;
          pending.push(probeOnce(ch, kit.known, o.timeoutMs, clock).then((x) => void obs.push(x)));
        }
        await clock.sleep(-Math.log(1 - clock.random()) * o.meanIntervalMs);
      }
      await Promise.all(pending);
    } finally {
      await session?.close().catch(() => {});
    }
  }

  function start(input: EvaluationInput, kit: ProbeKit): Run {
    const stop = new AbortController();
    input.signal.addEventListener('abort', () => stop.abort(), { once: true });
    const observations: ProbeObservation[] = [];
    const untilMs = clock.now() + Math.max(0, Number(input.epochEnd - input.now)) * 1000;
    const done = probe(input, kit, observations, stop.signal, o.maxProbes, untilMs);
    return { observations, stop, done };
  }

  return {
    name: 'probes',
    observe(input) {
      const key = input.roundId.toString();
      const { kit } = kitOf(input.leaseId, input.epoch);
      if (runs.has(key) || !kit) return;
      runs.set(key, start(input, kit));
    },
    /**
     * Keeps at least three probes in flight while `work` (a capacity challenge) runs, so a host that
     * holds customer calls back to win the challenge is seen by the probes; they count with the epoch's.
     */
    async during(input, work) {
      const { kit } = kitOf(input.leaseId, input.epoch);
      if (!kit || input.now >= input.epochEnd) return work;
      let s: Awaited<ReturnType<ProbeOpener>>;
      try {
        s = await o.open({
          endpoint: input.executor.endpoint,
          leaseId: input.leaseId,
          enclave: input.executor.enclave,
          kit,
          signal: input.signal,
        });
      } catch {
        // The work's own outcome says what an executor that cannot be reached means.
        return work;
      }
      const key = input.roundId.toString();
      // At most DURING_PROBES per piece of work, set aside from the grant's allowance first.
      const budget = Math.min(DURING_PROBES, allowance(key, kit));
      if (budget < 3) {
        await s.close().catch(() => {});
        return work;
      }
      spend(key, budget);
      try {
        const { result, observations } = await probeWhile(
          s.channel,
          kit.known,
          work,
          { inFlight: 3, timeoutMs: o.timeoutMs, maxProbes: budget },
          clock,
        );
        spend(key, observations.length - budget);
        alongside.set(key, [...(alongside.get(key) ?? []), ...observations]);
        if (result.status === 'rejected') throw result.reason;
        return result.value;
      } finally {
        await s.close().catch(() => {});
      }
    },
    async evaluate(input): Promise<Evaluation> {
      try {
        return await judge(input);
      } finally {
        spent.delete(input.roundId.toString());
      }
    },
  };

  async function judge(input: EvaluationInput): Promise<Evaluation> {
    const key = input.roundId.toString();
    const { kit, error } = kitOf(input.leaseId, input.epoch);
    const run = runs.get(key);
    // Without the customer's kit the lease is not probed this epoch: no observation, no verdict
    // against the provider (an executor would rightly refuse probes without a grant).
    if (!kit && !run && !alongside.has(key))
      return {
        verdict: 'Ok',
        evidenceHash: evidenceDigest({
          kind: 'defaas/witness/probes/v1',
          roundId: input.roundId,
          probed: false,
        }),
        detail: `not probed (${error ?? 'no known answers or grant from the customer for this epoch'})`,
      };
    runs.delete(key);
    const obs: ProbeObservation[] = [...(alongside.get(key) ?? [])];
    alongside.delete(key);
    if (run) {
      run.stop.abort();
      await run.done;
      obs.push(...run.observations);
    }
    if (obs.length < o.minProbes) {
      const stop = new AbortController();
      input.signal.addEventListener('abort', () => stop.abort(), { once: true });
      const more: ProbeObservation[] = [];
      if (kit && input.now < input.epochEnd)
        await probe(input, kit, more, stop.signal, o.minProbes - obs.length, Number.POSITIVE_INFINITY);
      obs.push(...more);
    }
    if (obs.length === 0)
      return {
        verdict: 'Ok',
        evidenceHash: evidenceDigest({
          kind: 'defaas/witness/probes/v1',
          roundId: input.roundId,
          probed: false,
        }),
        detail: 'not probed (the epoch ended before a probe was sent)',
      };
    const j = judgeSla(obs, {
      availabilityBps: input.sla.availabilityBps,
      p95LatencyMs: input.sla.p95LatencyMs,
    });
    const record = {
      kind: 'defaas/witness/probes/v1',
      roundId: input.roundId,
      leaseId: input.leaseId,
      epoch: input.epoch,
      witness: input.witness,
      functionId: kit?.known.functionId,
      sla: { availabilityBps: input.sla.availabilityBps, p95LatencyMs: input.sla.p95LatencyMs },
      judgement: j,
      observations: obs,
    };
    return {
      verdict: j.verdict,
      ...(await keepEvidence({ record }, o.evidenceDir, `probes-${input.roundId}.json`)),
      ...(j.verdict !== 'Ok' && { violationTime: firstBad(obs, input.now, clock.now()) }),
      detail: j.why,
    };
  }
}

/** Chain time of the first probe that went wrong: the evaluation's chain time less the wall time since. */
function firstBad(obs: readonly ProbeObservation[], chainNow: bigint, wallNow: number): bigint {
  const bad = obs.filter((x) => x.outcome !== 'ok').map((x) => x.sentAt);
  if (bad.length === 0) return chainNow;
  const ago = BigInt(Math.max(0, Math.floor((wallNow - Math.min(...bad)) / 1000)));
  return chainNow > ago ? chainNow - ago : 0n;
}
