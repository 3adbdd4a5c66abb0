import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signCheckpoint } from './checkpoint.js';
import { checkQuorum, cosignatureVerifier, cosigner, generateCosignerKey } from './cosignature.js';
import { isLogError } from './errors.js';
import { EMPTY_ROOT, type Hash, leafHash } from './hash.js';
import { consistencyProof, type HashReader, MerkleFrontier } from './merkle.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from './note.js';
import { type AddCheckpointRequest, formatAddCheckpointRequest, witnessCheckpointPath } from './witness.js';
import {
  type RunningWitnessServer,
  startWitnessServer,
  type WitnessServerOptions,
} from './witness-server.js';

const ORIGIN = 'log.example.test/witnessed';
const logKey = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(7));
const logSigner = ed25519Signer(logKey.signerKey);
const logVerifier = ed25519Verifier(logKey.verifierKey);
const witnessKey = generateCosignerKey('witness.example.test/w1', new Uint8Array(32).fill(8));

/** A tree of `n` leaves (the `salt` makes a different tree): its root per size and a hash reader. */
function tree(n: number, salt: number): { roots: Hash[]; reader: HashReader } {
  const f = new MerkleFrontier();
  const nodes = new Map<string, Hash>();
  const roots: Hash[] = [EMPTY_ROOT];
  for (let i = 0; i < n; i++) {
    for (const node of f.append(leafHash(Uint8Array.of(salt, i & 0xff, i >> 8))))
      nodes.set(`${node.level}/${node.index}`, node.hash);
    roots.push(f.root());
  }
  return { roots, reader: { readHashes: (ids) => ids.map((id) => nodes.get(`${id.level}/${id.index}`)!) } };
}

// Tree A is the log's honest tree; tree B has the same key and origin but other entries (a split view).
const A = tree(64, 1);
const B = tree(64, 2);
const checkpointOf = (t: { roots: Hash[] }, size: number, signer = logSigner) =>
  signCheckpoint({ origin: ORIGIN, size, root: t.roots[size]!, extensions: [] }, [signer]);

let dir: string;
let witness: RunningWitnessServer | undefined;

async function start(o: Partial<WitnessServerOptions> = {}): Promise<RunningWitnessServer> {
  witness = await startWitnessServer({
    cosigner: cosigner(witnessKey.signerKey),
    logs: [{ origin: ORIGIN, keys: [logVerifier] }],
    stateDir: dir,
    now: () => 1_700_000_000,
    ...o,
  });
  return witness;
}

async function add(body: AddCheckpointRequest | string, url = witness!.url) {
  const r = await fetch(`${url}/add-checkpoint`, {
    method: 'POST',
    body: typeof body === 'string' ? body : formatAddCheckpointRequest(body),
  });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
}

const cosignedBy = (note: string) =>
  checkQuorum(note, [logVerifier], {
    witnesses: [cosignatureVerifier(witnessKey.verifierKey)],
    threshold: 1,
  });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'defaas-witness-'));
});
afterEach(async () => {
  await witness?.close();
  witness = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('witness server (tlog-witness add-checkpoint)', () => {
  it('cosigns from size 0 and then along consistency proofs; serves what it cosigned', async () => {
    await start();
    const first = await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(A, 10) });
    expect(first.status, first.body).toBe(200);
    expect(cosignedBy(checkpointOf(A, 10) + first.body).cosigners).toHaveLength(1);
    const next = await add({
      oldSize: 10,
      proof: await consistencyProof(10, 40, A.reader),
      checkpoint: checkpointOf(A, 40),
    });
    expect(next.status, next.body).toBe(200);
    expect(witness!.cosignedSize(ORIGIN)).toBe(40);
    // The same checkpoint again is cosigned again (nothing changes).
    expect((await add({ oldSize: 40, proof: [], checkpoint: checkpointOf(A, 40) })).status).toBe(200);
    const monitored = await fetch(`${witness!.url}/${witnessCheckpointPath(ORIGIN)}`);
    expect(monitored.status).toBe(200);
    const q = cosignedBy(await monitored.text());
    expect(q.checkpoint.size).toBe(40);
    expect(q.met).toBe(true);
  });

  it('answers each refusal with the status of the spec, and cosigns none of them', async () => {
    await start();
    expect((await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(A, 10) })).status).toBe(200);
    const good = await consistencyProof(10, 20, A.reader);
    // 404: an origin the witness does not follow.
    const other = signCheckpoint(
      { origin: 'other.example/log', size: 5, root: A.roots[5]!, extensions: [] },
      [logSigner],
    );
    expect((await add({ oldSize: 0, proof: [], checkpoint: other })).status).toBe(404);
    // 403: the right origin, signed by another key of the same name.
    const stranger = ed25519Signer(generateEd25519Key(ORIGIN).signerKey);
    expect((await add({ oldSize: 10, proof: good, checkpoint: checkpointOf(A, 20, stranger) })).status).toBe(
      403,
    );
    // 400: malformed, and an old size above the checkpoint's.
    expect((await add('old 10\nnot base64\n\nx\n')).status).toBe(400);
    expect((await add(`old 10\n\n${checkpointOf(A, 20)}`.replace('old 10', 'old 010'))).status).toBe(400);
    expect((await add({ oldSize: 21, proof: good, checkpoint: checkpointOf(A, 20) })).status).toBe(400);
    // 409 with the size it cosigned last, as text/x.tlog.size.
    const stale = await add({ oldSize: 5, proof: [], checkpoint: checkpointOf(A, 20) });
    expect(stale).toEqual({ status: 409, type: 'text/x.tlog.size', body: '10\n' });
    // 422: a proof that does not verify.
    const bad = good.map((h, i) => (i === 0 ? leafHash(h) : h));
    expect((await add({ oldSize: 10, proof: bad, checkpoint: checkpointOf(A, 20) })).status).toBe(422);
    // 413, 405, 404 for what is not the protocol.
    expect((await add(`old 0\n\n${'x'.repeat(70_000)}`)).status).toBe(413);
    expect((await fetch(`${witness!.url}/add-checkpoint`)).status).toBe(405);
    expect((await fetch(`${witness!.url}/${witnessCheckpointPath('other.example/log')}`)).status).toBe(404);
    expect(witness!.cosignedSize(ORIGIN)).toBe(10);
  });

  it('limits the requests of one client address', async () => {
    await start({ clientLimitPerMinute: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(A, 3) })).status);
    expect(statuses).toEqual([200, 409, 429]);
  });

  it('keeps its state across a restart: no second tree of a size it cosigned, no rollback', async () => {
    await start();
    expect((await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(A, 16) })).status).toBe(200);
    await witness!.close();
    await start();
    expect(witness!.cosignedSize(ORIGIN)).toBe(16);
    // A client that forgot the witness's state learns it from the 409.
    expect(await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(A, 32) })).toMatchObject({
      status: 409,
      body: '16\n',
    });
    // The other tree of size 16 is refused after the restart as before it.
    expect(await add({ oldSize: 16, proof: [], checkpoint: checkpointOf(B, 16) })).toMatchObject({
      status: 409,
      body: '16\n',
    });
    // A smaller tree (a rollback) cannot be submitted: its old size is 16.
    expect((await add({ oldSize: 16, proof: [], checkpoint: checkpointOf(A, 8) })).status).toBe(400);
    const grown = await add({
      oldSize: 16,
      proof: await consistencyProof(16, 32, A.reader),
      checkpoint: checkpointOf(A, 32),
    });
    expect(grown.status).toBe(200);
    await witness!.close();
    await start();
    expect(witness!.cosignedSize(ORIGIN)).toBe(32);
  });

  it('the split view: one log key, two trees of one size — the second is never cosigned', async () => {
    await start();
    expect((await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(A, 20) })).status).toBe(200);
    // Tree B at the same size: 409 (the roots of equal sizes differ).
    const same = await add({ oldSize: 20, proof: [], checkpoint: checkpointOf(B, 20) });
    expect(same).toEqual({ status: 409, type: 'text/x.tlog.size', body: '20\n' });
    // Tree B grown further, with B's own (valid) consistency proof from 20: does not start at A's root.
    const grownB = await add({
      oldSize: 20,
      proof: await consistencyProof(20, 40, B.reader),
      checkpoint: checkpointOf(B, 40),
    });
    expect(grownB.status).toBe(422);
    // A larger B from 0: the old size is not the one cosigned.
    expect((await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(B, 40) })).status).toBe(409);
    // The witness still follows A only, and serves A.
    expect(witness!.cosignedSize(ORIGIN)).toBe(20);
    const served = cosignedBy(await (await fetch(`${witness!.url}/${witnessCheckpointPath(ORIGIN)}`)).text());
    expect(Buffer.from(served.checkpoint.root).equals(Buffer.from(A.roots[20]!))).toBe(true);
  });

  it('runs the requests of one log one at a time: two racing growths, one cosigned, no rollback', async () => {
    await start();
    expect((await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(A, 10) })).status).toBe(200);
    const [to30, to20] = await Promise.all([
      add({ oldSize: 10, proof: await consistencyProof(10, 30, A.reader), checkpoint: checkpointOf(A, 30) }),
      add({ oldSize: 10, proof: await consistencyProof(10, 20, A.reader), checkpoint: checkpointOf(A, 20) }),
    ]);
    expect([to30.status, to20.status].sort()).toEqual([200, 409]);
    expect(witness!.cosignedSize(ORIGIN)).toBe(to30.status === 200 ? 30 : 20);
  });

  it('refuses to start on state it did not write', async () => {
    await start();
    expect((await add({ oldSize: 0, proof: [], checkpoint: checkpointOf(A, 10) })).status).toBe(200);
    await witness!.close();
    witness = undefined;
    const path = join(dir, witnessCheckpointPath(ORIGIN));
    await writeFile(path, (await readFile(path, 'utf8')).replace('\n10\n', '\n1O\n'));
    try {
      await start();
      expect.unreachable('started on damaged state');
    } catch (e) {
      expect(isLogError(e, 'LOG_WITNESS_STATE_MALFORMED')).toBe(true);
    }
  });
});
