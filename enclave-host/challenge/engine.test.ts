import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNELS, kernelIsFresh } from '../../examples/build-kernels.js';
import { isEnclaveHostError } from '../errors.js';
import { MAX_MATMUL_N, type MatmulEngine, matmulLayout, startMatmulEngine } from './engine.js';

/** The definition: C[i][j] = Σ_k A[i][k]·B[k][j], in plain JavaScript numbers. */
function naive(n: number, a: Uint8Array, b: Uint8Array): Int32Array {
  const c = new Int32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k]! * b[k * n + j]!;
      c[i * n + j] = s;
    }
  return c;
}

/** Deterministic bytes (xorshift), so a failure is reproducible. */
function bytes(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const SIZES = [1, 2, 7, 8, 9, 15, 17, 33, 100, 129, 256];

describe('startMatmulEngine', () => {
  let one: MatmulEngine;
  let two: MatmulEngine;
  beforeAll(async () => {
    [one, two] = await Promise.all([startMatmulEngine({ workers: 1 }), startMatmulEngine({ workers: 2 })]);
  });
  afterAll(async () => {
    await Promise.all([one.close(), two.close()]);
  });

  it.each(SIZES)('equals the definition for random entries, n = %i', async (n) => {
    const a = bytes(n * n, n * 7919);
    const b = bytes(n * n, n * 104_729 + 1);
    expect(await two.multiply(n, a, b)).toEqual(naive(n, a, b));
  });

  it.each(SIZES)('equals the definition at the largest entries (all 255), n = %i', async (n) => {
    const a = new Uint8Array(n * n).fill(255);
    const c = await two.multiply(n, a, a);
    expect(c).toEqual(new Int32Array(n * n).fill(n * 255 * 255));
  });

  // a 137-GFLOP product and 128 MiB of engine memory: seconds, so only with DEFAAS_SLOW_TESTS=1
  it.runIf(process.env.DEFAAS_SLOW_TESTS === '1')(
    'holds at the top of the int32 range at the largest n (one full row and column of 255s)',
    async () => {
      const n = MAX_MATMUL_N;
      const a = new Uint8Array(n * n);
      const b = new Uint8Array(n * n);
      a.fill(255, (n - 1) * n, n * n);
      for (let k = 0; k < n; k++) b[k * n + (n - 1)] = 255;
      const c = await two.multiply(n, a, b);
      expect(c[n * n - 1]).toBe(n * 255 * 255);
      expect(c[n * n - 2]).toBe(0);
      expect(c[0]).toBe(0);
    },
    120_000,
  );

  it('agrees with the definition on arbitrary small products (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 24 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.uint8Array({ minLength: n * n, maxLength: n * n }),
              fc.uint8Array({ minLength: n * n, maxLength: n * n }),
            ),
          ),
        async ([n, a, b]) => {
          expect(await one.multiply(n, a, b)).toEqual(naive(n, a, b));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('gives the same product on 1 and 2 workers, and on calls made at once', async () => {
    const sizes = [3, 64, 130, 301];
    const inputs = sizes.map((n) => [n, bytes(n * n, n), bytes(n * n, n + 99)] as const);
    const onOne = await Promise.all(inputs.map(([n, a, b]) => one.multiply(n, a, b)));
    const onTwo = await Promise.all(inputs.map(([n, a, b]) => two.multiply(n, a, b)));
    expect(onTwo).toEqual(onOne);
    expect(onOne[1]).toEqual(naive(64, inputs[1]![1], inputs[1]![2]));
  });

  it('refuses a bad order or factor shape with INVALID_ARGUMENT', async () => {
    const bad: [number, Uint8Array, Uint8Array][] = [
      [0, new Uint8Array(0), new Uint8Array(0)],
      [-1, new Uint8Array(1), new Uint8Array(1)],
      [1.5, new Uint8Array(2), new Uint8Array(2)],
      [Number.NaN, new Uint8Array(1), new Uint8Array(1)],
      [MAX_MATMUL_N + 1, new Uint8Array(1), new Uint8Array(1)],
      [3, new Uint8Array(9), new Uint8Array(8)],
      [3, new Uint8Array(10), new Uint8Array(9)],
      [3, new Int8Array(9) as unknown as Uint8Array, new Uint8Array(9)],
    ];
    for (const [n, a, b] of bad) {
      const e = await two.multiply(n, a, b).catch((x: unknown) => x);
      expect(isEnclaveHostError(e, 'INVALID_ARGUMENT'), `n = ${n}`).toBe(true);
    }
    // a refusal leaves the engine working
    expect(await two.multiply(2, Uint8Array.of(1, 2, 3, 4), Uint8Array.of(5, 6, 7, 8))).toEqual(
      Int32Array.of(19, 22, 43, 50),
    );
  });
});

describe('engine life cycle', () => {
  it('refuses a bad worker count', async () => {
    for (const workers of [0, -1, 1.5, 1000]) {
      const e = await startMatmulEngine({ workers }).catch((x: unknown) => x);
      expect(isEnclaveHostError(e, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('close() ends the workers; a product after close, or running at close, is refused', async () => {
    const engine = await startMatmulEngine({ workers: 2 });
    const n = 512;
    const running = engine.multiply(n, bytes(n * n, 1), bytes(n * n, 2)).catch((x: unknown) => x);
    await engine.close();
    const e = await running;
    // the product either finished before close() or was refused; it never hangs
    if (!(e instanceof Int32Array)) expect(isEnclaveHostError(e, 'RUNTIME_CLOSED')).toBe(true);
    const after = await engine.multiply(1, Uint8Array.of(2), Uint8Array.of(3)).catch((x: unknown) => x);
    expect(isEnclaveHostError(after, 'RUNTIME_CLOSED')).toBe(true);
    await engine.close();
  });

  it('a worker that dies fails the product with RUNTIME_WORKER_FAILED, and the engine recovers', async () => {
    const engine = await startMatmulEngine({ workers: 2 });
    try {
      // reach into the engine: terminate one worker while a product is in flight
      const slots = (engine as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
      const n = 700;
      const running = engine.multiply(n, bytes(n * n, 3), bytes(n * n, 4)).catch((x: unknown) => x);
      await slots[1]!.worker.terminate();
      const e = await running;
      if (!(e instanceof Int32Array)) expect(isEnclaveHostError(e, 'RUNTIME_WORKER_FAILED')).toBe(true);
      const a = bytes(40 * 40, 5);
      expect(await engine.multiply(40, a, a)).toEqual(naive(40, a, a));
    } finally {
      await engine.close();
    }
  });
});

describe('matmul.wasm', () => {
  it('lays out n = 32 where matmul-worker.mjs warms up, within its one-page memory', () => {
    expect(matmulLayout(32)).toMatchObject({ kc: 4, np: 16, nq: 8, ldb: 32, ldc: 128, aOff: 0, bOff: 2048 });
    expect(matmulLayout(32)).toMatchObject({ cOff: 4096, stageA: 4096, stageB: 5120 });
    expect(matmulLayout(32).bytes).toBeLessThanOrEqual(65_536);
  });

  it('fits the largest product in the memory the module declares (4096 pages)', () => {
    expect(matmulLayout(MAX_MATMUL_N).bytes).toBeLessThanOrEqual(4096 * 65_536);
  });

  it('is what matmul.wat compiles to (rebuild: npm run build:wasm)', async () => {
    expect(await kernelIsFresh(KERNELS.matmul)).toBe(true);
  });
});
