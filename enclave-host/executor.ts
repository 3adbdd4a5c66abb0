import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ZeroAddress } from 'ethers';
import type { Logger } from 'pino';
import { toHex } from '../attestation/bytes.js';
import type { ClientHello__Output } from '../proto/gen/defaas/executor/v1/ClientHello.js';
import type { ExecutorHandlers } from '../proto/gen/defaas/executor/v1/Executor.js';
import type { InvokeRequest__Output } from '../proto/gen/defaas/executor/v1/InvokeRequest.js';
import type { SealedFrame, SealedFrame__Output } from '../proto/gen/defaas/executor/v1/SealedFrame.js';
import type { ServerHello } from '../proto/gen/defaas/executor/v1/ServerHello.js';
import type { HealthHandlers } from '../proto/gen/grpc/health/v1/Health.js';
import {
  encodedSealedFrame,
  loadProtos,
  responseParts,
  type SessionRequest__Output,
  type SessionResponse,
  sessionCodec,
} from '../proto/load.js';
import { asBuffer } from '../protocol/buffers.js';
import { callOutputHash } from '../protocol/call-records.js';
import { clientBindingSigner } from '../protocol/client-binding.js';
import { isSessionError, SessionError, sessionFail } from '../protocol/errors.js';
import { sealedLength } from '../protocol/frame-cipher.js';
import { isPrivateKey } from '../protocol/secp256k1.js';
import { type SignedReceipt, sha256Hex } from '../protocol/settlement.js';
import type { LeaseTermsFields, LimitsFields, SessionMode } from '../protocol/transcript.js';
import { type CallRecord, type TypedDataDomain, typedDataJson } from '../protocol/typed-data.js';
import {
  infoJson,
  parseUint,
  receiptToWire,
  recordToWire,
  termsToWire,
  voucherFromWire,
} from '../protocol/wire.js';
import { ENCLAVE_HOST_ERROR_KINDS, EnclaveHostError, fail, isEnclaveHostError } from './errors.js';
import { Account } from './ledger/account.js';
import { FileNonceStore, MemoryNonceStore, type NonceStore } from './ledger/nonce-store.js';
import { toServiceError, toWireError } from './rpc-errors.js';
import { type FunctionOutput, type FunctionRuntime, functionOutputOf } from './runtime/function-runtime.js';
import { EphemeralPool } from './session/ephemeral-pool.js';
import { type CollateralHook, EvidenceSource, type QuoteSource } from './session/evidence-source.js';
import { respondToHello } from './session/handshake.js';
import { HandshakeLimiter, peerAddress } from './session/handshake-limiter.js';
import { type EnclaveIdentity, generateEnclaveIdentity } from './session/identity.js';
import type { ServerSession } from './session/server-session.js';
import { SessionTable } from './session/session-table.js';

/** The slice of FunctionRuntime the executor uses (enclave-host/runtime/function-runtime.ts). */
export type Runtime = Pick<
  FunctionRuntime,
  'register' | 'unregister' | 'invoke' | 'close' | 'has' | 'effectiveLimits'
>;

/**
 * Bytes a sealed InvokeResponse (or function error) adds to its output and stderr: the SealedFrame
 * fields (16-byte session id, seq, length prefixes), the 16-byte Poly1305 tag, the SessionResponse /
 * InvokeResponse / ErrorDetail tags and lengths, the call record and receipt (binary or as info
 * JSON) and the error message. They come to under 3 KiB; 8 KiB leaves a margin.
 */
export const SEALED_RESPONSE_OVERHEAD_BYTES = 8 * 1024;

/** See ExecutorOptions.leaseCheck. `client` and `enclave` are lower-case 0x addresses. */
export type LeaseCheck = (q: { leaseId: bigint; client: string; enclave: string }) => Promise<void>;

export interface ExecutorOptions {
  readonly quotes: QuoteSource;
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** uint256 lease served. Standalone default: a random 64-bit dev lease. */
  readonly leaseId?: bigint;
  /** EIP-712 domain. Standalone default: chainId 31337 (anvil) and the zero address. */
  readonly domain?: TypedDataDomain;
  readonly pricePerCall?: bigint;
  /** Directory for the persisted nonce ceilings; without it a restart forgets them (tests only). */
  readonly stateDir?: string;
  readonly sessionTtlMs?: number;
  readonly maxSessions?: number;
  /** Open sessions of one peer address at most (default 64). */
  readonly maxSessionsPerPeer?: number;
  /** A session that carried no authenticated frame yet expires this long after opening (default 60 s). */
  readonly unusedSessionTtlMs?: number;
  /** Handshakes per second one peer address may start (default 20, burst 40). */
  readonly handshakesPerSecond?: number;
  /** Replay window of sealed-frame sequence numbers and of call nonces. */
  readonly window?: number;
  readonly batchMaxCalls?: number;
  readonly batchMaxMillis?: number;
  /** How long a call over the uncovered cap, or a voucher over unfinished calls, may wait. */
  readonly voucherWaitMs?: number;
  /** Largest gRPC message accepted (sealed frames included). */
  readonly maxMessageBytes?: number;
  readonly identity?: EnclaveIdentity;
  /** Builds the presented bundle from evidence and auxblob; default: `hostCollateral` (SNP certificate table). */
  readonly collateral?: CollateralHook;
  /**
   * Asked before a client's first call on the lease and again once `leaseCheckTtlMs` passed (e.g. the
   * chain's Settlement: lease open, bound to this enclave, client its customer). Throws a SessionError
   * to refuse (LEASE_NOT_ACTIVE, NOT_LEASE_CUSTOMER, WRONG_LEASE, LEASE_CHECK_UNAVAILABLE); any other
   * failure refuses as LEASE_CHECK_UNAVAILABLE. Default: none (standalone: any client that signs).
   */
  readonly leaseCheck?: LeaseCheck;
  /** How long a passed lease check is trusted; default 10 s (a closed lease stops being served within it). */
  readonly leaseCheckTtlMs?: number;
  readonly now?: () => number;
}

const NONCE_RESERVE_BLOCK = 1024n;
const EMPTY = Buffer.alloc(0);

type Kind = 'deploy' | 'invoke' | 'settle' | 'sync' | 'undeploy';

/**
 * The executor's gRPC server: GetEvidence, the handshake, sealed Deploy/Invoke/Settle/Sync (unary
 * and the InvokeStream bidi variant), and grpc.health.v1. Every handler answers exactly once, with
 * a sealed response or with a status from the table in rpc-errors.ts.
 */
export class Executor {
  readonly identity: EnclaveIdentity;
  readonly leaseId: bigint;
  readonly domain: TypedDataDomain;
  readonly terms: LeaseTermsFields;
  private readonly evidence: EvidenceSource;
  private readonly ephemerals = new EphemeralPool();
  private readonly sessions: SessionTable;
  private readonly handshakes: HandshakeLimiter;
  private readonly accounts = new Map<string, Account>();
  private readonly leaseChecks = new Map<string, { until: number; passed: Promise<void> }>();
  private readonly server: grpc.Server;
  private readonly codec = sessionCodec();
  private readonly log: Logger;
  /** Function failures thrown by `invoke`, with what the function wrote (see `errorResponse`). */
  private readonly callOutputs = new WeakMap<object, FunctionOutput>();
  private readonly now: () => number;
  private store: NonceStore = new MemoryNonceStore();
  private serving = false;
  private readonly healthWatchers = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  private readonly o: Required<
    Pick<
      ExecutorOptions,
      | 'sessionTtlMs'
      | 'maxSessions'
      | 'window'
      | 'batchMaxCalls'
      | 'batchMaxMillis'
      | 'voucherWaitMs'
      | 'maxMessageBytes'
    >
  >;

  constructor(private readonly opts: ExecutorOptions) {
    this.identity = opts.identity ?? generateEnclaveIdentity();
    if (!isPrivateKey(this.identity.identityPrivateKey)) throw new TypeError('invalid identity key');
    this.leaseId = opts.leaseId ?? BigInt(`0x${toHex(randomBytes(8))}`);
    this.domain = opts.domain ?? { chainId: 31337n, verifyingContract: ZeroAddress };
    this.now = opts.now ?? Date.now;
    this.log = opts.logger;
    this.o = {
      sessionTtlMs: opts.sessionTtlMs ?? 3_600_000,
      maxSessions: opts.maxSessions ?? 1024,
      window: opts.window ?? 1024,
      batchMaxCalls: opts.batchMaxCalls ?? 64,
      batchMaxMillis: opts.batchMaxMillis ?? 100,
      voucherWaitMs: opts.voucherWaitMs ?? 2_000,
      maxMessageBytes: opts.maxMessageBytes ?? 40 * 1024 * 1024,
    };
    const rl = opts.runtime.effectiveLimits;
    const limits: LimitsFields = {
      memoryBytes: BigInt(rl.memoryBytes),
      wallTimeMs: rl.wallTimeMs,
      maxInputBytes: BigInt(rl.maxInputBytes),
      maxOutputBytes: BigInt(rl.maxOutputBytes),
      maxStderrBytes: BigInt(rl.maxLogBytes),
      maxMessageBytes: BigInt(this.o.maxMessageBytes),
    };
    checkLimitsFit(limits);
    this.terms = {
      leaseId: this.leaseId,
      chainId: this.domain.chainId,
      verifyingContract: this.domain.verifyingContract.toLowerCase(),
      pricePerCall: opts.pricePerCall ?? 0n,
      batchMaxCalls: this.o.batchMaxCalls,
      batchMaxMillis: this.o.batchMaxMillis,
      limits,
    };
    this.evidence = new EvidenceSource(opts.quotes, this.identity, opts.collateral);
    this.sessions = new SessionTable(
      {
        maxSessions: this.o.maxSessions,
        maxSessionsPerPeer: opts.maxSessionsPerPeer ?? 64,
        unusedTtlMs: opts.unusedSessionTtlMs ?? 60_000,
      },
      this.now,
    );
    const perSecond = opts.handshakesPerSecond ?? 20;
    this.handshakes = new HandshakeLimiter({ perSecond, burst: 2 * perSecond, maxPeers: 4096 }, this.now);
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': this.o.maxMessageBytes,
      'grpc.max_send_message_length': this.o.maxMessageBytes,
    });
    const { executor, health } = loadProtos();
    this.server.addService(executor.defaas.executor.v1.Executor.service, this.handlers());
    this.server.addService(health.grpc.health.v1.Health.service, this.healthHandlers());
  }

  /** Opens the state, obtains the standing evidence, binds `listen` ("host:port"); resolves with the port. */
  async start(listen: string): Promise<number> {
    if (this.opts.stateDir) this.store = await FileNonceStore.open(this.opts.stateDir);
    await this.evidence.standingEvidence();
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    this.serving = true;
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

  /** Stops accepting calls, lets in-flight ones finish (up to `graceMs`), closes the runtime. */
  async stop(graceMs = 5_000): Promise<void> {
    this.serving = false;
    for (const w of this.healthWatchers) {
      w.write({ status: 'NOT_SERVING' });
      w.end();
    }
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
    await this.opts.runtime.close();
    this.log.info('executor stopped');
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** (lease, client) pairs with books kept (a party that never authenticated has none). */
  get clientBooks(): number {
    return this.accounts.size;
  }

  // ---- handlers ----

  private handlers(): ExecutorHandlers {
    return {
      GetEvidence: (_call, cb) => {
        this.evidence.standingEvidence().then(
          (ev) =>
            cb(null, {
              tee: teeEnum(this.evidence.tee),
              evidenceBundle: Buffer.from(ev.bundle),
              keys: this.keysMessage(),
            }),
          (e) => cb(this.fail(e, 'GetEvidence')),
        );
      },
      OpenSession: (call, cb) => {
        this.openSession(call.request, peerAddress(call.getPeer())).then(
          (r) => cb(null, r),
          (e) => cb(this.fail(e, 'OpenSession')),
        );
      },
      Deploy: this.unary('deploy'),
      Invoke: this.unary('invoke'),
      Settle: this.unary('settle'),
      Sync: this.unary('sync'),
      Undeploy: this.unary('undeploy'),
      InvokeStream: (call) => this.stream(call),
    };
  }

  private healthHandlers(): HealthHandlers {
    const statusFor = (service: string) =>
      service === '' || service === 'defaas.executor.v1.Executor'
        ? this.serving
          ? 'SERVING'
          : 'NOT_SERVING'
        : 'SERVICE_UNKNOWN';
    return {
      Check: (call, cb) => {
        const s = statusFor(call.request.service);
        if (s === 'SERVICE_UNKNOWN') cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else cb(null, { status: s });
      },
      List: (_call, cb) => {
        cb(null, {
          statuses: {
            '': { status: statusFor('') },
            'defaas.executor.v1.Executor': { status: statusFor('') },
          },
        });
      },
      Watch: (call) => {
        call.write({ status: statusFor(call.request.service) });
        this.healthWatchers.add(call as grpc.ServerWritableStream<unknown, unknown>);
        call.on('cancelled', () =>
          this.healthWatchers.delete(call as grpc.ServerWritableStream<unknown, unknown>),
        );
      },
    };
  }

  private fail(e: unknown, rpc: string, seal?: (plaintext: Buffer) => Buffer): grpc.ServiceError {
    const w = toWireError(e);
    if (w.code === 'EXECUTOR_INTERNAL') this.log.error({ err: e, rpc }, 'internal error');
    else this.log.debug({ rpc, code: w.code }, 'request refused');
    return toServiceError(w, seal) as grpc.ServiceError;
  }

  private async openSession(h: ClientHello__Output, peer: string): Promise<ServerHello> {
    if (!this.serving) sessionFail('EXECUTOR_SHUTTING_DOWN', 'the executor is shutting down');
    // Rate, table and replay checks come before any state is kept: a refused handshake leaves none.
    this.handshakes.take(peer);
    const mode: SessionMode | undefined =
      h.mode === 'SESSION_MODE_FRESH' ? 'fresh' : h.mode === 'SESSION_MODE_NORMAL' ? 'normal' : undefined;
    if (!mode) sessionFail('HANDSHAKE_MALFORMED', `unsupported session mode ${h.mode}`);
    this.sessions.reserve(peer);
    this.sessions.checkHello(h.clientNonce);
    const now = this.now();
    const out = await respondToHello(
      { version: h.version, clientEphemeral: h.clientEphemeral, clientNonce: h.clientNonce, mode },
      {
        identity: this.identity,
        evidence: this.evidence,
        terms: this.terms,
        sessionTtlMs: this.o.sessionTtlMs,
        windowSize: this.o.window,
        now,
        ephemeral: () => this.ephemerals.take(),
      },
    );
    out.session.peer = peer;
    this.sessions.add(out.session, peer, h.clientNonce);
    // Key derivation after the ServerHello is sent (the client needs longer than that to check it).
    const opened = out.session;
    setImmediate(() => opened.prepare());
    this.log.debug({ session: toHex(out.session.id), mode }, 'session opened');
    const f = out.fields;
    return {
      version: f.version,
      sessionId: Buffer.from(f.sessionId),
      serverEphemeral: Buffer.from(f.serverEphemeral),
      tee: teeEnum(f.tee),
      evidenceBundle: Buffer.from(out.evidenceBundle),
      keys: this.keysMessage(),
      terms: termsToWire(f.terms),
      expiresInMs: f.expiresInMs.toString(),
      transcriptSignature: Buffer.from(out.signature),
    };
  }

  private keysMessage() {
    return {
      identityAddress: this.identity.identityAddress,
      staticX25519: Buffer.from(this.identity.staticKey.publicKey),
    };
  }

  private unary(kind: Kind): grpc.handleUnaryCall<SealedFrame__Output, SealedFrame> {
    return (call, cb) => {
      let answered = false;
      const answer = (err: grpc.ServiceError | null, res?: SealedFrame) => {
        if (answered) return;
        answered = true;
        cb(err, res);
      };
      try {
        const { session, seq, body } = this.openFrame(call.request);
        // The frame was opened in place: its buffer now holds the plaintext, which `body` views. The
        // call object keeps its request until it ends; drop its reference so the buffer lives only
        // as long as the request body does.
        call.request.ciphertext = EMPTY;
        this.dispatch(session, body, kind).then(
          (resp) => answer(null, this.sealResponse(session, seq, resp)),
          (e) => {
            // A function that ran and failed: its error, with what it wrote, is the sealed response
            // (too large for a trailer, and only ever sealed). The status is OK: the call was served.
            const out = this.callOutputs.get(e as object);
            if (out) return answer(null, this.sealResponse(session, seq, this.errorResponse(e, out)));
            // Any other refusal of an authenticated request: the detail goes back sealed in a trailer.
            answer(this.fail(e, kind, (plain) => session.tx.seal(session.id, seq, plain)));
          },
        );
      } catch (e) {
        answer(this.fail(e, kind));
      }
    };
  }

  private stream(call: grpc.ServerDuplexStream<SealedFrame__Output, SealedFrame>): void {
    let last = -1n;
    let closed = false;
    let inFlight = 0;
    let ended = false;
    const finishIfDone = () => {
      if (ended && inFlight === 0 && !closed) {
        closed = true;
        call.end();
      }
    };
    const abort = (e: unknown) => {
      if (closed) return;
      closed = true;
      call.emit('error', this.fail(e, 'InvokeStream'));
    };
    call.on('data', (frame: SealedFrame__Output) => {
      if (closed) return;
      try {
        const seq = parseSeq(frame.seq);
        // A stream keeps order: anything not above the previous frame was reordered or replayed.
        if (seq <= last)
          sessionFail(
            'FRAME_OUT_OF_WINDOW',
            `frame ${seq} is not above the previous frame ${last} of this stream`,
          );
        const { session, body } = this.openFrame(frame);
        last = seq;
        inFlight++;
        this.dispatch(session, body, undefined)
          .catch((e): SessionResponse => {
            if (toWireError(e).code === 'EXECUTOR_INTERNAL') this.log.error({ err: e }, 'internal error');
            return this.errorResponse(e, this.callOutputs.get(e as object));
          })
          .then((resp) => {
            inFlight--;
            if (!closed) call.write(this.sealResponse(session, seq, resp));
            finishIfDone();
          });
      } catch (e) {
        abort(e);
      }
    });
    call.on('end', () => {
      ended = true;
      finishIfDone();
    });
    call.on('error', () => {
      closed = true;
    });
    call.on('cancelled', () => {
      closed = true;
    });
  }

  /** Session lookup, replay window, AEAD open, decode. Throws typed errors; never answers. */
  private openFrame(frame: SealedFrame__Output): {
    session: ServerSession;
    seq: bigint;
    body: SessionRequest__Output;
  } {
    if (!this.serving) sessionFail('EXECUTOR_SHUTTING_DOWN', 'the executor is shutting down');
    if (frame.sessionId.length !== 16) sessionFail('FRAME_MALFORMED', 'session id must be 16 bytes');
    const session = this.sessions.get(frame.sessionId);
    const seq = parseSeq(frame.seq);
    const verdict = session.window.check(seq);
    if (verdict === 'replayed') sessionFail('FRAME_REPLAYED', `frame ${seq} was already received`);
    if (verdict === 'out-of-window')
      sessionFail('FRAME_OUT_OF_WINDOW', `frame ${seq} is older than the replay window`, {
        highest: session.window.highestSeen.toString(),
      });
    // The received frame is ours alone: decrypt over it (no payload-sized allocation).
    const plain = session.rx.openInPlace(session.id, seq, frame.ciphertext);
    if (!plain)
      sessionFail('FRAME_AUTH_FAILED', 'frame does not authenticate (tampered, or not for this session)');
    session.window.accept(seq);
    session.used = true;
    let body: SessionRequest__Output;
    try {
      body = this.codec.decodeRequest(plain);
    } catch (e) {
      return sessionFail('REQUEST_MALFORMED', 'sealed request is not a SessionRequest', {}, e);
    }
    return { session, seq, body };
  }

  /** A sealed error response; `out` (a function failure's stdout and stderr) only ever travels here. */
  private errorResponse(e: unknown, out: FunctionOutput | undefined): SessionResponse {
    const w = toWireError(e);
    return {
      error: {
        code: w.code,
        message: w.message,
        infoJson: infoJson(w.info),
        ...(out && {
          functionOutput: {
            stdout: asBuffer(out.stdout),
            stderr: asBuffer(out.stderr),
            stderrTruncatedBytes: out.stderrDropped.toString(),
          },
        }),
      },
    };
  }

  /** Seals straight into the frame's wire encoding (no second copy of the payload). */
  private sealResponse(session: ServerSession, seq: bigint, resp: SessionResponse): SealedFrame {
    const plain = responseParts(this.codec, resp);
    return encodedSealedFrame(session.id, seq, sealedLength(plain.length), (out, at) =>
      session.tx.sealPartsInto(session.id, seq, plain.parts, out, at),
    );
  }

  private async dispatch(
    session: ServerSession,
    req: SessionRequest__Output,
    expected: Kind | undefined,
  ): Promise<SessionResponse> {
    const kind = req.body;
    if (!kind || (expected && kind !== expected))
      sessionFail('REQUEST_MALFORMED', `expected a ${expected ?? 'session'} request, got ${kind ?? 'none'}`);
    switch (kind) {
      case 'deploy': {
        const wasm = req.deploy?.wasm ?? Buffer.alloc(0);
        // The deploying party is the session's peer address: its quota of functions is shared by
        // all its sessions, which it could otherwise open to deploy without bound.
        const fnId = await this.opts.runtime.register(wasm, session.peer);
        this.log.info({ fnId, bytes: wasm.length }, 'function deployed');
        return { deploy: { functionId: Buffer.from(fnId, 'hex') } };
      }
      case 'undeploy': {
        const id = req.undeploy?.functionId ?? Buffer.alloc(0);
        if (id.length !== 32) sessionFail('REQUEST_MALFORMED', 'function id must be 32 bytes');
        return { undeploy: { removed: this.opts.runtime.unregister(id.toString('hex'), session.peer) } };
      }
      case 'invoke':
        return { invoke: await this.invoke(session, req.invoke!) };
      case 'settle': {
        const s = req.settle!;
        if (!s.voucher) sessionFail('REQUEST_MALFORMED', 'settle without a voucher');
        const lease = this.parseLease(s.voucher.leaseId);
        const client = parseClient(s.client);
        // A refused Settle naming a wallet without books leaves none behind.
        const account = this.account(lease, client, false);
        const receipt = await account.settle(
          voucherFromWire(s.voucher),
          session.evidenceHash,
          this.identity.identityPrivateKey,
        );
        if (!this.accounts.has(`${lease}/${client}`)) this.accounts.set(`${lease}/${client}`, account);
        return { settle: { receipt: receiptToWire(receipt) } };
      }
      case 'sync': {
        const s = req.sync!;
        const lease = this.parseLease(s.leaseId);
        const client = parseClient(s.client);
        if (s.clientProof.length > 0) {
          const signer = clientBindingSigner(s.clientProof, session.id, lease);
          if (signer !== client)
            sessionFail('CLIENT_PROOF_INVALID', 'the client binding is not signed by the client wallet', {
              client,
              ...(signer && { signer }),
            });
          session.boundClients.add(`${lease}/${client}`);
        }
        // Only a bound client gets books kept here; an unproven Sync reads without creating any.
        const st = this.account(lease, client, session.boundClients.has(`${lease}/${client}`)).status;
        return {
          sync: {
            nextNonce: st.nextNonce.toString(),
            vouchedThrough: st.vouchedThrough.toString(),
            cumulativeAmount: st.cumulativeAmount.toString(),
          },
        };
      }
    }
  }

  private async invoke(session: ServerSession, r: InvokeRequest__Output) {
    const lease = this.parseLease(r.leaseId);
    const client = parseClient(r.client);
    if (r.functionId.length !== 32) sessionFail('REQUEST_MALFORMED', 'function id must be 32 bytes');
    const voucher = r.voucher ? voucherFromWire(r.voucher) : undefined;
    // A batched call names its client without a signature: the session must be bound to it.
    if (!voucher && !session.boundClients.has(`${lease}/${client}`))
      sessionFail(
        'CLIENT_NOT_BOUND',
        `a call without a voucher needs this session bound to ${client} (Sync with client_proof)`,
        { client },
      );
    const req = {
      nonce: parseUint(r.nonce, 'nonce', 64),
      functionHash: `0x${r.functionId.toString('hex')}`,
      inputHash: sha256Hex(r.input),
    };
    // Books are kept only once the voucher passed: a refused first call leaves none behind. The
    // chain is asked about the client only once it is authenticated (voucher or bound session), so
    // made-up client names cost a signature check, never a lease lookup.
    const account = this.account(lease, client, false);
    if (voucher) account.checkInlineVoucher(voucher, req);
    await this.checkLease(lease, client);
    // A call that cannot run is refused before its nonce is taken: no record, no charge, no books
    // (docs/runtime.md, "Charging rule"). Only after authentication: a stranger learns nothing about
    // which functions are deployed.
    const fnId = r.functionId.toString('hex');
    if (!this.opts.runtime.has(fnId)) fail('FUNCTION_NOT_FOUND', `no function ${fnId} is deployed`, { fnId });
    const maxInput = this.terms.limits.maxInputBytes;
    if (BigInt(r.input.length) > maxInput)
      fail('INPUT_TOO_LARGE', `the input is ${r.input.length} bytes, over the limit of ${maxInput}`, {
        inputBytes: r.input.length,
        maxInputBytes: Number(maxInput),
      });
    this.accounts.set(`${lease}/${client}`, account);
    await account.admit(req, voucher !== undefined);
    // From here on the nonce is spent. A call the function ran yields a record (and is charged)
    // whether it succeeds or fails; a call the runtime refused without running it (busy, closed, a
    // worker that failed to start) is abandoned: no record, no charge.
    let output: Uint8Array | undefined;
    let stderr: Uint8Array = EMPTY;
    let stderrDropped = 0;
    let usage = 0n;
    let failure: unknown;
    try {
      // The client is authenticated here (voucher checked or session bound): it is the tenant.
      const res = await this.opts.runtime.invoke(fnId, r.input, client);
      output = res.output;
      stderr = res.stderr;
      stderrDropped = res.stderrDropped;
      usage = res.usage.wallMicros;
    } catch (e) {
      if (!ranAndFailed(e)) {
        account.abandon(req.nonce);
        throw e;
      }
      failure = e;
    }
    const errorCode = failure === undefined ? undefined : toWireError(failure).code;
    const record: CallRecord = {
      ...req,
      outputHash: callOutputHash(output ?? EMPTY, errorCode),
      usage,
      price: this.terms.pricePerCall,
    };
    account.complete(record);
    let receipt: SignedReceipt | undefined;
    if (voucher)
      receipt = account.receiptFor(
        req.nonce,
        voucher,
        session.evidenceHash,
        this.identity.identityPrivateKey,
      );
    if (failure !== undefined) {
      // The error still carries the call's record (and its receipt in per-call mode) for the books.
      const w = toWireError(failure);
      if (!isEnclaveHostError(failure)) this.log.error({ err: failure }, 'invoke failed');
      const info = {
        ...w.info,
        record: typedDataJson(record),
        ...(receipt && {
          receipt: { ...typedDataJson(receipt.receipt), signature: `0x${toHex(receipt.signature)}` },
        }),
      };
      const err = isEnclaveHostError(failure)
        ? new EnclaveHostError(failure.code, failure.message, info, failure)
        : new SessionError('EXECUTOR_INTERNAL', 'internal error', info);
      this.callOutputs.set(
        err,
        functionOutputOf(failure) ?? { stdout: EMPTY, stderr: EMPTY, stderrDropped: 0 },
      );
      throw err;
    }
    return {
      output: asBuffer(output!),
      record: recordToWire(record),
      ...(receipt && { receipt: receiptToWire(receipt) }),
      stderr: asBuffer(stderr),
      stderrTruncatedBytes: stderrDropped.toString(),
    };
  }

  private parseLease(s: string): bigint {
    const lease = parseUint(s, 'lease id');
    if (lease !== this.leaseId)
      sessionFail('WRONG_LEASE', `this executor serves lease ${this.leaseId}, not ${lease}`);
    return lease;
  }

  /** Runs opts.leaseCheck at most once per TTL per (lease, client); a refusal is not remembered. */
  private checkLease(leaseId: bigint, client: string): Promise<void> {
    const check = this.opts.leaseCheck;
    if (!check) return Promise.resolve();
    const key = `${leaseId}/${client}`;
    const now = this.now();
    const hit = this.leaseChecks.get(key);
    if (hit && hit.until > now) return hit.passed;
    const entry = { until: now + (this.opts.leaseCheckTtlMs ?? 10_000), passed: Promise.resolve() };
    entry.passed = check({ leaseId, client, enclave: this.identity.identityAddress }).catch((e: unknown) => {
      if (this.leaseChecks.get(key) === entry) this.leaseChecks.delete(key);
      if (isSessionError(e)) throw e;
      this.log.warn({ err: e, leaseId: leaseId.toString(), client }, 'lease check failed');
      return sessionFail('LEASE_CHECK_UNAVAILABLE', 'the lease could not be checked now; try again later');
    });
    this.leaseChecks.set(key, entry);
    return entry.passed;
  }

  /** The books of (lease, client); a new one is kept only when `keep` (else it is only looked at). */
  private account(lease: bigint, client: string, keep = true): Account {
    const key = `${lease}/${client}`;
    let a = this.accounts.get(key);
    if (!a) {
      a = new Account({
        leaseId: lease,
        client,
        domain: this.domain,
        store: this.store,
        window: this.o.window,
        maxUncovered: this.o.batchMaxCalls,
        maxVoucherRange: this.o.batchMaxCalls,
        voucherWaitMs: this.o.voucherWaitMs,
        pricePerCall: this.terms.pricePerCall,
        reserveBlock: NONCE_RESERVE_BLOCK,
        now: this.now,
      });
      if (keep) this.accounts.set(key, a);
    }
    return a;
  }
}

/** Whether the runtime ran the function before failing (kind `function`: trap, exit, a limit hit). */
function ranAndFailed(e: unknown): boolean {
  return isEnclaveHostError(e) && ENCLAVE_HOST_ERROR_KINDS[e.code] === 'function';
}

/**
 * Refuses limits that cannot be honoured: a full output (or input) plus stderr and the sealed
 * frame's overhead must fit in one gRPC message, or the executor would run and charge a call whose
 * response cannot be delivered.
 */
export function checkLimitsFit(l: LimitsFields): void {
  const overhead = BigInt(SEALED_RESPONSE_OVERHEAD_BYTES);
  const response = l.maxOutputBytes + l.maxStderrBytes + overhead;
  if (response > l.maxMessageBytes)
    fail(
      'INVALID_ARGUMENT',
      `max output ${l.maxOutputBytes} bytes + max stderr ${l.maxStderrBytes} bytes + ${overhead} bytes of sealed-frame overhead = ${response} bytes does not fit the gRPC max message size of ${l.maxMessageBytes} bytes`,
      {
        maxOutputBytes: Number(l.maxOutputBytes),
        maxStderrBytes: Number(l.maxStderrBytes),
        maxMessageBytes: Number(l.maxMessageBytes),
      },
    );
  const request = l.maxInputBytes + overhead;
  if (request > l.maxMessageBytes)
    fail(
      'INVALID_ARGUMENT',
      `max input ${l.maxInputBytes} bytes + ${overhead} bytes of sealed-frame overhead = ${request} bytes does not fit the gRPC max message size of ${l.maxMessageBytes} bytes`,
      { maxInputBytes: Number(l.maxInputBytes), maxMessageBytes: Number(l.maxMessageBytes) },
    );
}

function parseSeq(s: string): bigint {
  if (!/^[0-9]{1,20}$/.test(s)) sessionFail('FRAME_MALFORMED', 'bad sequence number');
  return BigInt(s);
}

function parseClient(s: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(s))
    sessionFail('REQUEST_MALFORMED', 'client must be a 0x-prefixed 20-byte address');
  return s.toLowerCase();
}

function teeEnum(
  tee: string,
): 'TEE_TYPE_SIMULATED' | 'TEE_TYPE_TDX' | 'TEE_TYPE_SEV_SNP' | 'TEE_TYPE_UNSPECIFIED' {
  return tee === 'simulated'
    ? 'TEE_TYPE_SIMULATED'
    : tee === 'tdx'
      ? 'TEE_TYPE_TDX'
      : tee === 'sev-snp' || tee === 'snp'
        ? 'TEE_TYPE_SEV_SNP'
        : 'TEE_TYPE_UNSPECIFIED';
}
