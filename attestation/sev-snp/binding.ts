import { createHash } from 'node:crypto';
import { bytesEqual, concatBytes } from '../bytes.js';
import { fail } from '../errors.js';

/**
 * REPORT_DATA binding check for the common "REPORT_DATA = SHA-512(part₀ ‖ part₁ ‖ …)" rule (e.g.
 * SHA-512(nonce ‖ X25519 public key), the 64-byte digest filling the whole field). A predicate:
 * false when the digest differs, throws only when `reportData` is not 64 bytes (API misuse).
 */
export function reportDataIsSha512Of(reportData: Uint8Array, parts: readonly Uint8Array[]): boolean {
  if (reportData.length !== 64) fail('INVALID_ARGUMENT', `REPORT_DATA is 64 bytes, got ${reportData.length}`);
  const digest = new Uint8Array(
    createHash('sha512')
      .update(concatBytes(...parts))
      .digest(),
  );
  return bytesEqual(digest, reportData);
}
