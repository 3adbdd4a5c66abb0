import { createWriteStream, type WriteStream } from 'node:fs';
import { toHex } from '../attestation/bytes.js';
import type { VerifiedReceipt } from '../protocol/receipts.js';
import type { SignedVoucher } from '../protocol/settlement.js';
import { type CallRecord, type TypedDataDomain, typedDataJson } from '../protocol/typed-data.js';
import type { BalancePolicy, Draw } from './balance.js';

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

/**
 * Where a lease pool sent one call and why (sdk/lease-pool.ts): the draw is recomputed from the
 * block hash, the request id, the candidate leases (ascending ids) and their loads with
 * `choose(policy, balanceSeed(block.hash, requestId), loads)`. `nonce` and `client` find the call's
 * record among the receipts of `leaseId`.
 */
export interface CallPlacement {
  readonly leaseId: bigint;
  readonly client: string;
  readonly nonce: bigint;
  readonly requestId: string;
  readonly block: { readonly number: number; readonly hash: string };
  readonly policy: BalancePolicy;
  readonly candidates: readonly bigint[];
  readonly loads: readonly number[];
  readonly draw: Draw;
}

export interface ReceiptStore {
  add(s: StoredSettlement): void;
  /** Records where a lease pool placed a call (optional: a store may keep receipts only). */
  place?(p: CallPlacement): void;
  /** Flushes and closes the file, if any. */
  close(): Promise<void>;
}

export class LocalReceiptStore implements ReceiptStore {
  readonly entries: StoredSettlement[] = [];
  readonly placements: CallPlacement[] = [];
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

  /**
   * Keeps a call's placement; in the file, as a line `{"placement": …}` (no `receipt`: readers of
   * settlements skip it, verifier/log/audit-receipts.ts).
   */
  place(p: CallPlacement): void {
    if (this.keep) this.placements.push(p);
    this.out?.write(`${JSON.stringify({ placement: placementJson(p) })}\n`);
  }

  /** The placement of the call `nonce` of `client` on `leaseId`, if a pool recorded one. */
  placementOf(leaseId: bigint, client: string, nonce: bigint): CallPlacement | undefined {
    const c = client.toLowerCase();
    return this.placements.find(
      (p) => p.leaseId === leaseId && p.nonce === nonce && p.client.toLowerCase() === c,
    );
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

export function placementJson(p: CallPlacement) {
  return {
    leaseId: s(p.leaseId),
    client: p.client,
    nonce: s(p.nonce),
    requestId: p.requestId,
    block: { number: p.block.number, hash: p.block.hash },
    policy: p.policy,
    candidates: p.candidates.map(s),
    loads: [...p.loads],
    draw: { ...p.draw },
  };
}
