import type { Signer } from 'ethers';
import type { Logger } from 'pino';
import { type AgentChain, type AgentDeployment, chainNow, connectChain } from './chain.js';
import { isAgentError } from './errors.js';
import type { Evaluator } from './evaluator.js';
import { ChainFollower, type DrawnRound, type FollowerOptions } from './follower.js';
import { ensureRegistered, type Registration } from './registration.js';
import { RoundDriver, type RoundOptions, recordFailure } from './round.js';
import { type RoundRecord, StateStore } from './state-store.js';
import { isTransient, TxSender, type TxSenderOptions } from './tx-sender.js';

/*
 * The witness agent: registers (or reuses its registration), then every `pollMs` follows the pool
 * for draws naming it and moves each of its open rounds on (round.ts). All it must remember is in
 * the state directory (state-store.ts); a restarted agent re-reads it, checks each round against the
 * pool's views and goes on. Chain failures inside a tick are logged and recorded, and the next tick
 * tries again: the agent does not stop because the endpoint went away for a while.
 */

export interface WitnessAgentOptions extends RoundOptions, FollowerOptions {
  /** The witness wallet, connected to the chain's provider. */
  readonly signer: Signer;
  readonly deployment: AgentDeployment;
  readonly stateDir: string;
  readonly evaluator: Evaluator;
  readonly log: Logger;
  /** Tick period (default 2,000 ms). */
  readonly pollMs?: number;
  /** Stake to register with when not registered (default: the Registry's minWitnessStake). */
  readonly stake?: bigint;
  readonly tx?: Omit<TxSenderOptions, 'provider' | 'stopped' | 'onRetry'>;
}

export class WitnessAgent {
  private halted = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly driver: RoundDriver;
  private readonly follower: ChainFollower;
  registration: Registration | undefined;

  private constructor(
    readonly ch: AgentChain,
    readonly store: StateStore,
    private readonly sender: TxSender,
    private readonly o: WitnessAgentOptions,
  ) {
    this.follower = new ChainFollower(ch.pool, ch.provider, ch.witness, o);
    this.driver = new RoundDriver({
      ch,
      store,
      sender,
      evaluator: o.evaluator,
      log: o.log,
      o,
      halted: () => this.halted,
    });
  }

  /** Connects, checks the chain, takes the state directory. */
  static async create(o: WitnessAgentOptions): Promise<WitnessAgent> {
    const ch = await connectChain(o.signer, o.deployment);
    const store = await StateStore.open(o.stateDir, {
      witness: ch.witness,
      chainId: ch.chainId,
      pool: o.deployment.contracts.witnessPool,
    });
    let agent: WitnessAgent | undefined;
    const sender = new TxSender({
      provider: ch.provider,
      ...o.tx,
      stopped: () => agent?.halted ?? false,
      onRetry: (label, attempt, e) =>
        o.log.warn(
          { label, attempt, err: (e as Error)?.message },
          'transaction failed transiently; retrying',
        ),
    });
    agent = new WitnessAgent(ch, store, sender, o);
    return agent;
  }

  get witness(): string {
    return this.ch.witness;
  }

  /** Registers if needed (recorded in the state), then ticks every `pollMs` until stopped. */
  async start(): Promise<void> {
    try {
      this.registration = await ensureRegistered(this.ch, this.sender, this.o.log, this.o.stake);
    } catch (e) {
      recordFailure(this.store.agent.failures, {
        step: 'register',
        code: isAgentError(e) ? e.code : 'ERROR',
        message: e instanceof Error ? e.message : String(e),
      });
      await this.store.saveAgent();
      await this.store.close();
      throw e;
    }
    this.store.agent.witnessId = this.registration.witnessId.toString();
    if (this.registration.txs.length > 0) this.store.agent.registeredTx = this.registration.txs.at(-1)!;
    await this.store.saveAgent();
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.halted) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.o.pollMs ?? 2_000);
      });
    }, ms);
  }

  /** One pass: read new draws, then move every open round on (rounds already moving are left alone). */
  async tick(): Promise<void> {
    if (this.halted) return;
    const log = this.o.log;
    try {
      const drawn = await this.follower.poll(this.store.agent.cursor, async (block) => {
        if (this.halted) return;
        this.store.agent.cursor = block;
        await this.store.saveAgent();
      });
      for (const d of drawn) await this.adopt(d);
    } catch (e) {
      if (this.halted) return;
      // Recorded and logged; the next tick reads again from the saved cursor.
      this.noteTickFailure('poll', e);
      return;
    }
    let now: bigint;
    try {
      now = await chainNow(this.ch.provider);
    } catch (e) {
      this.noteTickFailure('poll', e);
      return;
    }
    for (const rec of this.store.rounds.values()) {
      if (rec.phase === 'finalized' || rec.phase === 'lost' || this.inFlight.has(rec.roundId)) continue;
      const p = this.driver
        .step(rec, now)
        .catch((e: unknown) => {
          if (this.halted) return;
          // A view failed (the endpoint went away): the next tick tries again.
          log.warn({ roundId: rec.roundId, err: (e as Error)?.message }, 'round step failed; retrying');
          if (!isTransient(e)) {
            recordFailure(rec.failures, {
              step: rec.phase,
              code: isAgentError(e) ? e.code : 'ERROR',
              message: e instanceof Error ? e.message : String(e),
            });
            return this.store.saveRound(rec).catch(() => {});
          }
        })
        .finally(() => this.inFlight.delete(rec.roundId));
      this.inFlight.set(rec.roundId, p);
    }
  }

  private noteTickFailure(step: string, e: unknown): void {
    this.o.log[isTransient(e) ? 'warn' : 'error'](
      { step, err: (e as Error)?.message },
      'chain read failed; retrying on the next tick',
    );
    recordFailure(this.store.agent.failures, {
      step,
      code: isTransient(e) ? 'CHAIN_UNAVAILABLE' : isAgentError(e) ? e.code : 'ERROR',
      message: e instanceof Error ? e.message : String(e),
    });
    void this.store.saveAgent().catch(() => {});
  }

  /** Records a round this witness was drawn into (once). */
  private async adopt(d: DrawnRound): Promise<void> {
    const id = d.roundId.toString();
    if (this.store.rounds.has(id)) return;
    const r = await this.ch.pool.round(d.roundId);
    const rec: RoundRecord = {
      v: 1,
      roundId: id,
      leaseId: d.leaseId.toString(),
      epoch: Number(r.epoch),
      phase: 'drawn',
      drawnBlock: d.block,
      epochEnd: Number(r.epochEnd),
      commitDeadline: Number(d.commitDeadline),
      revealDeadline: Number(d.revealDeadline),
      failures: [],
    };
    await this.store.saveRound(rec);
    this.o.log.info(
      { roundId: id, leaseId: rec.leaseId, epoch: rec.epoch, commitDeadline: rec.commitDeadline },
      'drawn into a committee',
    );
  }

  /** Resolves once every step started so far has ended. */
  async idle(): Promise<void> {
    while (this.ticking || this.inFlight.size > 0) {
      await this.ticking;
      await Promise.all([...this.inFlight.values()]);
    }
  }

  /** Stops after the steps under way (a reveal being sent is finished) and gives the state directory back. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.ticking;
    this.halted = true;
    this.driver.halt();
    clearTimeout(this.timer);
    await Promise.all([...this.inFlight.values()]);
    await this.store.close();
  }

  /**
   * Stops at once, as a crash would: nothing more is sent or written, the lock file stays, the
   * state on disk is whatever the last durable write left.
   */
  kill(): void {
    this.halted = true;
    this.driver.halt();
    clearTimeout(this.timer);
    this.store.abandon();
  }
}
