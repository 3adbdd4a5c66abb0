import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainChallengeAuthority } from '../cli/challenge-authority.js';
import {
  auction,
  type Chain,
  requestRound,
  startChain,
  startLease,
} from '../contracts/test/chain-fixture.js';
import { connect, type Session } from '../sdk/index.js';
import { sessionChallengeChannel } from '../sdk/session/challenge.js';
import { runChallenge } from '../verifier/challenge.js';
import { type Harness, startExecutor } from './e2e-harness.js';

/*
 * The chain's challenge authority on anvil: a lease started in the Market, its epoch's round requested
 * and drawn in the WitnessPool; an executor serving the lease takes challenges from the round's
 * committee and refuses anyone else.
 */

describe('chain challenge authority (anvil)', () => {
  let ch: Chain;
  let h: Harness;
  let session: Session;
  let committee: string[];
  let leaseId: bigint;
  /** Chain time in ms (anvil's clock runs ahead of the wall clock), for the authority and the executor alike. */
  let offset = 0;
  const chainNow = () => Date.now() + offset;

  beforeAll(async () => {
    ch = await startChain({ providers: 1, witnesses: 4 });
    leaseId = await auction(ch, [1n]);
    await startLease(ch, leaseId);
    const roundId = await requestRound(ch, leaseId);
    committee = [...(await ch.c.witnessPool.committee(roundId))].map((a) => a.toLowerCase());
    offset = Number(await ch.now()) * 1000 - Date.now();
    h = await startExecutor({
      leaseId,
      now: chainNow,
      challengeAuthority: chainChallengeAuthority({
        market: ch.c.market,
        pool: ch.c.witnessPool,
        now: chainNow,
      }),
    });
    session = await connect(h.endpoint, { policy: h.policy });
  }, 120_000);

  afterAll(async () => {
    await session?.close();
    await h?.stop();
    await ch?.stop();
  });

  const run = (key: string, n = 32) =>
    runChallenge(sessionChallengeChannel(session), {
      witnessKey: Uint8Array.from(Buffer.from(key.slice(2), 'hex')),
      leaseId,
      n,
      claimedGflops: 0.05,
    });

  it('serves a member of the current round', async () => {
    const member = ch.witnesses.find((w) => committee.includes(w.address.toLowerCase()))!;
    // The member's first challenge of the epoch waits for the executor's chain lookups (then cached).
    expect(await run(member.wallet.privateKey, 1)).toMatchObject({ commitment: expect.anything() });
    const r = await run(member.wallet.privateKey);
    expect(r.verdict, r.reason).toBe('pass');
  });

  it('refuses a non-member: a registered witness outside the committee, or a stranger', async () => {
    const outside = ch.witnesses.find((w) => !committee.includes(w.address.toLowerCase()));
    if (outside)
      expect(await run(outside.wallet.privateKey)).toMatchObject({
        verdict: 'refused',
        code: 'CHALLENGE_NOT_MEMBER',
      });
    expect(await run(Wallet.createRandom().privateKey)).toMatchObject({
      verdict: 'refused',
      code: 'CHALLENGE_NOT_MEMBER',
    });
  });

  it('refuses a member once the epoch moved past the round', async () => {
    const member = ch.witnesses.find((w) => committee.includes(w.address.toLowerCase()))!;
    const o = await ch.c.market.order(leaseId);
    offset += Number(o.epochLength) * 1000 * 3;
    try {
      expect(await run(member.wallet.privateKey)).toMatchObject({
        verdict: 'refused',
        code: 'CHALLENGE_NOT_MEMBER',
      });
    } finally {
      offset -= Number(o.epochLength) * 1000 * 3;
    }
  });
});
