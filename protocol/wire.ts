import { fromHex, toHex } from '../attestation/bytes.js';
import type { CallRecordMsg, CallRecordMsg__Output } from '../proto/gen/defaas/executor/v1/CallRecordMsg.js';
import type { LeaseTerms, LeaseTerms__Output } from '../proto/gen/defaas/executor/v1/LeaseTerms.js';
import type {
  SignedReceipt as ReceiptMsg,
  SignedReceipt__Output,
} from '../proto/gen/defaas/executor/v1/SignedReceipt.js';
import type {
  SignedVoucher__Output,
  SignedVoucher as VoucherMsg,
} from '../proto/gen/defaas/executor/v1/SignedVoucher.js';
import { sessionFail } from './errors.js';
import type { SignedReceipt, SignedVoucher } from './settlement.js';
import type { LeaseTermsFields, LimitsFields } from './transcript.js';
import type { CallRecord } from './typed-data.js';

/*
 * Codecs between the protocol's values and the generated proto messages (proto/gen, loader options
 * in proto/load.ts: uint64 and uint256 as decimal strings, bytes as Buffer). `…FromWire` parses
 * strictly and throws REQUEST_MALFORMED (RECEIPT_INVALID for a receipt's signature); `…ToWire`
 * cannot fail.
 */

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

/** A 0x-prefixed 20-byte address, lower-cased; REQUEST_MALFORMED otherwise. */
export function parseAddress(s: string, what: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(s))
    sessionFail('REQUEST_MALFORMED', `${what} must be a 0x-prefixed 20-byte address`);
  return s.toLowerCase();
}

export function voucherToWire(sv: SignedVoucher): VoucherMsg {
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

export function voucherFromWire(w: SignedVoucher__Output): SignedVoucher {
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

export function receiptToWire(sr: SignedReceipt): ReceiptMsg {
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

export function receiptFromWire(w: SignedReceipt__Output): SignedReceipt {
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

export function recordToWire(r: CallRecord): CallRecordMsg {
  return {
    nonce: r.nonce.toString(),
    functionHash: fromHex(r.functionHash),
    inputHash: fromHex(r.inputHash),
    outputHash: fromHex(r.outputHash),
    usage: r.usage.toString(),
    price: r.price.toString(),
  };
}

export function recordFromWire(w: CallRecordMsg__Output): CallRecord {
  return {
    nonce: parseUint(w.nonce, 'record.nonce', 64),
    functionHash: hex32(w.functionHash, 'record.functionHash'),
    inputHash: hex32(w.inputHash, 'record.inputHash'),
    outputHash: hex32(w.outputHash, 'record.outputHash'),
    usage: parseUint(w.usage, 'record.usage', 64),
    price: parseUint(w.price, 'record.price'),
  };
}

export function termsToWire(t: LeaseTermsFields): LeaseTerms {
  const l = t.limits;
  return {
    leaseId: t.leaseId.toString(),
    chainId: t.chainId.toString(),
    verifyingContract: t.verifyingContract,
    pricePerCall: t.pricePerCall.toString(),
    batchMaxCalls: t.batchMaxCalls,
    batchMaxMillis: t.batchMaxMillis,
    limits: {
      memoryBytes: l.memoryBytes.toString(),
      wallTimeMs: l.wallTimeMs,
      maxInputBytes: l.maxInputBytes.toString(),
      maxOutputBytes: l.maxOutputBytes.toString(),
      maxStderrBytes: l.maxStderrBytes.toString(),
      maxMessageBytes: l.maxMessageBytes.toString(),
    },
  };
}

/** Lease terms from a ServerHello; throws HANDSHAKE_MALFORMED (the limits are signed terms: none is refused). */
export function termsFromWire(t: LeaseTerms__Output): LeaseTermsFields {
  const l = t.limits;
  if (!l) return sessionFail('HANDSHAKE_MALFORMED', 'ServerHello terms lack limits');
  if (!/^0x[0-9a-fA-F]{40}$/.test(t.verifyingContract))
    sessionFail('HANDSHAKE_MALFORMED', 'verifying contract is not an address');
  const limits: LimitsFields = {
    memoryBytes: parseUint(l.memoryBytes, 'memory limit', 64),
    wallTimeMs: l.wallTimeMs,
    maxInputBytes: parseUint(l.maxInputBytes, 'input limit', 64),
    maxOutputBytes: parseUint(l.maxOutputBytes, 'output limit', 64),
    maxStderrBytes: parseUint(l.maxStderrBytes, 'stderr limit', 64),
    maxMessageBytes: parseUint(l.maxMessageBytes, 'message size limit', 64),
  };
  return {
    leaseId: parseUint(t.leaseId, 'lease id'),
    chainId: parseUint(t.chainId, 'chain id', 64),
    verifyingContract: t.verifyingContract.toLowerCase(),
    pricePerCall: parseUint(t.pricePerCall, 'price per call'),
    batchMaxCalls: t.batchMaxCalls,
    batchMaxMillis: t.batchMaxMillis,
    limits,
  };
}

/** JSON info of an ErrorDetail (bigints as decimal strings). */
export function infoJson(info: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(info, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The info object of an ErrorDetail; anything that is not a JSON object reads as `{}`. */
export function parseInfoJson(s: string): Record<string, unknown> {
  try {
    const o = JSON.parse(s || '{}') as unknown;
    if (typeof o === 'object' && o !== null && !Array.isArray(o)) return o as Record<string, unknown>;
  } catch {
    // Not JSON: the code and message still say what happened.
  }
  return {};
}
