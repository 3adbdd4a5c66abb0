import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * Persisted nonce ceilings per (lease, client), so that a restart cannot be used to replay a call.
 * The executor reserves nonces in blocks: before serving nonce n it makes sure a ceiling ≥ n is on
 * disk, and after a restart every nonce ≤ the stored ceiling is refused. One fsync'd write per block
 * keeps the disk off the hot path; the cost is that up to one block of nonces is skipped after a
 * restart (clients resynchronise with the Sync RPC).
 *
 * File: <stateDir>/nonce-ceilings.json, {"version":1,"ceilings":{"<lease>/<client>":"<decimal>"}};
 * written atomically (temp file, fsync, rename, fsync of the directory).
 */
const FILE = 'nonce-ceilings.json';

export interface NonceStore {
  /** The persisted ceiling of an account (0 when none). */
  ceiling(key: string): bigint;
  /** Persists `ceiling` for `key` (never lowers it); resolves once it is durable. */
  raise(key: string, ceiling: bigint): Promise<void>;
}

export class MemoryNonceStore implements NonceStore {
  private readonly map = new Map<string, bigint>();
  ceiling(key: string): bigint {
    return this.map.get(key) ?? 0n;
  }
  async raise(key: string, ceiling: bigint): Promise<void> {
    if (ceiling > this.ceiling(key)) this.map.set(key, ceiling);
  }
}

export class FileNonceStore implements NonceStore {
  private readonly map = new Map<string, bigint>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<FileNonceStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const s = new FileNonceStore(dir);
    let text: string | undefined;
    try {
      text = await readFile(join(dir, FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text !== undefined) {
      const o = JSON.parse(text) as { version?: unknown; ceilings?: Record<string, unknown> };
      if (o.version !== 1 || typeof o.ceilings !== 'object' || o.ceilings === null)
        throw new Error(`${join(dir, FILE)}: unsupported format`);
      for (const [k, v] of Object.entries(o.ceilings)) {
        if (typeof v !== 'string' || !/^[0-9]+$/.test(v))
          throw new Error(`${join(dir, FILE)}: bad ceiling for ${k}`);
        s.map.set(k, BigInt(v));
      }
    }
    return s;
  }

  ceiling(key: string): bigint {
    return this.map.get(key) ?? 0n;
  }

  raise(key: string, ceiling: bigint): Promise<void> {
    if (ceiling <= this.ceiling(key)) return this.writing;
    this.map.set(key, ceiling);
    // Writes are serialised; each one writes the whole current map, so the last one wins.
    this.writing = this.writing.then(() => this.flush());
    return this.writing;
  }

  private async flush(): Promise<void> {
    const ceilings: Record<string, string> = {};
    for (const [k, v] of this.map) ceilings[k] = v.toString();
    const path = join(this.dir, FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify({ version: 1, ceilings }));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
