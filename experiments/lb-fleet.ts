import { setTimeout as sleep } from 'node:timers/promises';
import { type HDNodeWallet, Wallet } from 'ethers';
import { FunctionRuntime, type InvokeResult } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import { connect, type FunctionHandle, type Session } from '../sdk/index.js';
import { type Harness, startExecutor } from '../test/e2e-harness.js';

/*
 * A fleet of real, standalone executors in this process (enclave-host/executor.ts with a simulated
 * TEE, on 127.0.0.1), one SDK session to each with one function deployed, for the `lb` and
 * `parallelism` experiments. Each executor runs its calls one at a time (a FunctionRuntime with one
 * worker behind a FIFO), and its speed is set by `extraMs`: after the WebAssembly call returns, the
 * executor holds its only slot for `extraMs` more, as a slower machine would. The slot's busy
 * intervals are recorded, so the experiments know each call's service time and each executor's
 * busy time without asking the SDK.
 */

export const FLEET_LIMITS = {
  memoryBytes: 16 * 1024 * 1024,
  wallTimeMs: 10_000,
  maxInputBytes: 1024 * 1024,
  maxOutputBytes: 1024 * 1024,
};

/** A FunctionRuntime with one worker behind a FIFO, holding its slot `extraMs` longer per call. */
export class SlotRuntime {
  readonly inner = new FunctionRuntime({ workers: 1, limits: FLEET_LIMITS, maxQueue: 1 << 16 });
  /** [start, end] of every call's hold of the slot, ms (performance.now()). */
  readonly busy: [number, number][] = [];
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly extraMs: number) {}

  register: FunctionRuntime['register'] = (w, o) => this.inner.register(w, o);
  unregister: FunctionRuntime['unregister'] = (f, o) => this.inner.unregister(f, o);
  has: FunctionRuntime['has'] = (f) => this.inner.has(f);
  close = async () => this.inner.close();
  get effectiveLimits() {
    return this.inner.effectiveLimits;
  }

  invoke = (fnId: string, input: Uint8Array, tenant?: string): Promise<InvokeResult> => {
    const run = async () => {
      const t0 = performance.now();
      try {
        const r = await this.inner.invoke(fnId, input, tenant);
        if (this.extraMs > 0) await sleep(this.extraMs);
        return r;
      } finally {
        this.busy.push([t0, performance.now()]);
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  };

  /** Busy time (ms) within [from, to]. */
  busyWithin(from: number, to: number): number {
    let s = 0;
    for (const [a, b] of this.busy) s += Math.max(0, Math.min(b, to) - Math.max(a, from));
    return s;
  }
}

export interface FleetMember {
  readonly harness: Harness;
  readonly runtime: SlotRuntime;
  readonly session: Session;
  readonly fn: FunctionHandle;
}

export interface Fleet {
  readonly members: readonly FleetMember[];
  readonly wallet: HDNodeWallet;
  stop(): Promise<void>;
}

/** Starts one executor per `extraMs` entry, connects (batched receipts) and deploys `example`. */
export async function startFleet(extraMs: readonly number[], example: 'echo' | 'matmul'): Promise<Fleet> {
  const wasm = await buildExample(example);
  const members: FleetMember[] = [];
  const stop = async () => {
    for (const m of members) {
      await m.session.close().catch(() => undefined);
      await m.harness.stop();
      await m.runtime.close();
    }
  };
  try {
    for (const [i, ms] of extraMs.entries()) {
      const runtime = new SlotRuntime(ms);
      // Executor i serves lease i + 1: the pool's candidates are the leases in ascending id order.
      const leaseId = BigInt(i + 1);
      const harness = await startExecutor({ runtime, batchMaxCalls: 64, batchMaxMillis: 50, leaseId });
      try {
        const session = await connect(harness.endpoint, {
          policy: harness.policy,
          receipts: 'batched',
          leaseId,
        });
        members.push({ harness, runtime, session, fn: await session.deploy(wasm) });
      } catch (e) {
        await harness.stop();
        await runtime.close();
        throw e;
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { members, wallet: Wallet.createRandom(), stop };
}

/** A matmul input: n (u32 LE), then A and B (n×n int32 LE), filled from `seed`. */
export function matmulInput(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(4 + 8 * n * n);
  const v = new DataView(b.buffer);
  v.setUint32(0, n, true);
  let x = seed >>> 0;
  for (let i = 0; i < 2 * n * n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    v.setInt32(4 + 4 * i, (x >>> 16) - 32768, true);
  }
  return b;
}
