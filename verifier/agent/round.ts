import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hexlify } from 'ethers';
import type { Logger } from 'pino';
import { verdictCommitment, WitnessPoolPhase, WitnessPoolVerdict } from '../../contracts/bindings/index.js';
import { NO_CLAIMS, postLogSubmission } from '../../protocol/log-submission.js';
import type { AgentChain } from './chain.js';
import { isAgentError } from './errors.js';
import { type EvaluationInput, type Evaluator, evaluateSafely } from './evaluator.js';
import type { Failure, RoundRecord, StateStore, Verdict } from './state-store.js';
import type { TxSender } from './tx-sender.js';

/*
 * One round's lifecycle for this witness, as a step function over its persisted record and the
 * pool's views (so a restart resumes where the chain and the disk say it is):
 *
 *   drawn ──(epoch over: evaluate, seal + fsync)──► sealed ──(commit mined)──► committed
 *     ──(reveal window: reveal)──► settling ──(finalize, by us or anyone)──► finalized
 *
 * A window that passes before its step becomes `missed` (recorded as a failure, WINDOW_MISSED) and
 * the round goes to `settling`, so its outcome and this witness's penalty are recorded too. The
 * verdict and salt are on disk before the commitment is sent: a crash after the commit still
 * reveals. Every failed transaction is recorded in the round (status shows it) and the step is
 * tried again on a later tick while its window is open.
 */

export interface RoundOptions {
  /** Evaluate this many seconds before the epoch ends (default 0: at its end). */
  readonly evaluateLeadSeconds?: number;
  /** Seal the verdict at the latest this many seconds before the commit deadline (default 30). */
  readonly commitMarginSeconds?: number;
  /**
   * An attestation log to record each revealed verdict in (docs/log.md): the evidence file whose
   * hash was revealed, as a `verdict-revealed` submission. A refusal is logged, never retried into
   * the round's transactions.
   */
  readonly logUrl?: string;
}

export interface RoundContext {
  readonly ch: AgentChain;
  readonly store: StateStore;
  readonly sender: TxSender;
  readonly evaluator: Evaluator;
  readonly log: Logger;
  readonly o: RoundOptions;
  /** True once the agent is stopped or killed: no further side effect starts. */
  halted(): boolean;
}

const VERDICT_CODE: Readonly<Record<Verdict, WitnessPoolVerdict>> = {
  Ok: WitnessPoolVerdict.Ok,
  Fraud: WitnessPoolVerdict.Fraud,
  Unavailable: WitnessPoolVerdict.Unavailable,
  Stale: WitnessPoolVerdict.Stale,
};
const VERDICT_NAME = ['None', 'Ok', 'Fraud', 'Unavailable', 'Stale'] as const;

/** Appends a failure; the same failure as the last one only bumps its count. */
export function recordFailure(list: Failure[], f: Omit<Failure, 'at'>): void {
  const last = list[list.length - 1];
  if (
    last &&
    last.step === f.step &&
    last.code === f.code &&
    last.error === f.error &&
    last.message === f.message
  ) {
    (last as { repeats?: number }).repeats = ((last as { repeats?: number }).repeats ?? 1) + 1;
    return;
  }
  list.push({ at: new Date().toISOString(), ...f });
}

function failureOf(step: string, e: unknown): Omit<Failure, 'at'> {
  if (isAgentError(e)) {
    const error = e.info.error as string | undefined;
    const args = e.info.args as string[] | undefined;
    return { step, code: e.code, message: e.message, ...(error && { error }), ...(args && { args }) };
  }
  return { step, code: 'ERROR', message: e instanceof Error ? e.message : String(e) };
}

const revertName = (e: unknown) => (isAgentError(e, 'TX_REVERTED') ? (e.info.error as string) : undefined);

export class RoundDriver {
  /** Rounds whose evaluator was told to start watching (`Evaluator.observe`), in this process. */
  private readonly observed = new Set<string>();
  /** Aborted when the agent halts: ends what `observe` started. */
  private readonly watching = new AbortController();

  constructor(private readonly x: RoundContext) {}

  /** Ends the epoch-long checks `observe` started (the agent is stopping). */
  halt(): void {
    this.watching.abort();
  }

  /** Moves the round on as far as `now` (chain seconds) allows. */
  async step(rec: RoundRecord, now: bigint): Promise<void> {
    if (rec.phase === 'drawn') await this.observe(rec, now);
    if (rec.phase === 'drawn') await this.evaluateAndSeal(rec, now);
    if (this.x.halted()) return;
    if (rec.phase === 'sealed') await this.commit(rec);
    if (this.x.halted()) return;
    if (rec.phase === 'committed') await this.reveal(rec);
    if (this.x.halted()) return;
    if (rec.phase === 'settling') await this.settle(rec);
  }

  private async save(rec: RoundRecord): Promise<void> {
    if (this.x.halted()) return;
    await this.x.store.saveRound(rec);
  }

  private async missed(rec: RoundRecord, window: 'commit' | 'reveal', deadline: number): Promise<void> {
    rec.missed = window;
    rec.phase = 'settling';
    recordFailure(rec.failures, {
      step: window,
      code: 'WINDOW_MISSED',
      message: `the ${window} window closed at ${deadline} before this witness's ${window} was mined`,
    });
    this.x.log.error({ roundId: rec.roundId, window, deadline }, `${window} window missed`);
    await this.save(rec);
  }

  /** Lets the evaluator start watching a round's epoch, once per round in this process. */
  private async observe(rec: RoundRecord, now: bigint): Promise<void> {
    const observe = this.x.evaluator.observe;
    if (!observe || this.observed.has(rec.roundId) || now >= BigInt(rec.epochEnd)) return;
    this.observed.add(rec.roundId);
    try {
      observe.call(this.x.evaluator, { ...(await this.input(rec, now)), signal: this.watching.signal });
    } catch (e) {
      this.x.log.warn({ roundId: rec.roundId, err: e }, 'the evaluator could not start watching the epoch');
    }
  }

  private async evaluateAndSeal(rec: RoundRecord, now: bigint): Promise<void> {
    const margin = BigInt(this.x.o.commitMarginSeconds ?? 30);
    if (now >= BigInt(rec.commitDeadline)) return this.missed(rec, 'commit', rec.commitDeadline);
    if (now < BigInt(rec.epochEnd) - BigInt(this.x.o.evaluateLeadSeconds ?? 0)) return;
    const { ch, log } = this.x;
    const leaseId = BigInt(rec.leaseId);
    const input = await this.input(rec, now);
    // The evaluation must end in time to seal and commit: abort it `margin` before the deadline.
    const budgetMs = Math.max(1_000, Number(BigInt(rec.commitDeadline) - margin - now) * 1000);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('the commit window is closing')), budgetMs);
    const t0 = Date.now();
    log.info({ roundId: rec.roundId, leaseId: rec.leaseId, evaluator: this.x.evaluator.name }, 'evaluating');
    let e: Awaited<ReturnType<typeof evaluateSafely>>;
    try {
      e = await evaluateSafely(this.x.evaluator, { ...input, signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
    if (this.x.halted()) return;
    const violation = e.verdict === 'Fraud' || e.verdict === 'Unavailable';
    const violationTime = violation ? (e.violationTime ?? now) : 0n;
    const evidenceHash = hexlify(e.evidenceHash);
    const salt = hexlify(randomBytes(32));
    const commitment = verdictCommitment(
      ch.chainId,
      await ch.pool.getAddress(),
      leaseId,
      BigInt(rec.roundId),
      ch.witness,
      VERDICT_CODE[e.verdict],
      violationTime,
      evidenceHash,
      salt,
    );
    rec.evaluation = {
      verdict: e.verdict,
      evidenceHash,
      ...(e.evidencePath !== undefined && { evidencePath: e.evidencePath }),
      violationTime: violationTime.toString(),
      ...(e.evaluatorError !== undefined && { evaluatorError: e.evaluatorError }),
      ...(e.checks !== undefined && { checks: e.checks }),
      at: new Date().toISOString(),
      ms: Date.now() - t0,
    };
    if (e.evaluatorError !== undefined)
      recordFailure(rec.failures, { step: 'evaluate', code: 'EVALUATOR_ERROR', message: e.evaluatorError });
    rec.sealed = {
      verdict: e.verdict,
      violationTime: violationTime.toString(),
      evidenceHash,
      salt,
      commitment,
    };
    rec.phase = 'sealed';
    // Durable before the commitment leaves: without the salt the reveal is impossible.
    await this.save(rec);
    log.info(
      { roundId: rec.roundId, verdict: e.verdict, detail: e.detail, evidenceHash, ms: rec.evaluation.ms },
      'verdict sealed',
    );
  }

  private async input(rec: RoundRecord, now: bigint): Promise<Omit<EvaluationInput, 'signal'>> {
    const { ch } = this.x;
    const leaseId = BigInt(rec.leaseId);
    const [order, lease, [epochStart, epochEnd]] = await Promise.all([
      ch.market.order(leaseId),
      ch.settlement.lease(leaseId),
      ch.market.epochWindow(leaseId, rec.epoch),
    ]);
    const ex = await ch.registry.executor(lease.executorId);
    return {
      leaseId,
      epoch: rec.epoch,
      roundId: BigInt(rec.roundId),
      witness: ch.witness,
      sla: {
        availabilityBps: Number(order.availabilityBps),
        p95LatencyMs: Number(order.p95LatencyMs),
        epochLength: order.epochLength,
        capacityGflops: Number(order.capacityGflops),
        committeeSize: Number(order.committeeSize),
        majority: Number(order.majority),
      },
      executor: {
        executorId: lease.executorId,
        endpoint: ex.endpoint,
        enclave: lease.enclave,
        evidenceHash: ex.evidenceHash,
        teeType: Number(ex.teeType),
        provider: ex.provider,
      },
      epochStart,
      epochEnd,
      commitDeadline: BigInt(rec.commitDeadline),
      revealDeadline: BigInt(rec.revealDeadline),
      now,
    };
  }

  private async onChainCommitment(rec: RoundRecord): Promise<string> {
    return this.x.ch.pool.commitments(BigInt(rec.roundId), this.x.ch.witness);
  }

  private async commit(rec: RoundRecord): Promise<void> {
    const { ch, sender, log } = this.x;
    const sealed = rec.sealed!;
    const roundId = BigInt(rec.roundId);
    const landed = async () => (await this.onChainCommitment(rec)) === sealed.commitment;
    if (await landed()) {
      rec.phase = 'committed';
      return this.save(rec);
    }
    const now = await nowOf(this.x);
    if (now >= BigInt(rec.commitDeadline)) return this.missed(rec, 'commit', rec.commitDeadline);
    try {
      const sent = await sender.send(
        'WitnessPool.commitVerdict',
        () => ch.pool.commitVerdict(roundId, sealed.commitment),
        landed,
      );
      if (sent !== 'already-done') rec.commitTx = sent.hash;
      rec.phase = 'committed';
      log.info({ roundId: rec.roundId, tx: rec.commitTx }, 'verdict committed');
      await this.save(rec);
    } catch (e) {
      recordFailure(rec.failures, failureOf('commit', e));
      log.error({ roundId: rec.roundId, err: e }, 'commit failed');
      if (revertName(e) === 'WitnessPoolCommitClosed') return this.missed(rec, 'commit', rec.commitDeadline);
      await this.save(rec);
    }
  }

  private async reveal(rec: RoundRecord): Promise<void> {
    const { ch, sender, log } = this.x;
    const now = await nowOf(this.x);
    if (now < BigInt(rec.commitDeadline)) return;
    if (now >= BigInt(rec.revealDeadline)) return this.missed(rec, 'reveal', rec.revealDeadline);
    const s = rec.sealed!;
    const roundId = BigInt(rec.roundId);
    // After its reveal a member's slot no longer holds its commitment (docs/contracts.md).
    const revealed = async () => (await this.onChainCommitment(rec)) !== s.commitment;
    try {
      const sent = await sender.send(
        'WitnessPool.revealVerdict',
        () =>
          ch.pool.revealVerdict(
            roundId,
            VERDICT_CODE[s.verdict],
            BigInt(s.violationTime),
            s.evidenceHash,
            s.salt,
          ),
        revealed,
      );
      if (sent !== 'already-done') rec.revealTx = sent.hash;
      rec.phase = 'settling';
      log.info({ roundId: rec.roundId, verdict: s.verdict, tx: rec.revealTx }, 'verdict revealed');
      await this.save(rec);
      await this.logReveal(rec);
    } catch (e) {
      const name = revertName(e);
      if (name === 'WitnessPoolAlreadyRevealed') {
        rec.phase = 'settling';
        return this.save(rec);
      }
      recordFailure(rec.failures, failureOf('reveal', e));
      log.error({ roundId: rec.roundId, err: e }, 'reveal failed');
      if (name === 'WitnessPoolRevealClosed') return this.missed(rec, 'reveal', rec.revealDeadline);
      if (name === 'WitnessPoolCommitmentMismatch' || name === 'WitnessPoolNotMember') rec.phase = 'settling';
      await this.save(rec);
    }
  }

  /** Submits the revealed verdict and its evidence file to the attestation log, when there is one. */
  private async logReveal(rec: RoundRecord): Promise<void> {
    const url = this.x.o.logUrl;
    const path = rec.evaluation?.evidencePath;
    if (url === undefined || path === undefined || rec.sealed === undefined) return;
    const { log, ch } = this.x;
    let evidence: Uint8Array;
    try {
      evidence = new Uint8Array(await readFile(path));
    } catch (e) {
      log.warn({ roundId: rec.roundId, path, err: e }, 'evidence file unreadable: verdict not logged');
      return;
    }
    const a = await postLogSubmission(url, {
      kind: 'verdict-revealed',
      evidence,
      ...NO_CLAIMS,
      chain: { id: Number(ch.chainId), block: await ch.provider.getBlockNumber() },
      leaseId: rec.leaseId,
      roundId: rec.roundId,
      verdict: rec.sealed.verdict,
    });
    if (a.ok) log.info({ roundId: rec.roundId, index: a.index }, 'verdict logged');
    else log.warn({ roundId: rec.roundId, code: a.code, message: a.message }, 'verdict not logged');
  }

  /** Finalizes once the reveal window is over (or everyone revealed) and records the outcome. */
  private async settle(rec: RoundRecord): Promise<void> {
    const { ch, sender, log } = this.x;
    const roundId = BigInt(rec.roundId);
    const r = await ch.pool.round(roundId);
    if (r.phase === WitnessPoolPhase.Drawn) {
      const now = await nowOf(this.x);
      if (now < BigInt(rec.revealDeadline) && r.revealedCount < r.size) return;
      try {
        const sent = await sender.send(
          'WitnessPool.finalize',
          () => ch.pool.finalize(roundId),
          async () => {
            return (await ch.pool.round(roundId)).phase !== WitnessPoolPhase.Drawn;
          },
        );
        if (sent !== 'already-done') rec.finalizeTx = sent.hash;
      } catch (e) {
        const name = revertName(e);
        // Someone else finalized first: the outcome is read below.
        if (name !== 'WitnessPoolWrongPhase' && name !== 'WitnessPoolUnknownRound') {
          recordFailure(rec.failures, failureOf('finalize', e));
          log.warn({ roundId: rec.roundId, err: e }, 'finalize failed; retrying on a later tick');
          if (name === 'MarketWrongEpoch') await this.finalizeOlder(rec, e);
          return this.save(rec);
        }
      }
    }
    await this.recordOutcome(rec);
  }

  /** The market settles a lease's rounds in order: finalize the older one it waits for, if it can be. */
  private async finalizeOlder(rec: RoundRecord, e: unknown): Promise<void> {
    const { ch, sender, log } = this.x;
    const args = isAgentError(e) ? (e.info.args as string[] | undefined) : undefined;
    const expected = args?.[2];
    if (expected === undefined) return;
    const older = await ch.pool.roundOf(BigInt(rec.leaseId), BigInt(expected));
    if (older === 0n) return;
    try {
      await sender.send('WitnessPool.finalize (older round)', () => ch.pool.finalize(older));
      log.info({ roundId: older.toString() }, 'finalized the older round of the lease');
    } catch (err) {
      log.debug({ roundId: older.toString(), err }, 'the older round cannot be finalized yet');
    }
  }

  private async recordOutcome(rec: RoundRecord): Promise<void> {
    const { ch, log } = this.x;
    const roundId = BigInt(rec.roundId);
    const pool = ch.pool;
    const finalized = await pool.queryFilter(pool.filters.RoundFinalized!(roundId), rec.drawnBlock);
    const ev = finalized.find((l) => 'args' in l);
    let verdict: number | undefined = ev && 'args' in ev ? Number(ev.args.verdict) : undefined;
    if (verdict === undefined) {
      const r = await pool.round(roundId);
      const ours =
        r.phase !== WitnessPoolPhase.None &&
        r.leaseId === BigInt(rec.leaseId) &&
        Number(r.epoch) === rec.epoch;
      if (ours && r.phase === WitnessPoolPhase.Finalized) verdict = Number(r.verdict);
      else if (ours)
        return; // not finalized yet
      else {
        rec.phase = 'lost';
        recordFailure(rec.failures, {
          step: 'finalize',
          code: 'ROUND_LOST',
          message: 'the pool no longer holds this round and no RoundFinalized event was found',
        });
        log.error({ roundId: rec.roundId }, 'round lost');
        return this.save(rec);
      }
    }
    const paidLogs = await pool.queryFilter(pool.filters.WitnessPaid!(roundId, ch.witness), rec.drawnBlock);
    let paid = 0n;
    for (const l of paidLogs) if ('args' in l) paid += l.args.amount as bigint;
    rec.outcome = {
      verdict: VERDICT_NAME[verdict] ?? 'None',
      paid: paid.toString(),
      finalizedByUs: rec.finalizeTx !== undefined,
    };
    rec.phase = 'finalized';
    log.info(
      { roundId: rec.roundId, outcome: rec.outcome.verdict, paid: rec.outcome.paid },
      'round finalized',
    );
    await this.save(rec);
  }
}

async function nowOf(x: RoundContext): Promise<bigint> {
  const b = await x.ch.provider.getBlock('latest');
  if (!b) throw new Error('no latest block');
  return BigInt(b.timestamp);
}
