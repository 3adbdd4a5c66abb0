import { MarketState } from '../../contracts/bindings/index.js';
import { ORDER_STATES, type OrderStateName } from '../../sdk/index.js';
import { decodeRevert } from '../../verifier/agent/tx-sender.js';
import { CliError } from '../errors.js';
import { type CustomerChain, chainNow, reading } from './chain.js';
import { type LeaseInfo, leaseInfo } from './lease-info.js';

/*
 * An order as the Market holds it, read for its customer: its state and deadlines against the
 * chain's clock, the bids (sealed ones without a price), the offered bid, the lease once confirmed,
 * and in words what happens next and who does it.
 */

export interface BidStatus {
  readonly index: number;
  readonly bidder: string;
  readonly executorId: bigint;
  readonly revealed: boolean;
  /** Revealed bids only. */
  readonly price?: bigint;
  readonly gflops?: bigint;
  readonly bondClaimed: boolean;
}

export interface OrderStatus {
  readonly orderId: bigint;
  readonly state: OrderStateName;
  readonly customer: string;
  readonly levelId: bigint;
  readonly duration: bigint;
  readonly maxUnitPrice: bigint;
  readonly escrow: bigint;
  /** The chain's clock when read (latest block timestamp). */
  readonly now: bigint;
  readonly bidDeadline: bigint;
  readonly revealDeadline: bigint;
  /** Confirming: the confirm deadline; Deploying: the start deadline; Fulfilling: the lease end. */
  readonly stepDeadline: bigint;
  readonly bids: readonly BidStatus[];
  /** The bid offered the lease (Confirming and later). */
  readonly offered?: { readonly index: number; readonly price: bigint; readonly runnerUp: boolean };
  readonly lease?: LeaseInfo;
  /** What happens next, and who does it. */
  readonly next: string;
}

/** The Market's state name of a numeric state. */
export function stateName(s: bigint): OrderStateName {
  return ORDER_STATES[Number(s)] ?? 'none';
}

type Order = Awaited<ReturnType<CustomerChain['market']['order']>>;

/** `Market.order(orderId)`; ORDER_UNKNOWN for an id the Market never issued (it reverts MarketUnknownOrder). */
export async function orderOf(ch: CustomerChain, orderId: bigint): Promise<Order> {
  let o: Order | undefined;
  try {
    o = await reading(ch.rpc, () => ch.market.order(orderId));
  } catch (e) {
    if (decodeRevert(e)?.name !== 'MarketUnknownOrder') throw e;
  }
  if (o === undefined || o.state === MarketState.None)
    throw new CliError('ORDER_UNKNOWN', `order ${orderId} does not exist on this Market`, {
      orderId: orderId.toString(),
    });
  return o;
}

/** In words: what the order waits for in `state` at chain time `now`. */
export function nextStep(orderId: bigint, o: Order, now: bigint): string {
  const resume = `defaas order status ${orderId} --wait`;
  switch (o.state) {
    case MarketState.Bidding:
      if (now < o.bidDeadline)
        return o.bidCount === 0n
          ? `providers commit sealed bids until ${o.bidDeadline}; with no bid yet the customer may cancel (defaas order cancel ${orderId})`
          : `providers commit sealed bids until ${o.bidDeadline}`;
      if (now < o.revealDeadline) return `bidders reveal their bids until ${o.revealDeadline}`;
      return `anyone may close the bidding now (${resume} does)`;
    case MarketState.Confirming:
      if (now < o.stepDeadline)
        return `the offered bidder confirms the lease until ${o.stepDeadline}; after that anyone may expire the offer (${resume} does)`;
      return `the offer expired: anyone may call expire now, which offers the runner-up or fails the order with a refund (${resume} does)`;
    case MarketState.Deploying:
      if (now < o.stepDeadline)
        return `the customer starts the lease until ${o.stepDeadline} (${resume} does, with the customer's key)`;
      return `the start window passed: anyone may expire the order now (the provider is paid its deploy fee, the rest refunded)`;
    case MarketState.Fulfilling:
      return `the lease runs until ${o.stepDeadline}; witness rounds check each epoch`;
    case MarketState.Finished:
      return 'nothing: the lease finished';
    case MarketState.Failed:
      return 'nothing: the order failed and its escrow was refunded';
    case MarketState.Cancelled:
      return 'nothing: the order was cancelled and its escrow refunded';
    default:
      return 'nothing: no such order';
  }
}

/** The order's status; ORDER_UNKNOWN for an id the Market never issued. */
export async function readOrderStatus(ch: CustomerChain, orderId: bigint): Promise<OrderStatus> {
  const o = await orderOf(ch, orderId);
  const now = await chainNow(ch);
  const bids: BidStatus[] = [];
  // bidCount ≤ Market.MAX_BIDS (256): the loop is bounded by the contract.
  for (let i = 0n; i < o.bidCount; i++) {
    const b = await reading(ch.rpc, () => ch.market.bid(orderId, i));
    bids.push({
      index: Number(i),
      bidder: b.bidder,
      executorId: b.executorId,
      revealed: b.revealed,
      ...(b.revealed && { price: b.price, gflops: b.gflops }),
      bondClaimed: b.bondClaimed,
    });
  }
  const closed = o.state !== MarketState.Bidding && o.revealedCount > 0n;
  const confirmed =
    o.state === MarketState.Deploying ||
    o.state === MarketState.Fulfilling ||
    o.state === MarketState.Finished ||
    (o.state === MarketState.Failed && o.collateral > 0n);
  return {
    orderId,
    state: stateName(o.state),
    customer: o.customer,
    levelId: o.levelId,
    duration: o.duration,
    maxUnitPrice: o.maxUnitPrice,
    escrow: o.escrow,
    now,
    bidDeadline: o.bidDeadline,
    revealDeadline: o.revealDeadline,
    stepDeadline: o.stepDeadline,
    bids,
    ...(closed && { offered: { index: Number(o.winner), price: o.price, runnerUp: o.runnerUpOffered } }),
    ...(confirmed && { lease: await leaseInfo(ch, orderId) }),
    next: nextStep(orderId, o, now),
  };
}
