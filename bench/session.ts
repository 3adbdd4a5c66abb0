import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { Wallet, ZeroAddress } from 'ethers';
import type { Policy } from '../attestation/policy.js';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import type { ServerHello__Output } from '../proto/gen/defaas/executor/v1/ServerHello.js';
import { loadProtos, sessionCodec } from '../proto/load.js';
import { FrameCipher } from '../protocol/frame-cipher.js';
import { recoverDigestSigner, signDigest } from '../protocol/secp256k1.js';
import type { CallRecord } from '../protocol/typed-data.js';
import {
  chainHeadsFast,
  nextRequestHeadFast,
  receiptDigestFast,
  voucherDigestFast,
} from '../protocol/typed-data-fast.js';
import { connect, type FunctionHandle, type Session } from '../sdk/index.js';
import { finishHandshake, startHandshake } from '../sdk/session/handshake.js';
import { finishMachineInfo, type MachineInfo, machineInfo, machineMarkdown } from './machine.js';
import type { Section } from './section.js';
import { BASELINE_PATH, BENCH_LIMITS } from './session-server.js';
import { fmt, type Summary, summarise } from './stats.js';

/*
 * The attested session against plain gRPC. The servers run in a child process
 * (bench/session-server.ts): a plain grpc-js unary method (raw bytes, no session, no signatures) and
 * the defaas executor (simulated TEE), both calling the same FunctionRuntime with the same `echo`
 * module. This process is the client. Everything is on 127.0.0.1 and bounded in count and time.
 *
 * Measured:
 * - session setup: `connect()` (ClientHello → ServerHello → evidence + policy + binding + transcript
 *   signature checks → keys) then `close()`, normal and fresh mode;
 * - warm invoke latency and throughput, 1 KiB and 1 MiB, concurrency 1 and 32, for the baseline,
 *   per-call receipts (`invoke`: output + verified receipt) and batched receipts (`invokeDeferred`:
 *   output latency; the receipt latency is measured separately, from the call's start until its
 *   verified receipt resolves);
 * - a breakdown: micro-benchmarks of each step on the same payload sizes, in this process.
 */

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..');

const KIB = 1024;
const MIB = 1024 * 1024;

interface CaseSpec {
  readonly payload: number;
  readonly concurrency: number;
  readonly calls: number;
  readonly warmup: number;
  readonly maxMs: number;
}

const CASES: readonly CaseSpec[] = [
  { payload: KIB, concurrency: 1, calls: 600, warmup: 50, maxMs: 4_000 },
  { payload: KIB, concurrency: 32, calls: 3_000, warmup: 200, maxMs: 5_000 },
  { payload: MIB, concurrency: 1, calls: 80, warmup: 8, maxMs: 5_000 },
  { payload: MIB, concurrency: 32, calls: 240, warmup: 32, maxMs: 7_000 },
];

const SETUP = { n: 200, warmup: 10, maxMs: 4_000 };

type Mode = 'baseline' | 'per-call' | 'batched';

interface CaseResult {
  readonly mode: Mode;
  readonly payload: number;
  readonly concurrency: number;
  readonly calls: number;
  readonly seconds: number;
  /** Time to the output (per-call: output and verified receipt together). */
  readonly latency: Summary;
  /** Batched: from the call's start until its verified receipt resolved. */
  readonly receiptLatency?: Summary;
  /** Calls per second, counting a call done when its output and its receipt are in. */
  readonly callsPerSecond: number;
  readonly mibPerSecond: number;
}

// ---- child process with the servers ----

interface ServerInfo {
  readonly pid: number;
  readonly baselinePort: number;
  readonly executorPort: number;
  readonly rootKeyHash: string;
  readonly mrTd: string;
}

async function startServers(): Promise<{ child: ChildProcess; info: ServerInfo }> {
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'bin', 'run-ts.mjs'), join(here, 'session-server.ts')],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<ServerInfo>((resolveInfo, reject) => {
    const t = setTimeout(() => reject(new Error('bench servers did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`bench servers exited with code ${code}`)));
    lines.on('line', (l) => {
      if (!l.startsWith('READY ')) return;
      clearTimeout(t);
      resolveInfo(JSON.parse(l.slice(6)) as ServerInfo);
    });
  });
  return { child, info };
}

async function stopServers(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const t = setTimeout(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, 5_000);
  await exited;
  clearTimeout(t);
}

// ---- load generator ----

/** Resolves when the output is in; `receipt` (batched) resolves when the verified receipt is in. */
type OneCall = (input: Uint8Array) => Promise<{ output: Uint8Array; receipt?: Promise<unknown> }>;

async function runCase(mode: Mode, spec: CaseSpec, call: OneCall): Promise<CaseResult> {
  const input = new Uint8Array(randomBytes(spec.payload));
  // Warm-up (also checks the output once in full).
  const first = await call(input);
  if (!Buffer.from(first.output).equals(Buffer.from(input))) throw new Error(`${mode}: echo output differs`);
  await first.receipt;
  const warm: Promise<unknown>[] = [];
  let w = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (w < spec.warmup) {
        w++;
        const r = await call(input);
        if (r.receipt) warm.push(r.receipt);
      }
    }),
  );
  await Promise.all(warm);

  const latencies: number[] = [];
  const receiptLatencies: number[] = [];
  const receipts: Promise<unknown>[] = [];
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + spec.maxMs;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (next < spec.calls && performance.now() < deadline) {
        next++;
        const t = performance.now();
        const r = await call(input);
        latencies.push(performance.now() - t);
        if (r.output.length !== input.length) throw new Error(`${mode}: output has ${r.output.length} bytes`);
        if (r.receipt)
          receipts.push(
            r.receipt.then(() => {
              receiptLatencies.push(performance.now() - t);
            }),
          );
      }
    }),
  );
  await Promise.all(receipts);
  const seconds = (performance.now() - t0) / 1000;
  const calls = latencies.length;
  return {
    mode,
    payload: spec.payload,
    concurrency: spec.concurrency,
    calls,
    seconds,
    latency: summarise(latencies),
    ...(receiptLatencies.length > 0 && { receiptLatency: summarise(receiptLatencies) }),
    callsPerSecond: calls / seconds,
    mibPerSecond: (calls * spec.payload) / MIB / seconds,
  };
}

function baselineCall(client: grpc.Client): OneCall {
  const raw = (b: Buffer) => b;
  return (input) =>
    new Promise((res, rej) =>
      client.makeUnaryRequest(
        BASELINE_PATH,
        raw,
        raw,
        Buffer.from(input.buffer, input.byteOffset, input.length),
        (e, r) => (e || !r ? rej(e ?? new Error('empty response')) : res({ output: r })),
      ),
    );
}

function perCallCall(s: Session, fn: FunctionHandle, wallet: Wallet): OneCall {
  return async (input) => {
    const r = await s.invoke(fn, input, { wallet });
    return { output: r.output };
  };
}

function batchedCall(s: Session, fn: FunctionHandle, wallet: Wallet): OneCall {
  return async (input) => {
    const r = await s.invokeDeferred(fn, input, { wallet });
    return { output: r.output, receipt: r.receipt };
  };
}

// ---- session setup ----

/** Handshake only, over one gRPC connection kept open: what a re-handshake (Session.reconnect) costs. */
async function measureHandshake(
  endpoint: string,
  policy: Policy,
  mode: 'normal' | 'fresh',
): Promise<Summary> {
  const { executor } = loadProtos();
  const client = new executor.defaas.executor.v1.Executor(endpoint, grpc.credentials.createInsecure());
  const once = async () => {
    const hello = startHandshake(mode);
    const sh = await new Promise<ServerHello__Output>((res, rej) =>
      client.OpenSession(hello.message, (e, r) => (e || !r ? rej(e ?? new Error('empty')) : res(r))),
    );
    await finishHandshake(hello, sh, { policy, mode, now: new Date() });
  };
  try {
    return await timeAsync(once, SETUP.n, SETUP.maxMs, SETUP.warmup);
  } finally {
    client.close();
  }
}

async function measureSetup(endpoint: string, policy: Policy, mode: 'normal' | 'fresh'): Promise<Summary> {
  const once = async () => {
    const s = await connect(endpoint, { policy, mode });
    await s.close();
  };
  return timeAsync(once, SETUP.n, SETUP.maxMs, SETUP.warmup);
}

// ---- breakdown (micro-benchmarks) ----

interface Step {
  readonly step: string;
  readonly payload?: number;
  readonly summary: Summary;
}

function time(fn: () => unknown, n: number, maxMs = 1_500): Summary {
  for (let i = 0; i < Math.min(20, n); i++) fn();
  const samples: number[] = [];
  const deadline = performance.now() + maxMs;
  for (let i = 0; i < n && performance.now() < deadline; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return summarise(samples);
}

async function timeAsync(
  fn: () => Promise<unknown>,
  n: number,
  maxMs = 3_000,
  warmup = Math.min(10, n),
): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const deadline = performance.now() + maxMs;
  for (let i = 0; i < n && performance.now() < deadline; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return summarise(samples);
}

async function breakdown(
  echoWasm: Uint8Array,
): Promise<{ steps: Step[]; workerMicros: Record<number, number> }> {
  const steps: Step[] = [];
  const add = (step: string, summary: Summary, payload?: number) =>
    steps.push({ step, summary, ...(payload !== undefined && { payload }) });
  const priv = new Uint8Array(randomBytes(32));
  const domain = { chainId: 31337n, verifyingContract: ZeroAddress };
  const h32 = `0x${'ab'.repeat(32)}`;
  const voucher = {
    leaseId: 1234567890123n,
    firstNonce: 1n,
    lastNonce: 1n,
    requestHead: h32,
    cumulativeAmount: 1n,
    deadline: 2_000_000_000n,
  };
  const receipt = {
    leaseId: 1234567890123n,
    firstNonce: 1n,
    lastNonce: 1n,
    recordHead: h32,
    evidenceHash: h32,
    startedAt: 1_700_000_000_000n,
    finishedAt: 1_700_000_000_001n,
  };
  const digest = voucherDigestFast(domain, voucher);
  const sig = signDigest(priv, digest);
  add(
    'secp256k1 sign (tiny-secp256k1)',
    time(() => signDigest(priv, digest), 2_000),
  );
  add(
    'secp256k1 recover + address (tiny-secp256k1)',
    time(() => recoverDigestSigner(digest, sig), 2_000),
  );
  add(
    'EIP-712 voucher digest (typed-data-fast)',
    time(() => voucherDigestFast(domain, voucher), 5_000),
  );
  add(
    'EIP-712 receipt digest (typed-data-fast)',
    time(() => receiptDigestFast(domain, receipt), 5_000),
  );
  const rec: CallRecord = {
    nonce: 1n,
    functionHash: h32,
    inputHash: h32,
    outputHash: h32,
    usage: 100n,
    price: 0n,
  };
  add(
    'request head + record chain, 1 call',
    time(() => chainHeadsFast([rec], 1n, 1n), 5_000),
  );
  add(
    'request head, 1 call',
    time(() => nextRequestHeadFast(h32, rec), 5_000),
  );
  const codec = sessionCodec();
  const key = new Uint8Array(randomBytes(32));
  const id = new Uint8Array(randomBytes(16));
  const tx = new FrameCipher(key, 'c2s');
  for (const size of [KIB, MIB]) {
    const n = size === KIB ? 5_000 : 150;
    const data = new Uint8Array(randomBytes(size));
    add(
      'SHA-256 (node:crypto)',
      time(() => createHash('sha256').update(data).digest(), n),
      size,
    );
    const sealed = tx.seal(id, 7n, data);
    add(
      'ChaCha20-Poly1305 seal',
      time(() => tx.seal(id, 7n, data), n),
      size,
    );
    add(
      'ChaCha20-Poly1305 open',
      time(() => tx.open(id, 7n, sealed), n),
      size,
    );
    const req = {
      invoke: {
        leaseId: '1234567890123',
        client: `0x${'11'.repeat(20)}`,
        nonce: '1',
        functionId: Buffer.alloc(32, 1),
        input: Buffer.from(data),
      },
    };
    const enc = codec.encodeRequest(req);
    add(
      'protobuf encode SessionRequest{invoke}',
      time(() => codec.encodeRequest(req), n),
      size,
    );
    add(
      'protobuf decode SessionRequest{invoke}',
      time(() => codec.decodeRequest(enc), n),
      size,
    );
  }
  // Runtime alone: a FunctionRuntime in this process (2 workers), sequential calls.
  const rt = new FunctionRuntime({ workers: 2, limits: BENCH_LIMITS });
  const workerMicros: Record<number, number> = {};
  try {
    const fn = await rt.register(echoWasm);
    for (const size of [KIB, MIB]) {
      const data = new Uint8Array(randomBytes(size));
      const micros: number[] = [];
      const s = await timeAsync(
        async () => micros.push(Number((await rt.invoke(fn, data)).usage.wallMicros)),
        size === KIB ? 1_000 : 100,
      );
      add('runtime invoke (dispatch, fresh instance, copies), c=1', s, size);
      micros.sort((a, b) => a - b);
      workerMicros[size] = micros[Math.floor(micros.length / 2)] ?? Number.NaN;
    }
  } finally {
    await rt.close();
  }
  return { steps, workerMicros };
}

// ---- report ----

const size = (b: number) => (b >= MIB ? `${b / MIB} MiB` : `${b / KIB} KiB`);
const ms = (s: Summary) => `${fmt(s.medianMs)} / ${fmt(s.p99Ms)}`;
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
const signed = (d: number) => (d >= 0 ? `+${fmt(d)}` : `−${fmt(-d)}`);

interface Target {
  readonly what: string;
  readonly measured: string;
  readonly met: boolean;
}

function find(rs: readonly CaseResult[], mode: Mode, payload: number, c: number): CaseResult {
  const r = rs.find((x) => x.mode === mode && x.payload === payload && x.concurrency === c);
  if (!r) throw new Error(`no result for ${mode} ${payload} c=${c}`);
  return r;
}

function targets(rs: readonly CaseResult[], setup: Summary): Target[] {
  const base1k = find(rs, 'baseline', KIB, 1);
  const batched = find(rs, 'batched', KIB, 1);
  const perCall = find(rs, 'per-call', KIB, 1);
  const batched32 =
    find(rs, 'batched', KIB, 32).callsPerSecond / find(rs, 'baseline', KIB, 32).callsPerSecond;
  const out: Target[] = [
    {
      what: 'session setup p50 < 5 ms (normal mode)',
      measured: fmt(setup.medianMs),
      met: setup.medianMs < 5,
    },
    {
      what: 'batched, 1 KiB, c=1: p50 output latency − baseline p50 < 1 ms',
      measured: signed(batched.latency.medianMs - base1k.latency.medianMs),
      met: batched.latency.medianMs - base1k.latency.medianMs < 1,
    },
    {
      what: 'per-call, 1 KiB, c=1: p50 latency (with verified receipt) − baseline p50 < 2.5 ms',
      measured: signed(perCall.latency.medianMs - base1k.latency.medianMs),
      met: perCall.latency.medianMs - base1k.latency.medianMs < 2.5,
    },
    {
      what: 'batched, 1 KiB, c=32: throughput ≥ 60% of baseline',
      measured: pct(batched32),
      met: batched32 >= 0.6,
    },
  ];
  for (const c of [1, 32])
    for (const mode of ['per-call', 'batched'] as const) {
      const b = find(rs, 'baseline', MIB, c);
      const r = find(rs, mode, MIB, c);
      const ratio = r.callsPerSecond / b.callsPerSecond;
      out.push({
        what: `${mode}, 1 MiB, c=${c}: throughput ≥ 70% of baseline (earlier target)`,
        measured: pct(ratio),
        met: ratio >= 0.7,
      });
    }
  return out;
}

function casesTable(rs: readonly CaseResult[]): string {
  const rows = rs.map((r) => {
    const b = find(rs, 'baseline', r.payload, r.concurrency);
    const dp50 = r.mode === 'baseline' ? '—' : signed(r.latency.medianMs - b.latency.medianMs);
    const thr = r.mode === 'baseline' ? '—' : pct(r.callsPerSecond / b.callsPerSecond);
    const rl = r.receiptLatency ? ms(r.receiptLatency) : r.mode === 'per-call' ? '(included)' : '—';
    return (
      `| ${r.mode} | ${size(r.payload)} | ${r.concurrency} | ${r.calls} | ${ms(r.latency)} | ${rl} | ${dp50} | ` +
      `${Math.round(r.callsPerSecond).toLocaleString('en-US')}/s | ${r.mibPerSecond.toFixed(1)} | ${thr} |`
    );
  });
  return [
    '| mode | payload | concurrency | calls | latency p50 / p99 | receipt latency p50 / p99 | p50 − baseline | throughput | MiB/s | throughput vs baseline |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function stepsTable(steps: readonly Step[]): string {
  return [
    '| step | payload | p50 | p99 |',
    '|---|---:|---:|---:|',
    ...steps.map(
      (s) =>
        `| ${s.step} | ${s.payload === undefined ? '—' : size(s.payload)} | ${fmt(s.summary.medianMs)} | ${fmt(s.summary.p99Ms)} |`,
    ),
  ].join('\n');
}

/** The per-call CPU bill of one call, both ends, from the micro-benchmarks (p50s). */
function bill(steps: readonly Step[], payload: number, mode: 'per-call' | 'batched') {
  const g = (name: string, p?: number) => {
    const s = steps.find((x) => x.step.startsWith(name) && x.payload === p);
    return s ? s.summary.medianMs : 0;
  };
  const sha = g('SHA-256', payload);
  const aead = g('ChaCha20-Poly1305 seal', payload) + g('ChaCha20-Poly1305 open', payload);
  const proto = g('protobuf encode', payload) + g('protobuf decode', payload);
  const sign = g('secp256k1 sign');
  const recover = g('secp256k1 recover');
  const digests =
    g('EIP-712 voucher digest') + g('EIP-712 receipt digest') + g('request head + record chain');
  const perCall = mode === 'per-call' ? 1 : 1 / 64;
  return {
    // Input hashed by both ends, output hashed by both ends.
    hashing: 4 * sha,
    // Request sealed + opened, response sealed + opened.
    aead: 2 * aead,
    // Request and response, each encoded once and decoded once (payload dominates).
    protobuf: 2 * proto,
    // Voucher signed by the client, receipt signed by the enclave.
    signing: 2 * sign * perCall,
    // Voucher recovered by the executor, receipt recovered by the client.
    verification: 2 * recover * perCall,
    // Voucher/receipt digests and chains, both ends.
    typedData: 2 * digests * perCall,
  };
}

function billTable(steps: readonly Step[], workerMicros: Record<number, number>): string {
  const rows: string[] = [];
  for (const payload of [KIB, MIB])
    for (const mode of ['per-call', 'batched'] as const) {
      const b = bill(steps, payload, mode);
      const total = Object.values(b).reduce((x, y) => x + y, 0);
      rows.push(
        `| ${mode} | ${size(payload)} | ${fmt(b.signing)} | ${fmt(b.verification)} | ${fmt(b.typedData)} | ${fmt(b.aead)} | ` +
          `${fmt(b.hashing)} | ${fmt(b.protobuf)} | ${fmt(total)} | ${fmt((workerMicros[payload] ?? Number.NaN) / 1000)} |`,
      );
    }
  return [
    '| mode | payload | signing | verification | EIP-712 digests + chains | AEAD | SHA-256 | protobuf (sealed body) | session CPU per call, both ends | WASM instantiate + run (worker, not session cost) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function markdown(
  machine: MachineInfo,
  [setupNormal, setupFresh, hsNormal, hsFresh]: readonly [Summary, Summary, Summary, Summary],
  rs: readonly CaseResult[],
  steps: readonly Step[],
  workerMicros: Record<number, number>,
): string {
  const t = targets(rs, setupNormal);
  return [
    '## Attested session vs plain gRPC',
    '',
    'Generated by `npm run bench -- session` (`bench/session.ts`); raw numbers in',
    '`bench/results/session.json`. Protocol: [docs/session.md](session.md).',
    '',
    '**Set-up.** The servers run in a child process (`bench/session-server.ts`), the client in the',
    'bench process; all traffic is on 127.0.0.1. Both servers share one `FunctionRuntime` (2 worker',
    'threads) with the `echo` example (WASI: stdin → stdout), so every call of every mode runs the same',
    'module in a fresh instance:',
    '- **baseline**: a plain grpc-js unary method, raw bytes in and out (no protobuf message, no session,',
    '  no signatures, no hashing), whose handler calls `runtime.invoke(echo, request)`;',
    '- **per-call**: `Session.invoke` with per-call receipts: each call carries a voucher signed by the',
    '  client and returns with the enclave-signed receipt for that call; the latency is until the',
    '  output **and** the verified receipt are in;',
    '- **batched**: `Session.invokeDeferred` with batched receipts: the latency is the **output',
    '  latency**; the receipt arrives later (batch closes at 64 calls or 100 ms, then one voucher',
    '  and one receipt), and its latency is measured separately, from the call’s start until its',
    '  verified receipt resolved. Throughput counts a call only once its receipt is in.',
    '',
    `**Machine and load.** The machine has only ${machine.cores} cores; the client process and the server process`,
    '(gRPC, executor, 2 WASM workers) share them, so each side’s CPU work slows the other down and',
    'concurrency 32 measures the CPU of both ends together. Absolute numbers are noisy; the ratios',
    'compare cases measured back to back in the same run. p99s mostly measure scheduling and GC.',
    '',
    '### Session setup',
    '',
    `\`connect()\` + \`close()\` against the simulated TEE, sequential, up to ${SETUP.n} sessions or ${SETUP.maxMs / 1000} s per mode after ${SETUP.warmup} warm-up sessions: each \`connect()\` creates its gRPC client, so it opens a new TCP + HTTP/2 connection, as a customer's first connect does; the second pair of rows keeps one connection open and runs only the handshake (ClientHello → ServerHello → all client checks → keys), which is what a re-handshake after expiry or an executor restart costs. Includes the ClientHello/ServerHello round trip, evidence verification and policy, the REPORTDATA binding and the transcript signature check, on both ends. Fresh mode also signs a new simulated quote per session.`,
    '',
    '| what | mode | sessions | p50 | p99 |',
    '|---|---|---:|---:|---:|',
    `| \`connect()\` + \`close()\` (new gRPC connection each) | normal | ${setupNormal.n} | ${fmt(setupNormal.medianMs)} | ${fmt(setupNormal.p99Ms)} |`,
    `| \`connect()\` + \`close()\` (new gRPC connection each) | fresh | ${setupFresh.n} | ${fmt(setupFresh.medianMs)} | ${fmt(setupFresh.p99Ms)} |`,
    `| handshake only, connection kept open (as a re-handshake) | normal | ${hsNormal.n} | ${fmt(hsNormal.medianMs)} | ${fmt(hsNormal.p99Ms)} |`,
    `| handshake only, connection kept open (as a re-handshake) | fresh | ${hsFresh.n} | ${fmt(hsFresh.medianMs)} | ${fmt(hsFresh.p99Ms)} |`,
    '',
    '### Warm invocations',
    '',
    `Per case: a warm-up, then up to the listed calls (bounded by ${Math.max(...CASES.map((c) => c.maxMs)) / 1000} s) with a fixed random input; every output's length is checked, the first in full. Concurrency = calls in flight from one session (one gRPC channel).`,
    '',
    casesTable(rs),
    '',
    '| target | measured | met |',
    '|---|---:|:---:|',
    ...t.map((x) => `| ${x.what} | ${x.measured} | ${x.met ? 'yes' : '**no**'} |`),
    '',
    '### Where the time goes',
    '',
    'Each step timed alone in the bench process (p50 / p99 of sequential calls):',
    '',
    stepsTable(steps),
    '',
    'The CPU a call adds over the baseline, summed from the p50s above for both ends (input and output',
    'each hashed by both ends; request and response each sealed, opened, encoded and decoded once;',
    'per call: voucher signed by the client and recovered by the executor, receipt signed by the',
    'executor and recovered by the client; batched: the same signatures once per 64 calls):',
    '',
    billTable(steps, workerMicros),
    '',
    '**Reading the 1 MiB rows.** On top of the baseline a 1 MiB call costs, by construction, four',
    'SHA-256 passes (input and output, each hashed by both ends: the call record needs them and',
    'neither end may trust the other’s hash), four ChaCha20-Poly1305 passes (each direction sealed and',
    'opened), and the copies and allocations these need: the baseline moves raw bytes with no',
    'protobuf message at all. On 2 cores shared by both processes and the WASM workers that is a',
    'large share of the CPU of a call, and at concurrency 1 all of it is on the critical path',
    '(nothing to overlap: the voucher needs the input hash before sending, the record needs the',
    'output hash before sealing). Allocation of payload-sized buffers is the other cost: each fresh',
    '1 MiB buffer is new pages (faults, zeroing) and garbage-collection pressure, which is what the',
    'changes below cut. Signatures are per call or per batch and do not depend on the payload.',
    '',
    'What the hot path does per payload since this benchmark was added: the request and response are',
    'sealed straight into the `SealedFrame` encoding (`proto/load.ts` `encodedSealedFrame`, byte-identical',
    'to the generic encoder) with the payload encrypted from the caller’s buffer in 64 KiB steps',
    '(`requestParts` / `responseParts`: no plaintext copy of the input or output); a received frame is',
    'opened in place (`FrameCipher.openInPlace`: decrypted over its own ciphertext, the plaintext released',
    'only after the tag verified), so neither end allocates a payload-sized plaintext buffer; the',
    'worker pool drops its reference to the input once posted; the SDK does not keep the sealed request',
    'alive while it waits. Hashing uses `node:crypto` and each end hashes each payload once.',
    '',
    '**What the 1 MiB gap is made of (profiles, 2026-11-23).** With `node --cpu-prof` on both processes,',
    'per-call 1 MiB at c=1: the client’s main thread spends ≈1.2 ms per call in SHA-256 (input and',
    'output), ≈1 ms in the AEAD (seal + open), ≈0.5 ms in copies, and ≈5 ms in garbage collection;',
    'the baseline’s client spends ≈7–9 ms CPU per call in total, the session’s ≈16–20 ms. The GC is',
    'V8 starting incremental mark-compacts back to back (every ≈45 ms, each ≈10 ms of marking over a',
    '≈19 MB heap) under external-memory pressure: every payload-sized ArrayBuffer counts, including',
    'the ones `node:crypto` returns from `update()`, whatever the chunk size, and the session path',
    'allocates about twice the baseline’s payload bytes per call (seal output, sealed frame, open',
    'output on top of gRPC’s framing and receive buffers). Measured the same way with',
    '`--no-incremental-marking` on both processes (diagnosis only, not how the bench runs) the client',
    'needs ≈11 ms per call instead of ≈17–20, but the baseline speeds up as much, so the ratios stay',
    'near 50–60 % (batched c=1 ≈80 %). AES-256-GCM measured ≈0.43 ms/MiB against ≈0.48 ms/MiB for',
    'ChaCha20-Poly1305 here (64 KiB steps): not worth a protocol change.',
    '',
    '**Why the 1 MiB target is missed, and what was tried (second look, 2026-11-23).** The session adds,',
    'by construction, four SHA-256 passes and four AEAD passes per 1 MiB call, ≈3.9 ms of CPU measured',
    'alone; against a ≈8.5 ms baseline call that already bounds c=1 near 68 % even with no other cost',
    'and no GC, so 70 % needs work to overlap across the two ends, and c=32 (CPU-bound on 2 cores) needs',
    'less work, not overlap. Tried, measured in alternating blocks against the baseline, and dropped',
    'because the change stayed inside the run-to-run noise: hashing the input of a batched call while',
    'the request is in flight instead of before sending it; starting the function on its worker while',
    'the executor checks a per-call voucher (in one process: ≈40 µs at the p10). Also measured: HTTP/2',
    'flow-control windows of 8 MiB on both ends speed the *baseline* up most (1 MiB c=32 from ≈107 to',
    '≈181 calls/s; the session from ≈65 to ≈76–92/s), i.e. the default 64 KiB windows hold both back',
    'and raising them for the session alone would flatter the ratio; with equal windows the ratios',
    'fall to 42–51 %, and one run with large windows stalled, so the defaults stay. `crypto.subtle`',
    'SHA-256/AES-GCM run on the libuv pool but block the calling thread ≈0.4 ms (digest) and ≈0.15 ms',
    '(AES-GCM) per MiB for their input copies and return new payload-sized buffers: no gain. Hashing',
    'and sealing each 64 KiB chunk in one pass instead of two whole-payload passes (for cache locality)',
    'measured the same, ≈1.5 ms/MiB either way with 1 or 32 payloads in rotation: the passes are',
    'compute-bound here.',
    '',
    '**Session setup since this benchmark was added.** `connect()` starts the TCP + HTTP/2 connection',
    'before generating the ClientHello key, so the two overlap; the executor takes its ephemeral X25519',
    'key from a small pool refilled between handshakes (each key used once), derives the session keys',
    '(HKDF, ciphers) after the ServerHello is on its way (the Diffie-Hellman checks of the client key',
    'still run before it signs), and sweeps its session and ClientHello-nonce tables only once an entry',
    'can have expired. The protocol and every client check are unchanged. What remains is one',
    'ClientHello → ServerHello round trip (≈1 ms for an empty gRPC call between the two processes',
    'here), ≈1.7 ms of client checks (simulated evidence signature ≈0.5 ms, transcript signature',
    'recovery ≈0.4 ms, two X25519 agreements, HKDF) and ≈1 ms of executor work (transcript signature,',
    'two agreements, transcript hashes).',
    '',
    "**The protocol layer (2026-12-05).** The shared `protocol/` layer, sealed answers after authentication, the billing rules in the executor's books and the SDK's trust rule were measured against the code before them (commit 48757a9) in two interleaved pairs of runs on the same VM, which was slower that day (baseline 1 KiB c=1 p50 1.3–2.1 ms, against 0.83–1.35 ms on 2026-11-23). Before / after: batched 1 KiB c=32 throughput vs baseline 69 and 74 % / 78 and 74 % (68 % in a third run after; target 60 %); per-call 1 KiB c=1 delta +3.26 and +1.71 ms / +2.93 and +2.52 ms; batched 1 KiB c=1 delta +596 and +98 µs / +571 and −199 µs; `connect()` p50 9.14 and 6.16 ms / 7.75 and 8.08 ms (handshake alone 4.87 and 3.04 / 3.53 and 4.90 ms); 1 MiB ratios 48–66 % / 50–70 %. The change costs less than this VM's noise: per call it adds a few map operations in the books (the count of covered calls is O(1) for a voucher ending at the highest nonce), the amount rule's comparisons and one connectivity check in the SDK, and no hashing, signing or copying. Session setup missed 5 ms in every run that day, before and after alike.",
    '',
    'Run-to-run spread on this VM is large. Earlier runs on 2026-11-23: in five development runs before the session-setup and in-place-opening changes above, the baseline 1 KiB p50 ranged 0.83–1.35 ms, the per-call 1 KiB delta 1.6–2.8 ms, `connect()` p50 3.9–7.3 ms and the 1 MiB throughput ratios 33–67 %; in three runs after them, `connect()` p50 5.17, 4.72 and 4.56 ms, the per-call 1 KiB delta +2.31, +1.69 and +2.60 ms, the 1 MiB ratios 41–64 %, 44–61 % and 53–62 %. The three runs of the same code that ended with the one this page shows (the last run is kept, whatever it gives): `connect()` p50 4.97, 6.21 and 5.79 ms, the handshake alone 2.98, 4.14 and 3.27 ms, the per-call 1 KiB delta +1.78, +3.42 and +1.86 ms, the batched 1 KiB delta +23, +640 and +181 µs, the 1 MiB ratios 53–68 %, 40–69 % and 43–66 %. So: the batched 1 KiB target holds in every run; session setup and the per-call 1 KiB target are met in some runs and missed in others (they sit at the noise level of this VM); the 1 MiB throughput target is missed in every run.',
    '',
    machineMarkdown(machine),
  ].join('\n');
}

export async function benchSession(): Promise<Section> {
  const machine = machineInfo();
  const echoWasm = await buildExample('echo');
  console.log('session: starting servers (child process)…');
  const { child, info } = await startServers();
  console.log(
    `session: servers up (pid ${info.pid}): baseline :${info.baselinePort}, executor :${info.executorPort}`,
  );
  const policy: Policy = {
    allowedTees: ['simulated'],
    measurements: { simulated: { mrTd: info.mrTd } },
    simulated: { rootKeyHashes: [info.rootKeyHash] },
  };
  const endpoint = `127.0.0.1:${info.executorPort}`;
  const results: CaseResult[] = [];
  const sessions: Session[] = [];
  const maxMsg = 40 * MIB;
  const baseClient = new grpc.Client(`127.0.0.1:${info.baselinePort}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': maxMsg,
    'grpc.max_send_message_length': maxMsg,
  });
  try {
    console.log('session: setup (normal)…');
    const setupNormal = await measureSetup(endpoint, policy, 'normal');
    console.log(`  normal: ${setupNormal.n} sessions, p50/p99 ${ms(setupNormal)}`);
    console.log('session: setup (fresh)…');
    const setupFresh = await measureSetup(endpoint, policy, 'fresh');
    console.log(`  fresh: ${setupFresh.n} sessions, p50/p99 ${ms(setupFresh)}`);
    console.log('session: handshake only, over an open connection (normal, fresh)…');
    const hsNormal = await measureHandshake(endpoint, policy, 'normal');
    const hsFresh = await measureHandshake(endpoint, policy, 'fresh');
    console.log(`  normal ${ms(hsNormal)}; fresh ${ms(hsFresh)}`);

    const perCall = await connect(endpoint, { policy, receipts: 'per-call' });
    const batched = await connect(endpoint, { policy, receipts: 'batched' });
    sessions.push(perCall, batched);
    const fnP = await perCall.deploy(echoWasm);
    const fnB = await batched.deploy(echoWasm);
    const calls: Record<Mode, OneCall> = {
      baseline: baselineCall(baseClient),
      'per-call': perCallCall(perCall, fnP, Wallet.createRandom() as unknown as Wallet),
      batched: batchedCall(batched, fnB, Wallet.createRandom() as unknown as Wallet),
    };
    for (const spec of CASES)
      for (const mode of ['baseline', 'per-call', 'batched'] as const) {
        const r = await runCase(mode, spec, calls[mode]);
        results.push(r);
        const b = find(results, 'baseline', spec.payload, spec.concurrency);
        console.log(
          `  ${mode.padEnd(8)} ${size(spec.payload).padStart(6)} c=${String(spec.concurrency).padEnd(2)} ` +
            `${String(r.calls).padStart(5)} calls  p50/p99 ${ms(r.latency)}` +
            (r.receiptLatency ? `  receipt ${ms(r.receiptLatency)}` : '') +
            `  ${Math.round(r.callsPerSecond)}/s` +
            (mode === 'baseline' ? '' : `  (${pct(r.callsPerSecond / b.callsPerSecond)} of baseline)`),
        );
      }
    for (const s of sessions) await s.close();
    sessions.length = 0;
    baseClient.close();
    await stopServers(child);

    console.log('session: breakdown (micro-benchmarks in this process)…');
    const { steps, workerMicros } = await breakdown(echoWasm);
    finishMachineInfo(machine);
    console.log('');
    console.log(casesTable(results));
    console.log('');
    console.log(stepsTable(steps));
    console.log('');
    console.log(billTable(steps, workerMicros));
    console.log('');
    const t = targets(results, setupNormal);
    for (const x of t) console.log(`${x.met ? 'met   ' : 'MISSED'}  ${x.what}: ${x.measured}`);
    return {
      name: 'session',
      results: {
        machine,
        cases: CASES,
        setup: {
          normal: setupNormal,
          fresh: setupFresh,
          handshakeOnly: { normal: hsNormal, fresh: hsFresh },
        },
        invocations: results,
        steps,
        workerMicros,
        targets: t,
      },
      markdown: markdown(machine, [setupNormal, setupFresh, hsNormal, hsFresh], results, steps, workerMicros),
    };
  } finally {
    for (const s of sessions) await s.close().catch(() => {});
    baseClient.close();
    await stopServers(child);
  }
}
