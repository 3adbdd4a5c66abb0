import type { SettleRequest__Output } from '../../proto/gen/defaas/executor/v1/SettleRequest.js';
import type { SessionResponse } from '../../proto/load.js';
import { sessionFail } from '../../protocol/errors.js';
import { receiptToWire, voucherFromWire } from '../../protocol/wire.js';
import type { ServerSession } from '../session/server-session.js';
import type { RequestContext } from './context.js';
import { parseClient, parseLease } from './parse.js';

/**
 * Settle: a batch voucher over calls served without one, answered with the receipt over the same
 * range (ledger/account.ts `settle`). The voucher authenticates its client, so no binding is needed;
 * a refused Settle naming a wallet without books leaves none behind.
 */
export async function settle(
  c: RequestContext,
  session: ServerSession,
  s: SettleRequest__Output,
): Promise<SessionResponse> {
  if (!s.voucher) return sessionFail('REQUEST_MALFORMED', 'settle without a voucher');
  const lease = parseLease(s.voucher.leaseId, session.leaseId);
  const client = parseClient(s.client);
  const receipt = await c.books.peek(lease, client).settle(voucherFromWire(s.voucher), session.evidenceHash);
  return { settle: { receipt: receiptToWire(receipt) } };
}
