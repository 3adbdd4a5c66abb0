import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvidenceBundle } from '../attestation/bundle.js';
import { generateSimulatedRoot, produceSimulatedEvidence } from '../attestation/simulated.js';
import { formatLogSubmission, type LogSubmission } from '../protocol/log-submission.js';
import { type AuditReport, auditLog } from '../verifier/log/audit.js';
import { openCheckpoint } from '../verifier/log/checkpoint.js';
import { cosignatureVerifier, cosigner, generateCosignerKey } from '../verifier/log/cosignature.js';
import { type Cosigning, startCosigning } from '../verifier/log/cosigning.js';
import { entryIdentity } from '../verifier/log/entry.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from '../verifier/log/note.js';
import { parseTlogPolicy, witnessPolicyOf } from '../verifier/log/policy.js';
import { logUrlReader } from '../verifier/log/reader.js';
import { type RunningLogServer, startLogServer } from '../verifier/log/server.js';
import { LogStore } from '../verifier/log/store.js';
import { witnessCheckpointPath } from '../verifier/log/witness.js';
import { type RunningWitnessServer, startWitnessServer } from '../verifier/log/witness-server.js';

/*
 * A log, its server and two witnesses (tlog-witness over HTTP), audited with a tlog-policy that needs
 * both cosignatures. Then the split view: the operator, holding the log key, shows tree A to witness
 * 1 and tree B (same size, same key) to witness 2, and asks each witness to cosign the other tree too.
 */

const ORIGIN = 'log.example.test/witnessed';
const logKey = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(21));
const w1Key = generateCosignerKey('w1.example.test', new Uint8Array(32).fill(22));
const w2Key = generateCosignerKey('w2.example.test', new Uint8Array(32).fill(23));
const root = generateSimulatedRoot();

const POLICY_BOTH = `log ${logKey.verifierKey}
witness w1 ${w1Key.verifierKey}
witness w2 ${w2Key.verifierKey}
group both all w1 w2
quorum both
`;
const POLICY_ANY = POLICY_BOTH.replace('group both all', 'group both any');

function submission(i: number): LogSubmission {
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
  };
}

interface Log {
  store: LogStore;
  server: RunningLogServer;
  cosigning: Cosigning;
  events: Record<string, unknown>[];
}

const temp: string[] = [];
const running: Array<{ close(): Promise<void> } | { stop(): Promise<void> }> = [];
let w1: RunningWitnessServer;
let w2: RunningWitnessServer;

async function tempDir(name: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `defaas-${name}-`));
  temp.push(d);
  return d;
}

const endpoints = (ws: Array<[RunningWitnessServer, string]>) =>
  ws.map(([w, vkey]) => ({ url: w.url, verifier: cosignatureVerifier(vkey) }));

/** A cosigning client for `log`'s store asking `witnesses`; its events go to `log.events`. */
function cosigningFor(log: Log, witnesses: Array<[RunningWitnessServer, string]>): Cosigning {
  const c = startCosigning({
    witnesses: endpoints(witnesses),
    current: () => ({ checkpoint: log.store.checkpoint, hashes: log.store.hashReader() }),
    retryMs: 3_600_000,
    log: (e) => log.events.push(e),
  });
  running.push(c);
  return c;
}

/**
 * A log over `dir`; its server serves the checkpoint with the cosignatures `log.cosigning` gathered,
 * and each published checkpoint starts a round of `log.cosigning` (which a test may replace).
 */
async function startLog(dir: string, witnesses: Array<[RunningWitnessServer, string]>): Promise<Log> {
  const log = { events: [] } as unknown as Log;
  log.store = await LogStore.open({
    dir,
    origin: ORIGIN,
    signer: ed25519Signer(logKey.signerKey),
    verifier: ed25519Verifier(logKey.verifierKey),
    batchDelayMs: 5,
    identity: entryIdentity,
    onCheckpoint: () => log.cosigning?.notify(),
  });
  log.cosigning = cosigningFor(log, witnesses);
  log.server = await startLogServer({
    store: log.store,
    admit: { simulatedRoots: [root.keyHash] },
    checkpointText: () => log.cosigning.cosignedText(),
  });
  running.push(log.server, log.store);
  return log;
}

async function add(log: Log, from: number, to: number): Promise<void> {
  const rs = await Promise.all(
    Array.from({ length: to - from }, (_, k) =>
      fetch(`${log.server.url}/add`, { method: 'POST', body: formatLogSubmission(submission(from + k)) }),
    ),
  );
  expect(rs.map((r) => r.status)).toEqual(rs.map(() => 200));
}

function audit(log: Log, policy: string, trusted?: string): Promise<AuditReport> {
  const p = parseTlogPolicy(policy);
  return auditLog({
    read: logUrlReader(log.server.url),
    origin: ORIGIN,
    logKeys: p.logs.map((l) => l.verifier),
    witnesses: witnessPolicyOf(p),
    simulatedRoots: [root.keyHash],
    ...(trusted !== undefined && { trusted }),
  });
}

const codes = (r: AuditReport) => r.findings.map((f) => f.code);

beforeAll(async () => {
  const start = async (key: { signerKey: string }) => {
    const w = await startWitnessServer({
      cosigner: cosigner(key.signerKey),
      logs: [{ origin: ORIGIN, keys: [ed25519Verifier(logKey.verifierKey)] }],
      stateDir: await tempDir('witness'),
    });
    running.push(w);
    return w;
  };
  w1 = await start(w1Key);
  w2 = await start(w2Key);
});

afterAll(async () => {
  for (const r of running.reverse()) await ('stop' in r ? r.stop() : r.close());
  for (const d of temp) await rm(d, { recursive: true, force: true });
});

describe('witness cosigning of the attestation log', () => {
  let honest: Log;
  let trusted: string;

  it('a log with two witnesses passes an audit that needs both cosignatures', async () => {
    honest = await startLog(await tempDir('log-a'), [
      [w1, w1Key.verifierKey],
      [w2, w2Key.verifierKey],
    ]);
    await add(honest, 0, 3);
    await honest.cosigning.cosignNow();
    const first = await audit(honest, POLICY_BOTH);
    expect(first.findings).toEqual([]);
    expect(first.cosigners).toEqual(['w1.example.test', 'w2.example.test']);
    expect(first.checkpoint?.size).toBe(3);
    // Growth is cosigned along consistency proofs from what each witness cosigned.
    await add(honest, 3, 7);
    await honest.cosigning.cosignNow();
    const second = await audit(honest, POLICY_BOTH, first.checkpoint!.text);
    expect(second.findings).toEqual([]);
    expect(second.treeVerified).toBe(true);
    expect(w1.cosignedSize(ORIGIN)).toBe(7);
    expect(w2.cosignedSize(ORIGIN)).toBe(7);
    expect(honest.cosigning.status().map((s) => s.cosigned)).toEqual([true, true]);
    trusted = second.checkpoint!.text;
  });

  it('a restarted log learns each witness size from the 409 and goes on', async () => {
    // The served note stays valid for clients that know no witness: signature lines after the blank line.
    const served = await (await fetch(`${honest.server.url}/checkpoint`)).text();
    expect(openCheckpoint(served, [ed25519Verifier(logKey.verifierKey)]).note.signatures).toHaveLength(3);
    await honest.cosigning.stop();
    // A fresh client (as after a restart) knows no witness state: it sends old 0, is told 7, sends again.
    honest.cosigning = cosigningFor(honest, [[w1, w1Key.verifierKey]]);
    await add(honest, 7, 9);
    await honest.cosigning.cosignNow();
    expect(honest.cosigning.status()).toEqual([
      { url: w1.url, name: 'w1.example.test', size: 9, cosigned: true },
    ]);
    await honest.cosigning.stop();
    honest.cosigning = cosigningFor(honest, [
      [w1, w1Key.verifierKey],
      [w2, w2Key.verifierKey],
    ]);
    await honest.cosigning.cosignNow();
    expect(honest.cosigning.status().map((s) => [s.size, s.cosigned])).toEqual([
      [9, true],
      [9, true],
    ]);
    expect((await audit(honest, POLICY_BOTH, trusted)).findings).toEqual([]);
    expect(honest.events.filter((e) => e.event !== 'cosigned')).toEqual([]);
  });

  it('the split view: tree A shown to witness 1, tree B of the same size to witness 2 — neither gets a quorum of 2', async () => {
    // Both trees extend size 9, which both witnesses cosigned: B grows from a copy of the log's
    // directory at that size, under the same key, with other entries.
    await honest.cosigning.stop();
    const bDir = await tempDir('log-b');
    await cp(honest.store.dir, bDir, { recursive: true });
    // Tree A (4 more entries) goes to witness 1 only.
    honest.cosigning = cosigningFor(honest, [[w1, w1Key.verifierKey]]);
    await add(honest, 100, 104);
    await honest.cosigning.cosignNow();
    // Tree B (4 other entries, the same size 13) goes to witness 2 only, from another log process.
    const forked = await startLog(bDir, [[w2, w2Key.verifierKey]]);
    await add(forked, 200, 204);
    await forked.cosigning.cosignNow();
    expect(forked.store.checkpoint.size).toBe(13);
    expect(honest.store.checkpoint.size).toBe(13);
    expect(Buffer.from(forked.store.checkpoint.root).equals(Buffer.from(honest.store.checkpoint.root))).toBe(
      false,
    );
    expect([w1.cosignedSize(ORIGIN), w2.cosignedSize(ORIGIN)]).toEqual([13, 13]);

    // The operator then asks both witnesses for each tree: each refuses the tree it did not see
    // (409: another tree of the size it cosigned), so each tree carries one cosignature.
    honest.cosigning = cosigningFor(honest, [
      [w1, w1Key.verifierKey],
      [w2, w2Key.verifierKey],
    ]);
    forked.cosigning = cosigningFor(forked, [
      [w1, w1Key.verifierKey],
      [w2, w2Key.verifierKey],
    ]);
    await Promise.all([honest.cosigning.cosignNow(), forked.cosigning.cosignNow()]);
    const forks = (l: Log) => l.events.filter((e) => e.event === 'witness-fork').map((e) => e.witness);
    expect(forks(honest)).toEqual(['w2.example.test']);
    expect(forks(forked)).toEqual(['w1.example.test']);
    expect(honest.cosigning.status().map((s) => s.cosigned)).toEqual([true, false]);
    expect(forked.cosigning.status().map((s) => s.cosigned)).toEqual([false, true]);

    // An auditor who needs both witnesses accepts neither tree; its trusted checkpoint stays at 9.
    for (const [log, by] of [
      [honest, 'w1.example.test'],
      [forked, 'w2.example.test'],
    ] as const) {
      const r = await audit(log, POLICY_BOTH, trusted);
      expect(codes(r)).toEqual(['LOG_QUORUM_NOT_MET']);
      expect(r.treeVerified).toBe(false);
      expect(r.cosigners).toEqual([by]);
    }
    // What a policy of any one witness would have let through: each tree, to its own audience.
    for (const log of [honest, forked]) {
      const r = await audit(log, POLICY_ANY, trusted);
      expect(r.findings).toEqual([]);
      expect(r.treeVerified).toBe(true);
    }

    // Growing B further does not win witness 1 over: B's proof does not start at the A it cosigned (422).
    await add(forked, 204, 206);
    await forked.cosigning.cosignNow();
    expect(forked.events.filter((e) => e.event === 'witness-inconsistent').map((e) => e.witness)).toEqual([
      'w1.example.test',
    ]);
    expect([w1.cosignedSize(ORIGIN), w2.cosignedSize(ORIGIN)]).toEqual([13, 15]);

    // The witnesses' records are the evidence of the split: the same size, two roots, both signed by
    // the log key (served at each witness's monitoring path).
    const logVerifier = ed25519Verifier(logKey.verifierKey);
    const a = await (await fetch(`${w1.url}/${witnessCheckpointPath(ORIGIN)}`)).text();
    const b = await (await fetch(`${w2.url}/${witnessCheckpointPath(ORIGIN)}`)).text();
    const atA = openCheckpoint(a, [logVerifier]).checkpoint;
    const atB = openCheckpoint(b, [logVerifier]).checkpoint;
    expect(atA.size).toBe(13);
    expect(Buffer.from(atA.root).equals(Buffer.from(honest.store.checkpoint.root))).toBe(true);
    expect(atB.size).toBe(15);
  });
});
