import { type AttestationErrorCode, fail } from './errors.js';

/** Lower-case hex without a prefix. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Strict hex decoding (optional 0x prefix, even length, hex digits only); throws INVALID_ARGUMENT otherwise. */
export function fromHex(s: string, what = 'hex string'): Uint8Array {
  const h = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) fail('INVALID_ARGUMENT', `${what} is not valid hex`);
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function isAllZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Bounds-checked little-endian reader over a byte buffer. Every read that would run past the end
 * throws the code given at construction (e.g. QUOTE_TRUNCATED) with the offset and the structure
 * being read, so a truncated input always ends in a typed error and never in a RangeError.
 */
export class ByteReader {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  private readonly truncCode: AttestationErrorCode;
  offset: number;

  constructor(buf: Uint8Array, truncCode: AttestationErrorCode, offset = 0) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.truncCode = truncCode;
    this.offset = offset;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  need(n: number, what: string): void {
    if (n < 0 || this.offset + n > this.buf.length) {
      fail(
        this.truncCode,
        `input ends inside ${what}: need ${n} bytes at offset ${this.offset}, have ${this.remaining}`,
        {
          what,
          offset: this.offset,
          need: n,
          have: this.remaining,
        },
      );
    }
  }

  /** A copy of the next n bytes. */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.buf.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    return v;
  }
}
