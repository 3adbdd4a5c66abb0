import type { Batch } from './batcher.js';

/**
 * Client-side books for one (lease, wallet): nonce counter, authorised amount, and the batched calls
 * whose voucher is not settled yet. The executor keeps its books per (lease, client) whatever the
 * session, so every session of this process that uses the wallet on the lease shares one of these
 * (see `sharedAccount`). Only sealed answers move them (docs/session.md, "The client's trust rule").
 */
export class ClientAccount {
  nextNonce = 0n;
  /** Cumulative amount authorised by the vouchers signed so far. */
  authorised = 0n;
  /** The open batch (batched mode), shared by every session of this process that uses the wallet. */
  openBatch: Batch | undefined;
  /** Batched calls sent and not yet settled (their nonces); recovery leaves them to their batch. */
  readonly unsettled = new Set<bigint>();
  /**
   * Batched calls sent whose voucher has not been sent yet. The executor serves at most
   * `batchMaxCalls` such calls per (lease, client) and makes a further call wait for a voucher; a
   * call of the next batch that overtook the last calls of a full batch on the way (concurrent
   * unary RPCs are not ordered) would then wait for a voucher that waits for those calls. So the
   * client holds a call back while the cap is reached, until the open batch's voucher is sent.
   */
  private uncovered = 0;
  private uncoveredWaiters: (() => void)[] = [];
  /**
   * Batched calls whose price `authorised` counts already: a voucher over them was signed and no
   * receipt came back (the Settle was refused, or its answer lost). When the executor lists them as
   * unsettled later, the voucher that settles them does not count them again.
   */
  private readonly counted = new Set<bigint>();

  constructor(readonly address: string) {}

  /** The next nonce, taken. */
  takeNonce(): bigint {
    return this.nextNonce++;
  }

  /** Raises the next nonce to what the executor said, inside the session, it will accept. */
  syncNonce(next: bigint): void {
    if (next > this.nextNonce) this.nextNonce = next;
  }

  /** Raises the authorised amount to the highest the executor accepted (a new process of the same wallet). */
  syncAuthorised(accepted: bigint): void {
    if (accepted > this.authorised) this.authorised = accepted;
  }

  /** Counts the price of the calls `nonces` not counted yet into `authorised` (settling them). */
  countSettled(nonces: readonly bigint[], price: bigint): void {
    for (const n of nonces)
      if (!this.counted.has(n)) {
        this.counted.add(n);
        this.authorised += price;
      }
  }

  /** A receipt covers the calls `nonces`: no voucher settles them again. */
  receiptFor(nonces: readonly bigint[]): void {
    for (const n of nonces) this.counted.delete(n);
  }

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
