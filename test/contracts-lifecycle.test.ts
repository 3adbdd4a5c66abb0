/*
 * End to end on a real anvil, driven only through the generated bindings: order -> sealed bids ->
 * reveal -> lease -> committee round -> voucher redemption -> disputes -> finish -> settle.
 */
import { parseEther } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bidCommitment,
  MarketState,
  SettlementClaimStatus,
  SettlementLeaseStatus,
  verdictCommitment,
  WitnessPoolVerdict,
} from '../contracts/bindings/index.js';
import {
  auction,
  type Chain,
  type Codec,
  DURATION,
  playRound,
  records,
  signedReceipt,
  signedVoucher,
  startChain,
  startLease,
} from '../contracts/test/chain-fixture.js';
import { chainHeads, receiptDigest, voucherDigest } from '../protocol/typed-data.js';

let ch: Chain;
/** Sign with the canonical TypeScript typed data, so the contract must agree with attestation/. */
const ts: Codec = { voucherDigest, receiptDigest, chainHeads };

beforeAll(async () => {
  ch = await startChain({ providers: 5, witnesses: 7 });
});

afterAll(async () => {
  await ch?.stop();
});

async function conservation(): Promise<void> {
  const { c } = ch;
  const people = [ch.deployer, ch.customer, ...ch.providers, ...ch.witnesses].map((a) => a.address);
  let sum = 0n;
  for (const a of people) sum += await c.token.balanceOf(a);
  // Settlement holds, for every unsettled lease, budget - collected, plus open claim bonds
  let settlementHeld = 0n;
  for (let id = 1n; id <= (await c.market.orderCount()); id++) {
    const l = await c.settlement.lease(id);
    if (l.status === SettlementLeaseStatus.Open || l.status === SettlementLeaseStatus.Closed)
      settlementHeld += l.budget - l.collected;
  }
  for (let id = 1n; id <= (await c.settlement.claimCount()); id++) {
    if ((await c.settlement.claim(id)).status === SettlementClaimStatus.Open)
      settlementHeld += await c.settlement.claimBond();
  }
  const held = (await c.market.totalHeld()) + settlementHeld + (await c.registry.totalStaked());
  expect(await c.token.totalSupply()).toBe(sum + held);
  expect(await c.token.balanceOf(c.market)).toBe(await c.market.totalHeld());
  expect(await c.token.balanceOf(c.settlement)).toBe(settlementHeld);
  expect(await c.token.balanceOf(c.registry)).toBe(await c.registry.totalStaked());
  expect(await c.token.balanceOf(c.witnessPool)).toBe(0n);
}

describe('contracts: lease lifecycle on anvil', () => {
  it('runs order -> 5 sealed bids -> lease -> round -> vouchers -> disputes -> finish -> settle', async () => {
    const { c } = ch;
    const prices = [9n, 5n, 7n, 5n, 8n].map((x) => x * 10n ** 14n);
    const orderId = await auction(ch, prices);
    let o = await c.market.order(orderId);
    expect(o.state).toBe(MarketState.Confirming);
    expect(o.winner).toBe(1n); // lowest price, tie to the earlier commit
    expect(o.price).toBe(prices[1]);

    // losing revealed bidders get their bonds back
    const loser = ch.providers[0]!;
    const before = await c.token.balanceOf(loser.address);
    await ch.tx('Market.claimBond', c.market.connect(loser.signer).claimBond(orderId, 0));
    expect((await c.token.balanceOf(loser.address)) - before).toBe(ch.params.bidBond);

    const roundId = await startLease(ch, orderId);
    o = await c.market.order(orderId);
    expect(o.state).toBe(MarketState.Fulfilling);
    const lease = await c.settlement.lease(orderId);
    expect(lease.enclave).toBe(ch.enclaves[1]!.address);
    expect(lease.budget).toBe(MAX_BUDGET());

    const members = await playRound(ch, roundId, [
      WitnessPoolVerdict.NotViolated,
      WitnessPoolVerdict.NotViolated,
      WitnessPoolVerdict.NotViolated,
    ]);
    expect(new Set(members).size).toBe(3);
    expect((await c.witnessPool.round(roundId)).verdict).toBe(WitnessPoolVerdict.NotViolated);

    // two batches redeemed with cumulative vouchers
    const provider = ch.providers[1]!;
    const b1 = records(0n, 3);
    const b2 = records(3n, 2);
    const v1 = await signedVoucher(ch, orderId, b1, parseEther('0.01'), ts);
    const v2 = await signedVoucher(ch, orderId, b2, parseEther('0.03'), ts);
    const p0 = await c.token.balanceOf(provider.address);
    await ch.tx('Settlement.redeem', c.settlement.connect(provider.signer).redeem(v1.voucher, v1.signature));
    await ch.tx('Settlement.redeem', c.settlement.connect(provider.signer).redeem(v2.voucher, v2.signature));
    expect((await c.settlement.lease(orderId)).paid).toBe(parseEther('0.03'));
    await ch.tx('Settlement.collect', c.settlement.collect(orderId));
    expect((await c.token.balanceOf(provider.address)) - p0).toBe(parseEther('0.03'));
    await expect(
      ch.tx('replay', c.settlement.connect(provider.signer).redeem(v1.voucher, v1.signature)),
    ).rejects.toThrow('SettlementNonceReused');

    // non-delivery claim on nonce 4, answered with the enclave receipt and the batch records
    const enclave = ch.enclaves[1]!;
    await ch.tx(
      'Settlement.openClaim',
      c.settlement.connect(ch.customer.signer).openClaim(v2.voucher, v2.signature, 4n),
    );
    const r2 = await signedReceipt(ch, orderId, b2, enclave, ts);
    await ch.tx(
      'Settlement.answerClaim',
      c.settlement.connect(provider.signer).answerClaim(1n, r2.receipt, r2.signature, b2),
    );
    expect((await c.settlement.claim(1n)).status).toBe(SettlementClaimStatus.Answered);

    // a receipt signed by another key does not answer a claim; unanswered, the claim is upheld
    const b3 = records(5n, 1);
    const v3 = await signedVoucher(ch, orderId, b3, parseEther('0.04'), ts);
    await ch.tx(
      'Settlement.openClaim',
      c.settlement.connect(ch.customer.signer).openClaim(v3.voucher, v3.signature, 5n),
    );
    const forged = await signedReceipt(ch, orderId, b3, ch.enclaves[0]!, ts);
    await expect(
      ch.tx(
        'forged',
        c.settlement.connect(provider.signer).answerClaim(2n, forged.receipt, forged.signature, b3),
      ),
    ).rejects.toThrow('SettlementBadSigner');
    await ch.advance(ch.params.answerWindow + 1n);
    const c0 = await c.token.balanceOf(ch.customer.address);
    await ch.tx('Settlement.upholdClaim', c.settlement.upholdClaim(2n));
    expect((await c.token.balanceOf(ch.customer.address)) - c0).toBe(
      ch.params.claimBond + ch.params.claimSlash,
    );

    await ch.advance(DURATION);
    const p1 = await c.token.balanceOf(provider.address);
    await ch.tx('Market.finish', c.market.finish(orderId));
    expect((await c.token.balanceOf(provider.address)) - p1).toBe(prices[1]! * DURATION);
    expect((await c.market.order(orderId)).state).toBe(MarketState.Finished);
    await expect(ch.tx('twice', c.market.finish(orderId))).rejects.toThrow('MarketWrongState');

    await ch.advance(ch.params.redeemWindow);
    const c1 = await c.token.balanceOf(ch.customer.address);
    await ch.tx('Settlement.settle', c.settlement.settle(orderId));
    expect((await c.token.balanceOf(ch.customer.address)) - c1).toBe(MAX_BUDGET() - parseEther('0.03'));
    await conservation();
  });

  it('a Violated verdict slashes the provider and ends the lease pro rata', async () => {
    const { c } = ch;
    const orderId = await auction(ch, [6n * 10n ** 14n]);
    const roundId = await startLease(ch, orderId);
    const started = (await c.market.order(orderId)).startedAt;
    const stakeBefore = (await c.registry.executor(ch.executorIds[0]!)).stake;
    const customerBefore = await c.token.balanceOf(ch.customer.address);
    await playRound(
      ch,
      roundId,
      [WitnessPoolVerdict.Violated, WitnessPoolVerdict.Violated, null],
      started + DURATION / 4n,
    );
    const r = await c.witnessPool.round(roundId);
    expect(r.verdict).toBe(WitnessPoolVerdict.Violated);
    const o = await c.market.order(orderId);
    expect(o.state).toBe(MarketState.Failed);
    expect((await c.registry.executor(ch.executorIds[0]!)).stake).toBe(stakeBefore / 2n);
    // customer: 3/4 of the reservation fee back plus half of the slashed stake
    const fee = 6n * 10n ** 14n * DURATION;
    expect((await c.token.balanceOf(ch.customer.address)) - customerBefore).toBe(
      fee - fee / 4n + stakeBefore / 4n,
    );
    await conservation();
  });

  it('local commitment helpers equal the contract views', async () => {
    const { c } = ch;
    const chainId = BigInt(ch.deployment.chainId);
    const bidder = ch.providers[0]!.address;
    const salt = `0x${'ab'.repeat(32)}`;
    expect(bidCommitment(chainId, ch.deployment.contracts.market, 7n, bidder, 123n, 50, salt)).toBe(
      await c.market.bidCommitment(7n, bidder, 123n, 50, salt),
    );
    const roundId = await c.witnessPool.roundCount();
    const leaseId = (await c.witnessPool.round(roundId)).leaseId;
    expect(
      verdictCommitment(
        chainId,
        ch.deployment.contracts.witnessPool,
        leaseId,
        roundId,
        bidder,
        WitnessPoolVerdict.Violated,
        99n,
        salt,
      ),
    ).toBe(await c.witnessPool.verdictCommitment(roundId, bidder, WitnessPoolVerdict.Violated, 99n, salt));
  });

  it('rejects a voucher replayed on another lease', async () => {
    const { c } = ch;
    const a = await auction(ch, [5n * 10n ** 14n]);
    await startLease(ch, a);
    const b = await auction(ch, [5n * 10n ** 14n]);
    await startLease(ch, b);
    const v = await signedVoucher(ch, a, records(0n, 1), 1n, ts);
    const onB = { ...v.voucher, leaseId: b };
    await expect(
      ch.tx('x', c.settlement.connect(ch.providers[0]!.signer).redeem(onB, v.signature)),
    ).rejects.toThrow('SettlementBadSigner');
    await ch.tx(
      'Settlement.redeem',
      c.settlement.connect(ch.providers[0]!.signer).redeem(v.voucher, v.signature),
    );
  });
});

function MAX_BUDGET(): bigint {
  return 10n ** 15n * DURATION;
}
