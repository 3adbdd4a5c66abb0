import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { toHex } from '../attestation/bytes.js';
import { generateSimulatedRoot } from '../attestation/simulated.js';
import { Executor } from '../enclave-host/executor.js';
import { SimulatedQuoteProvider } from '../enclave-host/quote/simulated.js';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import { asBuffer } from '../protocol/buffers.js';

/*
 * The server side of `npm run bench -- session`, run as a child process of bench/session.ts so that
 * client and servers do not share one event loop (they still share the machine's 2 cores). Serves on
 * 127.0.0.1, on two ports, from ONE FunctionRuntime (2 workers) with the echo example registered:
 *  - the baseline: a plain grpc-js unary method, raw bytes in and out (no protobuf, no session, no
 *    signatures), whose handler calls `runtime.invoke(echo, request)`;
 *  - the defaas executor (simulated TEE, persisted nonce ceilings in a temp dir) on the same runtime.
 * Prints one line `READY <json>` (ports, policy root key hash, MRTD) and runs until SIGTERM/SIGINT.
 */

export const BASELINE_PATH = '/defaas.bench.v1.Baseline/Invoke';
export const BENCH_MR_TD = new Uint8Array(48).fill(0x42);
export const BENCH_LIMITS = {
  memoryBytes: 64 << 20,
  wallTimeMs: 10_000,
  maxInputBytes: 2 << 20,
  maxOutputBytes: 2 << 20,
};
const MAX_MESSAGE = 40 * 1024 * 1024;

const raw = (b: Buffer) => b;

export function baselineService(): grpc.ServiceDefinition {
  return {
    Invoke: {
      path: BASELINE_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
  };
}

async function main(): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'defaas-bench-'));
  const runtime = new FunctionRuntime({ workers: 2, limits: BENCH_LIMITS });
  const echo = await runtime.register(await buildExample('echo'));

  const baseline = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE,
    'grpc.max_send_message_length': MAX_MESSAGE,
  });
  baseline.addService(baselineService(), {
    Invoke: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      runtime.invoke(echo, call.request).then(
        (r) => cb(null, asBuffer(r.output)),
        (e: unknown) => cb({ code: grpc.status.INTERNAL, details: String(e) }),
      );
    },
  });
  const baselinePort = await new Promise<number>((resolve, reject) =>
    baseline.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );

  const root = generateSimulatedRoot();
  const executor = new Executor({
    logger: pino({ level: 'silent' }),
    runtime: {
      register: (w, o) => runtime.register(w, o),
      unregister: (f, o) => runtime.unregister(f, o),
      invoke: (f, i) => runtime.invoke(f, i),
      close: async () => {},
      has: (f) => runtime.has(f),
      get effectiveLimits() {
        return runtime.effectiveLimits;
      },
    },
    quotes: new SimulatedQuoteProvider(root, { measurements: { mrTd: BENCH_MR_TD } }),
    stateDir,
    maxSessions: 4096,
    // Every benchmark client is one peer (127.0.0.1) opening sessions as fast as it can.
    maxSessionsPerPeer: 4096,
    handshakesPerSecond: 1_000_000,
    maxMessageBytes: MAX_MESSAGE,
  });
  const executorPort = await executor.start('127.0.0.1:0');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await executor.stop(1_000);
    baseline.forceShutdown();
    await runtime.close();
    await rm(stateDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // The parent's end of stdin closes when it exits: never outlive it.
  process.stdin.on('end', () => void stop());
  process.stdin.resume();

  process.stdout.write(
    `READY ${JSON.stringify({
      pid: process.pid,
      baselinePort,
      executorPort,
      rootKeyHash: toHex(root.keyHash),
      mrTd: toHex(BENCH_MR_TD),
    })}\n`,
  );
}

if (process.argv[1]?.endsWith('session-server.ts')) await main();
