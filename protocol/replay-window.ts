/*
 * Anti-replay sliding window (RFC 4303 §3.4.3 / RFC 6347 §4.1.2.6): accepts each sequence number at
 * most once and only if it is newer than `highest - size`. Concurrent unary RPCs on one session may
 * arrive slightly out of order, so a window tolerates that; a window of size 1 demands strict order.
 * Call `check` before opening a frame and `accept` only after its tag verified, so forged frames
 * cannot move the window.
 */
export type WindowVerdict = 'ok' | 'replayed' | 'out-of-window';

export class ReplayWindow {
  private highest = -1n;
  private readonly seen = new Set<bigint>();
  readonly size: bigint;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('window size must be a positive integer');
    this.size = BigInt(size);
  }

  check(seq: bigint): WindowVerdict {
    if (seq > this.highest) return 'ok';
    if (seq <= this.highest - this.size) return 'out-of-window';
    return this.seen.has(seq) ? 'replayed' : 'ok';
  }

  accept(seq: bigint): void {
    this.seen.add(seq);
    if (seq > this.highest) {
      this.highest = seq;
      const floor = this.highest - this.size;
      if (this.seen.size > Number(this.size) * 2)
        for (const s of this.seen) if (s <= floor) this.seen.delete(s);
    }
  }

  get highestSeen(): bigint {
    return this.highest;
  }
}
