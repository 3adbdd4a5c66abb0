import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { SnpCollateral } from '../../attestation/bundle.js';
import type { VerifyCache } from '../../attestation/cache.js';
import type { FetchCollateralOptions } from '../../attestation/fetch-collateral.js';
import type { IntelCollateral } from '../../attestation/intel/types.js';
import type { Policy } from '../../attestation/policy.js';
import type { TrustRoots } from '../../attestation/roots.js';
import type { CallRecordMsg__Output } from '../../proto/gen/defaas/executor/v1/CallRecordMsg.js';
import type { CallStatus__Output } from '../../proto/gen/defaas/executor/v1/CallStatus.js';
import type { ExecutorClient } from '../../proto/gen/defaas/executor/v1/Executor.js';
import type { InvokeResponse__Output } from '../../proto/gen/defaas/executor/v1/InvokeResponse.js';
import type { ServerHello__Output } from '../../proto/gen/defaas/executor/v1/ServerHello.js';
import { loadProtos, type SessionRequest, type SessionResponse__Output } from '../../proto/load.js';
import { asBuffer } from '../../protocol/buffers.js';
import { type CallRequest, type CallResult, checkRecord, requestHead } from '../../protocol/call-records.js';
import { signClientBinding } from '../../protocol/client-binding.js';
import { type LogClaims, NO_CLAIMS } from '../../protocol/log-submission.js';
import { probeGrantToWire, type SignedProbeGrant } from '../../protocol/probe-grant.js';
import { type VerifiedReceipt, verifyReceipt } from '../../protocol/receipts.js';
import { type SignedVoucher, sha256Hex, signVoucher } from '../../protocol/settlement.js';
import type { LeaseTermsFields, SessionMode } from '../../protocol/transcript.js';
import type { CallRecord, TypedDataDomain } from '../../protocol/typed-data.js';
import { parseUint, receiptFromWire, recordFromWire, voucherToWire } from '../../protocol/wire.js';
import {
  type CallEvidence,
  DefaasError,
  fromSealedErrorDetail,
  isDefaasError,
  toDefaasError,
} from '../errors.js';
import { fetchGetter } from '../http-getter.js';
import { type LogReceipt, submitToLog } from '../log-writer.js';
import type { ReceiptStore } from '../store.js';
import { signingKey, type WalletLike } from '../wallet.js';
import { type ClientAccount, sharedAccount } from './account.js';
import { Batcher } from './batcher.js';
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
  /**
   * An attestation log to record each evidence this session verifies in (docs/log.md): a
   * `session-verified` entry with the enclave, the lease and `claims`. Written in the background;
   * its outcome (the entry's index or the error) goes to `onLogged` and never fails the session.
   */
  readonly log?: {
    readonly url: string;
    readonly claims?: Partial<LogClaims>;
    readonly onLogged?: (r: LogReceipt | DefaasError) => void;
  };
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
  /**
   * The lease customer's probe grant for this wallet (a witness's hidden probes): the session's
   * binding Sync for the wallet carries it, and the executor serves the wallet within its cap.
   */
  readonly grant?: SignedProbeGrant;
}

/** A call's answer, classified by what the enclave said about it (docs/session.md, "The client's trust rule"). */
type Answer =
  /**
   * The call ran: its sealed response (success, or `error` when the function failed), with its
   * record checked against the request, the lease price and the output (or error) received.
   */
  | { readonly ran: InvokeResponse__Output; readonly record: CallRecord }
  /**
   * The call ran, its response was lost: the record (checked against the request and price; the
   * output is gone) and, if any, the receipt the executor returned through Sync.
   */
  | { readonly recovered: CallStatus__Output; readonly record: CallRecord; readonly cause: DefaasError }
  /** The call did not run, by the enclave's word: `retry` says how it may be sent again. */
  | { readonly refused: DefaasError; readonly retry: 'new-nonce' | 'resync' | false };

/**
 * An attested session to one executor: deploy, invoke, and the voucher/receipt books. Opening it
 * verified the evidence; re-opening (after the executor restarted or the session expired) verifies
 * again and re-deploys the functions this session deployed. Only what the enclave says inside the
 * session moves nonces, amounts or batches; a call that may have run is never sent again unless the
 * executor says, inside the session, that it did not run (docs/session.md, "The client's trust rule").
 */
export class Session {
  private channel: SecureChannel;
  private reconnecting: Promise<void> | undefined;
  private readonly functions = new Map<string, Uint8Array>();
  private readonly accounts = new Map<string, ClientAccount>();
  /** Wallet keys used on this session, to bind a re-opened session to them again. */
  private readonly keys = new Map<string, Uint8Array>();
  /** Probe grants by wallet address, sent with the wallet's binding Sync (InvokeOptions.grant). */
  private readonly grants = new Map<string, SignedProbeGrant>();
  /** Client bindings of the current channel, by wallet address (see `account`). */
  private bindings = new Map<string, Promise<void>>();
  /**
   * The connection dropped since the session last answered: the executor may have restarted, so
   * the session is checked with an idempotent Sync before a call (which must not be re-sent blindly)
   * goes out.
   */
  private connectionLost = false;
  private readonly batcher: Batcher;
  /** Evidence hashes verified per enclave identity, for receipts given again (see `evidenceOf`). */
  private readonly evidence = new Map<string, Uint8Array[]>();
  private closed = false;
  readonly receiptMode: ReceiptMode;

  private constructor(
    readonly endpoint: string,
    private readonly client: ExecutorClient,
    channel: SecureChannel,
    private readonly opts: ConnectOptions,
  ) {
    this.channel = channel;
    this.noteAccepted(channel.accepted);
    this.receiptMode = opts.receipts ?? 'per-call';
    const t = channel.accepted.terms;
    this.batcher = new Batcher(
      { maxCalls: t.batchMaxCalls, maxMillis: t.batchMaxMillis },
      (acct, key, records) => this.settleRun(acct, key, records),
    );
    this.watchConnection();
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

  /**
   * One sealed request on the Challenge RPC (capacity challenges: sdk/session/challenge.ts), sent
   * once on the current session: never sent again (a commitment is timed, and the witness proof
   * names this session's id, so it would not serve on a re-opened one).
   */
  async challengeRequest(body: SessionRequest): Promise<SessionResponse__Output> {
    this.assertOpen();
    try {
      return await this.channel.request('challenge', body);
    } catch (e) {
      throw toDefaasError(e);
    }
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

  /**
   * Like `invoke`, but resolves with the output first; the receipt follows when the batch closes.
   * A function that ran and failed rejects with kind `function`, its verified record and receipt in
   * `error.call` and its partial output in `error.functionOutput`. A call whose response was lost
   * rejects with CALL_OUTPUT_LOST (it ran and is charged; `error.call` holds its record) or
   * CALL_OUTCOME_UNKNOWN (the executor cannot tell); a call the executor says did not run is sent
   * again under a new nonce.
   */
  async invokeDeferred(
    fn: FunctionHandle,
    input: Uint8Array,
    opts: InvokeOptions,
  ): Promise<DeferredInvokeResult> {
    this.assertOpen();
    const key = signingKey(opts.wallet);
    if (opts.grant) this.noteGrant(key.address, opts.grant);
    const inputHash = sha256Hex(input);
    for (let attempt = 0; ; attempt++) {
      const acct = await this.account(key.address, key.privateKey);
      if (this.connectionLost || !this.connected()) await this.checkSession(acct);
      if (this.receiptMode === 'batched') await acct.reserveUncovered(this.accepted.terms.batchMaxCalls);
      const req: CallRequest = { nonce: acct.takeNonce(), functionHash: fn.hash, inputHash };
      let sent: Sent;
      try {
        sent =
          this.receiptMode === 'per-call'
            ? await this.invokePerCall(acct, key.privateKey, fn, input, req)
            : await this.invokeBatched(acct, key.privateKey, fn, input, req);
      } catch (e) {
        // The Invoke went out and no sealed answer said it did not run (`DefaasError.invokeSent`).
        const err = toDefaasError(e);
        err.invokeSent = true;
        throw err;
      }
      if ('result' in sent) return sent.result;
      if (sent.retry === false || attempt >= 2) throw sent.error;
      if (sent.retry === 'resync') await this.resync(acct);
    }
  }

  /** Closes the open batches (batched mode), waits for their receipts, and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.batcher.flush(5_000);
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
  ): Promise<Sent> {
    const terms = this.accepted.terms;
    acct.authorised += terms.pricePerCall;
    const voucher = this.signVoucher(priv, [req], acct.authorised);
    const answer = await this.call(acct, priv, fn, input, req, voucher);
    if ('refused' in answer) {
      // Not run, by the enclave's word: not charged, so later vouchers do not authorise its price.
      // (A voucher already signed for a concurrent later call still counts it; docs/runtime.md.)
      acct.authorised -= terms.pricePerCall;
      return { error: answer.refused, retry: answer.retry };
    }
    const { record } = answer;
    if ('recovered' in answer) {
      const s = answer.recovered;
      const receipt = s.receipt
        ? this.keep(verifyReceipt(receiptFromWire(s.receipt), [record], this.expectation()), voucher)
        : undefined;
      throw outputLost(req.nonce, answer.cause, { record, receipt });
    }
    const inv = answer.ran;
    if (!inv.receipt) throw new DefaasError('RECEIPT_MISMATCH', 'per-call response without receipt');
    const receipt = this.keep(
      verifyReceipt(receiptFromWire(inv.receipt), [record], this.expectation()),
      voucher,
    );
    if (inv.error) throw functionFailed(inv, { record, receipt });
    return { result: { output: inv.output, ...stderrOf(inv), record, receipt: Promise.resolve(receipt) } };
  }

  // ---- batched mode ----

  private async invokeBatched(
    acct: ClientAccount,
    priv: Uint8Array,
    fn: FunctionHandle,
    input: Uint8Array,
    req: CallRequest,
  ): Promise<Sent> {
    const entry = this.batcher.add(acct, priv, req);
    try {
      const answer = await this.call(acct, priv, fn, input, req);
      if ('refused' in answer) return { error: answer.refused, retry: answer.retry };
      // It ran (its answer lost or not): its batch's voucher covers it, like any call of the batch.
      entry.record = answer.record;
      if ('recovered' in answer)
        throw outputLost(req.nonce, answer.cause, { record: entry.record, receipt: entry.receipt });
      const inv = answer.ran;
      if (inv.error) throw functionFailed(inv, { record: entry.record, receipt: entry.receipt });
      return {
        result: { output: inv.output, ...stderrOf(inv), record: entry.record, receipt: entry.receipt },
      };
    } finally {
      this.batcher.answered(entry);
    }
  }

  /** Signs a voucher over a run of ran calls, settles it, and verifies and keeps the receipt. */
  private async settleRun(
    acct: ClientAccount,
    priv: Uint8Array,
    records: readonly CallRecord[],
  ): Promise<VerifiedReceipt> {
    const nonces = records.map((r) => r.nonce);
    // Counted once per call, also when an earlier voucher over it got no receipt.
    acct.countSettled(nonces, this.accepted.terms.pricePerCall);
    let receipt: VerifiedReceipt;
    try {
      receipt = await this.settleOnce(acct, priv, records, acct.authorised);
    } catch (e) {
      // A voucher of this process for calls further on arrived first and now counts calls this one
      // did not (concurrent settles, or two sessions of the wallet): the amount signed since covers
      // them. Signed again once with it (the same calls, a higher amount).
      if (!isDefaasError(e, 'VOUCHER_AMOUNT_TOO_LOW') || e.origin !== 'sealed') throw e;
      receipt = await this.settleOnce(acct, priv, records, acct.authorised);
    }
    acct.receiptFor(nonces);
    return receipt;
  }

  private async settleOnce(
    acct: ClientAccount,
    priv: Uint8Array,
    records: readonly CallRecord[],
    cumulativeAmount: bigint,
  ): Promise<VerifiedReceipt> {
    const voucher = this.signVoucher(priv, records, cumulativeAmount);
    const res = await this.request('settle', {
      settle: { client: acct.address, voucher: voucherToWire(voucher) },
    });
    if (!res.settle?.receipt) throw new DefaasError('RECEIPT_MISMATCH', 'settle response without receipt');
    return this.keep(
      verifyReceipt(receiptFromWire(res.settle.receipt), records, this.expectation()),
      voucher,
    );
  }

  /**
   * Settles the calls the executor lists as ran and not covered (`unsettled` of a binding Sync):
   * calls of an earlier process of this wallet, or whose responses were lost, that would otherwise
   * hold its batched mode at the executor's cap. Calls of this process's open batches are left to
   * their batch. The records come sealed from the enclave, which served them to this wallet.
   */
  private async settleUnsettled(
    acct: ClientAccount,
    priv: Uint8Array,
    unsettled: readonly CallRecord[],
  ): Promise<void> {
    const runs: CallRecord[][] = [];
    for (const r of [...unsettled].sort((a, b) => (a.nonce < b.nonce ? -1 : 1))) {
      if (acct.unsettled.has(r.nonce) || r.price !== this.accepted.terms.pricePerCall) continue;
      const run = runs[runs.length - 1];
      if (
        run &&
        run[run.length - 1]!.nonce + 1n === r.nonce &&
        run.length < this.accepted.terms.batchMaxCalls
      )
        run.push(r);
      else runs.push([r]);
    }
    for (const run of runs)
      await this.settleRun(acct, priv, run).catch(() => {
        // Left for the next binding: the executor keeps listing them until a voucher covers them.
      });
  }

  // ---- one call, and what became of it ----

  /**
   * Sends one Invoke and classifies its answer. A sealed answer is a fact. Anything else (a gRPC
   * status, a stream refusal frame, a response that does not open, a transport failure) says
   * nothing about whether the call ran: the executor is asked inside the session (`askFate`).
   */
  private async call(
    acct: ClientAccount,
    priv: Uint8Array,
    fn: FunctionHandle,
    input: Uint8Array,
    req: CallRequest,
    voucher?: SignedVoucher,
  ): Promise<Answer> {
    let res: SessionResponse__Output;
    const ch = this.channel;
    try {
      res = await ch.request('invoke', {
        invoke: {
          leaseId: this.accepted.terms.leaseId.toString(),
          client: acct.address,
          nonce: req.nonce.toString(),
          functionId: Buffer.from(fn.id, 'hex'),
          input: asBuffer(input),
          ...(voucher && { voucher: voucherToWire(voucher) }),
        },
      });
    } catch (e) {
      const cause = toDefaasError(e);
      // Too large for a sealed frame: refused by the channel before anything was sent, so the
      // nonce is not spent and there is nothing to ask about.
      if (cause.code === 'TRANSPORT_MESSAGE_TOO_LARGE' && cause.origin === 'local')
        return { refused: cause, retry: false };
      if (cause.origin !== 'sealed')
        return this.afterLostAnswer(acct, priv, req, cause, ch.accepted.identityAddress);
      this.connectionLost = false;
      // The executor moved on without this process (another process of the wallet, or a restart):
      // its next nonce and highest amount are read, sealed, and the call goes out once more.
      const behind = ['NONCE_STALE', 'NONCE_TOO_FAR', 'VOUCHER_AMOUNT_TOO_LOW'].includes(cause.code);
      return { refused: cause, retry: behind ? 'resync' : false };
    }
    this.connectionLost = false;
    const inv = res.invoke;
    if (!inv) throw new DefaasError('RECEIPT_MISMATCH', `sealed answer to an invoke is a ${res.body}`);
    if (!inv.record)
      throw new DefaasError('RECEIPT_MISMATCH', `the answer to call ${req.nonce} has no record`);
    const result = { output: inv.output, errorCode: inv.error?.code };
    return { ran: inv, record: this.checkRecord(inv.record, req, result) };
  }

  /** A record the executor returned for `req`, checked (protocol/call-records.ts `checkRecord`). */
  private checkRecord(
    w: CallRecordMsg__Output,
    req: CallRequest,
    result: CallResult | undefined,
  ): CallRecord {
    return checkRecord(recordFromWire(w), req, result, this.accepted.terms.pricePerCall);
  }

  /**
   * What became of a call whose answer was lost or not sealed: the executor is asked inside the
   * session. `sentTo` is the identity address of the enclave the call was sent to.
   */
  private async afterLostAnswer(
    acct: ClientAccount,
    priv: Uint8Array,
    req: CallRequest,
    cause: DefaasError,
    sentTo: string,
  ): Promise<Answer> {
    const fate = await this.askFate(acct, priv, req.nonce, cause, sentTo);
    if (fate.state === 'CALL_STATE_RAN') {
      if (!fate.record)
        throw new DefaasError('RECEIPT_MISMATCH', `Sync says call ${req.nonce} ran, without its record`);
      return { recovered: fate, record: this.checkRecord(fate.record, req, undefined), cause };
    }
    if (fate.state === 'CALL_STATE_NOT_RUN') return { refused: cause, retry: 'new-nonce' };
    throw new DefaasError(
      'CALL_OUTCOME_UNKNOWN',
      `the answer to call ${req.nonce} was lost (${cause.code}) and the executor cannot tell whether it ran`,
      { nonce: req.nonce.toString(), state: fate.state },
      cause,
    );
  }

  /**
   * The fate of `nonce`, from a sealed Sync on a working session: re-opens the session when it is
   * gone (verifying the evidence again), asks again while the call is still running, and gives up
   * with CALL_OUTCOME_UNKNOWN at the deadline. The Sync fences a nonce the executor has not seen,
   * so a NOT_RUN answer stays true, when it comes from the enclave the call was sent to (`sentTo`):
   * another enclave (a re-opened session that a relay took elsewhere) has not seen the call either
   * way, so its NOT_RUN is UNKNOWN.
   */
  private async askFate(
    acct: ClientAccount,
    priv: Uint8Array,
    nonce: bigint,
    cause: DefaasError,
    sentTo: string,
  ): Promise<CallStatus__Output> {
    const deadline = Date.now() + (this.opts.deadlineMs ?? 30_000);
    let last = cause;
    for (let pause = 10; Date.now() < deadline; pause = Math.min(pause * 2, 500)) {
      try {
        if (isSessionGone(last)) await this.reconnect(this.channel);
        await this.account(acct.address, priv);
        const res = await this.channel.request('sync', {
          sync: {
            leaseId: this.accepted.terms.leaseId.toString(),
            client: acct.address,
            nonces: [nonce.toString()],
          },
        });
        this.connectionLost = false;
        const s = res.sync?.calls[0];
        if (!s || s.nonce !== nonce.toString())
          throw new DefaasError('RECEIPT_MISMATCH', `Sync did not answer for call ${nonce}`);
        if (s.state === 'CALL_STATE_NOT_RUN' && this.accepted.identityAddress !== sentTo)
          return { ...s, state: 'CALL_STATE_UNKNOWN' };
        if (s.state !== 'CALL_STATE_RUNNING') return s;
      } catch (e) {
        last = toDefaasError(e);
        // A sealed refusal, or a local check that failed (the re-opened session's evidence, a pinned
        // identity, a bad record), is final; a plaintext error or a transport failure is asked again.
        if (
          last.origin === 'sealed' ||
          (last.origin === 'local' && (last.kind === 'protocol' || last.kind === 'attestation'))
        )
          throw last;
      }
      await sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
    }
    throw new DefaasError(
      'CALL_OUTCOME_UNKNOWN',
      `the answer to call ${nonce} was lost (${cause.code}) and the executor could not be asked in time`,
      { nonce: nonce.toString() },
      last,
    );
  }

  /**
   * Before a call after the connection dropped: an idempotent Sync on the session, which re-opens it
   * if the executor lost it (restarted). The call itself then goes out on a session known to work,
   * instead of being refused on a dead one and leaving its fate unknown.
   */
  private async checkSession(acct: ClientAccount): Promise<void> {
    await this.resync(acct);
    this.connectionLost = false;
  }

  /** Reads the wallet's next nonce and highest accepted amount through a sealed Sync (the session is bound to it). */
  private async resync(acct: ClientAccount): Promise<void> {
    const res = await this.request('sync', {
      sync: { leaseId: this.accepted.terms.leaseId.toString(), client: acct.address },
    });
    acct.syncNonce(parseUint(res.sync?.nextNonce ?? '0', 'next nonce', 64));
    acct.syncAuthorised(parseUint(res.sync?.cumulativeAmount || '0', 'cumulative amount'));
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
      evidenceHash: this.evidenceOf(a),
    };
  }

  /** The evidence hashes this Session verified for the identity of `a` (one per session in fresh mode). */
  private evidenceOf(a: AcceptedSession): readonly Uint8Array[] {
    return this.evidence.get(a.identityAddress) ?? [a.verified.evidenceHash];
  }

  /** Remembers what an accepted handshake verified (see `evidenceOf`), and logs it when asked to. */
  private noteAccepted(a: AcceptedSession): void {
    const seen = this.evidence.get(a.identityAddress) ?? [];
    const isNew = !seen.some((h) => Buffer.from(h).equals(a.verified.evidenceHash));
    if (isNew) seen.push(a.verified.evidenceHash);
    this.evidence.set(a.identityAddress, seen);
    const log = this.opts.log;
    if (log === undefined || !isNew) return;
    // In the background: the log's answer never changes the session.
    submitToLog(log.url, {
      kind: 'session-verified',
      evidence: a.evidenceBundle,
      ...NO_CLAIMS,
      enclave: a.identityAddress,
      leaseId: a.terms.leaseId.toString(),
      verdict: 'accepted',
      ...log.claims,
    }).then(
      (r) => log.onLogged?.(r),
      (e: unknown) => log.onLogged?.(toDefaasError(e)),
    );
  }

  /** The wallet's voucher over the contiguous calls `reqs` (their request chain), for `amount`. */
  private signVoucher(priv: Uint8Array, reqs: readonly CallRequest[], amount: bigint): SignedVoucher {
    return signVoucher(
      this.domain,
      {
        leaseId: this.accepted.terms.leaseId,
        firstNonce: reqs[0]!.nonce,
        lastNonce: reqs[reqs.length - 1]!.nonce,
        requestHead: requestHead(reqs),
        cumulativeAmount: amount,
        deadline: BigInt(Math.floor(Date.now() / 1000) + (this.opts.voucherTtlSeconds ?? 3600)),
      },
      priv,
    );
  }

  /**
   * The wallet's account, with this session bound to the wallet: the first use of a wallet on a
   * session (and on every re-opened session) sends a Sync with the client binding (the wallet's
   * signature over the session id and lease; protocol/client-binding.ts), which also reads the
   * executor's next nonce, the highest amount it accepted, and the calls it holds unsettled.
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
      if (!isSessionGone(e) || retried) throw e;
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

  /** A grant other than the one the wallet's binding carried binds the wallet again with it. */
  private noteGrant(address: string, grant: SignedProbeGrant): void {
    const held = this.grants.get(address);
    if (held && Buffer.from(held.signature).equals(grant.signature)) return;
    this.grants.set(address, grant);
    this.bindings.delete(address);
  }

  private async bind(ch: SecureChannel, acct: ClientAccount, priv: Uint8Array): Promise<void> {
    const leaseId = this.accepted.terms.leaseId;
    const grant = this.grants.get(acct.address);
    const res = await ch.request('sync', {
      sync: {
        leaseId: leaseId.toString(),
        client: acct.address,
        clientProof: Buffer.from(signClientBinding(priv, ch.accepted.sessionId, leaseId)),
        ...(grant && { probeGrant: probeGrantToWire(grant) }),
      },
    });
    const sync = res.sync;
    if (!sync) throw new DefaasError('RECEIPT_MISMATCH', `sealed answer to a Sync is a ${res.body}`);
    acct.syncNonce(parseUint(sync.nextNonce, 'next nonce', 64));
    acct.syncAuthorised(parseUint(sync.cumulativeAmount || '0', 'cumulative amount'));
    if (sync.unsettled.length > 0) await this.settleUnsettled(acct, priv, sync.unsettled.map(recordFromWire));
  }

  private assertOpen(): void {
    if (this.closed) throw new DefaasError('SDK_SESSION_CLOSED', 'the session is closed');
  }

  /**
   * An idempotent sealed request (Deploy, Undeploy, Sync, Settle with a signed voucher). Only a
   * sealed answer is final; a plaintext error or a lost answer says nothing, so the request goes
   * again, up to REQUEST_ATTEMPTS times in all (docs/session.md, "The client's trust rule", 2): on a
   * re-opened session if the executor lost the session (restart, expiry), else after a short pause.
   * A Settle sent again gets the same receipt. Never used for Invoke, which must not be sent twice.
   */
  private async request(kind: Exclude<RequestKind, 'invoke'>, body: Parameters<SecureChannel['request']>[1]) {
    for (let attempt = 1; ; attempt++) {
      const ch = this.channel;
      try {
        const res = await ch.request(kind, body);
        this.connectionLost = false;
        return res;
      } catch (e) {
        const err = toDefaasError(e);
        if (err.origin === 'sealed' || attempt >= REQUEST_ATTEMPTS) throw err;
        if (isSessionGone(err)) await this.reconnect(ch);
        else await sleep(20 * attempt);
      }
    }
  }

  private reconnect(stale: SecureChannel): Promise<void> {
    if (this.channel !== stale) return Promise.resolve();
    this.reconnecting ??= (async () => {
      try {
        stale.close();
        this.channel = await handshake(this.client, this.opts);
        this.noteAccepted(this.channel.accepted);
        this.connectionLost = false;
        // The executor may have restarted: re-deploy, and bind the new session to every wallet used
        // (which also re-reads their nonce floors) before a call is sent on it.
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

  /** Whether the gRPC connection is up now (a call then reaches the instance that holds the session). */
  private connected(): boolean {
    return this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
  }

  /** Notes when the connection leaves READY (see `connectionLost`). */
  private watchConnection(): void {
    const ch = this.client.getChannel();
    const watch = (state: grpc.connectivityState) => {
      if (this.closed || state === grpc.connectivityState.SHUTDOWN) return;
      ch.watchConnectivityState(state, Infinity, () => {
        const next = ch.getConnectivityState(false);
        if (state === grpc.connectivityState.READY && next !== grpc.connectivityState.READY)
          this.connectionLost = true;
        watch(next);
      });
    };
    watch(ch.getConnectivityState(false));
  }
}

/** Attempts of an idempotent request whose answers are lost or refused in the clear (`request`). */
const REQUEST_ATTEMPTS = 3;

/** What one attempt of a call came to: its result, or a refusal saying whether it may be sent again. */
type Sent =
  | { readonly result: DeferredInvokeResult }
  | { readonly error: DefaasError; readonly retry: 'new-nonce' | 'resync' | false };

/** The session is gone at the executor (restart, expiry): a new handshake is needed, nothing ran. */
function isSessionGone(e: unknown): boolean {
  return isDefaasError(e, 'SESSION_UNKNOWN') || isDefaasError(e, 'SESSION_EXPIRED');
}

/** The function ran and failed: a `function` error carrying the verified call and what it wrote. */
function functionFailed(inv: InvokeResponse__Output, call: CallEvidence): DefaasError {
  const d = inv.error!;
  const e = fromSealedErrorDetail(d);
  e.call = call;
  e.functionOutput = { stdout: new Uint8Array(inv.output), ...stderrOf(inv) };
  return e;
}

function outputLost(nonce: bigint, cause: DefaasError, call: CallEvidence): DefaasError {
  const e = new DefaasError(
    'CALL_OUTPUT_LOST',
    `call ${nonce} ran and is charged, but its answer was lost (${cause.code})`,
    { nonce: nonce.toString() },
    cause,
  );
  e.call = call;
  return e;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
