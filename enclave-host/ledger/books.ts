import { sessionFail } from '../../protocol/errors.js';
import type { SignedProbeGrant } from '../../protocol/probe-grant.js';
import type { SignedVoucher } from '../../protocol/settlement.js';
import type { TypedDataDomain } from '../../protocol/typed-data.js';
import { Account, type LedgerRules, type VoucherBatch } from './account.js';
import { MemoryNonceStore, type NonceStore } from './nonce-store.js';
import type { ReceiptSigner } from './receipt-signer.js';

export interface BooksConfig {
  readonly domain: TypedDataDomain;
  readonly signer: ReceiptSigner;
  readonly rules: LedgerRules;
  readonly now: () => number;
  /** Accounts kept in memory at most; when full, the least recently used idle one is let go. */
  readonly maxAccounts: number;
  /** Told when the write persisting a let-go account's floors fails (the store writes again on its next raise). */
  readonly onStoreError?: (e: unknown) => void;
  /**
   * Told each time a kept account accepts a voucher with a higher cumulative amount than the last
   * it told of (Account `onVoucher`). It runs inside a request, and a Settle awaits the promise it
   * returns before its receipt goes out: whatever it throws, or the promise rejects with, goes to
   * `onVoucherError` and never to the request.
   */
  readonly onVoucher?: (v: LatestVoucher) => unknown;
  readonly onVoucherError?: (e: unknown) => void;
}

/** The highest voucher the books hold for a (lease, client). */
export interface LatestVoucher {
  readonly leaseId: bigint;
  /** Lower-case 0x address of the client wallet. */
  readonly client: string;
  readonly voucher: SignedVoucher;
  /** The receipt and records of the batch the voucher covers, when it was told of as it was accepted. */
  readonly batch?: VoucherBatch;
  /** For a witness's voucher: the probe grant it was served under, signed by the lease's customer. */
  readonly grant?: SignedProbeGrant;
}

/**
 * The executor's books: one Account per (lease, client), all under the same rules (the quotas of
 * uncovered calls, nonce window and jump, memory of recent calls) and the same persisted store.
 * Books are kept only for a client that authenticated (a voucher that passed, or a bound session),
 * so a stranger naming made-up wallets leaves nothing behind.
 *
 * At most `maxAccounts` are kept. A new one takes the place of the least recently used idle account
 * (nothing open, no request inside: Account.idle), whose floors are raised in the store as it goes
 * (Account.retire); when none is idle the new one is refused with ACCOUNT_LIMIT. Letting an idle
 * account go is as safe as a restart, and safer (the amount floor is persisted as it goes):
 * - the account built again for the client starts from the store's floors, which the store raises
 *   synchronously: its nonce ceiling is at or above every nonce the old account took (each was
 *   reserved when taken), so none is accepted again (NONCE_STALE); its amount floor is the old
 *   account's highest accepted amount, which pays for every call the old account covered, so
 *   what a voucher must authorise never goes down (VOUCHER_AMOUNT_TOO_LOW below it);
 * - nothing that account serves runs before those floors are on disk: a call runs once its nonce's
 *   reservation is durable, and the store's write for it starts after the raise (writes are
 *   serialised, each of the whole map);
 * - an idle account holds no call that ran without a voucher (those stay open until covered), so
 *   no unsettled record is lost; what is lost is what a restart loses: the recent calls for
 *   Sync{nonces} (UNKNOWN), the remembered Settles, and up to one reserved block of nonces.
 */
export class Books {
  /** Kept accounts by key. */
  private readonly accounts = new Map<string, Account>();
  /** The idle ones among them, least recently idle first (each re-enters at the end). */
  private readonly idle = new Map<string, Account>();
  private store: NonceStore = new MemoryNonceStore();
  /** The key of the last account let go, whose floors `persist` makes sure of. */
  private lastRetired: string | undefined;

  constructor(private readonly cfg: BooksConfig) {
    if (!Number.isSafeInteger(cfg.maxAccounts) || cfg.maxAccounts < 1)
      throw new RangeError('maxAccounts must be a positive integer');
  }

  /** Uses `store` for the persisted floors; only before any books are kept. */
  useStore(store: NonceStore): void {
    if (this.accounts.size > 0) throw new Error('the nonce store is chosen before any books are kept');
    this.store = store;
  }

  /** (lease, client) pairs with books kept. */
  get size(): number {
    return this.accounts.size;
  }

  /** Kept accounts that are idle (could be let go for a new one). */
  get idleCount(): number {
    return this.idle.size;
  }

  has(leaseId: bigint, client: string): boolean {
    return this.accounts.has(keyOf(leaseId, client));
  }

  /**
   * The kept account of (lease, client), or a new one built from the store that is not kept: only
   * for requests that change nothing unless the books of their client are kept (a voucher's
   * signature check; a Settle, which needs open calls).
   */
  peek(leaseId: bigint, client: string): Account {
    return this.accounts.get(keyOf(leaseId, client)) ?? this.create(leaseId, client);
  }

  /**
   * The account of (lease, client), kept: the kept one, or one built now from the store's floors in
   * the place of the least recently used idle account. Throws ACCOUNT_LIMIT when the books are full
   * and none is idle.
   */
  get(leaseId: bigint, client: string): Account {
    const key = keyOf(leaseId, client);
    const kept = this.accounts.get(key);
    if (kept) return kept;
    if (this.accounts.size >= this.cfg.maxAccounts) this.letGoOne();
    const a = this.create(leaseId, client);
    this.accounts.set(key, a);
    this.idle.set(key, a);
    return a;
  }

  /** The highest voucher of each kept account that accepted one (an account let go takes its voucher with it). */
  latestVouchers(): LatestVoucher[] {
    const out: LatestVoucher[] = [];
    for (const a of this.accounts.values()) {
      const voucher = a.latestVoucher;
      if (voucher) out.push({ leaseId: a.leaseId, client: a.client, voucher });
    }
    return out;
  }

  /** Persists every kept account's amount floor, and the floors of those let go (at a clean stop). */
  async persist(): Promise<void> {
    const writes = [...this.accounts.values()].map((a) => a.persist());
    // A raise that raises nothing resolves with the store's last write, or writes again after a
    // failed one.
    const k = this.lastRetired;
    if (k !== undefined) writes.push(this.store.raise(k, this.store.floors(k)));
    await Promise.all(writes);
  }

  private letGoOne(): void {
    const oldest = this.idle.values().next();
    if (oldest.done)
      sessionFail(
        'ACCOUNT_LIMIT',
        `the executor keeps books for ${this.accounts.size} clients, none of them idle; try again later`,
        { limit: 'maxAccounts', max: this.cfg.maxAccounts, count: this.accounts.size },
      );
    const a = oldest.value;
    this.accounts.delete(a.key);
    this.idle.delete(a.key);
    this.lastRetired = a.key;
    a.retire().catch((e: unknown) => this.cfg.onStoreError?.(e));
  }

  private readonly watch = (a: Account, idle: boolean): void => {
    if (this.accounts.get(a.key) !== a) return;
    this.idle.delete(a.key);
    if (idle) this.idle.set(a.key, a);
  };

  /** Tells the hook; a promise it returns is handed back (for a Settle to await), never rejecting. */
  private readonly tell = (a: Account, voucher: SignedVoucher, batch: VoucherBatch): void | Promise<void> => {
    const hook = this.cfg.onVoucher;
    if (!hook) return;
    try {
      const r: unknown = hook({
        leaseId: a.leaseId,
        client: a.client,
        voucher,
        batch,
        ...(a.grant && { grant: a.grant }),
      });
      if (r instanceof Promise)
        return r.then(
          () => {},
          (e: unknown) => this.cfg.onVoucherError?.(e),
        );
    } catch (e) {
      this.cfg.onVoucherError?.(e);
    }
  };

  private create(leaseId: bigint, client: string): Account {
    return new Account({
      leaseId,
      client,
      domain: this.cfg.domain,
      signer: this.cfg.signer,
      store: this.store,
      rules: this.cfg.rules,
      now: this.cfg.now,
      onIdleChange: this.watch,
      onVoucher: this.tell,
    });
  }
}

function keyOf(leaseId: bigint, client: string): string {
  return `${leaseId}/${client}`;
}
