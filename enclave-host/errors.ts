import { CodedError, type ErrorInfo } from '../attestation/errors.js';
import { WIRE_ERRORS, type WireErrorCode, type WireErrorKind } from '../protocol/wire-errors.js';

/**
 * The one error class of `enclave-host/`. Every rejection carries a stable `code`; the code fixes the
 * `kind`. The runtime's codes are wire codes (protocol/wire-errors.ts), with the kind that table
 * gives them (`function`: the guest ran and failed; `rejected`: refused before anything ran;
 * `unavailable`: not here or not now); `INVALID_ARGUMENT` (kind `usage`) is a caller's bug and stays
 * local.
 */
export type EnclaveHostErrorKind = WireErrorKind | 'usage';

const RUNTIME_CODES = [
  'FUNCTION_TRAPPED',
  'FUNCTION_EXIT_NONZERO',
  'FUNCTION_TIMEOUT',
  'FUNCTION_MEMORY_LIMIT',
  'OUTPUT_TOO_LARGE',
  'FUNCTION_NOT_FOUND',
  'FUNCTION_INVALID_MODULE',
  'FUNCTION_MODULE_TOO_LARGE',
  'FUNCTION_TOO_MANY',
  'FUNCTION_RESOURCE_LIMIT',
  'INPUT_TOO_LARGE',
  'RUNTIME_BUSY',
  'RUNTIME_CLOSED',
  'RUNTIME_WORKER_FAILED',
  'QUOTE_PROVIDER_UNAVAILABLE',
  'QUOTE_PROVIDER_FAILED',
  'QUOTE_PROVIDER_MISMATCH',
  'QUOTE_GENERATION_RACE',
] as const satisfies readonly WireErrorCode[];

/** Stable error codes with their kinds. Add new codes to the wire table, never rename one. */
export const ENCLAVE_HOST_ERROR_KINDS: Readonly<
  Record<(typeof RUNTIME_CODES)[number] | 'INVALID_ARGUMENT', EnclaveHostErrorKind>
> = {
  ...(Object.fromEntries(RUNTIME_CODES.map((c) => [c, WIRE_ERRORS[c].kind])) as Record<
    (typeof RUNTIME_CODES)[number],
    WireErrorKind
  >),
  INVALID_ARGUMENT: 'usage',
};

export type EnclaveHostErrorCode = keyof typeof ENCLAVE_HOST_ERROR_KINDS;

export class EnclaveHostError extends CodedError<EnclaveHostErrorCode, EnclaveHostErrorKind> {
  override readonly name = 'EnclaveHostError';

  constructor(code: EnclaveHostErrorCode, message: string, info?: ErrorInfo, cause?: unknown) {
    super(code, ENCLAVE_HOST_ERROR_KINDS[code], message, info, cause);
  }
}

export function isEnclaveHostError(e: unknown, code?: EnclaveHostErrorCode): e is EnclaveHostError {
  return e instanceof EnclaveHostError && (code === undefined || e.code === code);
}

/** Shorthand for `throw new EnclaveHostError(...)` in expression position. */
export function fail(code: EnclaveHostErrorCode, message: string, info?: ErrorInfo, cause?: unknown): never {
  throw new EnclaveHostError(code, message, info, cause);
}
