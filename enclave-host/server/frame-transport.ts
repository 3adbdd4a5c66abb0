import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { SealedFrame, SealedFrame__Output } from '../../proto/gen/defaas/executor/v1/SealedFrame.js';
import {
  encodedSealedFrame,
  responseParts,
  type SessionRequest__Output,
  type SessionResponse,
  sessionCodec,
} from '../../proto/load.js';
import { sessionFail } from '../../protocol/errors.js';
import { refusal } from '../requests/refusal.js';
import type { RequestKind } from '../requests/request-handler.js';
import { errorDetail, logRefusal, toServiceError, toWireError } from '../rpc-errors.js';
import type { ServerSession } from '../session/server-session.js';
import type { SessionTable } from '../session/session-table.js';

const EMPTY = Buffer.alloc(0);

/** Answers one authenticated request; never rejects (refusals are SessionResponse{error}). */
export type Handle = (
  session: ServerSession,
  req: SessionRequest__Output,
  expected: RequestKind | undefined,
) => Promise<SessionResponse>;

export interface FrameTransportOptions {
  readonly sessions: SessionTable;
  readonly isServing: () => boolean;
  readonly handle: Handle;
  readonly log: Logger;
}

/**
 * Sealed frames in and out (docs/session.md, "Sealed frames", "Sequence numbers and the replay
 * window", "Errors: sealed after authentication, hints before"):
 * - a frame is authenticated by its session, the replay window and its AEAD tag; only then is it
 *   answered, always sealed under its own sequence number with status OK (the response, or
 *   SessionResponse{error});
 * - a frame refused before that gets a plaintext refusal: a gRPC status with the
 *   `defaas-error-bin` detail on a unary RPC, a SealedFrame{seq, error} without ciphertext on
 *   InvokeStream, where the stream and the calls already running go on.
 * The window admits each sequence number once per session, so nothing is ever sealed twice under the
 * same (session, direction, seq).
 */
export class FrameTransport {
  private readonly codec = sessionCodec();

  constructor(private readonly o: FrameTransportOptions) {}

  /** The handler of a unary sealed RPC carrying a request of `kind`. */
  unary(kind: RequestKind): grpc.handleUnaryCall<SealedFrame__Output, SealedFrame> {
    return (call, cb) => {
      let opened: Opened;
      try {
        opened = this.authenticate(call.request, undefined);
      } catch (e) {
        cb(this.serviceError(e, kind) as grpc.ServiceError);
        return;
      }
      // The frame was opened in place: its buffer now holds the plaintext. The call object keeps its
      // request until it ends; drop its reference so the buffer lives only as long as the request.
      call.request.ciphertext = EMPTY;
      this.answer(opened, kind).then(
        (frame) => cb(null, frame),
        (e: unknown) => cb(this.serviceError(e, kind) as grpc.ServiceError),
      );
    };
  }

  /** InvokeStream: any request kind, one answer per frame, in completion order. */
  stream(call: grpc.ServerDuplexStream<SealedFrame__Output, SealedFrame>): void {
    let last = -1n;
    let closed = false;
    let inFlight = 0;
    let ended = false;
    const write = (f: SealedFrame) => {
      if (!closed) call.write(f);
    };
    const finishIfDone = () => {
      if (ended && inFlight === 0 && !closed) {
        closed = true;
        call.end();
      }
    };
    call.on('data', (frame: SealedFrame__Output) => {
      if (closed) return;
      let opened: Opened;
      try {
        // A stream keeps order: a frame not above the previous one of this stream is refused.
        opened = this.authenticate(frame, last);
      } catch (e) {
        write(this.refusalFrame(frame, e));
        return;
      }
      last = opened.seq;
      inFlight++;
      this.answer(opened, undefined)
        .then(write, (e: unknown) =>
          this.o.log.error({ err: e }, 'InvokeStream: a response could not be sealed'),
        )
        .finally(() => {
          inFlight--;
          finishIfDone();
        });
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

  /**
   * Session lookup, replay window (and, on a stream, order above `above`), AEAD open in place. Throws
   * the typed refusal; on success the sequence number is spent in the session's window.
   */
  private authenticate(frame: SealedFrame__Output, above: bigint | undefined): Opened {
    if (!this.o.isServing()) sessionFail('EXECUTOR_SHUTTING_DOWN', 'the executor is shutting down');
    if (frame.sessionId.length !== 16) sessionFail('FRAME_MALFORMED', 'session id must be 16 bytes');
    const session = this.o.sessions.get(frame.sessionId);
    const seq = parseSeq(frame.seq);
    const verdict = session.window.check(seq);
    if (verdict === 'replayed') sessionFail('FRAME_REPLAYED', `frame ${seq} was already received`);
    if (verdict === 'out-of-window')
      sessionFail('FRAME_OUT_OF_WINDOW', `frame ${seq} is older than the replay window`, {
        highest: session.window.highestSeen.toString(),
      });
    if (above !== undefined && seq <= above)
      sessionFail(
        'FRAME_OUT_OF_WINDOW',
        `frame ${seq} is not above the previous frame ${above} of this stream`,
      );
    // The received frame is ours alone: decrypt over it (no payload-sized allocation).
    let plain: Buffer | null;
    try {
      plain = session.rx.openInPlace(session.id, seq, frame.ciphertext);
    } catch (e) {
      // It authenticated, but its plaintext is not a padded body (FRAME_PADDING_INVALID): the
      // sequence number is spent and the refusal is sealed like any answer.
      session.window.accept(seq);
      session.used = true;
      return { session, seq, plain: EMPTY, refused: e };
    }
    if (!plain)
      sessionFail('FRAME_AUTH_FAILED', 'frame does not authenticate (tampered, or not for this session)');
    session.window.accept(seq);
    session.used = true;
    return { session, seq, plain };
  }

  /** The sealed answer to an authenticated frame. Rejects only if the answer cannot be sealed. */
  private async answer(o: Opened, kind: RequestKind | undefined): Promise<SealedFrame> {
    let resp: SessionResponse;
    try {
      if (o.refused !== undefined) throw o.refused;
      let body: SessionRequest__Output;
      try {
        body = this.codec.decodeRequest(o.plain);
      } catch (e) {
        return sessionFail('REQUEST_MALFORMED', 'sealed request is not a SessionRequest', {}, e);
      }
      resp = await this.o.handle(o.session, body, kind);
    } catch (e) {
      resp = refusal(this.o.log, kind ?? 'InvokeStream', e);
    }
    return this.seal(o.session, o.seq, resp);
  }

  /**
   * Seals straight into the frame's wire encoding (no second copy of the payload), padded to its
   * bucket. A response too large for a frame throws FRAME_TOO_LARGE before anything is allocated
   * for it (the lease terms' limits leave room for a full output: lease-terms.ts).
   */
  private seal(session: ServerSession, seq: bigint, resp: SessionResponse): SealedFrame {
    const plain = responseParts(this.codec, resp);
    return encodedSealedFrame(session.id, seq, session.tx.sealedLength(plain.length), (out, at) =>
      session.tx.sealPartsInto(session.id, seq, plain.parts, out, at),
    );
  }

  private serviceError(e: unknown, kind: RequestKind) {
    const w = toWireError(e);
    logRefusal(this.o.log, w, e, kind);
    return toServiceError(w);
  }

  /** The plaintext refusal of a stream frame that did not authenticate: no ciphertext, only `error`. */
  private refusalFrame(frame: SealedFrame__Output, e: unknown): SealedFrame {
    const w = toWireError(e);
    logRefusal(this.o.log, w, e, 'InvokeStream');
    return { sessionId: frame.sessionId, seq: frame.seq, ciphertext: EMPTY, error: errorDetail(w) };
  }
}

interface Opened {
  readonly session: ServerSession;
  readonly seq: bigint;
  /** The request's plaintext, a view of the received frame's buffer. */
  readonly plain: Buffer;
  /** Why the authenticated frame is refused without being read (its padding is not valid). */
  readonly refused?: unknown;
}

function parseSeq(s: string): bigint {
  if (!/^[0-9]{1,20}$/.test(s)) sessionFail('FRAME_MALFORMED', 'bad sequence number');
  return BigInt(s);
}
