import { createCipheriv, createDecipheriv } from 'node:crypto';

/*
 * ChaCha20-Poly1305 (RFC 8439) through node:crypto. One key per direction; the 96-bit nonce is a
 * 32-bit direction tag ‖ the 64-bit big-endian sequence number, so a (key, nonce) pair is never
 * reused while sequence numbers are. AAD binds the session id, the sequence number and the
 * direction, so a frame cannot be moved to another session, position or direction.
 */
export type Direction = 'c2s' | 's2c';
const TAG_LEN = 16;
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

export class FrameCipher {
  private readonly key: Buffer;
  readonly direction: Direction;

  constructor(key: Uint8Array, direction: Direction) {
    if (key.length !== 32) throw new TypeError('AEAD key must be 32 bytes');
    this.key = Buffer.from(key);
    this.direction = direction;
  }

  seal(sessionId: Uint8Array, seq: bigint, plaintext: Uint8Array): Buffer {
    const { nonce, aad } = nonceAndAad(sessionId, seq, this.direction);
    const c = createCipheriv('chacha20-poly1305', this.key, nonce, { authTagLength: TAG_LEN });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  }

  /** The plaintext, or null when the tag does not verify (tampered, wrong key, position or session). */
  open(sessionId: Uint8Array, seq: bigint, sealed: Uint8Array): Buffer | null {
    if (sealed.length < TAG_LEN) return null;
    const { nonce, aad } = nonceAndAad(sessionId, seq, this.direction);
    const body = sealed.subarray(0, sealed.length - TAG_LEN);
    try {
      const d = createDecipheriv('chacha20-poly1305', this.key, nonce, { authTagLength: TAG_LEN });
      d.setAAD(aad, { plaintextLength: body.length });
      d.setAuthTag(sealed.subarray(sealed.length - TAG_LEN));
      return Buffer.concat([d.update(body), d.final()]);
    } catch {
      return null;
    }
  }
}
