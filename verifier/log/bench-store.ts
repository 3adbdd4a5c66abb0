import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEvidenceBundle } from '../../attestation/bundle.js';
import { VerifyCache } from '../../attestation/cache.js';
import type { TrustRoots } from '../../attestation/roots.js';
import {
  generateSimulatedRoot,
  produceSimulatedEvidence,
  type SimulatedRoot,
} from '../../attestation/simulated.js';
import { formatLogSubmission, type LogSubmission } from '../../protocol/log-submission.js';
import { auditLog } from './audit.js';
import { encodeEntry, entryIdentity } from './entry.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from './note.js';
import { logDirReader } from './reader.js';
import { startLogServer } from './server.js';
import { LogStore } from './store.js';
import { admitSubmission } from './submission.js';

/*
 * Measurements of the log as a service, for `npm run bench -- log` (bench/log.ts): appends through
 * LogStore (fsync'd batches of 256 into a temporary directory), submissions through the HTTP server
 * (each one's evidence verified and its blob stored durably before it is appended), and the audit of
 * a log with every piece of evidence verified again. Entries are real LogEntry objects: the ones a
 * log admits for a `session-verified` submission of simulated evidence, with distinct leases.
 */

const ORIGIN = 'bench.defaas.test/log';
const key = generateEd25519Key(ORIGIN, new Uint8Array(32).fill(7));
const signer = ed25519Signer(key.signerKey);
const verifier = ed25519Verifier(key.verifierKey);

/** An encoded evidence bundle of simulated evidence with `n` in its REPORTDATA (signatures are randomized). */
export function simulatedBundle(root: SimulatedRoot, n: number): Uint8Array {
  const reportData = new Uint8Array(64);
  new DataView(reportData.buffer).setUint32(0, n);
  return encodeEvidenceBundle({ evidence: produceSimulatedEvidence(root, { reportData }) });
}

/** A `session-verified` submission for lease `lease` carrying `evidence` (an encoded evidence bundle). */
export function sessionSubmission(lease: number, evidence: Uint8Array): LogSubmission {
  return {
    kind: 'session-verified',
    evidence,
    chain: { id: 31337, block: 1_000_000 + lease },
    enclave: '0x000000000000000000000000000000000000e1c1',
    provider: '0x0000000000000000000000000000000000000b0b',
    executorId: String(1 + (lease % 97)),
    leaseId: String(lease),
    roundId: null,
    policyHash: 'ab'.repeat(32),
    verdict: 'accepted',
    code: null,
  };
}

async function withTempDir<T>(prefix: string, f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const openStore = (dir: string, batchDelayMs?: number) =>
  LogStore.open({
    dir,
    origin: ORIGIN,
    signer,
    verifier,
    identity: entryIdentity,
    ...(batchDelayMs !== undefined && { batchDelayMs }),
  });

export interface StoreAppendResult {
  readonly entries: number;
  readonly meanEntryBytes: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/**
 * `entries` pre-encoded entries added to a new LogStore at once (batches of 256, the default batch
 * delay, fsync'd); the time until the last one is acknowledged. What is left after the last full batch
 * is flushed rather than left to wait out the batch delay.
 */
export async function benchStoreAppend(o: { entries: number }): Promise<StoreAppendResult> {
  const root = generateSimulatedRoot();
  const now = new Date();
  // 16 admitted entries as templates; each appended entry is one with its own lease and block.
  const templates = await Promise.all(
    Array.from(
      { length: 16 },
      async (_, i) =>
        (
          await admitSubmission(sessionSubmission(i, simulatedBundle(root, i)), {
            now,
            simulatedRoots: [root.keyHash],
          })
        ).entry,
    ),
  );
  const encoded = Array.from({ length: o.entries }, (_, i) =>
    encodeEntry({
      ...templates[i % templates.length]!,
      leaseId: String(i),
      chain: { id: 31337, block: 1_000_000 + i },
    }),
  );
  const meanEntryBytes = encoded.reduce((a, e) => a + e.length, 0) / encoded.length;
  return withTempDir('defaas-bench-store-', async (dir) => {
    const store = await openStore(dir);
    const t0 = performance.now();
    const acks = encoded.map((e) => store.add(e));
    await store.flush();
    const answered = await Promise.all(acks);
    const seconds = (performance.now() - t0) / 1000;
    if (answered.some((a) => !a.fresh) || store.checkpoint.size !== o.entries)
      throw new Error(`bench: the store holds ${store.checkpoint.size} of ${o.entries} entries`);
    await store.close();
    return { entries: o.entries, meanEntryBytes, seconds, perSecond: o.entries / seconds };
  });
}

export interface HttpSubmitResult {
  readonly submissions: number;
  readonly clients: number;
  readonly batchDelayMs: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/**
 * `submissions` pre-encoded POST /add bodies (simulated evidence, distinct per submission) sent by
 * `clients` concurrent clients in this process to a log server in this process; the time until the
 * last is answered 200. The server verifies each piece of evidence and stores its blob (fsync'd)
 * before appending.
 */
export async function benchHttpSubmit(o: {
  submissions: number;
  clients: number;
  batchDelayMs?: number;
}): Promise<HttpSubmitResult> {
  const root = generateSimulatedRoot();
  const bodies = Array.from({ length: o.submissions }, (_, i) =>
    formatLogSubmission(sessionSubmission(i, simulatedBundle(root, i))),
  );
  return withTempDir('defaas-bench-http-', async (dir) => {
    const store = await openStore(dir, o.batchDelayMs);
    const server = await startLogServer({
      store,
      admit: { simulatedRoots: [root.keyHash] },
      partyLimitPerHour: o.submissions + 1,
      clientLimitPerMinute: o.submissions + 1,
    });
    try {
      let next = 0;
      const t0 = performance.now();
      const client = async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const r = await fetch(`${server.url}/add`, { method: 'POST', body });
          if (r.status !== 200) throw new Error(`bench: POST /add answered ${r.status}: ${await r.text()}`);
          await r.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: o.clients }, client));
      const seconds = (performance.now() - t0) / 1000;
      if (store.checkpoint.size !== o.submissions)
        throw new Error(`bench: the log holds ${store.checkpoint.size} of ${o.submissions} entries`);
      return {
        submissions: o.submissions,
        clients: o.clients,
        batchDelayMs: o.batchDelayMs ?? 1000,
        seconds,
        perSecond: o.submissions / seconds,
      };
    } finally {
      await server.close();
      await store.close();
    }
  });
}

export interface AuditBenchResult {
  readonly entries: number;
  /** Distinct pieces of evidence (blobs) the entries reference. */
  readonly distinctEvidence: number;
  readonly buildSeconds: number;
  /** The first audit, with a new VerifyCache. */
  readonly coldSeconds: number;
  /** The second audit, with the cache the first one filled. */
  readonly warmSeconds: number;
  readonly evidenceVerified: number;
}

/**
 * Builds a log of `entries` entries (admitted as the server admits them, blobs stored), then audits
 * its directory twice with evidence verification, sharing one VerifyCache: cold, then warm. Each
 * audit must be clean. `submission(i)` makes entry i's submission; `now` is the admission time.
 */
export async function benchAudit(o: {
  entries: number;
  submission: (i: number) => LogSubmission;
  now: Date;
  roots?: TrustRoots;
  simulatedRoots?: readonly Uint8Array[];
}): Promise<AuditBenchResult> {
  return withTempDir('defaas-bench-audit-', async (dir) => {
    const b0 = performance.now();
    const store = await openStore(dir);
    const admit = {
      now: o.now,
      ...(o.roots && { roots: o.roots }),
      ...(o.simulatedRoots && { simulatedRoots: o.simulatedRoots }),
    };
    const cids = new Set<string>();
    const CHUNK = 256;
    for (let first = 0; first < o.entries; first += CHUNK) {
      const admitted = await Promise.all(
        Array.from({ length: Math.min(CHUNK, o.entries - first) }, (_, k) =>
          admitSubmission(o.submission(first + k), admit),
        ),
      );
      const fresh = admitted.filter((a) => !cids.has(a.entry.evidence.cid));
      for (const a of fresh) cids.add(a.entry.evidence.cid);
      await Promise.all(fresh.map((a) => store.putBlob(a.blob)));
      const acks = admitted.map((a) => store.add(a.bytes));
      await store.flush();
      await Promise.all(acks);
    }
    await store.close();
    const buildSeconds = (performance.now() - b0) / 1000;

    const cache = new VerifyCache();
    const audit = async () => {
      const t0 = performance.now();
      const r = await auditLog({
        read: logDirReader(dir),
        origin: ORIGIN,
        logKeys: [verifier],
        cache,
        ...(o.roots && { roots: o.roots }),
        ...(o.simulatedRoots && { simulatedRoots: o.simulatedRoots }),
      });
      const seconds = (performance.now() - t0) / 1000;
      if (r.findings.length > 0 || r.entries.evidenceVerified !== o.entries)
        throw new Error(
          `bench: the audit of ${o.entries} entries found ${r.findings.length} problems, first ${JSON.stringify(r.findings[0])}`,
        );
      return { seconds, evidenceVerified: r.entries.evidenceVerified };
    };
    const cold = await audit();
    const warm = await audit();
    return {
      entries: o.entries,
      distinctEvidence: cids.size,
      buildSeconds,
      coldSeconds: cold.seconds,
      warmSeconds: warm.seconds,
      evidenceVerified: warm.evidenceVerified,
    };
  });
}
