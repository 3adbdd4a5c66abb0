import { createWriteStream, type WriteStream } from 'node:fs';
import { toHex } from '../attestation/bytes.js';
import type { VerifiedReceipt } from '../protocol/receipts.js';
import type { SignedVoucher } from '../protocol/settlement.js';
import { type CallRecord, type TypedDataDomain, typedDataJson } from '../protocol/typed-data.js';

/*
 * The local evidence a customer keeps for disputes: every verified receipt with the call records it
 * covers and the voucher the customer signed for the same range. Held in memory and, with `file`,
 * appended as JSON lines (one object per receipt; integers as decimal strings, bytes as 0x-hex).
 */
export interface StoredSettlement {
  readonly endpoint: string;
  readonly receipt: VerifiedReceipt;
  readonly voucher: SignedVoucher;
}

export interface ReceiptStore {
  add(s: StoredSettlement): void;
  /** Flushes and closes the file, if any. */
  close(): Promise<void>;
}

export class LocalReceiptStore implements ReceiptStore {
  readonly entries: StoredSettlement[] = [];
  private readonly out: WriteStream | undefined;

  constructor(opts: { file?: string; keepInMemory?: boolean } = {}) {
    this.out = opts.file ? createWriteStream(opts.file, { flags: 'a', mode: 0o600 }) : undefined;
    this.keep = opts.keepInMemory ?? true;
  }

  private readonly keep: boolean;

  add(s: StoredSettlement): void {
    if (this.keep) this.entries.push(s);
    this.out?.write(`${JSON.stringify(settlementJson(s))}\n`);
  }

  /** Call records covered by verified receipts, by nonce. */
  records(): CallRecord[] {
    return this.entries.flatMap((e) => e.receipt.records);
  }

  close(): Promise<void> {
    const out = this.out;
    if (!out) return Promise.resolve();
    return new Promise((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}

const s = (v: bigint) => v.toString();

function domainJson(d: TypedDataDomain) {
  return { chainId: s(d.chainId), verifyingContract: d.verifyingContract };
}

export function settlementJson(x: StoredSettlement) {
  return {
    endpoint: x.endpoint,
    domain: domainJson(x.receipt.domain),
    receipt: typedDataJson(x.receipt.receipt),
    receiptSignature: `0x${toHex(x.receipt.signature)}`,
    receiptSigner: x.receipt.signer,
    records: x.receipt.records.map(typedDataJson),
    voucher: typedDataJson(x.voucher.voucher),
    voucherSignature: `0x${toHex(x.voucher.signature)}`,
  };
}
