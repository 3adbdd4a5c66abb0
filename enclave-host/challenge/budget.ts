import { sessionFail } from '../../protocol/errors.js';
import type { ChallengeMembership } from './authority.js';

/** Share of an epoch's time that challenges may take at the claimed rate. */
export const BUDGET_FRACTION = 0.02;

/** FLOPs of one challenge of size n: 2n³. */
export function challengeFlops(n: number): number {
  return 2 * n * n * n;
}

/** A member's share of the epoch's challenge budget: 0.02 · epochSeconds · claimedGflops · 1e9 / committeeSize. */
export function memberShare(m: ChallengeMembership): number {
  return (BUDGET_FRACTION * m.epochSeconds * m.claimedGflops * 1e9) / Math.max(1, m.committeeSize);
}

interface Entry {
  spent: number;
  readonly ids: Set<string>;
  readonly endsAt: number;
}

export interface BudgetOptions {
  /** (lease, epoch, witness) entries kept at most (default 4,096); the oldest epoch's go first. */
  readonly maxEntries?: number;
  /** Challenge ids remembered per witness per epoch (default 4,096); beyond, CHALLENGE_BUDGET. */
  readonly maxIdsPerWitness?: number;
  readonly now?: () => number;
}

/**
 * Per (lease, epoch, witness): the FLOPs spent and the ids used. Both are bounded: entries of ended
 * epochs are dropped, the total is capped (oldest first), and the ids of one witness per epoch are
 * capped, so a member cannot grow the executor's memory without bound with tiny challenges.
 */
export class ChallengeBudget {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxIds: number;
  private readonly now: () => number;

  constructor(o: BudgetOptions = {}) {
    this.maxEntries = o.maxEntries ?? 4096;
    this.maxIds = o.maxIdsPerWitness ?? 4096;
    this.now = o.now ?? Date.now;
  }

  /**
   * Admits one challenge: refuses a repeated id (CHALLENGE_REPLAYED) or one over the witness's share
   * (CHALLENGE_BUDGET, saying what is left and when the epoch ends); else records the id and the cost.
   */
  admit(leaseId: bigint, witness: string, m: ChallengeMembership, id: string, n: number): void {
    this.prune();
    const key = `${leaseId}/${m.epoch}/${witness}`;
    let e = this.entries.get(key);
    if (e?.ids.has(id)) sessionFail('CHALLENGE_REPLAYED', 'this challenge id was already used in the epoch');
    const share = memberShare(m);
    const cost = challengeFlops(n);
    const spent = e?.spent ?? 0;
    if (spent + cost > share || (e && e.ids.size >= this.maxIds))
      sessionFail('CHALLENGE_BUDGET', "the witness's challenge budget for this epoch is spent", {
        leftFlops: Math.max(0, Math.floor(share - spent)),
        costFlops: cost,
        epochEndsAt: m.epochEndsAt,
      });
    if (!e) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      e = { spent: 0, ids: new Set(), endsAt: m.epochEndsAt };
      this.entries.set(key, e);
    }
    e.ids.add(id);
    e.spent += cost;
  }

  private prune(): void {
    const t = this.now();
    for (const [k, e] of this.entries) if (e.endsAt <= t) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}
