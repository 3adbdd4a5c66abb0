import { SessionError } from '../../protocol/errors.js';

/*
 * The nonce rule of one (lease, client) (docs/session.md, "Billing rules", 1): a nonce is taken at
 * most once, above the persisted floor, within `window` below the highest taken, at most `maxJump`
 * above it, and never above MAX_NONCE. Each taken nonce stands for a call a voucher covers, a call
 * served without one (yet), or nothing that runs (abandoned, or fenced by a Sync); the count of
 * covered nonces at or below a voucher's last nonce is what the amount rule charges (rule 2).
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

/** What a taken nonce stands for. */
export type Taken = 'covered' | 'uncovered' | 'void';

export class NonceBook {
  private top: bigint;
  /** Nonces taken above `pruned`, with what each stands for. */
  private readonly taken = new Map<bigint, Taken>();
  /** Every nonce at or below this has left `taken` (it is below the window, or below the floor). */
  private pruned: bigint;
  private coveredTotal = 0;
  /** Of `coveredTotal`, the covered nonces at or below `pruned`. */
  private coveredPruned = 0;

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

  /** Calls a voucher covers (claimed by a Settle included), not abandoned. */
  get covered(): number {
    return this.coveredTotal;
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

  /** Takes `n`, which must pass `refusal`. */
  take(n: bigint, as: Taken): void {
    const r = this.refusal(n);
    if (r) throw r;
    this.taken.set(n, as);
    if (as === 'covered') this.coveredTotal++;
    if (n > this.top) {
      this.top = n;
      if (this.taken.size > 2 * this.rules.window) this.prune();
    }
  }

  /**
   * A taken nonce's call changes: claimed by a Settle (`uncovered` → `covered`), given back
   * (`covered` → `uncovered`), abandoned (→ `void`). `from` is what the caller's books say it was,
   * which also holds for a nonce already below the window.
   */
  mark(n: bigint, from: Taken, to: Taken): void {
    if (from === to) return;
    if (n > this.pruned) this.taken.set(n, to);
    const delta = (to === 'covered' ? 1 : 0) - (from === 'covered' ? 1 : 0);
    this.coveredTotal += delta;
    if (n <= this.pruned) this.coveredPruned += delta;
  }

  /**
   * Covered nonces at or below `last`: exact down to the window's lower edge; below it, a lower
   * bound (the rule built on it then asks less, never more, than the exact count would; the rule on
   * the highest amount still counts every covered call).
   */
  coveredAtOrBelow(last: bigint): number {
    if (last >= this.top) return this.coveredTotal;
    if (last < this.pruned) {
      const below = BigInt(this.coveredPruned) - (this.pruned - last);
      return below > 0n ? Number(below) : 0;
    }
    let above = 0;
    if (this.top - last < BigInt(this.taken.size)) {
      for (let n = last + 1n; n <= this.top; n++) if (this.taken.get(n) === 'covered') above++;
    } else {
      for (const [n, t] of this.taken) if (t === 'covered' && n > last) above++;
    }
    return this.coveredTotal - above;
  }

  private prune(): void {
    const edge = this.top - BigInt(this.rules.window);
    for (const [n, t] of this.taken)
      if (n <= edge) {
        this.taken.delete(n);
        if (t === 'covered') this.coveredPruned++;
      }
    if (edge > this.pruned) this.pruned = edge;
  }
}
