import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import { connect, isDefaasError, type Session } from '../sdk/index.js';
import { type Harness, LIMITS, startExecutor } from './e2e-harness.js';

// Two customers of one executor (2 workers), over real gRPC sessions on 127.0.0.1: one keeps 8
// infinite loops running, the other's echo is served at once. Order is asserted, not durations:
// the victim's answer arrives while every hostile call is still running or queued.

describe('fairness between clients of one executor', () => {
  let h: Harness;
  let mallory: Session;
  let alice: Session;
  const wallTimeMs = 1_500;
  beforeAll(async () => {
    h = await startExecutor({
      runtime: new FunctionRuntime({ workers: 2, limits: { ...LIMITS, wallTimeMs } }),
    });
    mallory = await connect(h.endpoint, { policy: h.policy });
    alice = await connect(h.endpoint, { policy: h.policy });
  });
  afterAll(async () => {
    await mallory.close();
    await alice.close();
    await h.stop();
  });

  it("one client's 8 infinite loops do not delay another client's echo", async () => {
    const loop = await mallory.deploy(await buildExample('infinite-loop'));
    const echo = await alice.deploy(await buildExample('echo'));
    const m = Wallet.createRandom();
    const a = Wallet.createRandom();
    const settled: string[] = [];
    const hostile = Array.from({ length: 8 }, (_, i) =>
      mallory.invoke(loop, new Uint8Array(0), { wallet: m }).then(
        () => settled.push(`m${i} ok`),
        (e: unknown) => settled.push(isDefaasError(e) ? e.code : String(e)),
      ),
    );
    // Let the loops reach the workers first.
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    const r = await alice.invoke(echo, new TextEncoder().encode('hi'), { wallet: a });
    const ms = performance.now() - started;
    expect(new TextDecoder().decode(r.output)).toBe('hi');
    expect(settled).toEqual([]);
    expect(ms).toBeLessThan(wallTimeMs);
    // The loops are cut at the wall-time limit, one worker's worth at a time; the rest are ended by
    // the executor's stop (afterAll).
    await Promise.race(hostile);
    expect(settled[0]).toBe('FUNCTION_TIMEOUT');
  }, 30_000);
});
