import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCheckpoint } from './checkpoint.js';
import { isLogError } from './errors.js';
import { EMPTY_ROOT, leafHash } from './hash.js';
import { inclusionProof, rootFromLeafHashes, verifyInclusion } from './merkle.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from './note.js';
import { LogStore } from './store.js';
import { entryBundlePath, parseEntryBundle } from './tiles.js';

const ORIGIN = 'example.test/log';
const key = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(7));
const signer = ed25519Signer(key.signerKey);
const verifier = ed25519Verifier(key.verifierKey);
const entry = (i: number) => new TextEncoder().encode(`entry ${i} ${'x'.repeat(i % 50)}`);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'defaas-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = (batchSize = 256, batchDelayMs = 5) =>
  LogStore.open({ dir, origin: ORIGIN, signer, verifier, batchSize, batchDelayMs });

async function appendAll(store: LogStore, from: number, to: number) {
  return Promise.all(Array.from({ length: to - from }, (_, i) => store.add(entry(from + i))));
}

function expectedRoot(n: number) {
  return rootFromLeafHashes(Array.from({ length: n }, (_, i) => leafHash(entry(i))));
}

async function expectProofs(store: LogStore, indexes: number[]) {
  const { size, root } = store.checkpoint;
  const reader = store.hashReader();
  for (const i of indexes) {
    const proof = await inclusionProof(i, size, reader);
    expect(verifyInclusion(i, size, leafHash(entry(i)), proof, root), `index ${i}`).toBe(true);
  }
}

describe('log store', () => {
  it('starts as a signed empty tree', async () => {
    const store = await open();
    expect(store.checkpoint).toMatchObject({ size: 0, root: EMPTY_ROOT });
    const text = await readFile(join(dir, 'checkpoint'), 'utf8');
    expect(openCheckpoint(text, [verifier], { origin: ORIGIN }).checkpoint.size).toBe(0);
    await store.close();
  });

  it('appends in batches, in order, with tiles and bundles that prove every entry under the signed root', async () => {
    const store = await open(100);
    const got = await appendAll(store, 0, 700);
    expect(got.map((a) => a.index)).toEqual(Array.from({ length: 700 }, (_, i) => i));
    expect(got.every((a) => a.fresh)).toBe(true);
    expect(store.checkpoint.size).toBe(700);
    expect(Buffer.from(store.checkpoint.root)).toEqual(Buffer.from(expectedRoot(700)));
    const onDisk = openCheckpoint(await readFile(join(dir, 'checkpoint'), 'utf8'), [verifier]).checkpoint;
    expect(onDisk.size).toBe(700);
    await expectProofs(store, [0, 1, 255, 256, 511, 512, 699]);
    // Full bundles and the partial one hold the entries as appended.
    const full = parseEntryBundle(await readFile(join(dir, entryBundlePath(1, 256))), 256);
    expect(new TextDecoder().decode(full[0])).toBe(new TextDecoder().decode(entry(256)));
    const tail = parseEntryBundle(await readFile(join(dir, entryBundlePath(2, 188))), 188);
    expect(new TextDecoder().decode(tail[187])).toBe(new TextDecoder().decode(entry(699)));
    expect(await readdir(join(dir, 'tile', '1'))).toEqual(['000.p']);
    // Superseded partials are gone: one partial per level and one partial bundle remain.
    expect(await readdir(join(dir, 'tile', '0', '002.p'))).toEqual(['188']);
    expect(await readdir(join(dir, 'tile', '1', '000.p'))).toEqual(['2']);
    expect(await readdir(join(dir, 'tile', 'entries', '002.p'))).toEqual(['188']);
    expect(await readdir(join(dir, 'tile', '0', '000.p'))).toEqual([]);
    await store.close();
  });

  it('reopens where it stopped: the same tree as one uninterrupted run, across odd batch sizes', async () => {
    let store = await open(37);
    await appendAll(store, 0, 300);
    await store.close();
    store = await open(1);
    await appendAll(store, 300, 310);
    await store.close();
    store = await open(256);
    await appendAll(store, 310, 66_000 / 100);
    expect(Buffer.from(store.checkpoint.root)).toEqual(Buffer.from(expectedRoot(660)));
    await expectProofs(store, [0, 299, 300, 309, 310, 659]);
    await store.close();
  });

  it('appends the same entry once: later adds get its first index', async () => {
    const store = await open(10);
    const [a, b] = await Promise.all([store.add(entry(1)), store.add(entry(1))]);
    expect(a).toEqual({ index: 0, fresh: true });
    expect(b).toEqual({ index: 0, fresh: false });
    expect(await store.add(entry(1))).toEqual({ index: 0, fresh: false });
    expect(store.checkpoint.size).toBe(1);
    await store.close();
    const again = await open();
    expect(await again.add(entry(1))).toEqual({ index: 0, fresh: false });
    expect(again.indexOf(entry(1))).toBe(0);
    await again.close();
  });

  it('after a crash mid-batch (files and leaf records beyond the checkpoint) it reopens at the checkpoint', async () => {
    const store = await open(50);
    await appendAll(store, 0, 120);
    await store.close();
    // What a batch interrupted before its checkpoint leaves: a wider partial tile and bundle with other
    // entries, and their leaf records.
    await writeFile(join(dir, 'tile/0/000.p/130'), new Uint8Array(130 * 32).fill(9));
    await writeFile(join(dir, 'tile/entries/000.p/130'), new Uint8Array(10));
    const leaves = await readFile(join(dir, 'leaves'));
    await writeFile(join(dir, 'leaves'), Buffer.concat([leaves, new Uint8Array(40 * 10 + 7).fill(1)]));
    const again = await open(50);
    expect(again.checkpoint.size).toBe(120);
    await appendAll(again, 120, 260);
    expect(Buffer.from(again.checkpoint.root)).toEqual(Buffer.from(expectedRoot(260)));
    await expectProofs(again, [125, 129, 259]);
    await again.close();
    expect((await readFile(join(dir, 'leaves'))).length).toBe(260 * 40);
  });

  it('rebuilds a lost deduplication file from the verified bundles', async () => {
    const store = await open(64);
    await appendAll(store, 0, 300);
    await store.close();
    await unlink(join(dir, 'leaves'));
    const again = await open();
    expect(again.indexOf(entry(299))).toBe(299);
    expect(await again.add(entry(5))).toEqual({ index: 5, fresh: false });
    await again.close();
  });

  it('refuses to open a log whose tiles do not hash to its checkpoint', async () => {
    const store = await open(64);
    await appendAll(store, 0, 300);
    await store.close();
    // The partial level-0 tile: a reopen reads it to go on appending.
    const path = join(dir, 'tile/0/001.p/44');
    const tile = await readFile(path);
    tile[100] = tile[100]! ^ 1;
    await writeFile(path, tile);
    await expect(open()).rejects.toSatisfy((e) => isLogError(e, 'LOG_TILE_MISMATCH'));
  });

  it('refuses a checkpoint signed by another key or for another origin', async () => {
    await (await open()).close();
    const other = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(8));
    await expect(
      LogStore.open({ dir, origin: ORIGIN, signer, verifier: ed25519Verifier(other.verifierKey) }),
    ).rejects.toSatisfy((e) => isLogError(e, 'LOG_NOTE_UNVERIFIED'));
    await expect(LogStore.open({ dir, origin: 'other.test/log', signer, verifier })).rejects.toSatisfy((e) =>
      isLogError(e, 'LOG_ORIGIN_MISMATCH'),
    );
  });

  it('a batch that cannot be written is refused whole, publishes nothing, and the log goes on after', async () => {
    const store = await open(10);
    await appendAll(store, 0, 5);
    // A file where the next bundle's directory must go.
    await rm(join(dir, 'tile', 'entries'), { recursive: true });
    await writeFile(join(dir, 'tile', 'entries'), 'in the way');
    const failed = await Promise.allSettled([store.add(entry(5)), store.add(entry(6))]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    expect(store.checkpoint.size).toBe(5);
    expect((await readFile(join(dir, 'leaves'))).length).toBe(5 * 40);
    await unlink(join(dir, 'tile', 'entries'));
    await appendAll(store, 5, 12);
    expect(Buffer.from(store.checkpoint.root)).toEqual(Buffer.from(expectedRoot(12)));
    await store.close();
    // The partial bundle is written whole each time, so the one lost with the directory is back.
    const again = await open();
    expect(again.checkpoint.size).toBe(12);
    expect(again.indexOf(entry(0))).toBe(0);
    await again.close();
  });

  it('stores blobs by CID and refuses one altered on disk', async () => {
    const store = await open();
    const blob = new TextEncoder().encode('hello world');
    const cid = await store.putBlob(blob);
    expect(cid).toBe('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
    expect(await store.putBlob(blob)).toBe(cid);
    expect(Buffer.from((await store.readBlob(cid))!)).toEqual(Buffer.from(blob));
    await writeFile(join(dir, 'ipfs', cid), 'hello world!');
    await expect(store.readBlob(cid)).rejects.toSatisfy((e) => isLogError(e, 'LOG_BLOB_MISMATCH'));
    // putBlob repairs a damaged copy.
    await store.putBlob(blob);
    expect(Buffer.from((await store.readBlob(cid))!)).toEqual(Buffer.from(blob));
    expect(
      await store.readBlob('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'),
    ).toBeUndefined();
    await store.close();
  });
});
