/*
 * End to end on a real anvil, driven only through the generated bindings: order with SLA terms ->
 * sealed bids (winner and runner-up) -> confirmation locks the collateral -> lease -> vouchers redeemed
 * by the provider -> claims on redeemed batches -> one witness round per epoch -> Finished -> settle
 * releases the collateral; Fraud and Unavailable outcomes slash the collateral and fail the lease.
 */
import { parseEther } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bidCommitment,
  MarketState,
  SettlementClaimStatus,
  SettlementLeaseStatus,
  verdictCommitment,
  WitnessPoolPhase,
  WitnessPoolVerdict,
} from '../contracts/bindings/index.js';
import {
  allSay,
  auction,
  type Chain,
  type Codec,
  DURATION,
  EPOCH_LENGTH,
  MAX_PRICE,
  PROVIDER_STAKE,
  playRound,
  records,
  requestRound,
  signedReceipt,
  signedVoucher,
  startChain,
  startLease,
} from '../contracts/test/chain-fixture.js';
import { chainHeads, receiptDigest, voucherDigest } from '../protocol/typed-data.js';

let ch: Chain;
/** Sign with the canonical TypeScript typed data, so the contract must agree with protocol/. */
const ts: Codec = { voucherDigest, receiptDigest, chainHeads };
const { Ok, Fraud, Unavailable } = WitnessPoolVerdict;
const BPS = 10_000n;

beforeAll(async () => {
  ch = await startChain({ providers: 5, witnesses: 7 });
});

afterAll(async () => {
  await ch?.stop();
});

const balance = (address: string) => ch.c.token.balanceOf(address);

async function balances(addresses: readonly string[]): Promise<bigint[]> {
  return Promise.all(addresses.map(balance));
}

/** Every token is with a person or accounted for by the contract that holds it. */
async function conservation(): Promise<void> {
  const { c } = ch;
  const people = [ch.deployer, ch.customer, ...ch.providers, ...ch.witnesses].map((a) => a.address);
  let sum = 0n;
  for (const a of people) sum += await balance(a);
  // Settlement holds, for every unsettled lease, budget - collected, plus open claim bonds;
  // the pool holds the fee of every open round.
  let settlementHeld = 0n;
  let poolHeld = 0n;
  for (let id = 1n; id <= (await c.market.orderCount()); id++) {
    const l = await c.settlement.lease(id);
    if (l.status === SettlementLeaseStatus.Open || l.status === SettlementLeaseStatus.Closed)
      settlementHeld += l.budget - l.collected;
    const { epochs } = await c.market.order(id);
    for (let e = 0n; e < epochs; e++) {
      const roundId = await c.witnessPool.roundOf(id, e);
      if (roundId === 0n) continue;
      const r = await c.witnessPool.round(roundId);
      if (r.phase === WitnessPoolPhase.Requested || r.phase === WitnessPoolPhase.Drawn) poolHeld += r.fee;
    }
  }
  for (let id = 1n; id <= (await c.settlement.claimCount()); id++) {
    if ((await c.settlement.claim(id)).status === SettlementClaimStatus.Open)
      settlementHeld += await c.settlement.claimBond();
  }
  const held = (await c.market.totalHeld()) + settlementHeld + poolHeld + (await c.registry.totalStaked());
  expect(await c.token.totalSupply()).toBe(sum + held);
  expect(await balance(ch.deployment.contracts.market)).toBe(await c.market.totalHeld());
  expect(await balance(ch.deployment.contracts.settlement)).toBe(settlementHeld);
  expect(await balance(ch.deployment.contracts.witnessPool)).toBe(poolHeld);
  expect(await balance(ch.deployment.contracts.registry)).toBe(await c.registry.totalStaked());
}

/** What the pool's Fraud / Unavailable slash of `collateral` pays out to `reporters` members. */
function slashSplit(collateral: bigint, reporters: bigint) {
  const slashed = (collateral * ch.params.providerSlashBps) / BPS;
  const toCustomer = (slashed * ch.params.customerShareBps) / BPS;
  const perReporter = (slashed * ch.params.witnessShareBps) / BPS / reporters;
  return { slashed, toCustomer, perReporter, burned: slashed - toCustomer - perReporter * reporters };
}

describe('contracts: lease lifecycle on anvil', () => {
  it('runs order -> 5 sealed bids -> confirm -> vouchers -> claims -> a round per epoch -> Finished -> settle', async () => {
    const { c, params } = ch;
    const supply = await c.token.totalSupply();
    const rewardUnit = params.rewardUnit;
    const prices = [9n, 5n, 7n, 5n, 8n].map((x) => x * 10n ** 14n);
    const customer0 = await balance(ch.customer.address);
    const orderId = await auction(ch, prices);
    let o = await c.market.order(orderId);
    expect(o.state).toBe(MarketState.Confirming);
    expect(o.winner).toBe(1n); // lowest price, tie to the earlier commit
    expect(o.price).toBe(prices[1]);
    expect(o.runnerUp).toBe(3n); // the tie's later commit is kept for the case the winner never confirms
    expect(o.runnerUpPrice).toBe(prices[3]);
    // SLA terms carried by the order: 2 epochs of 500 s, 99 %, 500 ms
    expect([o.epochs, o.epochLength, o.availabilityBps, o.p95LatencyMs]).toEqual([
      2n,
      EPOCH_LENGTH,
      9900n,
      500n,
    ]);
    const maxFee = MAX_PRICE * DURATION;
    const witnessFee = o.epochs * 3n * rewardUnit;
    expect(o.witnessFee).toBe(witnessFee);
    // the bid bond: max(minBidBond, 5 % of the maximum fee); 5 % of 1 DFS is below the 1 DFS minimum
    expect((maxFee * params.bidBondBps) / BPS).toBeLessThan(params.minBidBond);
    expect(o.bidBond).toBe(params.minBidBond);
    // the escrow keeps the reservation at the runner-up's price; the rest is back with the customer
    const fee = prices[1]! * DURATION;
    expect(o.escrow).toBe(prices[3]! * DURATION + maxFee + witnessFee);
    expect(customer0 - (await balance(ch.customer.address))).toBe(o.escrow);

    // a losing revealed bidder gets its bond back; the runner-up's stays while it may still be offered
    const loser = ch.providers[0]!;
    const before = await balance(loser.address);
    await ch.tx('Market.claimBond', c.market.connect(loser.signer).claimBond(orderId, 0));
    expect((await balance(loser.address)) - before).toBe(o.bidBond);
    await expect(ch.tx('x', c.market.connect(ch.providers[3]!.signer).claimBond(orderId, 3))).rejects.toThrow(
      'MarketBondNotClaimable',
    );

    // confirmation locks the collateral out of the winner's free stake
    const provider = ch.providers[1]!;
    const executorId = ch.executorIds[1]!;
    const freeBefore = (await c.registry.executor(executorId)).stake;
    const startedAt = await startLease(ch, orderId);
    let collateral = fee + maxFee; // max(minProviderStake, fee + budget)
    if (collateral < params.minProviderStake) collateral = params.minProviderStake;
    expect(await c.registry.leaseCollateral(orderId)).toEqual([executorId, collateral]);
    let ex = await c.registry.executor(executorId);
    expect([ex.stake, ex.locked, ex.activeLeases]).toEqual([freeBefore - collateral, collateral, 1n]);
    // and the provider cannot unstake it
    await expect(
      ch.tx('x', c.registry.connect(provider.signer).requestExecutorUnstake(executorId, ex.stake + 1n)),
    ).rejects.toThrow('RegistryInsufficientStake');
    o = await c.market.order(orderId);
    expect(o.state).toBe(MarketState.Fulfilling);
    expect(o.collateral).toBe(collateral);
    expect(o.escrow).toBe(fee + witnessFee);
    const lease = await c.settlement.lease(orderId);
    expect(lease.enclave).toBe(ch.enclaves[1]!.address);
    expect(lease.provider).toBe(provider.address);
    expect(lease.budget).toBe(maxFee);
    // the runner-up is free once the lease is confirmed
    await ch.tx('Market.claimBond', c.market.connect(ch.providers[3]!.signer).claimBond(orderId, 3));

    // epoch 0: its round is requested as the epoch starts and drawn from a block mined after the request
    const round0 = await requestRound(ch, orderId);
    expect((await c.witnessPool.round(round0)).epoch).toBe(0n);
    await expect(ch.tx('x', c.market.requestRound(orderId))).rejects.toThrow('MarketEpochAlreadyRequested');

    // two batches redeemed by the provider out of nonce order: nonces 3-4 were accepted first
    const b1 = records(0n, 3);
    const b2 = records(3n, 2);
    const v2 = await signedVoucher(ch, orderId, b2, parseEther('0.01'), ts);
    const v1 = await signedVoucher(ch, orderId, b1, parseEther('0.03'), ts);
    await expect(
      ch.tx('x', c.settlement.connect(ch.customer.signer).redeem(v2.voucher, v2.signature)),
    ).rejects.toThrow('SettlementNotProvider');
    const p0 = await balance(provider.address);
    await ch.tx('Settlement.redeem', c.settlement.connect(provider.signer).redeem(v2.voucher, v2.signature));
    await ch.tx('Settlement.redeem', c.settlement.connect(provider.signer).redeem(v1.voucher, v1.signature));
    expect((await c.settlement.lease(orderId)).paid).toBe(parseEther('0.03'));
    const batchOf = (v: typeof v1.voucher) => [v.leaseId, v.firstNonce, v.lastNonce, v.requestHead] as const;
    expect(await c.settlement.batch(...batchOf(v2.voucher))).toEqual([parseEther('0.01'), false]);
    expect(await c.settlement.batch(...batchOf(v1.voucher))).toEqual([parseEther('0.02'), false]);
    await expect(
      ch.tx('replay', c.settlement.connect(provider.signer).redeem(v2.voucher, v2.signature)),
    ).rejects.toThrow('SettlementNothingToRedeem');
    await ch.tx('Settlement.collect', c.settlement.collect(orderId));
    expect((await balance(provider.address)) - p0).toBe(parseEther('0.03'));

    // non-delivery claim on nonce 1 of a redeemed batch, answered with the enclave receipt and records
    const enclave = ch.enclaves[1]!;
    const customer = c.settlement.connect(ch.customer.signer);
    await ch.tx('Settlement.openClaim', customer.openClaim(...batchOf(v1.voucher), 1n));
    expect((await c.settlement.claim(1n)).compensation).toBe(parseEther('0.02')); // what the batch paid
    await expect(ch.tx('x', customer.openClaim(...batchOf(v1.voucher), 2n))).rejects.toThrow(
      'SettlementBatchAlreadyClaimed',
    );
    const madeUp = await signedVoucher(ch, orderId, records(5n, 1), parseEther('0.04'), ts);
    await expect(ch.tx('x', customer.openClaim(...batchOf(madeUp.voucher), 5n))).rejects.toThrow(
      'SettlementBatchNotRedeemed',
    );
    const r1 = await signedReceipt(ch, orderId, b1, enclave, ts);
    const bondBefore = await balance(provider.address);
    await ch.tx(
      'Settlement.answerClaim',
      c.settlement.connect(provider.signer).answerClaim(1n, r1.receipt, r1.signature, b1),
    );
    expect((await c.settlement.claim(1n)).status).toBe(SettlementClaimStatus.Answered);
    expect((await balance(provider.address)) - bondBefore).toBe(params.claimBond);

    // a receipt signed by another key does not answer a claim; unanswered, the claim is upheld and
    // compensates at most what its batch paid, out of this lease's collateral
    await ch.tx('Settlement.openClaim', customer.openClaim(...batchOf(v2.voucher), 4n));
    const forged = await signedReceipt(ch, orderId, b2, ch.enclaves[0]!, ts);
    await expect(
      ch.tx(
        'forged',
        c.settlement.connect(provider.signer).answerClaim(2n, forged.receipt, forged.signature, b2),
      ),
    ).rejects.toThrow('SettlementBadSigner');
    await ch.advance(params.answerWindow + 1n);
    const c0 = await balance(ch.customer.address);
    await ch.tx('Settlement.upholdClaim', c.settlement.upholdClaim(2n));
    expect((await balance(ch.customer.address)) - c0).toBe(params.claimBond + parseEther('0.01'));
    expect((await c.registry.leaseCollateral(orderId))[1]).toBe(collateral - parseEther('0.01'));

    // epoch 1 starts: its round is requested while epoch 0's is still in its commit window
    const round1 = await requestRound(ch, orderId);
    expect((await c.witnessPool.round(round1)).epoch).toBe(1n);
    expect((await c.market.order(orderId)).pendingRounds).toBe(2n);
    expect(await ch.now()).toBeGreaterThanOrEqual(startedAt + EPOCH_LENGTH);

    // each round settles its own epoch: the provider is paid the epoch's fee, every member its reward
    let paidToProvider = 0n;
    for (const [epoch, roundId] of [round0, round1].entries()) {
      const members = [...(await c.witnessPool.committee(roundId))];
      expect(new Set(members).size).toBe(3);
      const before = await balances([provider.address, ...members]);
      await playRound(ch, roundId, allSay(3));
      const after = await balances([provider.address, ...members]);
      const r = await c.witnessPool.round(roundId);
      expect([r.verdict, r.revealedCount]).toEqual([Ok, 3n]);
      const epochFee = await c.market.epochFee(orderId, epoch);
      expect(epochFee).toBe(fee / 2n);
      expect(after[0]! - before[0]!).toBe(epochFee);
      paidToProvider += epochFee;
      for (let i = 1; i <= 3; i++) expect(after[i]! - before[i]!).toBe(rewardUnit);
      expect((await c.market.order(orderId)).nextEpoch).toBe(BigInt(epoch) + 1n);
    }
    expect(paidToProvider).toBe(fee);
    o = await c.market.order(orderId);
    expect([o.state, o.escrow, o.pendingRounds]).toEqual([MarketState.Finished, 0n, 0n]);
    expect((await c.settlement.lease(orderId)).status).toBe(SettlementLeaseStatus.Closed);
    await expect(ch.tx('twice', c.market.finish(orderId))).rejects.toThrow('MarketWrongState');

    // settle after the redeem window: unused budget back, collateral (less the upheld claim) released
    await expect(ch.tx('early', c.settlement.settle(orderId))).rejects.toThrow('SettlementRedeemWindowOpen');
    await ch.advance(params.redeemWindow);
    const c1 = await balance(ch.customer.address);
    await ch.tx('Settlement.settle', c.settlement.settle(orderId));
    expect((await balance(ch.customer.address)) - c1).toBe(maxFee - parseEther('0.03'));
    expect(await c.registry.leaseCollateral(orderId)).toEqual([executorId, 0n]);
    ex = await c.registry.executor(executorId);
    expect([ex.stake, ex.locked, ex.activeLeases]).toEqual([freeBefore - parseEther('0.01'), 0n, 0n]);
    expect(await c.token.totalSupply()).toBe(supply); // nothing minted, nothing burned here
    await conservation();
  });

  it('a Fraud verdict slashes the lease collateral and fails the lease pro rata', async () => {
    const { c, params } = ch;
    const price = 6n * 10n ** 14n;
    const orderId = await auction(ch, [price]);
    const provider = ch.providers[0]!;
    const executorId = ch.executorIds[0]!;
    const freeBefore = (await c.registry.executor(executorId)).stake;
    const startedAt = await startLease(ch, orderId);
    const { collateral, witnessFee } = await c.market.order(orderId);
    const roundId = await requestRound(ch, orderId);
    const members = [...(await c.witnessPool.committee(roundId))];
    const supply = await c.token.totalSupply();
    const before = await balances([ch.customer.address, provider.address, ...members]);
    const silentStake = (await c.registry.witness(await c.registry.witnessIdOf(members[2]!))).stake;

    // two members report Fraud a quarter into epoch 0, the third never reveals
    await playRound(ch, roundId, [Fraud, Fraud, null], startedAt + EPOCH_LENGTH / 4n);
    const after = await balances([ch.customer.address, provider.address, ...members]);
    const r = await c.witnessPool.round(roundId);
    expect(r.verdict).toBe(Fraud);
    expect((await c.market.order(orderId)).state).toBe(MarketState.Failed);
    expect((await c.settlement.lease(orderId)).status).toBe(SettlementLeaseStatus.Closed);

    const fee = price * DURATION;
    const paid = fee / 2n / 4n; // epoch 0's share up to the violation time
    const u = params.rewardUnit;
    const split = slashSplit(collateral, 2n);
    expect(await c.registry.leaseCollateral(orderId)).toEqual([executorId, collateral - split.slashed]);
    expect(after[1]! - before[1]!).toBe(paid);
    // customer: the rest of the fee, epoch 1's witness fee, the unpaid part of the round fee and its share
    expect(after[0]! - before[0]!).toBe(fee - paid + witnessFee / 2n + (3n * u - 2n * u) + split.toCustomer);
    expect(after[2]! - before[2]!).toBe(u + split.perReporter);
    expect(after[3]! - before[3]!).toBe(u + split.perReporter);
    expect(after[4]).toBe(before[4]);
    const silent = await c.registry.witness(await c.registry.witnessIdOf(members[2]!));
    expect([silent.stake, silent.reputation]).toEqual([silentStake - 2n * u, 2n]);
    expect(supply - (await c.token.totalSupply())).toBe(split.burned + 2n * u);

    // the rest of the collateral returns when the lease is settled
    await ch.advance(params.redeemWindow);
    await ch.tx('Settlement.settle', c.settlement.settle(orderId));
    expect((await c.registry.executor(executorId)).stake).toBe(freeBefore - split.slashed);
    await conservation();
  });

  it('an Unavailable verdict in the last epoch: epoch 0 paid, epoch 1 pro rata, collateral slashed', async () => {
    const { c, params } = ch;
    const price = 6n * 10n ** 14n;
    const orderId = await auction(ch, [price], { bidders: [2] });
    const provider = ch.providers[2]!;
    const startedAt = await startLease(ch, orderId);
    const { collateral } = await c.market.order(orderId);
    const round0 = await requestRound(ch, orderId);
    const round1 = await requestRound(ch, orderId);
    const fee = price * DURATION;
    let p0 = await balance(provider.address);
    await playRound(ch, round0, allSay(3));
    expect((await balance(provider.address)) - p0).toBe(fee / 2n);

    // Unavailable + Fraud make a majority for Unavailable (a Fraud report also reports a violation)
    const members = [...(await c.witnessPool.committee(round1))];
    const before = await balances([ch.customer.address, ...members]);
    p0 = await balance(provider.address);
    await playRound(ch, round1, [Unavailable, Fraud, Ok], startedAt + EPOCH_LENGTH + EPOCH_LENGTH / 2n);
    const after = await balances([ch.customer.address, ...members]);
    expect((await c.witnessPool.round(round1)).verdict).toBe(Unavailable);
    expect((await c.market.order(orderId)).state).toBe(MarketState.Failed);
    const paid = fee / 2n / 2n;
    expect((await balance(provider.address)) - p0).toBe(paid);
    const u = params.rewardUnit;
    const split = slashSplit(collateral, 2n);
    expect((await c.registry.leaseCollateral(orderId))[1]).toBe(collateral - split.slashed);
    expect(after[0]! - before[0]!).toBe(fee / 2n - paid + u + split.toCustomer);
    expect(after[1]! - before[1]!).toBe(u + split.perReporter);
    expect(after[2]! - before[2]!).toBe(u + split.perReporter);
    expect(after[3]).toBe(before[3]); // reported Ok against a violation: neither paid nor penalised
    await conservation();
  });

  it('only the provider redeems, and a voucher of one lease does not redeem on another', async () => {
    const { c } = ch;
    const a = await auction(ch, [5n * 10n ** 14n], { bidders: [3] });
    await startLease(ch, a);
    const b = await auction(ch, [5n * 10n ** 14n], { bidders: [3] });
    await startLease(ch, b);
    const provider = ch.providers[3]!;
    const v = await signedVoucher(ch, a, records(0n, 1), 1n, ts);
    await expect(
      ch.tx('x', c.settlement.connect(ch.customer.signer).redeem(v.voucher, v.signature)),
    ).rejects.toThrow('SettlementNotProvider');
    await expect(
      ch.tx('x', c.settlement.connect(ch.providers[4]!.signer).redeem(v.voucher, v.signature)),
    ).rejects.toThrow('SettlementNotProvider');
    const onB = { ...v.voucher, leaseId: b };
    await expect(ch.tx('x', c.settlement.connect(provider.signer).redeem(onB, v.signature))).rejects.toThrow(
      'SettlementBadSigner',
    );
    await ch.tx('Settlement.redeem', c.settlement.connect(provider.signer).redeem(v.voucher, v.signature));
    expect((await c.settlement.lease(a)).paid).toBe(1n);
    // nothing was requested for either lease: after the end, finish refunds every epoch
    await ch.advance(DURATION);
    const c0 = await balance(ch.customer.address);
    await ch.tx('Market.finish', c.market.finish(a));
    const o = await c.market.order(a);
    expect(o.state).toBe(MarketState.Finished);
    expect((await balance(ch.customer.address)) - c0).toBe(5n * 10n ** 14n * DURATION + o.witnessFee);
    expect(PROVIDER_STAKE - (await c.registry.executor(ch.executorIds[3]!)).stake).toBe(2n * o.collateral);
    await conservation();
  });

  it('local commitment helpers equal the contract views', async () => {
    const { c } = ch;
    const chainId = BigInt(ch.deployment.chainId);
    const bidder = ch.providers[0]!.address;
    const salt = `0x${'ab'.repeat(32)}`;
    const evidence = `0x${'cd'.repeat(32)}`;
    expect(bidCommitment(chainId, ch.deployment.contracts.market, 7n, bidder, 123n, 50, salt)).toBe(
      await c.market.bidCommitment(7n, bidder, 123n, 50, salt),
    );
    const roundId = await c.witnessPool.roundOf(1n, 1n);
    expect(roundId).not.toBe(0n);
    const leaseId = (await c.witnessPool.round(roundId)).leaseId;
    expect(leaseId).toBe(1n);
    for (const v of [Ok, Fraud, Unavailable, WitnessPoolVerdict.Stale]) {
      expect(
        verdictCommitment(
          chainId,
          ch.deployment.contracts.witnessPool,
          leaseId,
          roundId,
          bidder,
          v,
          99n,
          evidence,
          salt,
        ),
      ).toBe(await c.witnessPool.verdictCommitment(roundId, bidder, v, 99n, evidence, salt));
    }
  });
});
