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
    return new Uint8Array(await r.arrayBuffer());
  };
}
