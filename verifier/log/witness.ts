import { createHash } from 'node:crypto';
import { type Checkpoint, hasEmptyRootIfEmpty, openCheckpoint } from './checkpoint.js';
import type { Cosigner } from './cosignature.js';
import { parseBase64, parseDecimal, toBase64 } from './encoding.js';
import { isLogError, type LogErrorCode, logFail } from './errors.js';
import { HASH_SIZE, type Hash, hashEqual } from './hash.js';
import { consistencyFailure } from './merkle.js';
import { formatSignatureLine, type NoteSignature, type NoteVerifier, parseSignatureLine } from './note.js';

/*
 * c2sp.org/tlog-witness, add-checkpoint: the request and response bodies, and the witness's check.
 * The HTTP transport is the caller's; `addCheckpointStatus` maps refusals to the spec's status codes.
 *
 *     old <size>
 *     <base64 hash>            (consistency proof, at most 63 lines)
 *     <blank line>
 *     <signed checkpoint>
 */

/** "The client MUST NOT send more than 63 consistency proof lines." */
export const MAX_CONSISTENCY_LINES = 63;

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Hash[];
  /** The signed checkpoint note. */
  readonly checkpoint: string;
}

export function formatAddCheckpointRequest(r: AddCheckpointRequest): string {
  if (!Number.isSafeInteger(r.oldSize) || r.oldSize < 0)
    logFail('LOG_INVALID_ARGUMENT', 'old size must be a safe integer');
  if (r.proof.length > MAX_CONSISTENCY_LINES) logFail('LOG_INVALID_ARGUMENT', 'at most 63 proof hashes');
  for (const h of r.proof)
    if (h.length !== HASH_SIZE) logFail('LOG_INVALID_ARGUMENT', 'proof hashes must be 32 bytes');
  return [`old ${r.oldSize}`, ...r.proof.map(toBase64), ''].map((l) => `${l}\n`).join('') + r.checkpoint;
}

/** Parses an add-checkpoint body strictly; anything off is LOG_WITNESS_REQUEST_MALFORMED (HTTP 400). */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  const code: LogErrorCode = 'LOG_WITNESS_REQUEST_MALFORMED';
  const lines: string[] = [];
  let at = 0;
  for (;;) {
    const nl = body.indexOf('\n', at);
    if (nl < 0) logFail(code, 'request has no blank line before its checkpoint');
    const line = body.slice(at, nl);
    at = nl + 1;
    if (line === '') break;
    lines.push(line);
    if (lines.length > 1 + MAX_CONSISTENCY_LINES) logFail(code, 'request has more than 63 proof lines');
  }
  const first = lines[0];
  if (first === undefined || !first.startsWith('old '))
    logFail(code, 'request does not start with an old size line');
  const oldSize = parseDecimal(first.slice(4), code, 'old size');
  const proof = lines.slice(1).map((l, i) => {
    const h = parseBase64(l, code, `proof line ${i}`);
    if (h.length !== HASH_SIZE) logFail(code, `proof line ${i} is not a 32-byte hash`);
    return h;
  });
  return { oldSize, proof, checkpoint: body.slice(at) };
}

/** The 200 response body: one or more signature lines. */
export function formatCosignatureResponse(sigs: readonly NoteSignature[]): string {
  if (sigs.length === 0) logFail('LOG_INVALID_ARGUMENT', 'a response carries at least one signature');
  return sigs.map(formatSignatureLine).join('');
}

/** Parses a 200 response body: one or more newline-terminated signature lines. */
export function parseCosignatureResponse(body: string): NoteSignature[] {
  if (body.length === 0 || !body.endsWith('\n'))
    logFail('LOG_WITNESS_REQUEST_MALFORMED', 'response is not newline-terminated signature lines');
  try {
    return body
      .slice(0, -1)
      .split('\n')
      .map((l, i) => parseSignatureLine(l, i));
  } catch (e) {
    return logFail('LOG_WITNESS_REQUEST_MALFORMED', 'response holds a line that is not a signature', {}, e);
  }
}

/** The 409 body (`Content-Type: text/x.tlog.size`): the witness's latest cosigned size. */
export function formatConflictBody(size: number): string {
  return `${size}\n`;
}

export function parseConflictBody(body: string): number {
  if (!body.endsWith('\n'))
    logFail('LOG_WITNESS_REQUEST_MALFORMED', 'conflict body is not a newline-terminated size');
  return parseDecimal(body.slice(0, -1), 'LOG_WITNESS_REQUEST_MALFORMED', 'conflict size');
}

/** `<monitoring prefix>/<origin hash>/checkpoint`: hex SHA-256 of the origin ("Monitor Retrieval Mechanism"). */
export function witnessCheckpointPath(origin: string): string {
  return `${createHash('sha256').update(origin).digest('hex')}/checkpoint`;
}

/** What a witness remembers per log: the latest checkpoint it cosigned. */
export interface WitnessLogState {
  readonly size: number;
  readonly root: Hash;
}

export interface AddCheckpointInput {
  readonly request: AddCheckpointRequest;
  /** The log keys the witness trusts for an origin, or undefined for an unknown origin. */
  readonly logKeys: (origin: string) => readonly NoteVerifier[] | undefined;
  /** The latest checkpoint cosigned for the request's origin, undefined if none. */
  readonly latest: (origin: string) => WitnessLogState | undefined;
  readonly cosigner: Cosigner;
  /** The witness's clock, POSIX seconds (non-zero: "the timestamp MUST NOT be zero"). */
  readonly now: number;
}

export interface AddCheckpointResult {
  readonly checkpoint: Checkpoint;
  /** The state to persist, atomically with the check of `latest` (see the race in "add-checkpoint"). */
  readonly newState: WitnessLogState;
  readonly cosignature: NoteSignature;
  /** The 200 body. */
  readonly body: string;
}

/**
 * The witness's side of add-checkpoint, in the spec's order: a known origin (404), a valid log
 * signature (403), old size ≤ checkpoint size (400), old size = the latest cosigned size (409, with
 * that size in `info.size`), an empty tree's root for size 0 (422), an empty proof from size 0 (422),
 * at equal sizes an empty proof (422) and equal roots (LOG_WITNESS_FORK, 409 with the size in
 * `info.size`), otherwise a verifying consistency proof (422). The caller persists
 * `newState` before answering, atomically with reading `latest`.
 */
export function addCheckpoint(input: AddCheckpointInput): AddCheckpointResult {
  const { request, now } = input;
  if (!Number.isSafeInteger(now) || now <= 0)
    logFail('LOG_INVALID_ARGUMENT', 'now must be a positive safe integer');
  // The origin comes from the unverified text: only to pick the keys that then verify it.
  const firstLine = request.checkpoint.slice(0, Math.max(0, request.checkpoint.indexOf('\n')));
  const keys = input.logKeys(firstLine);
  if (keys === undefined || keys.length === 0)
    logFail('LOG_WITNESS_UNKNOWN_ORIGIN', 'the witness does not know this log', { origin: firstLine });
  const { checkpoint, note } = openCheckpoint(request.checkpoint, keys, { origin: firstLine });
  if (request.oldSize > checkpoint.size)
    logFail('LOG_WITNESS_REQUEST_MALFORMED', 'old size is larger than the checkpoint size', {
      oldSize: request.oldSize,
      size: checkpoint.size,
    });
  const latest = input.latest(checkpoint.origin);
  const latestSize = latest?.size ?? 0;
  if (request.oldSize !== latestSize)
    logFail('LOG_WITNESS_CONFLICT', `the witness last cosigned size ${latestSize}`, { size: latestSize });
  if (!hasEmptyRootIfEmpty(checkpoint))
    logFail('LOG_INCONSISTENT', 'a checkpoint of size 0 must have the empty root');
  if (request.oldSize === 0) {
    if (request.proof.length !== 0) logFail('LOG_INCONSISTENT', 'a proof from size 0 must be empty');
  } else if (latest !== undefined) {
    if (request.oldSize === checkpoint.size) {
      if (request.proof.length !== 0)
        logFail('LOG_INCONSISTENT', 'a proof between equal sizes must be empty', { size: checkpoint.size });
      // "If the old size matches the checkpoint size, … If they don't match, … 409 Conflict."
      if (!hashEqual(latest.root, checkpoint.root))
        logFail(
          'LOG_WITNESS_FORK',
          `the witness cosigned another tree of size ${checkpoint.size}: the log shows two trees of one size`,
          { size: latestSize, root: toBase64(checkpoint.root), cosignedRoot: toBase64(latest.root) },
        );
    } else {
      const why = consistencyFailure(
        request.oldSize,
        checkpoint.size,
        request.proof,
        latest.root,
        checkpoint.root,
      );
      if (why !== undefined)
        logFail('LOG_INCONSISTENT', `consistency proof from the latest cosigned checkpoint fails: ${why}`, {
          oldSize: request.oldSize,
          size: checkpoint.size,
        });
    }
  }
  const cosignature = input.cosigner.cosign(note.text, now);
  return {
    checkpoint,
    newState: { size: checkpoint.size, root: checkpoint.root },
    cosignature,
    body: formatCosignatureResponse([cosignature]),
  };
}

/** The HTTP status tlog-witness ("add-checkpoint") gives a refusal of `addCheckpoint`. */
export function addCheckpointStatus(e: unknown): number {
  if (!isLogError(e)) return 500;
  switch (e.code) {
    case 'LOG_WITNESS_UNKNOWN_ORIGIN':
      return 404;
    case 'LOG_NOTE_UNVERIFIED':
    case 'LOG_NOTE_SIGNATURE_INVALID':
      return 403;
    case 'LOG_WITNESS_CONFLICT':
    case 'LOG_WITNESS_FORK':
      return 409;
    case 'LOG_INCONSISTENT':
      return 422;
    case 'LOG_WITNESS_REQUEST_MALFORMED':
    case 'LOG_NOTE_MALFORMED':
    case 'LOG_CHECKPOINT_MALFORMED':
    case 'LOG_TOO_LARGE':
      return 400;
    default:
      return 500;
  }
}
