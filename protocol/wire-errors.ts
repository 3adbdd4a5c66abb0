import { status } from '@grpc/grpc-js';

/*
 * The one table of error codes that travel between executor and client (docs/session.md,
 * "Errors"). Each code fixes a kind and the gRPC status it is sent with when it travels as a status
 * (refusals before a frame authenticated; after that, errors travel sealed with status OK). Both
 * ends read this table: the executor to answer, the SDK to classify. Add codes, never rename one.
 *
 * Kinds, one vocabulary for both ends:
 * - `malformed`: bytes that are not a valid message (a bug or an attack; do not retry as is);
 * - `verification`: a signature, key binding, identity or AEAD tag failed;
 * - `rejected`: a well-formed request refused by the rules (nonce, lease, voucher, module, input);
 *   nothing ran;
 * - `session`: the session is gone; open a new one;
 * - `unavailable`: the executor cannot serve now; nothing ran; retrying later may succeed;
 * - `function`: the function ran and failed (trap, exit code, a limit hit while running); the call
 *   is served and charged, the executor is fine.
 */
export type WireErrorKind =
  | 'malformed'
  | 'verification'
  | 'rejected'
  | 'session'
  | 'unavailable'
  | 'function';

interface Entry {
  readonly kind: WireErrorKind;
  readonly status: status;
}

export const WIRE_ERRORS = {
  // ---- handshake ----
  HANDSHAKE_MALFORMED: { kind: 'malformed', status: status.INVALID_ARGUMENT },
  HANDSHAKE_VERSION_UNSUPPORTED: { kind: 'malformed', status: status.FAILED_PRECONDITION },
  HANDSHAKE_REPLAYED: { kind: 'rejected', status: status.ALREADY_EXISTS },
  HANDSHAKE_RATE_LIMITED: { kind: 'unavailable', status: status.RESOURCE_EXHAUSTED },
  TRANSCRIPT_SIGNATURE_INVALID: { kind: 'verification', status: status.UNAUTHENTICATED },
  REPORT_DATA_MISMATCH: { kind: 'verification', status: status.UNAUTHENTICATED },
  /** The enclave is not the one the client pinned (address or evidence hash). */
  IDENTITY_MISMATCH: { kind: 'verification', status: status.UNAUTHENTICATED },
  TERMS_MISMATCH: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  SESSION_LIMIT: { kind: 'unavailable', status: status.RESOURCE_EXHAUSTED },
  // ---- sessions and frames ----
  SESSION_UNKNOWN: { kind: 'session', status: status.NOT_FOUND },
  SESSION_EXPIRED: { kind: 'session', status: status.NOT_FOUND },
  FRAME_MALFORMED: { kind: 'malformed', status: status.INVALID_ARGUMENT },
  /** The body does not fit a sealed frame under the session's message limit (frame-padding.ts). */
  FRAME_TOO_LARGE: { kind: 'malformed', status: status.RESOURCE_EXHAUSTED },
  /** A frame authenticated but its plaintext is not a body padded to its bucket (frame-padding.ts). */
  FRAME_PADDING_INVALID: { kind: 'malformed', status: status.INVALID_ARGUMENT },
  FRAME_AUTH_FAILED: { kind: 'verification', status: status.UNAUTHENTICATED },
  FRAME_REPLAYED: { kind: 'rejected', status: status.ALREADY_EXISTS },
  FRAME_OUT_OF_WINDOW: { kind: 'rejected', status: status.OUT_OF_RANGE },
  REQUEST_MALFORMED: { kind: 'malformed', status: status.INVALID_ARGUMENT },
  // ---- lease and client ----
  WRONG_LEASE: { kind: 'rejected', status: status.PERMISSION_DENIED },
  LEASE_NOT_ACTIVE: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  NOT_LEASE_CUSTOMER: { kind: 'rejected', status: status.PERMISSION_DENIED },
  LEASE_CHECK_UNAVAILABLE: { kind: 'unavailable', status: status.UNAVAILABLE },
  CLIENT_NOT_BOUND: { kind: 'rejected', status: status.PERMISSION_DENIED },
  CLIENT_PROOF_INVALID: { kind: 'verification', status: status.UNAUTHENTICATED },
  /** The session, or the sessions of its peer address, are bound to as many wallets as allowed. */
  CLIENT_BINDING_LIMIT: { kind: 'rejected', status: status.RESOURCE_EXHAUSTED },
  /** The executor keeps books for as many clients as it may, and none of them is idle. */
  ACCOUNT_LIMIT: { kind: 'unavailable', status: status.RESOURCE_EXHAUSTED },
  // ---- probe grants (a witness served under the customer's ProbeGrant, docs/session.md) ----
  /** The grant names another lease or another witness than the request's. */
  PROBE_GRANT_MISMATCH: { kind: 'rejected', status: status.PERMISSION_DENIED },
  /** The grant is not signed by the lease's customer (in the Settlement domain). */
  PROBE_GRANT_INVALID: { kind: 'verification', status: status.UNAUTHENTICATED },
  PROBE_GRANT_EXPIRED: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  /** The grant is for another epoch than the lease's current one. */
  PROBE_GRANT_WRONG_EPOCH: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  /** The grant's cap does not fit in the lease budget beside the customer's and other grants' amounts. */
  PROBE_GRANT_OVER_BUDGET: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  /** The lease has grants admitted for as many witnesses as the executor keeps. */
  PROBE_GRANT_LIMIT: { kind: 'rejected', status: status.RESOURCE_EXHAUSTED },
  // ---- nonces, vouchers, receipts (billing rules, docs/session.md) ----
  NONCE_STALE: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  /** The nonce is further above the highest one seen than the executor allows. */
  NONCE_TOO_FAR: { kind: 'rejected', status: status.OUT_OF_RANGE },
  VOUCHER_INVALID: { kind: 'verification', status: status.UNAUTHENTICATED },
  VOUCHER_MISMATCH: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  /** The cumulative amount does not cover every call up to the voucher's last nonce. */
  VOUCHER_AMOUNT_TOO_LOW: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  VOUCHER_REQUIRED: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  VOUCHER_EXPIRED: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  /** The deadline leaves less than the executor's minimum time to redeem the voucher on chain. */
  VOUCHER_DEADLINE_TOO_SOON: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  /** The cumulative amount is above the lease's budget: Settlement would refuse to redeem it. */
  VOUCHER_OVER_BUDGET: { kind: 'rejected', status: status.FAILED_PRECONDITION },
  RECEIPT_INVALID: { kind: 'verification', status: status.INTERNAL },
  RECEIPT_MISMATCH: { kind: 'verification', status: status.INTERNAL },
  // ---- the executor ----
  EXECUTOR_INTERNAL: { kind: 'unavailable', status: status.INTERNAL },
  EXECUTOR_SHUTTING_DOWN: { kind: 'unavailable', status: status.UNAVAILABLE },
  // ---- the function runtime (enclave-host/runtime) ----
  FUNCTION_TRAPPED: { kind: 'function', status: status.ABORTED },
  FUNCTION_EXIT_NONZERO: { kind: 'function', status: status.ABORTED },
  FUNCTION_TIMEOUT: { kind: 'function', status: status.DEADLINE_EXCEEDED },
  FUNCTION_MEMORY_LIMIT: { kind: 'function', status: status.RESOURCE_EXHAUSTED },
  OUTPUT_TOO_LARGE: { kind: 'function', status: status.RESOURCE_EXHAUSTED },
  FUNCTION_NOT_FOUND: { kind: 'rejected', status: status.NOT_FOUND },
  FUNCTION_INVALID_MODULE: { kind: 'rejected', status: status.INVALID_ARGUMENT },
  FUNCTION_MODULE_TOO_LARGE: { kind: 'rejected', status: status.RESOURCE_EXHAUSTED },
  FUNCTION_TOO_MANY: { kind: 'rejected', status: status.RESOURCE_EXHAUSTED },
  /** The module declares more of a resource (tables, globals, …) than the runtime allows. */
  FUNCTION_RESOURCE_LIMIT: { kind: 'rejected', status: status.RESOURCE_EXHAUSTED },
  INPUT_TOO_LARGE: { kind: 'rejected', status: status.RESOURCE_EXHAUSTED },
  RUNTIME_BUSY: { kind: 'unavailable', status: status.RESOURCE_EXHAUSTED },
  RUNTIME_CLOSED: { kind: 'unavailable', status: status.UNAVAILABLE },
  RUNTIME_WORKER_FAILED: { kind: 'unavailable', status: status.UNAVAILABLE },
  QUOTE_PROVIDER_UNAVAILABLE: { kind: 'unavailable', status: status.UNAVAILABLE },
  QUOTE_PROVIDER_FAILED: { kind: 'unavailable', status: status.UNAVAILABLE },
  QUOTE_PROVIDER_MISMATCH: { kind: 'unavailable', status: status.UNAVAILABLE },
  QUOTE_GENERATION_RACE: { kind: 'unavailable', status: status.UNAVAILABLE },
  // ---- capacity challenges (docs/witness.md, "Capacity challenges") ----
  /** The witness proof does not recover to the witness, or the witness is not in the lease's current round. */
  CHALLENGE_NOT_MEMBER: { kind: 'rejected', status: status.PERMISSION_DENIED },
  /** The witness's share of the epoch's challenge budget would be exceeded (info: left, epochEndsAt). */
  CHALLENGE_BUDGET: { kind: 'rejected', status: status.RESOURCE_EXHAUSTED },
  /** No kept result for this id (never committed, opened by another witness, expired or dropped). */
  CHALLENGE_UNKNOWN: { kind: 'rejected', status: status.NOT_FOUND },
  /** The witness already used this challenge id within the epoch. */
  CHALLENGE_REPLAYED: { kind: 'rejected', status: status.ALREADY_EXISTS },
  /**
   * Another challenge is being computed: the executor computes one at a time, with all its engine's
   * workers, so that a product's time is its capacity (the witness tries again later; not a miss).
   */
  CHALLENGE_BUSY: { kind: 'unavailable', status: status.UNAVAILABLE },
  /** A challenge or opening outside the protocol's ranges (class, n, id/seed sizes, rows). */
  CHALLENGE_MALFORMED: { kind: 'malformed', status: status.INVALID_ARGUMENT },
} as const satisfies Record<string, Entry>;

export type WireErrorCode = keyof typeof WIRE_ERRORS;

export function isWireErrorCode(code: string): code is WireErrorCode {
  return Object.hasOwn(WIRE_ERRORS, code);
}
