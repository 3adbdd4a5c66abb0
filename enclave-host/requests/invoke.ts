import type { InvokeRequest__Output } from '../../proto/gen/defaas/executor/v1/InvokeRequest.js';
import type { InvokeResponse } from '../../proto/gen/defaas/executor/v1/InvokeResponse.js';
import type { SessionResponse } from '../../proto/load.js';
import { asBuffer } from '../../protocol/buffers.js';
import { type CallRequest, callOutputHash } from '../../protocol/call-records.js';
import { sessionFail } from '../../protocol/errors.js';
import { sha256Hex } from '../../protocol/settlement.js';
import type { CallRecord } from '../../protocol/typed-data.js';
import { parseUint, receiptToWire, recordToWire, voucherFromWire } from '../../protocol/wire.js';
import { ENCLAVE_HOST_ERROR_KINDS, fail, isEnclaveHostError } from '../errors.js';
import type { Account } from '../ledger/account.js';
import { errorDetail, toWireError } from '../rpc-errors.js';
import { functionOutputOf } from '../runtime/function-runtime.js';
import type { ServerSession } from '../session/server-session.js';
import type { RequestContext } from './context.js';
import { noteLeaseFacts } from './lease-facts.js';
import { parseClient, parseLease } from './parse.js';
import { refusal } from './refusal.js';

const EMPTY = Buffer.alloc(0);

/*
 * One Invoke (docs/session.md, "Calls, vouchers and receipts"; docs/runtime.md, "Charging rule").
 * Refusals before the nonce is taken are NOT_ADMITTED (the same nonce may be sent again); a call
 * admitted that the runtime refused without running it is abandoned, NOT_RUN (its nonce is spent,
 * nothing is charged). A function that ran is a result, not a refusal: an InvokeResponse with its
 * record (charged), per call its receipt, and `error` when it failed.
 */
export async function invoke(
  c: RequestContext,
  session: ServerSession,
  r: InvokeRequest__Output,
): Promise<SessionResponse> {
  let admitted = false;
  try {
    const lease = parseLease(r.leaseId, session.leaseId);
    const client = parseClient(r.client);
    if (r.functionId.length !== 32) sessionFail('REQUEST_MALFORMED', 'function id must be 32 bytes');
    const voucher = r.voucher ? voucherFromWire(r.voucher) : undefined;
    // A batched call names its client without a signature: the session must be bound to it.
    if (!voucher && !session.boundClients.has(`${lease}/${client}`))
      sessionFail(
        'CLIENT_NOT_BOUND',
        `a call without a voucher needs this session bound to ${client} (Sync with client_proof)`,
        { client },
      );
    const req: CallRequest = {
      nonce: parseUint(r.nonce, 'nonce', 64),
      functionHash: `0x${r.functionId.toString('hex')}`,
      inputHash: sha256Hex(r.input),
    };
    // Books are kept only once the voucher passed: a refused first call leaves none behind. The
    // chain is asked about the client only once it is authenticated (voucher or bound session), so
    // made-up client names cost a signature check, never a lease lookup.
    const peeked = c.books.peek(lease, client);
    if (voucher) peeked.checkInlineVoucher(voucher, req);
    const facts = await c.leaseChecks.check(lease, client);
    // A call that cannot run is refused before its nonce is taken. Only after authentication: a
    // stranger learns nothing about which functions are deployed.
    const fnId = r.functionId.toString('hex');
    if (!c.runtime.has(fnId)) fail('FUNCTION_NOT_FOUND', `no function ${fnId} is deployed`, { fnId });
    const maxInput = c.terms.limits.maxInputBytes;
    if (BigInt(r.input.length) > maxInput)
      fail('INPUT_TOO_LARGE', `the input is ${r.input.length} bytes, over the limit of ${maxInput}`, {
        inputBytes: r.input.length,
        maxInputBytes: Number(maxInput),
      });
    // Kept from here (ACCOUNT_LIMIT when the books are full of busy accounts); `admit` starts
    // synchronously, so the account is busy before anything else can let it go.
    const note = noteLeaseFacts(c, lease, facts);
    const account = c.books.get(lease, client);
    note(account);
    const admission = await account.admit(req, { voucher, evidenceHash: session.evidenceHash });
    admitted = true;
    await admission.durable;
    return { invoke: await run(c, account, fnId, r.input, client, req) };
  } catch (e) {
    return refusal(c.log, 'invoke', e, admitted ? 'CALL_OUTCOME_NOT_RUN' : 'CALL_OUTCOME_NOT_ADMITTED');
  }
}

/** Runs an admitted call; throws only when the function did not run (the call is then abandoned). */
async function run(
  c: RequestContext,
  account: Account,
  fnId: string,
  input: Buffer,
  client: string,
  req: CallRequest,
): Promise<InvokeResponse> {
  let output: Uint8Array = EMPTY;
  let stderr: Uint8Array = EMPTY;
  let stderrDropped = 0;
  let usage = 0n;
  let failure: unknown;
  try {
    // The client is authenticated here (voucher checked or session bound): it is the tenant.
    const res = await c.runtime.invoke(fnId, input, client);
    output = res.output;
    stderr = res.stderr;
    stderrDropped = res.stderrDropped;
    usage = res.usage.wallMicros;
  } catch (e) {
    if (!ranAndFailed(e)) {
      account.abandon(req.nonce);
      throw e;
    }
    failure = e;
    const out = functionOutputOf(e);
    if (out) {
      output = out.stdout;
      stderr = out.stderr;
      stderrDropped = out.stderrDropped;
    }
  }
  const error = failure === undefined ? undefined : toWireError(failure);
  const record: CallRecord = {
    ...req,
    outputHash: callOutputHash(output, error?.code),
    usage,
    price: c.terms.pricePerCall,
  };
  const receipt = account.complete(record);
  return {
    output: asBuffer(output),
    record: recordToWire(record),
    ...(receipt && { receipt: receiptToWire(receipt) }),
    stderr: asBuffer(stderr),
    stderrTruncatedBytes: stderrDropped.toString(),
    ...(error && { error: errorDetail(error) }),
  };
}

/** Whether the runtime ran the function before failing (kind `function`: trap, exit, a limit hit). */
function ranAndFailed(e: unknown): boolean {
  return isEnclaveHostError(e) && ENCLAVE_HOST_ERROR_KINDS[e.code] === 'function';
}
