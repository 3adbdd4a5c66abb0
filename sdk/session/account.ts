import type { SignedVoucher } from '../../attestation/session/settlement.js';
import type { CallRecord } from '../../attestation/typed-data.js';
import type { VerifiedReceipt } from './receipts.js';
import type { CallRequest } from './requests.js';

/** One call waiting for the receipt of its batch. */
export interface BatchEntry {
  readonly req: CallRequest;
  /** Set when the executor answered with the call's record (success or function error). */
  record: CallRecord | undefined;
  /** True once the call was answered (with a record, or refused before it ran). */
  answered: boolean;
  resolve(r: VerifiedReceipt): void;
  reject(e: unknown): void;
}

/** The calls of one batch (batched mode): closes after `maxCalls` calls or `maxMillis`. */
export class Batch {
  readonly entries: BatchEntry[] = [];
  closed = false;
  /** Set once its vouchers went out (exactly once per batch). */
  settling = false;
  timer: NodeJS.Timeout | undefined;

  /** `key`: the wallet key of `account` that signs this batch's vouchers. */
  constructor(
    readonly account: ClientAccount,
    readonly key: Uint8Array,
  ) {}
}

/**
 * Client-side books for one (lease, wallet): nonce counter, authorised amount, open batch. The
 * executor keeps its books per (lease, client) whatever the session, so every session of this
 * process that uses the wallet on the lease shares one of these (see `sharedAccount`).
 */
export class ClientAccount {
  nextNonce = 0n;
  ready: Promise<void> | undefined;
  /** Cumulative amount authorised by the vouchers signed so far. */
  authorised = 0n;
  batch: Batch | undefined;
  readonly vouchers: SignedVoucher[] = [];

  constructor(readonly address: string) {}
}

const registry = new Map<string, ClientAccount>();

/** The process-wide account of `address` on `leaseId`. */
export function sharedAccount(leaseId: bigint, address: string): ClientAccount {
  const key = `${leaseId}/${address}`;
  let a = registry.get(key);
  if (!a) {
    a = new ClientAccount(address);
    registry.set(key, a);
  }
  return a;
}
