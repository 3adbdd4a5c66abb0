import { type SettlementContract, SettlementLeaseStatus } from '../contracts/bindings/index.js';
import type { LeaseCheck } from '../enclave-host/executor.js';
import { sessionFail } from '../protocol/errors.js';

/**
 * The executor's on-chain lease check against the Settlement contract: the lease must be open, bound
 * to this enclave's identity (the key its receipts are signed with, so that they can be redeemed),
 * and the caller must be the lease's customer (only its vouchers pay for the calls). It returns the
 * lease's budget: the books accept no voucher above it (Settlement would not redeem it). A failed RPC
 * refuses the call (the executor turns it into LEASE_CHECK_UNAVAILABLE): it never serves unchecked.
 */
export function settlementLeaseCheck(settlement: Pick<SettlementContract, 'lease'>): LeaseCheck {
  return async ({ leaseId, client, enclave }) => {
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
    if (l.customer.toLowerCase() !== client)
      sessionFail('NOT_LEASE_CUSTOMER', `${client} is not the customer of lease ${leaseId}`, {
        leaseId: leaseId.toString(),
        customer: l.customer.toLowerCase(),
      });
    return { budget: l.budget };
  };
}
