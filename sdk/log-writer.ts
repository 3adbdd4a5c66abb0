import { type LogSubmission, postLogSubmission } from '../protocol/log-submission.js';
import { DefaasError } from './errors.js';

/*
 * Writes attestation events to an attestation log (docs/log.md, "Submitting"). The log verifies the
 * evidence itself; this resolves once the entry is under a signed checkpoint, with its index. A
 * refusal is LOG_SUBMISSION_REFUSED carrying the log's code (`info.logCode`); a log that cannot be
 * reached, times out, is busy or over its quota for now is LOG_UNAVAILABLE.
 */

export interface LogReceipt {
  readonly index: number;
  /** False when the log already held the same event (its first index is given). */
  readonly fresh: boolean;
  /** The log's size after the entry was added. */
  readonly size: number;
}

export async function submitToLog(url: string, s: LogSubmission, timeoutMs?: number): Promise<LogReceipt> {
  const a = await postLogSubmission(url, s, timeoutMs);
  if (a.ok) return { index: a.index, fresh: a.fresh, size: a.size };
  const later = a.status === 0 || a.status === 429 || a.status >= 500;
  throw new DefaasError(
    later ? 'LOG_UNAVAILABLE' : 'LOG_SUBMISSION_REFUSED',
    `attestation log: ${a.code}: ${a.message}`,
    { logCode: a.code, status: a.status },
  );
}
