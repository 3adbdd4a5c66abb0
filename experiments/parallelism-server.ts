import { createInterface } from 'node:readline';
import type { Policy } from '../attestation/policy.js';
import { type Harness, startExecutor } from '../test/e2e-harness.js';
import { SlotRuntime } from './lb-fleet.js';

/*
 * The executors of `npm run experiments -- parallelism`, in a child process of the client so that
 * client and executors each have their own event loop (and the machine's two cores can both work).
 * Argument: JSON { executors, extraMs }. Starts that many standalone executors (simulated TEE,
 * 127.0.0.1), each a SlotRuntime (one worker behind a FIFO, experiments/lb-fleet.ts), and prints
 * `READY {"endpoints": […], "policies": […]}`. Then, one command a line on stdin:
 *   `mark`  → starts a measurement window; answers `MARKED`;
 *   `stats` → answers `STATS {"busyMs", "cpuMs", "eventLoop"}` for the window: the slots' busy time,
 *             this process's CPU time and its main thread's busy share.
 * Stops when stdin closes or on SIGTERM.
 */

export interface ServerStats {
  readonly busyMs: number;
  readonly cpuMs: number;
  readonly eventLoop: number;
}

export interface ServerReady {
  readonly endpoints: readonly string[];
  readonly policies: readonly Policy[];
}

async function main(): Promise<void> {
  const arg = JSON.parse(process.argv[2] ?? '{}') as { executors?: number; extraMs?: number };
  const k = Math.max(1, Math.min(64, Math.floor(arg.executors ?? 1)));
  const extraMs = Math.max(0, Number(arg.extraMs ?? 0));
  const runtimes: SlotRuntime[] = [];
  const harnesses: Harness[] = [];
  for (let i = 0; i < k; i++) {
    const runtime = new SlotRuntime(extraMs);
    runtimes.push(runtime);
    harnesses.push(
      await startExecutor({ runtime, batchMaxCalls: 64, batchMaxMillis: 50, maxSessionsPerPeer: 64 }),
    );
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    for (const h of harnesses) await h.stop();
    for (const r of runtimes) await r.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  let elu0 = performance.eventLoopUtilization();
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (l) => {
    if (l === 'mark') {
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      elu0 = performance.eventLoopUtilization();
      process.stdout.write('MARKED\n');
    } else if (l === 'stats') {
      const t1 = performance.now();
      const cpu = process.cpuUsage(cpu0);
      const stats: ServerStats = {
        busyMs: runtimes.reduce((a, r) => a + r.busyWithin(t0, t1), 0),
        cpuMs: (cpu.user + cpu.system) / 1000,
        eventLoop: performance.eventLoopUtilization(elu0).utilization,
      };
      process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
    }
  });
  lines.on('close', () => void stop());
  const ready: ServerReady = {
    endpoints: harnesses.map((h) => h.endpoint),
    policies: harnesses.map((h) => h.policy),
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
}

if (process.argv[1]?.endsWith('parallelism-server.ts')) await main();
