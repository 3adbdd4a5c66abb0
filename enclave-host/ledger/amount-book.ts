/*
 * The cumulative amounts one client authorised (docs/session.md, "Billing rules", 2): the floor it
 * started from (persisted, nonce-store.ts), the highest amount of an accepted voucher, and for the
 * order rule the amounts of the accepted vouchers by last nonce: a voucher must authorise at least
 * every accepted voucher that ends before its first nonce.
 *
 * Kept as a list sorted by last nonce with a running maximum, so "the highest amount ending before
 * `first`" is a binary search. Vouchers arrive nearly in order (appends); the oldest are folded into
 * `foldedMax` once more than `keep` are held.
 */
export class AmountBook {
  private top: bigint;
  private readonly lasts: bigint[] = [];
  /** maxes[i] = the highest amount among the vouchers folded away and lasts[0..i]. */
  private readonly maxes: bigint[] = [];
  /** Every folded voucher ended at or below this nonce. */
  private foldedThrough = 0n;
  private foldedMax = 0n;

  constructor(
    /** The persisted amount floor: the highest amount accepted before this process started. */
    readonly floor: bigint,
    private readonly keep: number,
  ) {
    this.top = floor;
  }

  /** The highest cumulative amount accepted (at least the floor); it never decreases. */
  get highest(): bigint {
    return this.top;
  }

  /**
   * The highest amount of an accepted voucher ending before `first`. Exact while `first` is above
   * the vouchers folded away; for an older range, a lower bound.
   */
  endingBefore(first: bigint): bigint {
    if (first <= this.foldedThrough) return 0n;
    const i = this.lastIndexBelow(first);
    return i < 0 ? this.foldedMax : this.maxes[i]!;
  }

  accept(last: bigint, amount: bigint): void {
    if (amount > this.top) this.top = amount;
    const at = this.lastIndexBelow(last + 1n) + 1;
    const before = at === 0 ? this.foldedMax : this.maxes[at - 1]!;
    this.lasts.splice(at, 0, last);
    this.maxes.splice(at, 0, amount > before ? amount : before);
    // The running maximum of the vouchers behind it now includes this one.
    for (let i = at + 1; i < this.maxes.length && this.maxes[i]! < amount; i++) this.maxes[i] = amount;
    if (this.lasts.length > 2 * this.keep) this.fold(this.lasts.length - this.keep);
  }

  /** Index of the last voucher with a last nonce below `n`, or −1. */
  private lastIndexBelow(n: bigint): number {
    let lo = 0;
    let hi = this.lasts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lasts[mid]! < n) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  private fold(n: number): void {
    this.foldedMax = this.maxes[n - 1]!;
    // A voucher for an old range may be folded after newer ones: the bound only moves up.
    const through = this.lasts[n - 1]!;
    if (through > this.foldedThrough) this.foldedThrough = through;
    this.lasts.splice(0, n);
    this.maxes.splice(0, n);
  }
}
