import { describe, expect, it } from 'vitest';
import { chainChallengeAuthority } from './challenge-authority.js';

const W = '0x00000000000000000000000000000000000000aa';

function fake(o: { startedAt?: bigint; round?: bigint; committee?: string[] } = {}) {
  const calls: bigint[][] = [];
  const auth = chainChallengeAuthority({
    market: {
      order: (async () => ({
        startedAt: o.startedAt ?? 1000n,
        epochLength: 100n,
        capacityGflops: 5n,
      })) as never,
    },
    pool: {
      roundOf: (async (lease: bigint, epoch: bigint) => {
        calls.push([lease, epoch]);
        return o.round ?? 7n;
      }) as never,
      committee: (async () =>
        o.committee ?? ['0x00000000000000000000000000000000000000AA', W.replace('aa', 'bb')]) as never,
    },
    now: () => 1_250_000,
  });
  return { auth, calls };
}

describe('chain challenge authority', () => {
  it("admits a member of the current epoch's committee, with the order's terms", async () => {
    const { auth, calls } = fake();
    expect(await auth({ leaseId: 3n, witness: W })).toEqual({
      epoch: 2n,
      epochEndsAt: 1_300_000,
      epochSeconds: 100,
      committeeSize: 2,
      claimedGflops: 5,
    });
    expect(calls).toEqual([[3n, 2n]]);
  });

  it('refuses a non-member, an epoch without a round, a lease not started and lease 0', async () => {
    expect(
      await fake({ committee: [W.replace('aa', 'cc')] }).auth({ leaseId: 3n, witness: W }),
    ).toBeUndefined();
    expect(await fake({ round: 0n }).auth({ leaseId: 3n, witness: W })).toBeUndefined();
    expect(await fake({ startedAt: 0n }).auth({ leaseId: 3n, witness: W })).toBeUndefined();
    expect(await fake().auth({ leaseId: 0n, witness: W })).toBeUndefined();
  });
});
