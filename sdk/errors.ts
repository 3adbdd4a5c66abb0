import type { Metadata, ServiceError } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import {
  ATTESTATION_ERROR_KINDS,
  type AttestationErrorCode,
  CodedError,
  type ErrorInfo,
  isAttestationError,
} from '../attestation/errors.js';
import type { ErrorDetail__Output } from '../proto/gen/defaas/executor/v1/ErrorDetail.js';
import { ERROR_DETAIL_KEY, sessionCodec } from '../proto/load.js';
import { isSessionError } from '../protocol/errors.js';
import type { VerifiedReceipt } from '../protocol/receipts.js';
import type { CallRecord } from '../protocol/typed-data.js';
import { parseInfoJson } from '../protocol/wire.js';
import {
  isWireErrorCode,
  WIRE_ERRORS,
  type WireErrorCode,
  type WireErrorKind,
} from '../protocol/wire-errors.js';

/*
 * The one error class of the SDK. `code` is stable: attestation codes (evidence and policy, from
 * attestation/errors.ts), the wire codes both ends share (protocol/wire-errors.ts: session, calls,
 * vouchers, the function runtime), and the SDK's own codes below. `kind` tells a caller what to do:
 * - `attestation`: the executor's evidence was refused; do not use this executor;
 * - `protocol`: the session or a call broke the protocol (malformed, or a signature, key, identity
 *   or record check failed);
 * - `function`: the function ran and failed (trap, exit code, limits); the call is charged;
 * - `rejected`: the executor refused the request by its rules; nothing ran;
 * - `transient`: transport, availability or a gone session; retrying later may succeed;
 * - `usage`: the SDK was called wrongly.
 * Wire kinds map onto these: malformed and verification → protocol, session and unavailable →
 * transient, the rest as they are.
 */
export type DefaasErrorKind = 'attestation' | 'protocol' | 'function' | 'rejected' | 'transient' | 'usage';

export const SDK_ERROR_KINDS = {
  TRANSPORT_UNAVAILABLE: 'transient',
  TRANSPORT_DEADLINE: 'transient',
  TRANSPORT_MESSAGE_TOO_LARGE: 'rejected',
  TRANSPORT_ERROR: 'transient',
  /**
   * The call ran (the executor says so inside the session) but its response was lost: `info`
   * holds its verified record (and receipt); it is charged. Sending it again runs it again.
   */
  CALL_OUTPUT_LOST: 'transient',
  /** The response was lost and the executor cannot tell whether the call ran (it may have). */
  CALL_OUTCOME_UNKNOWN: 'transient',
  /** The attestation log refused a submission (its code and message say why). */
  LOG_SUBMISSION_REFUSED: 'rejected',
  /** The attestation log cannot be reached or is busy now. */
  LOG_UNAVAILABLE: 'transient',
  SDK_INVALID_ARGUMENT: 'usage',
  /** Executor requirements that no executor could be checked against (a negative minimum, no TEE type). */
  SDK_INVALID_REQUIREMENTS: 'usage',
  /** A FaaS level id the Market does not have. */
  MARKET_UNKNOWN_LEVEL: 'usage',
  /** The chain's JSON-RPC endpoint cannot be reached or does not answer. */
  CHAIN_UNAVAILABLE: 'transient',
  /** The chain answered, but not as the deployment's contracts would (wrong address or chain). */
  CHAIN_UNEXPECTED_ANSWER: 'protocol',
  SDK_SESSION_CLOSED: 'usage',
  /** The lease is not Open on chain (never started, or already settled or closed). */
  LEASE_NOT_OPEN: 'rejected',
  /** The endpoint an executor registered on chain is not "host:port" (or "grpc://host:port"). */
  EXECUTOR_ENDPOINT_INVALID: 'protocol',
  /** A lease pool has no member left to send a call to (all are down, or all were tried). */
  POOL_NO_MEMBER: 'transient',
} as const satisfies Record<string, DefaasErrorKind>;

export type DefaasErrorCode = AttestationErrorCode | WireErrorCode | keyof typeof SDK_ERROR_KINDS;

/** What a failed function wrote before it failed, as the enclave sealed it. */
export interface FunctionOutput {
  /** Partial stdout. */
  readonly stdout: Uint8Array;
  /** stderr, at most the executor's `limits.maxStderrBytes`. */
  readonly stderr: Uint8Array;
  /** stderr bytes dropped beyond that limit (0: complete). */
  readonly stderrTruncatedBytes: number;
}

/**
 * Where an error came from, which decides what it may change:
 * - `sealed`: the enclave said it, inside the session (a fact);
 * - `plaintext`: a gRPC status or trailer, or a stream refusal frame: anyone on the path can forge
 *   it, so it is a hint that moves no client state (docs/session.md, "The client's trust rule");
 * - `local`: raised by the SDK itself (a check failed, the transport broke, a deadline passed).
 */
export type ErrorOrigin = 'sealed' | 'plaintext' | 'local';

/** What became of a refused call's nonce, as the enclave said it (sealed errors only). */
export type CallOutcome = 'not-admitted' | 'not-run';

export class DefaasError extends CodedError<DefaasErrorCode, DefaasErrorKind> {
  override readonly name = 'DefaasError';
  /** The gRPC status the executor answered with, when the error came over the wire as a status. */
  readonly grpcStatus: number | undefined;
  origin: ErrorOrigin = 'local';
  /** Sealed refusals of a call: its nonce was not taken, or taken without running (not charged). */
  callOutcome: CallOutcome | undefined;
  /**
   * A function failure's partial stdout and stderr. Set only from a response sealed by the enclave
   * (never from a plaintext gRPC trailer, which a relay or the host could forge).
   */
  functionOutput: FunctionOutput | undefined;
  /** A call that ran (failed, or whose output was lost): its verified record and receipt, if any. */
  call: CallEvidence | undefined;
  /**
   * Set on a failed call when its Invoke left the client and no sealed answer said it did not run:
   * the call ran (a function failure, CALL_OUTPUT_LOST) or may have run (CALL_OUTCOME_UNKNOWN, a
   * failed check of its answer, a failure while asking about it). False on every error of a call
   * that certainly did not run: raised before the Invoke went out, or the enclave's sealed refusal.
   */
  invokeSent = false;
  /** The lease whose executor raised the error, when a lease pool (sdk/lease-pool.ts) made the call. */
  leaseId: bigint | undefined;

  constructor(
    code: DefaasErrorCode,
    message: string,
    info?: ErrorInfo,
    cause?: unknown,
    grpcStatus?: number,
  ) {
    super(code, kindOf(code), `${code}: ${message}`, info, cause);
    this.grpcStatus = grpcStatus;
  }
}

/** The verified record of a call that ran, with the receipt covering it (per call, or a promise for its batch). */
export interface CallEvidence {
  readonly record: CallRecord;
  readonly receipt: VerifiedReceipt | Promise<VerifiedReceipt> | undefined;
}

export function isDefaasError(e: unknown, code?: DefaasErrorCode): e is DefaasError {
  return e instanceof DefaasError && (code === undefined || e.code === code);
}

const WIRE_KIND_TO_SDK: Readonly<Record<WireErrorKind, DefaasErrorKind>> = {
  malformed: 'protocol',
  verification: 'protocol',
  rejected: 'rejected',
  session: 'transient',
  unavailable: 'transient',
  function: 'function',
};

function kindOf(code: DefaasErrorCode): DefaasErrorKind {
  if (code in ATTESTATION_ERROR_KINDS) {
    const k = ATTESTATION_ERROR_KINDS[code as AttestationErrorCode];
    return k === 'transient' ? 'transient' : k === 'usage' ? 'usage' : 'attestation';
  }
  if (isWireErrorCode(code)) return WIRE_KIND_TO_SDK[WIRE_ERRORS[code].kind];
  return SDK_ERROR_KINDS[code as keyof typeof SDK_ERROR_KINDS] ?? 'transient';
}

function knownCode(code: string): code is DefaasErrorCode {
  return code in ATTESTATION_ERROR_KINDS || isWireErrorCode(code) || code in SDK_ERROR_KINDS;
}

/** A typed error from an ErrorDetail: the code if it is one we know (else TRANSPORT_ERROR), message, info. */
function fromErrorDetail(
  d: { code: string; message: string; infoJson: string },
  origin: ErrorOrigin,
  grpcStatus?: number,
): DefaasError {
  const info: ErrorInfo = parseInfoJson(d.infoJson);
  const code = knownCode(d.code) ? d.code : 'TRANSPORT_ERROR';
  const e = new DefaasError(
    code,
    d.message,
    code === d.code ? info : { ...info, remoteCode: d.code },
    undefined,
    grpcStatus,
  );
  e.origin = origin;
  return e;
}

/** A typed error from an ErrorDetail read in the clear (trailer, stream refusal frame): a hint. */
export function fromPlainErrorDetail(
  d: { code: string; message: string; infoJson: string },
  grpcStatus?: number,
): DefaasError {
  return fromErrorDetail(d, 'plaintext', grpcStatus);
}

/** A typed error from an ErrorDetail inside a frame the enclave sealed: the only one with a call outcome. */
export function fromSealedErrorDetail(d: ErrorDetail__Output): DefaasError {
  const e = fromErrorDetail(d, 'sealed');
  if (d.callOutcome === 'CALL_OUTCOME_NOT_ADMITTED') e.callOutcome = 'not-admitted';
  else if (d.callOutcome === 'CALL_OUTCOME_NOT_RUN') e.callOutcome = 'not-run';
  return e;
}

/** Maps a gRPC failure (with or without the defaas-error-bin trailer) to a DefaasError. */
export function fromGrpcError(e: ServiceError): DefaasError {
  const md: Metadata | undefined = e.metadata;
  const raw = md?.get(ERROR_DETAIL_KEY)[0];
  if (raw instanceof Buffer) {
    try {
      return fromPlainErrorDetail(sessionCodec().decodeError(raw), e.code);
    } catch {
      // Fall through to the status code.
    }
  }
  const err = statusError(e);
  err.origin = 'plaintext';
  return err;
}

function statusError(e: ServiceError): DefaasError {
  switch (e.code) {
    case status.UNAVAILABLE:
      return new DefaasError('TRANSPORT_UNAVAILABLE', e.details || 'executor unreachable', {}, e, e.code);
    case status.DEADLINE_EXCEEDED:
      return new DefaasError('TRANSPORT_DEADLINE', e.details || 'deadline exceeded', {}, e, e.code);
    case status.RESOURCE_EXHAUSTED:
      return new DefaasError('TRANSPORT_MESSAGE_TOO_LARGE', e.details || 'message too large', {}, e, e.code);
    default:
      return new DefaasError('TRANSPORT_ERROR', e.details || e.message, { grpcStatus: e.code }, e, e.code);
  }
}

/** Wraps attestation and session errors raised locally (handshake checks, receipt checks). */
export function toDefaasError(e: unknown): DefaasError {
  if (e instanceof DefaasError) return e;
  if (isAttestationError(e) || isSessionError(e)) return new DefaasError(e.code, e.message, e.info, e);
  if (isServiceError(e)) return fromGrpcError(e);
  return new DefaasError('TRANSPORT_ERROR', e instanceof Error ? e.message : String(e), {}, e);
}

function isServiceError(e: unknown): e is ServiceError {
  return e instanceof Error && typeof (e as Partial<ServiceError>).code === 'number' && 'metadata' in e;
}
