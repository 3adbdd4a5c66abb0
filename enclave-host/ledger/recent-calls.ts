import type { SignedReceipt } from '../../protocol/settlement.js';
import type { CallRecord } from '../../protocol/typed-data.js';

/** What became of a finished call, as Sync{nonces} reports it. */
export type Finished =
  | { readonly state: 'ran'; readonly record: CallRecord; readonly receipt: SignedReceipt }
  | { readonly state: 'not-run' };

/**
 * The last `limit` finished calls of one client, by nonce (docs/session.md, "Billing rules", 5): a
 * client that lost a response asks about its nonce with Sync and gets the record and receipt, or
 * learns it did not run. Calls that ran and are not covered yet are not here: the account keeps them
 * open until a voucher covers them. Older calls are forgotten (Sync answers UNKNOWN).
 */
export class RecentCalls {
  private readonly calls = new Map<bigint, Finished>();

  constructor(private readonly limit: number) {}

  get(nonce: bigint): Finished | undefined {
    return this.calls.get(nonce);
  }

  add(nonce: bigint, f: Finished): void {
    this.calls.delete(nonce);
    this.calls.set(nonce, f);
    if (this.calls.size > this.limit) {
      const oldest = this.calls.keys().next();
      if (!oldest.done) this.calls.delete(oldest.value);
    }
  }
}
