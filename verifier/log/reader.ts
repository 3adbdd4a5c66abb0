import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { LogReader } from './audit.js';

/*
 * Where an auditor reads a log from: a directory the log writes (LogStore's layout) or the log's HTTP
 * server. Both answer undefined for a resource that is not there and throw when the source itself
 * cannot be read (a directory that is gone, a server that does not answer or answers 5xx).
 */

/** Reads a log directory. Paths are confined to the directory. */
export function logDirReader(dir: string): LogReader {
  return async (path) => {
    const p = normalize(path);
    if (p.startsWith('..') || p.startsWith('/')) return undefined;
    try {
      return new Uint8Array(await readFile(join(dir, p)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
      throw e;
    }
  };
}

/** Reads a log over HTTP; blobs are asked for as raw blocks (IPFS Trustless Gateway). */
export function logUrlReader(url: string, timeoutMs = 30_000): LogReader {
  const base = url.endsWith('/') ? url : `${url}/`;
  return async (path) => {
    const target = new URL(path.startsWith('ipfs/') ? `${path}?format=raw` : path, base);
    const r = await fetch(target, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: path.startsWith('ipfs/') ? { Accept: 'application/vnd.ipld.raw' } : {},
    });
    if (r.status === 404) return undefined;
    if (!r.ok) throw new Error(`${target.href}: HTTP ${r.status}`);
    return readLimited(r, MAX_RESOURCE_BYTES, target.href);
  };
}

/**
 * The largest resource a log serves: a full entry bundle (256 entries of at most 65,535 bytes, each
 * with its 2-byte length). Anything longer is refused while it streams, so a hostile log cannot
 * exhaust the auditor's memory.
 */
export const MAX_RESOURCE_BYTES = 256 * (2 + 65_535);

async function readLimited(r: Response, max: number, what: string): Promise<Uint8Array> {
  const declared = Number(r.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await r.body?.cancel();
    throw new Error(`${what}: ${declared} bytes, more than any log resource (${max})`);
  }
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of r.body ?? []) {
    n += chunk.length;
    if (n > max) throw new Error(`${what}: more than ${max} bytes, more than any log resource`);
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
