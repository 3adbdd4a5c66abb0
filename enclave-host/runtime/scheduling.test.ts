import { afterEach, describe, expect, it } from 'vitest';
import { buildExample } from '../../examples/build-example.js';
import { isEnclaveHostError } from '../errors.js';
import { FunctionRuntime, type RuntimeLimits } from './function-runtime.js';

// Fair scheduling between tenants (worker-pool.ts): per-tenant queues served round-robin, a cap on
// the workers one tenant may hold, bounded queues per tenant. Order of completion is asserted, not
// durations: the victim's call must finish while every one of the hostile tenant's calls is still
// running or waiting.

const LIMITS: RuntimeLimits = {
  memoryBytes: 1024 * 1024,
  wallTimeMs: 3_000,
  maxInputBytes: 1024,
  maxOutputBytes: 1024,
};
const enc = new TextEncoder();

let rt: FunctionRuntime | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

/** Settles to 'ok' or the error code, recording the order of completion in `order`. */
function track(p: Promise<unknown>, label: string, order: string[]): Promise<string> {
  return p.then(
    () => {
      order.push(label);
      return 'ok';
    },
    (e: unknown) => {
      order.push(label);
      return isEnclaveHostError(e) ? e.code : String(e);
    },
  );
}

describe('fair scheduling', () => {
  it('one tenant looping on every call cannot hold every worker', async () => {
    rt = new FunctionRuntime({ workers: 2, limits: LIMITS });
    const loop = await rt.register(await buildExample('infinite-loop'));
    const echo = await rt.register(await buildExample('echo'));
    const order: string[] = [];
    const hostile = Array.from({ length: 8 }, (_, i) =>
      track(rt!.invoke(loop, enc.encode(''), 'mallory'), `m${i}`, order),
    );
    const started = performance.now();
    const victim = await rt.invoke(echo, enc.encode('hello'), 'alice');
    const victimMs = performance.now() - started;
    expect(new TextDecoder().decode(victim.output)).toBe('hello');
    // Every hostile call is still running or queued when the victim's call is answered.
    expect(order).toEqual([]);
    expect(rt.load().get('mallory')).toEqual({ queued: 7, running: 1 });
    expect(victimMs).toBeLessThan(LIMITS.wallTimeMs);
    await rt.close();
    expect(await Promise.all(hostile)).toEqual(Array(8).fill('RUNTIME_CLOSED'));
  });

  it('serves waiting tenants round-robin, not first come first served', async () => {
    rt = new FunctionRuntime({ workers: 1, limits: LIMITS });
    const echo = await rt.register(await buildExample('echo'));
    await rt.invoke(echo, enc.encode('warm'), 'a'); // the worker is ready: a0 is dispatched at once
    const order: string[] = [];
    const calls = [
      ...Array.from({ length: 4 }, (_, i) => track(rt!.invoke(echo, enc.encode('a'), 'a'), `a${i}`, order)),
      ...Array.from({ length: 2 }, (_, i) => track(rt!.invoke(echo, enc.encode('b'), 'b'), `b${i}`, order)),
    ];
    expect(await Promise.all(calls)).toEqual(Array(6).fill('ok'));
    // a0 was dispatched at once; then the ring alternates a, b while both have work.
    expect(order).toEqual(['a0', 'a1', 'b0', 'a2', 'b1', 'a3']);
    expect(rt.load().size).toBe(0);
  });

  it("bounds one tenant's queue without touching the others'", async () => {
    rt = new FunctionRuntime({ workers: 1, limits: LIMITS, maxQueuePerTenant: 2 });
    const loop = await rt.register(await buildExample('infinite-loop'));
    const echo = await rt.register(await buildExample('echo'));
    await rt.invoke(echo, enc.encode('warm'), 'alice'); // the worker is ready: m0 runs at once
    const order: string[] = [];
    const held = [0, 1, 2].map((i) => track(rt!.invoke(loop, enc.encode(''), 'mallory'), `m${i}`, order));
    const err = await rt.invoke(loop, enc.encode(''), 'mallory').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEnclaveHostError(err, 'RUNTIME_BUSY')).toBe(true);
    expect((err as Error).message).toContain('2 of this client');
    // Another tenant still gets a place in the queue.
    const other = track(rt.invoke(echo, enc.encode('x'), 'alice'), 'alice', order);
    await rt.close();
    expect(await other).toBe('RUNTIME_CLOSED');
    await Promise.all(held);
  });

  it('refuses more workers than cores, and a per-tenant cap above the pool', () => {
    expect(() => new FunctionRuntime({ workers: 10_000, limits: LIMITS })).toThrow(/workers/);
    expect(() => new FunctionRuntime({ workers: 1, limits: LIMITS, maxRunningPerTenant: 2 })).toThrow(
      /maxRunningPerTenant/,
    );
  });
});
