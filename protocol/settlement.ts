import { createHash } from 'node:crypto';
import { fromHex, toHex } from '../attestation/bytes.js';
import { sessionFail } from './errors.js';
import { recoverDigestSigner, signDigest } from './secp256k1.js';
import type { CallRecord, Receipt, TypedDataDomain, Voucher } from './typed-data.js';
import { receiptDigestFast, voucherDigestFast } from './typed-data-fast.js';

/*
 * Vouchers and receipts as they travel inside a session (ARCHITECTURE.md, "Requests, receipts,
 * vouchers"): the EIP-712 structs of ../typed-data.ts plus a 65-byte signature. The wire shapes
 * below match proto/defaas/executor/v1/executor.proto (SignedVoucher, SignedReceipt, CallRecordMsg)
 * field for field, so both ends convert without importing each other. Digests come from the hand
 * encoder in typed-data-fast.ts, checked against ../typed-data.ts. Receipt timestamps are Unix
 * milliseconds.
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

// ---- wire conversion (proto-loader objects: uint64 as decimal strings, bytes as Buffer) ----

export interface WireVoucher {
  leaseId: string;
  firstNonce: string;
  lastNonce: string;
  requestHead: Uint8Array;
  cumulativeAmount: string;
  deadline: string;
  signature: Uint8Array;
}

export interface WireReceipt {
  leaseId: string;
  firstNonce: string;
  lastNonce: string;
  recordHead: Uint8Array;
  evidenceHash: Uint8Array;
  startedAt: string;
  finishedAt: string;
  signature: Uint8Array;
}

export interface WireRecord {
  nonce: string;
  functionHash: Uint8Array;
  inputHash: Uint8Array;
  outputHash: Uint8Array;
  usage: string;
  price: string;
}

const MAX_U256 = (1n << 256n) - 1n;

/** Parses a decimal uint (≤ 2^bits − 1); throws REQUEST_MALFORMED otherwise. */
export function parseUint(s: string, what: string, bits = 256): bigint {
  if (!/^(0|[1-9][0-9]{0,77})$/.test(s)) sessionFail('REQUEST_MALFORMED', `${what} is not a decimal integer`);
  const v = BigInt(s);
  if (v > (bits === 256 ? MAX_U256 : (1n << BigInt(bits)) - 1n))
    sessionFail('REQUEST_MALFORMED', `${what} exceeds uint${bits}`);
  return v;
}

function hex32(b: Uint8Array, what: string): string {
  if (b.length !== 32) sessionFail('REQUEST_MALFORMED', `${what} must be 32 bytes`);
  return `0x${toHex(b)}`;
}

export function voucherToWire(sv: SignedVoucher): WireVoucher {
  const v = sv.voucher;
  return {
    leaseId: v.leaseId.toString(),
    firstNonce: v.firstNonce.toString(),
    lastNonce: v.lastNonce.toString(),
    requestHead: fromHex(v.requestHead),
    cumulativeAmount: v.cumulativeAmount.toString(),
    deadline: v.deadline.toString(),
    signature: sv.signature,
  };
}

export function voucherFromWire(w: WireVoucher): SignedVoucher {
  if (w.signature.length !== 65) sessionFail('REQUEST_MALFORMED', 'voucher signature must be 65 bytes');
  return {
    voucher: {
      leaseId: parseUint(w.leaseId, 'voucher.leaseId'),
      firstNonce: parseUint(w.firstNonce, 'voucher.firstNonce', 64),
      lastNonce: parseUint(w.lastNonce, 'voucher.lastNonce', 64),
      requestHead: hex32(w.requestHead, 'voucher.requestHead'),
      cumulativeAmount: parseUint(w.cumulativeAmount, 'voucher.cumulativeAmount'),
      deadline: parseUint(w.deadline, 'voucher.deadline', 64),
    },
    signature: new Uint8Array(w.signature),
  };
}

export function receiptToWire(sr: SignedReceipt): WireReceipt {
  const r = sr.receipt;
  return {
    leaseId: r.leaseId.toString(),
    firstNonce: r.firstNonce.toString(),
    lastNonce: r.lastNonce.toString(),
    recordHead: fromHex(r.recordHead),
    evidenceHash: fromHex(r.evidenceHash),
    startedAt: r.startedAt.toString(),
    finishedAt: r.finishedAt.toString(),
    signature: sr.signature,
  };
}

export function receiptFromWire(w: WireReceipt): SignedReceipt {
  if (w.signature.length !== 65) sessionFail('RECEIPT_INVALID', 'receipt signature must be 65 bytes');
  return {
    receipt: {
      leaseId: parseUint(w.leaseId, 'receipt.leaseId'),
      firstNonce: parseUint(w.firstNonce, 'receipt.firstNonce', 64),
      lastNonce: parseUint(w.lastNonce, 'receipt.lastNonce', 64),
      recordHead: hex32(w.recordHead, 'receipt.recordHead'),
      evidenceHash: hex32(w.evidenceHash, 'receipt.evidenceHash'),
      startedAt: parseUint(w.startedAt, 'receipt.startedAt', 64),
      finishedAt: parseUint(w.finishedAt, 'receipt.finishedAt', 64),
    },
    signature: new Uint8Array(w.signature),
  };
}

export function recordToWire(r: CallRecord): WireRecord {
  return {
    nonce: r.nonce.toString(),
    functionHash: fromHex(r.functionHash),
    inputHash: fromHex(r.inputHash),
    outputHash: fromHex(r.outputHash),
    usage: r.usage.toString(),
    price: r.price.toString(),
  };
}

export function recordFromWire(w: WireRecord): CallRecord {
  return {
    nonce: parseUint(w.nonce, 'record.nonce', 64),
    functionHash: hex32(w.functionHash, 'record.functionHash'),
    inputHash: hex32(w.inputHash, 'record.inputHash'),
    outputHash: hex32(w.outputHash, 'record.outputHash'),
    usage: parseUint(w.usage, 'record.usage', 64),
    price: parseUint(w.price, 'record.price'),
  };
}
