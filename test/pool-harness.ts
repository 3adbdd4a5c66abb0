import type { SimulatedRoot } from '../attestation/simulated.js';
import type { Runtime } from '../enclave-host/executor.js';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { compileWat } from '../examples/build-example.js';
import { type Harness, LIMITS, startExecutor } from './e2e-harness.js';

/** Shared set-up of the lease pool tests: executors of one simulated root, one lease each. */

/**
 * Starts an executor serving `leaseId`. With `serialDelayMs`, it is a slow machine: its calls run
 * one at a time, each after that long (the runtime below is the real one).
 */
export function startLeaseExecutor(
  root: SimulatedRoot,
  leaseId: bigint,
  o: { serialDelayMs?: number; pricePerCall?: bigint } = {},
): Promise<Harness> {
  const runtime = new FunctionRuntime({ workers: 2, limits: LIMITS });
  return startExecutor({
    root,
    leaseId,
    pricePerCall: o.pricePerCall ?? 0n,
    runtime: o.serialDelayMs === undefined ? runtime : serialDelay(runtime, o.serialDelayMs),
  });
}

/** `inner`, with its calls taken one at a time, each `delayMs` before it runs. */
function serialDelay(inner: FunctionRuntime, delayMs: number): Runtime {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    register: (...a) => inner.register(...a),
    unregister: (...a) => inner.unregister(...a),
    has: (...a) => inner.has(...a),
    close: () => inner.close(),
    get effectiveLimits() {
      return inner.effectiveLimits;
    },
    invoke: (...a) => {
      const run = queue.then(() => new Promise((r) => setTimeout(r, delayMs))).then(() => inner.invoke(...a));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

/**
 * A function that spins `iterations` times and then copies up to 4 KiB of stdin to stdout: its time
 * per call grows with `iterations`, its output is its input.
 */
export function slowEcho(iterations: number): Promise<Uint8Array> {
  return compileWat(
    'slow-echo.wat',
    `(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $i i32) (local $acc i32)
    (loop $spin
      (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 31))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const ${iterations}))))
    ;; keep the loop's result alive: store it where nothing reads it
    (i32.store (i32.const 12) (local.get $acc))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`,
  );
}
