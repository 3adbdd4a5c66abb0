import { CodedError, type ErrorInfo } from '../attestation/errors.js';
import { WIRE_ERRORS, type WireErrorCode, type WireErrorKind } from './wire-errors.js';

/**
 * The error class of the session protocol, for every code of the wire table (wire-errors.ts): the
 * executor throws it to refuse, the SDK's local checks (handshake, records, receipts) throw it too.
 * The code fixes the kind.
 */
export type SessionErrorCode = WireErrorCode;
export type SessionErrorKind = WireErrorKind;

export const SESSION_ERROR_KINDS: Readonly<Record<SessionErrorCode, SessionErrorKind>> = Object.fromEntries(
  Object.entries(WIRE_ERRORS).map(([code, e]) => [code, e.kind]),
) as Record<SessionErrorCode, SessionErrorKind>;

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
