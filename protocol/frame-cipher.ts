import { createCipheriv, createDecipheriv } from 'node:crypto';
import { FramePadding } from './frame-padding.js';

/*
 * ChaCha20-Poly1305 (RFC 8439) through node:crypto. One key per direction; the 96-bit nonce is a
 * 32-bit direction tag ‖ the 64-bit big-endian sequence number, so a (key, nonce) pair is never
 * reused while sequence numbers are. AAD binds the session id, the sequence number and the
 * direction, so a frame cannot be moved to another session, position or direction.
 *
 * What is encrypted is the body padded to its size bucket (frame-padding.ts): `seal*` pad, `open*`
 * return the body after checking the padding, so the ciphertext length of a frame is one of a few
 * bucket sizes, whatever the body's length.
 */
export type Direction = 'c2s' | 's2c';
const TAG_LEN = 16;
const AEAD = 'chacha20-poly1305';
/** Bytes encrypted per update() when sealing into a caller's buffer. */
const UPDATE_CHUNK = 64 * 1024;

/** The gRPC message limit both ends use unless told otherwise (the executor's and the SDK's default). */
export const DEFAULT_MAX_MESSAGE_BYTES = 40 * 1024 * 1024;
const DIR_TAG: Record<Direction, number> = { c2s: 0x63327300, s2c: 0x73326300 };

function nonceAndAad(sessionId: Uint8Array, seq: bigint, dir: Direction): { nonce: Buffer; aad: Buffer } {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(DIR_TAG[dir], 0);
  nonce.writeBigUInt64BE(seq, 4);
  const aad = Buffer.alloc(sessionId.length + 12);
  aad.set(sessionId, 0);
  aad.set(nonce, sessionId.length);
  return { nonce, aad };
}

/** `parts` joined in one buffer of `length` bytes. */
function joined(parts: readonly Uint8Array[], length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let at = 0;
  for (const p of parts) {
    b.set(p, at);
    at += p.length;
  }
  return b;
}

export class FrameCipher {
  private readonly key: Buffer;
  readonly direction: Direction;
  readonly padding: FramePadding;

  /**
   * `maxMessageBytes`: the session's gRPC message limit (the lease terms' `max_message_bytes`), which
   * fixes the top padding bucket; both ends of a session must use the same.
   */
  constructor(key: Uint8Array, direction: Direction, maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    if (key.length !== 32) throw new TypeError('AEAD key must be 32 bytes');
    this.key = Buffer.from(key);
    this.direction = direction;
    this.padding = new FramePadding(maxMessageBytes);
  }

  /**
   * Length of the sealed frame (ciphertext ‖ tag) of a `bodyLength`-byte body: its bucket plus the
   * tag. Throws FRAME_TOO_LARGE (a SessionError) for a body above the top bucket.
   */
  sealedLength(bodyLength: number): number {
    return this.padding.paddedLength(bodyLength) + TAG_LEN;
  }

  seal(sessionId: Uint8Array, seq: bigint, body: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(this.sealedLength(body.length));
    this.sealInto(sessionId, seq, body, out, 0);
    return out;
  }

  /**
   * Seals `body`, padded, into `out` at `offset` (ciphertext ‖ tag, `sealedLength(body.length)`
   * bytes), so a caller can build the enclosing message around it without another copy of the payload.
   */
  sealInto(sessionId: Uint8Array, seq: bigint, body: Uint8Array, out: Buffer, offset: number): void {
    this.sealPartsInto(sessionId, seq, [body], out, offset);
  }

  /** Like `sealInto` for a body given as consecutive parts (sealed as their concatenation). */
  sealPartsInto(
    sessionId: Uint8Array,
    seq: bigint,
    body: readonly Uint8Array[],
    out: Buffer,
    offset: number,
  ): void {
    const padded = this.padding.pad(body);
    const length = padded.length;
    if (offset < 0 || offset + length + TAG_LEN > out.length)
      throw new RangeError('sealInto: output buffer too small');
    // A frame of at most one chunk is encrypted in one update() from one joined buffer: cheaper than
    // an update() per part for the many small frames.
    const parts = length <= UPDATE_CHUNK ? [joined(padded.parts, length)] : padded.parts;
    const { nonce, aad } = nonceAndAad(sessionId, seq, this.direction);
    const c = createCipheriv(AEAD, this.key, nonce, { authTagLength: TAG_LEN });
    c.setAAD(aad, { plaintextLength: length });
    let at = offset;
    // In chunks: each update() returns a new buffer; small ones come from memory malloc reuses (hot
    // in cache), where a payload-sized one would be fresh pages mapped for one copy.
    for (const p of parts)
      for (let i = 0; i < p.length; i += UPDATE_CHUNK)
        at += c.update(p.subarray(i, Math.min(p.length, i + UPDATE_CHUNK))).copy(out, at);
    at += c.final().copy(out, at);
    c.getAuthTag().copy(out, at);
  }

  /**
   * Like `open`, but decrypts over `sealed` itself (in 64 KiB steps, each written back where its
   * ciphertext was) and returns a view of the body in it: no payload-sized buffer is allocated.
   * The body is returned only once the tag and the padding verified; when the tag fails, null is
   * returned and `sealed` holds garbage. For a received frame that nothing else reads afterwards.
   * Throws FRAME_PADDING_INVALID (a SessionError) for a frame that authenticated but whose plaintext
   * is not a padded body (frame-padding.ts): the peer holds the key, so that is its answer, refused.
   */
  openInPlace(sessionId: Uint8Array, seq: bigint, sealed: Buffer): Buffer | null {
    const plain = this.decryptInPlace(sessionId, seq, sealed);
    return plain && this.padding.unpad(plain);
  }

  /** The body, or null when the tag does not verify (tampered, wrong key, position or session). Throws as `openInPlace`. */
  open(sessionId: Uint8Array, seq: bigint, sealed: Uint8Array): Buffer | null {
    const plain = this.decrypt(sessionId, seq, sealed);
    return plain && this.padding.unpad(plain);
  }

  private decryptInPlace(sessionId: Uint8Array, seq: bigint, sealed: Buffer): Buffer | null {
    if (sealed.length < TAG_LEN) return null;
    const { nonce, aad } = nonceAndAad(sessionId, seq, this.direction);
    const bodyLength = sealed.length - TAG_LEN;
    try {
      const d = createDecipheriv(AEAD, this.key, nonce, { authTagLength: TAG_LEN });
      d.setAAD(aad, { plaintextLength: bodyLength });
      d.setAuthTag(sealed.subarray(bodyLength));
      let at = 0;
      // A stream cipher never returns more bytes than it consumed: `at` stays behind the read position.
      for (let i = 0; i < bodyLength; i += UPDATE_CHUNK)
        at += d.update(sealed.subarray(i, Math.min(bodyLength, i + UPDATE_CHUNK))).copy(sealed, at);
      // final() verifies the tag (and, for a stream cipher, returns no bytes).
      at += d.final().copy(sealed, at);
      if (at !== bodyLength) return null;
      return sealed.subarray(0, bodyLength);
    } catch {
      return null;
    }
  }

  private decrypt(sessionId: Uint8Array, seq: bigint, sealed: Uint8Array): Buffer | null {
    if (sealed.length < TAG_LEN) return null;
    const { nonce, aad } = nonceAndAad(sessionId, seq, this.direction);
    const body = sealed.subarray(0, sealed.length - TAG_LEN);
    try {
      const d = createDecipheriv(AEAD, this.key, nonce, { authTagLength: TAG_LEN });
      d.setAAD(aad, { plaintextLength: body.length });
      d.setAuthTag(sealed.subarray(sealed.length - TAG_LEN));
      const out = d.update(body);
      // final() verifies the tag; a stream cipher has no bytes left, so no copy is needed.
      const rest = d.final();
      return rest.length === 0 ? out : Buffer.concat([out, rest]);
    } catch {
      return null;
    }
  }
}
