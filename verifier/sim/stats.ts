/*
 * Small statistics for the simulation's reports: confidence intervals of a rate and a lognormal
 * fitted to a measured median and 99th percentile.
 */

/** Wilson score interval for `k` successes in `n` trials at z (1.96: 95 %). */
export function wilson(k: number, n: number, z = 1.96): { lo: number; hi: number } {
  if (n === 0) return { lo: 0, hi: 1 };
  const p = k / n;
  const z2 = z * z;
  const den = 1 + z2 / n;
  const mid = (p + z2 / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  return { lo: Math.max(0, mid - half), hi: Math.min(1, mid + half) };
}

/** z of the standard normal's 99th percentile. */
export const Z99 = 2.3263478740408408;
/** z of the standard normal's 95th percentile. */
export const Z95 = 1.6448536269514722;

/** A lognormal by its median and log-shape σ. */
export interface Lognormal {
  readonly medianMs: number;
  readonly sigma: number;
}

/** The lognormal whose median and 99th percentile are the measured ones. */
export function lognormalFromP50P99(medianMs: number, p99Ms: number): Lognormal {
  if (!(medianMs > 0 && p99Ms >= medianMs)) throw new RangeError('need 0 < median ≤ p99');
  return { medianMs, sigma: Math.log(p99Ms / medianMs) / Z99 };
}

/** The lognormal's 95th percentile. */
export function p95(d: Lognormal): number {
  return d.medianMs * Math.exp(Z95 * d.sigma);
}
