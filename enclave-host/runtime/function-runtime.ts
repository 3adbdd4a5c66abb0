import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fail, isEnclaveHostError } from '../errors.js';
import { FunctionRegistry } from './function-registry.js';
import type { RunResult } from './messages.js';
import {
  DEFAULT_MODULE_LIMITS,
  type ModuleLimits,
  type PreparedModule,
  prepareModule,
  WASM_PAGE_BYTES,
} from './prepare-module.js';
import { setLazyCompilation } from './wasm-api.js';
import { WorkerPool } from './worker-pool.js';

/*
 * The function runtime: WASI preview 1 command modules, one fresh instance per invocation, on a
 * bounded pool of worker threads. ABI (issue 3, "Function runtime"): the input is stdin, the output is
 * what the function writes to stdout, exit code 0 is success; anything else, or a trap, is a function
 * error. stderr (at most `maxLogBytes`, the rest counted) is returned to the caller with the result,
 * and with a function error through `functionOutputOf`; it is never logged on the host, which would
 * put the function's confidential diagnostics in clear.
 *
 * Limits and where each is enforced:
 * - memory: the module's memory maximum is rewritten to at most `memoryBytes` before compiling
 *   (`prepare-module.ts`), so the engine refuses growth beyond it; a module whose initial memory is
 *   larger is refused at `register`. A failed run whose memory reached the cap is reported as
 *   FUNCTION_MEMORY_LIMIT. The worker's own V8 heap is bounded by `resourceLimits`.
 * - tables, globals, functions, element and data segments: `moduleLimits` (`prepare-module.ts`);
 *   table maxima are rewritten so their sum stays within the budget, the rest is counted at `register`
 *   (FUNCTION_RESOURCE_LIMIT).
 * - wall time: the pool terminates the worker on overrun and starts a new one (`worker-pool.ts`).
 * - input: checked before dispatch; output: the worker stops the guest at the write that crosses it.
 */

export interface RuntimeLimits {
  /** Linear memory cap per instance, in bytes; rounded down to whole 64 KiB pages. */
  readonly memoryBytes: number;
  readonly wallTimeMs: number;
  readonly maxInputBytes: number;
  readonly maxOutputBytes: number;
}

export interface FunctionRuntimeOptions {
  /**
   * Worker threads (default and maximum: the number of CPUs). More workers than cores would make
   * the wall-time limit and the metered usage count time spent waiting for a core.
   */
  readonly workers?: number;
  readonly limits: RuntimeLimits;
  /** Registered functions kept at most; a new one evicts the least recently used (default 256). */
  readonly maxFunctions?: number;
  /** Functions one owner (the party that deployed them) holds at most (default 32). */
  readonly maxFunctionsPerOwner?: number;
  /** Largest module accepted by `register` (default 32 MiB). */
  readonly maxModuleBytes?: number;
  /** Invocations waiting for a worker at most (default 1024). */
  readonly maxQueue?: number;
  /** Invocations of one tenant waiting for a worker at most (default 64). */
  readonly maxQueuePerTenant?: number;
  /** Invocations of one tenant running at once (default: workers − 1, at least 1). */
  readonly maxRunningPerTenant?: number;
  /** stderr kept per invocation; the rest is dropped and counted (default 64 KiB). */
  readonly maxLogBytes?: number;
  /** What a module may declare besides memory (tables, globals, …); default `DEFAULT_MODULE_LIMITS`. */
  readonly moduleLimits?: Partial<ModuleLimits>;
}

export interface InvokeResult {
  readonly output: Uint8Array;
  /** What the function wrote to stderr, at most `maxLogBytes`. */
  readonly stderr: Uint8Array;
  /** stderr bytes dropped beyond `maxLogBytes`. */
  readonly stderrDropped: number;
  /** `wallMicros`: instantiation plus `_start`, measured in the worker (queueing excluded). */
  readonly usage: { readonly wallMicros: bigint };
}

/** What a failed function wrote before it failed (partial stdout; stderr as in InvokeResult). */
export interface FunctionOutput {
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
  readonly stderrDropped: number;
}

const failureOutputs = new WeakMap<object, FunctionOutput>();

/**
 * The output of a function error thrown by `FunctionRuntime.invoke` (kind `function`), when the
 * worker reported one; undefined for other errors and for a run whose worker was killed (timeout).
 * Kept beside the error instead of in its `info`, so it never reaches a log or a plaintext trailer.
 */
export function functionOutputOf(e: unknown): FunctionOutput | undefined {
  return typeof e === 'object' && e !== null ? failureOutputs.get(e) : undefined;
}

/** Default V8 heap of a worker: the JS side only ever holds the I/O buffers. */
const WORKER_RESOURCE_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 };
/** 4 GiB: the whole 32-bit address space, the most a wasm32 memory can have. */
const MAX_MEMORY_BYTES = 65536 * WASM_PAGE_BYTES;

function positiveInt(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    fail('INVALID_ARGUMENT', `${name} must be an integer in [0, ${max}]`, { [name]: value });
  }
  return value;
}

/** SHA-256 of the module bytes, hex: the function id (the hash of the plaintext module). */
export function functionId(wasm: Uint8Array): string {
  return createHash('sha256').update(wasm).digest('hex');
}

export class FunctionRuntime {
  private readonly limits: RuntimeLimits;
  private readonly limitPages: number;
  private readonly maxModuleBytes: number;
  private readonly moduleLimits: ModuleLimits;
  private readonly maxLogBytes: number;
  private readonly functions: FunctionRegistry<Promise<PreparedModule>>;
  private readonly pool: WorkerPool;
  private closed = false;

  constructor(opts: FunctionRuntimeOptions) {
    const { limits } = opts;
    // Modules are compiled whole at register, so a first call costs what a warm one does.
    setLazyCompilation(false);
    positiveInt('memoryBytes', limits.memoryBytes, MAX_MEMORY_BYTES);
    if (limits.memoryBytes < WASM_PAGE_BYTES)
      fail('INVALID_ARGUMENT', 'memoryBytes must be at least one page');
    positiveInt('wallTimeMs', limits.wallTimeMs, 2 ** 31 - 1);
    if (limits.wallTimeMs === 0) fail('INVALID_ARGUMENT', 'wallTimeMs must be positive');
    positiveInt('maxInputBytes', limits.maxInputBytes, 2 ** 31);
    positiveInt('maxOutputBytes', limits.maxOutputBytes, 2 ** 31);
    this.limits = { ...limits };
    this.limitPages = Math.floor(limits.memoryBytes / WASM_PAGE_BYTES);
    this.functions = new FunctionRegistry({
      maxFunctions: Math.max(1, positiveInt('maxFunctions', opts.maxFunctions ?? 256)),
      maxPerOwner: Math.max(1, positiveInt('maxFunctionsPerOwner', opts.maxFunctionsPerOwner ?? 32)),
    });
    this.maxModuleBytes = positiveInt('maxModuleBytes', opts.maxModuleBytes ?? 32 * 1024 * 1024);
    const moduleLimits = { ...DEFAULT_MODULE_LIMITS, ...opts.moduleLimits };
    for (const [name, value] of Object.entries(moduleLimits)) positiveInt(name, value, 2 ** 32 - 1);
    this.moduleLimits = moduleLimits;
    this.maxLogBytes = positiveInt('maxLogBytes', opts.maxLogBytes ?? 64 * 1024, 2 ** 31);
    const cores = Math.max(1, availableParallelism());
    const workers = positiveInt('workers', opts.workers ?? cores);
    if (workers === 0) fail('INVALID_ARGUMENT', 'workers must be at least 1');
    if (workers > cores)
      fail(
        'INVALID_ARGUMENT',
        `${workers} workers is more than the ${cores} cores: wall-time limits and metered usage would count waiting for a core`,
        { workers, cores },
      );
    const maxRunningPerTenant = positiveInt(
      'maxRunningPerTenant',
      opts.maxRunningPerTenant ?? Math.max(1, workers - 1),
      workers,
    );
    if (maxRunningPerTenant === 0) fail('INVALID_ARGUMENT', 'maxRunningPerTenant must be at least 1');
    this.pool = new WorkerPool({
      size: workers,
      wallTimeMs: limits.wallTimeMs,
      maxQueue: positiveInt('maxQueue', opts.maxQueue ?? 1024),
      maxQueuePerTenant: positiveInt('maxQueuePerTenant', opts.maxQueuePerTenant ?? 64),
      maxRunningPerTenant,
      resourceLimits: WORKER_RESOURCE_LIMITS,
    });
  }

  /**
   * Validates and compiles a WASI preview 1 command module for `owner` (the party deploying it);
   * returns its function id (SHA-256 of `wasm`, hex). Registering the same bytes again returns the
   * same id and compiles nothing. Each owner holds at most `maxFunctionsPerOwner` functions
   * (FUNCTION_TOO_MANY); a full registry evicts its least recently used function.
   */
  async register(wasm: Uint8Array, owner = ''): Promise<string> {
    if (this.closed) fail('RUNTIME_CLOSED', 'the function runtime is closed');
    if (wasm.length > this.maxModuleBytes) {
      fail('FUNCTION_MODULE_TOO_LARGE', 'the module is larger than the limit', {
        moduleBytes: wasm.length,
        maxModuleBytes: this.maxModuleBytes,
      });
    }
    const fnId = functionId(wasm);
    let compiling: Promise<PreparedModule> | undefined;
    const entry = this.functions.add(fnId, owner, () => {
      compiling = prepareModule(wasm.slice(), this.limitPages, this.moduleLimits);
      return compiling;
    });
    compiling?.catch(() => this.functions.delete(fnId));
    await entry;
    return fnId;
  }

  /** Drops `owner`'s hold on a function (it goes when nobody holds it); false when it held none. */
  unregister(fnId: string, owner = ''): boolean {
    return this.functions.release(fnId, owner);
  }

  /** The limits enforced, with the stderr cap (`maxLogBytes`). */
  get effectiveLimits(): RuntimeLimits & { readonly maxLogBytes: number } {
    return { ...this.limits, memoryBytes: this.limitPages * WASM_PAGE_BYTES, maxLogBytes: this.maxLogBytes };
  }

  has(fnId: string): boolean {
    return this.functions.has(fnId);
  }

  /** Invocations waiting and running per tenant (see WorkerPool.load). */
  load(): Map<string, { queued: number; running: number }> {
    return this.pool.load();
  }

  /**
   * Runs the function on `input` in a fresh instance; typed errors per the limits above. `tenant`
   * names the party the call runs for: the pool schedules tenants fairly (worker-pool.ts).
   */
  async invoke(fnId: string, input: Uint8Array, tenant = ''): Promise<InvokeResult> {
    if (this.closed) fail('RUNTIME_CLOSED', 'the function runtime is closed');
    const entry = this.functions.use(fnId);
    if (entry === undefined) fail('FUNCTION_NOT_FOUND', `no function ${fnId} is registered`, { fnId });
    if (input.length > this.limits.maxInputBytes) {
      fail(
        'INPUT_TOO_LARGE',
        `the input is ${input.length} bytes, over the limit of ${this.limits.maxInputBytes}`,
        {
          inputBytes: input.length,
          maxInputBytes: this.limits.maxInputBytes,
        },
      );
    }
    const prepared = await entry;
    const result = await this.pool
      .run(
        {
          module: prepared.module,
          input,
          maxOutputBytes: this.limits.maxOutputBytes,
          maxLogBytes: this.maxLogBytes,
        },
        tenant,
      )
      .catch((e: unknown) => this.withLimits(e));
    try {
      return this.toResult(fnId, prepared, result);
    } catch (e) {
      // Partial stdout on a failure arrives with the worker's `output` for every status; until then
      // only an exit carries it.
      const stdout = (result as { output?: Uint8Array }).output ?? new Uint8Array(0);
      if (typeof e === 'object' && e !== null)
        failureOutputs.set(e, { stdout, stderr: result.stderr, stderrDropped: result.stderrDropped });
      throw e;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.close();
  }

  /** The pool's errors for the time and heap limits, restated with the numbers. */
  private withLimits(e: unknown): never {
    if (isEnclaveHostError(e, 'FUNCTION_TIMEOUT'))
      fail(
        'FUNCTION_TIMEOUT',
        `the function ran past the wall-time limit of ${this.limits.wallTimeMs} ms`,
        { ...e.info, wallTimeMs: this.limits.wallTimeMs },
        e,
      );
    if (isEnclaveHostError(e, 'FUNCTION_MEMORY_LIMIT'))
      fail(
        'FUNCTION_MEMORY_LIMIT',
        `the function exhausted the worker heap (${WORKER_RESOURCE_LIMITS.maxOldGenerationSizeMb} MiB; linear memory limit ${this.limitPages * WASM_PAGE_BYTES} bytes)`,
        { ...e.info, memoryLimitBytes: this.limitPages * WASM_PAGE_BYTES },
        e,
      );
    throw e;
  }

  private toResult(fnId: string, prepared: PreparedModule, r: RunResult): InvokeResult {
    const usage = { wallMicros: BigInt(r.micros) };
    switch (r.status) {
      case 'exit':
        if (r.exitCode !== 0) {
          fail('FUNCTION_EXIT_NONZERO', `the function exited with code ${r.exitCode}`, {
            fnId,
            exitCode: r.exitCode,
            wallMicros: r.micros,
          });
        }
        return { output: r.output, stderr: r.stderr, stderrDropped: r.stderrDropped, usage };
      case 'output-limit':
        return fail(
          'OUTPUT_TOO_LARGE',
          `the function wrote more than the output limit of ${this.limits.maxOutputBytes} bytes`,
          {
            fnId,
            maxOutputBytes: this.limits.maxOutputBytes,
            wallMicros: r.micros,
          },
        );
      case 'trap': {
        const info = {
          fnId,
          phase: r.phase,
          trap: `${r.errorName}: ${r.message}`,
          memoryBytes: r.memoryBytes,
          wallMicros: r.micros,
        };
        // A failed allocation traps the guest (allocators abort on OOM): a trap after the memory grew
        // to its cap is put down to the limit. A module that starts at its cap never grew, so its traps
        // stay traps; stack overflow (RangeError) is a trap. An instance whose memory cannot be
        // allocated fails with a RangeError ("Out of memory: Cannot allocate Wasm memory").
        const capBytes = prepared.maximumPages * WASM_PAGE_BYTES;
        const grewToCap =
          r.errorName === 'RuntimeError' &&
          r.memoryBytes >= capBytes &&
          r.memoryBytes > prepared.initialPages * WASM_PAGE_BYTES;
        const memoryLimit =
          (r.phase === 'run' && grewToCap) || (r.phase === 'instantiate' && r.errorName === 'RangeError');
        if (memoryLimit) {
          return fail(
            'FUNCTION_MEMORY_LIMIT',
            `the function ran out of memory at the limit of ${capBytes} bytes`,
            {
              ...info,
              memoryLimitBytes: capBytes,
            },
          );
        }
        return fail('FUNCTION_TRAPPED', `the function trapped: ${r.message}`, info);
      }
    }
  }
}
