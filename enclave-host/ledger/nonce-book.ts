import { SessionError } from '../../protocol/errors.js';

/*
 * The nonce rule of one (lease, client) (docs/session.md, "Billing rules", 1): a nonce is taken at
 * most once, above the persisted floor, within `window` below the highest taken, at most `maxJump`
 * above it, and never above MAX_NONCE. A taken nonce either counts (its call was admitted: it runs
 * or ran) or not (its call was abandoned before running, or a Sync fenced it); the count of counting
 * nonces at or below a voucher's last nonce is what the amount rule charges (amount-book.ts).
 */

/**
 * The highest nonce ever taken. 2^62 leaves room below 2^64 − 1 (uint64 on the wire and in the
 * typed data) for every `highest + 1` and reserved ceiling to stay a uint64, whatever a client sends.
 */
export const MAX_NONCE = 1n << 62n;

export interface NonceRules {
  /** How far below the highest taken nonce a new one may still be taken (concurrent calls reorder). */
  readonly window: number;
  /** How far above the highest taken nonce a new one may be. */
  readonly maxJump: number;
}

export class NonceBook {
  private top: bigint;
  /** Nonces taken above `pruned`, each with whether it counts. */
  private readonly taken = new Map<bigint, boolean>();
  /** Every nonce at or below this has left `taken` (it is below the window, or below the floor). */
  private pruned: bigint;
  private countedTotal = 0;
  /** Of `countedTotal`, the counting nonces at or below `pruned`. */
  private countedPruned = 0;

  constructor(
    /** The persisted ceiling this account started from: every nonce at or below it is refused. */
    readonly floor: bigint,
    private readonly rules: NonceRules,
  ) {
    this.top = floor;
    this.pruned = floor;
  }

  /** The highest nonce taken (the floor when none was). */
  get highest(): bigint {
    return this.top;
  }

  /** The lowest nonce that can be taken as the next new one. */
  get nextNonce(): bigint {
    return this.top + 1n;
  }

  /** Calls that count: admitted and not abandoned. */
  get counted(): number {
    return this.countedTotal;
  }

  /** Why `n` cannot be taken now (NONCE_STALE or NONCE_TOO_FAR), or undefined when it can. */
  refusal(n: bigint): SessionError | undefined {
    const info = { nonce: n.toString(), nextNonce: this.nextNonce.toString() };
    if (n <= this.floor || n <= this.top - BigInt(this.rules.window) || n <= this.pruned || this.taken.has(n))
      return new SessionError('NONCE_STALE', `nonce ${n} is not above the last one seen`, info);
    const limit = this.top + BigInt(this.rules.maxJump);
    if (n > limit || n > MAX_NONCE)
      return new SessionError(
        'NONCE_TOO_FAR',
        `nonce ${n} is more than ${this.rules.maxJump} above the highest one seen (${this.top}), or above 2^62`,
        { ...info, maxNonce: (limit < MAX_NONCE ? limit : MAX_NONCE).toString() },
      );
    return undefined;
  }

  /** Takes `n`, which must pass `refusal`. `counts`: an admitted call (false: fenced). */
  take(n: bigint, counts: boolean): void {
    const r = this.refusal(n);
    if (r) throw r;
    this.taken.set(n, counts);
    if (counts) this.countedTotal++;
    if (n > this.top) {
      this.top = n;
      if (this.taken.size > 2 * this.rules.window) this.prune();
    }
  }

  /** A counting nonce whose call was abandoned before it ran: it stays taken and stops counting. */
  uncount(n: bigint): void {
    if (n <= this.pruned) {
      this.countedPruned--;
    } else {
      if (this.taken.get(n) !== true) return;
      this.taken.set(n, false);
    }
    this.countedTotal--;
  }

  /**
   * Counting nonces at or below `last`: exact down to the window's lower edge; below it, a lower
   * bound (the rules built on it then ask less, never more, than the exact count would).
   */
  countAtOrBelow(last: bigint): number {
    if (last >= this.top) return this.countedTotal;
    if (last < this.pruned) {
      const below = BigInt(this.countedPruned) - (this.pruned - last);
      return below > 0n ? Number(below) : 0;
    }
    let above = 0;
    if (this.top - last < BigInt(this.taken.size)) {
      for (let n = last + 1n; n <= this.top; n++) if (this.taken.get(n) === true) above++;
    } else {
      for (const [n, counts] of this.taken) if (counts && n > last) above++;
    }
    return this.countedTotal - above;
  }

  private prune(): void {
    const edge = this.top - BigInt(this.rules.window);
    for (const [n, counts] of this.taken)
      if (n <= edge) {
        this.taken.delete(n);
        if (counts) this.countedPruned++;
      }
    if (edge > this.pruned) this.pruned = edge;
  }
}
