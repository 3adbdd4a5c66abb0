import type { SimulatedRoot } from '../attestation/simulated.js';
import type { ExecutorOptions } from '../enclave-host/executor.js';
import { compileWat } from '../examples/build-example.js';
import { type Harness, startExecutor, wrappedRuntime } from './e2e-harness.js';

/** Shared set-up of the lease pool tests: executors of one simulated root, one lease each. */

/**
 * Starts an executor serving `leaseId`, counting in `runs` how often each input (as UTF-8) ran. With
 * `serialDelayMs` it is a slow machine: its calls run one at a time, each after that long.
 */
export function startLeaseExecutor(
  root: SimulatedRoot,
  leaseId: bigint,
  o: {
    serialDelayMs?: number;
    pricePerCall?: bigint;
    runs?: Map<string, number>;
    listen?: string;
    identity?: ExecutorOptions['identity'];
  } = {},
): Promise<Harness> {
  const runs = o.runs ?? new Map<string, number>();
  let queue: Promise<unknown> = Promise.resolve();
  const runtime = wrappedRuntime((rt, fn, input, tenant) => {
    const run = async () => {
      const key = new TextDecoder().decode(input);
      runs.set(key, (runs.get(key) ?? 0) + 1);
      return rt.invoke(fn, input, tenant);
    };
    if (o.serialDelayMs === undefined) return run();
    const delay = o.serialDelayMs;
    const next = queue.then(() => new Promise((r) => setTimeout(r, delay))).then(run);
    queue = next.catch(() => undefined);
    return next;
  });
  return startExecutor({
    root,
    leaseId,
    pricePerCall: o.pricePerCall ?? 0n,
    runtime,
    ...(o.listen !== undefined && { listen: o.listen }),
    ...(o.identity !== undefined && { identity: o.identity }),
  });
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
