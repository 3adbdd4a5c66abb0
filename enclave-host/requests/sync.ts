import type { CallStatus } from '../../proto/gen/defaas/executor/v1/CallStatus.js';
import type { SyncRequest__Output } from '../../proto/gen/defaas/executor/v1/SyncRequest.js';
import type { SessionResponse } from '../../proto/load.js';
import { clientBindingSigner } from '../../protocol/client-binding.js';
import { sessionFail } from '../../protocol/errors.js';
import { probeGrantFromWire } from '../../protocol/probe-grant.js';
import { parseUint, receiptToWire, recordToWire } from '../../protocol/wire.js';
import type { CallState } from '../ledger/account.js';
import type { ServerSession } from '../session/server-session.js';
import type { RequestContext } from './context.js';
import { noteLeaseFacts } from './lease-facts.js';
import { parseClient, parseLease } from './parse.js';

/** Nonces one Sync may ask about (SyncRequest.nonces). */
export const MAX_SYNC_NONCES = 64;

/**
 * Sync (docs/session.md, "Client binding", "The client's trust rule" and "Billing rules", 5 and 6):
 * with `client_proof` it binds the session to the wallet, once the lease check passed for it and
 * within the session's and its peer's quota of wallets (CLIENT_BINDING_LIMIT); it answers only for a wallet the session is bound to
 * (CLIENT_NOT_BOUND otherwise): the next nonce, the vouched range and amount, the fate of
 * the nonces asked about (fencing those that could still be taken), and the calls that ran and wait
 * for a voucher. A binding Sync may carry the customer's probe grant: the wallet is then served as
 * the grant's witness, within the grant's cap (docs/session.md, "Probe grants").
 */
export async function sync(
  c: RequestContext,
  session: ServerSession,
  s: SyncRequest__Output,
): Promise<SessionResponse> {
  const lease = parseLease(s.leaseId, session.leaseId);
  const client = parseClient(s.client);
  if (s.nonces.length > MAX_SYNC_NONCES)
    sessionFail(
      'REQUEST_MALFORMED',
      `a Sync asks about at most ${MAX_SYNC_NONCES} nonces, not ${s.nonces.length}`,
    );
  const nonces = s.nonces.map((n) => parseUint(n, 'nonce', 64));
  if (s.probeGrant && s.clientProof.length === 0)
    sessionFail('REQUEST_MALFORMED', 'a probe grant travels only with a client binding (client_proof)');
  const grant = s.probeGrant ? probeGrantFromWire(s.probeGrant) : undefined;
  const key = `${lease}/${client}`;
  const binding = s.clientProof.length > 0;
  if (binding) {
    const signer = clientBindingSigner(s.clientProof, session.id, lease);
    if (signer !== client)
      sessionFail('CLIENT_PROOF_INVALID', 'the client binding is not signed by the client wallet', {
        client,
        ...(signer && { signer }),
      });
  } else if (!session.boundClients.has(key)) {
    sessionFail(
      'CLIENT_NOT_BOUND',
      `Sync answers only for a wallet this session is bound to, not ${client}`,
      {
        client,
      },
    );
  }
  // A key is free to make: the proof shows the wallet, not that the lease serves it. The lease check
  // (as for a call) comes before the session is bound or any books are kept or nonces fenced. The
  // binding is made once the quota allows it and the books have a place for the wallet
  // (CLIENT_BINDING_LIMIT, ACCOUNT_LIMIT otherwise), so a refused Sync binds nothing; nothing awaits
  // from the quota check to the binding. With a probe grant, the check passes for the grant's witness
  // and the grant's cap is reserved from the lease budget (lease-facts.ts) before the books are kept.
  const facts = await c.leaseChecks.check(lease, client, grant);
  if (binding) c.sessions.checkBinding(session, key);
  const note = noteLeaseFacts(c, lease, facts);
  const account = c.books.get(lease, client);
  note(account);
  if (binding) c.sessions.bindClient(session, key);
  const calls = await account.statuses(nonces);
  const st = account.status;
  return {
    sync: {
      nextNonce: st.nextNonce.toString(),
      vouchedThrough: st.vouchedThrough.toString(),
      cumulativeAmount: st.cumulativeAmount.toString(),
      calls: calls.map((state, i) => callStatus(nonces[i]!, state)),
      unsettled: account.unsettled().map(recordToWire),
    },
  };
}

function callStatus(nonce: bigint, s: CallState): CallStatus {
  const n = nonce.toString();
  switch (s.state) {
    case 'ran':
      return {
        nonce: n,
        state: 'CALL_STATE_RAN',
        record: recordToWire(s.record),
        receipt: receiptToWire(s.receipt),
      };
    case 'ran-uncovered':
      return { nonce: n, state: 'CALL_STATE_RAN', record: recordToWire(s.record) };
    case 'running':
      return { nonce: n, state: 'CALL_STATE_RUNNING' };
    case 'not-run':
      return { nonce: n, state: 'CALL_STATE_NOT_RUN' };
    case 'unknown':
      return { nonce: n, state: 'CALL_STATE_UNKNOWN' };
  }
}
