import type { CallRequest } from '../../protocol/call-records.js';
import type { VerifiedReceipt } from '../../protocol/receipts.js';
import type { SignedVoucher } from '../../protocol/settlement.js';
import type { CallRecord } from '../../protocol/typed-data.js';

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
  /** Cumulative amount authorised by the vouchers signed so far. */
  authorised = 0n;
  batch: Batch | undefined;
  readonly vouchers: SignedVoucher[] = [];
  /**
   * Batched calls sent whose voucher has not been sent yet. The executor serves at most
   * `batchMaxCalls` such calls per (lease, client) and makes a further call wait for a voucher; a
   * call of the next batch that overtook the last calls of a full batch on the way (concurrent
   * unary RPCs are not ordered) would then wait for a voucher that waits for those calls. So the
   * client holds a call back while the cap is reached, until the open batch's voucher is sent.
   */
  private uncovered = 0;
  private uncoveredWaiters: (() => void)[] = [];

  constructor(readonly address: string) {}

  /** Waits until fewer than `max` batched calls are uncovered, then counts one more. */
  async reserveUncovered(max: number): Promise<void> {
    while (this.uncovered >= Math.max(1, max)) await new Promise<void>((r) => this.uncoveredWaiters.push(r));
    this.uncovered++;
  }

  /** `n` reserved calls are covered by a voucher that was just sent (or were refused). */
  releaseUncovered(n: number): void {
    this.uncovered = Math.max(0, this.uncovered - n);
    const waiters = this.uncoveredWaiters;
    this.uncoveredWaiters = [];
    for (const w of waiters) w();
  }
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
