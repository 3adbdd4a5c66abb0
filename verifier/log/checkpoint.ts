import { parseBase64, parseDecimal, toBase64 } from './encoding.js';
import { logFail } from './errors.js';
import { EMPTY_ROOT, HASH_SIZE, type Hash, hashEqual } from './hash.js';
import { type NoteSigner, type NoteVerifier, type OpenedNote, openNote, signNote } from './note.js';

/*
 * c2sp.org/tlog-checkpoint: a signed note whose text is the tree head of a log.
 *
 *     <origin>
 *     <tree size, decimal>
 *     <root hash, base64>
 *     [extension lines]
 */

export interface Checkpoint {
  /** "a unique identifier for the log identity which issued the checkpoint" (Note text, 1). */
  readonly origin: string;
  /** Number of leaves (Note text, 2). */
  readonly size: number;
  /** RFC 6962 root hash of the tree of `size` leaves (Note text, 3). */
  readonly root: Hash;
  /** Opaque, non-empty extension lines (Note text, 4). */
  readonly extensions: readonly string[];
}

/** The note text of a checkpoint (each line newline-terminated). */
export function formatCheckpoint(c: Checkpoint): string {
  if (c.origin.length === 0 || c.origin.includes('\n'))
    logFail('LOG_INVALID_ARGUMENT', 'origin must be one non-empty line', { origin: c.origin });
  if (!Number.isSafeInteger(c.size) || c.size < 0)
    logFail('LOG_INVALID_ARGUMENT', 'size must be a safe integer');
  if (c.root.length !== HASH_SIZE) logFail('LOG_INVALID_ARGUMENT', 'root must be 32 bytes');
  for (const e of c.extensions)
    if (e.length === 0 || e.includes('\n'))
      logFail('LOG_INVALID_ARGUMENT', 'extension lines must be non-empty lines');
  return [c.origin, String(c.size), toBase64(c.root), ...c.extensions].map((l) => `${l}\n`).join('');
}

/**
 * Parses checkpoint note text strictly (tlog-checkpoint, "Note text"): at least three non-empty lines,
 * each ending in a newline; a decimal size without leading zeros; a canonical base64 root of 32 bytes;
 * no empty extension line. The origin is taken as it is (clients MUST NOT assume its format).
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n'))
    logFail('LOG_CHECKPOINT_MALFORMED', 'checkpoint text does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3)
    logFail('LOG_CHECKPOINT_MALFORMED', `checkpoint has ${lines.length} lines, fewer than 3`);
  const i = lines.indexOf('');
  if (i >= 0) logFail('LOG_CHECKPOINT_MALFORMED', `checkpoint line ${i + 1} is empty`);
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  const size = parseDecimal(sizeText, 'LOG_CHECKPOINT_MALFORMED', 'checkpoint tree size');
  const root = parseBase64(rootText, 'LOG_CHECKPOINT_MALFORMED', 'checkpoint root hash');
  if (root.length !== HASH_SIZE)
    logFail('LOG_CHECKPOINT_MALFORMED', `checkpoint root hash has ${root.length} bytes, not ${HASH_SIZE}`);
  return { origin, size, root, extensions };
}

/** Does a checkpoint of size 0 have the empty tree's root, SHA-256() (RFC 6962 §2.1)? Other sizes: true. */
export function hasEmptyRootIfEmpty(c: Checkpoint): boolean {
  return c.size !== 0 || hashEqual(c.root, EMPTY_ROOT);
}

/** The signed checkpoint note. The log's key name SHOULD be the origin (tlog-checkpoint, "Signatures"). */
export function signCheckpoint(c: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(c), signers);
}

/** A checkpoint with its verified note. */
export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: OpenedNote;
}

export interface OpenCheckpointOptions {
  /** Refuse (LOG_ORIGIN_MISMATCH) a checkpoint whose origin is not this one. */
  readonly origin?: string;
  /**
   * Other known keys (witness cosigners): their signatures are verified too, and a bad one refuses
   * the note, but they do not stand in for the log's signature.
   */
  readonly others?: readonly NoteVerifier[];
}

/**
 * Opens a signed checkpoint: the note must carry a valid signature by one of the log's keys
 * (`logKeys`; a note signed by none of them is LOG_NOTE_UNVERIFIED even if other known keys signed
 * it), and its text must be a checkpoint.
 */
export function openCheckpoint(
  msg: string | Uint8Array,
  logKeys: readonly NoteVerifier[],
  options: OpenCheckpointOptions = {},
): OpenedCheckpoint {
  if (logKeys.length === 0) logFail('LOG_INVALID_ARGUMENT', 'at least one log key is needed');
  const note = openNote(msg, [...logKeys, ...(options.others ?? [])]);
  const isLogKey = (s: { name: string; keyId: number }) =>
    logKeys.some((k) => k.name === s.name && k.keyId === s.keyId);
  if (!note.verified.some(isLogKey))
    logFail('LOG_NOTE_UNVERIFIED', 'checkpoint has no signature by the log', {
      logKeys: logKeys.map((k) => k.name),
    });
  const checkpoint = parseCheckpoint(note.text);
  if (options.origin !== undefined && checkpoint.origin !== options.origin)
    logFail('LOG_ORIGIN_MISMATCH', 'checkpoint is from another log', {
      expected: options.origin,
      origin: checkpoint.origin,
    });
  return { checkpoint, note };
}
