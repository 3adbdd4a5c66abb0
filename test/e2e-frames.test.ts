import type * as grpc from '@grpc/grpc-js';
import { getBytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SealedFrame, SealedFrame__Output } from '../proto/gen/defaas/executor/v1/SealedFrame.js';
import { sessionCodec } from '../proto/load.js';
import { signClientBinding } from '../protocol/client-binding.js';
import { FrameCipher } from '../protocol/frame-cipher.js';
import { fromGrpcError } from '../sdk/errors.js';
import { type Harness, type RawSession, rawSession, startExecutor } from './e2e-harness.js';

/**
 * Session frames: tampered, replayed, reordered and oversized frames are refused with a plaintext
 * status (a hint); a frame that authenticated is answered sealed, refusals included; the server lives on.
 */

const codec = sessionCodec();

const wallet = Wallet.createRandom();
const client = { address: wallet.address.toLowerCase(), privateKey: getBytes(wallet.privateKey) };

/** A Sync binding the session to `client` (an authenticated request answered with `sync`). */
function syncFrame(s: RawSession, seq: bigint, leaseId: bigint): SealedFrame {
  const id = s.accepted.sessionId;
  const plain = codec.encodeRequest({
    sync: {
      leaseId: leaseId.toString(),
      client: client.address,
      clientProof: Buffer.from(signClientBinding(client.privateKey, id, leaseId)),
    },
  });
  return {
    sessionId: Buffer.from(id),
    seq: seq.toString(),
    ciphertext: new FrameCipher(s.accepted.keys.c2s, 'c2s').seal(id, seq, plain),
  };
}

/** 'OK <body>' for a sealed answer ('OK error <CODE>' for a sealed refusal), else the status's code. */
function opened(s: RawSession, r: SealedFrame__Output): string {
  const plain = new FrameCipher(s.accepted.keys.s2c, 's2c').open(
    s.accepted.sessionId,
    BigInt(r.seq),
    r.ciphertext,
  );
  if (!plain) return 'BAD_RESPONSE';
  const body = codec.decodeResponse(plain);
  return body.body === 'error' ? `OK error ${body.error?.code}` : `OK ${body.body}`;
}

function sync(s: RawSession, frame: SealedFrame): Promise<string> {
  return new Promise((resolve) =>
    s.client.Sync(frame, (e, r?: SealedFrame__Output) => resolve(e ? fromGrpcError(e).code : opened(s, r!))),
  );
}

describe('session frames', () => {
  let h: Harness;
  let s: RawSession;
  beforeAll(async () => {
    h = await startExecutor({ window: 8, maxMessageBytes: 256 * 1024 });
    s = await rawSession(h.endpoint, h.policy);
  });
  afterAll(async () => {
    s.client.close();
    await h.stop();
  });

  it('answers a good frame, under the same sequence number and the server key', async () => {
    expect(await sync(s, syncFrame(s, 1n, h.executor.leaseId))).toBe('OK sync');
  });

  it('refuses a tampered frame, then serves the next', async () => {
    const f = syncFrame(s, 2n, h.executor.leaseId);
    const ct = Buffer.from(f.ciphertext as Buffer);
    ct[0]! ^= 1;
    expect(await sync(s, { ...f, ciphertext: ct })).toBe('FRAME_AUTH_FAILED');
    // A forged frame does not consume its sequence number.
    expect(await sync(s, f)).toBe('OK sync');
  });

  it('refuses a frame moved to another sequence number or session', async () => {
    const f = syncFrame(s, 3n, h.executor.leaseId);
    expect(await sync(s, { ...f, seq: '4' })).toBe('FRAME_AUTH_FAILED');
    const other = await rawSession(h.endpoint, h.policy);
    expect(await sync(other, { ...f, sessionId: Buffer.from(other.accepted.sessionId) })).toBe(
      'FRAME_AUTH_FAILED',
    );
    other.client.close();
  });

  it('refuses a replayed frame', async () => {
    const f = syncFrame(s, 5n, h.executor.leaseId);
    expect(await sync(s, f)).toBe('OK sync');
    expect(await sync(s, f)).toBe('FRAME_REPLAYED');
  });

  it('accepts slight reordering inside the window, refuses frames older than it', async () => {
    expect(await sync(s, syncFrame(s, 20n, h.executor.leaseId))).toBe('OK sync');
    expect(await sync(s, syncFrame(s, 19n, h.executor.leaseId))).toBe('OK sync');
    expect(await sync(s, syncFrame(s, 6n, h.executor.leaseId))).toBe('FRAME_OUT_OF_WINDOW');
  });

  it('refuses a reordered frame on a stream with a refusal frame, and the stream goes on', async () => {
    const call = s.client.InvokeStream();
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      call.on('data', (r: SealedFrame__Output) =>
        got.push(
          r.ciphertext.length === 0 ? `refused ${r.seq} ${r.error?.code}` : `${r.seq} ${opened(s, r)}`,
        ),
      );
      call.on('error', (e: grpc.ServiceError) => {
        got.push(fromGrpcError(e).code);
        resolve();
      });
      call.on('end', () => resolve());
    });
    call.write(syncFrame(s, 31n, h.executor.leaseId));
    await new Promise((r) => setTimeout(r, 100));
    call.write(syncFrame(s, 30n, h.executor.leaseId));
    await new Promise((r) => setTimeout(r, 100));
    call.write(syncFrame(s, 32n, h.executor.leaseId));
    call.end();
    await done;
    // A stream keeps order: 30 is refused (unauthenticated, no ciphertext); 32 is served after it.
    expect(got).toEqual(['31 OK sync', 'refused 30 FRAME_OUT_OF_WINDOW', '32 OK sync']);
    expect(await sync(s, syncFrame(s, 33n, h.executor.leaseId))).toBe('OK sync');
  });

  it('refuses an oversized frame and a frame for an unknown session', async () => {
    const f = syncFrame(s, 40n, h.executor.leaseId);
    expect(await sync(s, { ...f, ciphertext: Buffer.alloc(300 * 1024) })).toBe('TRANSPORT_MESSAGE_TOO_LARGE');
    expect(await sync(s, { ...f, sessionId: Buffer.alloc(16, 7) })).toBe('SESSION_UNKNOWN');
    expect(await sync(s, { ...f, sessionId: Buffer.alloc(3) })).toBe('FRAME_MALFORMED');
    expect(await sync(s, f)).toBe('OK sync');
  });

  it('refuses malformed protobuf, outside and inside the seal', async () => {
    const garbage = await new Promise<number>((resolve) =>
      s.client.makeUnaryRequest(
        '/defaas.executor.v1.Executor/Invoke',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        (e) => resolve(e?.code ?? 0),
      ),
    );
    expect(garbage).not.toBe(0);
    const id = s.accepted.sessionId;
    const bad = {
      sessionId: Buffer.from(id),
      seq: '41',
      ciphertext: new FrameCipher(s.accepted.keys.c2s, 'c2s').seal(id, 41n, Buffer.from([0xff, 0xff, 0xff])),
    };
    // It authenticated: the refusal travels sealed, with status OK.
    expect(await sync(s, bad)).toBe('OK error REQUEST_MALFORMED');
    expect(await sync(s, syncFrame(s, 42n, h.executor.leaseId))).toBe('OK sync');
  });
});
