import type { WitnessPoolContract } from '../../contracts/bindings/witness-pool.js';
import type { LogSubmission } from '../../protocol/log-submission.js';
import { logFail } from './errors.js';

/*
 * A revealed verdict can only be checked against the chain: the log admits one when the WitnessPool
 * emitted VerdictRevealed for that round with that verdict and that evidence hash (the SHA-256 of the
 * submitted evidence record). Anything else is LOG_CLAIM_UNCHECKABLE, so nobody can log a verdict
 * that no committee member revealed.
 */

const VERDICTS = ['None', 'Ok', 'Fraud', 'Unavailable', 'Stale'] as const;

export function chainVerdictChecker(pool: WitnessPoolContract) {
  return async (s: LogSubmission, evidenceSha256: string): Promise<void> => {
    if (s.roundId === null) logFail('LOG_CLAIM_UNCHECKABLE', 'a revealed verdict names its round');
    const events = await pool.queryFilter(pool.filters.VerdictRevealed!(BigInt(s.roundId)), 0);
    const match = events.some((e) => {
      const [, , verdict, , evidenceHash] = (
        e as unknown as { args: [bigint, string, bigint, bigint, string] }
      ).args;
      return (
        VERDICTS[Number(verdict)] === s.verdict && evidenceHash.slice(2).toLowerCase() === evidenceSha256
      );
    });
    if (!match)
      logFail(
        'LOG_CLAIM_UNCHECKABLE',
        `round ${s.roundId} has no revealed ${s.verdict} verdict with this evidence`,
        {
          roundId: s.roundId,
        },
      );
  };
}
