import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type MatmulEngine, matmulLayout, startMatmulEngine } from '../enclave-host/challenge/engine.js';
import { expandChallengeMatrices } from '../protocol/challenge-matrices.js';
import { freivalds, freivaldsReference } from '../verifier/freivalds.js';
import { finishMachineInfo, machineInfo, machineMarkdown } from './machine.js';
import type { Section } from './section.js';
import { deadlineMarkdown, deadlineRows } from './witness-deadlines.js';
import { type FloorRow, floorRow } from './witness-floor.js';

/*
 * `npm run bench -- witness`: what a capacity challenge costs each side.
 * - matmul: the executor's engine (enclave-host/challenge/engine.ts) in GFLOP/s (2n³ / wall time,
 *   best of a few after warm-up, including staging, packing and copying C out) on 1 and 2 workers,
 *   beside a naive JavaScript triple loop (i-k-j, typed arrays) and numpy's matmul (OpenBLAS, f64) on
 *   one core, when `python3 -c "import numpy"` works;
 * - kernel: matmul.wasm alone on this thread (pack and multiply, no staging, no copy of C, no
 *   workers), to separate the kernel's speed from what moving bytes costs around it;
 * - witness: the witness's CPU for Freivalds (k = 2) on the product, in WebAssembly (`freivalds()`,
 *   verifier/freivalds-wasm.ts) and in plain JavaScript (`freivaldsReference`, one `randomInt` per
 *   vector entry), over the executor's CPU for the product on 1 worker (process CPU time, all
 *   threads), and the witness's cost to expand A and B from the seed (protocol/challenge-matrices.ts);
 * - floor: reading C once at n = 1024 (JS and WebAssembly) and copying A, B, C into a WebAssembly
 *   memory (bench/witness-floor.ts), the least any check of that product costs.
 * Each part is a function returning rows, so rows can be added without touching the others.
 */

const gflops = (n: number, ms: number) => (2 * n ** 3) / (ms * 1e6);
const round = (x: number, d = 2) => Number(x.toFixed(d));

/** Best wall time of `runs` runs after `warmup` unmeasured ones. */
async function bestMs(fn: () => Promise<unknown> | unknown, runs: number, warmup: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Process CPU time (user + system, every thread) of one call, in ms. */
async function cpuMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
}

function factors(n: number) {
  return expandChallengeMatrices(randomBytes(32), n);
}

/** C = A·B in the i-k-j order on typed arrays: what a straightforward JavaScript executor would do. */
export function naiveMultiply(n: number, a: Uint8Array, b: Uint8Array): Int32Array {
  const c = new Int32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const x = a[i * n + k]!;
      const row = k * n;
      const out = i * n;
      for (let j = 0; j < n; j++) c[out + j]! += x * b[row + j]!;
    }
  return c;
}

const NUMPY_SCRIPT = `
import sys, time, numpy as np
n, runs = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
a = rng.integers(0, 256, (n, n)).astype(np.float64)
b = rng.integers(0, 256, (n, n)).astype(np.float64)
a @ b
best = min((lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(runs))
print(best * 1000)
`;

/** numpy's matmul time on one core (OPENBLAS_NUM_THREADS=1), or why it could not be measured. */
function numpyMs(n: number, runs: number): { ms: number } | { skipped: string } {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const probe = spawnSync('python3', ['-c', 'import numpy'], { env, encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0)
    return { skipped: 'python3 with numpy is not available here' };
  const r = spawnSync('python3', ['-c', NUMPY_SCRIPT, String(n), String(runs)], { env, encoding: 'utf8' });
  const ms = Number(r.stdout.trim());
  if (r.status !== 0 || !Number.isFinite(ms))
    return { skipped: `numpy run failed: ${r.stderr.trim().slice(-200)}` };
  return { ms };
}

export interface MatmulRow {
  readonly n: number;
  readonly engine1Gflops: number;
  readonly engine2Gflops: number;
  readonly naiveGflops: number;
  readonly numpyGflops: number | null;
  readonly numpyNote?: string;
}

async function matmulRows(
  engines: Record<1 | 2, MatmulEngine>,
  sizes: readonly number[],
): Promise<MatmulRow[]> {
  const rows: MatmulRow[] = [];
  for (const n of sizes) {
    const { a, b } = factors(n);
    const e1 = await bestMs(() => engines[1].multiply(n, a, b), 5, 2);
    const e2 = await bestMs(() => engines[2].multiply(n, a, b), 5, 2);
    const naive = await bestMs(() => naiveMultiply(n, a, b), n >= 1024 ? 1 : 2, 0);
    const np = numpyMs(n, 5);
    rows.push({
      n,
      engine1Gflops: round(gflops(n, e1)),
      engine2Gflops: round(gflops(n, e2)),
      naiveGflops: round(gflops(n, naive)),
      numpyGflops: 'ms' in np ? round(gflops(n, np.ms)) : null,
      ...('skipped' in np ? { numpyNote: np.skipped } : {}),
    });
    console.log(`witness: matmul n = ${n}`, rows.at(-1));
  }
  return rows;
}

interface KernelExports {
  pack_a(src: number, dst: number, kc: number, p0: number, p1: number): void;
  pack_b(src: number, dst: number, kc: number, ldb: number, q0: number, q1: number): void;
  matmul(
    a: number,
    b: number,
    c: number,
    kc: number,
    ldc: number,
    p0: number,
    p1: number,
    nq: number,
    qb: number,
  ): void;
}
interface WasmJs {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: KernelExports };
  Memory: new (d: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer };
}

export interface KernelRow {
  readonly n: number;
  readonly packMs: number;
  readonly kernelGflops: number;
}

/** The kernel alone, laid out as the engine lays it out (one thread, B blocks of 512 KiB). */
async function kernelRows(sizes: readonly number[]): Promise<KernelRow[]> {
  const wasm = (globalThis as unknown as { WebAssembly: WasmJs }).WebAssembly;
  const module = new wasm.Module(
    readFileSync(new URL('../enclave-host/challenge/matmul.wasm', import.meta.url)),
  );
  const rows: KernelRow[] = [];
  for (const n of sizes) {
    const l = matmulLayout(n);
    const memory = new wasm.Memory({ initial: Math.ceil(l.bytes / 65_536), maximum: 4096, shared: true });
    const k = new wasm.Instance(module, { env: { memory } }).exports;
    const { a, b } = factors(n);
    const u8 = new Uint8Array(memory.buffer);
    const kp = l.kc * 8;
    for (let i = 0; i < n; i++) u8.set(a.subarray(i * n, i * n + n), l.stageA + i * kp);
    for (let i = 0; i < n; i++) u8.set(b.subarray(i * n, i * n + n), l.stageB + i * l.ldb);
    const pack = () => {
      k.pack_a(l.stageA, l.aOff, l.kc, 0, l.np);
      k.pack_b(l.stageB, l.bOff, l.kc, l.ldb, 0, l.nq);
    };
    const packMs = await bestMs(pack, 5, 20);
    const qb = Math.max(1, Math.floor((512 * 1024) / (4 * l.kc * 16)));
    const mulMs = await bestMs(() => k.matmul(l.aOff, l.bOff, l.cOff, l.kc, l.ldc, 0, l.np, l.nq, qb), 5, 20);
    rows.push({ n, packMs: round(packMs, 3), kernelGflops: round(gflops(n, mulMs)) });
    console.log(`witness: kernel n = ${n}`, rows.at(-1));
  }
  return rows;
}

export interface WitnessRow {
  readonly n: number;
  readonly executorCpuMs: number;
  /** The JavaScript reference (freivaldsReference). */
  readonly freivaldsCpuMs: number;
  /** freivalds(): WebAssembly SIMD. */
  readonly freivaldsWasmCpuMs: number;
  readonly expandCpuMs: number;
  /** freivaldsCpuMs / executorCpuMs. */
  readonly ratio: number;
  /** freivaldsWasmCpuMs / executorCpuMs. */
  readonly wasmRatio: number;
}

async function witnessRows(
  engine: MatmulEngine,
  sizes: readonly number[],
  floorN: number,
): Promise<{ rows: WitnessRow[]; floor: FloorRow | null }> {
  const rows: WitnessRow[] = [];
  let floor: FloorRow | null = null;
  for (const n of sizes) {
    const seed = randomBytes(32);
    const expandCpuMs = Math.min(
      ...(await Promise.all([0, 1, 2].map(() => cpuMs(() => expandChallengeMatrices(seed, n))))),
    );
    const { a, b } = expandChallengeMatrices(seed, n);
    let c = await engine.multiply(n, a, b);
    const executor: number[] = [];
    for (let i = 0; i < 5; i++) executor.push(await cpuMs(async () => (c = await engine.multiply(n, a, b))));
    // JS and WebAssembly interleaved, so both see the same load; the first two of each unmeasured
    const js: number[] = [];
    const wasm: number[] = [];
    for (let i = 0; i < 12; i++) {
      const tj = await cpuMs(() => {
        if (!freivaldsReference(n, a, b, c).ok) throw new Error('the engine gave a wrong product');
      });
      const tw = await cpuMs(() => {
        if (!freivalds(n, a, b, c).ok) throw new Error('the engine gave a wrong product');
      });
      if (i >= 2) {
        js.push(tj);
        wasm.push(tw);
      }
    }
    const executorCpuMs = Math.min(...executor);
    const freivaldsCpuMs = Math.min(...js);
    const freivaldsWasmCpuMs = Math.min(...wasm);
    rows.push({
      n,
      executorCpuMs: round(executorCpuMs),
      freivaldsCpuMs: round(freivaldsCpuMs),
      freivaldsWasmCpuMs: round(freivaldsWasmCpuMs, 3),
      expandCpuMs: round(expandCpuMs),
      ratio: round(freivaldsCpuMs / executorCpuMs, 4),
      wasmRatio: round(freivaldsWasmCpuMs / executorCpuMs, 4),
    });
    if (n === floorN) floor = await floorRow(n, a, b, c);
    console.log(`witness: witness CPU n = ${n}`, rows.at(-1));
  }
  if (floor !== null) console.log('witness: memory floor', floor);
  return { rows, floor };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function matmulMarkdown(rows: readonly MatmulRow[]): string {
  const lines = [
    '| n | engine, 1 worker | engine, 2 workers | naive JS (i-k-j) | numpy f64, 1 core | 1 worker ÷ naive | 1 worker ÷ numpy |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.n} | ${r.engine1Gflops} | ${r.engine2Gflops} | ${r.naiveGflops} | ${r.numpyGflops ?? '—'} | ` +
        `${(r.engine1Gflops / r.naiveGflops).toFixed(1)}× | ${r.numpyGflops === null ? '—' : pct(r.engine1Gflops / r.numpyGflops)} |`,
    );
  const notes = [...new Set(rows.flatMap((r) => (r.numpyNote === undefined ? [] : [r.numpyNote])))];
  return [...lines, ...(notes.length > 0 ? ['', `numpy skipped: ${notes.join('; ')}.`] : [])].join('\n');
}

function kernelMarkdown(rows: readonly KernelRow[], matmul: readonly MatmulRow[]): string {
  const lines = [
    '| n | kernel alone, 1 thread | packing A and B | engine, 1 worker ÷ kernel alone |',
    '| ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const e = matmul.find((m) => m.n === r.n);
    lines.push(
      `| ${r.n} | ${r.kernelGflops} GFLOP/s | ${r.packMs} ms | ${e === undefined ? '—' : pct(e.engine1Gflops / r.kernelGflops)} |`,
    );
  }
  return lines.join('\n');
}

function witnessMarkdown(rows: readonly WitnessRow[]): string {
  const lines = [
    '| n | executor CPU (1 worker) | Freivalds k = 2, JS | JS ÷ executor | Freivalds k = 2, WebAssembly | WebAssembly ÷ executor | JS ÷ WebAssembly | expanding A, B from the seed |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.n} | ${r.executorCpuMs} ms | ${r.freivaldsCpuMs} ms | ${pct(r.ratio)} | ${r.freivaldsWasmCpuMs} ms | ` +
        `${pct(r.wasmRatio)} | ${(r.freivaldsCpuMs / r.freivaldsWasmCpuMs).toFixed(1)}× | ${r.expandCpuMs} ms |`,
    );
  return lines.join('\n');
}

/** The executor at 10 % of numpy's f64 matmul on one core (7.6 GFLOP/s): its product at n = 1024. */
const SLOW_EXECUTOR_MS_1024 = 283;
const TARGET = 0.02;

function floorSection(f: FloorRow, rows: readonly WitnessRow[]): string[] {
  const r = rows.find((x) => x.n === f.n);
  if (r === undefined) return [];
  const met = r.wasmRatio <= TARGET;
  const floorMs = f.wasmSumMs + f.copyMs;
  return [
    `The floor at n = ${f.n} (wall time, best of 20 to 50 after 5 unmeasured; \`bench/witness-floor.ts\`): ` +
      'only reading C once (4n² bytes, summing its entries), and the copy of A, B and C into a ' +
      'WebAssembly memory that the check above includes; then each pass of `freivalds.wasm` alone on ' +
      "the same product (the check's time less the copy, the draw of the vectors and the JS between " +
      'the passes); percentages of the executor CPU above.',
    '',
    floorMarkdown(f, r.executorCpuMs),
    '',
    `Target: the witness's check at most ${pct(TARGET)} of the executor's CPU at n = ${f.n}. ` +
      (met
        ? `Met: ${r.freivaldsWasmCpuMs} ms is ${pct(r.wasmRatio)} of ${r.executorCpuMs} ms.`
        : `Not met against this engine: ${r.freivaldsWasmCpuMs} ms is ${pct(r.wasmRatio)} of ${r.executorCpuMs} ms ` +
          `(${pct(TARGET)} would be ${(TARGET * r.executorCpuMs).toFixed(2)} ms), while only copying the ` +
          `inputs in and reading C once costs ${floorMs.toFixed(2)} ms (${pct(floorMs / r.executorCpuMs)}); ` +
          `the rest is arithmetic, most of it C·r: ${f.cPassMs.toFixed(2)} ms (${pct(f.cPassMs / r.executorCpuMs)}) ` +
          'for 2n² exact products of 28-bit entries by 31-bit ones, two per i64x2.extmul.') +
      ` Against an executor at 10 % of numpy (7.6 GFLOP/s: ${SLOW_EXECUTOR_MS_1024} ms for the product at ` +
      `n = 1024) the same check is ${pct(r.freivaldsWasmCpuMs / SLOW_EXECUTOR_MS_1024)}.`,
    '',
  ];
}

function floorMarkdown(f: FloorRow, executorCpuMs: number): string {
  const share = (ms: number) => `${ms.toFixed(3)} ms (${pct(ms / executorCpuMs)})`;
  return [
    '| n | read C once, JS loop | read C once, WebAssembly SIMD | copy A, B, C into WebAssembly memory |',
    '| ---: | ---: | ---: | ---: |',
    `| ${f.n} | ${share(f.jsSumMs)} | ${share(f.wasmSumMs)} | ${share(f.copyMs)} |`,
    '',
    '| n | range check of C | B·r (both rounds) | A·(B·r) | C·r (both rounds) |',
    '| ---: | ---: | ---: | ---: | ---: |',
    `| ${f.n} | ${share(f.rangeMs)} | ${share(f.bPassMs)} | ${share(f.aPassMs)} | ${share(f.cPassMs)} |`,
  ].join('\n');
}

export async function benchWitness(): Promise<Section> {
  const machine = machineInfo();
  const one = await startMatmulEngine({ workers: 1 });
  const two = await startMatmulEngine({ workers: 2 });
  try {
    const matmul = await matmulRows({ 1: one, 2: two }, [512, 1024]);
    const kernel = await kernelRows([512, 1024]);
    const { rows: witness, floor } = await witnessRows(one, [256, 512, 1024], 1024);
    const deadlines = await deadlineRows(1000, 256, 10);
    finishMachineInfo(machine);
    const markdown = [
      '## Capacity challenges',
      '',
      machineMarkdown(machine),
      '',
      "The executor's exact product of byte matrices (`enclave-host/challenge/engine.ts`: WebAssembly SIMD, " +
        '2×4 tiles of `i32x4.dot_i16x8_s`, worker threads on one shared memory), in GFLOP/s = 2n³ / wall time, ' +
        'best of 5 after 2 warm-up runs, including copying A and B in, packing and copying C out; naive JS: ' +
        'best of 2 (one run at 1024); numpy: `a @ b` on float64 with `OPENBLAS_NUM_THREADS=1`, best of 5. `bench/witness.ts`.',
      '',
      matmulMarkdown(matmul),
      '',
      'The kernel alone (`matmul.wasm` on the bench thread: packing, then the product in place; no workers, ' +
        'no copies in or out), best of 5 after 20 warm-up runs. The gap to the engine is mostly the result: ' +
        'each product returns a fresh Int32Array (4n² bytes), and the first touch of fresh memory costs ' +
        'several ms per MiB in this VM; the engine touches it while the workers compute.',
      '',
      kernelMarkdown(kernel, matmul),
      '',
      'What the witness spends to check a product (process CPU time; executor best of 5, each check best ' +
        'of 10 after 2 unmeasured, JS and WebAssembly interleaved): Freivalds with k = 2, range check ' +
        "included, against the executor's CPU for the product on one worker. WebAssembly: `freivalds()` " +
        '(`verifier/freivalds-wasm.ts`: copying A, B and C into its memory, the range check, drawing the ' +
        'vectors from one CSPRNG read, one SIMD pass over each matrix for both rounds). JS: ' +
        '`freivaldsReference`, the plain loop, one round at a time, one `randomInt` call per vector entry. ' +
        'Expanding A and B from the seed (SHAKE256) is shown apart, for scale.',
      '',
      witnessMarkdown(witness),
      '',
      ...(floor === null ? [] : floorSection(floor, witness)),
      "Deadline misses of an honest executor under this machine's own load (`bench/witness-deadlines.ts`): " +
        '1,000 challenges in a row from one witness over a real session on 127.0.0.1, executor in the same ' +
        'process, claimed 10 GFLOP/s (the smallest TDX level), D = RTT_p95 + 1.5 · 2n³ / R_claimed + 50 ms. ' +
        'Target: at most 0.1 % missed.',
      '',
      deadlineMarkdown(deadlines),
    ].join('\n');
    return { name: 'witness', results: { machine, matmul, kernel, witness, floor, deadlines }, markdown };
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
}
