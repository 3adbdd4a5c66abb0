import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { SnpCollateral } from '../../attestation/bundle.js';
import type { VerifyCache } from '../../attestation/cache.js';
import type { FetchCollateralOptions } from '../../attestation/fetch-collateral.js';
import type { IntelCollateral } from '../../attestation/intel/types.js';
import type { Policy } from '../../attestation/policy.js';
import type { TrustRoots } from '../../attestation/roots.js';
import type { ExecutorClient } from '../../proto/gen/defaas/executor/v1/Executor.js';
import type { ServerHello__Output } from '../../proto/gen/defaas/executor/v1/ServerHello.js';
import { loadProtos } from '../../proto/load.js';
import { asBuffer } from '../../protocol/buffers.js';
import { type CallRequest, checkRecord, requestHead } from '../../protocol/call-records.js';
import { signClientBinding } from '../../protocol/client-binding.js';
import { type VerifiedReceipt, verifyReceipt } from '../../protocol/receipts.js';
import { type SignedVoucher, sha256Hex, signVoucher } from '../../protocol/settlement.js';
import type { LeaseTermsFields, SessionMode } from '../../protocol/transcript.js';
import type { CallRecord, TypedDataDomain } from '../../protocol/typed-data.js';
import { parseUint, receiptFromWire, recordFromWire, voucherToWire } from '../../protocol/wire.js';
import { DefaasError, isDefaasError, toDefaasError } from '../errors.js';
import { fetchGetter } from '../http-getter.js';
import type { ReceiptStore } from '../store.js';
import { signingKey, type WalletLike } from '../wallet.js';
import { Batch, type BatchEntry, type ClientAccount, sharedAccount } from './account.js';
import { type RequestKind, SecureChannel, type Transport, waitForReady } from './channel.js';
import {
  type AcceptedSession,
  type EnclaveIdentityPin,
  finishHandshake,
  startHandshake,
} from './handshake.js';

export type ReceiptMode = 'per-call' | 'batched';

export interface ConnectOptions {
  /** What evidence to accept (attestation/policy.ts). Required: there is no default trust. */
  readonly policy: Policy;
  /** Intel collateral to use instead of what the executor sends (e.g. fetched and cached by the client). */
  readonly collateral?: IntelCollateral;
  /**
   * SEV-SNP collateral (VCEK or VLEK, AMD chain, CRL); each field given replaces the executor's, which
   * usually sends the host's certificate table already.
   */
  readonly snpCollateral?: SnpCollateral;
  /**
   * Fetch the collateral the evidence still lacks (after `collateral` / `snpCollateral`): Intel PCS
   * for a quote, AMD KDS for an SEV-SNP report. `{}` uses fetch() and the vendors' services; set
   * `cacheDir` to keep responses on disk, `getter` to bring your own network.
   */
  readonly fetchCollateral?: Partial<FetchCollateralOptions>;
  /** Verification time (a fixed Date or a clock); default: the system clock at each handshake. */
  readonly now?: Date | (() => Date);
  /** `fresh`: a new quote per session with the transcript in REPORTDATA. Default `normal`. */
  readonly mode?: SessionMode;
  /** `per-call`: a voucher and a receipt per call (default). `batched`: per batch (≤ 64 calls / 100 ms). */
  readonly receipts?: ReceiptMode;
  /**
   * The enclave this session must reach (identity address and/or evidence hash), when known from the
   * chain or an earlier session: a relay to another genuine enclave is then refused
   * (IDENTITY_MISMATCH), at every re-opening of the session too.
   */
  readonly identity?: EnclaveIdentityPin;
  /** The lease the executor must serve; default: whatever it presents (standalone dev lease). */
  readonly leaseId?: bigint;
  /**
   * The EIP-712 domain vouchers must be signed under (the deployment's chain id and Settlement).
   * Set it whenever a chain is involved: without it the customer signs under whatever domain the
   * executor presents.
   */
  readonly domain?: TypedDataDomain;
  /** Where verified receipts, records and vouchers are kept. */
  readonly store?: ReceiptStore;
  readonly roots?: TrustRoots;
  readonly cache?: VerifyCache;
  /** Per-RPC deadline (default 30 s). */
  readonly deadlineMs?: number;
  /** Voucher validity (default 1 h). */
  readonly voucherTtlSeconds?: number;
  /** `unary` (default): one RPC per request; `stream`: requests share one InvokeStream call. */
  readonly transport?: Transport;
  /** Largest gRPC message (default 40 MiB). */
  readonly maxMessageBytes?: number;
}

export interface FunctionHandle {
  /** SHA-256 of the module, hex (no prefix): the function id. */
  readonly id: string;
  /** The same as 0x-hex: the functionHash of call records. */
  readonly hash: string;
}

export interface InvokeResult {
  readonly output: Uint8Array;
  /** What the function wrote to stderr, at most `terms.limits.maxStderrBytes`. */
  readonly stderr: Uint8Array;
  /** stderr bytes the executor dropped beyond that limit (0: complete). */
  readonly stderrTruncatedBytes: number;
  readonly record: CallRecord;
  /** Verified receipt covering this call (its batch, in batched mode). */
  readonly receipt: VerifiedReceipt;
}

export interface DeferredInvokeResult {
  readonly output: Uint8Array;
  readonly stderr: Uint8Array;
  readonly stderrTruncatedBytes: number;
  readonly record: CallRecord;
  /** Resolves with the verified receipt once the call's batch closes. */
  readonly receipt: Promise<VerifiedReceipt>;
}

export interface InvokeOptions {
  readonly wallet: WalletLike;
}

/**
 * An attested session to one executor: deploy, invoke, and the voucher/receipt books. Opening it
 * verified the evidence; re-opening (after the executor restarted or the session expired) verifies
 * again and re-deploys the functions this session deployed.
 */
export class Session {
  private channel: SecureChannel;
  private reconnecting: Promise<void> | undefined;
  private readonly functions = new Map<string, Uint8Array>();
  private readonly accounts = new Map<string, ClientAccount>();
  /** Wallet keys used on this session, to bind a re-opened session to them again. */
  private readonly keys = new Map<string, Uint8Array>();
  /** Client bindings of the current channel, by wallet address (see `account`). */
  private bindings = new Map<string, Promise<void>>();
  private closed = false;
  readonly receiptMode: ReceiptMode;

  private constructor(
    readonly endpoint: string,
    private readonly client: ExecutorClient,
    channel: SecureChannel,
    private readonly opts: ConnectOptions,
  ) {
    this.channel = channel;
    this.receiptMode = opts.receipts ?? 'per-call';
  }

  /** See `connect` (sdk/connect.ts). */
  static async open(endpoint: string, opts: ConnectOptions): Promise<Session> {
    const { executor } = loadProtos();
    const max = opts.maxMessageBytes ?? 40 * 1024 * 1024;
    const client = new executor.defaas.executor.v1.Executor(endpoint, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
    });
    try {
      const channel = await handshake(client, opts);
      return new Session(endpoint, client, channel, opts);
    } catch (e) {
      client.close();
      throw toDefaasError(e);
    }
  }

  /** What the handshake accepted: verified evidence, enclave identity, lease terms. */
  get accepted(): AcceptedSession {
    return this.channel.accepted;
  }

  /** The lease terms the enclave signed in the handshake: price, batching, per-call `limits`. */
  get terms(): LeaseTermsFields {
    return this.accepted.terms;
  }

  get domain(): TypedDataDomain {
    const t = this.accepted.terms;
    return { chainId: t.chainId, verifyingContract: t.verifyingContract };
  }

  /** Sends the module encrypted to the enclave; returns its handle (id = SHA-256 of the module). */
  async deploy(wasm: Uint8Array): Promise<FunctionHandle> {
    const id = createHash('sha256').update(wasm).digest('hex');
    const res = await this.request('deploy', { deploy: { wasm: asBuffer(wasm) } });
    const got = res.deploy?.functionId.toString('hex');
    if (got !== id) throw new DefaasError('RECEIPT_MISMATCH', 'executor named the module by another hash');
    this.functions.set(id, new Uint8Array(wasm));
    return { id, hash: `0x${id}` };
  }

  /**
   * Gives up this client's hold on `fn` on the executor (its place in the quota of functions one
   * party may hold); resolves false when the executor held none for it (e.g. it was evicted).
   */
  async undeploy(fn: FunctionHandle): Promise<boolean> {
    this.assertOpen();
    const res = await this.request('undeploy', { undeploy: { functionId: Buffer.from(fn.id, 'hex') } });
    this.functions.delete(fn.id);
    return res.undeploy?.removed === true;
  }

  /** Runs `fn` on `input`; resolves once the output and a verified receipt covering the call are in. */
  async invoke(fn: FunctionHandle, input: Uint8Array, opts: InvokeOptions): Promise<InvokeResult> {
    const r = await this.invokeDeferred(fn, input, opts);
    const { receipt, ...rest } = r;
    return { ...rest, receipt: await receipt };
  }

  /** Like `invoke`, but resolves with the output first; the receipt follows when the batch closes. */
  async invokeDeferred(
    fn: FunctionHandle,
    input: Uint8Array,
    opts: InvokeOptions,
  ): Promise<DeferredInvokeResult> {
    this.assertOpen();
    const key = signingKey(opts.wallet);
    const inputHash = sha256Hex(input);
    for (let attempt = 0; ; attempt++) {
      const acct = await this.account(key.address, key.privateKey);
      if (this.receiptMode === 'batched') await acct.reserveUncovered(this.accepted.terms.batchMaxCalls);
      const req: CallRequest = { nonce: acct.nextNonce++, functionHash: fn.hash, inputHash };
      try {
        return await (this.receiptMode === 'per-call'
          ? this.invokePerCall(acct, key.privateKey, fn, input, req)
          : this.invokeBatched(acct, key.privateKey, fn, input, req));
      } catch (e) {
        // NONCE_STALE is refused before anything runs (e.g. the executor restarted and skipped a
        // block of nonces): retry once with the executor's next nonce.
        if (attempt > 0 || !isDefaasError(e, 'NONCE_STALE')) throw e;
      }
    }
  }

  /** Closes the open batches (batched mode), waits for their receipts, and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const a of this.accounts.values()) if (a.batch) this.closeBatch(a, a.batch);
    await Promise.race([
      Promise.allSettled([...this.pendingReceipts]),
      new Promise((r) => setTimeout(r, 5_000).unref()),
    ]);
    this.closed = true;
    this.channel.close();
    this.client.close();
  }

  // ---- per-call mode ----

  private async invokePerCall(
    acct: ClientAccount,
    priv: Uint8Array,
    fn: FunctionHandle,
    input: Uint8Array,
    req: CallRequest,
  ): Promise<DeferredInvokeResult> {
    const terms = this.accepted.terms;
    acct.authorised += terms.pricePerCall;
    const voucher = signVoucher(
      this.domain,
      {
        leaseId: terms.leaseId,
        firstNonce: req.nonce,
        lastNonce: req.nonce,
        requestHead: requestHead([req]),
        cumulativeAmount: acct.authorised,
        deadline: this.voucherDeadline(),
      },
      priv,
    );
    let res: Awaited<ReturnType<Session['request']>>;
    try {
      res = await this.invokeRequest(acct, fn, input, req, voucher);
    } catch (e) {
      const err = toDefaasError(e);
      this.onCallError(acct, err);
      // A function error still carries the call's record and receipt: verify and keep them.
      const rec = err.info.record as Record<string, string> | undefined;
      const rc = err.info.receipt as Record<string, string> | undefined;
      if (rec && rc) {
        const record = checkRecord(recordFromJson(rec), req, undefined, terms.pricePerCall);
        this.keep(verifyReceipt(receiptFromJson(rc), [record], this.expectation()), voucher);
      } else if (!err.code.startsWith('TRANSPORT_')) {
        // Refused by the executor before it ran (unlike a lost response, TRANSPORT_*, which may have
        // run): nothing was charged and no record kept, so the next voucher must not authorise this
        // call's price either. (A voucher already signed for a concurrent later call still includes
        // it; docs/runtime.md, "Charging rule".)
        acct.authorised -= terms.pricePerCall;
      }
      throw err;
    }
    const inv = res.invoke;
    if (!inv?.record || !inv.receipt)
      throw new DefaasError('RECEIPT_MISMATCH', 'per-call response without receipt');
    const output: Uint8Array = inv.output;
    const record = checkRecord(recordFromWire(inv.record), req, { output }, terms.pricePerCall);
    const receipt = this.keep(
      verifyReceipt(receiptFromWire(inv.receipt), [record], this.expectation()),
      voucher,
    );
    return { output, ...stderrOf(inv), record, receipt: Promise.resolve(receipt) };
  }

  /** One Invoke request; per-call mode carries the call's voucher. */
  private invokeRequest(
    acct: ClientAccount,
    fn: FunctionHandle,
    input: Uint8Array,
    req: CallRequest,
    voucher?: SignedVoucher,
  ) {
    return this.request('invoke', {
      invoke: {
        leaseId: this.accepted.terms.leaseId.toString(),
        client: acct.address,
        nonce: req.nonce.toString(),
        functionId: Buffer.from(fn.id, 'hex'),
        input: asBuffer(input),
        ...(voucher && { voucher: voucherToWire(voucher) }),
      },
    });
  }

  // ---- batched mode ----

  private async invokeBatched(
    acct: ClientAccount,
    priv: Uint8Array,
    fn: FunctionHandle,
    input: Uint8Array,
    req: CallRequest,
  ): Promise<DeferredInvokeResult> {
    const terms = this.accepted.terms;
    let batch = acct.batch;
    if (!batch || batch.closed) {
      batch = new Batch(acct, priv);
      acct.batch = batch;
      const b = batch;
      b.timer = setTimeout(() => this.closeBatch(acct, b), terms.batchMaxMillis);
    }
    let entry!: BatchEntry;
    const receipt = new Promise<VerifiedReceipt>((resolve, reject) => {
      entry = { req, record: undefined, answered: false, resolve, reject };
    });
    receipt.catch(() => {});
    this.pendingReceipts.add(receipt);
    void receipt.finally(() => this.pendingReceipts.delete(receipt)).catch(() => {});
    batch.entries.push(entry);
    const b = batch;
    if (b.entries.length >= terms.batchMaxCalls) this.closeBatch(acct, b);
    try {
      const res = await this.invokeRequest(acct, fn, input, req);
      const inv = res.invoke;
      if (!inv?.record) throw new DefaasError('RECEIPT_MISMATCH', 'response without record');
      const output: Uint8Array = inv.output;
      entry.record = checkRecord(recordFromWire(inv.record), req, { output }, terms.pricePerCall);
      return { output, ...stderrOf(inv), record: entry.record, receipt };
    } catch (e) {
      const err = toDefaasError(e);
      this.onCallError(acct, err);
      const rec = err.info.record as Record<string, string> | undefined;
      if (rec) {
        try {
          entry.record = checkRecord(recordFromJson(rec), req, undefined, terms.pricePerCall);
        } catch {
          entry.record = undefined;
        }
      }
      throw err;
    } finally {
      entry.answered = true;
      this.maybeSettle(b);
    }
  }

  private closeBatch(acct: ClientAccount, b: Batch): void {
    if (b.closed) return;
    b.closed = true;
    if (b.timer) clearTimeout(b.timer);
    if (acct.batch === b) acct.batch = undefined;
    this.maybeSettle(b);
  }

  private readonly pendingReceipts = new Set<Promise<VerifiedReceipt>>();

  /** Once a closed batch has all its answers: one voucher and one receipt per contiguous run of records. */
  private maybeSettle(b: Batch): void {
    if (!b.closed || b.entries.some((e) => !e.answered)) return;
    if (b.settling) return;
    b.settling = true;
    const runs: BatchEntry[][] = [];
    let run: BatchEntry[] = [];
    for (const e of [...b.entries].sort((x, y) => (x.req.nonce < y.req.nonce ? -1 : 1))) {
      const contiguous = run.length > 0 && run[run.length - 1]!.req.nonce + 1n === e.req.nonce;
      if (!e.record) {
        e.reject(
          new DefaasError('VOUCHER_MISMATCH', `call ${e.req.nonce} was refused; no receipt covers it`),
        );
        if (run.length) runs.push(run);
        run = [];
        continue;
      }
      if (!contiguous && run.length) {
        runs.push(run);
        run = [];
      }
      run.push(e);
    }
    if (run.length) runs.push(run);
    // settleRun seals its voucher before its first await, so the vouchers are on their way before
    // calls held back by the cap (ClientAccount.reserveUncovered) are sealed.
    for (const r of runs) void this.settleRun(b.account, b.key, r);
    b.account.releaseUncovered(b.entries.length);
  }

  private async settleRun(acct: ClientAccount, priv: Uint8Array, run: BatchEntry[]): Promise<void> {
    const terms = this.accepted.terms;
    const first = run[0]!.req.nonce;
    const last = run[run.length - 1]!.req.nonce;
    acct.authorised += BigInt(run.length) * terms.pricePerCall;
    const voucher = signVoucher(
      this.domain,
      {
        leaseId: terms.leaseId,
        firstNonce: first,
        lastNonce: last,
        requestHead: requestHead(run.map((e) => e.req)),
        cumulativeAmount: acct.authorised,
        deadline: this.voucherDeadline(),
      },
      priv,
    );
    try {
      const res = await this.request('settle', {
        settle: { client: acct.address, voucher: voucherToWire(voucher) },
      });
      if (!res.settle?.receipt) throw new DefaasError('RECEIPT_MISMATCH', 'settle response without receipt');
      const records = run.map((e) => e.record!);
      const verified = this.keep(
        verifyReceipt(receiptFromWire(res.settle.receipt), records, this.expectation()),
        voucher,
      );
      for (const e of run) e.resolve(verified);
    } catch (e) {
      const err = toDefaasError(e);
      for (const x of run) x.reject(err);
    }
  }

  // ---- plumbing ----

  private keep(r: VerifiedReceipt, voucher: SignedVoucher): VerifiedReceipt {
    this.opts.store?.add({ endpoint: this.endpoint, receipt: r, voucher });
    return r;
  }

  private expectation() {
    const a = this.accepted;
    return {
      domain: this.domain,
      leaseId: a.terms.leaseId,
      identityAddress: a.identityAddress,
      evidenceHash: a.verified.evidenceHash,
    };
  }

  private voucherDeadline(): bigint {
    return BigInt(Math.floor(Date.now() / 1000) + (this.opts.voucherTtlSeconds ?? 3600));
  }

  private onCallError(acct: ClientAccount, e: DefaasError): void {
    if (e.code === 'NONCE_STALE' && typeof e.info.nextNonce === 'string') {
      const n = BigInt(e.info.nextNonce);
      if (n > acct.nextNonce) acct.nextNonce = n;
    }
  }

  /**
   * The wallet's account, with this session bound to the wallet: the first use of a wallet on a
   * session (and on every re-opened session) sends a Sync with the client binding (the wallet's
   * signature over the session id and lease; protocol/client-binding.ts), which also
   * reads the executor's next nonce for it.
   */
  private async account(address: string, priv: Uint8Array, retried = false): Promise<ClientAccount> {
    let a = this.accounts.get(address);
    if (!a) {
      a = sharedAccount(this.accepted.terms.leaseId, address);
      this.accounts.set(address, a);
    }
    this.keys.set(address, priv);
    const ch = this.channel;
    try {
      await (this.bindings.get(address) ?? this.startBinding(ch, a, priv));
    } catch (e) {
      const gone = isDefaasError(e, 'SESSION_UNKNOWN') || isDefaasError(e, 'SESSION_EXPIRED');
      if (!gone || retried) throw e;
      await this.reconnect(ch);
      return this.account(address, priv, true);
    }
    return a;
  }

  /** Binds `ch` to the wallet; a failed binding is forgotten, so that the next call tries again. */
  private startBinding(ch: SecureChannel, acct: ClientAccount, priv: Uint8Array): Promise<void> {
    const bound = this.bind(ch, acct, priv);
    this.bindings.set(acct.address, bound);
    bound.catch(() => {
      if (this.bindings.get(acct.address) === bound) this.bindings.delete(acct.address);
    });
    return bound;
  }

  private async bind(ch: SecureChannel, acct: ClientAccount, priv: Uint8Array): Promise<void> {
    const leaseId = this.accepted.terms.leaseId;
    const res = await ch.request('sync', {
      sync: {
        leaseId: leaseId.toString(),
        client: acct.address,
        clientProof: Buffer.from(signClientBinding(priv, ch.accepted.sessionId, leaseId)),
      },
    });
    const next = parseUint(res.sync?.nextNonce ?? '1', 'next nonce', 64);
    if (next > acct.nextNonce) acct.nextNonce = next;
  }

  private assertOpen(): void {
    if (this.closed) throw new DefaasError('SDK_SESSION_CLOSED', 'the session is closed');
  }

  /** A sealed request; re-opens the session once if the executor lost it (restart, expiry). */
  private async request(kind: RequestKind, body: Parameters<SecureChannel['request']>[1]) {
    const ch = this.channel;
    try {
      return await ch.request(kind, body);
    } catch (e) {
      if (!(isDefaasError(e, 'SESSION_UNKNOWN') || isDefaasError(e, 'SESSION_EXPIRED'))) throw e;
      await this.reconnect(ch);
      return await this.channel.request(kind, body);
    }
  }

  private reconnect(stale: SecureChannel): Promise<void> {
    if (this.channel !== stale) return Promise.resolve();
    this.reconnecting ??= (async () => {
      try {
        stale.close();
        this.channel = await handshake(this.client, this.opts);
        // The executor may have restarted: re-deploy, and bind the new session to every wallet used
        // (which also re-reads their nonce floors) before a call is re-sent on it.
        for (const wasm of this.functions.values())
          await this.channel.request('deploy', { deploy: { wasm: Buffer.from(wasm) } });
        this.bindings = new Map();
        const pending: Promise<void>[] = [];
        for (const [address, priv] of this.keys) {
          const acct = this.accounts.get(address);
          if (acct) pending.push(this.startBinding(this.channel, acct, priv));
        }
        await Promise.all(pending);
      } finally {
        this.reconnecting = undefined;
      }
    })();
    return this.reconnecting;
  }
}

async function handshake(client: ExecutorClient, opts: ConnectOptions): Promise<SecureChannel> {
  // Start connecting (TCP + HTTP/2) first, so the key generation below overlaps with it.
  client.getChannel().getConnectivityState(true);
  const hello = startHandshake(opts.mode ?? 'normal');
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const sh = await new Promise<ServerHello__Output>((resolve, reject) =>
    client.OpenSession(hello.message, waitForReady(), { deadline: Date.now() + deadlineMs }, (e, r) =>
      e || !r ? reject(e ?? new DefaasError('TRANSPORT_ERROR', 'empty ServerHello')) : resolve(r),
    ),
  ).catch((e: unknown) => {
    throw toDefaasError(e);
  });
  const accepted = await finishHandshake(hello, sh, {
    policy: opts.policy,
    ...(opts.collateral && { collateral: opts.collateral }),
    ...(opts.snpCollateral && { snpCollateral: opts.snpCollateral }),
    ...(opts.fetchCollateral && {
      fetchCollateral: { ...opts.fetchCollateral, getter: opts.fetchCollateral.getter ?? fetchGetter() },
    }),
    mode: hello.mode,
    now: opts.now === undefined ? new Date() : typeof opts.now === 'function' ? opts.now() : opts.now,
    ...(opts.roots && { roots: opts.roots }),
    ...(opts.cache && { cache: opts.cache }),
    ...(opts.leaseId !== undefined && { leaseId: opts.leaseId }),
    ...(opts.domain && { domain: opts.domain }),
    ...(opts.identity && { identity: opts.identity }),
  });
  return new SecureChannel(client, accepted, deadlineMs, opts.transport ?? 'unary');
}

function stderrOf(inv: { stderr: Buffer; stderrTruncatedBytes: string }) {
  return { stderr: new Uint8Array(inv.stderr), stderrTruncatedBytes: Number(inv.stderrTruncatedBytes) };
}

function recordFromJson(o: Record<string, string>): CallRecord {
  return {
    nonce: parseUint(String(o.nonce), 'record.nonce', 64),
    functionHash: String(o.functionHash),
    inputHash: String(o.inputHash),
    outputHash: String(o.outputHash),
    usage: parseUint(String(o.usage), 'record.usage', 64),
    price: parseUint(String(o.price), 'record.price'),
  };
}

function receiptFromJson(o: Record<string, string>) {
  const hex = (s: unknown) => Buffer.from(String(s).replace(/^0x/, ''), 'hex');
  return receiptFromWire({
    leaseId: String(o.leaseId),
    firstNonce: String(o.firstNonce),
    lastNonce: String(o.lastNonce),
    recordHead: hex(o.recordHead),
    evidenceHash: hex(o.evidenceHash),
    startedAt: String(o.startedAt),
    finishedAt: String(o.finishedAt),
    signature: hex(o.signature),
  });
}
