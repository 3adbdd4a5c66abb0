/*
 * Where an executor gets its attestation evidence. One interface for every TEE, so the session server
 * asks for "evidence binding these 64 bytes" and does not care whether a TDX module, the AMD secure
 * processor or the simulated software root answers.
 */

export type QuoteProviderTee = 'tdx' | 'sev-snp' | 'simulated';

/** REPORTDATA is 64 bytes on every TEE we support (TDX TDREPORT, SNP ATTESTATION_REPORT, simulated). */
export const REPORT_DATA_BYTES = 64;

export interface QuoteEvidence {
  /** TDX: a DCAP quote; SEV-SNP: the attestation report; simulated: simulated evidence. */
  readonly evidence: Uint8Array;
  /** SEV-SNP: the certificate table the host supplied (GHCB extended guest request), when present. */
  readonly auxblob?: Uint8Array;
}

export interface QuoteProvider {
  readonly tee: QuoteProviderTee;
  /** Evidence whose REPORTDATA is exactly `reportData` (64 bytes). */
  getEvidence(reportData: Uint8Array): Promise<QuoteEvidence>;
}
