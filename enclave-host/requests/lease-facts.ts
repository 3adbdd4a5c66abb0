import type { Account } from '../ledger/account.js';
import type { RequestContext } from './context.js';
import type { LeaseFacts } from './lease-checks.js';

/**
 * Notes what a passed lease check said in the books of (lease, client), before `account` is kept
 * (docs/session.md, "Probe grants"):
 * - the lease's customer: the lease budget less the caps reserved for admitted probe grants;
 * - a witness under a grant: its cap, min(maxAmount, maxCalls × price, budget), reserved first
 *   (ProbeReservations: PROBE_GRANT_LIMIT, PROBE_GRANT_OVER_BUDGET against what the customer has
 *   committed), and the customer's kept books are noted the smaller budget at once, so that the
 *   customer's next voucher, a Settle included, leaves the room.
 * Nothing here awaits: the reservation and the customer's budget change in one step.
 */
export function noteLeaseFacts(
  c: RequestContext,
  leaseId: bigint,
  facts: LeaseFacts,
): (account: Account) => void {
  const budget = facts.budget;
  const probe = facts.probe;
  if (!probe) {
    if (budget === undefined) return () => {};
    return (account) => account.noteBudget(atLeastZero(budget - c.probes.reserved(leaseId)));
  }
  const g = probe.grant;
  const byCalls = g.maxCalls * c.terms.pricePerCall;
  let cap = g.maxAmount;
  if (byCalls < cap) cap = byCalls;
  if (budget !== undefined && budget < cap) cap = budget;
  if (budget !== undefined) {
    c.probes.reserve({
      leaseId,
      witness: g.witness,
      cap,
      budget,
      customerCommitted: c.books.peek(leaseId, probe.customer).committedAmount,
    });
    if (c.books.has(leaseId, probe.customer))
      c.books.get(leaseId, probe.customer).noteBudget(atLeastZero(budget - c.probes.reserved(leaseId)));
  }
  const signed = probe.signature && { grant: g, signature: probe.signature };
  return (account) => {
    account.noteBudget(cap);
    if (signed) account.noteGrant(signed);
  };
}

function atLeastZero(x: bigint): bigint {
  return x < 0n ? 0n : x;
}
