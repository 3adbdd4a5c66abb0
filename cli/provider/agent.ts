import { hexlify, type Signer } from 'ethers';
import type { Logger } from 'pino';
import type { LatestVoucher } from '../../enclave-host/executor.js';
import { NO_CLAIMS } from '../../protocol/log-submission.js';
import { probeGrantToJson } from '../../protocol/probe-grant.js';
import { typedDataJson } from '../../protocol/typed-data.js';
import { submitToLog } from '../../sdk/log-writer.js';
import { type AgentDeployment, chainNow, connectChain } from '../../verifier/agent/chain.js';
import { TxSender } from '../../verifier/agent/tx-sender.js';
import type { BidPolicy } from './bid-policy.js';
import { type BiddingInput, progressBids, scanOrders } from './bidding.js';
import type { ProviderContext } from './context.js';
import type { PreparedEnclave } from './enclave.js';
import { type LeaseCadence, progressLeases } from './leases.js';
import { type ExecutorSpecs, ensureExecutor, type RegistrationOutcome } from './registration.js';
import { type HeldVoucher, ProviderState } from './state.js';

/*
 * The provider agent (docs/provider.md): one per executor. It registers the executor (or reuses or
 * updates its registration), then ticks every `pollMs`: bids on the orders its price policy takes,
 * reveals, confirms what it won, and for every lease requests its witness rounds, redeems the
 * customer's latest voucher, collects, answers claims, finishes and settles. The executor (run beside
 * it by `defaas provider start`) serves the leases the chain binds to its enclave and hands the agent
 * each voucher it accepts (`takeVoucher`). Everything the agent must not forget is in its state
 * directory, so a restart resumes bids, leases and redemptions.
 */

export interface ProviderAgentOptions {
  readonly signer: Signer;
  readonly deployment: AgentDeployment;
  readonly stateDir: string;
  readonly enclave: PreparedEnclave;
  /** host:port registered on chain (where clients reach the executor). */
  readonly endpoint: string;
  readonly specs: ExecutorSpecs;
  /** Stake of a first registration, token base units. */
  readonly stake: bigint;
  readonly policy: BidPolicy;
  readonly log: Logger;
  /** Milliseconds between ticks (default 2,000). */
  readonly pollMs?: number;
  readonly cadence?: Partial<LeaseCadence>;
  /** The attestation log's URL: the registration's evidence is submitted to it. */
  readonly logUrl?: string;
  /** The encoded evidence bundle the executor presents (what the log verifies). */
  readonly evidenceBundle?: Uint8Array;
  /** Transaction retries (tests shorten them). */
  readonly tx?: {
    readonly baseDelayMs?: number;
    readonly maxAttempts?: number;
    readonly receiptTimeoutMs?: number;
  };
}

export class ProviderAgent {
  private timer: NodeJS.Timeout | undefined;
  /** Set by stop(): no tick is scheduled and the sender gives up its retries. */
  stopped = false;
  private ticking: Promise<void> = Promise.resolve();
  registration: RegistrationOutcome | undefined;

  private constructor(
    private readonly o: ProviderAgentOptions,
    readonly ctx: ProviderContext,
  ) {}

  static async create(o: ProviderAgentOptions): Promise<ProviderAgent> {
    const ch = await connectChain(o.signer, o.deployment);
    const address = (await o.signer.getAddress()).toLowerCase();
    const state = await ProviderState.open(o.stateDir, {
      provider: address,
      chainId: ch.chainId,
      registry: o.deployment.contracts.registry,
    });
    // The sender stops retrying once the agent is stopped.
    let agent: ProviderAgent | undefined;
    const sender = new TxSender({
      provider: ch.provider,
      ...(o.tx?.baseDelayMs !== undefined && { baseDelayMs: o.tx.baseDelayMs }),
      ...(o.tx?.maxAttempts !== undefined && { maxAttempts: o.tx.maxAttempts }),
      ...(o.tx?.receiptTimeoutMs !== undefined && { receiptTimeoutMs: o.tx.receiptTimeoutMs }),
      onRetry: (label, attempt, e) =>
        o.log.warn(
          { tx: label, attempt, err: e instanceof Error ? e.message : String(e) },
          'transaction retried',
        ),
      stopped: () => agent?.stopped === true,
    });
    agent = new ProviderAgent(o, {
      ch,
      sender,
      state,
      log: o.log,
      address,
      unfilledRounds: new Set(),
    });
    return agent;
  }

  get state(): ProviderState {
    return this.ctx.state;
  }

  /** Registers (or reuses / updates) the executor, logs the registration, and starts ticking. */
  async start(): Promise<RegistrationOutcome> {
    this.registration = await this.register();
    this.schedule(0);
    return this.registration;
  }

  private async register(): Promise<RegistrationOutcome> {
    const r = await ensureExecutor(this.ctx, {
      identity: this.o.enclave.identity,
      evidenceHash: this.o.enclave.evidenceHash,
      endpoint: this.o.endpoint,
      specs: this.o.specs,
      stake: this.o.stake,
    });
    this.o.log.info({ executorId: r.executorId.toString(), status: r.status }, 'executor registration');
    if ((r.status === 'registered' || r.status === 'updated') && this.o.logUrl && this.o.evidenceBundle)
      await submitToLog(this.o.logUrl, {
        kind: 'executor-registered',
        evidence: this.o.evidenceBundle,
        ...NO_CLAIMS,
        chain: { id: Number(this.ctx.ch.chainId), block: await this.ctx.ch.provider.getBlockNumber() },
        enclave: this.o.enclave.identity.identityAddress.toLowerCase(),
        provider: this.ctx.address,
        executorId: r.executorId.toString(),
      }).then(
        (l) => this.o.log.info({ index: l.index }, 'registration logged in the attestation log'),
        (e: unknown) =>
          this.o.log.error({ err: e }, 'the attestation log refused or missed the registration'),
      );
    return r;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => this.schedule(this.o.pollMs ?? 2_000));
    }, ms);
  }

  /**
   * One pass over registration, orders, bids and leases. Failures are logged and retried next tick.
   * A tick asked for while one runs is that one (ticks never overlap).
   */
  tick(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private running: Promise<void> | undefined;

  private async pass(): Promise<void> {
    try {
      const now = await chainNow(this.ctx.ch.provider);
      if (this.registration?.status === 'update-pending') {
        const e = await this.ctx.ch.registry.executor(this.registration.executorId);
        if (e.activeLeases === 0n) this.registration = await this.register();
      }
      const reg = this.registration;
      if (!reg) return;
      const input: BiddingInput = {
        executorId: reg.executorId,
        specs: this.o.specs,
        policy: this.o.policy,
        deployment: `grpc://${this.o.endpoint}`,
        canBid: reg.status !== 'update-pending',
      };
      await scanOrders(this.ctx, input, now);
      await progressBids(this.ctx, input, now, async (bid, customer) => {
        this.state.record.leases[bid.orderId] = {
          leaseId: bid.orderId,
          customer,
          executorId: bid.executorId,
          confirmedAt: Number(now),
          phase: 'serving',
          redeemed: '0',
          collected: '0',
          redeemedBatches: [],
          claimsAnswered: [],
        };
        await this.state.save();
      });
      await progressLeases(
        this.ctx,
        {
          redeemEverySeconds: this.o.cadence?.redeemEverySeconds ?? 300,
          deadlineMarginSeconds: this.o.cadence?.deadlineMarginSeconds ?? 600,
        },
        now,
      );
    } catch (e) {
      this.state.noteFailure('tick', e);
      this.o.log.warn({ err: e }, 'tick failed (chain unreachable?); retried next tick');
    }
  }

  /**
   * A voucher the executor accepted: kept when it is the highest so far of the lease's customer, or of
   * a witness probing under the customer's grant (kept with the grant). Resolves once the state holding it
   * is on disk: the executor sends a Settle's receipt only then, so a provider that crashes after the
   * customer has its receipt still holds the voucher that pays for it.
   */
  takeVoucher(a: LatestVoucher): Promise<void> | undefined {
    const lease = this.state.record.leases[a.leaseId.toString()];
    if (!lease) return undefined;
    const client = a.client.toLowerCase();
    const v = a.voucher.voucher;
    const held = (extra: Record<string, unknown>): HeldVoucher => ({
      client,
      cumulativeAmount: v.cumulativeAmount.toString(),
      firstNonce: v.firstNonce.toString(),
      lastNonce: v.lastNonce.toString(),
      json: { voucher: typedDataJson(v), signature: hexlify(a.voucher.signature), ...extra },
    });
    if (client === lease.customer) {
      if (lease.voucher && BigInt(lease.voucher.cumulativeAmount) >= v.cumulativeAmount) return undefined;
      lease.voucher = held(
        a.batch
          ? {
              receipt: typedDataJson(a.batch.receipt.receipt),
              receiptSignature: hexlify(a.batch.receipt.signature),
              records: a.batch.records.map((r) => typedDataJson(r)),
            }
          : {},
      );
    } else {
      // A witness's probe voucher pays only with the customer's grant it was served under.
      const g = a.grant;
      if (!g || g.grant.witness.toLowerCase() !== client || g.grant.leaseId !== a.leaseId) return undefined;
      lease.probes ??= {};
      const before = lease.probes[client];
      if (before && BigInt(before.cumulativeAmount) >= v.cumulativeAmount) return undefined;
      lease.probes[client] = held({ grant: probeGrantToJson(g) });
    }
    return this.state.save().catch((e: unknown) => {
      this.o.log.error({ err: e }, 'provider state not written: the voucher is held in memory only');
    });
  }

  /** Stops ticking, waits for the tick in progress, writes the state and gives the directory back. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await this.state.save().catch(() => {});
    await this.state.close();
  }
}
