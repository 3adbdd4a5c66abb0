/*
 * What a writer sends the attestation log (`POST /add`; docs/log.md, "Submitting"): UTF-8 JSON
 * {v: 1, kind, evidence: base64, chain, enclave, provider, executorId, leaseId, roundId, policyHash,
 * verdict, code}, the claims null where unknown. Providers, the SDK and witness agents write it; the
 * log (verifier/log/submission.ts) parses it, verifies the evidence itself and builds the entry.
 */

export const LOG_ENTRY_KINDS = [
  /** A provider registered (or re-registered) an executor with this evidence. */
  'executor-registered',
  /** A client verified an executor's evidence when it opened a session. */
  'session-verified',
  /** An executor presented fresh evidence or collateral for an identity already logged. */
  'evidence-refreshed',
  /** A witness revealed a verdict; the evidence is its evidence record. */
  'verdict-revealed',
] as const;
export type LogEntryKind = (typeof LOG_ENTRY_KINDS)[number];

/** A verdict a witness reveals (IWitnessPool.Verdict), or the result of a client's policy check. */
export const LOG_ENTRY_VERDICTS = ['accepted', 'refused', 'Ok', 'Fraud', 'Unavailable', 'Stale'] as const;
export type LogEntryVerdict = (typeof LOG_ENTRY_VERDICTS)[number];

/** What only the submitter knows; the log takes it as claimed and auditors check it against the chain. */
export interface LogClaims {
  readonly chain: { readonly id: number; readonly block: number } | null;
  /** Lower-case 0x addresses. */
  readonly enclave: string | null;
  readonly provider: string | null;
  /** uint256 identifiers in decimal. */
  readonly executorId: string | null;
  readonly leaseId: string | null;
  readonly roundId: string | null;
  /** SHA-256 of the policy the client checked against, lower-case hex. */
  readonly policyHash: string | null;
  readonly verdict: LogEntryVerdict | null;
  /** The error code of a refusal, or null. */
  readonly code: string | null;
}

export const LOG_CLAIM_KEYS = [
  'chain',
  'enclave',
  'provider',
  'executorId',
  'leaseId',
  'roundId',
  'policyHash',
  'verdict',
  'code',
] as const satisfies readonly (keyof LogClaims)[];

export interface LogSubmission extends LogClaims {
  readonly kind: LogEntryKind;
  /** The encoded evidence bundle (attestation/bundle.ts) or, for a revealed verdict, the witness's evidence record. */
  readonly evidence: Uint8Array;
}

/** No claims: every field null. */
export const NO_CLAIMS: LogClaims = Object.fromEntries(
  LOG_CLAIM_KEYS.map((k) => [k, null]),
) as unknown as LogClaims;

/** The JSON body of a submission. */
export function formatLogSubmission(s: LogSubmission): Uint8Array {
  const o: Record<string, unknown> = {
    v: 1,
    kind: s.kind,
    evidence: Buffer.from(s.evidence).toString('base64'),
  };
  for (const k of LOG_CLAIM_KEYS) o[k] = s[k];
  return new TextEncoder().encode(JSON.stringify(o));
}
