import { formatEther } from 'ethers';
import { MarketState } from '../../contracts/bindings/index.js';
import { isAgentError } from '../../verifier/agent/errors.js';
import { CliError, isCliError } from '../errors.js';
import { type CustomerChain, chainNow, reading } from './chain.js';
import { type LeaseInfo, leaseInfo } from './lease-info.js';
import { orderOf, stateName } from './order-status.js';
import { sendTx } from './send.js';

/*
 * Following an order through the auction as its customer, on the chain's clock: after the reveal
 * deadline it closes the bidding (anyone may), waits for the offered provider's confirmation, expires
 * an offer whose confirm window passed (the runner-up is then offered, or the order fails with a
 * refund), and starts the lease once confirmed. It returns the lease, or throws NO_BIDS /
 * ORDER_FAILED / ORDER_CANCELLED with the refund, or WAIT_TIMEOUT leaving the order as it is. A step
 * another account took first (a revert because the state moved on) is not an error: the order is read
 * again.
 */

export interface FollowOptions {
  /** How long to wait in all (wall clock). */
  readonly timeoutMs: number;
  /** Between two reads of the order (default 1000 ms). */
  readonly pollMs?: number;
  /** Progress lines (each state change, each transaction). */
  readonly progress: (line: string) => void;
  /** First block to search for the order's events (default 0). */
  readonly fromBlock?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What OrderFailed said for the order: the state it failed from, and the refund. */
async function failure(ch: CustomerChain, orderId: bigint, fromBlock: number) {
  const logs = await reading(ch.rpc, () =>
    ch.market.queryFilter(ch.market.filters.OrderFailed!(orderId), fromBlock),
  ).catch(() => []);
  const last = logs[logs.length - 1];
  const parsed = last ? ch.market.interface.parseLog(last) : null;
  if (!parsed) return undefined;
  return {
    from: stateName(BigInt(parsed.args.from as bigint)),
    providerPaid: parsed.args.providerPaid as bigint,
    refunded: parsed.args.customerRefunded as bigint,
  };
}

/** Reverts that say the step came a moment too early or too late: the next read decides again. */
const TIMING = new Set(['MarketDeadlineNotReached', 'MarketDeadlinePassed']);

/**
 * Sends a step; a revert is fine when the state moved on (someone else took a step anyone may take)
 * or when it is about timing (the block's time differs from the one read): after `pollMs` the loop
 * reads the order again and decides anew.
 */
async function step(
  ch: CustomerChain,
  orderId: bigint,
  label: string,
  from: { state: bigint; stepDeadline: bigint; winner: bigint },
  send: Parameters<typeof sendTx>[2],
  pollMs: number,
): Promise<void> {
  try {
    await sendTx(ch, label, send);
  } catch (e) {
    if (!isAgentError(e, 'TX_REVERTED')) throw e;
    const o = await reading(ch.rpc, () => ch.market.order(orderId));
    const moved = o.state !== from.state || o.stepDeadline !== from.stepDeadline || o.winner !== from.winner;
    if (!moved && !TIMING.has(String(e.info.error))) throw e;
    await sleep(pollMs);
  }
}

export async function followOrder(ch: CustomerChain, orderId: bigint, f: FollowOptions): Promise<LeaseInfo> {
  try {
    return await follow(ch, orderId, f);
  } catch (e) {
    // The order stays on chain whatever stopped the wait: the failure names it and how to resume.
    if (isCliError(e, 'CHAIN_UNAVAILABLE'))
      throw new CliError(
        'CHAIN_UNAVAILABLE',
        `${e.message}; order ${orderId} is left as it is: resume with \`defaas order status ${orderId} --wait\``,
        { ...e.info, orderId: orderId.toString() },
        e,
      );
    if (!(isCliError(e) && ORDER_OUTCOMES.has(e.code)))
      f.progress(`order ${orderId}: stopped; resume with \`defaas order status ${orderId} --wait\``);
    throw e;
  }
}

/** The codes that say how the order ended (or why it cannot be followed): no resume hint for them. */
const ORDER_OUTCOMES: ReadonlySet<string> = new Set([
  'NO_BIDS',
  'ORDER_FAILED',
  'ORDER_CANCELLED',
  'NO_GAS_MONEY',
  'WAIT_TIMEOUT',
  'ORDER_UNKNOWN',
  'NOT_CUSTOMER',
  'ORDER_WRONG_STATE',
]);

async function follow(ch: CustomerChain, orderId: bigint, f: FollowOptions): Promise<LeaseInfo> {
  const customer = ch.signer?.address;
  const pollMs = f.pollMs ?? 1000;
  const fromBlock = f.fromBlock ?? 0;
  const giveUp = Date.now() + f.timeoutMs;
  const id = orderId.toString();
  let said = '';
  /** A progress line, once per change of what it says (the chain time it quotes aside). */
  const say = (line: string) => {
    const what = line.replace(/ \(chain time \d+\)/, '');
    if (what !== said) f.progress(`order ${id}: ${line}`);
    said = what;
  };
  // Bounded by the wall clock, and by count as a second guard (each pass sleeps pollMs).
  const maxPasses = Math.ceil(f.timeoutMs / Math.max(pollMs, 1)) + 2;
  for (let pass = 0; pass < maxPasses; pass++) {
    if (pass > 0 && Date.now() > giveUp) break;
    const o = await orderOf(ch, orderId);
    const now = await chainNow(ch);
    const at = { state: o.state, stepDeadline: o.stepDeadline, winner: o.winner };
    switch (o.state) {
      case MarketState.Bidding:
        if (now < o.bidDeadline)
          say(`bidding until ${o.bidDeadline} (chain time ${now}), ${o.bidCount} bids`);
        else if (now < o.revealDeadline)
          say(
            `reveals until ${o.revealDeadline} (chain time ${now}), ${o.revealedCount}/${o.bidCount} revealed`,
          );
        else {
          say(`reveal deadline passed: closing the bidding (${o.revealedCount}/${o.bidCount} revealed)`);
          await step(
            ch,
            orderId,
            'Market.closeBidding',
            at,
            (ov) => ch.market.closeBidding(orderId, ov),
            pollMs,
          );
          continue;
        }
        break;
      case MarketState.Confirming:
        if (now < o.stepDeadline)
          say(
            `${o.runnerUpOffered ? 'runner-up ' : ''}bid #${o.winner} offered at ${o.price}/s: waiting for its provider to confirm until ${o.stepDeadline} (chain time ${now})`,
          );
        else {
          say(`bid #${o.winner} did not confirm by ${o.stepDeadline}: expiring the offer`);
          await step(ch, orderId, 'Market.expire', at, (ov) => ch.market.expire(orderId, ov), pollMs);
          continue;
        }
        break;
      case MarketState.Deploying:
        if (customer === undefined || customer.toLowerCase() !== o.customer.toLowerCase())
          throw new CliError(
            'NOT_CUSTOMER',
            `order ${id} was confirmed; only its customer ${o.customer} can start the lease`,
            { orderId: id, customer: o.customer },
          );
        if (now < o.stepDeadline) {
          say(`confirmed by the provider of bid #${o.winner}: starting the lease`);
          await step(ch, orderId, 'Market.startLease', at, (ov) => ch.market.startLease(orderId, ov), pollMs);
        } else {
          say(`the start window closed at ${o.stepDeadline}: expiring the order`);
          await step(ch, orderId, 'Market.expire', at, (ov) => ch.market.expire(orderId, ov), pollMs);
        }
        continue;
      case MarketState.Fulfilling:
      case MarketState.Finished:
        return leaseInfo(ch, orderId, fromBlock);
      case MarketState.Cancelled:
        throw new CliError('ORDER_CANCELLED', `order ${id} was cancelled; its escrow was refunded`, {
          orderId: id,
        });
      default: {
        const why = await failure(ch, orderId, fromBlock);
        const refunded = why?.refunded;
        const refund =
          refunded !== undefined
            ? ` ${refunded} units (${formatEther(refunded)} DFS) went back to the customer`
            : ' went back to the customer';
        if (why?.from === 'bidding')
          throw new CliError(
            'NO_BIDS',
            `order ${id} failed: no bid was revealed by the reveal deadline; the escrow${refund}`,
            { orderId: id, refunded },
          );
        const how =
          why?.from === 'deploying'
            ? 'the lease was not started within the start window (the provider was paid its deploy fee)'
            : 'no offered provider confirmed within its confirm window';
        throw new CliError(
          'ORDER_FAILED',
          `order ${id} failed in ${why?.from ?? 'an unknown state'}: ${how}; the escrow${refund}`,
          { orderId: id, from: why?.from, refunded, providerPaid: why?.providerPaid },
        );
      }
    }
    if (Date.now() + pollMs > giveUp) break;
    await sleep(pollMs);
  }
  const o = await reading(ch.rpc, () => ch.market.order(orderId));
  throw new CliError(
    'WAIT_TIMEOUT',
    `order ${id} is still ${stateName(o.state)} after ${Math.round(f.timeoutMs / 1000)} s; nothing was cancelled: resume with \`defaas order status ${id} --wait\``,
    { orderId: id, state: stateName(o.state) },
  );
}
