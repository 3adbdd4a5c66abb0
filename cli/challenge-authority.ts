import type { MarketContract, WitnessPoolContract } from '../contracts/bindings/index.js';
import type { ChallengeAuthority } from '../enclave-host/executor.js';

/**
 * The executor's on-chain challenge authority (docs/witness.md, "Capacity challenges"): the lease's
 * order in the Market gives its start, epoch length, claimed capacity; the current epoch is
 * floor((now − startedAt) / epochLength); WitnessPool.roundOf(lease, epoch) names the epoch's round,
 * whose committee must include the witness. A lease not started, an epoch without a round, or a
 * witness outside its committee is not a member (undefined); a failed RPC throws, and the executor
 * refuses the challenge (fail closed).
 */
export function chainChallengeAuthority(c: {
  market: Pick<MarketContract, 'order'>;
  pool: Pick<WitnessPoolContract, 'roundOf' | 'committee'>;
  now?: () => number;
}): ChallengeAuthority {
  const now = c.now ?? Date.now;
  return async ({ leaseId, witness }) => {
    if (leaseId === 0n) return undefined;
    const o = await c.market.order(leaseId);
    if (o.startedAt === 0n || o.epochLength === 0n || o.capacityGflops === 0n) return undefined;
    const t = BigInt(Math.floor(now() / 1000));
    if (t < o.startedAt) return undefined;
    const epoch = (t - o.startedAt) / o.epochLength;
    const roundId = await c.pool.roundOf(leaseId, epoch);
    if (roundId === 0n) return undefined;
    const committee = (await c.pool.committee(roundId)).map((a) => a.toLowerCase());
    if (!committee.includes(witness.toLowerCase())) return undefined;
    return {
      epoch,
      epochEndsAt: Number(o.startedAt + (epoch + 1n) * o.epochLength) * 1000,
      epochSeconds: Number(o.epochLength),
      committeeSize: committee.length,
      claimedGflops: Number(o.capacityGflops),
    };
  };
}
