import { ZeroHash } from 'ethers';
import type { CallRequest } from '../../protocol/call-records.js';
import { sessionFail } from '../../protocol/errors.js';
import { recoverVoucherSigner, type SignedVoucher } from '../../protocol/settlement.js';
import type { TypedDataDomain } from '../../protocol/typed-data.js';
import { nextRequestHeadFast as nextRequestHead } from '../../protocol/typed-data-fast.js';

/*
 * The checks of a voucher that need no books (docs/session.md, "Calls, vouchers and receipts" and
 * "Billing rules", 3): its lease, a deadline that leaves time to redeem it on chain, the client's
 * signature, and for a per-call voucher that it covers exactly its call. Cheap checks come first:
 * recovering the signer is the expensive one.
 */

export interface VoucherContext {
  readonly leaseId: bigint;
  /** Lower-case 0x address of the client wallet that must have signed. */
  readonly client: string;
  readonly domain: TypedDataDomain;
  /** Seconds a voucher must still be redeemable for when it is accepted. */
  readonly minLifetimeS: number;
  /** Unix milliseconds. */
  readonly now: number;
}

export function checkVoucherEnvelope(sv: SignedVoucher, c: VoucherContext): void {
  const v = sv.voucher;
  if (v.leaseId !== c.leaseId)
    sessionFail('WRONG_LEASE', `voucher is for lease ${v.leaseId}, not ${c.leaseId}`);
  const nowS = BigInt(Math.floor(c.now / 1000));
  if (v.deadline < nowS)
    sessionFail('VOUCHER_EXPIRED', 'voucher deadline has passed', { deadline: v.deadline.toString() });
  const earliest = nowS + BigInt(c.minLifetimeS);
  if (v.deadline < earliest)
    sessionFail(
      'VOUCHER_DEADLINE_TOO_SOON',
      `voucher deadline ${v.deadline} leaves less than ${c.minLifetimeS} s to redeem it`,
      { deadline: v.deadline.toString(), earliestDeadline: earliest.toString() },
    );
  const signer = recoverVoucherSigner(c.domain, sv);
  if (signer !== c.client)
    sessionFail('VOUCHER_INVALID', 'voucher is not signed by the client wallet', {
      client: c.client,
      ...(signer && { signer }),
    });
}

/** A per-call voucher covers exactly its call: the range [nonce, nonce] and its request chain. */
export function checkPerCallShape(sv: SignedVoucher, req: CallRequest): void {
  const v = sv.voucher;
  if (v.firstNonce !== req.nonce || v.lastNonce !== req.nonce)
    sessionFail('VOUCHER_MISMATCH', 'a per-call voucher must cover exactly its call', {
      nonce: req.nonce.toString(),
    });
  if (v.requestHead !== nextRequestHead(ZeroHash, req))
    sessionFail('VOUCHER_MISMATCH', 'voucher request chain does not match the call', {
      nonce: req.nonce.toString(),
    });
}
