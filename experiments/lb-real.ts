import { setTimeout as sleep } from 'node:timers/promises';
import { keccak256 } from 'ethers';
import { BALANCE_POLICIES, type BalancePolicy, balanceSeed, drawTwo } from '../sdk/balance.js';
import { type BlockRef, LeasePool } from '../sdk/lease-pool.js';
import { Prng } from '../verifier/sim/prng.js';
import { type Fleet, startFleet } from './lb-fleet.js';

/*
 * The three policies driving real executors (`npm run experiments -- lb`, part b). A fleet of
 * standalone executors in this process (experiments/lb-fleet.ts), each serving one call at a time
 * with its own extra hold per call (unequal speeds), is fed an open Poisson stream of `echo` calls
 * through sdk/lease-pool.ts `LeasePool` (one member per executor, batched receipts), which places
 * each call by sdk/balance.ts `choose` on its own count of calls in flight per member. The block
 * hash changes every `blockEveryMs` and, like the request ids, is derived from a seeded PRNG (there
 * is no chain here). Every placement is recomputed from its block hash and request id.
 *
 * Queue time of a call = its latency seen by the SDK (dispatch until the output is back) minus the
 * median latency of the same executor when unloaded (one call at a time, measured first): the time
 * the call spent waiting behind others.
 */

export interface RealParams {
  /** Extra hold per call, per executor (ms). */
  readonly extraMs: readonly number[];
  readonly calls: number;
  /** Offered load as a fraction of the fleet's measured capacity. */
  readonly load: number;
  readonly seed: number;
  readonly blockEveryMs: number;
  /** Wall-time bound per policy (dispatch and drain). */
  readonly maxMsPerPolicy: number;
  /** Unloaded calls per executor used to measure its latency and service time. */
  readonly probeCalls: number;
}

export interface RealPolicyResult {
  readonly policy: BalancePolicy;
  readonly dispatched: number;
  readonly failed: number;
  /** Placements whose two candidates anyone recomputes from (block hash, request id, n). */
  readonly recomputed: number;
  readonly meanQueueMs: number;
  readonly p50QueueMs: number;
  readonly p95QueueMs: number;
  readonly meanLatencyMs: number;
  /** Calls per executor. */
  readonly perExecutor: readonly number[];
  readonly wallMs: number;
}

export interface RealResult {
  readonly extraMs: readonly number[];
  /** Median unloaded SDK latency per executor (ms). */
  readonly unloadedLatencyMs: readonly number[];
  /** Median service time per executor: its slot's hold per call (ms). */
  readonly serviceMs: readonly number[];
  /** Σ 1000 / serviceMs, calls per second. */
  readonly capacityPerSec: number;
  readonly ratePerSec: number;
  readonly policies: readonly RealPolicyResult[];
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!;
};
const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};

const hexOf = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

function bytes32(rng: Prng): Uint8Array {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i += 4) new DataView(b.buffer).setUint32(i, rng.u32());
  return b;
}

async function probe(fleet: Fleet, n: number): Promise<{ latency: number[]; service: number[] }> {
  const latency: number[] = [];
  const service: number[] = [];
  const input = new Uint8Array(64);
  for (const m of fleet.members) {
    const lat: number[] = [];
    const before = m.runtime.busy.length;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await m.session.invokeDeferred(m.fn, input, { wallet: fleet.wallet });
      lat.push(performance.now() - t0);
    }
    latency.push(median(lat));
    service.push(median(m.runtime.busy.slice(before).map(([a, b]) => b - a)));
  }
  return { latency, service };
}

async function runPolicy(
  fleet: Fleet,
  policy: BalancePolicy,
  p: RealParams,
  ratePerSec: number,
  unloaded: readonly number[],
): Promise<RealPolicyResult> {
  const rng = new Prng(p.seed);
  const k = fleet.members.length;
  const t0 = performance.now();
  // Block hashes by time, derived from the seed: the same sequence for every policy.
  const blockSalt = hexOf(bytes32(rng));
  const block = async (): Promise<BlockRef> => {
    const number = Math.floor((performance.now() - t0) / p.blockEveryMs);
    return { number, hash: keccak256(`${blockSalt}${number.toString(16).padStart(64, '0')}`) };
  };
  const pool = new LeasePool(
    fleet.members.map((m, i) => ({ leaseId: BigInt(i + 1), session: m.session })),
    { wallet: fleet.wallet, block, policy, blockCacheMs: 0 },
  );
  const fn = fleet.members[0]!.fn;
  const perExecutor = new Array<number>(k).fill(0);
  const queue: number[] = [];
  const latency: number[] = [];
  const receipts: Promise<unknown>[] = [];
  const pending: Promise<void>[] = [];
  let recomputed = 0;
  const input = new Uint8Array(64);
  const deadline = t0 + p.maxMsPerPolicy;
  let at = 0;
  let dispatched = 0;
  for (let i = 0; i < p.calls && performance.now() < deadline; i++) {
    at += (-Math.log(1 - rng.next()) / ratePerSec) * 1000;
    const requestId = hexOf(bytes32(rng));
    const wait = t0 + at - performance.now();
    if (wait > 1) await sleep(wait);
    dispatched++;
    const start = performance.now();
    pending.push(
      pool.invokeDeferred(fn, input, { requestId }).then(
        (r) => {
          const ms = performance.now() - start;
          const idx = Number(r.leaseId) - 1;
          perExecutor[idx]!++;
          latency.push(ms);
          queue.push(Math.max(0, ms - unloaded[idx]!));
          // The placement recomputes from public inputs: block hash, request id, k candidates.
          const [first, second] = drawTwo(balanceSeed(r.block.hash, r.requestId), k);
          if (r.draw.first === first && r.draw.second === second && [first, second].includes(idx))
            recomputed++;
          receipts.push(r.receipt.catch(() => undefined));
        },
        () => undefined,
      ),
    );
  }
  await Promise.race([Promise.all(pending), sleep(Math.max(0, deadline - performance.now()))]);
  const wallMs = performance.now() - t0;
  await Promise.all(receipts);
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
  return {
    policy,
    dispatched,
    failed: dispatched - latency.length,
    recomputed,
    meanQueueMs: mean(queue),
    p50QueueMs: quantile(queue, 0.5),
    p95QueueMs: quantile(queue, 0.95),
    meanLatencyMs: mean(latency),
    perExecutor,
    wallMs,
  };
}

/** Runs every policy over one fleet, on the same arrivals and draws. */
export async function runReal(p: RealParams, log: (l: string) => void): Promise<RealResult> {
  const fleet = await startFleet(p.extraMs, 'echo');
  try {
    const { latency, service } = await probe(fleet, p.probeCalls);
    const capacityPerSec = service.reduce((a, s) => a + 1000 / s, 0);
    const ratePerSec = p.load * capacityPerSec;
    log(
      `real: ${p.extraMs.length} executors, service ${service.map((s) => s.toFixed(1)).join('/')} ms, unloaded latency ${latency.map((s) => s.toFixed(1)).join('/')} ms, ${ratePerSec.toFixed(0)} calls/s offered`,
    );
    const policies: RealPolicyResult[] = [];
    for (const policy of BALANCE_POLICIES) {
      const r = await runPolicy(fleet, policy, p, ratePerSec, latency);
      log(
        `real ${policy}: mean queue ${r.meanQueueMs.toFixed(1)} ms, p95 ${r.p95QueueMs.toFixed(1)} ms, per executor ${r.perExecutor.join('/')}, failed ${r.failed}`,
      );
      policies.push(r);
    }
    return {
      extraMs: p.extraMs,
      unloadedLatencyMs: latency,
      serviceMs: service,
      capacityPerSec,
      ratePerSec,
      policies,
    };
  } finally {
    await fleet.stop();
  }
}
