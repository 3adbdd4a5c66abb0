import { createHash, randomBytes } from 'node:crypto';
import { FunctionRuntime, type RuntimeLimits } from '../enclave-host/runtime/function-runtime.js';
import { setLazyCompilation } from '../enclave-host/runtime/wasm-api.js';
import { buildExample, compileWat } from '../examples/build-example.js';
import { finishMachineInfo, machineInfo, machineMarkdown } from './machine.js';
import type { Section } from './section.js';
import { fmt, measure, type Summary, summarise } from './stats.js';

/*
 * `npm run bench -- runtime`: the function runtime alone (no session, no gRPC), on the 2 workers a
 * 2-core executor runs.
 * - warm calls: 1 KiB echo and SHA-256 of 1 MiB (examples/sha256.wat), latency at concurrency 1 and
 *   throughput at concurrency 32 / 4;
 * - cold start: register + first call of a ~500 KB module, with V8's default lazy compilation (what
 *   the runtime did before it compiled at deploy) and with whole-module compilation at register
 *   (what it does now), alternating in the same process; each sample has distinct bytes, so V8's
 *   module cache never serves one sample's code to the next;
 * - a hostile neighbour: a victim's 1 KiB echo latency alone, then while another tenant keeps 8
 *   infinite loops queued, with fair scheduling (now) and with one shared FIFO queue (before: both
 *   parties in the same queue, which is what the pool did without tenants).
 */

const LIMITS: RuntimeLimits = {
  memoryBytes: 64 * 1024 * 1024,
  wallTimeMs: 1_000,
  maxInputBytes: 2 * 1024 * 1024,
  maxOutputBytes: 2 * 1024 * 1024,
};

/** A WASI command of `n` small functions that `_start` calls once each (≈215 bytes per function). */
function largeModuleWat(n: number, salt: number): string {
  const parts = [
    '(module (import "wasi_snapshot_preview1" "fd_write" (func $fw (param i32 i32 i32 i32) (result i32)))',
    '(memory (export "memory") 1)',
  ];
  for (let i = 0; i < n; i++) {
    let body = '(local $a i32) (local.set $a (local.get 0))';
    for (let k = 0; k < 12; k++)
      body += ` (local.set $a (i32.add (i32.mul (local.get $a) (i32.const ${((i * 31 + k * 7) % 1000) + 3})) (i32.xor (local.get $a) (i32.const ${k + i}))))`;
    body +=
      ' (if (i32.gt_u (local.get $a) (i32.const 100)) (then (local.set $a (i32.rotl (local.get $a) (i32.const 3)))))';
    parts.push(`(func $f${i} (param i32) (result i32) ${body} (local.get $a))`);
  }
  let start = `(func (export "_start") (local $s i32) (local.set $s (i32.const ${salt}))`;
  for (let i = 0; i < n; i++) start += ` (local.set $s (call $f${i} (local.get $s)))`;
  start +=
    ' (i32.store (i32.const 0) (i32.const 8)) (i32.store (i32.const 4) (i32.const 4)) (i32.store (i32.const 8) (local.get $s))' +
    ' (drop (call $fw (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16))))';
  parts.push(start, ')');
  return parts.join('\n');
}

async function throughput(fn: () => Promise<unknown>, concurrency: number, maxMs: number, maxCalls: number) {
  let calls = 0;
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && calls < maxCalls) {
        await fn();
        calls++;
      }
    }),
  );
  return { calls, perSec: (calls * 1000) / (performance.now() - t0) };
}

interface ColdSample {
  readonly registerMs: number;
  readonly firstCallMs: number;
  readonly secondCallMs: number;
}

async function coldStart(rt: FunctionRuntime, lazy: boolean, salt: number): Promise<ColdSample> {
  const wasm = await compileWat(`large-${salt}.wat`, largeModuleWat(2_400, salt));
  setLazyCompilation(lazy);
  try {
    let t = performance.now();
    const id = await rt.register(wasm);
    const registerMs = performance.now() - t;
    t = performance.now();
    await rt.invoke(id, new Uint8Array(0), 'cold');
    const firstCallMs = performance.now() - t;
    t = performance.now();
    await rt.invoke(id, new Uint8Array(0), 'cold');
    return { registerMs, firstCallMs, secondCallMs: performance.now() - t };
  } finally {
    setLazyCompilation(false);
  }
}

async function victimLatency(opts: { fair: boolean; n: number; maxMs: number }): Promise<Summary> {
  const rt = new FunctionRuntime({ workers: 2, limits: LIMITS, maxQueuePerTenant: 1024 });
  try {
    const echo = await rt.register(await buildExample('echo'));
    const loop = await rt.register(await buildExample('infinite-loop'));
    const input = randomBytes(1024);
    let hostile = true;
    const neighbour = opts.fair ? 'mallory' : '';
    const victim = opts.fair ? 'alice' : '';
    // The neighbour keeps 8 loops queued: each one that times out is replaced at once.
    const loops = Array.from({ length: 8 }, async () => {
      while (hostile) await rt.invoke(loop, new Uint8Array(0), neighbour).catch(() => undefined);
    });
    await new Promise((r) => setTimeout(r, 50));
    const s = await measure(() => rt.invoke(echo, input, victim), {
      n: opts.n,
      warmup: 0,
      maxMs: opts.maxMs,
    });
    hostile = false;
    await rt.close();
    await Promise.all(loops);
    return s;
  } finally {
    await rt.close();
  }
}

export async function benchRuntime(): Promise<Section> {
  const machine = machineInfo();
  const rt = new FunctionRuntime({ workers: 2, limits: LIMITS });
  const echo = await rt.register(await buildExample('echo'));
  const sha = await rt.register(await buildExample('sha256'));
  const kib = randomBytes(1024);
  const mib = randomBytes(1024 * 1024);
  const digest = createHash('sha256').update(mib).digest('hex');
  const shaOut = await rt.invoke(sha, mib, 'bench');
  if (
    Buffer.from(shaOut.output).toString('hex') !== digest &&
    Buffer.from(shaOut.output).toString() !== digest
  )
    throw new Error('sha256 example disagrees with node:crypto');

  console.log('runtime: warm calls');
  const echoLat = await measure(() => rt.invoke(echo, kib, 'bench'), {
    n: 3_000,
    warmup: 200,
    maxMs: 10_000,
  });
  const echoTput = await throughput(() => rt.invoke(echo, kib, 'bench'), 32, 5_000, 50_000);
  const shaLat = await measure(() => rt.invoke(sha, mib, 'bench'), { n: 200, warmup: 10, maxMs: 15_000 });
  const shaTput = await throughput(() => rt.invoke(sha, mib, 'bench'), 4, 5_000, 2_000);
  const hashLat = await measure(() => createHash('sha256').update(mib).digest(), { n: 200, warmup: 10 });

  console.log('runtime: cold start (lazy vs compiled at register)');
  const cold: { lazy: ColdSample[]; eager: ColdSample[] } = { lazy: [], eager: [] };
  const coldRt = new FunctionRuntime({ workers: 1, limits: LIMITS, maxFunctions: 64 });
  await coldRt.invoke(await coldRt.register(await buildExample('echo')), kib, 'cold'); // worker ready
  for (let i = 0; i < 12; i++) {
    cold.lazy.push(await coldStart(coldRt, true, 2 * i));
    cold.eager.push(await coldStart(coldRt, false, 2 * i + 1));
  }
  const moduleBytes = (await compileWat('large.wat', largeModuleWat(2_400, 0))).length;
  await coldRt.close();
  await rt.close();
  const med = (xs: ColdSample[], k: keyof ColdSample) => summarise(xs.map((x) => x[k])).medianMs;

  console.log('runtime: victim latency under a hostile neighbour');
  const alone = await (async () => {
    const r = new FunctionRuntime({ workers: 2, limits: LIMITS });
    try {
      const e = await r.register(await buildExample('echo'));
      return await measure(() => r.invoke(e, kib, 'alice'), { n: 500, warmup: 50, maxMs: 10_000 });
    } finally {
      await r.close();
    }
  })();
  const fair = await victimLatency({ fair: true, n: 500, maxMs: 15_000 });
  const fifo = await victimLatency({ fair: false, n: 5, maxMs: 30_000 });

  const results = {
    machine: finishMachineInfo(machine),
    limits: LIMITS,
    warm: {
      echo1KiB: { latency: echoLat, throughputC32: echoTput },
      sha256MiB: { latency: shaLat, throughputC4: shaTput, nodeCryptoSameInput: hashLat },
    },
    coldStart: { moduleBytes, functions: 2_400, samples: cold },
    hostileNeighbour: { alone, fair, fifo },
  };
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
  const markdown = [
    '## Function runtime',
    '',
    machineMarkdown(results.machine),
    '',
    'The runtime alone (`FunctionRuntime`, no session or gRPC), 2 workers on the 2 cores; `bench/runtime.ts`.',
    '',
    '| warm call | p50 | p99 | throughput |',
    '| --- | ---: | ---: | ---: |',
    `| echo 1 KiB | ${fmt(echoLat.medianMs)} | ${fmt(echoLat.p99Ms)} | ${echoTput.perSec.toFixed(0)} calls/s (c=32) |`,
    `| SHA-256 of 1 MiB (examples/sha256.wat) | ${fmt(shaLat.medianMs)} | ${fmt(shaLat.p99Ms)} | ${shaTput.perSec.toFixed(0)} calls/s (c=4) |`,
    `| node:crypto SHA-256 of the same 1 MiB, for scale | ${fmt(hashLat.medianMs)} | ${fmt(hashLat.p99Ms)} | — |`,
    '',
    `**Cold start**, a ${(moduleBytes / 1024).toFixed(0)} KiB module of 2,400 functions that \`_start\` calls once each, 12 samples per mode alternating, medians:`,
    '',
    '| compilation | register | first call | second call |',
    '| --- | ---: | ---: | ---: |',
    `| lazy (V8 default; before) | ${fmt(med(cold.lazy, 'registerMs'))} | ${fmt(med(cold.lazy, 'firstCallMs'))} | ${fmt(med(cold.lazy, 'secondCallMs'))} |`,
    `| whole module at register (now) | ${fmt(med(cold.eager, 'registerMs'))} | ${fmt(med(cold.eager, 'firstCallMs'))} | ${fmt(med(cold.eager, 'secondCallMs'))} |`,
    '',
    `First call: ${ratio(med(cold.lazy, 'firstCallMs'), med(cold.eager, 'firstCallMs'))} faster; the compile moves into \`register\` (deploy).`,
    '',
    "**A hostile neighbour**: the victim's 1 KiB echo, sequential, while another tenant keeps 8 infinite loops queued (wall-time limit 1 s):",
    '',
    '| victim | n | p50 | p99 |',
    '| --- | ---: | ---: | ---: |',
    `| alone | ${alone.n} | ${fmt(alone.medianMs)} | ${fmt(alone.p99Ms)} |`,
    `| beside the neighbour, fair scheduling (now) | ${fair.n} | ${fmt(fair.medianMs)} | ${fmt(fair.p99Ms)} |`,
    `| beside the neighbour, one FIFO queue (before) | ${fifo.n} | ${fmt(fifo.medianMs)} | ${fmt(fifo.p99Ms)} |`,
    '',
    `With fair scheduling the neighbour holds one worker and the victim's p50 is ${ratio(fair.medianMs, alone.medianMs)} its p50 alone; in one FIFO queue every victim call waits behind the loops (${ratio(fifo.medianMs, fair.medianMs)} the fair p50).`,
  ].join('\n');
  return { name: 'runtime', results, markdown };
}
