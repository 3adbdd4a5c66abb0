import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvidenceBundle } from '../../attestation/bundle.js';
import { generateSimulatedRoot, produceSimulatedEvidence } from '../../attestation/simulated.js';
import type { LogSubmission } from '../../protocol/log-submission.js';
import { type AuditOptions, auditLog } from './audit.js';
import { cidOf } from './cid.js';
import { encodeEntry, entryIdentity, parseEntry } from './entry.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from './note.js';
import { logDirReader } from './reader.js';
import { LogStore } from './store.js';
import { admitSubmission } from './submission.js';

const ORIGIN = 'audit.example.test';
const key = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(11));
const logKeys = [ed25519Verifier(key.verifierKey)];
const root = generateSimulatedRoot();
const NOW = new Date('2026-12-06T00:00:00Z');

function submission(i: number, leaseId = String(i)): LogSubmission {
  const reportData = new Uint8Array(64);
  new DataView(reportData.buffer).setUint32(0, i);
  return {
    kind: 'session-verified',
    evidence: encodeEvidenceBundle({ evidence: produceSimulatedEvidence(root, { reportData }) }),
    chain: { id: 31337, block: i + 1 },
    enclave: null,
    provider: null,
    executorId: null,
    leaseId,
    roundId: null,
    policyHash: null,
    verdict: 'accepted',
    code: null,
  };
}

async function open(dir: string) {
  return LogStore.open({
    dir,
    origin: ORIGIN,
    signer: ed25519Signer(key.signerKey),
    verifier: logKeys[0]!,
    batchDelayMs: 1,
    identity: entryIdentity,
  });
}

async function append(store: LogStore, subs: LogSubmission[]) {
  await Promise.all(
    subs.map(async (s) => {
      const a = await admitSubmission(s, { now: NOW, simulatedRoots: [root.keyHash] });
      await store.putBlob(a.blob);
      return store.add(a.bytes);
    }),
  );
}

const range = (from: number, to: number, f: (i: number) => LogSubmission = submission) =>
  Array.from({ length: to - from }, (_, i) => f(from + i));

let base: string;
let clean: string;
let at200: string;

const options = (dir: string, extra: Partial<AuditOptions> = {}): AuditOptions => ({
  read: logDirReader(dir),
  origin: ORIGIN,
  logKeys,
  simulatedRoots: [root.keyHash],
  ...extra,
});

/** A copy of the clean log to tamper with. */
async function copy(): Promise<string> {
  const d = await mkdtemp(join(base, 'copy-'));
  await cp(clean, d, { recursive: true });
  return d;
}

const codes = (r: { findings: { code: string }[] }) => [...new Set(r.findings.map((f) => f.code))];

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'defaas-audit-'));
  clean = join(base, 'clean');
  const store = await open(clean);
  await append(store, range(0, 200));
  at200 = store.checkpoint.text;
  await append(store, range(200, 300));
  await store.close();
}, 60_000);
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('audit of a log', () => {
  it('passes a clean log: every tile, bundle, blob and piece of evidence checks, from a trusted prefix too', async () => {
    const progress: number[] = [];
    const r = await auditLog(options(clean, { trusted: at200, onProgress: (d) => progress.push(d) }));
    expect(r.findings).toEqual([]);
    expect(r.treeVerified).toBe(true);
    expect(r.entries).toMatchObject({ total: 300, parsed: 300, evidenceVerified: 300 });
    expect(r.trusted?.size).toBe(200);
    expect(progress).toEqual([256, 300]);
  });

  const tampered: [string, (d: string) => Promise<void>, string][] = [
    [
      'a byte of a full hash tile',
      async (d) => {
        const p = join(d, 'tile/0/000');
        const b = await readFile(p);
        b[77] = b[77]! ^ 1;
        await writeFile(p, b);
      },
      'LOG_TILE_MISMATCH',
    ],
    [
      'a byte of the partial tile',
      async (d) => {
        const p = join(d, 'tile/0/001.p/44');
        const b = await readFile(p);
        b[0] = b[0]! ^ 1;
        await writeFile(p, b);
      },
      'LOG_TILE_MISMATCH',
    ],
    [
      'a byte of an entry bundle',
      async (d) => {
        const p = join(d, 'tile/entries/000');
        const b = await readFile(p);
        b[300] = b[300]! ^ 0x20;
        await writeFile(p, b);
      },
      'LOG_TILE_MISMATCH',
    ],
    ['a truncated tile', (d) => truncate(join(d, 'tile/0/000'), 100), 'LOG_TILE_MALFORMED'],
    ['a removed tile', (d) => unlink(join(d, 'tile/0/000')), 'LOG_HASH_UNAVAILABLE'],
    [
      'a byte of the checkpoint',
      async (d) => {
        const p = join(d, 'checkpoint');
        const t = await readFile(p, 'utf8');
        await writeFile(p, t.replace(/\n300\n/, '\n301\n'));
      },
      'LOG_NOTE_SIGNATURE_INVALID',
    ],
    [
      'a byte of a blob',
      async (d) => {
        const e = parseEntry(await firstEntry(d));
        const p = join(d, 'ipfs', e.evidence.cid);
        const b = await readFile(p);
        b[20] = b[20]! ^ 1;
        await writeFile(p, b);
      },
      'LOG_BLOB_MISMATCH',
    ],
    [
      'a removed blob',
      async (d) => unlink(join(d, 'ipfs', parseEntry(await firstEntry(d)).evidence.cid)),
      'LOG_BLOB_MISSING',
    ],
  ];

  for (const [what, tamper, code] of tampered)
    it(`catches ${what}: ${code}`, async () => {
      const d = await copy();
      await tamper(d);
      const r = await auditLog(options(d));
      expect(codes(r), JSON.stringify(r.findings.slice(0, 3))).toContain(code);
    });

  it('catches a rewritten past: same key, entry 5 replaced, every hash above recomputed and re-signed', async () => {
    const d = join(base, 'rewritten');
    const store = await open(d);
    await append(
      store,
      range(0, 300, (i) => (i === 5 ? submission(5, '999') : submission(i))),
    );
    await store.close();
    const r = await auditLog(options(d, { trusted: at200 }));
    expect(r.findings).toEqual([expect.objectContaining({ code: 'LOG_INCONSISTENT' })]);
    expect(r.treeVerified).toBe(false);
    // Audited without its history the rewritten log is self-consistent: the trusted checkpoint is
    // what catches it.
    expect((await auditLog(options(d))).findings).toEqual([]);
  });

  it('catches a fork (another tree of the trusted size) and a shrink', async () => {
    const d = join(base, 'fork');
    const store = await open(d);
    await append(store, range(0, 199));
    await append(store, [submission(1000)]);
    await store.close();
    const fork = await auditLog(options(d, { trusted: at200 }));
    expect(codes(fork)).toEqual(['LOG_FORKED']);
    // From the forked checkpoint's side, the clean log does not extend it either.
    const other = await auditLog(options(clean, { trusted: await readFile(join(d, 'checkpoint'), 'utf8') }));
    expect(codes(other)).toEqual(['LOG_INCONSISTENT']);
    const small = join(base, 'small');
    const s = await open(small);
    await append(s, range(0, 10));
    await s.close();
    const r = await auditLog(options(small, { trusted: at200 }));
    expect(r.findings[0]).toMatchObject({ code: 'LOG_SHRANK', message: expect.stringMatching(/shrank/) });
  });

  it('catches an entry that says other than its evidence, and evidence from a root it does not admit', async () => {
    const d = join(base, 'lying');
    const store = await open(d);
    const a = await admitSubmission(submission(1), { now: NOW, simulatedRoots: [root.keyHash] });
    await store.putBlob(a.blob);
    await store.add(
      encodeEntry({ ...a.entry, measurements: { ...a.entry.measurements, mrTd: 'ab'.repeat(48) } }),
    );
    const other = generateSimulatedRoot();
    const blob = encodeEvidenceBundle({
      evidence: produceSimulatedEvidence(other, { reportData: new Uint8Array(64) }),
    });
    await store.putBlob(blob);
    await store.add(encodeEntry({ ...a.entry, evidence: { ...a.entry.evidence, cid: cidOf(blob) } }));
    await store.close();
    const r = await auditLog(options(d));
    expect(r.findings.map((f) => [f.index, f.code])).toEqual([
      [0, 'LOG_ENTRY_CLAIM_MISMATCH'],
      [1, 'LOG_SIMULATED_ROOT_UNKNOWN'],
    ]);
    expect(r.findings[0]!.message).toMatch(/measurements/);
    // Evidence problems do not stop the tree from being trusted.
    expect(r.treeVerified).toBe(true);
  });

  it('refuses a log signed by another key before reading anything else', async () => {
    const other = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(12));
    const r = await auditLog(options(clean, { logKeys: [ed25519Verifier(other.verifierKey)] }));
    expect(codes(r)).toEqual(['LOG_NOTE_UNVERIFIED']);
    expect(r.entries.total).toBe(0);
  });
});

async function firstEntry(dir: string): Promise<Uint8Array> {
  const b = await readFile(join(dir, 'tile/entries/000'));
  const n = (b[0]! << 8) | b[1]!;
  return new Uint8Array(b.subarray(2, 2 + n));
}
