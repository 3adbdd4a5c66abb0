import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { toHex } from '../attestation/bytes.js';
import { generateSimulatedRoot } from '../attestation/simulated.js';
import { allowListAuthority, Executor } from '../enclave-host/executor.js';
import { SimulatedQuoteProvider } from '../enclave-host/quote/simulated.js';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { addressOfPrivateKey } from '../protocol/secp256k1.js';
import { connect } from '../sdk/index.js';
import { sessionChallengeChannel } from '../sdk/session/challenge.js';
import { runChallenge } from '../verifier/challenge.js';

/*
 * Deadline misses of an honest executor under this machine's own load: `count` capacity challenges
 * one after another from one witness over a real session on 127.0.0.1 (executor in this process, its
 * engine on worker threads), each judged by `runChallenge` with the deadline
 * D = RTT_p95 + 1.5 · 2n³ / R_claimed + 50 ms.
 */

export interface DeadlineRow {
  readonly n: number;
  readonly claimedGflops: number;
  readonly challenges: number;
  readonly pass: number;
  readonly late: number;
  readonly other: number;
  readonly missedPct: number;
  readonly commitMsP50: number;
  readonly commitMsP99: number;
  readonly commitMsMax: number;
  readonly deadlineMsP50: number;
  readonly seconds: number;
}

const MR_TD = new Uint8Array(48).fill(0x43);
const quantile = (s: readonly number[], q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;

export async function deadlineRows(count: number, n: number, claimedGflops: number): Promise<DeadlineRow> {
  const root = generateSimulatedRoot();
  const witnessKey = new Uint8Array(randomBytes(32));
  const stateDir = await mkdtemp(join(tmpdir(), 'defaas-bench-deadlines-'));
  const runtime = new FunctionRuntime({
    workers: 1,
    limits: { memoryBytes: 64 << 20, wallTimeMs: 10_000, maxInputBytes: 1 << 20, maxOutputBytes: 1 << 20 },
  });
  const executor = new Executor({
    logger: pino({ level: 'silent' }),
    runtime,
    quotes: new SimulatedQuoteProvider(root, { measurements: { mrTd: MR_TD } }),
    stateDir,
    challengeAuthority: allowListAuthority({
      witnesses: [addressOfPrivateKey(witnessKey)],
      claimedGflops,
      // A day-long epoch: the budget (2 % of it at the claimed rate) covers every challenge here.
      epochSeconds: 86_400,
    }),
  });
  try {
    const port = await executor.start('127.0.0.1:0');
    const session = await connect(`127.0.0.1:${port}`, {
      policy: {
        allowedTees: ['simulated'],
        measurements: { simulated: { mrTd: toHex(MR_TD) } },
        simulated: { rootKeyHashes: [toHex(root.keyHash)] },
      },
    });
    const commits: number[] = [];
    const deadlines: number[] = [];
    let pass = 0;
    let late = 0;
    let other = 0;
    const t0 = performance.now();
    try {
      for (let i = 0; i < count; i++) {
        const r = await runChallenge(sessionChallengeChannel(session), {
          witnessKey,
          leaseId: 0n,
          n,
          claimedGflops,
        });
        if (r.verdict === 'pass') pass++;
        else if (r.verdict === 'late') late++;
        else other++;
        if (r.commitMs !== undefined) commits.push(r.commitMs);
        deadlines.push(r.deadlineMs);
        if ((i + 1) % 250 === 0)
          console.log(`witness: deadlines ${i + 1}/${count}: ${late} late, ${other} other`);
      }
    } finally {
      await session.close();
    }
    commits.sort((a, b) => a - b);
    deadlines.sort((a, b) => a - b);
    const r2 = (x: number) => Number(x.toFixed(2));
    return {
      n,
      claimedGflops,
      challenges: count,
      pass,
      late,
      other,
      missedPct: r2(((late + other) / count) * 100),
      commitMsP50: r2(quantile(commits, 0.5)),
      commitMsP99: r2(quantile(commits, 0.99)),
      commitMsMax: r2(commits.at(-1) ?? 0),
      deadlineMsP50: r2(quantile(deadlines, 0.5)),
      seconds: r2((performance.now() - t0) / 1000),
    };
  } finally {
    await executor.stop(1_000);
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function deadlineMarkdown(r: DeadlineRow): string {
  return [
    '| n | claimed | challenges | late | other | missed | commit p50 / p99 / max | deadline p50 | run |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${r.n} | ${r.claimedGflops} GFLOP/s | ${r.challenges} | ${r.late} | ${r.other} | ${r.missedPct} % | ${r.commitMsP50} / ${r.commitMsP99} / ${r.commitMsMax} ms | ${r.deadlineMsP50} ms | ${r.seconds} s |`,
  ].join('\n');
}
