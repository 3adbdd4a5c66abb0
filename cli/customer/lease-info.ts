import { type CustomerChain, reading } from './chain.js';

/*
 * What a customer needs to use a confirmed lease: the executor the winning bid named, its enclave,
 * endpoint and evidence hash as the Registry holds them, the confirmed unit price, and the deployment
 * string the provider gave in `confirmLease` (only in the LeaseConfirmed event).
 */

export interface LeaseInfo {
  /** The lease id is the order id. */
  readonly leaseId: bigint;
  readonly executorId: bigint;
  readonly provider: string;
  readonly enclave: string;
  readonly endpoint: string;
  readonly evidenceHash: string;
  /** Token base units per second. */
  readonly unitPrice: bigint;
  readonly capacityGflops: bigint;
  readonly collateral: bigint;
  /** The call budget held by Settlement. */
  readonly budget: bigint;
  /** The provider's deployment string (undefined when the endpoint would not return the event). */
  readonly deployment?: string;
  /** Set once the customer started the lease. */
  readonly startedAt?: bigint;
  readonly endsAt?: bigint;
}

/** The deployment string of LeaseConfirmed for `orderId` (the last one), or undefined. */
async function deploymentString(ch: CustomerChain, orderId: bigint, fromBlock: number) {
  try {
    const logs = await reading(ch.rpc, () =>
      ch.market.queryFilter(ch.market.filters.LeaseConfirmed!(orderId), fromBlock),
    );
    const last = logs[logs.length - 1];
    if (!last) return undefined;
    const parsed = ch.market.interface.parseLog(last);
    return typeof parsed?.args.deployment === 'string' ? parsed.args.deployment : undefined;
  } catch {
    // An endpoint may refuse a log query over a long block range: the lease is still reported.
    return undefined;
  }
}

/** The lease of an order that was confirmed (state Deploying or later). */
export async function leaseInfo(ch: CustomerChain, orderId: bigint, fromBlock = 0): Promise<LeaseInfo> {
  const o = await reading(ch.rpc, () => ch.market.order(orderId));
  const bid = await reading(ch.rpc, () => ch.market.bid(orderId, o.winner));
  const e = await reading(ch.rpc, () => ch.registry.executor(bid.executorId));
  const lease = await reading(ch.rpc, () => ch.settlement.lease(orderId));
  const deployment = await deploymentString(ch, orderId, fromBlock);
  return {
    leaseId: orderId,
    executorId: bid.executorId,
    provider: bid.bidder,
    enclave: lease.enclave,
    endpoint: e.endpoint,
    evidenceHash: e.evidenceHash,
    unitPrice: o.price,
    capacityGflops: o.capacityGflops,
    collateral: o.collateral,
    budget: lease.budget,
    ...(deployment !== undefined && { deployment }),
    ...(o.startedAt !== 0n && { startedAt: o.startedAt, endsAt: o.startedAt + o.duration }),
  };
}
