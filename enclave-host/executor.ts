import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ZeroAddress } from 'ethers';
import type { Logger } from 'pino';
import { toHex } from '../attestation/bytes.js';
import type { ExecutorHandlers } from '../proto/gen/defaas/executor/v1/Executor.js';
import { loadProtos } from '../proto/load.js';
import { FRAME_ENVELOPE_BYTES, LENGTH_PREFIX_BYTES } from '../protocol/frame-padding.js';
import { isPrivateKey } from '../protocol/secp256k1.js';
import type { LeaseTermsFields, LimitsFields } from '../protocol/transcript.js';
import type { TypedDataDomain } from '../protocol/typed-data.js';
import { type ChallengeAuthority, NO_CHALLENGES } from './challenge/authority.js';
import { type MatmulEngine, startMatmulEngine } from './challenge/engine.js';
import { ChallengeService } from './challenge/service.js';
import { checkLimitsFit } from './lease-terms.js';
import { Books, type LatestVoucher } from './ledger/books.js';
import { FileNonceStore } from './ledger/nonce-store.js';
import { enclaveReceiptSigner } from './ledger/receipt-signer.js';
import type { Runtime } from './requests/context.js';
import { type LeaseCheck, LeaseChecks } from './requests/lease-checks.js';
import { ProbeReservations } from './requests/probe-reservations.js';
import { RequestHandler } from './requests/request-handler.js';
import { FrameTransport } from './server/frame-transport.js';
import { HandshakeService } from './server/handshake-service.js';
import { HealthService } from './server/health.js';
import { EphemeralPool } from './session/ephemeral-pool.js';
import { type CollateralHook, EvidenceSource, type QuoteSource } from './session/evidence-source.js';
import { HandshakeLimiter } from './session/handshake-limiter.js';
import { type EnclaveIdentity, generateEnclaveIdentity } from './session/identity.js';
import { SessionTable } from './session/session-table.js';

export type { ChallengeAuthority, ChallengeMembership } from './challenge/authority.js';
export { allowListAuthority } from './challenge/authority.js';
export type { MatmulEngine } from './challenge/engine.js';
export { checkLimitsFit, SEALED_RESPONSE_OVERHEAD_BYTES } from './lease-terms.js';
export type { LatestVoucher } from './ledger/books.js';
export type { Runtime } from './requests/context.js';
export type { LeaseCheck, LeaseFacts, ProbeFacts } from './requests/lease-checks.js';

export interface ExecutorOptions {
  readonly quotes: QuoteSource;
  readonly runtime: Runtime;
  readonly logger: Logger;
  /**
   * uint256 lease served by default (a ClientHello without lease_id). Standalone default: a random
   * 64-bit dev lease. With a `leaseCheck`, a session may ask for any other lease, and the check on
   * its first call decides whether it is served; without one, only this lease is served.
   */
  readonly leaseId?: bigint;
  /** EIP-712 domain. Standalone default: chainId 31337 (anvil) and the zero address. */
  readonly domain?: TypedDataDomain;
  readonly pricePerCall?: bigint;
  /** Directory for the persisted nonce ceilings and amount floors; without it a restart forgets them (tests only). */
  readonly stateDir?: string;
  readonly sessionTtlMs?: number;
  readonly maxSessions?: number;
  /** Open sessions of one peer address at most (default 64). */
  readonly maxSessionsPerPeer?: number;
  /** A session that carried no authenticated frame yet expires this long after opening (default 60 s). */
  readonly unusedSessionTtlMs?: number;
  /** Wallets one session may be bound to (Sync with client_proof) at most (default 16). */
  readonly maxClientsPerSession?: number;
  /** Distinct wallets the open sessions of one peer address may be bound to at most, together (default 256). */
  readonly maxClientsPerPeer?: number;
  /**
   * (lease, client) books kept in memory at most (default 4,096: ≈1.7 GB if every one is a busy per-call client). When full, the least recently
   * used idle one is let go (its floors persisted) for a new one; when none is idle, ACCOUNT_LIMIT.
   */
  readonly maxAccounts?: number;
  /** Handshakes per second one peer address may start (default 20, burst 40). */
  readonly handshakesPerSecond?: number;
  /** Replay window of sealed-frame sequence numbers and of call nonces (default 1,024). */
  readonly window?: number;
  /** How far above the highest nonce seen a new one may be (default 1,024). */
  readonly maxNonceJump?: number;
  /** Seconds a voucher must leave to redeem it on chain when it is accepted (default 600). */
  readonly minVoucherLifetimeS?: number;
  readonly batchMaxCalls?: number;
  readonly batchMaxMillis?: number;
  /** How long a call over the uncovered cap waits for a voucher (default 2 s). */
  readonly voucherWaitMs?: number;
  /** Largest gRPC message accepted (sealed frames included). */
  readonly maxMessageBytes?: number;
  readonly identity?: EnclaveIdentity;
  /** Builds the presented bundle from evidence and auxblob; default: `hostCollateral` (SNP certificate table). */
  readonly collateral?: CollateralHook;
  /**
   * Asked before a client's first call on the lease and again once `leaseCheckTtlMs` passed (e.g. the
   * chain's Settlement: lease open, bound to this enclave, client its customer or the witness of a
   * probe grant the customer signed, requests/lease-checks.ts). Throws a SessionError
   * to refuse (LEASE_NOT_ACTIVE, NOT_LEASE_CUSTOMER, WRONG_LEASE, LEASE_CHECK_UNAVAILABLE); any other
   * failure refuses as LEASE_CHECK_UNAVAILABLE. Default: none (standalone: any client that signs).
   */
  readonly leaseCheck?: LeaseCheck;
  /** How long a passed lease check is trusted; default 10 s (a closed lease stops being served within it). */
  readonly leaseCheckTtlMs?: number;
  /** Lease checks remembered at most (default 4,096); beyond, the expired and then the oldest go. */
  readonly leaseCheckCacheSize?: number;
  /**
   * Who may send capacity challenges (docs/witness.md, "Capacity challenges"): the chain's witness
   * pool or a standalone allow-list. Default: nobody (every challenge is refused CHALLENGE_NOT_MEMBER).
   */
  readonly challengeAuthority?: ChallengeAuthority;
  /** The matrix engine for challenges; default `startMatmulEngine()`, started at the first challenge. */
  readonly challengeEngine?: MatmulEngine;
  /** Witnesses per lease with an admitted probe grant at most (default 16; PROBE_GRANT_LIMIT beyond). */
  readonly maxProbeWitnesses?: number;
  /**
   * Told each time the books accept a voucher with a higher cumulative amount for a (lease, client)
   * than the last they told of, with the receipt and records of its batch, so the provider process
   * can keep it to redeem (and answer claims). Called inside the request; a promise it returns is
   * awaited before a Settle's receipt is sent (so a provider can make the voucher durable first);
   * whatever it throws or rejects with is logged, never answered.
   */
  readonly onVoucher?: (v: LatestVoucher) => unknown;
  readonly now?: () => number;
}

/** Nonces reserved per persisted write (enclave-host/ledger/nonce-store.ts). */
const NONCE_RESERVE_BLOCK = 1024n;
/** Finished calls each client's books remember for Sync{nonces} (docs/session.md, "Billing rules", 5). */
const RECENT_CALLS = 256;
/** Settled vouchers remembered per client, so the same voucher sent again gets the same receipt. */
const RECENT_SETTLES = 16;
/**
 * How long a Settle waits, beyond `voucherWaitMs`, for claimed calls still running: a call runs at
 * most its wall time once a worker takes it; this also bounds its wait in the queue.
 */
const SETTLE_GRACE_MS = 60_000;

/**
 * The executor: its gRPC server (the executor service and grpc.health.v1), wired from the handshake
 * service (server/handshake-service.ts), the sealed-frame transport (server/frame-transport.ts), the
 * request handlers (requests/) and the books (ledger/). Every handler answers exactly once.
 */
export class Executor {
  readonly identity: EnclaveIdentity;
  readonly leaseId: bigint;
  readonly domain: TypedDataDomain;
  readonly terms: LeaseTermsFields;
  private readonly evidence: EvidenceSource;
  private readonly sessions: SessionTable;
  private readonly books: Books;
  private readonly health = new HealthService();
  private readonly server: grpc.Server;
  private readonly log: Logger;
  private engine: Promise<MatmulEngine> | undefined;
  private readonly challenges: ChallengeService;

  constructor(private readonly opts: ExecutorOptions) {
    this.identity = opts.identity ?? generateEnclaveIdentity();
    if (!isPrivateKey(this.identity.identityPrivateKey)) throw new TypeError('invalid identity key');
    this.leaseId = opts.leaseId ?? BigInt(`0x${toHex(randomBytes(8))}`);
    this.domain = opts.domain ?? { chainId: 31337n, verifyingContract: ZeroAddress };
    this.log = opts.logger;
    const now = opts.now ?? Date.now;
    const window = opts.window ?? 1024;
    const batchMaxCalls = opts.batchMaxCalls ?? 64;
    const voucherWaitMs = opts.voucherWaitMs ?? 2_000;
    const maxMessageBytes = opts.maxMessageBytes ?? 40 * 1024 * 1024;
    const rl = opts.runtime.effectiveLimits;
    const limits: LimitsFields = {
      memoryBytes: BigInt(rl.memoryBytes),
      wallTimeMs: rl.wallTimeMs,
      maxInputBytes: BigInt(rl.maxInputBytes),
      maxOutputBytes: BigInt(rl.maxOutputBytes),
      maxStderrBytes: BigInt(rl.maxLogBytes),
      maxMessageBytes: BigInt(maxMessageBytes),
    };
    checkLimitsFit(limits);
    this.terms = {
      leaseId: this.leaseId,
      chainId: this.domain.chainId,
      verifyingContract: this.domain.verifyingContract.toLowerCase(),
      pricePerCall: opts.pricePerCall ?? 0n,
      batchMaxCalls,
      batchMaxMillis: opts.batchMaxMillis ?? 100,
      limits,
    };
    this.evidence = new EvidenceSource(opts.quotes, this.identity, opts.collateral);
    this.sessions = new SessionTable(
      {
        maxSessions: opts.maxSessions ?? 1024,
        maxSessionsPerPeer: opts.maxSessionsPerPeer ?? 64,
        unusedTtlMs: opts.unusedSessionTtlMs ?? 60_000,
        maxClientsPerSession: opts.maxClientsPerSession ?? 16,
        maxClientsPerPeer: opts.maxClientsPerPeer ?? 256,
      },
      now,
    );
    this.books = new Books({
      domain: this.domain,
      signer: enclaveReceiptSigner(this.identity, this.domain),
      now,
      maxAccounts: opts.maxAccounts ?? 4_096,
      onStoreError: (e) =>
        this.log.error({ err: e }, 'the floors of an evicted account could not be written yet'),
      ...(opts.onVoucher && {
        onVoucher: opts.onVoucher,
        onVoucherError: (e: unknown) =>
          this.log.error({ err: e }, 'the voucher hand-over (onVoucher) failed'),
      }),
      rules: {
        window,
        maxNonceJump: opts.maxNonceJump ?? 1024,
        maxUncovered: batchMaxCalls,
        maxVoucherRange: batchMaxCalls,
        voucherWaitMs,
        settleWaitMs: voucherWaitMs + SETTLE_GRACE_MS,
        pricePerCall: this.terms.pricePerCall,
        reserveBlock: NONCE_RESERVE_BLOCK,
        minVoucherLifetimeS: opts.minVoucherLifetimeS ?? 600,
        recentCalls: RECENT_CALLS,
        recentSettles: RECENT_SETTLES,
      },
    });
    const isServing = () => this.health.isServing;
    const perSecond = opts.handshakesPerSecond ?? 20;
    const handshakes = new HandshakeService({
      identity: this.identity,
      evidence: this.evidence,
      terms: this.terms,
      anyLease: opts.leaseCheck !== undefined,
      sessions: this.sessions,
      limiter: new HandshakeLimiter({ perSecond, burst: 2 * perSecond, maxPeers: 4096 }, now),
      ephemerals: new EphemeralPool(),
      sessionTtlMs: opts.sessionTtlMs ?? 3_600_000,
      window,
      isServing,
      now,
      log: this.log,
    });
    this.challenges = new ChallengeService({
      authority: opts.challengeAuthority ?? NO_CHALLENGES,
      engine: () => this.challengeEngine(),
      identity: this.identity,
      domain: this.domain,
      maxBodyBytes: maxMessageBytes - FRAME_ENVELOPE_BYTES - LENGTH_PREFIX_BYTES,
      log: this.log,
      now,
    });
    const requests = new RequestHandler({
      runtime: opts.runtime,
      books: this.books,
      sessions: this.sessions,
      leaseChecks: new LeaseChecks({
        check: opts.leaseCheck,
        ttlMs: opts.leaseCheckTtlMs ?? 10_000,
        maxEntries: opts.leaseCheckCacheSize ?? 4096,
        enclave: this.identity.identityAddress,
        now,
        log: this.log,
      }),
      probes: new ProbeReservations({ maxWitnesses: opts.maxProbeWitnesses ?? 16 }),
      terms: this.terms,
      log: this.log,
      challenges: this.challenges,
    });
    const frames = new FrameTransport({
      sessions: this.sessions,
      isServing,
      handle: (session, req, expected) => requests.handle(session, req, expected),
      log: this.log,
    });
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
    });
    const { executor, health } = loadProtos();
    const handlers: ExecutorHandlers = {
      GetEvidence: handshakes.getEvidence(),
      OpenSession: handshakes.openSession(),
      Deploy: frames.unary('deploy'),
      Invoke: frames.unary('invoke'),
      Settle: frames.unary('settle'),
      Sync: frames.unary('sync'),
      Undeploy: frames.unary('undeploy'),
      Challenge: frames.unary('challenge'),
      InvokeStream: (call) => frames.stream(call),
    };
    this.server.addService(executor.defaas.executor.v1.Executor.service, handlers);
    this.server.addService(health.grpc.health.v1.Health.service, this.health.handlers());
  }

  /** Opens the state, obtains the standing evidence, binds `listen` ("host:port"); resolves with the port. */
  async start(listen: string): Promise<number> {
    if (this.opts.stateDir) this.books.useStore(await FileNonceStore.open(this.opts.stateDir));
    await this.evidence.standingEvidence();
    // An executor that takes challenges warms their path before serving (see ChallengeService.warmUp).
    if (this.opts.challengeAuthority) await this.challenges.warmUp();
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    this.health.start();
    this.log.info(
      {
        port,
        tee: this.evidence.tee,
        identity: this.identity.identityAddress,
        leaseId: this.leaseId.toString(),
        chainId: this.domain.chainId.toString(),
        verifyingContract: this.domain.verifyingContract,
        stateDir: this.opts.stateDir ?? null,
        limits: Object.fromEntries(Object.entries(this.terms.limits).map(([k, v]) => [k, Number(v)])),
      },
      'executor serving',
    );
    return port;
  }

  /**
   * Stops accepting calls, lets in-flight ones finish (up to `graceMs`), persists the amount floors,
   * closes the runtime.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.health.stop();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
    this.sessions.clear();
    try {
      await this.books.persist();
    } catch (e) {
      this.log.error({ err: e }, 'the amount floors could not be persisted');
    }
    await this.opts.runtime.close();
    if (this.engine && !this.opts.challengeEngine) await (await this.engine.catch(() => undefined))?.close();
    this.log.info('executor stopped');
  }

  /**
   * The highest voucher the books hold in memory for each (lease, client) that paid with one (an
   * account let go for a new one, or a restart, forgets its voucher: `onVoucher` told of it).
   */
  latestVouchers(): LatestVoucher[] {
    return this.books.latestVouchers();
  }

  private challengeEngine(): Promise<MatmulEngine> {
    this.engine ??= this.opts.challengeEngine
      ? Promise.resolve(this.opts.challengeEngine)
      : startMatmulEngine();
    return this.engine;
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** (lease, client) pairs with books kept (a party that never authenticated has none). */
  get clientBooks(): number {
    return this.books.size;
  }

  /**
   * Rebuilds the standing evidence bundle, so that collateral refreshed behind the `collateral` hook
   * is presented without a restart. On failure the previous bundle stays presented and the error is
   * thrown.
   */
  async refreshEvidence(): Promise<void> {
    await this.evidence.refreshStanding();
  }
}
