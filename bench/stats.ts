/** Small, dependency-free timing helpers for `npm run bench`. */

export interface Summary {
  readonly n: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** Operations per second at the median. */
  readonly opsPerSec: number;
}

export function summarise(samplesMs: readonly number[]): Summary {
  const s = [...samplesMs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? Number.NaN;
  const meanMs = s.reduce((a, b) => a + b, 0) / s.length;
  const medianMs = q(0.5);
  return { n: s.length, medianMs, p99Ms: q(0.99), meanMs, opsPerSec: 1000 / medianMs };
}

/** Runs `fn` `warmup` times unmeasured, then `n` times measured (bounded by `maxMs` of wall time). */
export async function measure(
  fn: () => unknown,
  opts: { n: number; warmup?: number; maxMs?: number },
): Promise<Summary> {
  for (let i = 0; i < (opts.warmup ?? 5); i++) await fn();
  const samples: number[] = [];
  const deadline = performance.now() + (opts.maxMs ?? 30_000);
  for (let i = 0; i < opts.n && performance.now() < deadline; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarise(samples);
}

export const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
