import { Metadata, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isAttestationError } from '../attestation/errors.js';
import type { CallOutcome } from '../proto/gen/defaas/executor/v1/CallOutcome.js';
import type { ErrorDetail } from '../proto/gen/defaas/executor/v1/ErrorDetail.js';
import { ERROR_DETAIL_KEY, sessionCodec } from '../proto/load.js';
import { isSessionError, type SessionErrorCode } from '../protocol/errors.js';
import { infoJson } from '../protocol/wire.js';
import { WIRE_ERRORS } from '../protocol/wire-errors.js';
import { type EnclaveHostErrorCode, isEnclaveHostError } from './errors.js';

/*
 * How a refusal travels (docs/session.md, "Errors: sealed after authentication, hints before"):
 * every code has the kind and gRPC status of the one wire table (protocol/wire-errors.ts).
 * - Before a frame authenticated: a gRPC status, details "<CODE>: <message>", and the ErrorDetail
 *   in the plaintext `defaas-error-bin` trailer (`toServiceError`); on InvokeStream the same
 *   ErrorDetail in a SealedFrame without ciphertext. A hint: anyone on the path can forge it.
 * - After: the ErrorDetail (`errorDetail`) inside the sealed SessionResponse, with status OK.
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

/** Maps anything thrown by a handler to the wire error; unknown errors become EXECUTOR_INTERNAL without detail. */
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

/** The ErrorDetail of a refusal; `callOutcome` only for an Invoke, and only sealed. */
export function errorDetail(w: WireError, callOutcome?: CallOutcome): ErrorDetail {
  return {
    code: w.code,
    message: w.message,
    infoJson: infoJson(w.info),
    ...(callOutcome !== undefined && { callOutcome }),
  };
}

export interface GrpcServiceError {
  code: status;
  details: string;
  metadata: Metadata;
}

/** The status of an RPC refused before its frame authenticated, with the plaintext detail. */
export function toServiceError(w: WireError): GrpcServiceError {
  const metadata = new Metadata();
  metadata.set(ERROR_DETAIL_KEY, sessionCodec().encodeError(errorDetail(w)));
  return { code: w.grpcStatus, details: `${w.code}: ${w.message}`, metadata };
}

/** Internal errors are logged with their cause; refusals by the rules at debug level only. */
export function logRefusal(log: Logger, w: WireError, e: unknown, rpc: string): void {
  if (w.code === 'EXECUTOR_INTERNAL') log.error({ err: e, rpc }, 'internal error');
  else log.debug({ rpc, code: w.code }, 'request refused');
}
