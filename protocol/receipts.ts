import { bytesEqual, fromHex } from '../attestation/bytes.js';
import { sessionFail } from './errors.js';
import { recoverReceiptSigner, type SignedReceipt } from './settlement.js';
import type { CallRecord, Receipt, TypedDataDomain } from './typed-data.js';
import { chainHeadsFast as chainHeads } from './typed-data-fast.js';

/** A receipt that passed `verifyReceipt`, with the records it covers. */
export interface VerifiedReceipt {
  readonly receipt: Receipt;
  readonly signature: Uint8Array;
  /** Lower-case address that signed it: the session's attested enclave identity. */
  readonly signer: string;
  readonly records: readonly CallRecord[];
  readonly domain: TypedDataDomain;
}

export interface ReceiptExpectation {
  readonly domain: TypedDataDomain;
  readonly leaseId: bigint;
  /** The attested enclave identity (lower-case address). */
  readonly identityAddress: string;
  /**
   * SHA-256 of the evidence the session verified; or of each piece of evidence the client verified
   * for this same identity (fresh mode presents a new quote per session, and a receipt given again
   * for a voucher sent again names the session that first settled it).
   */
  readonly evidenceHash: Uint8Array | readonly Uint8Array[];
}

/**
 * A receipt covers a call only if the attested identity signed it, for this lease and evidence, over
 * exactly the records the client holds: the contract will recompute the same chain in a dispute.
 * Throws RECEIPT_INVALID (signature) or RECEIPT_MISMATCH (anything else).
 */
export function verifyReceipt(
  sr: SignedReceipt,
  records: readonly CallRecord[],
  exp: ReceiptExpectation,
): VerifiedReceipt {
  const r = sr.receipt;
  const signer = recoverReceiptSigner(exp.domain, sr);
  if (signer !== exp.identityAddress)
    sessionFail('RECEIPT_INVALID', 'receipt is not signed by the attested enclave identity', {
      expected: exp.identityAddress,
      ...(signer && { signer }),
    });
  if (r.leaseId !== exp.leaseId) sessionFail('RECEIPT_MISMATCH', `receipt is for lease ${r.leaseId}`);
  const named = fromHex(r.evidenceHash);
  const known = exp.evidenceHash instanceof Uint8Array ? [exp.evidenceHash] : exp.evidenceHash;
  if (!known.some((h) => bytesEqual(named, h)))
    sessionFail('RECEIPT_MISMATCH', 'receipt names evidence other than the session verified');
  let heads: { recordHead: string };
  try {
    heads = chainHeads(records, r.firstNonce, r.lastNonce);
  } catch (e) {
    return sessionFail(
      'RECEIPT_MISMATCH',
      `receipt range does not match the records: ${(e as Error).message}`,
    );
  }
  if (heads.recordHead !== r.recordHead)
    sessionFail('RECEIPT_MISMATCH', 'receipt record chain does not match the call records', {
      firstNonce: r.firstNonce.toString(),
      lastNonce: r.lastNonce.toString(),
    });
  if (r.finishedAt < r.startedAt) sessionFail('RECEIPT_MISMATCH', 'receipt finishes before it starts');
  return { receipt: r, signature: sr.signature, signer, records: [...records], domain: exp.domain };
}
