import { sessionFail } from '../../protocol/errors.js';
import { parseAddress, parseUint } from '../../protocol/wire.js';

/** The lease a request names, which must be its session's (WRONG_LEASE otherwise). */
export function parseLease(s: string, session: bigint): bigint {
  const lease = parseUint(s, 'lease id');
  if (lease !== session)
    sessionFail('WRONG_LEASE', `this session serves lease ${session}, not ${lease}`, {
      leaseId: session.toString(),
      requested: lease.toString(),
    });
  return lease;
}

/** The client wallet a request names, lower-cased. */
export function parseClient(s: string): string {
  return parseAddress(s, 'client');
}
