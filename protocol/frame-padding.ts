import { sessionFail } from './errors.js';

/*
 * Size padding of sealed frames (docs/session.md, "Sealed frames"): the AEAD plaintext of every
 * frame is
 *
 *     u32 BE body length ‖ body ‖ zero bytes up to the bucket
 *     bucket = min(topBucket, max(1024, the next power of two ≥ 4 + body length))
 *
 * so the ciphertext length a host or relay sees says only which bucket a message falls in. The top
 * bucket is the largest plaintext whose sealed frame still fits one gRPC message of the session's
 * `max_message_bytes`: a body just above a power of two near the limit is padded up to the limit,
 * never to twice it, and a body that does not fit the top bucket is refused before anything is
 * allocated for it. On open the layout is checked strictly (length, canonical bucket, zero padding).
 */

/** The smallest bucket: every frame, however small its body, has at least this many plaintext bytes. */
export const MIN_BUCKET_BYTES = 1024;
/** The body length prefix. */
export const LENGTH_PREFIX_BYTES = 4;
/**
 * What a SealedFrame adds to its padded plaintext, at most: the Poly1305 tag (16) and the protobuf
 * fields around the ciphertext (session id 1 + 1 + 16, seq 1 + up to 10, ciphertext tag 1 + a length
 * of up to 5 bytes) come to 51 bytes; 64 leaves a margin.
 */
export const FRAME_ENVELOPE_BYTES = 64;

/** Zeros the padding is encrypted from (shared, never written). */
const ZEROS = new Uint8Array(64 * 1024);

export class FramePadding {
  /** The largest padded plaintext: the top bucket. */
  readonly topBucket: number;
  /** The largest body a frame can carry. */
  readonly maxBodyBytes: number;

  /** `maxMessageBytes`: the gRPC message limit of the session (its lease terms' `max_message_bytes`). */
  constructor(readonly maxMessageBytes: number) {
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < MIN_BUCKET_BYTES + FRAME_ENVELOPE_BYTES)
      throw new RangeError(
        `max message size must be an integer of at least ${MIN_BUCKET_BYTES + FRAME_ENVELOPE_BYTES} bytes`,
      );
    // Above 2^32 the length prefix could not say the body length; the top bucket stays below it.
    this.topBucket = Math.min(maxMessageBytes - FRAME_ENVELOPE_BYTES, 2 ** 32);
    this.maxBodyBytes = this.topBucket - LENGTH_PREFIX_BYTES;
  }

  /** The padded plaintext length of a `bodyLength`-byte body; FRAME_TOO_LARGE when it does not fit. */
  paddedLength(bodyLength: number): number {
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) throw new RangeError('bad body length');
    if (bodyLength > this.maxBodyBytes)
      sessionFail(
        'FRAME_TOO_LARGE',
        `a ${bodyLength}-byte message does not fit a sealed frame: at most ${this.maxBodyBytes} bytes under a ${this.maxMessageBytes}-byte message limit`,
        { bodyBytes: bodyLength, maxBodyBytes: this.maxBodyBytes, maxMessageBytes: this.maxMessageBytes },
      );
    return Math.min(this.topBucket, bucketAbove(LENGTH_PREFIX_BYTES + bodyLength));
  }

  /**
   * The padded plaintext of a body given as consecutive parts, as parts again (nothing of the body
   * is copied): the length prefix, the body's parts, and views of shared zeros.
   */
  pad(body: readonly Uint8Array[]): { parts: Uint8Array[]; length: number } {
    const bodyLength = body.reduce((n, p) => n + p.length, 0);
    const length = this.paddedLength(bodyLength);
    const prefix = new Uint8Array(LENGTH_PREFIX_BYTES);
    new DataView(prefix.buffer).setUint32(0, bodyLength, false);
    const parts: Uint8Array[] = [prefix, ...body];
    for (let left = length - LENGTH_PREFIX_BYTES - bodyLength; left > 0; left -= ZEROS.length)
      parts.push(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
    return { parts, length };
  }

  /**
   * The body of an authenticated padded plaintext (a view of it). FRAME_PADDING_INVALID, naming
   * what is wrong, when the plaintext is not exactly the padding of its body: a length that is not
   * a bucket, a body length that does not fit, a bucket that is not the body's own, or a nonzero
   * padding byte.
   */
  unpad<T extends Uint8Array>(plain: T): T {
    const n = plain.length;
    if (n < MIN_BUCKET_BYTES || n > this.topBucket || (n !== this.topBucket && !isPowerOfTwo(n)))
      sessionFail('FRAME_PADDING_INVALID', `a ${n}-byte plaintext is not a frame bucket`, {
        plaintextBytes: n,
      });
    const bodyLength = new DataView(plain.buffer, plain.byteOffset, LENGTH_PREFIX_BYTES).getUint32(0, false);
    if (bodyLength > n - LENGTH_PREFIX_BYTES)
      sessionFail('FRAME_PADDING_INVALID', `body length ${bodyLength} exceeds the ${n}-byte frame`, {
        bodyBytes: bodyLength,
        plaintextBytes: n,
      });
    const expected = Math.min(this.topBucket, bucketAbove(LENGTH_PREFIX_BYTES + bodyLength));
    if (expected !== n)
      sessionFail(
        'FRAME_PADDING_INVALID',
        `a ${bodyLength}-byte body belongs in the ${expected}-byte bucket, not ${n}`,
        { bodyBytes: bodyLength, plaintextBytes: n, bucketBytes: expected },
      );
    const end = LENGTH_PREFIX_BYTES + bodyLength;
    if (!allZero(plain.subarray(end)))
      sessionFail('FRAME_PADDING_INVALID', 'the frame padding is not all zero bytes', {
        bodyBytes: bodyLength,
      });
    return plain.subarray(LENGTH_PREFIX_BYTES, end) as T;
  }
}

/** max(MIN_BUCKET_BYTES, the smallest power of two ≥ n). */
export function bucketAbove(n: number): number {
  let b = MIN_BUCKET_BYTES;
  while (b < n) b *= 2;
  return b;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i += ZEROS.length) {
    const chunk = b.subarray(i, Math.min(b.length, i + ZEROS.length));
    if (Buffer.compare(chunk, ZEROS.subarray(0, chunk.length)) !== 0) return false;
  }
  return true;
}
