/**
 * The executor's exact integer matrix product for capacity challenges (docs/witness.md): C = A·B for
 * n×n factors with byte entries (0..255), row-major; C is int32 row-major. Every entry of C is at
 * most n · 255² < 2³¹ for n ≤ 4096, so int32 holds it exactly.
 */
export interface MatmulEngine {
  multiply(n: number, a: Uint8Array, b: Uint8Array): Promise<Int32Array>;
  close(): Promise<void>;
}

/** Starts the engine: a plain triple loop on the calling thread. */
export async function startMatmulEngine(_o: { workers?: number } = {}): Promise<MatmulEngine> {
  return {
    async multiply(n, a, b) {
      if (!Number.isInteger(n) || n < 1 || a.length !== n * n || b.length !== n * n)
        throw new RangeError(`factors must be ${n}×${n}`);
      const c = new Int32Array(n * n);
      for (let i = 0; i < n; i++)
        for (let k = 0; k < n; k++) {
          const x = a[i * n + k]!;
          if (x === 0) continue;
          const row = k * n;
          const out = i * n;
          for (let j = 0; j < n; j++) c[out + j]! += x * b[row + j]!;
        }
      return c;
    },
    async close() {},
  };
}
