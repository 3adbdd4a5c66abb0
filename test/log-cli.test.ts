import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvidenceBundle } from '../attestation/bundle.js';
import { parseCollateralJson } from '../attestation/intel/collateral.js';
import { generateSimulatedRoot, produceSimulatedEvidence } from '../attestation/simulated.js';
import { type LogSubmission, NO_CLAIMS, postLogSubmission } from '../protocol/log-submission.js';
import { entryIdentity, parseEntry } from '../verifier/log/entry.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from '../verifier/log/note.js';
import { type RunningLogServer, startLogServer } from '../verifier/log/server.js';
import { LogStore } from '../verifier/log/store.js';
import { expectFailure, onlyJson, runCli } from './cli-run.js';
import { readVector, readVectorText, VECTORS, vectorIndex } from './vectors.js';

/*
 * The attestation log as its users meet it: writers submit (simulated evidence, and real TDX quotes
 * with their collateral, verified by the log at the quote's own time), `defaas log prove` writes a
 * tlog-proof that `defaas log verify-proof` checks with the vkey alone, and `defaas audit verify`
 * keeps a trusted checkpoint, passes a clean log and names what a tampered one broke.
 */

const ORIGIN = 'cli.example.test/log';
const key = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(21));
const root = generateSimulatedRoot();

let dir: string;
let store: LogStore;
let server: RunningLogServer;
let vkeyFile: string;
let clock = new Date('2026-12-06T00:00:00Z');

function simulated(i: number): LogSubmission {
  const reportData = new Uint8Array(64);
  reportData[0] = i;
  return {
    kind: 'session-verified',
    evidence: encodeEvidenceBundle({ evidence: produceSimulatedEvidence(root, { reportData }) }),
    ...NO_CLAIMS,
    leaseId: String(i),
    verdict: 'accepted',
  };
}

const audit = (...extra: string[]) =>
  runCli(
    'audit',
    'verify',
    '--log',
    dir,
    '--vkey',
    vkeyFile,
    '--simulated-root',
    Buffer.from(root.keyHash).toString('hex'),
    '--json',
    ...extra,
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'defaas-logcli-'));
  vkeyFile = join(dir, 'log.vkey');
  await writeFile(vkeyFile, `${key.verifierKey}\n`);
  store = await LogStore.open({
    dir: join(dir, 'log'),
    origin: ORIGIN,
    signer: ed25519Signer(key.signerKey),
    verifier: ed25519Verifier(key.verifierKey),
    batchDelayMs: 5,
    identity: entryIdentity,
  });
  server = await startLogServer({ store, admit: { simulatedRoots: [root.keyHash] }, now: () => clock });
  for (let i = 0; i < 5; i++) expect((await postLogSubmission(server.url, simulated(i))).ok).toBe(true);
});
afterAll(async () => {
  await server?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!VECTORS)('the log with real TDX evidence', () => {
  it('admits a genuine quote with its collateral at the quote’s time and refuses it where the collateral has expired', async () => {
    const v = vectorIndex().tdx.find((x) => x.expected.verdict === 'accept')!;
    const evidence = encodeEvidenceBundle({
      evidence: readVector(v.quote as string),
      intel: parseCollateralJson(readVectorText(v.collateral_json as string)),
    });
    const s: LogSubmission = { kind: 'executor-registered', evidence, ...NO_CLAIMS, executorId: '1' };
    clock = new Date(v.verify_at);
    const ok = await postLogSubmission(server.url, s);
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
    clock = new Date(new Date(v.verify_at).getTime() + 400 * 86_400_000);
    const late = await postLogSubmission(server.url, { ...s, executorId: '2' });
    expect(late).toMatchObject({ ok: false, status: 422, code: 'COLLATERAL_EXPIRED' });
    clock = new Date('2026-12-06T00:00:00Z');
    // The auditor verifies the quote again at the entry's own time: clean.
    const r = await audit('--log', join(dir, 'log'));
    expect(r.code, r.out).toBe(0);
    const report = onlyJson<{ entries: { byKind: Record<string, number>; evidenceVerified: number } }>(r.out);
    expect(report.entries.byKind['executor-registered']).toBe(1);
  });
});

describe('defaas log prove / verify-proof and audit verify', () => {
  it('a tlog-proof written by `log prove` verifies offline with the vkey and carries the entry', async () => {
    const proofFile = join(dir, 'entry3.tlog-proof');
    const p = await runCli(
      'log',
      'prove',
      '--log',
      server.url,
      '--vkey',
      vkeyFile,
      '--index',
      '3',
      '--out',
      proofFile,
      '--json',
    );
    expect(p.code, p.err).toBe(0);
    const text = await readFile(proofFile, 'utf8');
    expect(text.startsWith('c2sp.org/tlog-proof@v1\nextra ')).toBe(true);
    const v = await runCli('log', 'verify-proof', proofFile, '--vkey', vkeyFile, '--json');
    expect(v.code, v.err).toBe(0);
    const out = onlyJson<{ index: number; entry: { leaseId: string } }>(v.out);
    expect(out).toMatchObject({ index: 3, entry: { leaseId: '3' } });
    // Another entry swapped into the proof's extra line no longer verifies.
    const other = Buffer.from(
      new TextEncoder().encode(
        JSON.stringify({
          ...parseEntry(new Uint8Array(Buffer.from(text.split('\n')[1]!.slice(6), 'base64'))),
          leaseId: '4',
        }),
      ),
    ).toString('base64');
    await writeFile(proofFile, text.replace(/^extra .*$/m, `extra ${other}`));
    const bad = await runCli('log', 'verify-proof', proofFile, '--vkey', vkeyFile, '--json');
    expect(bad.code).toBe(1);
    expectFailure(bad.out, 'LOG_PROOF_INVALID', 'verification');
    expect(
      (await runCli('log', 'prove', '--log', server.url, '--vkey', vkeyFile, '--index', '99')).code,
    ).toBe(2);
  });

  it('audit verify keeps a trusted checkpoint, advances it, and names a tampered tile', async () => {
    const trusted = join(dir, 'trusted');
    const first = await audit('--log', server.url, '--trusted', trusted);
    expect(first.code, first.out).toBe(0);
    expect(onlyJson<{ clean: boolean; advanced: boolean }>(first.out)).toMatchObject({
      clean: true,
      advanced: true,
    });
    expect((await postLogSubmission(server.url, simulated(9))).ok).toBe(true);
    const second = await audit('--log', server.url, '--trusted', trusted);
    expect(onlyJson<{ trusted: { size: number }; advanced: boolean }>(second.out)).toMatchObject({
      advanced: true,
    });
    // One byte of the level-0 tile flipped on disk: the served tile no longer hashes to the root.
    const size = store.checkpoint.size;
    const tile = join(dir, 'log', `tile/0/000.p/${size}`);
    const bytes = await readFile(tile);
    bytes[40] = bytes[40]! ^ 1;
    await writeFile(tile, bytes);
    const third = await audit('--log', server.url, '--trusted', trusted);
    expect(third.code).toBe(1);
    const r = onlyJson<{ findings: { code: string; path?: string }[]; advanced: boolean }>(third.out);
    expect(r.findings[0]).toMatchObject({ code: 'LOG_TILE_MISMATCH' });
    expect(r.advanced).toBe(false);
    bytes[40] = bytes[40]! ^ 1;
    await writeFile(tile, bytes);
  });

  it('takes the vkey inline too, even with a slash in its origin', async () => {
    const r = await runCli(
      'audit',
      'verify',
      '--log',
      server.url,
      '--vkey',
      key.verifierKey,
      '--simulated-root',
      Buffer.from(root.keyHash).toString('hex'),
      '--json',
    );
    expect(r.code, r.out).toBe(0);
  });

  it('log serve on an address in use is a usage error naming it', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const { port } = busy.address() as AddressInfo;
    try {
      const r = await runCli(
        'log',
        'serve',
        '--dir',
        join(dir, 'other-log'),
        '--key',
        join(dir, 'other.key'),
        '--listen',
        `127.0.0.1:${port}`,
        '--json',
      );
      expect(r.code).toBe(2);
      expectFailure(r.out, 'INVALID_ARGUMENT', 'usage');
      expect(r.out).toMatch(/EADDRINUSE/);
    } finally {
      busy.close();
    }
  });

  it('a log that cannot be reached is exit 3; a wrong key is a finding', async () => {
    const gone = await audit('--log', 'http://127.0.0.1:9');
    expect(gone.code).toBe(3);
    const other = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(22));
    const otherFile = join(dir, 'other.vkey');
    await writeFile(otherFile, other.verifierKey);
    const wrong = await runCli('audit', 'verify', '--log', server.url, '--vkey', otherFile, '--json');
    expect(wrong.code).toBe(1);
    expect(onlyJson<{ findings: { code: string }[] }>(wrong.out).findings[0]!.code).toBe(
      'LOG_NOTE_UNVERIFIED',
    );
  });
});
