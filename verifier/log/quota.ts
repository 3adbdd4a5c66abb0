/*
 * Per-party quotas for what strangers can put into the log: each party (a platform, a client address)
 * may take `limit` units per window of `windowMs`. Counts are kept in memory for the current and the
 * previous window and weighted by how far the current window has run (a sliding-window estimate), so
 * a party cannot double its rate at a window boundary. The table holds at most `maxParties` parties;
 * when it is full, parties with no use in the last two windows are dropped first, and if none can be
 * dropped the newcomer is refused (a flood of new parties cannot evict an active one).
 */

export interface QuotaOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxParties?: number;
  /** Milliseconds clock (default Date.now). */
  readonly now?: () => number;
}

interface Counts {
  window: number;
  current: number;
  previous: number;
}

export class Quota {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxParties: number;
  readonly #now: () => number;
  readonly #parties = new Map<string, Counts>();

  constructor(o: QuotaOptions) {
    if (!Number.isInteger(o.limit) || o.limit < 1)
      throw new RangeError('quota limit must be a positive integer');
    if (!(o.windowMs > 0)) throw new RangeError('quota window must be positive');
    this.#limit = o.limit;
    this.#windowMs = o.windowMs;
    this.#maxParties = o.maxParties ?? 100_000;
    this.#now = o.now ?? Date.now;
  }

  /** Takes one unit for `party` if its share allows; false when it does not (nothing is taken). */
  take(party: string): boolean {
    const now = this.#now();
    const window = Math.floor(now / this.#windowMs);
    let c = this.#parties.get(party);
    if (c === undefined) {
      if (this.#parties.size >= this.#maxParties && !this.#evict(window)) return false;
      c = { window, current: 0, previous: 0 };
      this.#parties.set(party, c);
    }
    if (c.window !== window) {
      c.previous = c.window === window - 1 ? c.current : 0;
      c.current = 0;
      c.window = window;
    }
    const elapsed = (now - window * this.#windowMs) / this.#windowMs;
    if (c.current + c.previous * (1 - elapsed) + 1 > this.#limit) return false;
    c.current++;
    return true;
  }

  #evict(window: number): boolean {
    let dropped = false;
    for (const [k, c] of this.#parties)
      if (c.window < window - 1) {
        this.#parties.delete(k);
        dropped = true;
      }
    return dropped;
  }
}
