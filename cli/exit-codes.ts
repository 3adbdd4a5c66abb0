import { type AttestationErrorKind, isAttestationError } from '../attestation/errors.js';

/** Exit codes shared by every `defaas` subcommand. */
export const EXIT = {
  OK: 0,
  /** Rejected: malformed input, failed verification, or refused by policy. */
  REJECTED: 1,
  /** Wrong usage: unknown option, missing argument, unreadable file. */
  USAGE: 2,
  /** Transient: something could not be fetched now (collateral, network); retrying may succeed. */
  TRANSIENT: 3,
} as const;

export function exitCodeForKind(kind: AttestationErrorKind): number {
  switch (kind) {
    case 'transient':
      return EXIT.TRANSIENT;
    case 'usage':
      return EXIT.USAGE;
    default:
      return EXIT.REJECTED;
  }
}

export function exitCodeFor(e: unknown): number {
  return isAttestationError(e) ? exitCodeForKind(e.kind) : EXIT.REJECTED;
}

/** A usage problem found by a command itself (e.g. a missing file), reported with exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
