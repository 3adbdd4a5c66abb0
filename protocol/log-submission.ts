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

/** What the log answered to a submission (`postLogSubmission`). */
export type LogAnswer =
  /** Logged: the entry's index (its first index when the log held the event already) and the log's size. */
  | { readonly ok: true; readonly index: number; readonly fresh: boolean; readonly size: number }
  /** Refused (4xx) or failed (5xx, busy), with the log's code when it gave one. */
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string }
  /** No answer: the log could not be reached or did not answer in time. */
  | { readonly ok: false; readonly status: 0; readonly code: 'UNREACHABLE'; readonly message: string };

/** POSTs a submission to `<url>/add`; never throws (each outcome is a LogAnswer). */
export async function postLogSubmission(
  url: string,
  s: LogSubmission,
  timeoutMs = 30_000,
): Promise<LogAnswer> {
  const target = new URL('add', url.endsWith('/') ? url : `${url}/`);
  let r: Response;
  let body: { code?: unknown; message?: unknown; index?: unknown; fresh?: unknown; size?: unknown };
  try {
    r = await fetch(target, {
      method: 'POST',
      body: formatLogSubmission(s),
      headers: { 'Content-Type': 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    body = (await r.json().catch(() => ({}))) as typeof body;
  } catch (e) {
    return {
      ok: false,
      status: 0,
      code: 'UNREACHABLE',
      message: `${target.origin}: ${(e as Error).message}`,
    };
  }
  if (r.ok && typeof body.index === 'number' && typeof body.size === 'number')
    return { ok: true, index: body.index, fresh: body.fresh === true, size: body.size };
  return {
    ok: false,
    status: r.status,
    code: typeof body.code === 'string' ? body.code : `HTTP_${r.status}`,
    message: typeof body.message === 'string' ? body.message : `HTTP ${r.status}`,
  };
}
