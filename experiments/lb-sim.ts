import { BALANCE_POLICIES, type BalancePolicy, balanceSeed, choose } from '../sdk/balance.js';
import { Prng } from '../verifier/sim/prng.js';

/*
 * The balancing simulator of `npm run experiments -- lb`. Model (docs/experiments.md, section lb):
 * - n data centres, each one FIFO server; every call takes exactly one time unit of service;
 * - calls arrive as one Poisson stream of rate load · n (load = offered utilisation per server);
 * - each call is placed by sdk/balance.ts `choose` with the seed keccak256(blockHash ‖ requestId):
 *   request ids are 32 bytes from a seeded PRNG, and a new block hash (also from the PRNG) every
 *   `blockEvery` time units;
 * - a call's load view is the number of calls in each data centre's system (waiting + in service)
 *   at its arrival, as `power-of-two` needs (the other policies ignore it); with `loadEvery` the
 *   view is a snapshot refreshed every `loadEvery` time units instead (stale load information, as
 *   when loads are published periodically).
 * All policies see the same arrivals and seeds (common random numbers), so their differences are the
 * policies', not the samples'.
 */

/** n single-server FIFO queues with unit service time, driven by arrival times. */
export class UnitQueues {
  /** When each server's last admitted call finishes. */
  private readonly freeAt: number[];
  private maxSeen = 0;

  constructor(readonly n: number) {
    this.freeAt = new Array<number>(n).fill(0);
  }

  /** Calls in server i's system at time t: the remaining work, rounded up (each call is one unit). */
  inSystem(i: number, t: number): number {
    const w = this.freeAt[i]! - t;
    return w > 0 ? Math.ceil(w - 1e-12) : 0;
  }

  loads(t: number): number[] {
    return Array.from({ length: this.n }, (_, i) => this.inSystem(i, t));
  }

  /** Admits a call at time t (not before the previous admission) to server i. */
  admit(i: number, t: number): { wait: number; response: number; ahead: number } {
    const ahead = this.inSystem(i, t);
    const start = Math.max(t, this.freeAt[i]!);
    this.freeAt[i] = start + 1;
    this.maxSeen = Math.max(this.maxSeen, ahead + 1);
    return { wait: start - t, response: start + 1 - t, ahead };
  }

  /** The largest number of calls any server held (counting the one just admitted). */
  get maxQueue(): number {
    return this.maxSeen;
  }
}

export interface SimParams {
  readonly dcs: number;
  readonly calls: number;
  /** Offered utilisation per data centre, in (0, 1). */
  readonly load: number;
  readonly seed: number;
  /** Time units per block (a new block hash). */
  readonly blockEvery: number;
  /** Time units between load snapshots; 0 or absent: exact loads at every arrival. */
  readonly loadEvery?: number;
}

export interface PolicyStats {
  /** Mean time from arrival to completion (wait + 1). */
  readonly meanResponse: number;
  readonly meanWait: number;
  /** 99th percentile of the response time. */
  readonly p99Response: number;
  /** Mean number of calls found in the chosen data centre at arrival. */
  readonly meanAhead: number;
  /** Time-average number in system per data centre (Little: load × meanResponse). */
  readonly meanInSystem: number;
  /** Largest number of calls one data centre held. */
  readonly maxQueue: number;
  /** Calls per data centre. */
  readonly perDc: readonly number[];
}

const p99 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
};

/** One run: the same arrivals and draws through every policy. */
export function simulate(p: SimParams): Record<BalancePolicy, PolicyStats> {
  if (!(p.load > 0 && p.load < 1) || p.dcs < 1 || p.calls < 1 || !(p.blockEvery > 0))
    throw new RangeError('simulate: need 0 < load < 1, dcs ≥ 1, calls ≥ 1, blockEvery > 0');
  const rng = new Prng(p.seed);
  const bytes = () => {
    const b = new Uint8Array(32);
    for (let i = 0; i < 32; i += 4) new DataView(b.buffer).setUint32(i, rng.u32());
    return b;
  };
  const queues = Object.fromEntries(BALANCE_POLICIES.map((x) => [x, new UnitQueues(p.dcs)])) as Record<
    BalancePolicy,
    UnitQueues
  >;
  const resp = Object.fromEntries(BALANCE_POLICIES.map((x) => [x, [] as number[]])) as Record<
    BalancePolicy,
    number[]
  >;
  const ahead = Object.fromEntries(BALANCE_POLICIES.map((x) => [x, 0]));
  const perDc = Object.fromEntries(
    BALANCE_POLICIES.map((x) => [x, new Array<number>(p.dcs).fill(0)]),
  ) as Record<BalancePolicy, number[]>;
  const rate = p.load * p.dcs;
  const loadEvery = p.loadEvery ?? 0;
  const snapshot = {} as Record<BalancePolicy, number[]>;
  let epoch = -1;
  let t = 0;
  let block = -1;
  let blockHash = bytes();
  for (let i = 0; i < p.calls; i++) {
    t += -Math.log(1 - rng.next()) / rate;
    const b = Math.floor(t / p.blockEvery);
    if (b !== block) {
      block = b;
      blockHash = bytes();
    }
    const seed = balanceSeed(blockHash, bytes());
    const e = loadEvery > 0 ? Math.floor(t / loadEvery) : i;
    const refresh = e !== epoch;
    epoch = e;
    for (const policy of BALANCE_POLICIES) {
      const q = queues[policy];
      if (refresh) snapshot[policy] = q.loads(t);
      const { chosen } = choose(policy, seed, snapshot[policy]);
      const r = q.admit(chosen, t);
      resp[policy].push(r.response);
      ahead[policy]! += r.ahead;
      perDc[policy][chosen]!++;
    }
  }
  const out = {} as Record<BalancePolicy, PolicyStats>;
  for (const policy of BALANCE_POLICIES) {
    const rs = resp[policy];
    const meanResponse = rs.reduce((a, x) => a + x, 0) / rs.length;
    out[policy] = {
      meanResponse,
      meanWait: meanResponse - 1,
      p99Response: p99(rs),
      meanAhead: ahead[policy]! / p.calls,
      meanInSystem: p.load * meanResponse,
      maxQueue: queues[policy].maxQueue,
      perDc: perDc[policy],
    };
  }
  return out;
}

/** M/D/1 mean response time at utilisation rho (Pollaczek–Khinchine), service time 1. */
export const md1Response = (rho: number) => 1 + rho / (2 * (1 - rho));

/** The utilisation at which an M/D/1 queue's mean response time is r (inverse of md1Response). */
export const md1LoadFor = (r: number) => (2 * (r - 1)) / (1 + 2 * (r - 1));
