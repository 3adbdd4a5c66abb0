import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSessionError } from './errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES, FrameCipher } from './frame-cipher.js';
import { FRAME_ENVELOPE_BYTES, FramePadding, MIN_BUCKET_BYTES } from './frame-padding.js';

const rnd = (n: number) => new Uint8Array(randomBytes(n));
const KIB = 1024;

/**
 * Seals `plaintext` as it is, without padding: ChaCha20-Poly1305 with the frame nonce and AAD written
 * out from docs/session.md, so an authenticated frame can carry a plaintext the padding rule refuses.
 */
function sealUnpadded(key: Uint8Array, id: Uint8Array, seq: bigint, plaintext: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(0x63327300, 0); // "c2s\0"
  nonce.writeBigUInt64BE(seq, 4);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(Buffer.concat([id, nonce]), { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** The padded plaintext of `body` as the format says: u32 BE length ‖ body ‖ zeros to `bucket`. */
function layout(body: Uint8Array, bucket: number): Buffer {
  const p = Buffer.alloc(bucket);
  p.writeUInt32BE(body.length, 0);
  p.set(body, 4);
  return p;
}

function paddingError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isSessionError(e)) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('frame padding', () => {
  it('puts every body of 0 to 5 KiB in its bucket: the least power of two ≥ 4 + length, at least 1 KiB', () => {
    const key = rnd(32);
    const id = rnd(16);
    const c = new FrameCipher(key, 'c2s');
    const seen = new Set<number>();
    for (let n = 0; n <= 5 * KIB; n++) {
      const body = rnd(n);
      const bucket = c.padding.paddedLength(n);
      // A power of two, at least 1 KiB, holding the prefix and the body, and the least such.
      expect(Number.isInteger(Math.log2(bucket))).toBe(true);
      expect(bucket).toBeGreaterThanOrEqual(MIN_BUCKET_BYTES);
      expect(bucket).toBeGreaterThanOrEqual(4 + n);
      expect(bucket === MIN_BUCKET_BYTES || bucket / 2 < 4 + n).toBe(true);
      const ct = c.seal(id, BigInt(n), body);
      expect(ct.length).toBe(bucket + 16);
      expect(c.sealedLength(n)).toBe(ct.length);
      expect(Buffer.from(c.open(id, BigInt(n), ct)!).equals(Buffer.from(body))).toBe(true);
      seen.add(ct.length);
    }
    // 0..5 KiB bodies make four ciphertext lengths on the wire.
    expect([...seen].sort((a, b) => a - b)).toEqual([1024 + 16, 2048 + 16, 4096 + 16, 8192 + 16]);
  });

  it('encrypts exactly the documented layout (length prefix, body, zeros)', () => {
    const key = rnd(32);
    const id = rnd(16);
    for (const n of [0, 1, 1020, 1021, 3000]) {
      const body = rnd(n);
      const ct = new FrameCipher(key, 'c2s').seal(id, 3n, body);
      const bucket = Math.max(1024, 2 ** Math.ceil(Math.log2(4 + n)));
      expect(ct.equals(sealUnpadded(key, id, 3n, layout(body, bucket)))).toBe(true);
    }
  });

  it('round-trips random bodies, in place too, under a limit that is not a power of two', () => {
    const max = 300_000;
    const key = rnd(32);
    const id = rnd(16);
    const c = new FrameCipher(key, 's2c', max);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: c.padding.maxBodyBytes }),
        fc.array(fc.nat(64), { maxLength: 4 }),
        (n, cuts) => {
          const body = rnd(n);
          // The body given in parts, as the sealers build it (head ‖ payload), seals as their concatenation.
          const at = [...new Set(cuts.map((x) => Math.min(n, x)))].sort((a, b) => a - b);
          const parts = [...at, n].map((end, i) => body.subarray(i === 0 ? 0 : at[i - 1]!, end));
          const out = Buffer.alloc(c.sealedLength(n) + 7);
          c.sealPartsInto(id, 1n, parts, out, 7);
          const ct = out.subarray(7);
          const bucket = ct.length - 16;
          expect(bucket === c.padding.topBucket || Number.isInteger(Math.log2(bucket))).toBe(true);
          expect(bucket).toBeLessThanOrEqual(max - FRAME_ENVELOPE_BYTES);
          const opened = c.openInPlace(id, 1n, Buffer.from(ct));
          expect(Buffer.from(opened!).equals(Buffer.from(body))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('caps the top bucket at the message limit instead of the next power of two', () => {
    const max = 40 * 1024 * 1024;
    const p = new FramePadding(max);
    expect(p.topBucket).toBe(max - FRAME_ENVELOPE_BYTES);
    // A body just above 32 MiB goes to the limit, not to 64 MiB.
    expect(p.paddedLength(32 * 1024 * 1024)).toBe(max - FRAME_ENVELOPE_BYTES);
    expect(p.paddedLength(32 * 1024 * 1024 - 4)).toBe(32 * 1024 * 1024);
    expect(p.paddedLength(p.maxBodyBytes)).toBe(p.topBucket);
    // The sealed frame of the top bucket fits one gRPC message with its fields around it.
    expect(p.topBucket + 16 + 1 + 1 + 16 + 1 + 10 + 1 + 5).toBeLessThanOrEqual(max);
    expect(new FramePadding(DEFAULT_MAX_MESSAGE_BYTES).topBucket).toBe(p.topBucket);
  });

  it('refuses a body above the top bucket before allocating anything for it', () => {
    const max = 64 * KIB;
    const key = rnd(32);
    const id = rnd(16);
    const c = new FrameCipher(key, 'c2s', max);
    const fits = rnd(c.padding.maxBodyBytes);
    const ct = c.seal(id, 1n, fits);
    expect(ct.length).toBe(max - FRAME_ENVELOPE_BYTES + 16);
    expect(Buffer.from(c.open(id, 1n, ct)!).equals(Buffer.from(fits))).toBe(true);
    const over = rnd(c.padding.maxBodyBytes + 1);
    expect(paddingError(() => c.sealedLength(over.length))).toBe('FRAME_TOO_LARGE');
    expect(paddingError(() => c.seal(id, 2n, over))).toBe('FRAME_TOO_LARGE');
    // Far above the limit: refused by arithmetic, nothing of that size is allocated.
    expect(paddingError(() => c.sealedLength(2 ** 40))).toBe('FRAME_TOO_LARGE');
    expect(() => new FramePadding(1024)).toThrow(RangeError);
  });

  it('refuses, after the tag verified, a plaintext that is not exactly its body padded', () => {
    const key = rnd(32);
    const id = rnd(16);
    const c = new FrameCipher(key, 'c2s', 64 * KIB);
    // No zero byte in the body: cutting it short leaves a nonzero byte in the padding.
    const body = Buffer.alloc(100, 0x5a);
    const good = layout(body, 1024);
    const open = (plain: Uint8Array) => paddingError(() => c.open(id, 5n, sealUnpadded(key, id, 5n, plain)));
    expect(open(good)).toBe('accepted');
    const cases: [string, Uint8Array][] = [];
    // The body length says less than the body (padding not zero), more than the bucket holds, or
    // names another bucket.
    for (const len of [99, 0, 1021, 5000, 0xffffffff]) {
      const p = Buffer.from(good);
      p.writeUInt32BE(len, 0);
      cases.push([`length ${len}`, p]);
    }
    // A nonzero byte anywhere in the padding.
    for (const at of [104, 500, 1023]) {
      const p = Buffer.from(good);
      p[at] = 1;
      cases.push([`padding byte ${at}`, p]);
    }
    // Not a bucket size: short of the minimum, between buckets, above the top.
    cases.push(['unpadded body', body]);
    cases.push(['1023 bytes', good.subarray(0, 1023)]);
    cases.push(['1025 bytes', Buffer.concat([good, Buffer.alloc(1)])]);
    cases.push(['1536 bytes', layout(body, 1536)]);
    cases.push(['empty', new Uint8Array(0)]);
    cases.push(['above the top bucket', layout(body, 128 * KIB)]);
    // A bucket, but not the body's own: padded further than the rule says.
    cases.push(['over-padded', layout(body, 2048)]);
    cases.push(['top bucket for a small body', layout(body, c.padding.topBucket)]);
    for (const [what, p] of cases) expect(`${what}: ${open(p)}`).toBe(`${what}: FRAME_PADDING_INVALID`);
    // In place the same.
    expect(paddingError(() => c.openInPlace(id, 5n, sealUnpadded(key, id, 5n, layout(body, 2048))))).toBe(
      'FRAME_PADDING_INVALID',
    );
    // A tag that fails is still null, not a padding error.
    const t = sealUnpadded(key, id, 5n, good);
    t[0]! ^= 1;
    expect(c.open(id, 5n, t)).toBeNull();
  });

  it('ends that disagree on the message limit refuse each other’s top-bucket frames', () => {
    const key = rnd(32);
    const id = rnd(16);
    const small = new FrameCipher(key, 'c2s', 100 * KIB);
    const large = new FrameCipher(key, 'c2s', 1024 * KIB);
    const body = rnd(80 * KIB);
    // 100 KiB − 64 for one, 128 KiB for the other: the padding tells them apart, fail closed.
    expect(paddingError(() => large.open(id, 1n, small.seal(id, 1n, body)))).toBe('FRAME_PADDING_INVALID');
    expect(paddingError(() => small.open(id, 1n, large.seal(id, 1n, body)))).toBe('FRAME_PADDING_INVALID');
    // Below the smaller top bucket both agree.
    const b = rnd(10 * KIB);
    expect(Buffer.from(large.open(id, 2n, small.seal(id, 2n, b))!).equals(Buffer.from(b))).toBe(true);
  });
});
