import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/*
 * Writes that survive a crash. A file is written under a temporary name beside it (containing
 * `.tmp-`), flushed (fsync), renamed over its final name (atomic on POSIX file systems) and its
 * directory flushed: a reader sees the old bytes or the new ones, never a torn file, and once the
 * promise resolves the new bytes are on disk.
 */

/** Replaces `path` with `data` atomically and durably; creates missing directories. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDirectory(dir);
}

/** Flushes a directory's entries (new names, renames) to disk. */
export async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Appends `bytes` to `path` (created if missing) and flushes the file before resolving. */
export async function appendDurably(path: string, bytes: Uint8Array, mode = 0o600): Promise<void> {
  const fh = await open(path, 'a', mode);
  try {
    await fh.write(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
