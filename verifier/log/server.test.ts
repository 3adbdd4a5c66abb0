import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeEvidenceBundle } from '../../attestation/bundle.js';
import { generateSimulatedRoot, produceSimulatedEvidence } from '../../attestation/simulated.js';
import { formatLogSubmission, type LogSubmission } from '../../protocol/log-submission.js';
import { openCheckpoint } from './checkpoint.js';
import { entryIdentity, parseEntry } from './entry.js';
import { leafHash } from './hash.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from './note.js';
import { type RunningLogServer, startLogServer } from './server.js';
import { LogStore } from './store.js';
import { parseEntryBundle, parseTile } from './tiles.js';

const ORIGIN = 'log.example.test';
const key = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(3));
const verifier = ed25519Verifier(key.verifierKey);
const root = generateSimulatedRoot();

let dir: string;
let store: LogStore;
let server: RunningLogServer;

function submission(i: number, patch: Partial<LogSubmission> = {}): LogSubmission {
  const reportData = new Uint8Array(64);
  reportData[0] = i & 0xff;
  reportData[1] = i >> 8;
  return {
    kind: 'session-verified',
    evidence: encodeEvidenceBundle({ evidence: produceSimulatedEvidence(root, { reportData }) }),
    chain: null,
    enclave: null,
    provider: null,
    executorId: null,
    leaseId: String(i),
    roundId: null,
    policyHash: null,
    verdict: 'accepted',
    code: null,
    ...patch,
  };
}

async function post(body: Uint8Array | string) {
  const r = await fetch(`${server.url}/add`, { method: 'POST', body });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function start(o: { partyLimitPerHour?: number } = {}) {
  store = await LogStore.open({
    dir,
    origin: ORIGIN,
    signer: ed25519Signer(key.signerKey),
    verifier,
    batchDelayMs: 5,
    identity: entryIdentity,
  });
  server = await startLogServer({ store, admit: { simulatedRoots: [root.keyHash] }, ...o });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'defaas-logserver-'));
});
afterEach(async () => {
  await server?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('log server', () => {
  it('verifies and logs a submission, then serves its checkpoint, tiles, bundle and blob', async () => {
    await start();
    const s = submission(1);
    const r = await post(formatLogSubmission(s));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ index: 0, fresh: true, size: 1 });
    const entry = parseEntry(new Uint8Array(Buffer.from(r.body.entry as string, 'base64')));
    // The evidence fields are the log's own reading of the evidence.
    expect(entry).toMatchObject({
      kind: 'session-verified',
      tee: 'simulated',
      leaseId: '1',
      verdict: 'accepted',
    });
    expect(entry.reportData).toBe(`01${'00'.repeat(63)}`);

    const cp = await fetch(`${server.url}/checkpoint`);
    expect(cp.headers.get('cache-control')).toBe('no-cache');
    expect(openCheckpoint(await cp.text(), [verifier], { origin: ORIGIN }).checkpoint.size).toBe(1);

    const tile = await fetch(`${server.url}/tile/0/000.p/1`);
    expect(tile.headers.get('cache-control')).toContain('immutable');
    const [leaf] = parseTile(new Uint8Array(await tile.arrayBuffer()), { level: 0, index: 0, width: 1 });
    const bundle = await fetch(`${server.url}/tile/entries/000.p/1`);
    const [logged] = parseEntryBundle(new Uint8Array(await bundle.arrayBuffer()), 1);
    expect(Buffer.from(leaf!)).toEqual(Buffer.from(leafHash(logged!)));

    const blob = await fetch(`${server.url}/ipfs/${entry.evidence.cid}?format=raw`);
    expect(blob.status).toBe(200);
    expect(blob.headers.get('content-type')).toBe('application/vnd.ipld.raw');
    expect(blob.headers.get('etag')).toBe(`"${entry.evidence.cid}.raw"`);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    expect(Buffer.from(bytes)).toEqual(Buffer.from(s.evidence));
    const viaAccept = await fetch(`${server.url}/ipfs/${entry.evidence.cid}`, {
      headers: { Accept: 'application/vnd.ipld.raw' },
    });
    expect(viaAccept.status).toBe(200);
    expect((await fetch(`${server.url}/ipfs/${entry.evidence.cid}`)).status).toBe(400);
    expect((await fetch(`${server.url}/ipfs/${entry.evidence.cid}?format=car`)).status).toBe(406);
    const head = await fetch(`${server.url}/ipfs/${entry.evidence.cid}?format=raw`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(s.evidence.length));
  });

  it('serves only what the published checkpoint covers, and narrower partials as prefixes', async () => {
    await start();
    const results = await Promise.all([1, 2, 3].map((i) => post(formatLogSubmission(submission(i)))));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const wide = await fetch(`${server.url}/tile/0/000.p/3`);
    const narrow = await fetch(`${server.url}/tile/0/000.p/2`);
    expect(Buffer.from(await narrow.arrayBuffer())).toEqual(
      Buffer.from(await wide.arrayBuffer()).subarray(0, 64),
    );
    const bundle2 = await fetch(`${server.url}/tile/entries/000.p/2`);
    expect(parseEntryBundle(new Uint8Array(await bundle2.arrayBuffer()), 2)).toHaveLength(2);
    // What an interrupted batch could leave on disk beyond the checkpoint is not served.
    await writeFile(join(dir, 'tile/0/000.p/4'), new Uint8Array(128));
    for (const p of [
      'tile/0/000.p/4',
      'tile/0/000',
      'tile/entries/000.p/4',
      'tile/1/000.p/1',
      'tile/0/0',
      'tile/x',
    ])
      expect((await fetch(`${server.url}/${p}`)).status, p).toBe(404);
  });

  it('serves nothing outside its tiles, checkpoint and blobs, however the path is spelled', async () => {
    await start();
    expect((await post(formatLogSubmission(submission(1)))).status).toBe(200);
    // The signing key and the dedup index live beside the tiles; neither is ever served.
    await writeFile(join(dir, 'secret'), 'do not serve');
    const paths = [
      'leaves',
      'secret',
      'tile/../leaves',
      'tile/%2e%2e/leaves',
      'tile/0/..%2f..%2fleaves',
      'ipfs/../leaves',
      `ipfs/${encodeURIComponent('../leaves')}`,
      'tile/0/000.p/1/../../../leaves',
      '%2fetc%2fpasswd',
    ];
    for (const p of paths) {
      const r = await fetch(`${server.url}/${p}`);
      const body = await r.text();
      expect(body, p).not.toContain('do not serve');
      expect(r.status, p).toBeGreaterThanOrEqual(400);
    }
  });

  it('resubmitting the same event, even verified at another time, returns its index and adds nothing', async () => {
    let t = Date.UTC(2026, 11, 6);
    store = await LogStore.open({
      dir,
      origin: ORIGIN,
      signer: ed25519Signer(key.signerKey),
      verifier,
      batchDelayMs: 5,
      identity: entryIdentity,
    });
    server = await startLogServer({
      store,
      admit: { simulatedRoots: [root.keyHash] },
      now: () => new Date(t),
    });
    const body = formatLogSubmission(submission(7));
    const a = await post(body);
    t += 60_000;
    const b = await post(body);
    expect(a.body).toMatchObject({ index: 0, fresh: true });
    expect(b.body).toMatchObject({ index: 0, fresh: false });
    expect(store.checkpoint.size).toBe(1);
    // Another lease on the same evidence is another event.
    expect((await post(formatLogSubmission(submission(7, { leaseId: '8' })))).body).toMatchObject({
      index: 1,
    });
  });

  it('refuses what it cannot verify, with a code, and logs nothing', async () => {
    await start();
    const other = generateSimulatedRoot();
    const foreign = submission(1, {
      evidence: encodeEvidenceBundle({
        evidence: produceSimulatedEvidence(other, { reportData: new Uint8Array(64) }),
      }),
    });
    const forged = submission(2);
    const tampered = new Uint8Array(forged.evidence);
    // Flip a byte of the base64 evidence inside the bundle JSON's quoted value.
    const text = new TextDecoder().decode(tampered);
    const at = text.indexOf('"evidence":"') + 40;
    const flipped = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    const cases: [string | Uint8Array, number, string][] = [
      ['not json', 400, 'LOG_SUBMISSION_MALFORMED'],
      [
        JSON.stringify({ v: 1, kind: 'session-verified', evidence: 'AA==', extra: 1 }),
        400,
        'LOG_SUBMISSION_MALFORMED',
      ],
      [formatLogSubmission(foreign), 422, 'LOG_SIMULATED_ROOT_UNKNOWN'],
      [
        formatLogSubmission({ ...forged, evidence: new TextEncoder().encode(flipped) }),
        422,
        'SIM_SIGNATURE_INVALID',
      ],
      [
        formatLogSubmission(submission(3, { evidence: new TextEncoder().encode('{}') })),
        422,
        'COLLATERAL_MALFORMED',
      ],
      [formatLogSubmission(submission(4, { leaseId: '-1' })), 422, 'LOG_ENTRY_MALFORMED'],
      [
        formatLogSubmission(submission(5, { kind: 'verdict-revealed', roundId: '1', verdict: 'Ok' })),
        422,
        'LOG_CLAIM_UNCHECKABLE',
      ],
    ];
    for (const [body, status, code] of cases) {
      const r = await post(body);
      expect([r.status, r.body.code], String(body).slice(0, 80)).toEqual([status, code]);
    }
    const big = await fetch(`${server.url}/add`, { method: 'POST', body: new Uint8Array(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(store.checkpoint.size).toBe(0);
    expect((await fetch(`${server.url}/add`, { method: 'PUT' })).status).toBe(405);
  });

  it('limits each platform to its share of the log', async () => {
    await start({ partyLimitPerHour: 2 });
    const r = await Promise.all([1, 2, 3].map((i) => post(formatLogSubmission(submission(i)))));
    expect(r.map((x) => x.status).sort()).toEqual([200, 200, 429]);
    expect(r.find((x) => x.status === 429)!.body.code).toBe('LOG_QUOTA_EXCEEDED');
    expect(store.checkpoint.size).toBe(2);
    // Session claims on public evidence cannot use up the share its registrations need.
    const reg = await post(
      formatLogSubmission(submission(4, { kind: 'executor-registered', executorId: '1' })),
    );
    expect(reg.status).toBe(200);
  });

  it('stores the evidence blob under the CID of its bytes', async () => {
    await start();
    const s = submission(9);
    const r = await post(formatLogSubmission(s));
    const entry = parseEntry(new Uint8Array(Buffer.from(r.body.entry as string, 'base64')));
    const digest = createHash('sha256').update(s.evidence).digest();
    expect(Buffer.from((await store.readBlob(entry.evidence.cid))!)).toEqual(Buffer.from(s.evidence));
    expect(entry.evidence.sha256).not.toBe(digest.toString('hex')); // the raw evidence's hash, not the bundle's
  });

  it('serves a partial tile whose file a newer checkpoint superseded between reading the size and the file', async () => {
    store = await LogStore.open({
      dir,
      origin: ORIGIN,
      signer: ed25519Signer(key.signerKey),
      verifier,
      batchDelayMs: 0,
    });
    await store.add(new Uint8Array([0]));
    const before = store.checkpoint;
    await store.add(new Uint8Array([1]));
    // The server reads the published size once before the store publishes size 2 (and deletes the
    // partial files of size 1), and the current checkpoint from then on.
    let reads = 0;
    const racing = Object.create(store, {
      checkpoint: { get: () => (reads++ === 0 ? before : store.checkpoint) },
    }) as LogStore;
    server = await startLogServer({ store: racing, admit: {} });
    const tile = await fetch(`${server.url}/tile/0/000.p/1`);
    expect(tile.status).toBe(200);
    expect(Buffer.from(await tile.arrayBuffer())).toEqual(Buffer.from(leafHash(new Uint8Array([0]))));
    reads = 0;
    const bundle = await fetch(`${server.url}/tile/entries/000.p/1`);
    expect(bundle.status).toBe(200);
    expect(parseEntryBundle(new Uint8Array(await bundle.arrayBuffer()), 1)).toEqual([new Uint8Array([0])]);
  });
});
