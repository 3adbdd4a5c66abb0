import type { EventLog, Log, Provider } from 'ethers';
import type { WitnessPoolContract } from '../../contracts/bindings/index.js';

/*
 * Finds the rounds a witness is drawn into: the pool's CommitteeDrawn events (members are not
 * indexed, so every draw is read and filtered here), from a persisted block cursor to the head, in
 * bounded block ranges. A first start with no cursor looks back `lookbackBlocks`. The cursor moves
 * only after a range was read whole, so an endpoint failing mid-scan re-reads, never skips. Rounds
 * already known are re-derived from the pool's views each tick (agent.ts), not from events.
 */

export interface DrawnRound {
  readonly roundId: bigint;
  readonly leaseId: bigint;
  readonly block: number;
  readonly commitDeadline: bigint;
  readonly revealDeadline: bigint;
}

export interface FollowerOptions {
  /** Blocks per eth_getLogs request (default 2,000). */
  readonly maxRange?: number;
  /** How far back a first start looks (default 50,000 blocks). */
  readonly lookbackBlocks?: number;
}

export class ChainFollower {
  constructor(
    private readonly pool: WitnessPoolContract,
    private readonly provider: Provider,
    private readonly witness: string,
    private readonly o: FollowerOptions = {},
  ) {}

  /**
   * The draws naming this witness in (cursor, head]; calls `advance(block)` after each range read
   * (the caller persists it). Returns the draws found.
   */
  async poll(cursor: number | null, advance: (block: number) => Promise<void>): Promise<DrawnRound[]> {
    const head = await this.provider.getBlockNumber();
    let from = cursor === null ? Math.max(0, head - (this.o.lookbackBlocks ?? 50_000)) : cursor + 1;
    const found: DrawnRound[] = [];
    const me = this.witness.toLowerCase();
    const range = this.o.maxRange ?? 2_000;
    while (from <= head) {
      const to = Math.min(head, from + range - 1);
      const logs = await this.pool.queryFilter(this.pool.filters.CommitteeDrawn!(), from, to);
      for (const l of logs) {
        if (!isEventLog(l)) continue;
        const members = (l.args.members as string[]).map((m) => m.toLowerCase());
        if (!members.includes(me)) continue;
        found.push({
          roundId: l.args.roundId as bigint,
          leaseId: l.args.leaseId as bigint,
          block: l.blockNumber,
          commitDeadline: l.args.commitDeadline as bigint,
          revealDeadline: l.args.revealDeadline as bigint,
        });
      }
      await advance(to);
      from = to + 1;
    }
    return found;
  }
}

function isEventLog(l: Log | EventLog): l is EventLog {
  return 'args' in l && l.args !== undefined;
}
