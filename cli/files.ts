import { readFile, stat } from 'node:fs/promises';
import { UsageError } from './exit-codes.js';

/*
 * Files named on the command line. A file that is missing or unreadable is the user's mistake:
 * a UsageError (exit 2) that names the flag and the path.
 */

function unreadable(what: string, path: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code;
  return new UsageError(
    code === 'ENOENT'
      ? `${what}: ${path} does not exist`
      : `${what}: cannot read ${path} (${code ?? 'error'})`,
  );
}

/** Fails with a UsageError unless `path` exists (a file or a directory). */
export async function exists(path: string, what: string): Promise<void> {
  try {
    await stat(path);
  } catch (e) {
    throw unreadable(what, path, e);
  }
}

export async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw unreadable(what, path, e);
  }
}

export async function readText(path: string, what: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(path, what));
}
