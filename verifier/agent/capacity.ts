import { randomInt } from 'node:crypto';
import { type ChallengeChannel, type ChallengeResult, runChallenge } from '../challenge.js';
import { serializeEvidence } from '../evidence.js';
import { type Evaluation, type EvaluationInput, type Evaluator, keepEvidence } from './evaluator.js';

/*
 * Capacity challenges over a round's epoch (docs/witness.md, "Capacity challenges"): a challenge as
 * soon as the agent knows it was drawn (`observe`), then the rest at uniformly random times in what
 * is left of the epoch, so the host cannot know when the next one comes; at the epoch's end
 * (`evaluate`) the results decide:
 * - one `wrong` product is Fraud (its evidence bundle, verifiable offline, is kept);
 * - otherwise at least two of three challenges without a timely commitment (`late`, refused, or no
 *   answer) is Unavailable (under capacity); a single late answer is only "capacity unverified";
 * - otherwise Ok.
 * Challenges run only inside the epoch: the executor serves the members of the current round, so a
 * challenge after the epoch ended would be refused through no fault of the provider. An evaluation
 * after the epoch's end judges what ran during it (none: Ok, "capacity not checked", in `detail`).
 * A refusal during the epoch counts as a miss: the enclave refuses by its rules only when the host keeps it from
 * seeing the round (its chain view comes through the host) or the witness broke the budget, which an
 * agent following its plan does not.
 */

/** An attested session to the lease's executor on the challenge path (the CLI wires the SDK). */
export type ChallengeOpener = (t: {
  readonly endpoint: string;
  readonly leaseId: bigint;
  readonly enclave: string;
  readonly signal: AbortSignal;
}) => Promise<{ readonly channel: ChallengeChannel; close(): Promise<void> }>;

export interface CapacityEvaluatorOptions {
  readonly open: ChallengeOpener;
  /** The witness wallet's private key (it signs the challenge requests). */
  readonly witnessKey: Uint8Array;
  /** Matrix size of each challenge. */
  readonly n: number;
  /** Challenges per round (default 3). */
  readonly perEpoch?: number;
  readonly evidenceDir?: string;
  /** Uniform in [0, 1) (default: node:crypto). */
  readonly random?: () => number;
  /** Runs each challenge alongside other checks, e.g. probes kept in flight (probes.ts, `during`). */
  readonly alongside?: <T>(input: EvaluationInput, work: Promise<T>) => Promise<T>;
}

/** Tries of a challenge the executor answers with CHALLENGE_BUSY. */
const BUSY_ATTEMPTS = 5;

interface Run {
  readonly results: ChallengeResult[];
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export function capacityEvaluator(
  o: CapacityEvaluatorOptions,
): Evaluator & { observe(input: EvaluationInput): void } {
  const perEpoch = o.perEpoch ?? 3;
  if (!Number.isInteger(perEpoch) || perEpoch < 1 || perEpoch > 100)
    throw new RangeError('perEpoch must be in 1..100');
  const random = o.random ?? (() => randomInt(2 ** 47) / 2 ** 47);
  const runs = new Map<string, Run>();

  async function once(input: EvaluationInput, signal: AbortSignal): Promise<ChallengeResult> {
    let s: Awaited<ReturnType<ChallengeOpener>>;
    try {
      s = await o.open({
        endpoint: input.executor.endpoint,
        leaseId: input.leaseId,
        enclave: input.executor.enclave,
        signal,
      });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      return {
        verdict: 'unreachable',
        reason: `no session: ${e instanceof Error ? e.message : String(e)}`,
        ...(typeof code === 'string' && { code }),
        n: o.n,
        claimedGflops: input.sla.capacityGflops,
        rttP95Ms: 0,
        deadlineMs: 0,
      };
    }
    try {
      // An executor computing another witness's challenge says so (sealed CHALLENGE_BUSY): ask again
      // after a random pause, a few times; a challenge that never got its turn is not a miss.
      for (let attempt = 1; ; attempt++) {
        const challenge = runChallenge(s.channel, {
          witnessKey: o.witnessKey,
          leaseId: input.leaseId,
          n: o.n,
          claimedGflops: input.sla.capacityGflops,
        });
        const r = await (o.alongside ? o.alongside(input, challenge) : challenge);
        if (r.code !== 'CHALLENGE_BUSY' || attempt >= BUSY_ATTEMPTS || signal.aborted) return r;
        await sleep(200 + random() * 800 * attempt, signal);
      }
    } finally {
      await s.close().catch(() => {});
    }
  }

  /** Runs `count` challenges: the first now, the others at random times before `untilMs` (wall clock). */
  async function schedule(
    input: EvaluationInput,
    out: ChallengeResult[],
    count: number,
    untilMs: number,
    signal: AbortSignal,
  ) {
    const times = [
      Date.now(),
      ...Array.from({ length: count - 1 }, () => Date.now() + random() * Math.max(0, untilMs - Date.now())),
    ].sort((a, b) => a - b);
    for (const at of times) {
      if (signal.aborted) return;
      if (at > Date.now()) await sleep(at - Date.now(), signal);
      if (signal.aborted) return;
      out.push(await once(input, signal));
    }
  }

  return {
    name: 'capacity',
    observe(input) {
      const key = input.roundId.toString();
      if (runs.has(key)) return;
      const stop = new AbortController();
      input.signal.addEventListener('abort', () => stop.abort(), { once: true });
      const results: ChallengeResult[] = [];
      // Leave the last tenth of the epoch free, so the last challenge ends before the evaluation.
      const untilMs = Date.now() + Math.max(0, Number(input.epochEnd - input.now)) * 900;
      runs.set(key, { results, stop, done: schedule(input, results, perEpoch, untilMs, stop.signal) });
    },
    async evaluate(input): Promise<Evaluation> {
      const key = input.roundId.toString();
      const run = runs.get(key);
      runs.delete(key);
      const results: ChallengeResult[] = [];
      if (run) {
        run.stop.abort();
        await run.done;
        results.push(...run.results);
      }
      if (results.length < perEpoch && input.now < input.epochEnd) {
        const more: ChallengeResult[] = [];
        await schedule(input, more, perEpoch - results.length, Date.now(), input.signal);
        results.push(...more);
      }
      const wrong = results.find((r) => r.verdict === 'wrong');
      const misses = results.filter(
        (r) => r.verdict !== 'pass' && r.verdict !== 'wrong' && r.code !== 'CHALLENGE_BUSY',
      );
      const record = {
        kind: 'defaas/witness/capacity/v1',
        roundId: input.roundId,
        leaseId: input.leaseId,
        epoch: input.epoch,
        witness: input.witness,
        claimedGflops: input.sla.capacityGflops,
        n: o.n,
        results: results.map(({ evidence: _e, commitment: _c, ...r }) => r),
      };
      // A fraud bundle is the evidence when there is one: self-contained, checkable with
      // `defaas evidence verify`; otherwise the record of the epoch's challenges.
      const kept = wrong?.evidence
        ? await keepEvidence(
            { text: serializeEvidence(wrong.evidence) },
            o.evidenceDir,
            `challenge-fraud-${input.roundId}.json`,
          )
        : await keepEvidence({ record }, o.evidenceDir, `capacity-${input.roundId}.json`);
      const summary =
        results.length === 0
          ? 'capacity not checked'
          : results.map((r) => (r.code ? `${r.verdict} (${r.code})` : r.verdict)).join(', ');

      if (wrong)
        return {
          ...kept,
          verdict: 'Fraud',
          violationTime: input.now,
          detail: `wrong product: ${wrong.reason}`,
        };
      if (misses.length >= 2 && misses.length * 3 >= results.length * 2)
        return {
          ...kept,
          verdict: 'Unavailable',
          violationTime: input.now,
          detail: `${misses.length} of ${results.length} challenges missed (${summary})`,
        };
      return {
        ...kept,
        verdict: 'Ok',
        detail: `${results.length} challenge${results.length === 1 ? '' : 's'}: ${summary}`,
      };
    },
  };
}
