import { createHash } from 'node:crypto';
import { recoverDigestSigner, signDigest } from './secp256k1.js';
import type { Receipt, TypedDataDomain, Voucher } from './typed-data.js';
import { receiptDigestFast, voucherDigestFast } from './typed-data-fast.js';

/*
 * Vouchers and receipts as they travel inside a session (ARCHITECTURE.md, "Requests, receipts,
 * vouchers"): the EIP-712 structs of typed-data.ts plus a 65-byte signature (wire.ts converts them
 * to and from the proto messages). Digests come from the hand encoder in typed-data-fast.ts, checked
 * against typed-data.ts. Receipt timestamps are Unix milliseconds.
 */

export interface SignedVoucher {
  readonly voucher: Voucher;
  readonly signature: Uint8Array;
}

export interface SignedReceipt {
  readonly receipt: Receipt;
  readonly signature: Uint8Array;
}

export function signVoucher(domain: TypedDataDomain, v: Voucher, priv: Uint8Array): SignedVoucher {
  return { voucher: v, signature: signDigest(priv, voucherDigestFast(domain, v)) };
}

/** Lower-case signer address, or null when the signature is invalid. */
export function recoverVoucherSigner(domain: TypedDataDomain, sv: SignedVoucher): string | null {
  return recoverDigestSigner(voucherDigestFast(domain, sv.voucher), sv.signature);
}

export function signReceipt(domain: TypedDataDomain, r: Receipt, priv: Uint8Array): SignedReceipt {
  return { receipt: r, signature: signDigest(priv, receiptDigestFast(domain, r)) };
}

export function recoverReceiptSigner(domain: TypedDataDomain, sr: SignedReceipt): string | null {
  return recoverDigestSigner(receiptDigestFast(domain, sr.receipt), sr.signature);
}

/** 0x-hex SHA-256, the hash used for function ids, inputs and outputs in call records. */
export function sha256Hex(b: Uint8Array): string {
  return `0x${createHash('sha256').update(b).digest('hex')}`;
}
