import { createHash } from 'node:crypto';
import { ZeroHash } from 'ethers';
import { sessionFail } from './errors.js';
import { sha256Hex } from './settlement.js';
import type { CallRecord } from './typed-data.js';
import { nextRequestHeadFast as nextRequestHead } from './typed-data-fast.js';

/*
 * The call-record rules both ends apply (ARCHITECTURE.md, "Requests, receipts, vouchers"): the
 * executor builds a record by them, the client checks every record it gets by them.
 */

/** The request side of a call record: what the client knows before the call runs. */
export interface CallRequest {
  readonly nonce: bigint;
  /** 0x-hex SHA-256 of the module. */
  readonly functionHash: string;
  /** 0x-hex SHA-256 of the input. */
  readonly inputHash: string;
}

/** Head of the request chain over `reqs` (in nonce order), starting from zero. */
export function requestHead(reqs: readonly CallRequest[]): string {
  let h: string = ZeroHash;
  for (const r of reqs) h = nextRequestHead(h, r);
  return h;
}

/** Output hash of a call that ran and failed: SHA-256 of "defaas/call-error/v1:" ‖ the error code. */
export function errorOutputHash(code: string): string {
  return `0x${createHash('sha256').update(`defaas/call-error/v1:${code}`).digest('hex')}`;
}

/**
 * The output hash of a call that ran: SHA-256 of its output, or, when it failed with `errorCode`,
 * the error's hash (whatever partial output it wrote is not part of the record).
 */
export function callOutputHash(output: Uint8Array, errorCode?: string): string {
  return errorCode === undefined ? sha256Hex(output) : errorOutputHash(errorCode);
}

/** What the client received for a call: its output, and the error code when it failed. */
export interface CallResult {
  readonly output: Uint8Array;
  readonly errorCode?: string | undefined;
}

/**
 * Checks that a record describes this call: its request, the lease price, and the output hash of
 * what the client received (`result`). Without `result` (a call whose response was lost and whose
 * record came back through Sync) the output hash cannot be checked. Throws RECEIPT_MISMATCH.
 */
export function checkRecord(
  record: CallRecord,
  req: CallRequest,
  result: CallResult | undefined,
  price: bigint,
): CallRecord {
  if (
    record.nonce !== req.nonce ||
    record.functionHash !== req.functionHash ||
    record.inputHash !== req.inputHash
  )
    sessionFail('RECEIPT_MISMATCH', `record does not describe call ${req.nonce}`);
  if (result && record.outputHash !== callOutputHash(result.output, result.errorCode))
    sessionFail(
      'RECEIPT_MISMATCH',
      result.errorCode === undefined
        ? `record output hash does not match the output of call ${req.nonce}`
        : `record output hash is not the hash of error ${result.errorCode} of call ${req.nonce}`,
    );
  if (record.price !== price)
    sessionFail('RECEIPT_MISMATCH', `record price ${record.price} is not the lease price`);
  return record;
}
