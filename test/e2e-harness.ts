import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBytes, Wallet } from 'ethers';
import pino from 'pino';
import { toHex } from '../attestation/bytes.js';
import type { Policy } from '../attestation/policy.js';
import { generateSimulatedRoot, type SimulatedRoot } from '../attestation/simulated.js';
import { Executor, type ExecutorOptions, type Runtime } from '../enclave-host/executor.js';
import { SimulatedQuoteProvider } from '../enclave-host/quote/simulated.js';
import { FunctionRuntime, type InvokeResult } from '../enclave-host/runtime/function-runtime.js';
import type { QuoteSource } from '../enclave-host/session/evidence-source.js';

/** Shared set-up of the end-to-end tests: a simulated executor on 127.0.0.1 and a policy for it. */

export const MR_TD = new Uint8Array(48).fill(0x11);
export const LIMITS = {
  memoryBytes: 4 * 1024 * 1024,
  wallTimeMs: 1_000,
  maxInputBytes: 64 * 1024,
  maxOutputBytes: 64 * 1024,
};

export function policyFor(root: SimulatedRoot, mrTd: Uint8Array = MR_TD): Policy {
  return {
    allowedTees: ['simulated'],
    measurements: { simulated: { mrTd: toHex(mrTd) } },
    simulated: { rootKeyHashes: [toHex(root.keyHash)] },
  };
}

export interface Harness {
  readonly executor: Executor;
  readonly endpoint: string;
  readonly root: SimulatedRoot;
  readonly policy: Policy;
  readonly stateDir: string;
  stop(): Promise<void>;
}

export async function startExecutor(
  o: Partial<ExecutorOptions> & {
    listen?: string;
    root?: SimulatedRoot;
    stateDir?: string;
    debug?: boolean;
    quotes?: QuoteSource;
  } = {},
): Promise<Harness> {
  const root = o.root ?? generateSimulatedRoot();
  const stateDir = o.stateDir ?? (await mkdtemp(join(tmpdir(), 'defaas-e2e-')));
  const ownsDir = o.stateDir === undefined;
  const executor = new Executor({
    logger: pino({ level: process.env.DEFAAS_TEST_LOG ?? 'silent' }),
    ...o,
    runtime: o.runtime ?? new FunctionRuntime({ workers: 2, limits: LIMITS }),
    quotes:
      o.quotes ??
      new SimulatedQuoteProvider(root, { measurements: { mrTd: MR_TD }, ...(o.debug && { debug: true }) }),
    stateDir,
  });
  const port = await executor.start(o.listen ?? '127.0.0.1:0');
  return {
    executor,
    endpoint: `127.0.0.1:${port}`,
    root,
    policy: policyFor(root),
    stateDir,
    async stop() {
      await executor.stop(1_000);
      if (ownsDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}

// ---- raw protocol access for negative tests ----

import * as grpc from '@grpc/grpc-js';
import type { ExecutorClient } from '../proto/gen/defaas/executor/v1/Executor.js';
import type { SealedFrame, SealedFrame__Output } from '../proto/gen/defaas/executor/v1/SealedFrame.js';
import type { ServerHello__Output } from '../proto/gen/defaas/executor/v1/ServerHello.js';
import { ERROR_DETAIL_KEY, loadProtos, sessionCodec } from '../proto/load.js';
import { SecureChannel } from '../sdk/session/channel.js';
import {
  type AcceptedSession,
  finishHandshake,
  type PendingHello,
  startHandshake,
} from '../sdk/session/handshake.js';

export function rawClient(endpoint: string): ExecutorClient {
  const { executor } = loadProtos();
  return new executor.defaas.executor.v1.Executor(endpoint, grpc.credentials.createInsecure());
}

export function openSessionRaw(client: ExecutorClient, hello: PendingHello): Promise<ServerHello__Output> {
  return new Promise((resolve, reject) =>
    client.OpenSession(hello.message, (e, r) => (e || !r ? reject(e) : resolve(r))),
  );
}

export interface RawSession {
  readonly client: ExecutorClient;
  readonly accepted: AcceptedSession;
  readonly channel: SecureChannel;
}

export async function rawSession(
  endpoint: string,
  policy: Policy,
  mode: 'normal' | 'fresh' = 'normal',
): Promise<RawSession> {
  const client = rawClient(endpoint);
  const hello = startHandshake(mode);
  const sh = await openSessionRaw(client, hello);
  const accepted = await finishHandshake(hello, sh, { policy, mode, now: new Date() });
  return { client, accepted, channel: new SecureChannel(client, accepted, 10_000) };
}

export type UnaryMethod =
  | 'GetEvidence'
  | 'OpenSession'
  | 'Deploy'
  | 'Invoke'
  | 'Settle'
  | 'Sync'
  | 'Undeploy';
/** A relay's own answer to one RPC; `up` is its client to the executor behind it. */
export type RelayHandler = (
  call: grpc.ServerUnaryCall<unknown, unknown>,
  cb: grpc.sendUnaryData<unknown>,
  up: ExecutorClient,
) => void;

/** What a relay that forwards a unary RPC sees of it: the request, the response (none on error), the time. */
export type RelayObserver = (method: UnaryMethod, request: unknown, response: unknown, ms: number) => void;

export interface Relay {
  readonly endpoint: string;
  /** The relay's client to the executor. */
  readonly up: ExecutorClient;
  stop(): void;
}

/**
 * What a relay does with the frames of an InvokeStream: `up` sees each frame from the client and
 * may forward it (`send`), drop it, or answer it itself (`reply`); `down` sees each frame from the
 * executor. Without a StreamRelay the relay ends InvokeStream at once.
 */
export interface StreamRelay {
  up?(
    frame: SealedFrame__Output,
    send: (f: SealedFrame__Output) => void,
    reply: (f: SealedFrame) => void,
  ): void;
  down?(frame: SealedFrame__Output, send: (f: SealedFrame__Output) => void): void;
}

function relayStream(
  up: ExecutorClient,
  hooks: StreamRelay,
): (call: grpc.ServerDuplexStream<SealedFrame__Output, SealedFrame>) => void {
  return (call) => {
    const upstream = up.InvokeStream();
    const toClient = (f: SealedFrame) => call.write(f);
    upstream.on('data', (f: SealedFrame__Output) => (hooks.down ? hooks.down(f, toClient) : toClient(f)));
    upstream.on('end', () => call.end());
    upstream.on('error', () => call.end());
    const toExecutor = (f: SealedFrame__Output) => upstream.write(f);
    call.on('data', (f: SealedFrame__Output) =>
      hooks.up ? hooks.up(f, toExecutor, toClient) : toExecutor(f),
    );
    call.on('end', () => upstream.end());
    call.on('error', () => upstream.cancel());
    call.on('cancelled', () => upstream.cancel());
  };
}

/**
 * A relay (an attacker on the path) in front of the executor at `upstream`: forwards every unary
 * RPC as is, except those `overrides` answers itself; InvokeStream goes through `stream`'s hooks
 * (without them the relay ends it at once).
 */
export async function startRelay(
  upstream: string,
  overrides: Partial<Record<UnaryMethod, RelayHandler>> = {},
  stream?: StreamRelay,
  observe?: RelayObserver,
): Promise<Relay> {
  const up = rawClient(upstream);
  const server = new grpc.Server();
  const forward =
    (m: UnaryMethod): RelayHandler =>
    (call, cb) => {
      const t0 = performance.now();
      (up[m] as unknown as (r: unknown, c: (e: grpc.ServiceError | null, r?: unknown) => void) => void).call(
        up,
        call.request,
        (e, r) => {
          observe?.(m, call.request, r, performance.now() - t0);
          cb(e, r);
        },
      );
    };
  const methods: UnaryMethod[] = [
    'GetEvidence',
    'OpenSession',
    'Deploy',
    'Invoke',
    'Settle',
    'Sync',
    'Undeploy',
  ];
  const handlers = Object.fromEntries(
    methods.map((m) => {
      const h = overrides[m] ?? forward(m);
      return [
        m,
        (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => h(call, cb, up),
      ];
    }),
  );
  server.addService(loadProtos().executor.defaas.executor.v1.Executor.service, {
    ...handlers,
    InvokeStream: stream
      ? relayStream(up, stream)
      : (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end(),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    endpoint: `127.0.0.1:${port}`,
    up,
    stop: () => {
      up.close();
      server.forceShutdown();
    },
  };
}

// ---- relays that forge, and counting what ran ----

/**
 * A real function runtime whose `invoke` goes through `invoke(inner, fn, input, tenant)`: how a test
 * counts, delays or changes what runs (as a tampered executor would).
 */
export function wrappedRuntime(
  invoke: (inner: FunctionRuntime, fn: string, input: Uint8Array, tenant?: string) => Promise<InvokeResult>,
): Runtime {
  const rt = new FunctionRuntime({ workers: 2, limits: LIMITS });
  return {
    register: (wasm, owner) => rt.register(wasm, owner),
    unregister: (id, owner) => rt.unregister(id, owner),
    has: (id) => rt.has(id),
    close: () => rt.close(),
    get effectiveLimits() {
      return rt.effectiveLimits;
    },
    invoke: (fn, input, tenant) => invoke(rt, fn, input, tenant),
  };
}

/** A function runtime that counts how often each input (as UTF-8) ran; `runs` may be shared by several. */
export function countingRuntime(runs: Map<string, number> = new Map()): {
  runtime: Runtime;
  runs: Map<string, number>;
} {
  const key = (b: Uint8Array) => new TextDecoder().decode(b);
  const runtime = wrappedRuntime((rt, fn, input, tenant) => {
    runs.set(key(input), (runs.get(key(input)) ?? 0) + 1);
    return rt.invoke(fn, input, tenant);
  });
  return { runtime, runs };
}

/** A gRPC failure with a plaintext `defaas-error-bin` detail, as a relay on the path can forge it. */
export function forgedStatus(
  code: string,
  grpcCode: grpc.status,
  info: Record<string, unknown> = {},
): grpc.ServiceError {
  const md = new grpc.Metadata();
  md.set(
    ERROR_DETAIL_KEY,
    sessionCodec().encodeError({ code, message: 'forged', infoJson: JSON.stringify(info) }),
  );
  return Object.assign(new Error('forged'), { code: grpcCode, details: `${code}: forged`, metadata: md });
}

/** A fresh client wallet key: its lower-case address and the raw private key. */
export interface Key {
  readonly address: string;
  readonly privateKey: Uint8Array;
}

export function newKey(): Key {
  const w = Wallet.createRandom();
  return { address: w.address.toLowerCase(), privateKey: getBytes(w.privateKey) };
}
