import { type Checkpoint, openCheckpoint } from './checkpoint.js';
import { type CosignedBy, checkQuorum, type WitnessPolicy } from './cosignature.js';
import { parseBase64, parseDecimal, toBase64 } from './encoding.js';
import { logFail } from './errors.js';
import { HASH_SIZE, type Hash } from './hash.js';
import { checkInclusion } from './merkle.js';
import type { NoteVerifier } from './note.js';

/*
 * c2sp.org/tlog-proof@v1: an offline-verifiable proof that an entry is in a log.
 *
 *     c2sp.org/tlog-proof@v1
 *     [extra <base64>]
 *     index <decimal>
 *     <base64 hash>          (inclusion proof, leaf's sibling first, zero or more lines)
 *     <blank line>
 *     <the signed checkpoint, verbatim>
 */

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** An RFC 9162 inclusion proof has at most 63 hashes for any uint64 size; more is malformed. */
const MAX_PROOF_HASHES = 63;

export interface TlogProof {
  /** Opaque, unauthenticated application data ("Format": MUST NOT be implicitly trusted). */
  readonly extra?: Uint8Array;
  readonly index: number;
  readonly proof: readonly Hash[];
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string;
}

/** The proof file text. */
export function formatTlogProof(p: TlogProof): string {
  if (p.extra !== undefined && p.extra.length === 0)
    logFail('LOG_INVALID_ARGUMENT', 'extra data must be non-empty (omit it otherwise)');
  if (!Number.isSafeInteger(p.index) || p.index < 0)
    logFail('LOG_INVALID_ARGUMENT', 'index must be a safe integer');
  for (const h of p.proof)
    if (h.length !== HASH_SIZE) logFail('LOG_INVALID_ARGUMENT', 'proof hashes must be 32 bytes');
  const lines = [TLOG_PROOF_HEADER];
  if (p.extra !== undefined) lines.push(`extra ${toBase64(p.extra)}`);
  lines.push(`index ${p.index}`, ...p.proof.map(toBase64), '');
  return `${lines.join('\n')}\n${p.checkpoint}`;
}

/**
 * Parses a proof file strictly ("Format"): the header line; an optional `extra` line with non-empty
 * canonical base64; `index` with a decimal without leading zeros; at most 63 hash lines of 32 bytes;
 * a blank line; the checkpoint (checked when verified, not here). Anything else is LOG_PROOF_MALFORMED.
 */
export function parseTlogProof(text: string): TlogProof {
  const lines: string[] = [];
  let at = 0;
  // Read lines up to and including the blank line; the rest is the checkpoint.
  for (;;) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) logFail('LOG_PROOF_MALFORMED', 'proof has no blank line before its checkpoint');
    const line = text.slice(at, nl);
    at = nl + 1;
    if (line === '') break;
    lines.push(line);
    if (lines.length > 3 + MAX_PROOF_HASHES) logFail('LOG_PROOF_MALFORMED', 'proof has too many lines');
  }
  if (lines[0] !== TLOG_PROOF_HEADER)
    logFail('LOG_PROOF_MALFORMED', `proof does not start with ${TLOG_PROOF_HEADER}`);
  let i = 1;
  let extra: Uint8Array | undefined;
  if (lines[i]?.startsWith('extra ')) {
    extra = parseBase64(lines[i]!.slice(6), 'LOG_PROOF_MALFORMED', 'proof extra data');
    if (extra.length === 0) logFail('LOG_PROOF_MALFORMED', 'proof extra line has no data');
    i++;
  }
  const indexLine = lines[i];
  if (indexLine === undefined || !indexLine.startsWith('index '))
    logFail('LOG_PROOF_MALFORMED', 'proof has no index line where it must be');
  const index = parseDecimal(indexLine.slice(6), 'LOG_PROOF_MALFORMED', 'proof index');
  const proof = lines.slice(i + 1).map((l, k) => {
    const h = parseBase64(l, 'LOG_PROOF_MALFORMED', `proof hash ${k}`);
    if (h.length !== HASH_SIZE)
      logFail('LOG_PROOF_MALFORMED', `proof hash ${k} has ${h.length} bytes, not ${HASH_SIZE}`);
    return h;
  });
  if (proof.length > MAX_PROOF_HASHES) logFail('LOG_PROOF_MALFORMED', 'proof has more than 63 hashes');
  const checkpoint = text.slice(at);
  if (checkpoint.length === 0) logFail('LOG_PROOF_MALFORMED', 'proof has no checkpoint');
  return { ...(extra === undefined ? {} : { extra }), index, proof, checkpoint };
}

export interface VerifyTlogProofOptions {
  /** The log's origin; refused (LOG_ORIGIN_MISMATCH) if the checkpoint names another. */
  readonly origin: string;
  /** The log's keys. */
  readonly logKeys: readonly NoteVerifier[];
  /** Witnesses and threshold; without it no cosignature is required. */
  readonly witnesses?: WitnessPolicy;
  /** The verifier's clock, for cosignature timestamps (see `countCosignatures`). */
  readonly now?: number;
}

export interface VerifiedTlogProof {
  readonly proof: TlogProof;
  readonly checkpoint: Checkpoint;
  readonly cosigners: readonly CosignedBy[];
}

/**
 * Verifies a proof file offline ("Verifying a tlog proof"): given the entry's leaf hash (step 1, the
 * application's), the checkpoint must be signed by the log for the expected origin (2), carry the
 * policy's quorum of cosignatures (3), and the inclusion proof must bind the leaf hash at `index` to
 * its root (4, LOG_PROOF_INVALID otherwise).
 */
export function checkTlogProof(text: string, leaf: Hash, options: VerifyTlogProofOptions): VerifiedTlogProof {
  const proof = parseTlogProof(text);
  let checkpoint: Checkpoint;
  let cosigners: readonly CosignedBy[] = [];
  if (options.witnesses === undefined) {
    checkpoint = openCheckpoint(proof.checkpoint, options.logKeys, { origin: options.origin }).checkpoint;
  } else {
    const q = checkQuorum(proof.checkpoint, options.logKeys, options.witnesses, {
      origin: options.origin,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    checkpoint = q.checkpoint;
    cosigners = q.cosigners;
  }
  checkInclusion(proof.index, checkpoint.size, leaf, proof.proof, checkpoint.root);
  return { proof, checkpoint, cosigners };
}
