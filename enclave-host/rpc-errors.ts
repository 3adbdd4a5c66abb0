import { Metadata, status } from '@grpc/grpc-js';
import { isAttestationError } from '../attestation/errors.js';
import { ERROR_DETAIL_KEY, SEALED_ERROR_KEY, sessionCodec } from '../proto/load.js';
import { isSessionError, type SessionErrorCode } from '../protocol/errors.js';
import { infoJson } from '../protocol/wire.js';
import { WIRE_ERRORS } from '../protocol/wire-errors.js';
import { type EnclaveHostErrorCode, isEnclaveHostError } from './errors.js';

/*
 * Error codes travel with the gRPC status of the one wire table (protocol/wire-errors.ts). A failed
 * RPC carries that status, a short message, and an ErrorDetail (stable code, message, JSON info) in
 * the `defaas-error-bin` trailer; the SDK maps it back to a typed error (sdk/errors.ts).
 */
function statusOf(code: SessionErrorCode | EnclaveHostErrorCode): status {
  return code === 'INVALID_ARGUMENT' ? status.INVALID_ARGUMENT : WIRE_ERRORS[code].status;
}

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly info: Readonly<Record<string, unknown>>;
  readonly grpcStatus: status;
}

/** Maps anything thrown by a handler to the wire error; unknown errors become INTERNAL without detail. */
export function toWireError(e: unknown): WireError {
  if (isSessionError(e) || isEnclaveHostError(e)) {
    return { code: e.code, message: e.message, info: e.info, grpcStatus: statusOf(e.code) };
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
