import { CodedError, type ErrorInfo } from '../attestation/errors.js';

/**
 * Error codes of the attested session and of calls made through it. Both ends share this table:
 * the executor sends the code in the `defaas-error-bin` trailer, the SDK maps it back. Add new codes,
 * never rename one. Kinds:
 * - `malformed`: bytes that are not a valid message (a bug or an attack; do not retry as is);
 * - `verification`: a signature, key binding or AEAD tag failed;
 * - `rejected`: a well-formed request refused by the protocol rules (nonce, lease, voucher);
 * - `session`: the session is gone or over its limits; open a new one;
 * - `unavailable`: the executor cannot serve now; retrying later may succeed.
 */
export type SessionErrorKind = 'malformed' | 'verification' | 'rejected' | 'session' | 'unavailable';

export const SESSION_ERROR_KINDS = {
  HANDSHAKE_MALFORMED: 'malformed',
  HANDSHAKE_VERSION_UNSUPPORTED: 'malformed',
  HANDSHAKE_REPLAYED: 'rejected',
  TRANSCRIPT_SIGNATURE_INVALID: 'verification',
  REPORT_DATA_MISMATCH: 'verification',
  TERMS_MISMATCH: 'rejected',
  SESSION_LIMIT: 'unavailable',
  HANDSHAKE_RATE_LIMITED: 'unavailable',
  SESSION_UNKNOWN: 'session',
  SESSION_EXPIRED: 'session',
  FRAME_MALFORMED: 'malformed',
  FRAME_TOO_LARGE: 'malformed',
  FRAME_AUTH_FAILED: 'verification',
  FRAME_REPLAYED: 'rejected',
  FRAME_OUT_OF_WINDOW: 'rejected',
  REQUEST_MALFORMED: 'malformed',
  WRONG_LEASE: 'rejected',
  LEASE_NOT_ACTIVE: 'rejected',
  NOT_LEASE_CUSTOMER: 'rejected',
  LEASE_CHECK_UNAVAILABLE: 'unavailable',
  CLIENT_NOT_BOUND: 'rejected',
  CLIENT_PROOF_INVALID: 'verification',
  NONCE_STALE: 'rejected',
  VOUCHER_INVALID: 'verification',
  VOUCHER_MISMATCH: 'rejected',
  VOUCHER_REQUIRED: 'rejected',
  VOUCHER_EXPIRED: 'rejected',
  RECEIPT_INVALID: 'verification',
  RECEIPT_MISMATCH: 'verification',
  EXECUTOR_INTERNAL: 'unavailable',
  EXECUTOR_SHUTTING_DOWN: 'unavailable',
} as const satisfies Record<string, SessionErrorKind>;

export type SessionErrorCode = keyof typeof SESSION_ERROR_KINDS;

export class SessionError extends CodedError<SessionErrorCode, SessionErrorKind> {
  override readonly name = 'SessionError';

  constructor(code: SessionErrorCode, message: string, info?: ErrorInfo, cause?: unknown) {
    super(code, SESSION_ERROR_KINDS[code], message, info, cause);
  }
}

export function isSessionError(e: unknown, code?: SessionErrorCode): e is SessionError {
  return e instanceof SessionError && (code === undefined || e.code === code);
}

export function sessionFail(
  code: SessionErrorCode,
  message: string,
  info?: ErrorInfo,
  cause?: unknown,
): never {
  throw new SessionError(code, message, info, cause);
}
