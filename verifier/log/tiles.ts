import { logFail } from './errors.js';
import { HASH_SIZE, type Hash, hashEqual, leafHash, nodeHash } from './hash.js';
import { foldRight, type HashReader, type NodeId } from './merkle.js';

/*
 * c2sp.org/tlog-tiles: the Merkle tree served as tiles of height 8, and the entries as entry bundles.
 *
 * A tile at level L holds up to 256 consecutive hashes of tree level 8·L ("Merkle Tree": the n-th tile
 * at level l holds MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]) for i in 0..255). Level 0 holds
 * leaf hashes; a hash at level L + 1 is the hash of a full tile at level L. Tree levels between
 * multiples of 8 are rebuilt by hashing within a tile.
 */

/** Tile height (c2sp.org/tlog-tiles, "Merkle Tree": full tiles are 256 hashes wide). */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** A full tile is 256 · 32 = 8,192 bytes ("Merkle Tree"). */
export const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
/** Entries are uint16-length-prefixed ("Log entries"), so at most 65,535 bytes each. */
export const MAX_ENTRY_BYTES = 0xffff;
/** "<L> … MUST be a decimal ASCII integer between 0 and 63" ("Merkle Tree"). */
export const MAX_TILE_LEVEL = 63;

/** A tile: its level, its index within the level, and its width (256 for a full tile, 1–255 partial). */
export interface TileId {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

function assertNat(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    logFail('LOG_INVALID_ARGUMENT', `${name} must be a non-negative safe integer`, { [name]: n });
}

/** 256^level as a number (exact up to level 6, beyond every safe tree size after that). */
function span(level: number): number {
  return TILE_WIDTH ** level;
}

/**
 * `<N>` of a tile or bundle path ("Merkle Tree"): the index in zero-padded 3-digit groups, all but the
 * last prefixed with `x`; 1234067 is `x001/x234/067`.
 */
export function formatTileIndex(index: number): string {
  assertNat('index', index);
  let rest = Math.floor(index / 1000);
  let out = String(index % 1000).padStart(3, '0');
  while (rest > 0) {
    out = `x${String(rest % 1000).padStart(3, '0')}/${out}`;
    rest = Math.floor(rest / 1000);
  }
  return out;
}

function widthSuffix(width: number): string {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
    logFail('LOG_INVALID_ARGUMENT', 'tile width must be 1 to 256', { width });
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]` ("Merkle Tree"). */
export function tilePath(tile: TileId): string {
  if (!Number.isInteger(tile.level) || tile.level < 0 || tile.level > MAX_TILE_LEVEL)
    logFail('LOG_INVALID_ARGUMENT', 'tile level must be 0 to 63', { level: tile.level });
  return `tile/${tile.level}/${formatTileIndex(tile.index)}${widthSuffix(tile.width)}`;
}

/** `tile/entries/<N>[.p/<W>]` ("Log entries"). */
export function entryBundlePath(index: number, width: number): string {
  return `tile/entries/${formatTileIndex(index)}${widthSuffix(width)}`;
}

export type ParsedTilePath =
  | { readonly kind: 'tile'; readonly tile: TileId }
  | { readonly kind: 'entries'; readonly index: number; readonly width: number };

/**
 * Parses a tile or entry-bundle path strictly: the one spelling `tilePath` / `entryBundlePath` would
 * produce (no leading zeros in L or W, no superfluous `x000/` groups), anything else is
 * LOG_TILE_PATH_MALFORMED.
 */
export function parseTilePath(path: string): ParsedTilePath {
  const bad = (why: string): never => logFail('LOG_TILE_PATH_MALFORMED', `tile path ${why}`, { path });
  const m = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*)([0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(
    path,
  );
  if (m === null) return bad('is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]');
  const [, levelText, groups, last, widthText] = m;
  const digits = [...(groups!.match(/[0-9]{3}/g) ?? []), last!];
  if (digits.length > 1 && digits[0] === '000') bad('has a leading x000 group');
  const index = Number(digits.join(''));
  if (!Number.isSafeInteger(index)) bad('index is larger than 2^53 - 1');
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText);
  if (widthText !== undefined && width >= TILE_WIDTH) bad('partial width must be 1 to 255');
  if (levelText === 'entries') return { kind: 'entries', index, width };
  const level = Number(levelText);
  if (level > MAX_TILE_LEVEL) bad('level must be 0 to 63');
  return { kind: 'tile', tile: { level, index, width } };
}

/**
 * The width of tile `index` at `level` in a tree of `size` leaves: 256 if full, 1–255 if partial,
 * 0 if the tree has no such tile ("Partial Tiles": the partial tile at level l has
 * floor(s / 256^l) mod 256 entries).
 */
export function tileWidth(level: number, index: number, size: number): number {
  assertNat('size', size);
  const hashes = Math.floor(size / span(level)); // hashes at tree level 8·level
  return Math.max(0, Math.min(TILE_WIDTH, hashes - index * TILE_WIDTH));
}

/** The partial tiles of a tree, lowest level first: at most one per level ("Partial Tiles"). */
export function partialTiles(size: number): TileId[] {
  assertNat('size', size);
  const out: TileId[] = [];
  for (let level = 0; span(level) <= size; level++) {
    const hashes = Math.floor(size / span(level));
    const width = hashes % TILE_WIDTH;
    if (width > 0) out.push({ level, index: Math.floor(hashes / TILE_WIDTH), width });
  }
  return out;
}

/**
 * The tiles that a tree of `newSize` has and a tree of `oldSize` has not (new full tiles, and partial
 * tiles that are new or wider), lowest level first: what a log writes after growing from oldSize to
 * newSize. `tilesOf(size)` is `newTiles(0, size)`.
 */
export function newTiles(oldSize: number, newSize: number): TileId[] {
  assertNat('oldSize', oldSize);
  assertNat('newSize', newSize);
  if (oldSize > newSize)
    logFail('LOG_INVALID_ARGUMENT', 'old size is larger than new size', { oldSize, newSize });
  const out: TileId[] = [];
  for (let level = 0; span(level) <= newSize; level++) {
    const oldHashes = Math.floor(oldSize / span(level));
    const newHashes = Math.floor(newSize / span(level));
    if (newHashes === oldHashes) continue;
    const first = Math.floor(oldHashes / TILE_WIDTH);
    const last = Math.floor((newHashes - 1) / TILE_WIDTH);
    for (let index = first; index <= last; index++)
      out.push({ level, index, width: tileWidth(level, index, newSize) });
  }
  return out;
}

/** Every tile of a tree of `size` leaves, full and partial, lowest level first. */
export function tilesOf(size: number): TileId[] {
  return newTiles(0, size);
}

/**
 * Where a stored hash lives: the node at tree level 8·L, index n is hash n mod 256 of tile
 * (L, floor(n / 256)). Only levels that are multiples of 8 are stored in tiles.
 */
export function tileOfNode(node: NodeId): {
  readonly level: number;
  readonly index: number;
  readonly position: number;
} {
  if (node.level % TILE_HEIGHT !== 0)
    logFail('LOG_INVALID_ARGUMENT', 'only tree levels that are multiples of 8 are stored in tiles', {
      ...node,
    });
  return {
    level: node.level / TILE_HEIGHT,
    index: Math.floor(node.index / TILE_WIDTH),
    position: node.index % TILE_WIDTH,
  };
}

/**
 * The tile a node's hash is computed from in a tree of `size` leaves, for any tree level: node
 * (ℓ, i) covers the 2^(ℓ mod 8) hashes of tree level 8·floor(ℓ / 8) from i · 2^(ℓ mod 8) on, which
 * lie in one tile (a tile is a whole subtree of height 8, "Merkle Tree"). `start` and `count` say
 * where in the tile; the node's hash is the perfect subtree over them. A node that is not a complete
 * subtree of the tree is a usage error.
 */
export function tileForNode(node: NodeId, size: number): { tile: TileId; start: number; count: number } {
  assertNat('level', node.level);
  assertNat('index', node.index);
  const level = Math.floor(node.level / TILE_HEIGHT);
  const count = 2 ** (node.level % TILE_HEIGHT);
  const first = node.index * count; // the first covered hash at tree level 8·level
  const index = Math.floor(first / TILE_WIDTH);
  const width = tileWidth(level, index, size);
  const start = first - index * TILE_WIDTH;
  if (start + count > width)
    logFail('LOG_INVALID_ARGUMENT', 'node is not a complete subtree of the tree', { ...node, size });
  return { tile: { level, index, width }, start, count };
}

// --- stored-hash numbering (golang.org/x/mod/sumdb/tlog; tlog-tiles itself does not number hashes) ---

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}

/** How many hashes a log that stores every perfect subtree holds for `n` leaves: 2n − popcount(n). */
export function storedHashCount(n: number): number {
  assertNat('n', n);
  return 2 * n - popcount(n);
}

/**
 * The position of node (level, n) in the sequence of stored hashes when, after each leaf, the leaf and
 * every subtree it completes are appended, lowest level first (sumdb tlog `StoredHashIndex`).
 */
export function storedHashIndex(level: number, n: number): number {
  assertNat('level', level);
  assertNat('n', n);
  const leaf = (n + 1) * 2 ** level - 1; // the leaf that completes the node
  return storedHashCount(leaf) + level;
}

/** The inverse of `storedHashIndex`. */
export function splitStoredHashIndex(position: number): NodeId {
  assertNat('position', position);
  let lo = 0;
  let hi = position; // storedHashCount(leaf) ≤ position for the leaf we want, and storedHashCount(x) ≥ x
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (storedHashCount(mid) <= position) lo = mid;
    else hi = mid - 1;
  }
  const level = position - storedHashCount(lo);
  return { level, index: (lo + 1) / 2 ** level - 1 };
}

// --- tile contents ---

/** The hashes of a tile's bytes; the length must be exactly 32 · width. */
export function parseTile(bytes: Uint8Array, tile: TileId): Hash[] {
  if (bytes.length !== tile.width * HASH_SIZE)
    logFail(
      'LOG_TILE_MALFORMED',
      `tile ${tilePath(tile)} has ${bytes.length} bytes, not ${tile.width * HASH_SIZE}`,
      {
        tile: tilePath(tile),
      },
    );
  const out: Hash[] = [];
  for (let i = 0; i < tile.width; i++) out.push(bytes.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}

/** A tile's bytes: its hashes concatenated. */
export function formatTile(hashes: readonly Hash[]): Uint8Array {
  if (hashes.length < 1 || hashes.length > TILE_WIDTH)
    logFail('LOG_INVALID_ARGUMENT', 'a tile holds 1 to 256 hashes', { count: hashes.length });
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  hashes.forEach((h, i) => {
    if (h.length !== HASH_SIZE) logFail('LOG_INVALID_ARGUMENT', 'tile hashes must be 32 bytes');
    out.set(h, i * HASH_SIZE);
  });
  return out;
}

/** The hash of the perfect subtree over hashes[start, start + count), count a power of two. */
function perfectHash(hashes: readonly Hash[], start: number, count: number): Hash {
  let level = hashes.slice(start, start + count);
  while (level.length > 1) {
    const up: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
    level = up;
  }
  return level[0]!;
}

// --- entry bundles ---

/** An entry bundle: each entry as a big-endian uint16 length and its bytes ("Log entries"). */
export function formatEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length < 1 || entries.length > TILE_WIDTH)
    logFail('LOG_INVALID_ARGUMENT', 'an entry bundle holds 1 to 256 entries', { count: entries.length });
  let total = 0;
  for (const e of entries) {
    if (e.length > MAX_ENTRY_BYTES)
      logFail('LOG_INVALID_ARGUMENT', `an entry is at most ${MAX_ENTRY_BYTES} bytes`, { length: e.length });
    total += 2 + e.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    out[at] = e.length >>> 8;
    out[at + 1] = e.length & 0xff;
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

/**
 * The entries of a bundle that must hold exactly `width` entries (256 for a full bundle). Refused
 * with LOG_BUNDLE_MALFORMED: a truncated length or entry, more or fewer entries than `width`, and
 * bytes after the last entry. Empty entries are allowed: tlog-tiles does not forbid them.
 */
export function parseEntryBundle(bytes: Uint8Array, width: number): Uint8Array[] {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
    logFail('LOG_INVALID_ARGUMENT', 'bundle width must be 1 to 256', { width });
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (out.length === width)
      logFail('LOG_BUNDLE_MALFORMED', `entry bundle has bytes after its ${width} entries`, {
        offset: at,
        trailing: bytes.length - at,
      });
    if (bytes.length - at < 2)
      logFail('LOG_BUNDLE_MALFORMED', 'entry bundle ends inside a length prefix', {
        offset: at,
        entry: out.length,
      });
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (bytes.length - at - 2 < length)
      logFail('LOG_BUNDLE_MALFORMED', 'entry bundle ends inside an entry', {
        offset: at,
        entry: out.length,
        length,
      });
    out.push(bytes.slice(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (out.length !== width)
    logFail('LOG_BUNDLE_MALFORMED', `entry bundle has ${out.length} entries, not ${width}`, {
      entries: out.length,
      width,
    });
  return out;
}

/**
 * Checks that each entry of bundle `index` hashes to the corresponding hash of its (verified) level-0
 * tile ("Log entries": each entry hashes to the corresponding entry of the level 0 tile).
 */
export function checkEntryBundle(
  entries: readonly Uint8Array[],
  index: number,
  tileHashes: readonly Hash[],
): void {
  const path = entryBundlePath(index, entries.length);
  if (entries.length !== tileHashes.length)
    logFail(
      'LOG_TILE_MISMATCH',
      `entry bundle ${path} has ${entries.length} entries, its tile ${tileHashes.length}`,
      {
        bundle: path,
      },
    );
  entries.forEach((e, i) => {
    if (!hashEqual(leafHash(e), tileHashes[i]!))
      logFail(
        'LOG_TILE_MISMATCH',
        `entry ${index * TILE_WIDTH + i} of bundle ${path} does not hash to its tile`,
        {
          bundle: path,
          entry: index * TILE_WIDTH + i,
        },
      );
  });
}

// --- reading hashes from served tiles ---

/** Fetches a tile's or bundle's bytes by its path relative to the log prefix (e.g. `tile/0/001.p/7`). */
export type TileFetcher = (path: string) => Promise<Uint8Array>;

/** A HashReader over served tiles, bound to one verified tree head. */
export interface TileHashReader extends HashReader {
  readonly size: number;
  readonly root: Hash;
  /** The hashes of a tile of this tree, fetched and verified (cached). */
  readTile(tile: TileId): Promise<readonly Hash[]>;
}

/**
 * Serves `merkle.ts` proof generation from tiles fetched with `fetch`, each verified against the tree
 * head (`size`, `root`) before any hash of it is used: the partial tiles (one per level) together
 * must hash to `root`, and every full tile must hash to its entry in its parent tile, itself verified
 * first. A tile that fails is LOG_TILE_MISMATCH naming it (for the partial tiles, all of them: they
 * are only checkable together); a tile of the wrong length is LOG_TILE_MALFORMED; a fetch that
 * fails is LOG_HASH_UNAVAILABLE. For an unavailable partial tile the full tile is tried and cut to
 * the width ("Partial Tiles": clients MAY fetch the full tile as a fallback). Verified tiles are
 * cached for the reader's lifetime.
 */
export function tileHashReader(size: number, root: Hash, fetch: TileFetcher): TileHashReader {
  assertNat('size', size);
  if (root.length !== HASH_SIZE) logFail('LOG_INVALID_ARGUMENT', 'root must be 32 bytes');
  const verified = new Map<string, Hash[]>();
  const pending = new Map<string, Promise<Hash[]>>();
  const key = (t: TileId) => `${t.level}/${t.index}`;

  const fetchTile = async (tile: TileId): Promise<Hash[]> => {
    const path = tilePath(tile);
    let bytes: Uint8Array;
    try {
      bytes = await fetch(path);
    } catch (e) {
      if (tile.width === TILE_WIDTH)
        logFail('LOG_HASH_UNAVAILABLE', `tile ${path} could not be fetched`, { tile: path }, e);
      const full = tilePath({ ...tile, width: TILE_WIDTH });
      try {
        bytes = (await fetch(full)).subarray(0, tile.width * HASH_SIZE);
      } catch {
        logFail('LOG_HASH_UNAVAILABLE', `tile ${path} could not be fetched (nor ${full})`, { tile: path }, e);
      }
    }
    return parseTile(bytes, tile);
  };

  const partials = partialTiles(size);
  const isPartial = (t: TileId) => t.width < TILE_WIDTH;

  /** Fetches and verifies the given tiles and whatever chain connects them to the root. */
  const ensure = async (wanted: readonly TileId[]): Promise<void> => {
    const need = new Map<string, TileId>();
    const add = (t: TileId) => {
      for (let cur: TileId | undefined = t; cur !== undefined && !verified.has(key(cur)); ) {
        if (need.has(key(cur))) break;
        need.set(key(cur), cur);
        if (isPartial(cur)) break;
        const parentIndex = Math.floor(cur.index / TILE_WIDTH);
        cur = {
          level: cur.level + 1,
          index: parentIndex,
          width: tileWidth(cur.level + 1, parentIndex, size),
        };
      }
    };
    for (const t of wanted) add(t);
    if (need.size === 0) return;
    for (const p of partials) add(p);
    const tiles = [...need.values()];
    const fetched = new Map<string, Hash[]>();
    await Promise.all(
      tiles.map(async (t) => {
        let p = pending.get(key(t));
        if (p === undefined) {
          p = fetchTile(t);
          pending.set(key(t), p);
        }
        try {
          fetched.set(key(t), await p);
        } finally {
          pending.delete(key(t));
        }
      }),
    );
    // The partial tiles against the root: the root is the fold of the perfect subtrees of each
    // partial tile's hashes, highest level first.
    if (partials.some((p) => !verified.has(key(p)))) {
      const parts: Hash[] = [];
      for (const p of [...partials].reverse()) {
        const hashes = verified.get(key(p)) ?? fetched.get(key(p))!;
        let start = 0;
        for (let bit = TILE_WIDTH / 2; bit >= 1; bit /= 2)
          if (p.width & bit) {
            parts.push(perfectHash(hashes, start, bit));
            start += bit;
          }
      }
      const computed = foldRight(parts);
      if (!hashEqual(computed, root))
        logFail(
          'LOG_TILE_MISMATCH',
          `partial tiles ${partials.map(tilePath).join(', ')} do not hash to the root`,
          {
            tiles: partials.map(tilePath),
            size,
            expectedRoot: Buffer.from(root).toString('base64'),
            computedRoot: Buffer.from(computed).toString('base64'),
          },
        );
      for (const p of partials) verified.set(key(p), verified.get(key(p)) ?? fetched.get(key(p))!);
    }
    // Full tiles, parents before children.
    const full = tiles.filter((t) => !isPartial(t)).sort((a, b) => b.level - a.level);
    for (const t of full) {
      const hashes = fetched.get(key(t))!;
      const parentIndex = Math.floor(t.index / TILE_WIDTH);
      const parent = verified.get(`${t.level + 1}/${parentIndex}`);
      if (parent === undefined) logFail('LOG_INVALID_ARGUMENT', 'parent tile was not verified first');
      const expected = parent[t.index % TILE_WIDTH]!;
      const computed = perfectHash(hashes, 0, TILE_WIDTH);
      if (!hashEqual(computed, expected))
        logFail('LOG_TILE_MISMATCH', `tile ${tilePath(t)} does not hash to its entry in its parent tile`, {
          tile: tilePath(t),
          expected: Buffer.from(expected).toString('base64'),
          computed: Buffer.from(computed).toString('base64'),
        });
      verified.set(key(t), hashes);
    }
  };

  const tileOf = (node: NodeId) => tileForNode(node, size);

  return {
    size,
    root,
    async readTile(tile) {
      const width = tileWidth(tile.level, tile.index, size);
      if (width === 0 || width !== tile.width)
        logFail('LOG_INVALID_ARGUMENT', `tree of size ${size} has no tile ${tilePath(tile)}`, { size });
      await ensure([tile]);
      return verified.get(key(tile))!;
    },
    async readHashes(nodes) {
      const where = nodes.map(tileOf);
      await ensure(where.map((w) => w.tile));
      return where.map((w) => perfectHash(verified.get(key(w.tile))!, w.start, w.count));
    },
  };
}
