import { Worker } from 'node:worker_threads';
import { EnclaveHostError } from '../errors.js';
import type { RunRequest, RunResult, WorkerMessage } from './messages.js';

/*
 * A fixed-size pool of worker threads that run one request at a time each. The pool owns the wall
 * clock: a request that outlives `wallTimeMs` is answered with FUNCTION_TIMEOUT, its worker is
 * terminated (a guest loop never yields), and a fresh worker takes its place. A worker that dies for
 * any other reason (V8 heap limit, crash) fails only the request it was running and is replaced the
 * same way.
 *
 * Scheduling is fair between tenants (the authenticated party a request runs for): each tenant has
 * its own FIFO queue, tenants with waiting requests are served round-robin, and no tenant runs more
 * than `maxRunningPerTenant` requests at once, so with two or more workers one tenant's slow or
 * looping calls never hold every worker. Queues are bounded per tenant and in total.
 */

const WORKER_URL = new URL('./worker.mjs', import.meta.url);
/** Consecutive workers that may die before becoming ready, before the pool gives up. */
const MAX_START_FAILURES = 3;

export interface WorkerPoolOptions {
  readonly size: number;
  readonly wallTimeMs: number;
  /** Requests waiting for a worker beyond this many (all tenants) are refused with RUNTIME_BUSY. */
  readonly maxQueue: number;
  /** Requests of one tenant waiting beyond this many are refused with RUNTIME_BUSY. */
  readonly maxQueuePerTenant: number;
  /** Requests of one tenant running at once, at most (1 ≤ n ≤ size). */
  readonly maxRunningPerTenant: number;
  /** V8 heap limits of each worker (the guest's linear memory is capped separately, in the module). */
  readonly resourceLimits: {
    readonly maxOldGenerationSizeMb: number;
    readonly maxYoungGenerationSizeMb: number;
    readonly stackSizeMb: number;
  };
}

interface Job {
  readonly tenant: Tenant;
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

/** One tenant's books; it exists only while the tenant has requests waiting or running. */
interface Tenant {
  readonly key: string;
  readonly queue: Job[];
  running: number;
}

export class WorkerPool {
  private readonly opts: WorkerPoolOptions;
  private readonly slots = new Set<Slot>();
  private readonly tenants = new Map<string, Tenant>();
  /** Tenants with waiting requests, in round-robin order: the head is served next. */
  private readonly ring: Tenant[] = [];
  private queued = 0;
  private readonly exits = new Set<Promise<number>>();
  private nextId = 1;
  private startFailures = 0;
  private closed = false;
  private broken: EnclaveHostError | undefined;

  constructor(opts: WorkerPoolOptions) {
    if (opts.maxRunningPerTenant < 1 || opts.maxRunningPerTenant > opts.size)
      throw new RangeError(`maxRunningPerTenant must be in [1, ${opts.size}]`);
    this.opts = opts;
    for (let i = 0; i < opts.size; i++) this.spawn();
  }

  /** Runs `request` for `tenant` (a key naming the party it runs for). */
  run(request: Omit<RunRequest, 'id' | 'type'>, tenant = ''): Promise<RunResult> {
    if (this.closed) return Promise.reject(closedError());
    if (this.broken !== undefined) return Promise.reject(this.broken);
    const { maxQueue, maxQueuePerTenant } = this.opts;
    if (this.queued >= maxQueue) {
      return Promise.reject(
        new EnclaveHostError('RUNTIME_BUSY', `${maxQueue} invocations are already waiting for a worker`, {
          maxQueue,
        }),
      );
    }
    const t = this.tenants.get(tenant);
    if (t !== undefined && t.queue.length >= maxQueuePerTenant) {
      return Promise.reject(
        new EnclaveHostError(
          'RUNTIME_BUSY',
          `${maxQueuePerTenant} of this client's invocations are already waiting for a worker`,
          { maxQueuePerTenant },
        ),
      );
    }
    return new Promise<RunResult>((resolve, reject) => {
      const owner = t ?? this.tenant(tenant);
      owner.queue.push({ tenant: owner, request, resolve, reject });
      this.queued++;
      if (owner.queue.length === 1) this.ring.push(owner);
      this.pump();
    });
  }

  /** Requests waiting and running per tenant (tenants with neither are not listed). */
  load(): Map<string, { queued: number; running: number }> {
    return new Map([...this.tenants].map(([k, t]) => [k, { queued: t.queue.length, running: t.running }]));
  }

  private tenant(key: string): Tenant {
    const t: Tenant = { key, queue: [], running: 0 };
    this.tenants.set(key, t);
    return t;
  }

  /** Forgets a tenant with nothing waiting or running. */
  private release(t: Tenant): void {
    if (t.running === 0 && t.queue.length === 0) this.tenants.delete(t.key);
  }

  /** Ends a job's run: the tenant's running count drops and the job settles once. */
  private finish(job: { readonly tenant: Tenant; readonly timer: NodeJS.Timeout }): void {
    clearTimeout(job.timer);
    job.tenant.running--;
    this.release(job.tenant);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.rejectQueued(closedError());
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
    slot.job = undefined;
    this.finish(job);
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
      this.rejectQueued(this.broken);
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
      this.finish(job);
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

  private rejectQueued(error: EnclaveHostError): void {
    for (const t of this.ring.splice(0)) {
      for (const job of t.queue.splice(0)) job.reject(error);
      this.release(t);
    }
    this.queued = 0;
  }

  /**
   * The next job in round-robin order whose tenant is under its running cap; that tenant moves to
   * the back of the ring (or leaves it when its queue is empty). Bounded by the ring's length.
   */
  private next(): Job | undefined {
    for (let i = 0; i < this.ring.length; i++) {
      const t = this.ring[i]!;
      if (t.running >= this.opts.maxRunningPerTenant) continue;
      const job = t.queue.shift()!;
      this.ring.splice(i, 1);
      if (t.queue.length > 0) this.ring.push(t);
      this.queued--;
      return job;
    }
    return undefined;
  }

  /** Hands queued jobs to idle ready workers. Bounded by the number of slots. */
  private pump(): void {
    for (const slot of this.slots) {
      if (this.queued === 0) return;
      if (!slot.ready || slot.retired || slot.job !== undefined) continue;
      const job = this.next();
      if (job === undefined) return;
      job.tenant.running++;
      const id = this.nextId++;
      const timer = setTimeout(() => this.onTimeout(slot, id), this.opts.wallTimeMs);
      slot.job = { tenant: job.tenant, resolve: job.resolve, reject: job.reject, id, timer };
      const message: RunRequest = { type: 'run', id, ...job.request };
      slot.worker.postMessage(message);
    }
  }
}

function closedError(): EnclaveHostError {
  return new EnclaveHostError('RUNTIME_CLOSED', 'the function runtime is closed');
}
