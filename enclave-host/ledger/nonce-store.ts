import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * Persisted floors per (lease, client), so that a restart can be used neither to replay a call nor
 * to lower what a client must authorise (docs/session.md, "Billing rules", 1 and 2):
 * - the nonce ceiling: before serving nonce n the executor makes sure a ceiling ≥ n is on disk, and
 *   after a restart every nonce ≤ the stored ceiling is refused. The executor reserves nonces in
 *   blocks, so one fsync'd write per block keeps the disk off the hot path; up to one block of nonces
 *   is skipped after a restart (clients resynchronise with Sync);
 * - the amount floor: the highest cumulative amount of an accepted voucher, written with each
 *   ceiling (and at a clean stop). After a restart a voucher must authorise at least this plus the
 *   price of the calls served since.
 *
 * File: <stateDir>/nonce-ceilings.json, written atomically (temp file, fsync, rename, fsync of the
 * directory):
 *   version 2: {"version":2,"accounts":{"<lease>/<client>":{"ceiling":"<dec>","amountFloor":"<dec>"}}}
 *   version 1 (still read; amount floor 0): {"version":1,"ceilings":{"<lease>/<client>":"<dec>"}}
 */
const FILE = 'nonce-ceilings.json';

export interface Floors {
  /** Highest nonce reserved (every nonce at or below it is refused after a restart); 0 when none. */
  readonly ceiling: bigint;
  /** Highest cumulative amount accepted from the client when it was written; 0 when none. */
  readonly amountFloor: bigint;
}

export interface NonceStore {
  /** The persisted floors of an account. */
  floors(key: string): Floors;
  /**
   * Persists `floors` for `key` (never lowers either); resolves once they are durable. Called with
   * floors already held, it resolves once the write that raised them is durable.
   */
  raise(key: string, floors: Floors): Promise<void>;
}

const NONE: Floors = { ceiling: 0n, amountFloor: 0n };

function higher(a: Floors, b: Floors): Floors {
  return { ceiling: maxOf(a.ceiling, b.ceiling), amountFloor: maxOf(a.amountFloor, b.amountFloor) };
}

function maxOf(a: bigint, b: bigint): bigint {
  if (a > b) return a;
  return b;
}

function raises(now: Floors, next: Floors): boolean {
  return next.ceiling > now.ceiling || next.amountFloor > now.amountFloor;
}

export class MemoryNonceStore implements NonceStore {
  private readonly map = new Map<string, Floors>();
  floors(key: string): Floors {
    return this.map.get(key) ?? NONE;
  }
  async raise(key: string, floors: Floors): Promise<void> {
    this.map.set(key, higher(this.floors(key), floors));
  }
}

export class FileNonceStore implements NonceStore {
  private readonly map = new Map<string, Floors>();
  private writing: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private failed = false;

  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<FileNonceStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const s = new FileNonceStore(dir);
    const path = join(dir, FILE);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text !== undefined) for (const [k, f] of parseFile(text, path)) s.map.set(k, f);
    return s;
  }

  floors(key: string): Floors {
    return this.map.get(key) ?? NONE;
  }

  raise(key: string, floors: Floors): Promise<void> {
    const now = this.floors(key);
    if (raises(now, floors)) this.map.set(key, higher(now, floors));
    else if (!this.failed) return this.writing;
    // Writes are serialised and each writes the whole current map, so a raise joins a write that is
    // queued and not started yet; one started before it is followed by a new one. After a failed
    // write the next raise writes again (what the map holds is not durable until then).
    if (!this.queued) {
      this.failed = false;
      const next = this.writing
        .catch(() => {})
        .then(() => {
          this.queued = undefined;
          return this.flush();
        });
      next.catch(() => {
        this.failed = true;
      });
      this.queued = next;
      this.writing = next;
    }
    return this.queued;
  }

  private async flush(): Promise<void> {
    const accounts: Record<string, { ceiling: string; amountFloor: string }> = {};
    for (const [k, f] of this.map)
      accounts[k] = { ceiling: f.ceiling.toString(), amountFloor: f.amountFloor.toString() };
    const path = join(this.dir, FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify({ version: 2, accounts }));
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

function decimal(v: unknown, path: string, what: string): bigint {
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v)) throw new Error(`${path}: bad ${what}`);
  return BigInt(v);
}

function parseFile(text: string, path: string): [string, Floors][] {
  const o = JSON.parse(text) as { version?: unknown; ceilings?: unknown; accounts?: unknown };
  const entries = (x: unknown): [string, unknown][] => {
    if (typeof x !== 'object' || x === null) throw new Error(`${path}: unsupported format`);
    return Object.entries(x);
  };
  if (o.version === 1)
    return entries(o.ceilings).map(([k, v]) => [
      k,
      { ceiling: decimal(v, path, `ceiling for ${k}`), amountFloor: 0n },
    ]);
  if (o.version === 2)
    return entries(o.accounts).map(([k, v]) => {
      const f = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
      return [
        k,
        {
          ceiling: decimal(f.ceiling, path, `ceiling for ${k}`),
          amountFloor: decimal(f.amountFloor, path, `amount floor for ${k}`),
        },
      ];
    });
  throw new Error(`${path}: unsupported format`);
}
