import { sessionFail } from '../../protocol/errors.js';

const MAX_U256 = (1n << 256n) - 1n;

/**
 * The lease a ClientHello asks for (ClientHello.lease_id, docs/session.md, "Handshake"): empty is
 * the executor's default lease; anything else must be a decimal uint256 (HANDSHAKE_MALFORMED
 * otherwise). An executor that checks leases (`anyLease`: the check on the first call decides) takes
 * any lease id; a standalone one serves only its default (WRONG_LEASE).
 */
export function requestedLease(
  s: string,
  o: { readonly defaultLease: bigint; readonly anyLease: boolean },
): bigint {
  if (s === '') return o.defaultLease;
  if (!/^(0|[1-9][0-9]{0,77})$/.test(s))
    sessionFail('HANDSHAKE_MALFORMED', 'lease id must be a decimal uint256 without leading zeros');
  const lease = BigInt(s);
  if (lease > MAX_U256) sessionFail('HANDSHAKE_MALFORMED', 'lease id exceeds uint256');
  if (lease !== o.defaultLease && !o.anyLease)
    sessionFail('WRONG_LEASE', `this executor serves lease ${o.defaultLease}, not ${lease}`, {
      leaseId: o.defaultLease.toString(),
      requested: lease.toString(),
    });
  return lease;
}
