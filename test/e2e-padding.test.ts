import { createCipheriv } from 'node:crypto';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from '../examples/build-example.js';
import type { SealedFrame__Output } from '../proto/gen/defaas/executor/v1/SealedFrame.js';
import { sessionCodec } from '../proto/load.js';
import { signClientBinding } from '../protocol/client-binding.js';
import { FrameCipher } from '../protocol/frame-cipher.js';
import { FRAME_ENVELOPE_BYTES, FramePadding } from '../protocol/frame-padding.js';
import { connect, DefaasError, type Session } from '../sdk/index.js';
import { type Harness, type Relay, rawSession, startExecutor, startRelay } from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';

/**
 * What the host sees of sealed frames over real gRPC: a relay on 127.0.0.1 records the ciphertext
 * length of every frame in both directions, unary and stream, and finds only bucket sizes; a request
 * at the frame limit is served, one above it is refused before it is sent; a frame that authenticates
 * with bad padding gets a sealed refusal.
 */

const MAX_MESSAGE = 256 * 1024;
const codec = sessionCodec();
const padding = new FramePadding(MAX_MESSAGE);
const TAG = 16;

/** Ciphertext lengths a frame may have under MAX_MESSAGE: 1 KiB, 2 KiB, … below the top bucket, and the top bucket. */
const BUCKETS = (() => {
  const out = new Set<number>([padding.topBucket + TAG]);
  for (let b = 1024; b < padding.topBucket; b *= 2) out.add(b + TAG);
  return out;
})();

interface Seen {
  readonly rpc: string;
  readonly dir: 'request' | 'response';
  readonly bytes: number;
}

/** A relay that forwards everything and records each SealedFrame's ciphertext length, as the host sees it. */
async function recordingRelay(upstream: string, seen: Seen[]): Promise<Relay> {
  const record = (rpc: string, dir: Seen['dir'], f: { ciphertext?: unknown } | undefined) => {
    if (f?.ciphertext instanceof Uint8Array) seen.push({ rpc, dir, bytes: f.ciphertext.length });
  };
  return startRelay(
    upstream,
    {},
    {
      up: (f, send) => {
        record('InvokeStream', 'request', f);
        send(f);
      },
      down: (f, send) => {
        record('InvokeStream', 'response', f);
        send(f);
      },
    },
    (rpc, request, response) => {
      record(rpc, 'request', request as SealedFrame__Output);
      record(rpc, 'response', response as SealedFrame__Output | undefined);
    },
  );
}

/** Unsigned LEB128. */
function leb(n: number): number[] {
  const out: number[] = [];
  let x = n;
  do {
    let b = x & 0x7f;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
  } while (x > 0);
  return out;
}

/** `wasm` with a custom section appended so that its Deploy request body is exactly `bodyBytes` long. */
function deployOfBodySize(wasm: Uint8Array, bodyBytes: number): Uint8Array {
  const bodyOf = (m: Uint8Array) => codec.encodeRequest({ deploy: { wasm: Buffer.from(m) } }).length;
  for (let payload = bodyBytes - bodyOf(wasm) - 8; payload >= 0; payload--) {
    const content = [1, 0x70, ...new Array<number>(payload).fill(0)]; // name "p", then zeros
    const m = new Uint8Array([...wasm, 0x00, ...leb(content.length), ...content]);
    const n = bodyOf(m);
    if (n === bodyBytes) return m;
    if (n < bodyBytes) break;
  }
  throw new Error(`no module makes a ${bodyBytes}-byte Deploy body`);
}

describe('frame sizes on the wire', () => {
  let h: Harness;
  let relay: Relay;
  const seen: Seen[] = [];
  const wallet = Wallet.createRandom();

  beforeAll(async () => {
    h = await startExecutor({ maxMessageBytes: MAX_MESSAGE, batchMaxCalls: 4, batchMaxMillis: 20 });
    relay = await recordingRelay(h.endpoint, seen);
  });
  afterAll(async () => {
    relay.stop();
    await h.stop();
  });

  function expectOnlyBuckets(from: number): Seen[] {
    const frames = seen.slice(from);
    expect(frames.length).toBeGreaterThan(0);
    for (const f of frames) expect(BUCKETS.has(f.bytes), `${f.rpc} ${f.dir} of ${f.bytes} bytes`).toBe(true);
    return frames;
  }

  it('carries requests and responses of any size in bucket sizes only (unary, per-call receipts)', async () => {
    const s = await connect(relay.endpoint, { policy: h.policy });
    try {
      const from = seen.length;
      const echo = await s.deploy(await buildExample('echo'));
      const sizes = [0, 1, 100, 700, 1000, 1100, 3000, 5000, 20_000, 40_000, 64 * 1024];
      const byInput = new Map<number, Seen[]>();
      for (const n of sizes) {
        const at = seen.length;
        const input = new Uint8Array(n).fill(0x61);
        const r = await s.invoke(echo, input, { wallet });
        expect(Buffer.from(r.output).equals(Buffer.from(input))).toBe(true);
        byInput.set(
          n,
          seen.slice(at).filter((f) => f.rpc === 'Invoke'),
        );
      }
      const frames = expectOnlyBuckets(from);
      // Small calls of different sizes look the same: one 1 KiB frame each way.
      const small = [0, 1, 100].map((n) =>
        byInput
          .get(n)!
          .map((f) => `${f.dir} ${f.bytes}`)
          .join(', '),
      );
      expect(new Set(small).size).toBe(1);
      expect(small[0]).toBe(`request ${1024 + TAG}, response ${1024 + TAG}`);
      // And larger ones fall in larger buckets, each direction on its own.
      const invokes = frames.filter((f) => f.rpc === 'Invoke');
      expect(new Set(invokes.map((f) => f.bytes)).size).toBeGreaterThan(4);
      const big = byInput.get(64 * 1024)!;
      expect(big.map((f) => f.bytes)).toEqual([128 * 1024 + TAG, 128 * 1024 + TAG]);
    } finally {
      await s.close();
    }
  });

  it('on InvokeStream and in batched mode (Settle, Sync) the same', async () => {
    const s = await connect(relay.endpoint, { policy: h.policy, transport: 'stream', receipts: 'batched' });
    try {
      const from = seen.length;
      const echo = await s.deploy(await buildExample('echo'));
      const inputs = [0, 10, 2000, 9000, 30_000].map((n) => new Uint8Array(n).fill(0x62));
      const rs = await Promise.all(inputs.map((i) => s.invoke(echo, i, { wallet })));
      expect(rs.map((r) => r.output.length)).toEqual(inputs.map((i) => i.length));
      const frames = expectOnlyBuckets(from);
      expect(frames.some((f) => f.rpc === 'InvokeStream' && f.dir === 'response')).toBe(true);
      // Settle and the wallet's binding Sync travel on the stream too: every frame is counted.
      expect(frames.filter((f) => f.dir === 'request').length).toBe(
        frames.filter((f) => f.dir === 'response').length,
      );
    } finally {
      await s.close();
    }
  });

  it('serves a request at the frame limit (top bucket) and refuses one byte more before sending it', async () => {
    const s: Session = await connect(relay.endpoint, { policy: h.policy });
    try {
      const echo = await buildExample('echo');
      const atLimit = deployOfBodySize(echo, padding.maxBodyBytes);
      const from = seen.length;
      const fn = await s.deploy(atLimit);
      expect(fn.id).toHaveLength(64);
      const deploy = seen.slice(from).filter((f) => f.rpc === 'Deploy');
      expect(deploy.map((f) => `${f.dir} ${f.bytes}`)).toEqual([
        `request ${MAX_MESSAGE - FRAME_ENVELOPE_BYTES + TAG}`,
        `response ${1024 + TAG}`,
      ]);
      // The function deployed at the limit runs.
      const r = await s.invoke(fn, new Uint8Array([1, 2, 3]), { wallet });
      expect([...r.output]).toEqual([1, 2, 3]);

      const over = deployOfBodySize(echo, padding.maxBodyBytes + 1);
      const before = seen.length;
      const e = await s.deploy(over).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(DefaasError);
      const err = e as DefaasError;
      expect(err.code).toBe('TRANSPORT_MESSAGE_TOO_LARGE');
      expect(err.origin).toBe('local');
      expect(err.message).toContain(`at most ${padding.maxBodyBytes} bytes`);
      expect(err.info).toMatchObject({ bodyBytes: padding.maxBodyBytes + 1, maxMessageBytes: MAX_MESSAGE });
      // Nothing reached the wire.
      expect(seen.length).toBe(before);
      // An invoke too large for a frame is refused the same way, its nonce not spent; the next call runs.
      const big = new Uint8Array(MAX_MESSAGE);
      expect(await codeOf(s.invoke(fn, big, { wallet }))).toBe('TRANSPORT_MESSAGE_TOO_LARGE');
      expect(seen.length).toBe(before);
      expect((await s.invoke(fn, new Uint8Array([4]), { wallet })).output[0]).toBe(4);
    } finally {
      await s.close();
    }
  });

  it('answers a frame that authenticates with bad padding with a sealed refusal, and serves the next', async () => {
    const raw = await rawSession(h.endpoint, h.policy);
    try {
      const id = raw.accepted.sessionId;
      const leaseId = h.executor.leaseId;
      const body = codec.encodeRequest({
        sync: {
          leaseId: leaseId.toString(),
          client: wallet.address.toLowerCase(),
          clientProof: Buffer.from(
            signClientBinding(Buffer.from(wallet.privateKey.slice(2), 'hex'), id, leaseId),
          ),
        },
      });
      const rx = new FrameCipher(raw.accepted.keys.s2c, 's2c', MAX_MESSAGE);
      const send = (seq: bigint, ciphertext: Buffer) =>
        new Promise<string>((resolve) =>
          raw.client.Sync({ sessionId: Buffer.from(id), seq: seq.toString(), ciphertext }, (e, r) => {
            if (e) return resolve(`status ${e.code}`);
            try {
              const res = codec.decodeResponse(rx.open(id, seq, r!.ciphertext)!);
              const what = res.body === 'error' ? res.error?.code : res.body;
              resolve(`sealed ${what} in ${r!.ciphertext.length - TAG} bytes`);
            } catch (x) {
              resolve(`unreadable answer: ${String(x)}`);
            }
          }),
        );
      // Unpadded, and padded into a bucket that is not the body's.
      const unpadded = sealUnpadded(raw.accepted.keys.c2s, id, 1n, body);
      expect(await send(1n, unpadded)).toBe('sealed FRAME_PADDING_INVALID in 1024 bytes');
      const overPadded = Buffer.alloc(4096);
      overPadded.writeUInt32BE(body.length, 0);
      overPadded.set(body, 4);
      expect(await send(2n, sealUnpadded(raw.accepted.keys.c2s, id, 2n, overPadded))).toBe(
        'sealed FRAME_PADDING_INVALID in 1024 bytes',
      );
      // The refused frame spent its sequence number, like any authenticated frame.
      expect(await send(2n, sealUnpadded(raw.accepted.keys.c2s, id, 2n, overPadded))).toBe(
        `status 6`, // ALREADY_EXISTS: FRAME_REPLAYED
      );
      const tx = new FrameCipher(raw.accepted.keys.c2s, 'c2s', MAX_MESSAGE);
      expect(await send(3n, tx.seal(id, 3n, body))).toBe('sealed sync in 1024 bytes');
    } finally {
      raw.client.close();
    }
  });
});

/** Seals `plaintext` as it is (no padding): the frame nonce and AAD of docs/session.md, client to server. */
function sealUnpadded(key: Uint8Array, id: Uint8Array, seq: bigint, plaintext: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(0x63327300, 0);
  nonce.writeBigUInt64BE(seq, 4);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(Buffer.concat([id, nonce]), { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}
