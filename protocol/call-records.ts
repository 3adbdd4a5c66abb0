import { ZeroHash } from 'ethers';
import { sessionFail } from './errors.js';
import { sha256Hex } from './settlement.js';
import type { CallRecord } from './typed-data.js';
import { nextRequestHeadFast as nextRequestHead } from './typed-data-fast.js';

export interface CallRequest {
  readonly nonce: bigint;
  readonly functionHash: string;
  readonly inputHash: string;
}

export function requestHead(reqs: readonly CallRequest[]): string {
  let h: string = ZeroHash;
  for (const r of reqs) h = nextRequestHead(h, r);
  return h;
}

/** Checks that the executor's record is about this call and this output. */
export function checkRecord(
  record: CallRecord,
  req: CallRequest,
  output: Uint8Array | undefined,
  price: bigint,
): CallRecord {
  if (
    record.nonce !== req.nonce ||
    record.functionHash !== req.functionHash ||
    record.inputHash !== req.inputHash
  )
    sessionFail('RECEIPT_MISMATCH', `record does not describe call ${req.nonce}`);
  if (output && record.outputHash !== sha256Hex(output))
    sessionFail('RECEIPT_MISMATCH', `record output hash does not match the output of call ${req.nonce}`);
  if (record.price !== price)
    sessionFail('RECEIPT_MISMATCH', `record price ${record.price} is not the lease price`);
  return record;
}
