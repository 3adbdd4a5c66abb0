import { type AttestationErrorCode, fail } from './errors.js';

/**
 * A minimal, bounds-checked DER (ITU-T X.690 §8, §10) TLV reader: enough to slice the to-be-signed
 * part of a CRL and to walk the vendor extensions of Intel PCK certificates and AMD VCEK/VLEK
 * certificates. Definite lengths only (DER forbids the indefinite form).
 */
export interface Tlv {
  /** The identifier octet (class, constructed bit and tag number < 31). */
  readonly tag: number;
  /** Offset of the identifier octet within the buffer that was read. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
  /** The content octets (a view, not a copy). */
  readonly content: Uint8Array;
  /** The whole TLV (a view). */
  readonly raw: Uint8Array;
}

export const DER = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export function readTlv(buf: Uint8Array, offset: number, code: AttestationErrorCode, what: string): Tlv {
  const bad = (why: string): never =>
    fail(code, `${what}: malformed DER (${why}) at offset ${offset}`, { offset });
  if (offset + 2 > buf.length) bad('truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) bad('high tag numbers are not used here');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) bad('indefinite length');
    if (n > 4) bad('length too large');
    if (p + n > buf.length) bad('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (len < 0x80 || buf[p] === 0) bad('non-minimal length');
    p += n;
  }
  const end = p + len;
  if (end > buf.length) bad('content runs past the end');
  return {
    tag,
    start: offset,
    contentStart: p,
    end,
    content: buf.subarray(p, end),
    raw: buf.subarray(offset, end),
  };
}

/** All TLVs directly inside `content` (which must be exactly covered by them). */
export function readChildren(content: Uint8Array, code: AttestationErrorCode, what: string): Tlv[] {
  const out: Tlv[] = [];
  let p = 0;
  while (p < content.length) {
    const t = readTlv(content, p, code, what);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** Reads exactly one TLV of the expected tag that spans the whole buffer. */
export function readWhole(buf: Uint8Array, tag: number, code: AttestationErrorCode, what: string): Tlv {
  const t = readTlv(buf, 0, code, what);
  if (t.tag !== tag)
    fail(code, `${what}: expected DER tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  if (t.end !== buf.length) fail(code, `${what}: ${buf.length - t.end} trailing bytes after the DER value`);
  return t;
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's content octets (X.690 §8.19). */
export function oidToString(content: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of content) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join('.');
}

/** Non-negative INTEGER content as a number (for the small SVN values in vendor extensions). */
export function derUint(content: Uint8Array, code: AttestationErrorCode, what: string): number {
  if (content.length === 0 || content.length > 7) fail(code, `${what}: INTEGER of ${content.length} bytes`);
  if (content[0]! & 0x80) fail(code, `${what}: negative INTEGER`);
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}
