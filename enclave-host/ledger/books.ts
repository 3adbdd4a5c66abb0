import type { TypedDataDomain } from '../../protocol/typed-data.js';
import { Account, type LedgerRules } from './account.js';
import { MemoryNonceStore, type NonceStore } from './nonce-store.js';
import type { ReceiptSigner } from './receipt-signer.js';

export interface BooksConfig {
  readonly domain: TypedDataDomain;
  readonly signer: ReceiptSigner;
  readonly rules: LedgerRules;
  readonly now: () => number;
}

/**
 * The executor's books: one Account per (lease, client), all under the same rules (the quotas of
 * uncovered calls, nonce window and jump, memory of recent calls) and the same persisted store.
 * Books are kept only for a client that authenticated (a voucher that passed, or a bound session),
 * so a stranger naming made-up wallets leaves nothing behind.
 */
export class Books {
  private readonly accounts = new Map<string, Account>();
  private store: NonceStore = new MemoryNonceStore();

  constructor(private readonly cfg: BooksConfig) {}

  /** Uses `store` for the persisted floors; only before any books are kept. */
  useStore(store: NonceStore): void {
    if (this.accounts.size > 0) throw new Error('the nonce store is chosen before any books are kept');
    this.store = store;
  }

  /** (lease, client) pairs with books kept. */
  get size(): number {
    return this.accounts.size;
  }

  has(leaseId: bigint, client: string): boolean {
    return this.accounts.has(keyOf(leaseId, client));
  }

  /** The kept account of (lease, client), or a new one that is not kept until `keep`. */
  peek(leaseId: bigint, client: string): Account {
    return this.accounts.get(keyOf(leaseId, client)) ?? this.create(leaseId, client);
  }

  /** Keeps `a` (a no-op when books of its pair are kept already). */
  keep(a: Account): Account {
    const kept = this.accounts.get(a.key);
    if (kept) return kept;
    this.accounts.set(a.key, a);
    return a;
  }

  /** The account of (lease, client), kept. */
  get(leaseId: bigint, client: string): Account {
    return this.keep(this.peek(leaseId, client));
  }

  /** Persists every account's amount floor (at a clean stop). */
  async persist(): Promise<void> {
    await Promise.all([...this.accounts.values()].map((a) => a.persist()));
  }

  private create(leaseId: bigint, client: string): Account {
    return new Account({
      leaseId,
      client,
      domain: this.cfg.domain,
      signer: this.cfg.signer,
      store: this.store,
      rules: this.cfg.rules,
      now: this.cfg.now,
    });
  }
}

function keyOf(leaseId: bigint, client: string): string {
  return `${leaseId}/${client}`;
}
