import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../durable-file.js';
import { AgentError, stateIo } from './errors.js';

/*
 * One agent per state directory: `<dir>/<name>` holds the pid of the agent using it. A directory whose
 * lock names a live process other than this one is refused (STATE_LOCKED); a lock left by a crash
 * (its pid gone) is taken over. Within one process a directory is taken once.
 */

const takenHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `dir` (which must exist) for this process; `who` names the agent in the refusal. */
export async function lockDir(dir: string, name: string, who: string): Promise<void> {
  const path = join(dir, name);
  if (takenHere.has(dir))
    throw new AgentError('STATE_LOCKED', `${dir} is in use by another ${who} of this process`, { path });
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const pid = text === undefined ? Number.NaN : Number(text.trim());
  if (Number.isSafeInteger(pid) && pid !== process.pid && alive(pid))
    throw new AgentError('STATE_LOCKED', `${dir} is in use by the ${who} with pid ${pid}`, { path, pid });
  try {
    await writeFileAtomic(path, `${process.pid}\n`);
  } catch (e) {
    throw stateIo(path, e);
  }
  takenHere.add(dir);
}

/** Gives `dir` back: the lock file is removed. */
export async function unlockDir(dir: string, name: string): Promise<void> {
  takenHere.delete(dir);
  await rm(join(dir, name), { force: true });
}

/** Lets go of `dir` as a crash would: the lock file stays (another process takes it once this pid is gone). */
export function abandonDir(dir: string): void {
  takenHere.delete(dir);
}
