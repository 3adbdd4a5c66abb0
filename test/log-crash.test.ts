import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvidenceBundle } from '../attestation/bundle.js';
import { VerifyCache } from '../attestation/cache.js';
import { generateSimulatedRoot, produceSimulatedEvidence } from '../attestation/simulated.js';
import { type LogSubmission, postLogSubmission } from '../protocol/log-submission.js';
import { auditLog } from '../verifier/log/audit.js';
import { openCheckpoint } from '../verifier/log/checkpoint.js';
import { treeHash } from '../verifier/log/merkle.js';
import { ed25519Verifier } from '../verifier/log/note.js';
import { logDirReader } from '../verifier/log/reader.js';

/*
 * The log's crash safety, end to end: `defaas log serve` is killed with SIGKILL while submissions are
 * in flight, restarted on the same directory, and fed again, a bounded number of times. Every
 * submission answered 200 (acknowledged) must be in the final log at the index it was given, the
 * audit of the directory must be clean, and every checkpoint the server ever served must be the final
 * tree at its size (so no two served checkpoints of one size differ, and nothing served is rolled
 * back). Submissions cut off by a kill are sent again after the restart: a log that committed one
 * without answering must answer the repeat with the same index.
 */

const repo = new URL('..', import.meta.url).pathname;
const root = generateSimulatedRoot();
const rootHex = Buffer.from(root.keyHash).toString('hex');
const KILLS = 5;
/** Submissions started per run of the server, below the server's 600 per minute per address. */
const PER_RUN = 200;
const CONCURRENCY = 24;

let dir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'defaas-logcrash-'));
});
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

/** One submission per lease, made once: a resend must be the same bytes (simulated evidence is signed with a random nonce). */
const submissions = new Map<number, LogSubmission>();

function submission(lease: number): LogSubmission {
  let s = submissions.get(lease);
  if (s === undefined) {
    s = makeSubmission(lease);
    submissions.set(lease, s);
  }
  return s;
}

function makeSubmission(lease: number): LogSubmission {
  const reportData = new Uint8Array(64);
  new DataView(reportData.buffer).setUint32(0, lease);
  return {
    kind: 'session-verified',
    evidence: encodeEvidenceBundle({ evidence: produceSimulatedEvidence(root, { reportData }) }),
    chain: null,
    enclave: null,
    provider: null,
    executorId: null,
    leaseId: String(lease),
    roundId: null,
    policyHash: null,
    verdict: 'accepted',
    code: null,
  };
}

/** Starts `defaas log serve` on a free port and resolves with its URL once it serves. */
async function startServer(): Promise<{ proc: ChildProcess; url: string; vkey: string }> {
  const proc = spawn(
    process.execPath,
    [
      join(repo, 'bin', 'defaas.mjs'),
      'log',
      'serve',
      '--dir',
      join(dir, 'log'),
      '--key',
      join(dir, 'log.key'),
      '--listen',
      '127.0.0.1:0',
      '--batch-ms',
      '10',
      '--party-limit',
      '1000000',
      '--simulated-root',
      rootHex,
      '--log-level',
      'silent',
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child = proc;
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const line = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    proc.once('exit', (code, signal) =>
      reject(new Error(`log serve exited (${code ?? signal}) before serving: ${err}${out}`)),
    );
  });
  const j = JSON.parse(line) as { ok: boolean; url: string; vkey: string };
  expect(j.ok, line).toBe(true);
  return { proc, url: j.url, vkey: j.vkey };
}

async function kill9(proc: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}

describe('the log under kill -9', () => {
  it('loses no acknowledged entry and never serves two checkpoints of the same size', async () => {
    /** leaseId → the index the log acknowledged (every acknowledgement of it must agree). */
    const acked = new Map<number, number>();
    const disagreements: string[] = [];
    /** Checkpoint size → root (base64) of every checkpoint seen, and the forks among them. */
    const served = new Map<number, string>();
    const forks: string[] = [];
    let vkey = '';
    let next = 0;
    /** Resent leases the log already held (committed, but the kill came before the answer). */
    let repeats = 0;
    let unanswered: number[] = [];
    const stats: string[] = [];
    const lostAtRestart: string[] = [];

    const see = (text: string) => {
      const { checkpoint } = openCheckpoint(text, [ed25519Verifier(vkey)], { origin: vkey.split('+')[0]! });
      const r = Buffer.from(checkpoint.root).toString('base64');
      const before = served.get(checkpoint.size);
      if (before !== undefined && before !== r) forks.push(`size ${checkpoint.size}: ${before} and ${r}`);
      served.set(checkpoint.size, r);
      return checkpoint.size;
    };

    for (let run = 0; run <= KILLS; run++) {
      const s = await startServer();
      vkey = s.vkey;
      const killing = run < KILLS;
      // Resend what a kill cut off, then new leases (a few in the last run, which only has to finish).
      const todo = [...unanswered];
      unanswered = [];
      const fresh = killing ? PER_RUN - todo.length : 16;
      for (let i = 0; i < fresh; i++) todo.push(next++);
      const startSize = see(await (await fetch(`${s.url}/checkpoint`)).text());
      /** Entries acknowledged so far (the highest acknowledged index + 1). */
      let needed = Math.max(0, ...acked.values()) + (acked.size > 0 ? 1 : 0);
      if (startSize < needed)
        lostAtRestart.push(
          `run ${run} restarted at size ${startSize}, but index ${needed - 1} was acknowledged`,
        );

      // Even runs are killed after a random number of this run's acknowledgements, at once or a few
      // ms later, so the kill lands anywhere in a batch: admitting, writing tiles, writing the
      // checkpoint, answering. Odd runs are killed as soon as a checkpoint is served that covers
      // entries not yet acknowledged: published, answers still on their way (or, at the latest,
      // three quarters through the run).
      const onServedAhead = run % 2 === 1;
      const killAfter = onServedAhead ? (PER_RUN * 3) / 4 : 10 + Math.floor(Math.random() * (PER_RUN / 2));
      const delayMs = Math.random() < 0.5 ? 0 : Math.floor(Math.random() * 25);
      let ackedThisRun = 0;
      let killed: Promise<void> | undefined;
      let killedOn = 'acknowledgements';

      let stopped = false;
      const polling = (async () => {
        while (!stopped) {
          try {
            const size = see(
              await (await fetch(`${s.url}/checkpoint`, { signal: AbortSignal.timeout(2000) })).text(),
            );
            if (killing && onServedAhead && killed === undefined && ackedThisRun >= 10 && size > needed) {
              killedOn = `checkpoint ${size} served ahead of index ${needed - 1}`;
              killed = kill9(s.proc);
            }
          } catch {
            // the server is being killed
          }
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
      const worker = async () => {
        while (todo.length > 0) {
          const lease = todo.shift()!;
          const a = await postLogSubmission(s.url, submission(lease), 10_000);
          if (!a.ok) {
            unanswered.push(lease);
            continue;
          }
          const before = acked.get(lease);
          if (before !== undefined && before !== a.index)
            disagreements.push(`lease ${lease} at ${before}, then at ${a.index}`);
          acked.set(lease, a.index);
          needed = Math.max(needed, a.index + 1);
          if (!a.fresh) repeats++;
          ackedThisRun++;
          if (killing && killed === undefined && ackedThisRun === killAfter)
            killed = new Promise((r) => setTimeout(r, delayMs)).then(() => kill9(s.proc));
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      stopped = true;
      await polling;
      if (killing) {
        expect(killed, 'the kill happened while submissions were in flight').toBeDefined();
        await killed;
        stats.push(
          `run ${run}: from ${startSize}, ${ackedThisRun} acked, ${unanswered.length} cut off, killed on ${killedOn}`,
        );
      } else {
        // The last run ends cleanly: every lease was answered.
        expect(unanswered).toEqual([]);
        see(await (await fetch(`${s.url}/checkpoint`)).text());
        const exited = new Promise((r) => s.proc.once('exit', r));
        s.proc.kill('SIGTERM');
        await exited;
      }
    }

    stats.push(`${repeats} resent leases were in the log already`);
    expect(lostAtRestart, stats.join('\n')).toEqual([]);
    expect(disagreements, stats.join('\n')).toEqual([]);
    expect(forks, stats.join('\n')).toEqual([]);
    expect(
      stats.filter((l) => !/ 0 cut off/.test(l)).length,
      `kills that cut submissions off\n${stats.join('\n')}`,
    ).toBeGreaterThan(0);

    const logKey = ed25519Verifier((await readFile(join(dir, 'log.key.vkey'), 'utf8')).trim());
    const report = await auditLog({
      read: logDirReader(join(dir, 'log')),
      origin: logKey.name,
      logKeys: [logKey],
      simulatedRoots: [root.keyHash],
      cache: new VerifyCache(),
    });
    expect(report.findings, stats.join('\n')).toEqual([]);
    expect(report.treeVerified).toBe(true);
    const size = report.checkpoint!.size;

    // Every acknowledged lease is at its acknowledged index; no lease is logged twice.
    const lost = [...acked].filter(([lease, index]) => report.logged[index]?.leaseId !== String(lease));
    expect(lost, `acknowledged but not at their index (size ${size})\n${stats.join('\n')}`).toEqual([]);
    const leases = report.logged.map((e) => e?.leaseId);
    expect(new Set(leases).size).toBe(leases.length);
    // Every checkpoint ever served is the final tree at that size: nothing served was rolled back.
    const rolledBack: string[] = [];
    for (const [n, r] of served) {
      if (n > size) rolledBack.push(`size ${n} was served, the log ends at ${size}`);
      else if (Buffer.from(await treeHash(n, report.hashes!)).toString('base64') !== r)
        rolledBack.push(`size ${n} was served with root ${r}, the final tree has another`);
    }
    expect(rolledBack, stats.join('\n')).toEqual([]);
    expect(served.get(size)).toBe(report.checkpoint!.root);
    expect(acked.size).toBe(next);
  }, 60_000);
});
