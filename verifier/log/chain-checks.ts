import type { RegistryContract } from '../../contracts/bindings/registry.js';
import type { WitnessPoolContract } from '../../contracts/bindings/witness-pool.js';
import type { LogSubmission } from '../../protocol/log-submission.js';
import { logFail } from './errors.js';

/*
 * Claims the log checks against the chain before it admits them:
 * - a revealed verdict, when the WitnessPool emitted VerdictRevealed for that round with that verdict
 *   and that evidence hash (the SHA-256 of the submitted evidence record), so nobody can log a
 *   verdict that no committee member revealed;
 * - a registration, when the Registry holds that evidence hash (and enclave and provider, where
 *   claimed) for that executor, so nobody can log a registration that did not happen.
 * Anything else is LOG_CLAIM_UNCHECKABLE.
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

export function chainRegistrationChecker(registry: RegistryContract) {
  return async (s: LogSubmission, evidenceSha256: string): Promise<void> => {
    if (s.executorId === null) logFail('LOG_CLAIM_UNCHECKABLE', 'a registration names its executor');
    const id = BigInt(s.executorId);
    if (id === 0n || id > (await registry.executorCount()))
      logFail('LOG_CLAIM_UNCHECKABLE', `executor ${s.executorId} is not registered`, {
        executorId: s.executorId,
      });
    const x = await registry.executor(id);
    const mismatch =
      x.evidenceHash.slice(2).toLowerCase() !== evidenceSha256
        ? 'evidence hash'
        : s.enclave !== null && x.enclave.toLowerCase() !== s.enclave
          ? 'enclave'
          : s.provider !== null && x.provider.toLowerCase() !== s.provider
            ? 'provider'
            : undefined;
    if (mismatch !== undefined)
      logFail('LOG_CLAIM_UNCHECKABLE', `executor ${s.executorId} is registered with another ${mismatch}`, {
        executorId: s.executorId,
      });
  };
}
