import { CodedError, type ErrorInfo } from '../attestation/errors.js';

/**
 * The one error class of `enclave-host/`. Every rejection carries a stable `code`; the code fixes the
 * `kind`, and the kinds are kept apart because callers act on them differently:
 * - `function`: the customer's function misbehaved (trap, non-zero exit, over a limit while running);
 *   the executor is fine and keeps serving;
 * - `rejected`: the request or module was refused before anything ran (bad module, input too large,
 *   unknown function);
 * - `unavailable`: the executor cannot do this here or now (no TEE, closed runtime, a race that a
 *   retry may win);
 * - `usage`: the API was called wrongly (a bug in the caller).
 */
export type EnclaveHostErrorKind = 'function' | 'rejected' | 'unavailable' | 'usage';

/** Stable error codes. Add new codes here, never rename one: tools and users match on them. */
export const ENCLAVE_HOST_ERROR_KINDS = {
  // --- function (the guest failed while running) ---
  FUNCTION_TRAPPED: 'function',
  FUNCTION_EXIT_NONZERO: 'function',
  FUNCTION_TIMEOUT: 'function',
  FUNCTION_MEMORY_LIMIT: 'function',
  OUTPUT_TOO_LARGE: 'function',
  // --- rejected (nothing ran) ---
  FUNCTION_NOT_FOUND: 'rejected',
  FUNCTION_INVALID_MODULE: 'rejected',
  FUNCTION_MODULE_TOO_LARGE: 'rejected',
  FUNCTION_TOO_MANY: 'rejected',
  /** The module declares more of a resource (tables, globals, …) than the runtime allows. */
  FUNCTION_RESOURCE_LIMIT: 'rejected',
  INPUT_TOO_LARGE: 'rejected',
  RUNTIME_BUSY: 'rejected',
  // --- unavailable ---
  RUNTIME_CLOSED: 'unavailable',
  RUNTIME_WORKER_FAILED: 'unavailable',
  QUOTE_PROVIDER_UNAVAILABLE: 'unavailable',
  QUOTE_PROVIDER_FAILED: 'unavailable',
  QUOTE_PROVIDER_MISMATCH: 'unavailable',
  QUOTE_GENERATION_RACE: 'unavailable',
  // --- usage ---
  INVALID_ARGUMENT: 'usage',
} as const satisfies Record<string, EnclaveHostErrorKind>;

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
