/**
 * The one error class of `attestation/`. Every rejection carries a stable `code`; the code fixes the
 * `kind`, and the kinds are kept apart because callers act on them differently:
 * - `malformed`: the bytes are not what they claim to be (parse stage);
 * - `verification`: signatures, chains, revocation, freshness or TCB matching failed (verify stage);
 * - `policy`: genuine evidence that the relying party's policy refuses (validate stage);
 * - `transient`: collateral could not be fetched now; trying again later may succeed;
 * - `usage`: the API was called wrongly (a bug in the caller, not in the evidence).
 */
export type AttestationErrorKind = 'malformed' | 'verification' | 'policy' | 'transient' | 'usage';

/** Stable error codes. Add new codes here, never rename one: tools and users match on them. */
export const ATTESTATION_ERROR_KINDS = {
  // --- malformed (parse) ---
  EVIDENCE_UNKNOWN_FORMAT: 'malformed',
  QUOTE_TRUNCATED: 'malformed',
  QUOTE_UNSUPPORTED_VERSION: 'malformed',
  QUOTE_UNSUPPORTED_TEE_TYPE: 'malformed',
  QUOTE_UNSUPPORTED_KEY_TYPE: 'malformed',
  QUOTE_UNSUPPORTED_CERT_DATA: 'malformed',
  QUOTE_BAD_FIELD: 'malformed',
  SNP_REPORT_TRUNCATED: 'malformed',
  SNP_UNSUPPORTED_VERSION: 'malformed',
  SNP_RESERVED_NONZERO: 'malformed',
  SNP_BAD_FIELD: 'malformed',
  SIM_MALFORMED: 'malformed',
  CERT_MALFORMED: 'malformed',
  CRL_MALFORMED: 'malformed',
  COLLATERAL_MALFORMED: 'malformed',
  POLICY_MALFORMED: 'malformed',
  // --- verification (verify) ---
  COLLATERAL_MISSING: 'verification',
  COLLATERAL_EXPIRED: 'verification',
  COLLATERAL_NOT_YET_VALID: 'verification',
  ROOT_NOT_TRUSTED: 'verification',
  CERT_CHAIN_INVALID: 'verification',
  CERT_REVOKED: 'verification',
  CRL_INVALID: 'verification',
  QUOTE_SIGNATURE_INVALID: 'verification',
  QE_REPORT_SIGNATURE_INVALID: 'verification',
  QE_REPORT_DATA_MISMATCH: 'verification',
  TCB_INFO_SIGNATURE_INVALID: 'verification',
  TCB_INFO_MISMATCH: 'verification',
  QE_IDENTITY_SIGNATURE_INVALID: 'verification',
  QE_IDENTITY_MISMATCH: 'verification',
  TCB_NOT_SUPPORTED: 'verification',
  TCB_REVOKED: 'verification',
  SNP_SIGNATURE_INVALID: 'verification',
  SNP_SIGNING_KEY_MISMATCH: 'verification',
  SNP_VCEK_TCB_MISMATCH: 'verification',
  SNP_CHIP_ID_MISMATCH: 'verification',
  SIM_SIGNATURE_INVALID: 'verification',
  // --- policy (validate) ---
  POLICY_TEE_NOT_ALLOWED: 'policy',
  POLICY_NO_MEASUREMENTS: 'policy',
  POLICY_MEASUREMENT_MISMATCH: 'policy',
  POLICY_DEBUG: 'policy',
  POLICY_TCB_STATUS: 'policy',
  POLICY_ADVISORY: 'policy',
  POLICY_MIN_TCB: 'policy',
  POLICY_VMPL: 'policy',
  POLICY_ATTRIBUTES: 'policy',
  POLICY_REPORT_DATA_MISMATCH: 'policy',
  POLICY_HARDWARE_ID_MISMATCH: 'policy',
  POLICY_COLLATERAL_TOO_OLD: 'policy',
  // --- transient ---
  COLLATERAL_UNAVAILABLE: 'transient',
  COLLATERAL_RATE_LIMITED: 'transient',
  // --- usage ---
  INVALID_ARGUMENT: 'usage',
} as const satisfies Record<string, AttestationErrorKind>;

export type AttestationErrorCode = keyof typeof ATTESTATION_ERROR_KINDS;

export type ErrorInfo = Readonly<Record<string, unknown>>;

/**
 * The shape of every typed error in the project (attestation, session, enclave host, SDK): a stable
 * `code`, the `kind` that code fixes, and JSON-able `info`. Each folder subclasses it with its own
 * code table.
 */
export abstract class CodedError<C extends string, K extends string> extends Error {
  readonly code: C;
  readonly kind: K;
  readonly info: ErrorInfo;

  protected constructor(code: C, kind: K, message: string, info: ErrorInfo = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.kind = kind;
    this.info = info;
  }
}

export class AttestationError extends CodedError<AttestationErrorCode, AttestationErrorKind> {
  override readonly name = 'AttestationError';

  constructor(code: AttestationErrorCode, message: string, info?: ErrorInfo, cause?: unknown) {
    super(code, ATTESTATION_ERROR_KINDS[code], message, info, cause);
  }
}

export function isAttestationError(e: unknown, code?: AttestationErrorCode): e is AttestationError {
  return e instanceof AttestationError && (code === undefined || e.code === code);
}

/** Shorthand for `throw new AttestationError(...)` in expression position. */
export function fail(code: AttestationErrorCode, message: string, info?: ErrorInfo, cause?: unknown): never {
  throw new AttestationError(code, message, info, cause);
}
