import type { CompiledModule } from './wasm-api.js';

/*
 * Messages between the pool (main thread) and `worker.mjs`. The worker is plain JavaScript (Node 20
 * cannot run TypeScript in a worker without a loader), so these types are the contract; keep the
 * JSDoc in `worker.mjs` in step with them.
 */

/** main → worker: run one invocation in a fresh instance. */
export interface RunRequest {
  readonly type: 'run';
  readonly id: number;
  readonly module: CompiledModule;
  readonly input: Uint8Array;
  readonly maxOutputBytes: number;
  /** stderr beyond this many bytes is dropped (and counted). */
  readonly maxLogBytes: number;
}

/** worker → main, once after start-up. */
export interface ReadyMessage {
  readonly type: 'ready';
}

interface ResultBase {
  readonly type: 'result';
  readonly id: number;
  /** Microseconds from instantiation to the end of `_start` (worker clock). */
  readonly micros: number;
  /**
   * What the function wrote to stdout, whatever the status: all of it on `exit`, the bytes up to the
   * limit on `output-limit`, what it wrote before it trapped on `trap` (empty when it never ran).
   */
  readonly output: Uint8Array;
  /** What the function wrote to stderr, at most `maxLogBytes`. */
  readonly stderr: Uint8Array;
  readonly stderrDropped: number;
}

export interface ExitResult extends ResultBase {
  readonly status: 'exit';
  readonly exitCode: number;
}

export interface TrapResult extends ResultBase {
  readonly status: 'trap';
  /** `instantiate`: the instance could not be created; `run`: `_start` trapped. */
  readonly phase: 'instantiate' | 'run';
  /** Constructor name of what was thrown (RuntimeError, RangeError, …). */
  readonly errorName: string;
  readonly message: string;
  /** Size of the linear memory when it trapped (0 when there was no instance). */
  readonly memoryBytes: number;
}

export interface OutputLimitResult extends ResultBase {
  readonly status: 'output-limit';
}

export type RunResult = ExitResult | TrapResult | OutputLimitResult;
export type WorkerMessage = ReadyMessage | RunResult;
