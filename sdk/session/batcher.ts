import type { CallRequest } from '../../protocol/call-records.js';
import type { VerifiedReceipt } from '../../protocol/receipts.js';
import type { CallRecord } from '../../protocol/typed-data.js';
import { DefaasError, toDefaasError } from '../errors.js';
import type { ClientAccount } from './account.js';

/** One call waiting for the receipt of its batch. */
export interface BatchEntry {
  readonly req: CallRequest;
  /** Set when the call ran: from its sealed response, or from a sealed Sync after a lost response. */
  record: CallRecord | undefined;
  /** True once the call was answered (it ran, was refused, or its fate is settled otherwise). */
  answered: boolean;
  /** Resolves with the verified receipt over the call's run of the batch. */
  readonly receipt: Promise<VerifiedReceipt>;
}

interface Entry extends BatchEntry {
  readonly batch: Batch;
  resolve(r: VerifiedReceipt): void;
  reject(e: unknown): void;
}

/** Signs a voucher over `records` (contiguous nonces of calls that ran), settles it, verifies the receipt. */
export type SettleRun = (
  acct: ClientAccount,
  key: Uint8Array,
  records: readonly CallRecord[],
) => Promise<VerifiedReceipt>;

/** A batch of one wallet's calls; the account holds its open one, shared by the sessions using it. */
export interface Batch {
  readonly account: ClientAccount;
  /** How this batch's vouchers are settled: through the session that opened it. */
  readonly settle: SettleRun;
  /** The wallet key of `account` that signs this batch's vouchers. */
  readonly key: Uint8Array;
  readonly entries: Entry[];
  closed: boolean;
  /** Set once its vouchers went out (exactly once per batch). */
  settling: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Batched receipts (docs/session.md, "Calls, vouchers and receipts"): calls join the open batch of
 * their wallet (one per wallet and lease in the process, whichever session sends them, as the
 * executor keeps one set of books per wallet); a batch closes after `maxCalls` calls or `maxMillis`;
 * once every call of a closed batch is answered, one voucher goes out per contiguous run of calls
 * that ran, and the receipt resolves their entries. A call that did not run (refused, or not run by
 * the executor's word) splits the runs and its entry rejects.
 */
export class Batcher {
  /** Accounts this session added calls to (their open batches close with `flush`). */
  private readonly accounts = new Set<ClientAccount>();
  private readonly pending = new Set<Promise<VerifiedReceipt>>();

  constructor(
    private readonly limits: { readonly maxCalls: number; readonly maxMillis: number },
    private readonly settleRun: SettleRun,
  ) {}

  /** Adds a call to its wallet's open batch (opening one if needed). */
  add(acct: ClientAccount, key: Uint8Array, req: CallRequest): BatchEntry {
    this.accounts.add(acct);
    let b = acct.openBatch;
    if (!b) {
      const nb: Batch = {
        account: acct,
        settle: this.settleRun,
        key,
        entries: [],
        closed: false,
        settling: false,
        timer: undefined,
      };
      nb.timer = setTimeout(() => this.close(nb), this.limits.maxMillis);
      acct.openBatch = nb;
      b = nb;
    }
    let resolve!: (r: VerifiedReceipt) => void;
    let reject!: (e: unknown) => void;
    const receipt = new Promise<VerifiedReceipt>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    receipt.catch(() => {});
    this.pending.add(receipt);
    void receipt.finally(() => this.pending.delete(receipt)).catch(() => {});
    const entry: Entry = { req, record: undefined, answered: false, receipt, batch: b, resolve, reject };
    b.entries.push(entry);
    acct.unsettled.add(req.nonce);
    if (b.entries.length >= this.limits.maxCalls) this.close(b);
    return entry;
  }

  /** The call is answered (its record set, or not); settles its batch once the batch is complete. */
  answered(e: BatchEntry): void {
    e.answered = true;
    this.maybeSettle((e as Entry).batch);
  }

  /** Closes every open batch and waits (at most `waitMs`) for the receipts still due. */
  async flush(waitMs: number): Promise<void> {
    for (const a of this.accounts) if (a.openBatch) this.close(a.openBatch);
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise((r) => setTimeout(r, waitMs).unref()),
    ]);
  }

  private close(b: Batch): void {
    if (b.closed) return;
    b.closed = true;
    if (b.timer) clearTimeout(b.timer);
    if (b.account.openBatch === b) b.account.openBatch = undefined;
    this.maybeSettle(b);
  }

  /** Once a closed batch has all its answers: one voucher and one receipt per contiguous run of records. */
  private maybeSettle(b: Batch): void {
    if (!b.closed || b.settling || b.entries.some((e) => !e.answered)) return;
    b.settling = true;
    const runs: Entry[][] = [];
    let run: Entry[] = [];
    for (const e of [...b.entries].sort((x, y) => (x.req.nonce < y.req.nonce ? -1 : 1))) {
      if (!e.record) {
        b.account.unsettled.delete(e.req.nonce);
        e.reject(
          new DefaasError('VOUCHER_MISMATCH', `call ${e.req.nonce} did not run; no receipt covers it`),
        );
        if (run.length) runs.push(run);
        run = [];
        continue;
      }
      const contiguous = run.length > 0 && run[run.length - 1]!.req.nonce + 1n === e.req.nonce;
      if (!contiguous && run.length) {
        runs.push(run);
        run = [];
      }
      run.push(e);
    }
    if (run.length) runs.push(run);
    // settleRun signs and seals its voucher before its first await, so the vouchers are on their way
    // before calls held back by the cap (ClientAccount.reserveUncovered) are sealed.
    for (const r of runs) {
      b.settle(
        b.account,
        b.key,
        r.map((e) => e.record!),
      )
        .then(
          (receipt) => {
            for (const e of r) e.resolve(receipt);
          },
          (err: unknown) => {
            const e = toDefaasError(err);
            for (const x of r) x.reject(e);
          },
        )
        .finally(() => {
          for (const e of r) b.account.unsettled.delete(e.req.nonce);
        });
    }
    b.account.releaseUncovered(b.entries.length);
  }
}
