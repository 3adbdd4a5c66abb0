import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLogError, type LogErrorCode } from './errors.js';
import { expectCode } from './expect-code.js';
import { type Hash, leafHash } from './hash.js';
import {
  consistencyProof,
  inclusionProof,
  MerkleFrontier,
  type NodeId,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
import {
  checkEntryBundle,
  entryBundlePath,
  formatEntryBundle,
  formatTile,
  formatTileIndex,
  newTiles,
  parseEntryBundle,
  parseTilePath,
  partialTiles,
  splitStoredHashIndex,
  storedHashCount,
  storedHashIndex,
  type TileId,
  tileForNode,
  tileHashReader,
  tileOfNode,
  tilePath,
  tilesOf,
  tileWidth,
} from './tiles.js';

async function expectCodeAsync(f: () => Promise<unknown>, code: LogErrorCode): Promise<Error> {
  try {
    await f();
  } catch (e) {
    expect(isLogError(e) ? e.code : e).toBe(code);
    return e as Error;
  }
  return expect.unreachable(`expected ${code}`);
}

describe('tile paths (c2sp.org/tlog-tiles, "Merkle Tree")', () => {
  it('the spec example: index 1234067 is x001/x234/067', () => {
    expect(formatTileIndex(1234067)).toBe('x001/x234/067');
    expect(tilePath({ level: 0, index: 1234067, width: 256 })).toBe('tile/0/x001/x234/067');
    expect(parseTilePath('tile/0/x001/x234/067')).toEqual({
      kind: 'tile',
      tile: { level: 0, index: 1234067, width: 256 },
    });
  });

  it('full, partial and entry-bundle paths', () => {
    expect(tilePath({ level: 0, index: 0, width: 256 })).toBe('tile/0/000');
    expect(tilePath({ level: 1, index: 1000, width: 17 })).toBe('tile/1/x001/000.p/17');
    expect(tilePath({ level: 63, index: 5, width: 1 })).toBe('tile/63/005.p/1');
    expect(entryBundlePath(3057500, 256)).toBe('tile/entries/x003/x057/500');
    expect(entryBundlePath(1, 5)).toBe('tile/entries/001.p/5');
    expect(parseTilePath('tile/entries/x003/x057/500.p/2')).toEqual({
      kind: 'entries',
      index: 3057500,
      width: 2,
    });
    expect(parseTilePath('tile/3/x123/x456/078.p/255')).toEqual({
      kind: 'tile',
      tile: { level: 3, index: 123456078, width: 255 },
    });
  });

  it('parse ∘ format is the identity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 63 }),
        fc.maxSafeNat(),
        fc.integer({ min: 1, max: 256 }),
        (level, index, width) => {
          expect(parseTilePath(tilePath({ level, index, width }))).toEqual({
            kind: 'tile',
            tile: { level, index, width },
          });
          expect(parseTilePath(entryBundlePath(index, width))).toEqual({ kind: 'entries', index, width });
        },
      ),
    );
  });

  it('refuses every other spelling', () => {
    for (const bad of [
      'tile/0/1', // not 3 digits
      'tile/00/001', // leading zero in L
      'tile/64/001', // L above 63
      'tile/0/123/456/078', // groups without x
      'tile/0/x000/001', // a superfluous leading group
      'tile/0/x001', // last group with x
      'tile/0/001.p/0', // width 0
      'tile/0/001.p/256', // a full tile is not partial
      'tile/0/001.p/05', // leading zero in W
      'tile/0/-01',
      'tile/data/001',
      '/tile/0/001',
      'tile/0/001/',
      'tile/3/5/x123/x456/078', // sumdb's tile/H/L/N form
      'tile/0/x999/x999/x999/x999/x999/x999/999', // beyond 2^53
    ])
      expectCode(() => parseTilePath(bad), 'LOG_TILE_PATH_MALFORMED');
  });
});

describe('tiles of a tree (c2sp.org/tlog-tiles, "Partial Tiles")', () => {
  const describeTiles = (tiles: TileId[]) => {
    const full = tiles.filter((t) => t.width === 256);
    const partial = tiles.filter((t) => t.width < 256);
    return {
      fullPerLevel: [0, 1, 2, 3].map((l) => full.filter((t) => t.level === l).length),
      partial: partial.map((t) => [t.level, t.width]),
    };
  };

  it('the spec example: size 70,000 has 273 full and one 112-wide level-0 tile, one full and one 17-wide level-1 tile, one 1-wide level-2 tile', () => {
    expect(describeTiles(tilesOf(70_000))).toEqual({
      fullPerLevel: [273, 1, 0, 0],
      partial: [
        [0, 112],
        [1, 17],
        [2, 1],
      ],
    });
    expect(partialTiles(70_000)).toEqual([
      { level: 0, index: 273, width: 112 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
  });

  it('the spec example: size 256 has a full level-0 tile and a 1-wide level-1 tile', () => {
    expect(tilesOf(256)).toEqual([
      { level: 0, index: 0, width: 256 },
      { level: 1, index: 0, width: 1 },
    ]);
    expect(tilesOf(0)).toEqual([]);
  });

  it('newTiles(old, new) is what tilesOf(new) has and tilesOf(old) has not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 200_000 }), (a, b) => {
        const [old, now] = a <= b ? [a, b] : [b, a];
        const before = new Set(tilesOf(old).map(tilePath));
        expect(newTiles(old, now).map(tilePath)).toEqual(
          tilesOf(now)
            .map(tilePath)
            .filter((p) => !before.has(p)),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('tile widths and where a stored hash lives', () => {
    expect(tileWidth(0, 273, 70_000)).toBe(112);
    expect(tileWidth(0, 274, 70_000)).toBe(0);
    expect(tileWidth(1, 0, 70_000)).toBe(256);
    expect(tileOfNode({ level: 8, index: 300 })).toEqual({ level: 1, index: 1, position: 44 });
    expectCode(() => tileOfNode({ level: 3, index: 0 }), 'LOG_INVALID_ARGUMENT');
    // Level 11 = tile level 1 plus 3 levels within: 8 hashes of tile/1 from 8·5 = 40 on.
    expect(tileForNode({ level: 11, index: 5 }, 70_000)).toEqual({
      tile: { level: 1, index: 0, width: 256 },
      start: 40,
      count: 8,
    });
    expect(tileForNode({ level: 2, index: (273 * 256) / 4 }, 273 * 256 + 112)).toEqual({
      tile: { level: 0, index: 273, width: 112 },
      start: 0,
      count: 4,
    });
    expectCode(() => tileForNode({ level: 17, index: 0 }, 70_000), 'LOG_INVALID_ARGUMENT');
  });
});

describe('stored-hash numbering (as sumdb tlog)', () => {
  it('is the order in which a frontier completes nodes, and splits back', () => {
    const f = new MerkleFrontier();
    let position = 0;
    for (let i = 0; i < 1000; i++)
      for (const n of f.append(leafHash(Uint8Array.of(i & 0xff, i >> 8)))) {
        expect(storedHashIndex(n.level, n.index)).toBe(position);
        expect(splitStoredHashIndex(position)).toEqual({ level: n.level, index: n.index });
        position++;
      }
    expect(storedHashCount(1000)).toBe(position);
  });
});

describe('entry bundles (c2sp.org/tlog-tiles, "Log entries")', () => {
  const enc = new TextEncoder();

  it('round-trips, with empty and maximal entries', () => {
    const entries = [enc.encode('a'), new Uint8Array(0), new Uint8Array(0xffff).fill(7)];
    const bytes = formatEntryBundle(entries);
    expect(bytes.length).toBe(2 + 1 + 2 + 2 + 0xffff);
    expect([...bytes.subarray(0, 3)]).toEqual([0, 1, 0x61]);
    expect(parseEntryBundle(bytes, 3)).toEqual(entries);
  });

  it('refuses truncation, trailing bytes, and a count other than the width', () => {
    const bytes = formatEntryBundle([enc.encode('abc'), enc.encode('de')]);
    expectCode(() => parseEntryBundle(bytes.subarray(0, bytes.length - 1), 2), 'LOG_BUNDLE_MALFORMED');
    expectCode(() => parseEntryBundle(bytes.subarray(0, 6), 2), 'LOG_BUNDLE_MALFORMED'); // inside a length
    expectCode(() => parseEntryBundle(Uint8Array.of(...bytes, 0), 2), 'LOG_BUNDLE_MALFORMED');
    expectCode(() => parseEntryBundle(Uint8Array.of(...bytes, 0, 0), 2), 'LOG_BUNDLE_MALFORMED'); // a third entry
    expectCode(() => parseEntryBundle(bytes, 3), 'LOG_BUNDLE_MALFORMED');
    expectCode(() => parseEntryBundle(bytes, 1), 'LOG_BUNDLE_MALFORMED');
    expectCode(() => parseEntryBundle(new Uint8Array(0), 1), 'LOG_BUNDLE_MALFORMED');
    expectCode(() => formatEntryBundle([new Uint8Array(0x10000)]), 'LOG_INVALID_ARGUMENT');
    expectCode(
      () => formatEntryBundle(Array.from({ length: 257 }, () => new Uint8Array(1))),
      'LOG_INVALID_ARGUMENT',
    );
  });

  it('checks entries against their level-0 tile', () => {
    const entries = [enc.encode('x'), enc.encode('y')];
    checkEntryBundle(entries, 4, entries.map(leafHash));
    expectCode(
      () => checkEntryBundle([entries[0]!, enc.encode('z')], 4, entries.map(leafHash)),
      'LOG_TILE_MISMATCH',
    );
  });
});

// --- the tile hash reader against a served tree ---

/** A log's tiles for a tree of `size`, served from memory, with every perfect node kept for reference. */
function servedTree(size: number) {
  const nodes = new Map<string, Hash>();
  const f = new MerkleFrontier();
  const leaves: Hash[] = [];
  for (let i = 0; i < size; i++) {
    const l = leafHash(new TextEncoder().encode(`entry ${i}`));
    leaves.push(l);
    for (const n of f.append(l)) nodes.set(`${n.level}/${n.index}`, n.hash);
  }
  const files = new Map<string, Uint8Array>();
  for (const t of tilesOf(size)) {
    const hashes = Array.from(
      { length: t.width },
      (_, i) => nodes.get(`${8 * t.level}/${t.index * 256 + i}`)!,
    );
    files.set(tilePath(t), formatTile(hashes));
  }
  const reference = {
    readHashes: (ids: readonly NodeId[]) => ids.map((id) => nodes.get(`${id.level}/${id.index}`)!),
  };
  return { root: f.root(), leaves, files, reference };
}

const SIZE = 70_000;
const served = servedTree(SIZE);
const fetchFrom = (files: Map<string, Uint8Array>, log?: string[]) => async (path: string) => {
  log?.push(path);
  const b = files.get(path);
  if (b === undefined) throw new Error(`404 ${path}`);
  return b;
};

describe('tileHashReader', () => {
  it('serves the same proofs as the store, fetching each tile once', async () => {
    const log: string[] = [];
    const reader = tileHashReader(SIZE, served.root, fetchFrom(served.files, log));
    for (const index of [0, 1, 255, 256, 65535, 65536, 69_999, 12345]) {
      const proof = await inclusionProof(index, SIZE, reader);
      expect(proof).toEqual(await inclusionProof(index, SIZE, served.reference));
      expect(verifyInclusion(index, SIZE, served.leaves[index]!, proof, served.root)).toBe(true);
    }
    for (const old of [1, 256, 300, 65536, 69_999]) {
      const proof = await consistencyProof(old, SIZE, reader);
      expect(proof).toEqual(await consistencyProof(old, SIZE, served.reference));
      const oldRoot = await servedTree(old).root;
      expect(verifyConsistency(old, SIZE, proof, oldRoot, served.root)).toBe(true);
    }
    expect(new Set(log).size).toBe(log.length);
  });

  it('serves a smaller tree from the partial tiles of its own size', async () => {
    // The log grew from 300 to 1000 and deleted tile/0/001.p/44 once tile/0/001 was full; it keeps
    // tile/1/000.p/1 of size 300 (tile/1/000 is not full yet).
    const [at300, at1000] = [servedTree(300), servedTree(1000)];
    const files = new Map([...at300.files, ...at1000.files]);
    files.delete('tile/0/001.p/44');
    const log: string[] = [];
    const reader = tileHashReader(300, at300.root, fetchFrom(files, log));
    const proof = await inclusionProof(299, 300, reader);
    expect(verifyInclusion(299, 300, at1000.leaves[299]!, proof, at300.root)).toBe(true);
    expect(log).toContain('tile/0/001');
  });

  const tampered = (path: string, at = 5) => {
    const files = new Map(served.files);
    const bytes = files.get(path)!.slice();
    bytes[at]! ^= 1;
    files.set(path, bytes);
    return files;
  };

  it('names a tampered full level-0 tile', async () => {
    const reader = tileHashReader(SIZE, served.root, fetchFrom(tampered('tile/0/010')));
    const e = await expectCodeAsync(() => inclusionProof(2600, SIZE, reader), 'LOG_TILE_MISMATCH');
    expect(e.message).toContain('tile/0/010');
    // Tiles other than the tampered one still serve.
    await inclusionProof(5, SIZE, reader);
  });

  it('names a tampered full level-1 tile even when the level-0 tile below it is intact', async () => {
    const reader = tileHashReader(SIZE, served.root, fetchFrom(tampered('tile/1/000', 32 * 200)));
    const e = await expectCodeAsync(() => inclusionProof(10, SIZE, reader), 'LOG_TILE_MISMATCH');
    expect(e.message).toContain('tile/1/000');
  });

  it('refuses tampered partial tiles against the root, naming them', async () => {
    for (const path of ['tile/0/273.p/112', 'tile/1/001.p/17', 'tile/2/000.p/1']) {
      const reader = tileHashReader(SIZE, served.root, fetchFrom(tampered(path)));
      const e = await expectCodeAsync(() => inclusionProof(3, SIZE, reader), 'LOG_TILE_MISMATCH');
      expect(e.message).toContain(path);
    }
  });

  it('refuses a tile of the wrong length, and reports a failed fetch as unavailable', async () => {
    const short = new Map(served.files);
    short.set('tile/0/000', served.files.get('tile/0/000')!.subarray(0, 8160));
    await expectCodeAsync(
      () => inclusionProof(3, SIZE, tileHashReader(SIZE, served.root, fetchFrom(short))),
      'LOG_TILE_MALFORMED',
    );
    const missing = new Map(served.files);
    missing.delete('tile/0/000');
    await expectCodeAsync(
      () => inclusionProof(3, SIZE, tileHashReader(SIZE, served.root, fetchFrom(missing))),
      'LOG_HASH_UNAVAILABLE',
    );
  });

  it('refuses tiles that do not match the checkpoint root', async () => {
    const other = servedTree(SIZE + 1);
    const reader = tileHashReader(SIZE, other.root, fetchFrom(served.files));
    await expectCodeAsync(() => inclusionProof(3, SIZE, reader), 'LOG_TILE_MISMATCH');
  });

  it('reads and verifies a tile for an entry bundle check', async () => {
    const reader = tileHashReader(SIZE, served.root, fetchFrom(served.files));
    const hashes = await reader.readTile({ level: 0, index: 273, width: 112 });
    expect(hashes[0]).toEqual(served.leaves[273 * 256]);
    const entries = Array.from({ length: 112 }, (_, i) => new TextEncoder().encode(`entry ${273 * 256 + i}`));
    checkEntryBundle(parseEntryBundle(formatEntryBundle(entries), 112), 273, hashes);
  });
});
