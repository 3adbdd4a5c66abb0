import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { EnclaveHostError } from '../errors.js';

/**
 * The executor's exact integer matrix product for capacity challenges (docs/witness.md): C = A·B for
 * n×n factors with byte entries (0..255), row-major; C is int32 row-major. Every entry of C is at
 * most n · 255² < 2³¹ for n ≤ 4096, so int32 holds it exactly.
 *
 * It is the attested code whose speed a witness measures, so it is built for speed: a WebAssembly
 * SIMD kernel (matmul.wat: 2×4 tiles of i32x4 accumulators fed by i32x4.dot_i16x8_s) on
 * `workers` worker threads that share one WebAssembly memory. A product runs in three steps:
 * 1. this thread copies A and B as bytes into a zero-padded staging area of the shared memory;
 * 2. the workers pack them (A in row pairs, B transposed in column fours, both widened to i16,
 *    k in chunks of 8), each its share of the panels;
 * 3. the workers compute their share of C's row pairs, then this thread copies C out.
 * Products run one at a time; the memory grows to the largest n seen (at most 128 MiB, n = 4096)
 * and is reused. The workers stay up until `close()`.
 */
export interface MatmulEngine {
  /** C = A·B exactly, n×n, entries of A and B are bytes (0..255), row-major; C int32 row-major. */
  multiply(n: number, a: Uint8Array, b: Uint8Array): Promise<Int32Array>;
  close(): Promise<void>;
}

export const MAX_MATMUL_N = 4096;

/** Tile of C one kernel step computes (matmul.wat): rows of A per panel, columns of B per panel. */
const MR = 2;
const NR = 4;
/** Bytes of packed B a block of B panels may take, so that it stays in cache while A streams past. */
const B_BLOCK_BYTES = 512 * 1024;
const PAGE = 65_536;
/** Workers that may die in a row before becoming ready, before the engine gives up. */
const MAX_START_FAILURES = 3;
const WASM_URL = new URL('./matmul.wasm', import.meta.url);
const WORKER_URL = new URL('./matmul-worker.mjs', import.meta.url);

/** Where a product of order n lives in the shared memory (byte offsets, all multiples of 16). */
export interface MatmulLayout {
  readonly n: number;
  /** k chunks of 8: n rounded up to 8, over 8. */
  readonly kc: number;
  /** A panels (row pairs) and B panels (column fours). */
  readonly np: number;
  readonly nq: number;
  /** Bytes per row of C (and of staged B): n rounded up to 4, times 4 (C) or 1 (B). */
  readonly ldc: number;
  readonly ldb: number;
  readonly aOff: number;
  readonly bOff: number;
  /** C; before the kernel runs, the same bytes hold the staged A (then the staged B). */
  readonly cOff: number;
  readonly stageA: number;
  readonly stageB: number;
  readonly stageBytes: number;
  readonly bytes: number;
}

export function matmulLayout(n: number): MatmulLayout {
  const kc = Math.ceil(n / 8);
  const kp = kc * 8;
  const np = Math.ceil(n / MR);
  const nq = Math.ceil(n / NR);
  const rows = np * MR;
  const ldb = nq * NR;
  const ldc = ldb * 4;
  const aOff = 0;
  const bOff = aOff + rows * kp * 2;
  const cOff = bOff + ldb * kp * 2;
  const stageBytes = rows * kp + kp * ldb;
  const bytes = cOff + Math.max(rows * ldc, stageBytes);
  return {
    n,
    kc,
    np,
    nq,
    ldc,
    ldb,
    aOff,
    bOff,
    cOff,
    stageA: cOff,
    stageB: cOff + rows * kp,
    stageBytes,
    bytes,
  };
}

/*
 * The part of the WebAssembly JavaScript API (a global in Node) the engine uses, typed here because
 * the project's `lib` has no DOM (see runtime/wasm-api.ts).
 */
declare const compiledModule: unique symbol;
interface CompiledModule {
  readonly [compiledModule]?: never;
}
interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
const wasmJs = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => CompiledModule;
      Memory: new (d: { initial: number; maximum: number; shared: true }) => SharedMemory;
    };
  }
).WebAssembly;

const MAX_PAGES = Math.ceil(matmulLayout(MAX_MATMUL_N).bytes / PAGE);

type Call = readonly [string, ...number[]];

/** One worker and the one message it may have in flight. */
class Slot {
  worker: Worker;
  /** Whether the current worker has reported ready (instantiated and warmed up). */
  started = false;
  private pending: { id: number; resolve: () => void; reject: (e: Error) => void } | undefined;
  private nextId = 1;

  constructor(
    private readonly spawn: () => Worker,
    private readonly onDeath: (slot: Slot, e: Error) => void,
  ) {
    this.worker = this.attach(spawn());
  }

  /** Resolves once the worker has instantiated the kernel. */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending = { id: 0, resolve, reject };
    });
  }

  run(calls: readonly Call[]): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject };
      this.worker.postMessage({ id, calls });
    });
  }

  fail(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  /** Replaces a dead worker with a fresh one (not awaited: its first job waits in its queue). */
  respawn(): void {
    this.started = false;
    this.worker = this.attach(this.spawn());
  }

  private attach(w: Worker): Worker {
    w.on('message', (m: { type?: 'ready'; id?: number; ok?: boolean; message?: string }) => {
      if (w !== this.worker) return;
      if (m.type === 'ready') this.started = true;
      const p = this.pending;
      if (p === undefined) return;
      if (m.type === 'ready' && p.id === 0) {
        this.pending = undefined;
        p.resolve();
      } else if (m.id === p.id) {
        this.pending = undefined;
        if (m.ok) p.resolve();
        else p.reject(new EnclaveHostError('RUNTIME_WORKER_FAILED', `matmul worker failed: ${m.message}`));
      }
    });
    const died = (e: Error) => {
      if (w !== this.worker) return;
      this.onDeath(this, e);
    };
    w.on('error', (e) => died(e));
    w.on('exit', (code) => died(new Error(`exited with code ${code}`)));
    return w;
  }
}

class WasmMatmulEngine implements MatmulEngine {
  private readonly memory: SharedMemory;
  private readonly slots: Slot[];
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Set when workers keep dying before they are ready: every later product is refused with it. */
  private broken: EnclaveHostError | undefined;
  private startFailures = 0;

  constructor(module: CompiledModule, workers: number) {
    this.memory = new wasmJs.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const workerData = { module, memory: this.memory };
    const spawn = () => new Worker(WORKER_URL, { workerData });
    this.slots = Array.from({ length: workers }, () => new Slot(spawn, (s, e) => this.died(s, e)));
  }

  async start(): Promise<void> {
    try {
      await Promise.all(this.slots.map((s) => s.ready()));
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  multiply(n: number, a: Uint8Array, b: Uint8Array): Promise<Int32Array> {
    if (this.closed)
      return Promise.reject(new EnclaveHostError('RUNTIME_CLOSED', 'the matmul engine is closed'));
    if (!Number.isInteger(n) || n < 1 || n > MAX_MATMUL_N)
      return Promise.reject(
        new EnclaveHostError('INVALID_ARGUMENT', `n must be an integer in 1..${MAX_MATMUL_N}`),
      );
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== n * n || b.length !== n * n)
      return Promise.reject(
        new EnclaveHostError(
          'INVALID_ARGUMENT',
          `factors must be ${n}×${n} byte matrices (${n * n} bytes each)`,
        ),
      );
    const run = this.tail.then(() => this.product(n, a, b));
    this.tail = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closedError = new EnclaveHostError('RUNTIME_CLOSED', 'the matmul engine is closed');
    for (const s of this.slots) s.fail(closedError);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private died(slot: Slot, e: Error): void {
    if (this.closed) return;
    const error = new EnclaveHostError(
      'RUNTIME_WORKER_FAILED',
      `matmul worker died: ${e.message}`,
      undefined,
      e,
    );
    slot.fail(error);
    this.startFailures = slot.started ? 0 : this.startFailures + 1;
    if (this.startFailures >= MAX_START_FAILURES) {
      this.broken = error;
      return;
    }
    slot.respawn();
  }

  private async product(n: number, a: Uint8Array, b: Uint8Array): Promise<Int32Array> {
    if (this.closed) throw new EnclaveHostError('RUNTIME_CLOSED', 'the matmul engine is closed');
    if (this.broken !== undefined) throw this.broken;
    const l = matmulLayout(n);
    const have = this.memory.buffer.byteLength;
    try {
      if (have < l.bytes) this.memory.grow(Math.ceil((l.bytes - have) / PAGE));
    } catch (e) {
      throw new EnclaveHostError(
        'RUNTIME_WORKER_FAILED',
        `cannot grow the matmul memory to ${l.bytes} bytes`,
        undefined,
        e,
      );
    }
    this.stage(l, a, b);
    const w = this.slots.length;
    const share = (count: number, i: number) => [
      Math.floor((count * i) / w),
      Math.floor((count * (i + 1)) / w),
    ];
    await this.round((i) => {
      const [p0, p1] = share(l.np, i);
      const [q0, q1] = share(l.nq, i);
      return [
        ['pack_a', l.stageA, l.aOff, l.kc, p0!, p1!],
        ['pack_b', l.stageB, l.bOff, l.kc, l.ldb, q0!, q1!],
      ];
    });
    const qb = Math.max(1, Math.floor(B_BLOCK_BYTES / (NR * l.kc * 16)));
    const kernel = this.round((i) => {
      const [p0, p1] = share(l.np, i);
      return [['matmul', l.aOff, l.bOff, l.cOff, l.kc, l.ldc, p0!, p1!, l.nq, qb]];
    });
    // the result's pages are touched while the workers compute (first touches of fresh memory are
    // what copying C out would otherwise wait for)
    const c = new Int32Array(n * n).fill(0);
    await kernel;
    const all = new Int32Array(this.memory.buffer, l.cOff, (l.np * MR * l.ldc) / 4);
    if (l.ldc === n * 4) c.set(all.subarray(0, n * n));
    else for (let i = 0; i < n; i++) c.set(all.subarray((i * l.ldc) / 4, (i * l.ldc) / 4 + n), i * n);
    return c;
  }

  /** A and B as bytes into the staging area: A rows with stride kc·8, B rows with stride ldb, zeros around. */
  private stage(l: MatmulLayout, a: Uint8Array, b: Uint8Array): void {
    const n = l.n;
    const kp = l.kc * 8;
    const mem = new Uint8Array(this.memory.buffer);
    mem.fill(0, l.stageA, l.stageA + l.stageBytes);
    if (kp === n) mem.set(a, l.stageA);
    else for (let i = 0; i < n; i++) mem.set(a.subarray(i * n, i * n + n), l.stageA + i * kp);
    if (l.ldb === n) mem.set(b, l.stageB);
    else for (let k = 0; k < n; k++) mem.set(b.subarray(k * n, k * n + n), l.stageB + k * l.ldb);
  }

  private async round(callsOf: (worker: number) => readonly Call[]): Promise<void> {
    if (this.closed) throw new EnclaveHostError('RUNTIME_CLOSED', 'the matmul engine is closed');
    const runs = this.slots.map((s, i) => s.run(callsOf(i)));
    // every worker must be done with the shared memory before the next step, even when one failed
    const settled = await Promise.allSettled(runs);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
  }
}

/**
 * Starts the engine on `workers` threads (default: the machine's available parallelism); resolves
 * once every worker has instantiated the kernel.
 */
export async function startMatmulEngine(o: { workers?: number } = {}): Promise<MatmulEngine> {
  const workers = o.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 1 || workers > 256)
    throw new EnclaveHostError('INVALID_ARGUMENT', 'workers must be an integer in 1..256');
  const module = new wasmJs.Module(readFileSync(WASM_URL));
  const engine = new WasmMatmulEngine(module, workers);
  await engine.start();
  return engine;
}
