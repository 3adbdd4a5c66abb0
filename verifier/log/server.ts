import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parseCid } from './cid.js';
import { isLogError } from './errors.js';
import { HASH_SIZE } from './hash.js';
import { listenHttp, readBody, send, sendJson } from './http.js';
import { Quota } from './quota.js';
import type { LogStore } from './store.js';
import {
  type AdmitOptions,
  admitSubmission,
  MAX_SUBMISSION_BYTES,
  parseSubmission,
  refusal,
} from './submission.js';
import {
  entryBundlePath,
  formatEntryBundle,
  parseEntryBundle,
  parseTilePath,
  TILE_WIDTH,
  tilePath,
  tileWidth,
} from './tiles.js';

/*
 * The log over HTTP (docs/log.md, "Serving"):
 *   GET  /checkpoint                    the latest signed checkpoint (with the witness cosignatures
 *                                       gathered for it, when the log has witnesses), never cached
 *   GET  /tile/<L>/<N>[.p/<W>]          hash tiles (c2sp.org/tlog-tiles), immutable
 *   GET  /tile/entries/<N>[.p/<W>]      entry bundles, immutable
 *   GET  /ipfs/<cid>?format=raw         blobs as raw blocks (IPFS Trustless Gateway)
 *   POST /add                           a submission (submission.ts), answered once it is logged
 * Only what the published checkpoint covers is served: a tile or bundle is served when its width is
 * at most the one the published tree has there, a narrower partial as a prefix of the current one,
 * so whatever an interrupted batch left on disk beyond the checkpoint is never seen. Submissions are
 * limited per client address and per party (quota.ts) and in number waiting (503 beyond).
 */

export interface LogServerOptions {
  readonly store: LogStore;
  readonly admit: Omit<AdmitOptions, 'now'>;
  /** Verification time for submissions (default: the wall clock). */
  readonly now?: () => Date;
  /** Fresh entries one party (a platform, a witness round) may add per hour (default 256). */
  readonly partyLimitPerHour?: number;
  /** Submissions one client address may make per minute, refused ones included (default 600). */
  readonly clientLimitPerMinute?: number;
  /** Submissions waiting for their batch at once (default 4096). */
  readonly maxWaiting?: number;
  readonly log?: (event: Record<string, unknown>) => void;
  /**
   * The checkpoint note served at /checkpoint (default: the store's published note). With witnesses
   * it is the published note with the cosignatures gathered for it (cosigning.ts `cosignedText`).
   */
  readonly checkpointText?: () => string;
}

export interface RunningLogServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

export async function startLogServer(
  o: LogServerOptions,
  listen: { readonly host?: string; readonly port?: number } = {},
): Promise<RunningLogServer> {
  const parties = new Quota({ limit: o.partyLimitPerHour ?? 256, windowMs: 3_600_000 });
  const clients = new Quota({ limit: o.clientLimitPerMinute ?? 600, windowMs: 60_000 });
  const maxWaiting = o.maxWaiting ?? 4096;
  let waiting = 0;
  const now = o.now ?? (() => new Date());
  const log = o.log ?? (() => {});

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://log');
    const path = url.pathname.slice(1);
    const head = req.method === 'HEAD';
    if (req.method === 'POST' && path === 'add') return add(req, res);
    if (req.method !== 'GET' && !head)
      return send(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'GET, HEAD, POST' });
    if (path === 'checkpoint')
      return send(
        res,
        200,
        'text/plain; charset=utf-8',
        o.checkpointText?.() ?? o.store.checkpoint.text,
        { 'Cache-Control': 'no-cache' },
        head,
      );
    if (path.startsWith('tile/')) {
      const bytes = await servedTile(path);
      if (bytes === undefined) return send(res, 404, 'text/plain', 'not found\n');
      return send(res, 200, 'application/octet-stream', bytes, { 'Cache-Control': IMMUTABLE }, head);
    }
    if (path.startsWith('ipfs/')) return blob(path.slice(5), url, req, res, head);
    return send(res, 404, 'text/plain', 'not found\n');
  };

  /**
   * A tile or bundle of the published tree, or undefined. It is read from the file of the published
   * tree's width there; when the store publishes a larger tree meanwhile and deletes that file as
   * superseded, it is read again from the larger tree's file, which holds it as a prefix.
   */
  async function servedTile(path: string): Promise<Uint8Array | undefined> {
    let parsed: ReturnType<typeof parseTilePath>;
    try {
      parsed = parseTilePath(path);
    } catch {
      return undefined;
    }
    for (;;) {
      const size = o.store.checkpoint.size;
      try {
        return await readServed(parsed, size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || o.store.checkpoint.size === size) throw e;
      }
    }
  }

  /** `servedTile` at the published size `size`. */
  async function readServed(
    parsed: ReturnType<typeof parseTilePath>,
    size: number,
  ): Promise<Uint8Array | undefined> {
    if (parsed.kind === 'tile') {
      const { level, index, width } = parsed.tile;
      const current = tileWidth(level, index, size);
      if (current === 0 || width > current) return undefined;
      const bytes = await readFile(join(o.store.dir, tilePath({ level, index, width: current })));
      return bytes.subarray(0, width * HASH_SIZE);
    }
    const { index, width } = parsed;
    const current = Math.max(0, Math.min(TILE_WIDTH, size - index * TILE_WIDTH));
    if (current === 0 || width > current) return undefined;
    const bytes = await readFile(join(o.store.dir, entryBundlePath(index, current)));
    return width === current ? bytes : formatEntryBundle(parseEntryBundle(bytes, current).slice(0, width));
  }

  async function blob(cid: string, url: URL, req: IncomingMessage, res: ServerResponse, head: boolean) {
    try {
      parseCid(cid);
    } catch (e) {
      return send(res, 400, 'text/plain', `${(e as Error).message}\n`);
    }
    // Trustless Gateway: `format` wins over Accept; raw blocks only (no CAR); no format at all is 400.
    const format = url.searchParams.get('format');
    const accept = req.headers.accept ?? '';
    const wantsRaw = format === 'raw' || (format === null && /application\/vnd\.ipld\.raw/.test(accept));
    if (!wantsRaw)
      return send(
        res,
        format === null && !/application\/vnd\.ipld\./.test(accept) ? 400 : 406,
        'text/plain',
        'only raw blocks are served: ?format=raw or Accept: application/vnd.ipld.raw\n',
      );
    const bytes = await o.store.readBlob(cid);
    if (bytes === undefined) return send(res, 404, 'text/plain', 'not found\n');
    return send(
      res,
      200,
      'application/vnd.ipld.raw',
      bytes,
      {
        'Cache-Control': 'public, max-age=29030400, immutable',
        'Content-Disposition': `attachment; filename="${cid}.bin"`,
        ETag: `"${cid}.raw"`,
        'X-Content-Type-Options': 'nosniff',
      },
      head,
    );
  }

  async function add(req: IncomingMessage, res: ServerResponse) {
    const client = req.socket.remoteAddress ?? 'unknown';
    if (!clients.take(client)) {
      req.resume();
      return sendJson(res, 429, {
        code: 'LOG_QUOTA_EXCEEDED',
        message: 'too many submissions from this address',
      });
    }
    if (waiting >= maxWaiting) {
      req.resume();
      return sendJson(
        res,
        503,
        { code: 'LOG_BUSY', message: 'too many submissions waiting; try again' },
        { 'Retry-After': '1' },
      );
    }
    waiting++;
    try {
      const body = await readBody(req, MAX_SUBMISSION_BYTES);
      if (body === undefined)
        return sendJson(res, 413, {
          code: 'LOG_SUBMISSION_MALFORMED',
          message: `body over ${MAX_SUBMISSION_BYTES} bytes`,
        });
      const admitted = await admitSubmission(parseSubmission(body), { ...o.admit, now: now() });
      const known = o.store.indexOf(admitted.bytes);
      if (known === undefined && !parties.take(admitted.party))
        return sendJson(res, 429, {
          code: 'LOG_QUOTA_EXCEEDED',
          message: 'this platform or round has used up its share of the log for now',
        });
      await o.store.putBlob(admitted.blob);
      const { index, fresh } = await o.store.add(admitted.bytes);
      log({ event: 'added', index, fresh, kind: admitted.entry.kind, cid: admitted.entry.evidence.cid });
      return sendJson(res, 200, {
        index,
        fresh,
        size: o.store.checkpoint.size,
        entry: Buffer.from(admitted.bytes).toString('base64'),
      });
    } catch (e) {
      const r = isLogError(e, 'LOG_INVALID_ARGUMENT')
        ? { status: 500, code: 'INTERNAL', message: 'internal error' }
        : refusal(e);
      log({ event: 'refused', code: r.code, message: r.message, client });
      return sendJson(res, r.status, { code: r.code, message: r.message });
    } finally {
      waiting--;
    }
  }

  const http = await listenHttp(handler, listen, log);
  return {
    url: http.url,
    server: http.server,
    close: () => http.close(),
  };
}
