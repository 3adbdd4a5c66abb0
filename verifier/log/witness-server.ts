import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { writeFileAtomic } from '../durable-file.js';
import { parseCheckpoint } from './checkpoint.js';
import type { Cosigner } from './cosignature.js';
import { isLogError, type LogError, logFail } from './errors.js';
import { listenHttp, readBody, send } from './http.js';
import { formatNote, type NoteVerifier, parseNote } from './note.js';
import { Quota } from './quota.js';
import {
  type AddCheckpointRequest,
  addCheckpoint,
  addCheckpointStatus,
  formatConflictBody,
  parseAddCheckpointRequest,
  type WitnessLogState,
  witnessCheckpointPath,
} from './witness.js';

/*
 * A c2sp.org/tlog-witness witness over HTTP (docs/log.md, "Witness cosigning"):
 *   POST /add-checkpoint               the spec's call ("add-checkpoint"); 200 with the cosignature line
 *   GET  /<hex SHA-256 of origin>/checkpoint
 *                                      the latest checkpoint cosigned for a log, with the log's
 *                                      signatures and this witness's cosignature
 * The submission and monitoring prefixes are both the server's root.
 *
 * State: per log, `<stateDir>/<hex SHA-256 of origin>/checkpoint` holds the latest checkpoint this
 * witness cosigned (the note the GET serves). A request is checked against that state and the new
 * note is written (atomically, fsync'd) before the cosignature is sent: a crash loses at most a
 * cosignature nobody received, and a restart reads back the same state, so this witness never
 * cosigns two trees of one size nor rolls a log back. Requests for one log run one at a time (the
 * race the spec describes at the end of "add-checkpoint"); requests for different logs run side by
 * side. Bodies are limited in size and clients (by address) in request rate.
 */

export interface WitnessedLog {
  /** The checkpoint origin line the log uses. */
  readonly origin: string;
  /** The log's keys: a checkpoint needs a valid signature by one of them. */
  readonly keys: readonly NoteVerifier[];
}

export interface WitnessServerOptions {
  readonly cosigner: Cosigner;
  readonly logs: readonly WitnessedLog[];
  readonly stateDir: string;
  /** The witness's clock, POSIX seconds (default: the wall clock). */
  readonly now?: () => number;
  /** Requests one client address may make per minute, refused ones included (default 600). */
  readonly clientLimitPerMinute?: number;
  /** Largest request body (default 64 KiB: 63 proof lines and a checkpoint with 100 signatures fit). */
  readonly maxBodyBytes?: number;
  readonly log?: (event: Record<string, unknown>) => void;
}

export interface RunningWitnessServer {
  readonly url: string;
  readonly server: Server;
  /** The latest size cosigned for an origin (undefined: none). */
  cosignedSize(origin: string): number | undefined;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface LogSlot {
  readonly log: WitnessedLog;
  readonly path: string;
  state: WitnessLogState | undefined;
  /** The cosigned note served to monitors. */
  note: string | undefined;
  /** Tail of this log's queue of requests. */
  queue: Promise<unknown>;
}

/**
 * Reads the state a witness left for one log. A file that is there but is not a cosigned checkpoint
 * for that origin is LOG_WITNESS_STATE_MALFORMED: the witness must not start and forget what it
 * cosigned.
 */
export async function readWitnessState(
  path: string,
  origin: string,
): Promise<{ state: WitnessLogState; note: string } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const c = parseCheckpoint(parseNote(text).text);
    if (c.origin !== origin) logFail('LOG_WITNESS_STATE_MALFORMED', `state is for origin ${c.origin}`);
    return { state: { size: c.size, root: c.root }, note: text };
  } catch (e) {
    if (isLogError(e, 'LOG_WITNESS_STATE_MALFORMED')) throw e;
    return logFail('LOG_WITNESS_STATE_MALFORMED', `${path} is not a cosigned checkpoint`, { path }, e);
  }
}

export async function startWitnessServer(
  o: WitnessServerOptions,
  listen: { readonly host?: string; readonly port?: number } = {},
): Promise<RunningWitnessServer> {
  const now = o.now ?? (() => Math.floor(Date.now() / 1000));
  const log = o.log ?? (() => {});
  const maxBody = o.maxBodyBytes ?? MAX_BODY_BYTES;
  const clients = new Quota({ limit: o.clientLimitPerMinute ?? 600, windowMs: 60_000 });
  const slots = new Map<string, LogSlot>();
  for (const l of o.logs) {
    if (slots.has(l.origin)) logFail('LOG_INVALID_ARGUMENT', `log ${l.origin} is configured twice`);
    if (l.keys.length === 0) logFail('LOG_INVALID_ARGUMENT', `log ${l.origin} has no key`);
    const path = join(o.stateDir, witnessCheckpointPath(l.origin));
    const read = await readWitnessState(path, l.origin);
    slots.set(l.origin, { log: l, path, state: read?.state, note: read?.note, queue: Promise.resolve() });
  }
  const monitored = new Map([...slots.values()].map((s) => [`/${witnessCheckpointPath(s.log.origin)}`, s]));

  /** Checks one request against its log's state and persists the new state; the 200 body. */
  async function cosign(request: AddCheckpointRequest, slot: LogSlot | undefined): Promise<string> {
    const r = addCheckpoint({
      request,
      logKeys: (origin) => (origin === slot?.log.origin ? slot.log.keys : undefined),
      latest: () => slot?.state,
      cosigner: o.cosigner,
      now: now(),
    });
    // Only reached for a known origin: addCheckpoint refuses the others.
    const s = slot!;
    const note = parseNote(request.checkpoint);
    const isLogKey = (k: { name: string; keyId: number }) =>
      s.log.keys.some((v) => v.name === k.name && v.keyId === k.keyId);
    const kept = formatNote(note.text, [...note.signatures.filter(isLogKey), r.cosignature]);
    await writeFileAtomic(s.path, kept, 0o644);
    s.state = r.newState;
    s.note = kept;
    log({ event: 'cosigned', origin: s.log.origin, size: r.checkpoint.size });
    return r.body;
  }

  async function addCheckpointCall(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = req.socket.remoteAddress ?? 'unknown';
    if (!clients.take(client)) {
      req.resume();
      return send(res, 429, 'text/plain', 'too many requests from this address\n', { 'Retry-After': '60' });
    }
    const bytes = await readBody(req, maxBody);
    if (bytes === undefined) return send(res, 413, 'text/plain', `body over ${maxBody} bytes\n`);
    let request: AddCheckpointRequest;
    try {
      request = parseAddCheckpointRequest(utf8.decode(bytes));
    } catch (e) {
      return send(res, 400, 'text/plain', `${isLogError(e) ? e.message : 'body is not UTF-8'}\n`);
    }
    // The origin is read from the unverified text only to pick the queue (and the keys) for it.
    const firstLine = request.checkpoint.slice(0, Math.max(0, request.checkpoint.indexOf('\n')));
    const slot = slots.get(firstLine);
    try {
      let body: string;
      if (slot === undefined) body = await cosign(request, undefined);
      else {
        const run = slot.queue.then(() => cosign(request, slot));
        slot.queue = run.catch(() => {});
        body = await run;
      }
      return send(res, 200, 'text/plain; charset=utf-8', body);
    } catch (e) {
      const status = addCheckpointStatus(e);
      if (status === 500) throw e;
      const err = e as LogError;
      log({ event: 'refused', status, code: err.code, message: err.message, origin: firstLine, client });
      // 409 carries the latest cosigned size ("add-checkpoint": Content-Type text/x.tlog.size).
      if (status === 409)
        return send(res, 409, 'text/x.tlog.size', formatConflictBody(Number(err.info.size)));
      return send(res, status, 'text/plain', `${err.message}\n`);
    }
  }

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://witness').pathname;
    if (path === '/add-checkpoint') {
      if (req.method !== 'POST') {
        req.resume();
        return send(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'POST' });
      }
      return addCheckpointCall(req, res);
    }
    if (/^\/[0-9a-f]{64}\/checkpoint$/.test(path) && (req.method === 'GET' || req.method === 'HEAD')) {
      const note = monitored.get(path)?.note;
      if (note === undefined) return send(res, 404, 'text/plain', 'not found\n');
      return send(
        res,
        200,
        'text/plain; charset=utf-8',
        note,
        { 'Cache-Control': 'no-cache' },
        req.method === 'HEAD',
      );
    }
    req.resume();
    return send(res, 404, 'text/plain', 'not found\n');
  };

  const http = await listenHttp(handler, listen, log);
  return {
    url: http.url,
    server: http.server,
    cosignedSize: (origin) => slots.get(origin)?.state?.size,
    close: () => http.close(),
  };
}
