import { hexlify, randomBytes } from 'ethers';
import { bidCommitment, MarketState } from '../../contracts/bindings/index.js';
import { isAgentError } from '../../verifier/agent/errors.js';
import { type BidPolicy, bidPrice } from './bid-policy.js';
import type { ProviderContext } from './context.js';
import type { ExecutorSpecs } from './registration.js';
import type { BidRecord } from './state.js';

/*
 * The provider's side of the sealed-bid reverse auction (docs/contracts.md, "Market"), one step per
 * tick of the agent, each from what the chain says now:
 * - new orders in Bidding whose level the executor meets, whose cap meets the price policy and whose
 *   bid deadline is not too close: a commitment (the salt is on disk before it is sent);
 * - committed bids, once the bid deadline passed: revealed before the reveal deadline;
 * - after the reveal deadline: bidding closed (anyone may), so the auction does not wait for the
 *   customer;
 * - a won bid: the lease confirmed with the executor's endpoint, the collateral locked from its stake;
 * - a bid that did not win (or whose offer expired): its bond claimed once the Market releases it.
 * An order's offer that its winner let expire is passed to the runner-up by anyone calling
 * `Market.expire`; the agent does so when it is the runner-up.
 */

/** Seconds before a bid deadline within which no new bid is sent (it might be mined too late). */
const BID_MARGIN_S = 3n;
/** Orders read per tick at most (a busy market is caught up over several ticks). */
const SCAN_PER_TICK = 50n;

const OPEN: readonly BidRecord['phase'][] = ['committing', 'committed', 'revealed'];

export interface BiddingInput {
  readonly executorId: bigint;
  readonly specs: ExecutorSpecs;
  readonly policy: BidPolicy;
  /** What `confirmLease` records as the deployment: where the lease is served. */
  readonly deployment: string;
  /** False while the registered enclave is not this one (no bids). */
  readonly canBid: boolean;
}

function activeCount(ctx: ProviderContext): number {
  const r = ctx.state.record;
  return (
    Object.values(r.bids).filter((b) => OPEN.includes(b.phase)).length +
    Object.values(r.leases).filter((l) => l.phase === 'serving').length
  );
}

/**
 * The collateral `Market.confirmLease` locks for an order won at `price`: the fee and the call budget
 * (price and cap per second, over the duration), at least the Market's minimum provider stake.
 */
export function leaseCollateral(
  price: bigint,
  o: { maxUnitPrice: bigint; duration: bigint },
  minStake: bigint,
): bigint {
  const c = (price + o.maxUnitPrice) * o.duration;
  return c < minStake ? minStake : c;
}

/** The collateral the bids still open would lock if they won. */
function openCollateral(ctx: ProviderContext): bigint {
  let sum = 0n;
  for (const b of Object.values(ctx.state.record.bids))
    if (OPEN.includes(b.phase) && b.collateral !== undefined) sum += BigInt(b.collateral);
  return sum;
}

/** Looks at orders not seen yet and bids on those the policy takes. */
export async function scanOrders(ctx: ProviderContext, input: BiddingInput, now: bigint): Promise<void> {
  const { ch, state } = ctx;
  const count = await ch.market.orderCount();
  let next = BigInt(state.record.nextOrder);
  const end = next + SCAN_PER_TICK - 1n < count ? next + SCAN_PER_TICK - 1n : count;
  let minStake: bigint | undefined;
  let free: bigint | undefined;
  for (; next <= end; next++) {
    const orderId = next;
    state.record.nextOrder = (orderId + 1n).toString();
    if (!input.canBid || state.record.bids[orderId.toString()]) continue;
    const o = await ch.market.order(orderId);
    if (o.state !== MarketState.Bidding || now + BID_MARGIN_S >= o.bidDeadline) continue;
    const skip = (why: string) => ctx.log.info({ orderId: orderId.toString(), why }, 'order skipped');
    if (input.policy.levels.length > 0 && !input.policy.levels.includes(o.levelId)) {
      skip('level not in the price policy');
      continue;
    }
    const level = await ch.market.level(o.levelId);
    const s = input.specs;
    if (
      BigInt(s.cpuCores) < level.cpuCores ||
      BigInt(s.memoryMiB) < level.memoryMiB ||
      BigInt(s.gpuMemoryMiB) < level.gpuMemoryMiB ||
      BigInt(s.gflops) < level.minGflops ||
      s.teeType !== level.teeType
    ) {
      skip(`the executor does not meet level ${o.levelId}`);
      continue;
    }
    if (BigInt(input.policy.claimedGflops) < level.minGflops) {
      skip(
        `the claimed ${input.policy.claimedGflops} GFLOP/s is below level ${o.levelId}'s ${level.minGflops}`,
      );
      continue;
    }
    const price = bidPrice(input.policy, o.maxUnitPrice);
    if (price === undefined) {
      skip(`cap ${o.maxUnitPrice}/s is below the floor ${input.policy.minUnitPrice}/s`);
      continue;
    }
    if (activeCount(ctx) >= input.policy.maxLeases) {
      skip(`at ${input.policy.maxLeases} leases and open bids (--max-leases)`);
      continue;
    }
    // Won, the lease locks this much of the executor's free stake; a bid that could not be confirmed
    // would hand its bond to the customer, so the stake must cover it beside the open bids' collateral.
    minStake ??= (await ch.market.params()).minProviderStake;
    const collateral = leaseCollateral(price, o, minStake);
    free ??= (await ch.registry.executor(input.executorId)).stake;
    const spoken = openCollateral(ctx);
    if (free < spoken + collateral) {
      skip(
        `won, it would lock ${collateral} of stake; ${free} is free and ${spoken} is spoken for by open bids`,
      );
      continue;
    }
    await commit(ctx, input, orderId, price, o, collateral);
  }
  await state.save();
}

async function commit(
  ctx: ProviderContext,
  input: BiddingInput,
  orderId: bigint,
  price: bigint,
  o: { bidDeadline: bigint; revealDeadline: bigint; bidBond: bigint },
  collateral: bigint,
): Promise<void> {
  const { ch, state, sender } = ctx;
  const salt = hexlify(randomBytes(32));
  const market = await ch.market.getAddress();
  const gflops = input.policy.claimedGflops;
  const commitment = bidCommitment(ch.chainId, market, orderId, ctx.address, price, gflops, salt);
  const bid: BidRecord = {
    orderId: orderId.toString(),
    executorId: input.executorId.toString(),
    bidIndex: null,
    unitPrice: price.toString(),
    gflops,
    salt,
    commitment,
    bidDeadline: Number(o.bidDeadline),
    revealDeadline: Number(o.revealDeadline),
    collateral: collateral.toString(),
    phase: 'committing',
  };
  // The salt first: a commitment on chain whose salt is lost can never be revealed.
  state.record.bids[bid.orderId] = bid;
  await state.save();
  try {
    if ((await ch.token.allowance(ctx.address, market)) < o.bidBond)
      await sender.send(
        'Token.approve',
        () => ch.token.approve(market, o.bidBond),
        async () => (await ch.token.allowance(ctx.address, market)) >= o.bidBond,
      );
    await sender.send(
      'Market.commitBid',
      () => ch.market.commitBid(orderId, input.executorId, commitment),
      async () => (await findBid(ctx, bid)) !== null,
    );
  } catch (e) {
    // Refused (the window closed, the executor under-staked): nothing is on chain; forget the bid.
    if (isAgentError(e, 'TX_REVERTED') && (await findBid(ctx, bid).catch(() => null)) === null) {
      delete state.record.bids[bid.orderId];
      state.noteFailure(`bid on order ${orderId}`, e);
      ctx.log.warn({ orderId: bid.orderId, err: e }, 'bid refused by the Market');
      await state.save();
      return;
    }
    throw e;
  }
  bid.bidIndex = await findBid(ctx, bid);
  bid.phase = 'committed';
  ctx.log.info(
    { orderId: bid.orderId, unitPrice: bid.unitPrice, bidIndex: bid.bidIndex },
    'sealed bid committed',
  );
  await state.save();
}

/** The index of the bid with this commitment, or null. */
async function findBid(ctx: ProviderContext, bid: BidRecord): Promise<number | null> {
  const o = await ctx.ch.market.order(BigInt(bid.orderId));
  for (let i = 0n; i < o.bidCount; i++) {
    const b = await ctx.ch.market.bid(BigInt(bid.orderId), i);
    if (b.commitment === bid.commitment && b.bidder.toLowerCase() === ctx.address) return Number(i);
  }
  return null;
}

/** One step of every bid still in play; `onConfirmed` hears each lease confirmed. */
export async function progressBids(
  ctx: ProviderContext,
  input: BiddingInput,
  now: bigint,
  onConfirmed: (bid: BidRecord, customer: string) => Promise<void>,
): Promise<void> {
  for (const bid of Object.values(ctx.state.record.bids)) {
    if (bid.phase === 'confirmed' || bid.phase === 'bond-claimed' || bid.phase === 'forfeited') continue;
    try {
      await stepBid(ctx, input, bid, now, onConfirmed);
    } catch (e) {
      ctx.state.noteFailure(`bid on order ${bid.orderId} (${bid.phase})`, e);
      ctx.log.error({ orderId: bid.orderId, phase: bid.phase, err: e }, 'bid step failed; retried next tick');
    }
    await ctx.state.save();
  }
}

async function stepBid(
  ctx: ProviderContext,
  input: BiddingInput,
  bid: BidRecord,
  now: bigint,
  onConfirmed: (bid: BidRecord, customer: string) => Promise<void>,
): Promise<void> {
  const { ch, sender } = ctx;
  const orderId = BigInt(bid.orderId);
  if (bid.phase === 'committing') {
    // Crashed between writing the salt and learning the outcome of the commitment.
    bid.bidIndex = await findBid(ctx, bid);
    if (bid.bidIndex === null) {
      if (now >= BigInt(bid.bidDeadline)) {
        delete ctx.state.record.bids[bid.orderId];
        ctx.log.info({ orderId: bid.orderId }, 'a bid not committed before its deadline is dropped');
      }
      return;
    }
    bid.phase = 'committed';
  }
  const o = await ch.market.order(orderId);
  if (bid.phase === 'committed') {
    if (now < BigInt(bid.bidDeadline)) return;
    if (now >= BigInt(bid.revealDeadline) || o.state !== MarketState.Bidding) {
      bid.phase = 'forfeited';
      bid.note = 'not revealed before the reveal deadline: the bond stays with the Market';
      ctx.log.error({ orderId: bid.orderId }, bid.note);
      return;
    }
    await sender.send(
      'Market.revealBid',
      () => ch.market.revealBid(orderId, bid.bidIndex!, BigInt(bid.unitPrice), bid.gflops, bid.salt),
      async () => (await ch.market.bid(orderId, bid.bidIndex!)).revealed,
    );
    bid.phase = 'revealed';
    ctx.log.info({ orderId: bid.orderId, unitPrice: bid.unitPrice }, 'bid revealed');
    return;
  }
  // revealed or lost
  if (o.state === MarketState.Bidding) {
    if (now < o.revealDeadline) return;
    await sender.send(
      'Market.closeBidding',
      () => ch.market.closeBidding(orderId),
      async () => (await ch.market.order(orderId)).state !== MarketState.Bidding,
    );
    return;
  }
  const ours = BigInt(bid.bidIndex!);
  if (o.state === MarketState.Confirming) {
    if (o.winner === ours) {
      await sender.send(
        'Market.confirmLease',
        () => ch.market.confirmLease(orderId, input.deployment),
        async () => (await ch.market.order(orderId)).state !== MarketState.Confirming,
      );
      const after = await ch.market.order(orderId);
      if (after.state === MarketState.Confirming || after.winner !== ours) return;
      bid.phase = 'confirmed';
      ctx.log.info(
        { leaseId: bid.orderId, customer: o.customer, unitPrice: after.price.toString() },
        'lease confirmed',
      );
      await onConfirmed(bid, o.customer.toLowerCase());
      return;
    }
    // The runner-up is offered the lease once the winner lets the confirm window pass.
    if (o.runnerUp === ours && !o.runnerUpOffered && o.revealedCount > 1n && now >= o.stepDeadline)
      await sender.send(
        'Market.expire',
        () => ch.market.expire(orderId),
        async () => {
          const x = await ch.market.order(orderId);
          return x.state !== MarketState.Confirming || x.runnerUpOffered;
        },
      );
    bid.phase = 'lost';
    return;
  }
  // Deploying, Fulfilling, Finished, Failed, Cancelled: if our bid were the confirmed one it would be
  // 'confirmed' already, so it lost; a revealed losing bid's bond is ours to claim.
  bid.phase = 'lost';
  const b = await ch.market.bid(orderId, ours);
  if (!b.revealed) {
    bid.phase = 'forfeited';
    return;
  }
  if (b.bondClaimed) {
    bid.phase = 'bond-claimed';
    return;
  }
  await sender.send(
    'Market.claimBond',
    () => ch.market.claimBond(orderId, ours),
    async () => (await ch.market.bid(orderId, ours)).bondClaimed,
  );
  bid.phase = 'bond-claimed';
  ctx.log.info({ orderId: bid.orderId }, 'bid bond claimed back');
}
