import { sessionFail } from '../../protocol/errors.js';
import { parseAddress, parseUint } from '../../protocol/wire.js';

/** The lease a request names, which must be the one served (WRONG_LEASE otherwise). */
export function parseLease(s: string, served: bigint): bigint {
  const lease = parseUint(s, 'lease id');
  if (lease !== served) sessionFail('WRONG_LEASE', `this executor serves lease ${served}, not ${lease}`);
  return lease;
}

/** The client wallet a request names, lower-cased. */
export function parseClient(s: string): string {
  return parseAddress(s, 'client');
}
