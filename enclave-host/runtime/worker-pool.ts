import { Worker } from 'node:worker_threads';
import { EnclaveHostError } from '../errors.js';
import type { RunRequest, RunResult, WorkerMessage } from './messages.js';

/*
 * A fixed-size pool of worker threads that run one request at a time each. The pool owns the wall
 * clock: a request that outlives `wallTimeMs` is answered with FUNCTION_TIMEOUT, its worker is
 * terminated (node:wasi has no timeout of its own and a guest loop never yields), and a fresh worker
 * takes its place. A worker that dies for any other reason (V8 heap limit, crash) fails only the
 * request it was running and is replaced the same way.
 */

const WORKER_URL = new URL('./worker.mjs', import.meta.url);
/** Consecutive workers that may die before becoming ready, before the pool gives up. */
const MAX_START_FAILURES = 3;

export interface WorkerPoolOptions {
  readonly size: number;
  readonly wallTimeMs: number;
  /** Requests waiting for a worker beyond this many are refused with RUNTIME_BUSY. */
  readonly maxQueue: number;
  /** V8 heap limits of each worker (the guest's linear memory is capped separately, in the module). */
  readonly resourceLimits: {
    readonly maxOldGenerationSizeMb: number;
    readonly maxYoungGenerationSizeMb: number;
    readonly stackSizeMb: number;
  };
}

interface Job {
  readonly request: Omit<RunRequest, 'id' | 'type'>;
  readonly resolve: (r: RunResult) => void;
  readonly reject: (e: unknown) => void;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  retired: boolean;
  /** The running job (without its request: the worker has its own copy of the input). */
  job: (Omit<Job, 'request'> & { readonly id: number; readonly timer: NodeJS.Timeout }) | undefined;
}

export class WorkerPool {
  private readonly opts: WorkerPoolOptions;
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private readonly exits = new Set<Promise<number>>();
  private nextId = 1;
  private startFailures = 0;
  private closed = false;
  private broken: EnclaveHostError | undefined;

  constructor(opts: WorkerPoolOptions) {
    this.opts = opts;
    for (let i = 0; i < opts.size; i++) this.spawn();
  }

  run(request: Omit<RunRequest, 'id' | 'type'>): Promise<RunResult> {
    if (this.closed) return Promise.reject(closedError());
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(
        new EnclaveHostError('RUNTIME_BUSY', 'too many invocations waiting for a worker', {
          maxQueue: this.opts.maxQueue,
        }),
      );
    }
    return new Promise<RunResult>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(closedError());
    for (const slot of this.slots) this.retire(slot, closedError());
    await Promise.allSettled([...this.exits]);
  }

  private spawn(): void {
    const worker = new Worker(WORKER_URL, { resourceLimits: this.opts.resourceLimits });
    const slot: Slot = { worker, ready: false, retired: false, job: undefined };
    this.slots.add(slot);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    this.exits.add(exited);
    worker.on('message', (msg: WorkerMessage) => this.onMessage(slot, msg));
    worker.on('error', (err: Error) => this.onDeath(slot, err));
    worker.once('exit', (code) => {
      this.exits.delete(exited);
      this.onDeath(slot, new Error(`worker exited with code ${code}`));
    });
  }

  private onMessage(slot: Slot, msg: WorkerMessage): void {
    if (slot.retired) return;
    if (msg.type === 'ready') {
      slot.ready = true;
      this.startFailures = 0;
      this.pump();
      return;
    }
    const job = slot.job;
    if (job === undefined || job.id !== msg.id) return;
    clearTimeout(job.timer);
    slot.job = undefined;
    job.resolve(msg);
    this.pump();
  }

  /** The worker failed (error event) or exited: fail its job, replace it. */
  private onDeath(slot: Slot, err: Error): void {
    if (slot.retired) return;
    if (!slot.ready) this.startFailures++;
    const code = (err as { code?: unknown }).code;
    const error =
      code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? new EnclaveHostError('FUNCTION_MEMORY_LIMIT', 'the function exhausted the worker heap', {}, err)
        : new EnclaveHostError('RUNTIME_WORKER_FAILED', 'the worker running the function died', {}, err);
    this.retire(slot, error);
    if (this.closed) return;
    if (this.startFailures >= MAX_START_FAILURES) {
      this.broken = new EnclaveHostError('RUNTIME_WORKER_FAILED', 'workers fail to start', {}, err);
      for (const job of this.queue.splice(0)) job.reject(this.broken);
      return;
    }
    this.spawn();
    this.pump();
  }

  /** Takes the slot out of service: fails its job with `error` and terminates the thread. */
  private retire(slot: Slot, error: EnclaveHostError): void {
    if (slot.retired) return;
    slot.retired = true;
    this.slots.delete(slot);
    const job = slot.job;
    slot.job = undefined;
    if (job !== undefined) {
      clearTimeout(job.timer);
      job.reject(error);
    }
    void slot.worker.terminate();
  }

  private onTimeout(slot: Slot, id: number): void {
    if (slot.retired || slot.job?.id !== id) return;
    this.retire(
      slot,
      new EnclaveHostError('FUNCTION_TIMEOUT', 'the function ran past the wall-time limit', {
        wallTimeMs: this.opts.wallTimeMs,
      }),
    );
    if (this.closed) return;
    this.spawn();
    this.pump();
  }

  /** Hands queued jobs to idle ready workers. Bounded by the number of slots. */
  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.retired || slot.job !== undefined) continue;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      const timer = setTimeout(() => this.onTimeout(slot, id), this.opts.wallTimeMs);
      slot.job = { resolve: job.resolve, reject: job.reject, id, timer };
      const message: RunRequest = { type: 'run', id, ...job.request };
      slot.worker.postMessage(message);
    }
  }
}

function closedError(): EnclaveHostError {
  return new EnclaveHostError('RUNTIME_CLOSED', 'the function runtime is closed');
}
