import { isSimulatedEvidence } from './simulated.js';

export type EvidenceFormat = 'intel-quote' | 'sev-snp-report' | 'simulated' | 'unknown';

/**
 * Recognises the evidence type from its first bytes, before any parsing:
 * - Intel DCAP quote: u16 version 3/4/5, then u16 attestation key type 2 (ECDSA-256-with-P-256);
 *   (TDX DCAP quote v4 table 3 / v5 table 3, SGX ECDSA quote v3 "Quote Header")
 * - SEV-SNP ATTESTATION_REPORT: u32 version 2, 3 or 5 (SEV-SNP ABI #56860, table 23, offset 0x00);
 * - simulated evidence: magic "DEFAASIM".
 * The two hardware forms cannot collide: a quote's bytes 2..3 are 02 00, a report's are 00 00.
 */
export function detectEvidenceFormat(b: Uint8Array): EvidenceFormat {
  if (isSimulatedEvidence(b)) return 'simulated';
  if (b.length < 4) return 'unknown';
  const lo = b[0]! | (b[1]! << 8);
  const hi = b[2]! | (b[3]! << 8);
  if ((lo === 3 || lo === 4 || lo === 5) && hi === 2) return 'intel-quote';
  if ((lo === 2 || lo === 3 || lo === 5) && hi === 0) return 'sev-snp-report';
  return 'unknown';
}
