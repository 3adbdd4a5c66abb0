import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex } from './bytes.js';
import { fail } from './errors.js';

/**
 * REPORTDATA binding of an executor's keys (ARCHITECTURE.md, trust chain step 1):
 *   SHA-512( "defaas/report-data/v1" ‖ 0x00 ‖ identity address (20) ‖ X25519 static key (32)
 *            [‖ transcript hash (32) in fresh mode] )
 * 64 bytes, the size of REPORTDATA in TDX, SGX and SEV-SNP. The label separates this use of the
 * field from any other, and the fixed lengths make the encoding unambiguous.
 */
export const REPORT_DATA_LABEL = 'defaas/report-data/v1';

export interface ReportDataBinding {
  /** The enclave identity key's Ethereum address (0x-hex, 20 bytes). */
  readonly identityAddress: string;
  readonly x25519PublicKey: Uint8Array;
  /** Fresh mode only: the session transcript hash (32 bytes). */
  readonly transcriptHash?: Uint8Array;
}

export function bindReportData(b: ReportDataBinding): Uint8Array {
  const addr = fromHex(b.identityAddress, 'identity address');
  if (addr.length !== 20) fail('INVALID_ARGUMENT', 'identity address must be 20 bytes');
  if (b.x25519PublicKey.length !== 32) fail('INVALID_ARGUMENT', 'X25519 public key must be 32 bytes');
  if (b.transcriptHash && b.transcriptHash.length !== 32)
    fail('INVALID_ARGUMENT', 'transcript hash must be 32 bytes');
  const label = new TextEncoder().encode(REPORT_DATA_LABEL);
  return sha512(
    concatBytes(label, new Uint8Array([0]), addr, b.x25519PublicKey, b.transcriptHash ?? new Uint8Array(0)),
  );
}
