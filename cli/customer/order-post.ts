import { AgentError } from '../../verifier/agent/errors.js';
import { decodeRevert } from '../../verifier/agent/tx-sender.js';
import { type CustomerChain, reading } from './chain.js';
import { sendTx } from './send.js';

/*
 * Posting an order: the escrow it takes (docs/contracts.md, Market: `2 · maxUnitPrice · duration +
 * epochs · committeeSize · rewardUnit`), an approval of the Market for it when the allowance is short,
 * and `Market.postOrder`. The terms are tried first with a call (no transaction): terms the Market
 * refuses are reported with the Market's custom error before any approval is sent.
 */

export interface OrderTerms {
  readonly levelId: bigint;
  readonly duration: bigint;
  /** Token base units per second of lease. */
  readonly maxUnitPrice: bigint;
  readonly biddingWindow: bigint;
  readonly committeeSize: number;
  readonly majority: number;
  readonly availabilityBps: number;
  readonly p95LatencyMs: number;
  readonly epochLength: bigint;
}

export interface PostedOrder {
  readonly orderId: bigint;
  readonly customer: string;
  readonly escrow: bigint;
  readonly bidDeadline: bigint;
  readonly revealDeadline: bigint;
  /** The approval sent (undefined when the allowance covered the escrow). */
  readonly approveTx?: string;
  /** The postOrder transaction (undefined when an earlier attempt was mined, see sendTx). */
  readonly tx?: string;
  /** The block the order was posted in (or the latest block before it). */
  readonly block: number;
}

/** The escrow `postOrder` takes for these terms. */
export async function escrowFor(ch: CustomerChain, t: OrderTerms): Promise<bigint> {
  const rewardUnit = await reading(ch.rpc, () => ch.witnessPool.rewardUnit());
  const epochs = t.epochLength > 0n ? (t.duration + t.epochLength - 1n) / t.epochLength : 0n;
  return 2n * t.maxUnitPrice * t.duration + epochs * BigInt(t.committeeSize) * rewardUnit;
}

/** A revert of `postOrder` as a call, except the token's refusal for want of allowance. */
async function tryTerms(ch: CustomerChain, t: OrderTerms): Promise<void> {
  try {
    await reading(ch.rpc, () => ch.market.postOrder.staticCall(t));
  } catch (e) {
    const r = decodeRevert(e);
    if (!r) throw e;
    if (r.name === 'ERC20InsufficientAllowance') return;
    throw new AgentError(
      'TX_REVERTED',
      `Market.postOrder reverted: ${r.name}(${r.args.join(', ')})`,
      { label: 'Market.postOrder', error: r.name, args: r.args },
      e,
    );
  }
}

export async function postOrder(
  ch: CustomerChain,
  t: OrderTerms,
  progress: (line: string) => void,
): Promise<PostedOrder> {
  const customer = ch.signer!.address;
  const escrow = await escrowFor(ch, t);
  await tryTerms(ch, t);
  const market = ch.deployment.contracts.market;
  const allowance = await reading(ch.rpc, () => ch.token.allowance(customer, market));
  let approveTx: string | undefined;
  if (allowance < escrow) {
    progress(`approving the Market for ${escrow} (allowance ${allowance})`);
    const sent = await sendTx(ch, 'Token.approve', (ov) => ch.token.approve(market, escrow, ov));
    if (sent !== 'already-done') approveTx = sent.hash;
  }
  const before = await reading(ch.rpc, () => ch.provider.getBlockNumber());
  const sent = await sendTx(ch, 'Market.postOrder', (ov) => ch.market.postOrder(t, ov));
  const orderId = await postedOrderId(ch, customer, before);
  const o = await reading(ch.rpc, () => ch.market.order(orderId));
  return {
    orderId,
    customer,
    escrow: o.escrow,
    bidDeadline: o.bidDeadline,
    revealDeadline: o.revealDeadline,
    ...(approveTx !== undefined && { approveTx }),
    ...(sent !== 'already-done' && { tx: sent.hash }),
    block: sent !== 'already-done' ? sent.block : before,
  };
}

/** The id of the customer's latest order posted since block `from` (OrderPosted, customer indexed). */
async function postedOrderId(ch: CustomerChain, customer: string, from: number): Promise<bigint> {
  const filter = ch.market.filters.OrderPosted!(null, customer);
  const logs = await reading(ch.rpc, () => ch.market.queryFilter(filter, from));
  const last = logs[logs.length - 1];
  if (!last) throw new Error(`no OrderPosted event of ${customer} since block ${from}`);
  return BigInt(last.topics[1]!);
}
