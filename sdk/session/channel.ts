import * as grpc from '@grpc/grpc-js';
import type { ExecutorClient } from '../../proto/gen/defaas/executor/v1/Executor.js';
import type { SealedFrame, SealedFrame__Output } from '../../proto/gen/defaas/executor/v1/SealedFrame.js';
import {
  encodedSealedFrame,
  requestParts,
  type SessionRequest,
  type SessionResponse__Output,
  sessionCodec,
} from '../../proto/load.js';
import { isSessionError } from '../../protocol/errors.js';
import { FrameCipher } from '../../protocol/frame-cipher.js';
import { DefaasError, fromGrpcError, fromPlainErrorDetail, fromSealedErrorDetail } from '../errors.js';
import type { AcceptedSession } from './handshake.js';

export type RequestKind = 'deploy' | 'invoke' | 'settle' | 'sync' | 'undeploy' | 'challenge';
/** `unary`: one RPC per request. `stream`: all requests on one InvokeStream (bidi) call, in order. */
export type Transport = 'unary' | 'stream';
const METHOD = {
  deploy: 'Deploy',
  invoke: 'Invoke',
  settle: 'Settle',
  sync: 'Sync',
  undeploy: 'Undeploy',
  challenge: 'Challenge',
} as const;

/**
 * Sealed requests under an accepted session: each request takes the next sequence number; its
 * answer must come back sealed by the server key under the same number, so a relay can neither
 * swap answers between calls nor replay an old one. A request resolves with its sealed response
 * body, or rejects with a DefaasError whose `origin` says whether the enclave said it (`sealed`: a
 * SessionResponse{error}) or not (`plaintext`: a gRPC status or a stream refusal frame; `local`: the
 * answer did not authenticate, or the transport failed). Only sealed errors are facts.
 */
export class SecureChannel {
  private seq = 0n;
  private readonly tx: FrameCipher;
  private readonly rx: FrameCipher;
  private readonly codec = sessionCodec();

  private stream: grpc.ClientDuplexStream<SealedFrame, SealedFrame__Output> | undefined;
  private readonly pending = new Map<
    string,
    { resolve(r: SealedFrame__Output): void; reject(e: unknown): void }
  >();

  constructor(
    private readonly client: ExecutorClient,
    readonly accepted: AcceptedSession,
    private readonly deadlineMs: number,
    private readonly transport: Transport = 'unary',
  ) {
    // Both ends pad to the buckets of the message limit the enclave signed in the lease terms.
    const max = Number(accepted.terms.limits.maxMessageBytes);
    this.tx = new FrameCipher(accepted.keys.c2s, 'c2s', max);
    this.rx = new FrameCipher(accepted.keys.s2c, 's2c', max);
  }

  /** Seals `req` now (so calls reach the wire in the order they were made) and awaits the answer. */
  request(kind: RequestKind, req: SessionRequest): Promise<SessionResponse__Output> {
    const seq = this.seq++;
    const frame = this.seal(seq, req);
    if (this.transport === 'stream') return this.viaStream(frame).then((res) => this.openResponse(seq, res));
    return this.unary(kind, seq, frame);
  }

  /**
   * Seals straight into the frame's wire encoding (no second copy of the payload), padded to its
   * bucket. A request too large for the session's frames is refused here, before anything is
   * allocated for it or sent (TRANSPORT_MESSAGE_TOO_LARGE, as gRPC refuses an oversized message).
   */
  private seal(seq: bigint, req: SessionRequest): SealedFrame {
    const id = this.accepted.sessionId;
    const plain = requestParts(this.codec, req);
    let length: number;
    try {
      length = this.tx.sealedLength(plain.length);
    } catch (e) {
      if (!isSessionError(e, 'FRAME_TOO_LARGE')) throw e;
      throw new DefaasError('TRANSPORT_MESSAGE_TOO_LARGE', e.message, e.info, e);
    }
    return encodedSealedFrame(id, seq, length, (out, at) =>
      this.tx.sealPartsInto(id, seq, plain.parts, out, at),
    );
  }

  /**
   * One unary RPC. `frame` is handed to gRPC (serialized at once) and not captured by the callback,
   * so the sealed request (up to the payload size) is garbage as soon as it is on the wire instead
   * of living until the response.
   */
  private unary(kind: RequestKind, seq: bigint, frame: SealedFrame): Promise<SessionResponse__Output> {
    const method = this.client[METHOD[kind]].bind(this.client) as (
      f: SealedFrame,
      m: grpc.Metadata,
      o: grpc.CallOptions,
      cb: (e: grpc.ServiceError | null, r?: SealedFrame__Output) => void,
    ) => unknown;
    let done!: (err: grpc.ServiceError | null, res?: SealedFrame__Output) => void;
    const p = new Promise<SessionResponse__Output>((resolve, reject) => {
      done = (err, res) => {
        // A status is never the enclave's word: every authenticated request is answered sealed.
        if (err) return reject(fromGrpcError(err));
        if (!res) return reject(new DefaasError('TRANSPORT_ERROR', 'empty response'));
        try {
          resolve(this.openResponse(seq, res));
        } catch (e) {
          reject(e);
        }
      };
    });
    method(frame, waitForReady(), { deadline: Date.now() + this.deadlineMs }, done);
    return p;
  }

  /** Closes the bulk stream, if open; pending requests fail with TRANSPORT_UNAVAILABLE. */
  close(): void {
    this.stream?.end();
  }

  private viaStream(frame: SealedFrame): Promise<SealedFrame__Output> {
    if (!this.stream) {
      const s = this.client.InvokeStream(waitForReady());
      this.stream = s;
      s.on('data', (r: SealedFrame__Output) => {
        const p = this.pending.get(r.seq);
        if (!p) return;
        this.pending.delete(r.seq);
        // A refusal frame (the request did not authenticate at the executor, or a relay says so).
        if (r.error && r.ciphertext.length === 0) p.reject(fromPlainErrorDetail(r.error));
        else p.resolve(r);
      });
      const fail = (e: unknown) => {
        if (this.stream === s) this.stream = undefined;
        const err =
          e instanceof Error && 'code' in e
            ? fromGrpcError(e as grpc.ServiceError)
            : new DefaasError('TRANSPORT_UNAVAILABLE', 'the invoke stream ended');
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      s.on('error', fail);
      s.on('end', () => fail(undefined));
    }
    const stream = this.stream;
    const key = String(frame.seq);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(
          new DefaasError('TRANSPORT_DEADLINE', `no response to frame ${key} within ${this.deadlineMs} ms`),
        );
      }, this.deadlineMs);
      timer.unref();
      const done = () => clearTimeout(timer);
      this.pending.set(key, {
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      stream.write(frame);
    });
  }

  /** Opens the answer to request `seq`; a sealed SessionResponse{error} rejects as a sealed error. */
  private openResponse(seq: bigint, res: SealedFrame__Output): SessionResponse__Output {
    const id = this.accepted.sessionId;
    if (res.seq !== seq.toString() || !Buffer.from(id).equals(res.sessionId))
      throw new DefaasError('FRAME_OUT_OF_WINDOW', `response is for frame ${res.seq}, expected ${seq}`);
    // The received frame is ours alone: decrypt over it (no payload-sized allocation). A frame that
    // authenticated but is not a padded body (FRAME_PADDING_INVALID) is refused as it is.
    const plain = this.rx.openInPlace(id, seq, res.ciphertext);
    if (!plain) throw new DefaasError('FRAME_AUTH_FAILED', 'response frame does not authenticate');
    let body: SessionResponse__Output;
    try {
      body = this.codec.decodeResponse(plain);
    } catch (e) {
      throw new DefaasError('REQUEST_MALFORMED', 'sealed response is not a SessionResponse', {}, e);
    }
    if (body.body === 'error' && body.error) throw fromSealedErrorDetail(body.error);
    return body;
  }
}

/**
 * Calls wait for the transport (re)connecting instead of failing at once, up to their deadline: an
 * executor that restarts on the same address is reached again, and the session re-opens on
 * SESSION_UNKNOWN (session.ts).
 */
export function waitForReady(): grpc.Metadata {
  return new grpc.Metadata({ waitForReady: true });
}
