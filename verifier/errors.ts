import { CodedError, type ErrorInfo } from '../attestation/errors.js';

/** Why a witness check could not be run or its input was refused. */
export const VERIFIER_ERROR_KINDS = {
  /** A known-answers file is not what docs/witness.md describes. */
  KNOWN_ANSWERS_MALFORMED: 'malformed',
  /** A probe plan asks for something unbounded or impossible (count, rate, SLA terms). */
  PROBE_PLAN_INVALID: 'usage',
  /** A capacity challenge asked for something outside the protocol (n, claimed rate). */
  CHALLENGE_OPTIONS_INVALID: 'usage',
} as const;

export type VerifierErrorCode = keyof typeof VERIFIER_ERROR_KINDS;
export type VerifierErrorKind = (typeof VERIFIER_ERROR_KINDS)[VerifierErrorCode];

export class VerifierError extends CodedError<VerifierErrorCode, VerifierErrorKind> {
  override readonly name = 'VerifierError';

  constructor(code: VerifierErrorCode, message: string, info?: ErrorInfo, cause?: unknown) {
    super(code, VERIFIER_ERROR_KINDS[code], message, info, cause);
  }
}

export function isVerifierError(e: unknown, code?: VerifierErrorCode): e is VerifierError {
  return e instanceof VerifierError && (code === undefined || e.code === code);
}
