import { mkdir, readFile, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { appendDurably, writeFileAtomic } from '../durable-file.js';
import { type Checkpoint, openCheckpoint, signCheckpoint } from './checkpoint.js';
import { checkBlob, cidOf, parseCid } from './cid.js';
import { LogError, logFail } from './errors.js';
import { EMPTY_ROOT, type Hash, leafHash } from './hash.js';
import { MerkleFrontier, rangeNodes, type StoredNode } from './merkle.js';
import type { NoteSigner, NoteVerifier } from './note.js';
import {
  entryBundlePath,
  formatEntryBundle,
  formatTile,
  MAX_ENTRY_BYTES,
  parseEntryBundle,
  partialTiles,
  TILE_HEIGHT,
  TILE_WIDTH,
  type TileHashReader,
  tileHashReader,
  tilePath,
  tileWidth,
} from './tiles.js';

/*
 * The log's directory (docs/log.md, "Storage"), laid out so that the tile and blob paths are the URL
 * paths the server serves:
 *
 *   <dir>/checkpoint              the latest signed checkpoint (c2sp.org/tlog-checkpoint)
 *   <dir>/tile/<L>/<N>[.p/<W>]    hash tiles (c2sp.org/tlog-tiles)
 *   <dir>/tile/entries/<N>[.p/<W>] entry bundles
 *   <dir>/ipfs/<cid>              blobs by content address (verifier/log/cid.ts)
 *   <dir>/leaves                  40-byte records (entry identity ‖ uint64 BE index), for deduplication
 *
 * Appends are integrated in batches: a batch closes at `batchSize` entries or `batchDelayMs` after its
 * first entry. Integrating writes the batch's entry bundles and tiles (each atomically, fsync'd), then
 * its `leaves` records, then the signed checkpoint (atomically, fsync'd); only then are the batch's
 * entries acknowledged and the checkpoint published. The checkpoint is the commit point: after a
 * crash the log reopens at the checkpoint on disk, whatever a half-written batch left beyond it is
 * rewritten by the next batch, and nothing beyond the published checkpoint is ever served (the
 * server asks `servable` first), so a tile that a later batch rewrites was never seen. Hence no
 * acknowledged entry is lost and no two checkpoints of the same size differ.
 */

const LEAF_RECORD = 40;

export interface LogStoreOptions {
  readonly dir: string;
  /** The checkpoint origin line; the signer's key name should be the same (tlog-checkpoint). */
  readonly origin: string;
  readonly signer: NoteSigner;
  /** The signer's verifier, to open the checkpoint found on disk at start. */
  readonly verifier: NoteVerifier;
  /** Entries per batch (1..256, default 256) and the longest wait for a batch (ms, default 1000). */
  readonly batchSize?: number;
  readonly batchDelayMs?: number;
  /**
   * What makes two entries the same for deduplication: 32 bytes per entry (default: its leaf hash,
   * so only identical bytes are the same entry).
   */
  readonly identity?: (entry: Uint8Array) => Uint8Array;
  /** Called after each published checkpoint (anchoring, cosigning, metrics). */
  readonly onCheckpoint?: (c: PublishedCheckpoint) => void;
}

export interface PublishedCheckpoint {
  readonly size: number;
  readonly root: Hash;
  /** The signed note, as served at /checkpoint. */
  readonly text: string;
}

export interface Appended {
  readonly index: number;
  /** False when the same entry was in the log already (its first index is returned). */
  readonly fresh: boolean;
}

interface Pending {
  readonly entry: Uint8Array;
  readonly leaf: Hash;
  readonly key: string;
  readonly waiters: { resolve: (a: Appended) => void; reject: (e: unknown) => void }[];
}

/** Levels of the tree that tiles store: 0, 8, 16, … */
const tileLevelOf = (n: StoredNode) => (n.level % TILE_HEIGHT === 0 ? n.level / TILE_HEIGHT : -1);

export class LogStore {
  readonly dir: string;
  readonly origin: string;
  #signer: NoteSigner;
  #published: PublishedCheckpoint;
  #frontier: MerkleFrontier;
  /** Hashes of the partial tile at each tile level, and entries of the partial bundle. */
  #tileTails: Hash[][];
  #bundleTail: Uint8Array[];
  /** Entry identity (hex) → first index, for every integrated entry. */
  #indexOf = new Map<string, number>();
  #queue: Pending[] = [];
  #queued = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #integrating: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #batchSize: number;
  readonly #batchDelayMs: number;
  readonly #onCheckpoint: ((c: PublishedCheckpoint) => void) | undefined;
  readonly #identity: (entry: Uint8Array) => Uint8Array;

  private constructor(
    o: LogStoreOptions,
    published: PublishedCheckpoint,
    frontier: MerkleFrontier,
    tileTails: Hash[][],
    bundleTail: Uint8Array[],
  ) {
    this.dir = o.dir;
    this.origin = o.origin;
    this.#signer = o.signer;
    this.#published = published;
    this.#frontier = frontier;
    this.#tileTails = tileTails;
    this.#bundleTail = bundleTail;
    this.#batchSize = o.batchSize ?? TILE_WIDTH;
    this.#batchDelayMs = o.batchDelayMs ?? 1000;
    this.#onCheckpoint = o.onCheckpoint;
    this.#identity = o.identity ?? leafHash;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1 || this.#batchSize > TILE_WIDTH)
      logFail('LOG_INVALID_ARGUMENT', 'batchSize must be 1..256');
    if (!Number.isFinite(this.#batchDelayMs) || this.#batchDelayMs < 0)
      logFail('LOG_INVALID_ARGUMENT', 'batchDelayMs must be ≥ 0');
  }

  /**
   * Opens the log in `dir`, creating an empty one (a signed checkpoint of size 0) when there is no
   * checkpoint. An existing log is checked before it is used: the checkpoint must verify with
   * `verifier` and carry `origin`, and the tiles must hash to its root (LOG_TILE_MISMATCH otherwise).
   */
  static async open(o: LogStoreOptions): Promise<LogStore> {
    await mkdir(o.dir, { recursive: true });
    const path = join(o.dir, 'checkpoint');
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text === undefined) {
      const c: Checkpoint = { origin: o.origin, size: 0, root: EMPTY_ROOT, extensions: [] };
      text = signCheckpoint(c, [o.signer]);
      await writeFileAtomic(path, text, 0o644);
      await writeFileAtomic(join(o.dir, 'leaves'), new Uint8Array(0), 0o644);
      return new LogStore(o, { size: 0, root: EMPTY_ROOT, text }, new MerkleFrontier(), [], []);
    }
    const { checkpoint } = openCheckpoint(text, [o.verifier], { origin: o.origin });
    const { size, root } = checkpoint;
    const reader = tileHashReader(size, root, (p) => readFile(join(o.dir, p)));
    const frontier = MerkleFrontier.fromHashes(size, [...(await reader.readHashes(rangeNodes(0, size)))]);
    const tileTails: Hash[][] = [];
    for (const t of partialTiles(size)) tileTails[t.level] = [...(await reader.readTile(t))];
    let bundleTail: Uint8Array[] = [];
    const tailWidth = size % TILE_WIDTH;
    if (tailWidth > 0) {
      const bundleIndex = Math.floor(size / TILE_WIDTH);
      bundleTail = parseEntryBundle(
        await readFile(join(o.dir, entryBundlePath(bundleIndex, tailWidth))),
        tailWidth,
      );
      checkBundle(bundleTail, tileTails[0]!, entryBundlePath(bundleIndex, tailWidth));
    }
    const store = new LogStore(o, { size, root, text }, frontier, tileTails, bundleTail);
    await store.#loadLeaves(size, reader);
    return store;
  }

  /** The latest published checkpoint. */
  get checkpoint(): PublishedCheckpoint {
    return this.#published;
  }

  /** Entries waiting for the next batch. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Queues an entry and resolves once it is integrated under a published checkpoint. An entry already
   * in the log (the same bytes) resolves at once with its index and `fresh: false`; the same entry
   * twice in one batch is appended once.
   */
  add(entry: Uint8Array): Promise<Appended> {
    if (this.#closed) return Promise.reject(new LogError('LOG_INVALID_ARGUMENT', 'the log store is closed'));
    if (entry.length > MAX_ENTRY_BYTES)
      return Promise.reject(
        new LogError('LOG_INVALID_ARGUMENT', `entry is ${entry.length} bytes, more than ${MAX_ENTRY_BYTES}`),
      );
    const leaf = leafHash(entry);
    const key = Buffer.from(this.#identity(entry)).toString('hex');
    const known = this.#indexOf.get(key);
    if (known !== undefined) return Promise.resolve({ index: known, fresh: false });
    return new Promise<Appended>((resolve, reject) => {
      const same = this.#queued.get(key);
      if (same !== undefined) {
        same.waiters.push({ resolve: (a) => resolve({ ...a, fresh: false }), reject });
        return;
      }
      const p: Pending = { entry: entry.slice(), leaf, key, waiters: [{ resolve, reject }] };
      this.#queue.push(p);
      this.#queued.set(key, p);
      if (this.#queue.length >= this.#batchSize) this.#integrateSoon(0);
      else this.#integrateSoon(this.#batchDelayMs);
    });
  }

  /** The first index of an entry with the same identity, if one is in the log. */
  indexOf(entry: Uint8Array): number | undefined {
    return this.#indexOf.get(Buffer.from(this.#identity(entry)).toString('hex'));
  }

  /** Stores a blob by its content address (durably) and returns its CID. */
  async putBlob(blob: Uint8Array): Promise<string> {
    const cid = cidOf(blob);
    const path = join(this.dir, 'ipfs', cid);
    try {
      checkBlob(cid, await readFile(path));
      return cid;
    } catch {
      // missing or damaged: (re)write it
    }
    await writeFileAtomic(path, blob, 0o644);
    return cid;
  }

  /** A stored blob, checked against its CID (LOG_BLOB_MISMATCH when the bytes on disk were altered). */
  async readBlob(cid: string): Promise<Uint8Array | undefined> {
    parseCid(cid);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(this.dir, 'ipfs', cid));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    checkBlob(cid, bytes);
    return bytes;
  }

  /**
   * A hash reader over this log's own tiles, bound to the published checkpoint (every tile it reads
   * is verified against the root first).
   */
  hashReader(): TileHashReader {
    const { size, root } = this.#published;
    return tileHashReader(size, root, (p) => readFile(join(this.dir, p)));
  }

  /** Integrates what is queued now, and waits for it. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#integrating = this.#integrating.then(() => this.#integrateBatch());
      await this.#integrating;
    }
    await this.#integrating;
  }

  /** Integrates what is queued, then refuses further appends. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  #integrateSoon(delayMs: number): void {
    if (this.#timer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#integrating = this.#integrating.then(() => this.#integrateBatch());
    }, delayMs);
  }

  async #integrateBatch(): Promise<void> {
    const batch = this.#queue.splice(0, this.#batchSize);
    if (batch.length === 0) return;
    if (this.#queue.length > 0)
      this.#integrateSoon(this.#queue.length >= this.#batchSize ? 0 : this.#batchDelayMs);
    try {
      await this.#integrate(batch);
    } catch (e) {
      // Nothing was published; the leaves file must not keep records beyond the published size.
      await truncate(join(this.dir, 'leaves'), this.#published.size * LEAF_RECORD).catch(() => {});
      for (const p of batch) {
        this.#queued.delete(p.key);
        for (const w of p.waiters) w.reject(e);
      }
    }
  }

  /** Writes the batch beyond the published tree, then the new checkpoint; state changes only on success. */
  async #integrate(batch: readonly Pending[]): Promise<void> {
    const start = this.#published.size;
    const frontier = MerkleFrontier.fromHashes(
      start,
      this.#frontier.nodes.map((n) => n.hash),
    );
    const tails = this.#tileTails.map((t) => [...t]);
    let bundle = [...this.#bundleTail];
    const files = new Map<string, Uint8Array>();
    const touched = new Set<number>();
    for (const p of batch) {
      const index = frontier.size;
      for (const node of frontier.append(p.leaf)) {
        const level = tileLevelOf(node);
        if (level < 0) continue;
        tails[level] ??= [];
        const tail = tails[level];
        tail.push(node.hash);
        touched.add(level);
        if (tail.length === TILE_WIDTH) {
          files.set(
            tilePath({ level, index: Math.floor(node.index / TILE_WIDTH), width: TILE_WIDTH }),
            formatTile(tail),
          );
          tails[level] = [];
        }
      }
      bundle.push(p.entry);
      if (bundle.length === TILE_WIDTH) {
        files.set(entryBundlePath(Math.floor(index / TILE_WIDTH), TILE_WIDTH), formatEntryBundle(bundle));
        bundle = [];
      }
    }
    const size = frontier.size;
    for (const level of touched) {
      const tail = tails[level]!;
      if (tail.length === 0) continue;
      const hashes = Math.floor(size / TILE_WIDTH ** level);
      files.set(
        tilePath({ level, index: Math.floor(hashes / TILE_WIDTH), width: tail.length }),
        formatTile(tail),
      );
    }
    if (bundle.length > 0)
      files.set(entryBundlePath(Math.floor(size / TILE_WIDTH), bundle.length), formatEntryBundle(bundle));
    for (const [path, bytes] of files) await writeFileAtomic(join(this.dir, path), bytes, 0o644);

    const records = new Uint8Array(batch.length * LEAF_RECORD);
    const view = new DataView(records.buffer);
    batch.forEach((p, i) => {
      records.set(Buffer.from(p.key, 'hex'), i * LEAF_RECORD);
      view.setBigUint64(i * LEAF_RECORD + 32, BigInt(start + i));
    });
    await appendDurably(join(this.dir, 'leaves'), records, 0o644);

    const root = frontier.root();
    const text = signCheckpoint({ origin: this.origin, size, root, extensions: [] }, [this.#signer]);
    await writeFileAtomic(join(this.dir, 'checkpoint'), text, 0o644);

    this.#frontier = frontier;
    this.#tileTails = tails;
    this.#bundleTail = bundle;
    this.#published = { size, root, text };
    batch.forEach((p, i) => {
      this.#indexOf.set(p.key, start + i);
      this.#queued.delete(p.key);
      for (const w of p.waiters) w.resolve({ index: start + i, fresh: true });
    });
    this.#onCheckpoint?.(this.#published);
    await this.#dropSuperseded(start, size);
  }

  /**
   * Deletes the partial tiles and bundle of the tree of `oldSize` that the published tree of `newSize`
   * replaced (best effort). Nothing is lost: the server answers a narrower partial from a prefix of
   * the current tile or bundle.
   */
  async #dropSuperseded(oldSize: number, newSize: number): Promise<void> {
    const paths = partialTiles(oldSize)
      .filter((t) => tileWidth(t.level, t.index, newSize) !== t.width)
      .map((t) => tilePath(t));
    const width = oldSize % TILE_WIDTH;
    if (width > 0 && newSize > oldSize) paths.push(entryBundlePath(Math.floor(oldSize / TILE_WIDTH), width));
    await Promise.all(paths.map((p) => unlink(join(this.dir, p)).catch(() => {})));
  }

  /**
   * Reads the deduplication records of the first `size` entries. Records a failed or interrupted
   * batch left beyond them are cut off; records missing (a damaged or deleted file) are rebuilt from
   * the entry bundles, each bundle checked against its verified level-0 tile.
   */
  async #loadLeaves(size: number, reader: TileHashReader): Promise<void> {
    const path = join(this.dir, 'leaves');
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      bytes = new Uint8Array(0);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hex = (h: Uint8Array) => Buffer.from(h).toString('hex');
    let kept = 0;
    while (kept < size && (kept + 1) * LEAF_RECORD <= bytes.length) {
      const at = kept * LEAF_RECORD;
      if (view.getBigUint64(at + 32) !== BigInt(kept)) break;
      const id = hex(bytes.subarray(at, at + 32));
      if (!this.#indexOf.has(id)) this.#indexOf.set(id, kept);
      kept++;
    }
    if (kept === size && bytes.length === size * LEAF_RECORD) return;
    const rebuilt: Uint8Array[] = [bytes.subarray(0, kept * LEAF_RECORD)];
    for (let first = kept - (kept % TILE_WIDTH); first < size; first += TILE_WIDTH) {
      const width = Math.min(TILE_WIDTH, size - first);
      const bundlePath = entryBundlePath(first / TILE_WIDTH, width);
      const entries = parseEntryBundle(await readFile(join(this.dir, bundlePath)), width);
      const leaves = await reader.readTile({ level: 0, index: first / TILE_WIDTH, width });
      checkBundle(entries, leaves, bundlePath);
      for (let i = Math.max(kept, first) - first; i < width; i++) {
        const id = this.#identity(entries[i]!);
        const record = new Uint8Array(LEAF_RECORD);
        record.set(id, 0);
        new DataView(record.buffer).setBigUint64(32, BigInt(first + i));
        if (!this.#indexOf.has(hex(id))) this.#indexOf.set(hex(id), first + i);
        rebuilt.push(record);
      }
    }
    await writeFileAtomic(path, Buffer.concat(rebuilt), 0o644);
  }
}

/** The entries of a bundle must be the leaves the level-0 tile holds for them. */
function checkBundle(entries: readonly Uint8Array[], leaves: readonly Hash[], path: string): void {
  entries.forEach((e, i) => {
    if (!Buffer.from(leafHash(e)).equals(Buffer.from(leaves[i]!)))
      logFail('LOG_TILE_MISMATCH', `entry ${i} of ${path} is not the leaf its tile holds`, { tile: path });
  });
}
