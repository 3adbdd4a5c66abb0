import { type LogErrorCode, logFail } from './errors.js';

/*
 * The two text encodings every C2SP log format uses: standard base64 with padding (RFC 4648 §4) and
 * ASCII decimal without leading zeros. Parsing is strict: one accepted spelling per value.
 */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * RFC 4648 §4 base64, padded, canonical (unused bits of the last character zero, so that re-encoding
 * gives back the same text); anything else is `code`.
 */
export function parseBase64(text: string, code: LogErrorCode, what: string): Uint8Array {
  if (!BASE64.test(text))
    logFail(code, `${what} is not standard padded base64`, { text: text.slice(0, 100) });
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (toBase64(bytes) !== text)
    logFail(code, `${what} is not canonical base64`, { text: text.slice(0, 100) });
  return bytes;
}

/**
 * An ASCII decimal with no leading zeros ("0" only for zero), as tree sizes, indexes and timestamps
 * are written in c2sp.org/tlog-checkpoint, tlog-proof, tlog-witness and tlog-cosignature. Values
 * above 2^53 − 1 are refused with LOG_TOO_LARGE: they are valid uint64s, but no tree here is that
 * large and JavaScript numbers would round them.
 */
export function parseDecimal(text: string, code: LogErrorCode, what: string): number {
  if (!/^(?:0|[1-9][0-9]*)$/.test(text))
    logFail(code, `${what} is not a decimal without leading zeros`, { text: text.slice(0, 100) });
  const n = Number(text);
  if (!Number.isSafeInteger(n)) logFail('LOG_TOO_LARGE', `${what} is larger than 2^53 - 1`, { text });
  return n;
}

/**
 * Is `name` a signed-note key name: non-empty, no Unicode space (White_Space) and no plus
 * (c2sp.org/signed-note, "Format"), and no ASCII control character (a note may not hold one)?
 */
export function isValidKeyName(name: string): boolean {
  if (name.length === 0 || /[\p{White_Space}+]/u.test(name)) return false;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) < 0x20) return false;
  return true;
}
