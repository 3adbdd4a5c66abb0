import { Metadata, status } from '@grpc/grpc-js';
import { isAttestationError } from '../attestation/errors.js';
import { ERROR_DETAIL_KEY, SEALED_ERROR_KEY, sessionCodec } from '../proto/load.js';
import { isSessionError, type SessionErrorCode } from '../protocol/errors.js';
import { type EnclaveHostErrorCode, isEnclaveHostError } from './errors.js';

/*
 * The one table from error codes to gRPC status codes. Every failed RPC carries the status code
 * below, a short message, and an ErrorDetail (stable code, message, JSON info) in the
 * `defaas-error-bin` trailer; the SDK maps it back to a typed error (sdk/errors.ts).
 */
export const RPC_STATUS: Readonly<Record<SessionErrorCode | EnclaveHostErrorCode | 'INTERNAL', status>> = {
  HANDSHAKE_MALFORMED: status.INVALID_ARGUMENT,
  HANDSHAKE_VERSION_UNSUPPORTED: status.FAILED_PRECONDITION,
  HANDSHAKE_REPLAYED: status.ALREADY_EXISTS,
  TRANSCRIPT_SIGNATURE_INVALID: status.UNAUTHENTICATED,
  REPORT_DATA_MISMATCH: status.UNAUTHENTICATED,
  TERMS_MISMATCH: status.FAILED_PRECONDITION,
  SESSION_LIMIT: status.RESOURCE_EXHAUSTED,
  HANDSHAKE_RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  SESSION_UNKNOWN: status.NOT_FOUND,
  SESSION_EXPIRED: status.NOT_FOUND,
  FRAME_MALFORMED: status.INVALID_ARGUMENT,
  FRAME_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  FRAME_AUTH_FAILED: status.UNAUTHENTICATED,
  FRAME_REPLAYED: status.ALREADY_EXISTS,
  FRAME_OUT_OF_WINDOW: status.OUT_OF_RANGE,
  REQUEST_MALFORMED: status.INVALID_ARGUMENT,
  WRONG_LEASE: status.PERMISSION_DENIED,
  LEASE_NOT_ACTIVE: status.FAILED_PRECONDITION,
  NOT_LEASE_CUSTOMER: status.PERMISSION_DENIED,
  LEASE_CHECK_UNAVAILABLE: status.UNAVAILABLE,
  CLIENT_NOT_BOUND: status.PERMISSION_DENIED,
  CLIENT_PROOF_INVALID: status.UNAUTHENTICATED,
  NONCE_STALE: status.FAILED_PRECONDITION,
  VOUCHER_INVALID: status.UNAUTHENTICATED,
  VOUCHER_MISMATCH: status.FAILED_PRECONDITION,
  VOUCHER_REQUIRED: status.FAILED_PRECONDITION,
  VOUCHER_EXPIRED: status.FAILED_PRECONDITION,
  RECEIPT_INVALID: status.INTERNAL,
  RECEIPT_MISMATCH: status.INTERNAL,
  EXECUTOR_INTERNAL: status.INTERNAL,
  EXECUTOR_SHUTTING_DOWN: status.UNAVAILABLE,
  // Function runtime (enclave-host/errors.ts): the function failed; the executor is fine.
  FUNCTION_TRAPPED: status.ABORTED,
  FUNCTION_EXIT_NONZERO: status.ABORTED,
  FUNCTION_TIMEOUT: status.DEADLINE_EXCEEDED,
  FUNCTION_MEMORY_LIMIT: status.RESOURCE_EXHAUSTED,
  OUTPUT_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  FUNCTION_NOT_FOUND: status.NOT_FOUND,
  FUNCTION_INVALID_MODULE: status.INVALID_ARGUMENT,
  FUNCTION_MODULE_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  FUNCTION_TOO_MANY: status.RESOURCE_EXHAUSTED,
  FUNCTION_RESOURCE_LIMIT: status.RESOURCE_EXHAUSTED,
  INPUT_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  RUNTIME_BUSY: status.RESOURCE_EXHAUSTED,
  RUNTIME_CLOSED: status.UNAVAILABLE,
  RUNTIME_WORKER_FAILED: status.UNAVAILABLE,
  QUOTE_PROVIDER_UNAVAILABLE: status.UNAVAILABLE,
  QUOTE_PROVIDER_FAILED: status.UNAVAILABLE,
  QUOTE_PROVIDER_MISMATCH: status.UNAVAILABLE,
  QUOTE_GENERATION_RACE: status.UNAVAILABLE,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  INTERNAL: status.INTERNAL,
};

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly info: Readonly<Record<string, unknown>>;
  readonly grpcStatus: status;
}

/** Maps anything thrown by a handler to the wire error; unknown errors become INTERNAL without detail. */
export function toWireError(e: unknown): WireError {
  if (isSessionError(e) || isEnclaveHostError(e)) {
    return { code: e.code, message: e.message, info: e.info, grpcStatus: RPC_STATUS[e.code] };
  }
  if (isAttestationError(e)) {
    // Only the executor's own evidence can fail here (quote production); never the client's fault.
    return {
      code: 'EXECUTOR_INTERNAL',
      message: `evidence: ${e.message}`,
      info: { cause: e.code },
      grpcStatus: status.INTERNAL,
    };
  }
  return { code: 'EXECUTOR_INTERNAL', message: 'internal error', info: {}, grpcStatus: status.INTERNAL };
}

export interface GrpcServiceError {
  code: status;
  details: string;
  metadata: Metadata;
}

export function infoJson(info: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(info, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * The status of a failed RPC. With `seal` (the request authenticated under a session), the full
 * detail travels sealed in the `defaas-sealed-error-bin` trailer and the plain detail keeps only the
 * code and message.
 */
export function toServiceError(w: WireError, seal?: (plaintext: Buffer) => Buffer): GrpcServiceError {
  const codec = sessionCodec();
  const metadata = new Metadata();
  const full = { code: w.code, message: w.message, infoJson: infoJson(w.info) };
  metadata.set(ERROR_DETAIL_KEY, codec.encodeError(seal ? { ...full, infoJson: '{}' } : full));
  if (seal) metadata.set(SEALED_ERROR_KEY, seal(codec.encodeResponse({ error: full })));
  return { code: w.grpcStatus, details: `${w.code}: ${w.message}`, metadata };
}
