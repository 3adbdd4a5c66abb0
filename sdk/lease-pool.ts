import { randomBytes } from 'node:crypto';
import type { VerifiedReceipt } from '../protocol/receipts.js';
import { BALANCE_POLICIES, type BalancePolicy, balanceSeed, choose, type Draw } from './balance.js';
import { DefaasError, isDefaasError, toDefaasError } from './errors.js';
import type { FunctionHandle, InvokeResult, Session } from './session/session.js';
import type { CallPlacement, ReceiptStore } from './store.js';
import { signingKey, type WalletLike } from './wallet.js';

/*
 * A customer's calls spread over several leases (one session per lease), by a verifiable randomized
 * draw (sdk/balance.ts, docs/balancing.md), with failover between them.
 *
 * Failover rule (docs/balancing-failover.md). A member is marked down when a call on it fails:
 * - for good, when the executor failed its session checks (kind `attestation` or `protocol`: its
 *   evidence, the pinned identity, a record or a receipt did not check out), or the lease is no
 *   longer served to this customer (LEASE_NOT_ACTIVE, WRONG_LEASE, NOT_LEASE_CUSTOMER), or its
 *   session was closed;
 * - for a while (re-probed after a backoff), when it failed transiently (unreachable, deadline,
 *   session gone, busy, the answer lost).
 * The call then moves to another up member only when it certainly did not run there, and so is not
 * charged there: the error has `invokeSent` false (raised before the Invoke left the client, or the
 * enclave's sealed refusal, or a sealed NOT_RUN fence of its nonce). A call that ran is never sent
 * again: CALL_OUTPUT_LOST (it ran and is charged; its record is in `error.call`), a function failure.
 * A call that may have run (CALL_OUTCOME_UNKNOWN, or a failed check of its answer) is returned as a
 * failure naming its lease (`error.leaseId`), and is sent elsewhere only with `retryUnknown: true`,
 * which may charge it twice (and run it twice).
 */

/** A recent block, whose hash seeds the draws (its number lets anyone fetch it again). */
export interface BlockRef {
  readonly number: number;
  /** 0x-hex, 32 bytes. */
  readonly hash: string;
}

export interface PoolMember {
  readonly leaseId: bigint;
  readonly session: Session;
}

export interface LeasePoolOptions {
  /** The wallet that pays (the customer of every member's lease). */
  readonly wallet: WalletLike;
  /** A recent block (e.g. from a provider: `latest`); cached for `blockCacheMs`. */
  readonly block: () => Promise<BlockRef>;
  /** Default 'power-of-two'. */
  readonly policy?: BalancePolicy;
  /** How long one block seeds draws (default 4,000 ms). */
  readonly blockCacheMs?: number;
  /**
   * Send a call whose outcome is unknown on one member to another: it may be charged twice (and run
   * twice). Default false.
   */
  readonly retryUnknown?: boolean;
  /** First wait before a transiently down member is probed again (default 1,000 ms; doubles, at most 60 s). */
  readonly backoffMs?: number;
  /** Where each call's placement is recorded (`ReceiptStore.place`), e.g. the sessions' LocalReceiptStore. */
  readonly store?: ReceiptStore;
}

export interface PoolInvokeOptions {
  /** Overrides the pool's `retryUnknown` for this call. */
  readonly retryUnknown?: boolean;
  /** The call's request id (0x-hex, 32 bytes); default random. */
  readonly requestId?: string;
}

/** One member tried for a call: what it was drawn from, and how it failed (if it did). */
export interface PoolAttempt {
  readonly leaseId: bigint;
  /** Lease ids of the up members drawn from, ascending. */
  readonly candidates: readonly bigint[];
  /** In-flight calls of each candidate when drawn. */
  readonly loads: readonly number[];
  readonly draw: Draw;
  readonly error?: DefaasError;
}

/** Where and why a call ran. */
export interface PoolPlacement {
  readonly leaseId: bigint;
  readonly block: BlockRef;
  /** 0x-hex, 32 bytes. */
  readonly requestId: string;
  readonly policy: BalancePolicy;
  /** The draw of the attempt that ran. */
  readonly draw: Draw;
  /** Every attempt, the last being the one that ran. */
  readonly attempts: readonly PoolAttempt[];
}

export type PoolInvokeResult = InvokeResult & PoolPlacement;

export type PoolManyResult =
  | ({ readonly ok: true } & PoolInvokeResult)
  | { readonly ok: false; readonly error: DefaasError; readonly attempts: readonly PoolAttempt[] };

export interface MemberStatus {
  readonly leaseId: bigint;
  readonly up: boolean;
  /** Down for good (failed its session checks), not re-probed. */
  readonly retired: boolean;
  readonly inFlight: number;
  /** Calls that ran on it (answered, a function failure included). */
  readonly calls: number;
  /** Attempts that failed on it (transport, session, checks, unknown outcome). */
  readonly failures: number;
  /** The code of the failure that marked it down, while down. */
  readonly downCode?: string;
}

interface MemberState {
  readonly leaseId: bigint;
  readonly session: Session;
  up: boolean;
  retired: boolean;
  inFlight: number;
  calls: number;
  failures: number;
  downCode: string | undefined;
  backoffMs: number;
  probe: NodeJS.Timeout | undefined;
}

/** The result of one attempt on a member (`deferred`: the receipt may still follow). */
interface Deferred {
  readonly output: Uint8Array;
  readonly stderr: Uint8Array;
  readonly stderrTruncatedBytes: number;
  readonly record: InvokeResult['record'];
  readonly receipt: Promise<VerifiedReceipt>;
}

const MAX_BACKOFF_MS = 60_000;
/** Codes after which a lease is no longer served to this customer: its member is retired. */
const LEASE_GONE = new Set(['LEASE_NOT_ACTIVE', 'WRONG_LEASE', 'NOT_LEASE_CUSTOMER', 'SDK_SESSION_CLOSED']);

/** What a failed attempt does to its member, and whether the call may move on. */
export function failoverDecision(
  e: DefaasError,
  retryUnknown: boolean,
): { readonly down: 'retire' | 'backoff' | undefined; readonly move: boolean } {
  let down: 'retire' | 'backoff' | undefined;
  if (e.kind === 'attestation' || e.kind === 'protocol' || LEASE_GONE.has(e.code)) down = 'retire';
  else if (e.kind === 'transient') down = 'backoff';
  if (down === undefined) return { down, move: false };
  if (!e.invokeSent) return { down, move: true };
  // It ran (charged) or may have run.
  const ran = e.code === 'CALL_OUTPUT_LOST' || e.kind === 'function';
  return { down, move: !ran && retryUnknown };
}

export class LeasePool {
  private readonly members: MemberState[];
  private readonly policy: BalancePolicy;
  private readonly wasms: Uint8Array[] = [];
  private cachedBlock: { at: number; block: Promise<BlockRef> } | undefined;
  private closed = false;

  constructor(
    members: readonly PoolMember[],
    private readonly opts: LeasePoolOptions,
  ) {
    if (members.length === 0) throw new DefaasError('SDK_INVALID_ARGUMENT', 'a lease pool needs a member');
    const ids = new Set(members.map((m) => m.leaseId));
    if (ids.size !== members.length)
      throw new DefaasError('SDK_INVALID_ARGUMENT', 'a lease pool takes one member per lease');
    this.policy = opts.policy ?? 'power-of-two';
    if (!(BALANCE_POLICIES as readonly string[]).includes(this.policy))
      throw new DefaasError('SDK_INVALID_ARGUMENT', `unknown balance policy ${JSON.stringify(this.policy)}`);
    this.members = [...members]
      .sort((a, b) => (a.leaseId < b.leaseId ? -1 : a.leaseId > b.leaseId ? 1 : 0))
      .map((m) => ({
        leaseId: m.leaseId,
        session: m.session,
        up: true,
        retired: false,
        inFlight: 0,
        calls: 0,
        failures: 0,
        downCode: undefined,
        backoffMs: opts.backoffMs ?? 1_000,
        probe: undefined,
      }));
  }

  /** Deploys `wasm` to every up member; the handle is the same on each (SHA-256 of the module). */
  async deploy(wasm: Uint8Array): Promise<FunctionHandle> {
    this.wasms.push(new Uint8Array(wasm));
    let handle: FunctionHandle | undefined;
    let last: DefaasError | undefined;
    await Promise.all(
      this.members
        .filter((m) => m.up)
        .map(async (m) => {
          try {
            handle = await m.session.deploy(wasm);
          } catch (e) {
            last = this.fail(m, toDefaasError(e));
          }
        }),
    );
    if (!handle) throw new DefaasError('POOL_NO_MEMBER', 'no member of the pool took the module', {}, last);
    return handle;
  }

  /** Runs `fn` on one member (by the draw); resolves once the output and a verified receipt are in. */
  async invoke(fn: FunctionHandle, input: Uint8Array, o: PoolInvokeOptions = {}): Promise<PoolInvokeResult> {
    const r = await this.invokeDeferred(fn, input, o);
    return { ...r, receipt: await r.receipt };
  }

  /**
   * Runs each input (results in input order; failures are values), at most `concurrency` calls in
   * flight (default 8 per member), so that every member's workers stay busy; receipts are awaited
   * at the end (a batch can fill up instead of closing on its timer).
   */
  async invokeMany(
    fn: FunctionHandle,
    inputs: readonly Uint8Array[],
    o: PoolInvokeOptions & { readonly concurrency?: number } = {},
  ): Promise<PoolManyResult[]> {
    if (o.requestId !== undefined)
      throw new DefaasError('SDK_INVALID_ARGUMENT', 'invokeMany draws a request id per call');
    const concurrency = Math.max(1, Math.floor(o.concurrency ?? 8 * this.members.length));
    const results: PoolManyResult[] = new Array(inputs.length);
    const receipts: Promise<void>[] = [];
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= inputs.length) return;
        try {
          const r = await this.invokeDeferred(fn, inputs[i]!, o);
          receipts.push(
            r.receipt.then(
              (receipt) => {
                results[i] = { ok: true, ...r, receipt };
              },
              (e: unknown) => {
                results[i] = { ok: false, error: named(toDefaasError(e), r.leaseId), attempts: r.attempts };
              },
            ),
          );
        } catch (e) {
          const err = toDefaasError(e);
          results[i] = { ok: false, error: err, attempts: attemptsOf(e) };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
    await Promise.all(receipts);
    return results;
  }

  /** Every member: lease id, up or down, calls in flight, calls that ran, failures. */
  status(): MemberStatus[] {
    return this.members.map((m) => ({
      leaseId: m.leaseId,
      up: m.up,
      retired: m.retired,
      inFlight: m.inFlight,
      calls: m.calls,
      failures: m.failures,
      ...(m.downCode !== undefined && { downCode: m.downCode }),
    }));
  }

  /** Stops re-probing and closes every member's session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.members) clearTimeout(m.probe);
    await Promise.all(this.members.map((m) => m.session.close().catch(() => undefined)));
  }

  /**
   * Like `invoke`, but resolves with the output first; the receipt follows (batched mode). A
   * rejection carries the lease in `error.leaseId` and the attempts in `error.info.attempts`.
   */
  async invokeDeferred(
    fn: FunctionHandle,
    input: Uint8Array,
    o: PoolInvokeOptions = {},
  ): Promise<Omit<PoolInvokeResult, 'receipt'> & { readonly receipt: Promise<VerifiedReceipt> }> {
    if (this.closed) throw new DefaasError('SDK_SESSION_CLOSED', 'the lease pool is closed');
    const requestId = o.requestId ?? `0x${randomBytes(32).toString('hex')}`;
    const retryUnknown = o.retryUnknown ?? this.opts.retryUnknown ?? false;
    const block = await this.block();
    const seed = balanceSeed(block.hash, requestId);
    const attempts: PoolAttempt[] = [];
    const tried = new Set<bigint>();
    let last: DefaasError | undefined;
    for (let n = 0; n < this.members.length; n++) {
      const candidates = this.members.filter((m) => m.up && !tried.has(m.leaseId));
      if (candidates.length === 0) break;
      const loads = candidates.map((m) => m.inFlight);
      const draw = choose(this.policy, seed, loads);
      const m = candidates[draw.chosen]!;
      tried.add(m.leaseId);
      const base = { leaseId: m.leaseId, candidates: candidates.map((c) => c.leaseId), loads, draw };
      m.inFlight++;
      let r: Deferred;
      try {
        r = await m.session.invokeDeferred(fn, input, { wallet: this.opts.wallet });
      } catch (e) {
        // Not the SDK's error (a bad wallet, a bug): nothing is known of the member or the call.
        if (!(e instanceof DefaasError)) throw e;
        const err = this.fail(m, e);
        attempts.push({ ...base, error: err });
        // It ran (a function failure, an output lost): where is recorded with its record.
        if (err.call) this.record({ leaseId: m.leaseId, block, requestId }, err.call.record.nonce, base);
        last = err;
        if (!failoverDecision(err, retryUnknown).move) throw withAttempts(err, attempts);
        continue;
      } finally {
        m.inFlight--;
      }
      m.calls++;
      attempts.push(base);
      const placement = { leaseId: m.leaseId, block, requestId, policy: this.policy, draw, attempts };
      this.record(placement, r.record.nonce, base);
      return { ...r, ...placement };
    }
    throw withAttempts(
      new DefaasError(
        'POOL_NO_MEMBER',
        last
          ? `no member left to send the call to (last: ${last.message})`
          : 'every member of the pool is down',
        {},
        last,
      ),
      attempts,
    );
  }

  // ---- members ----

  /** Marks `m` after a failed attempt (see the failover rule above); returns the error, named. */
  private fail(m: MemberState, err: DefaasError): DefaasError {
    named(err, m.leaseId);
    const { down } = failoverDecision(err, false);
    if (err.kind === 'function') m.calls++;
    else m.failures++;
    if (down === 'retire') {
      m.up = false;
      m.retired = true;
      m.downCode = err.code;
      clearTimeout(m.probe);
    } else if (down === 'backoff' && m.up && !m.retired) {
      m.up = false;
      m.downCode = err.code;
      this.scheduleProbe(m);
    }
    return err;
  }

  /** After the member's backoff, idempotent requests: the pool's modules deployed again. */
  private scheduleProbe(m: MemberState): void {
    if (this.closed) return;
    clearTimeout(m.probe);
    const wait = m.backoffMs;
    m.backoffMs = Math.min(m.backoffMs * 2, MAX_BACKOFF_MS);
    m.probe = setTimeout(() => {
      m.probe = undefined;
      void this.probe(m);
    }, wait);
    m.probe.unref();
  }

  private async probe(m: MemberState): Promise<void> {
    if (this.closed || m.retired) return;
    try {
      // Deploy is idempotent; it re-opens a lost session (verifying the evidence again).
      // With none deployed yet, the member's next call checks its session before it goes out.
      for (const wasm of this.wasms) await m.session.deploy(wasm);
      if (this.closed || m.retired) return;
      m.up = true;
      m.downCode = undefined;
      m.backoffMs = this.opts.backoffMs ?? 1_000;
    } catch (e) {
      const err = toDefaasError(e);
      if (err.kind === 'attestation' || err.kind === 'protocol' || LEASE_GONE.has(err.code)) {
        m.retired = true;
        m.downCode = err.code;
      } else this.scheduleProbe(m);
    }
  }

  // ---- draws ----

  /** The block seeding draws, fetched again once `blockCacheMs` passed. */
  private block(): Promise<BlockRef> {
    const now = Date.now();
    const c = this.cachedBlock;
    if (c && now - c.at < (this.opts.blockCacheMs ?? 4_000)) return c.block;
    const block = this.opts.block().then(checkBlock);
    this.cachedBlock = { at: now, block };
    block.catch(() => {
      if (this.cachedBlock?.block === block) this.cachedBlock = undefined;
    });
    return block;
  }

  private record(
    p: { readonly leaseId: bigint; readonly block: BlockRef; readonly requestId: string },
    nonce: bigint,
    a: PoolAttempt,
  ): void {
    const placement: CallPlacement = {
      leaseId: p.leaseId,
      client: signingKey(this.opts.wallet).address,
      nonce,
      requestId: p.requestId,
      block: p.block,
      policy: this.policy,
      candidates: a.candidates,
      loads: a.loads,
      draw: a.draw,
    };
    this.opts.store?.place?.(placement);
  }
}

function checkBlock(b: BlockRef): BlockRef {
  if (
    typeof b !== 'object' ||
    b === null ||
    !Number.isSafeInteger(b.number) ||
    b.number < 0 ||
    typeof b.hash !== 'string' ||
    !/^0x[0-9a-fA-F]{64}$/.test(b.hash)
  )
    throw new DefaasError('SDK_INVALID_ARGUMENT', 'block() must give { number, hash: 0x and 64 hex digits }');
  return { number: b.number, hash: b.hash.toLowerCase() };
}

function named(e: DefaasError, leaseId: bigint): DefaasError {
  e.leaseId ??= leaseId;
  return e;
}

const ATTEMPTS = new WeakMap<DefaasError, readonly PoolAttempt[]>();

function withAttempts(e: DefaasError, attempts: readonly PoolAttempt[]): DefaasError {
  ATTEMPTS.set(e, attempts);
  return e;
}

/** The attempts a lease pool made for a call that failed (empty for other errors). */
export function attemptsOf(e: unknown): readonly PoolAttempt[] {
  return (isDefaasError(e) && ATTEMPTS.get(e)) || [];
}
