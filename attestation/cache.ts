/**
 * A bounded memo for verification results that do not depend on time: "these collateral bytes carry
 * valid signatures under a pinned root", "this PCK chain verifies". Keys are content hashes of the
 * exact inputs, so a hit means the same bytes were already checked. Time windows (expiry, CRL
 * freshness) and revocation lookups are evaluated again on every call: a cache hit never lets stale
 * collateral through.
 */
export class VerifyCache {
  private readonly map = new Map<string, unknown>();
  private readonly max: number;

  constructor(max = 256) {
    this.max = max;
  }

  get<T>(key: string): T | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      // Refresh recency (Map keeps insertion order).
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v as T | undefined;
  }

  set(key: string, value: unknown): void {
    if (this.map.has(key)) this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  get size(): number {
    return this.map.size;
  }
}
