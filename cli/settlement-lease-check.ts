import {
  type MarketContract,
  type SettlementContract,
  SettlementLeaseStatus,
} from '../contracts/bindings/index.js';
import type { LeaseCheck, LeaseFacts } from '../enclave-host/executor.js';
import { sessionFail } from '../protocol/errors.js';
import { probeGrantSigner, type SignedProbeGrant } from '../protocol/probe-grant.js';
import type { TypedDataDomain } from '../protocol/typed-data.js';

/** What the check needs to judge probe grants. */
export interface ProbeGrantChecking {
  /** The Settlement EIP-712 domain: chain id and Settlement address (grants are signed in it). */
  readonly domain: TypedDataDomain;
  /**
   * The Market, for the lease's current epoch (lease id = order id): `startedAt`, `epochLength`,
   * `duration` of its order. Without it the grant's epoch is not checked.
   */
  readonly market?: Pick<MarketContract, 'order'>;
  /** Wall-clock milliseconds (default Date.now): the grant's expiry and the epoch are judged by it. */
  readonly now?: () => number;
}

/**
 * The executor's on-chain lease check against the Settlement contract: the lease must be open, bound
 * to this enclave's identity (the key its receipts are signed with, so that they can be redeemed),
 * and the caller must be the lease's customer (only its vouchers pay for the calls). It returns the
 * lease's budget: the books accept no voucher above it (Settlement would not redeem it). A failed RPC
 * refuses the call (the executor turns it into LEASE_CHECK_UNAVAILABLE): it never serves unchecked.
 *
 * With a probe grant (and `probes` given), the caller may instead be the grant's witness: the grant
 * names this lease and the caller (PROBE_GRANT_MISMATCH; a grant to the customer itself too), it
 * recovers to the lease's customer in the Settlement domain (PROBE_GRANT_INVALID), its expiry is
 * after now, by the executor's wall clock (PROBE_GRANT_EXPIRED), and, with the market, its epoch is
 * the lease's current one, floor((now − startedAt) / epochLength) (PROBE_GRANT_WRONG_EPOCH). The
 * facts then carry the grant, valid until its expiry or the end of its epoch, whichever comes first.
 * Without `probes`, a grant is refused (PROBE_GRANT_INVALID).
 */
export function settlementLeaseCheck(
  settlement: Pick<SettlementContract, 'lease'>,
  probes?: ProbeGrantChecking,
): LeaseCheck {
  return async ({ leaseId, client, enclave, grant }) => {
    const l = await settlement.lease(leaseId);
    if (l.status !== SettlementLeaseStatus.Open)
      sessionFail('LEASE_NOT_ACTIVE', `lease ${leaseId} is not open on chain`, {
        leaseId: leaseId.toString(),
        status: Number(l.status),
      });
    if (l.enclave.toLowerCase() !== enclave)
      sessionFail('WRONG_LEASE', `lease ${leaseId} is bound to enclave ${l.enclave}, not this one`, {
        leaseId: leaseId.toString(),
        enclave: l.enclave.toLowerCase(),
      });
    const customer = l.customer.toLowerCase();
    if (grant) return checkGrant(grant, { leaseId, client, customer, budget: l.budget }, probes);
    if (customer !== client)
      sessionFail('NOT_LEASE_CUSTOMER', `${client} is not the customer of lease ${leaseId}`, {
        leaseId: leaseId.toString(),
        customer,
      });
    return { budget: l.budget };
  };
}

async function checkGrant(
  sg: SignedProbeGrant,
  q: { leaseId: bigint; client: string; customer: string; budget: bigint },
  probes: ProbeGrantChecking | undefined,
): Promise<LeaseFacts> {
  const g = sg.grant;
  if (!probes) return sessionFail('PROBE_GRANT_INVALID', 'this executor does not serve probe grants');
  if (g.leaseId !== q.leaseId)
    sessionFail('PROBE_GRANT_MISMATCH', `the grant is for lease ${g.leaseId}, not ${q.leaseId}`, {
      leaseId: q.leaseId.toString(),
      grantLeaseId: g.leaseId.toString(),
    });
  if (g.witness.toLowerCase() !== q.client)
    sessionFail('PROBE_GRANT_MISMATCH', `the grant is for witness ${g.witness}, not ${q.client}`, {
      witness: g.witness.toLowerCase(),
    });
  if (q.client === q.customer)
    sessionFail('PROBE_GRANT_MISMATCH', 'the lease customer is served as the customer, not under a grant');
  const signer = probeGrantSigner(probes.domain, sg);
  if (signer !== q.customer)
    sessionFail('PROBE_GRANT_INVALID', `the grant is not signed by the customer of lease ${q.leaseId}`, {
      customer: q.customer,
      ...(signer && { signer }),
    });
  const nowS = BigInt(Math.floor((probes.now ?? Date.now)() / 1000));
  if (g.expiry <= nowS)
    sessionFail('PROBE_GRANT_EXPIRED', `the grant expired at ${g.expiry}`, {
      expiry: g.expiry.toString(),
      now: nowS.toString(),
    });
  let until = g.expiry;
  if (probes.market) {
    const o = await probes.market.order(q.leaseId);
    const epoch =
      o.startedAt > 0n && nowS >= o.startedAt && o.epochLength > 0n
        ? (nowS - o.startedAt) / o.epochLength
        : -1n;
    if (epoch !== g.epoch)
      sessionFail('PROBE_GRANT_WRONG_EPOCH', `the grant is for epoch ${g.epoch}, the lease is in ${epoch}`, {
        epoch: epoch.toString(),
        grantEpoch: g.epoch.toString(),
      });
    let ends = o.startedAt + (epoch + 1n) * o.epochLength;
    if (o.startedAt + o.duration < ends) ends = o.startedAt + o.duration;
    if (ends < until) until = ends;
  }
  return { budget: q.budget, probe: { customer: q.customer, grant: g, signature: sg.signature, until } };
}
