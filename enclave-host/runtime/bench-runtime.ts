import { FunctionRuntime } from './function-runtime.js';

/*
 * What the runtime costs per call, without any session or signatures: instantiate + run of `echo`
 * in a fresh instance (worker clock, `usage.wallMicros`), and the end-to-end `invoke` latency and
 * throughput seen by the caller (dispatch to a worker, copies, result). For bench/run.ts:
 *   benchRuntime({ echoWasm: await buildExample('echo') })   // examples/build-example.ts
 */

export interface RuntimeBenchRow {
  readonly payloadBytes: number;
  readonly concurrency: number;
  readonly calls: number;
  /** Instantiate + `_start`, in the worker. */
  readonly workerP50Micros: number;
  readonly invokeP50Ms: number;
  readonly invokeP99Ms: number;
  readonly callsPerSecond: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export interface RuntimeBenchOptions {
  /** examples/echo.wat compiled (stdin → stdout). */
  readonly echoWasm: Uint8Array;
  readonly workers?: number;
  readonly cases?: readonly { payloadBytes: number; concurrency: number; calls: number }[];
}

export async function benchRuntime(opts: RuntimeBenchOptions): Promise<RuntimeBenchRow[]> {
  const cases = opts.cases ?? [
    { payloadBytes: 0, concurrency: 1, calls: 2000 },
    { payloadBytes: 1024, concurrency: 1, calls: 2000 },
    { payloadBytes: 1024, concurrency: 32, calls: 4000 },
    { payloadBytes: 1 << 20, concurrency: 1, calls: 100 },
    { payloadBytes: 1 << 20, concurrency: 32, calls: 200 },
  ];
  const rt = new FunctionRuntime({
    ...(opts.workers === undefined ? {} : { workers: opts.workers }),
    limits: { memoryBytes: 64 << 20, wallTimeMs: 10_000, maxInputBytes: 2 << 20, maxOutputBytes: 2 << 20 },
  });
  try {
    const echo = await rt.register(opts.echoWasm);
    const rows: RuntimeBenchRow[] = [];
    for (const c of cases) {
      const input = new Uint8Array(c.payloadBytes).fill(0x61);
      for (let i = 0; i < Math.min(50, c.calls); i++) await rt.invoke(echo, input); // warm-up
      const latencies: number[] = [];
      const worker: number[] = [];
      let next = 0;
      const t0 = performance.now();
      const lanes = Array.from({ length: c.concurrency }, async () => {
        // Bounded: each lane takes call numbers until `calls` are handed out.
        while (next < c.calls) {
          next++;
          const t = performance.now();
          const r = await rt.invoke(echo, input);
          latencies.push(performance.now() - t);
          worker.push(Number(r.usage.wallMicros));
        }
      });
      await Promise.all(lanes);
      const seconds = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      worker.sort((a, b) => a - b);
      rows.push({
        payloadBytes: c.payloadBytes,
        concurrency: c.concurrency,
        calls: c.calls,
        workerP50Micros: quantile(worker, 0.5),
        invokeP50Ms: quantile(latencies, 0.5),
        invokeP99Ms: quantile(latencies, 0.99),
        callsPerSecond: c.calls / seconds,
      });
    }
    return rows;
  } finally {
    await rt.close();
  }
}
