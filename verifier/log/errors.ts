import { CodedError, type ErrorInfo } from '../../attestation/errors.js';

/**
 * The one error class of `verifier/log/`. The kinds follow attestation/errors.ts:
 * - `malformed`: bytes or text that are not in the C2SP format they claim (parse stage);
 * - `verification`: a signature, proof or tile hash that does not verify;
 * - `policy`: well-formed, verified input that the caller's policy refuses (quorum, origin);
 * - `transient`: a tile or bundle could not be fetched now;
 * - `usage`: the API was called wrongly (a bug in the caller).
 */
export type LogErrorKind = 'malformed' | 'verification' | 'policy' | 'transient' | 'usage';

/** Stable codes. Add new codes here, never rename one: tools and users match on them. */
export const LOG_ERROR_KINDS = {
  // --- malformed ---
  /** A note is not valid signed-note text (c2sp.org/signed-note, "Format"). */
  LOG_NOTE_MALFORMED: 'malformed',
  /** A verifier key (vkey) or signer key text is not in the signed-note key format. */
  LOG_KEY_MALFORMED: 'malformed',
  /** A checkpoint body is not c2sp.org/tlog-checkpoint text. */
  LOG_CHECKPOINT_MALFORMED: 'malformed',
  /** A cosignature's bytes are not a timestamped_signature (c2sp.org/tlog-cosignature). */
  LOG_COSIGNATURE_MALFORMED: 'malformed',
  /** A tile path is not `tile/<L>/<N>[.p/<W>]` (c2sp.org/tlog-tiles). */
  LOG_TILE_PATH_MALFORMED: 'malformed',
  /** A served tile has the wrong length for its width. */
  LOG_TILE_MALFORMED: 'malformed',
  /** An entry bundle is not a sequence of uint16-length-prefixed entries of the expected count. */
  LOG_BUNDLE_MALFORMED: 'malformed',
  /** A tlog-proof file is not c2sp.org/tlog-proof@v1 text. */
  LOG_PROOF_MALFORMED: 'malformed',
  /** A tlog-witness add-checkpoint request or response body is not the format of c2sp.org/tlog-witness. */
  LOG_WITNESS_REQUEST_MALFORMED: 'malformed',
  /** A witness policy file is not c2sp.org/tlog-policy text (verifier/log/policy.ts). */
  LOG_POLICY_MALFORMED: 'malformed',
  /** Witness state on disk is not what the witness server wrote (verifier/log/witness-server.ts). */
  LOG_WITNESS_STATE_MALFORMED: 'malformed',
  /** A content address is not a CIDv1 of a raw sha2-256 block in base32 (verifier/log/cid.ts). */
  LOG_CID_MALFORMED: 'malformed',
  /** A receipt store file (the SDK's LocalReceiptStore) has a line that is not a stored settlement. */
  LOG_RECEIPTS_MALFORMED: 'malformed',
  /** A log entry is not the canonical encoding of docs/log.md, "Entries". */
  LOG_ENTRY_MALFORMED: 'malformed',
  /** A submission body is not what docs/log.md, "Submitting", describes. */
  LOG_SUBMISSION_MALFORMED: 'malformed',
  // --- verification ---
  /** An inclusion proof does not prove the leaf at that index under that root. */
  LOG_PROOF_INVALID: 'verification',
  /** A tree of the size trusted before, with another root: the log showed two views (a fork). */
  LOG_FORKED: 'verification',
  /** A tree smaller than the one trusted before: the log dropped entries. */
  LOG_SHRANK: 'verification',
  /** Two tree heads are not consistent: the consistency proof fails, or equal sizes have different roots. */
  LOG_INCONSISTENT: 'verification',
  /**
   * A checkpoint of the size a witness last cosigned, with another root: the log showed two trees of
   * one size (tlog-witness, "add-checkpoint": 409 when the roots of equal sizes differ).
   */
  LOG_WITNESS_FORK: 'verification',
  /** A fetched tile or entry bundle does not hash to what the verified tree says it must. */
  LOG_TILE_MISMATCH: 'verification',
  /** A signature by a known key does not verify (c2sp.org/signed-note: the whole note is rejected). */
  LOG_NOTE_SIGNATURE_INVALID: 'verification',
  /** No signature by a known key is on the note. */
  LOG_NOTE_UNVERIFIED: 'verification',
  /** A cosignature by a known witness does not verify. */
  LOG_COSIGNATURE_INVALID: 'verification',
  /** A stored or served blob does not hash to its CID. */
  LOG_BLOB_MISMATCH: 'verification',
  /** An entry's blob is not served: its evidence cannot be checked. */
  LOG_BLOB_MISSING: 'verification',
  /** An entry says something its own evidence does not (TEE, TCB status, measurements, hashes). */
  LOG_ENTRY_CLAIM_MISMATCH: 'verification',
  /** An anchor on chain, signed by the log, is not a prefix of the log served (a fork or a rewrite). */
  LOG_ANCHOR_MISMATCH: 'verification',
  /** A receipt that does not recover to the signer it names. */
  LOG_RECEIPT_INVALID: 'verification',
  /** A chain object (executor, lease, revealed verdict) whose evidence the log does not hold. */
  LOG_NOT_LOGGED: 'verification',
  // --- policy ---
  /** The checkpoint's origin is not the one the caller expects. */
  LOG_ORIGIN_MISMATCH: 'policy',
  /** Fewer valid witness cosignatures than the policy's threshold. */
  LOG_QUORUM_NOT_MET: 'policy',
  /** A witness refuses a checkpoint whose old size is not the size it last cosigned (tlog-witness 409). */
  LOG_WITNESS_CONFLICT: 'policy',
  /** A witness does not know the checkpoint's origin (tlog-witness 404). */
  LOG_WITNESS_UNKNOWN_ORIGIN: 'policy',
  /** Simulated evidence signed by a software root the log was not told to admit. */
  LOG_SIMULATED_ROOT_UNKNOWN: 'policy',
  /** A claim the log cannot check (a revealed verdict on a log without a chain). */
  LOG_CLAIM_UNCHECKABLE: 'policy',
  /** A party (platform, witness round, client address) has used up its share of the log for now. */
  LOG_QUOTA_EXCEEDED: 'policy',
  /** A number exceeds what this implementation represents exactly (2^53 - 1). */
  LOG_TOO_LARGE: 'policy',
  // --- transient ---
  /** The log has too many submissions waiting; the client should try again. */
  LOG_BUSY: 'transient',
  /** A tile or bundle could not be read from its source. */
  LOG_HASH_UNAVAILABLE: 'transient',
  // --- usage ---
  LOG_INVALID_ARGUMENT: 'usage',
} as const satisfies Record<string, LogErrorKind>;

export type LogErrorCode = keyof typeof LOG_ERROR_KINDS;

export class LogError extends CodedError<LogErrorCode, LogErrorKind> {
  override readonly name = 'LogError';

  constructor(code: LogErrorCode, message: string, info?: ErrorInfo, cause?: unknown) {
    super(code, LOG_ERROR_KINDS[code], message, info, cause);
  }
}

export function isLogError(e: unknown, code?: LogErrorCode): e is LogError {
  return e instanceof LogError && (code === undefined || e.code === code);
}

/** Shorthand for `throw new LogError(...)` in expression position. */
export function logFail(code: LogErrorCode, message: string, info?: ErrorInfo, cause?: unknown): never {
  throw new LogError(code, message, info, cause);
}
