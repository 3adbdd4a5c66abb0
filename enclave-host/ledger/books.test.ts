import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSessionError } from '../../protocol/errors.js';
import { addressOfPrivateKey } from '../../protocol/secp256k1.js';
import type { Account } from './account.js';
import {
  CLIENT,
  CLIENT_KEY,
  Clock,
  countingSigner,
  DOMAIN,
  EVIDENCE,
  LEASE,
  RULES,
  record,
  req,
  voucher,
} from './account-fixture.js';
import { Books } from './books.js';
import { FileNonceStore, type Floors, MemoryNonceStore, type NonceStore } from './nonce-store.js';

/*
 * The books' quota of accounts (docs/session.md, "Billing rules"; enclave-host/ledger/books.ts): at
 * most `maxAccounts` kept, a new one takes the place of the least recently used idle one, none is
 * let go while anything is open or a request is inside it, and one let go and built again from the
 * store accepts no old nonce and no amount below its floor.
 */

const P = RULES.pricePerCall;
const KEY_B = new Uint8Array(32).fill(2);
const KEY_C = new Uint8Array(32).fill(3);
const B = addressOfPrivateKey(KEY_B);
const C = addressOfPrivateKey(KEY_C);
const KEYS = new Map([
  [CLIENT, CLIENT_KEY],
  [B, KEY_B],
  [C, KEY_C],
]);

function newBooks(maxAccounts: number, store: NonceStore = new MemoryNonceStore(), clock = new Clock()) {
  const books = new Books({
    domain: DOMAIN,
    signer: countingSigner(),
    rules: RULES,
    now: clock.now,
    maxAccounts,
  });
  books.useStore(store);
  return { books, clock, store };
}

/** A per-call call of `client`: voucher checked, nonce taken, ran; resolves with its receipt. */
async function perCall(books: Books, clock: Clock, client: string, n: bigint, amount: bigint) {
  const v = voucher(n, n, amount, clock.deadlineIn(3600), KEYS.get(client));
  books.peek(LEASE, client).checkInlineVoucher(v, req(n));
  const a = books.get(LEASE, client);
  await (await a.admit(req(n), { voucher: v, evidenceHash: EVIDENCE })).durable;
  return a.complete(record(n));
}

/** A batched call that ran and waits for a voucher. */
async function batched(a: Account, n: bigint) {
  await (await a.admit(req(n), { evidenceHash: EVIDENCE })).durable;
  a.complete(record(n));
}

async function refusal(p: Promise<unknown> | (() => unknown)) {
  const e = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!isSessionError(e)) throw new Error(`expected a refusal, got ${String(e)}`);
  return { code: e.code, info: e.info };
}

describe('Books: the quota of accounts', () => {
  it('an account let go and built again refuses its old nonces and amounts below its floor', async () => {
    const { books, clock, store } = newBooks(1);
    // Per-call calls 1..3 (amounts 10, 20, 30), then batched calls 4..5 settled for 50.
    for (const n of [1n, 2n, 3n]) expect(await perCall(books, clock, CLIENT, n, n * P)).toBeDefined();
    const a = books.get(LEASE, CLIENT);
    await batched(a, 4n);
    await batched(a, 5n);
    await a.settle(voucher(4n, 5n, 5n * P, clock.deadlineIn(3600)), EVIDENCE);
    expect(a.idle).toBe(true);

    // B takes A's place: A is idle, its floors go to the store.
    await perCall(books, clock, B, 1n, P);
    expect(books.size).toBe(1);
    expect(books.has(LEASE, CLIENT)).toBe(false);
    expect(store.floors(`${LEASE}/${CLIENT}`)).toEqual({
      ceiling: 1n + RULES.reserveBlock,
      amountFloor: 5n * P,
    });
    // The old object is no longer the client's books: a request on it is a bug, refused.
    await expect(a.statuses([])).rejects.toThrow(/let go/);

    // A again, in B's place: every nonce it took (and up to its reserved ceiling) is stale.
    for (const n of [1n, 3n, 5n, 6n, 1n + RULES.reserveBlock]) {
      const r = await refusal(perCall(books, clock, CLIENT, n, 100n * P));
      expect(r.code, String(n)).toBe('NONCE_STALE');
    }
    const next = 2n + RULES.reserveBlock;
    expect(books.get(LEASE, CLIENT).nextNonce).toBe(next);
    // The amount floor stayed: the next call must authorise the 50 already accepted plus its price.
    const low = await refusal(perCall(books, clock, CLIENT, next, 5n * P));
    expect(low).toEqual({
      code: 'VOUCHER_AMOUNT_TOO_LOW',
      info: { required: (6n * P).toString(), cumulativeAmount: (5n * P).toString() },
    });
    expect(await perCall(books, clock, CLIENT, next, 6n * P)).toBeDefined();
    expect(books.get(LEASE, CLIENT).status.cumulativeAmount).toBe(6n * P);
  });

  it('never lets go an account with an open call; ACCOUNT_LIMIT names the limit and the count', async () => {
    const { books, clock } = newBooks(2);
    const a = books.get(LEASE, CLIENT);
    await batched(a, 1n); // ran, not covered
    const b = books.get(LEASE, B);
    await b.admit(req(1n), { evidenceHash: EVIDENCE }); // running
    expect(books.idleCount).toBe(0);
    const full = await refusal(() => books.get(LEASE, C));
    expect(full).toEqual({ code: 'ACCOUNT_LIMIT', info: { limit: 'maxAccounts', max: 2, count: 2 } });
    // A refused Invoke of C keeps nothing.
    expect(await refusal(perCall(books, clock, C, 1n, P))).toMatchObject({ code: 'ACCOUNT_LIMIT' });
    expect(books.size).toBe(2);
    // B's call completes (batched: it stays open until a voucher covers it), A settles: A goes idle.
    b.complete(record(1n));
    expect(books.idleCount).toBe(0);
    await a.settle(voucher(1n, 1n, P, clock.deadlineIn(3600)), EVIDENCE);
    expect(books.idleCount).toBe(1);
    await perCall(books, clock, C, 1n, P);
    expect(books.has(LEASE, CLIENT)).toBe(false);
    expect(books.has(LEASE, B)).toBe(true);
    // B's unsettled call is still listed.
    expect(
      books
        .get(LEASE, B)
        .unsettled()
        .map((r) => r.nonce),
    ).toEqual([1n]);
  });

  it('a request inside an account keeps it (waiting for room, or for a reservation to be durable)', async () => {
    let release!: () => void;
    const slow = new SlowStore();
    const { books, clock } = newBooks(1, slow);
    const a = books.get(LEASE, CLIENT);
    // Sync fences nonce 1: it waits for the reservation to be durable.
    slow.hold = new Promise<void>((r) => {
      release = r;
    });
    const sync = a.statuses([1n]);
    expect(a.idle).toBe(false);
    expect((await refusal(() => books.get(LEASE, B))).code).toBe('ACCOUNT_LIMIT');
    release();
    expect(await sync).toEqual([{ state: 'not-run' }]);
    expect(a.idle).toBe(true);
    books.get(LEASE, B);
    expect(books.has(LEASE, CLIENT)).toBe(false);

    // A batched call waiting for room (the uncovered cap is full) keeps its account too.
    const waits = new Books({
      domain: DOMAIN,
      signer: countingSigner(),
      rules: { ...RULES, voucherWaitMs: 60_000 },
      now: clock.now,
      maxAccounts: 1,
    });
    const w = waits.get(LEASE, CLIENT);
    const cap = BigInt(RULES.maxUncovered);
    for (let n = 1n; n <= cap; n++) await batched(w, n);
    const over = w.admit(req(cap + 1n), { evidenceHash: EVIDENCE });
    await w.settle(voucher(1n, cap, cap * P, clock.deadlineIn(3600)), EVIDENCE);
    // The Settle freed room and left nothing open, but the waiting call is still inside.
    expect(w.idle).toBe(false);
    expect((await refusal(() => waits.get(LEASE, B))).code).toBe('ACCOUNT_LIMIT');
    await (await over).durable;
    expect(w.idle).toBe(false); // its call is open
  });

  it('lets go the least recently used idle account first', async () => {
    const { books, clock } = newBooks(2);
    await perCall(books, clock, CLIENT, 1n, P);
    await perCall(books, clock, B, 1n, P);
    // CLIENT is used again: B is now the least recently used.
    await books.get(LEASE, CLIENT).statuses([]);
    books.get(LEASE, C);
    expect(books.has(LEASE, B)).toBe(false);
    expect(books.has(LEASE, CLIENT)).toBe(true);
    expect(books.size).toBe(2);
  });

  it('peek keeps nothing; a Settle on books not kept fails and keeps nothing', async () => {
    const { books, clock } = newBooks(1);
    await perCall(books, clock, CLIENT, 1n, P);
    const p = books.peek(LEASE, B);
    expect(books.has(LEASE, B)).toBe(false);
    expect((await refusal(p.settle(voucher(1n, 1n, P, clock.deadlineIn(3600), KEY_B), EVIDENCE))).code).toBe(
      'VOUCHER_MISMATCH',
    );
    expect(books.size).toBe(1);
    expect(books.has(LEASE, CLIENT)).toBe(true);
  });

  it('the floors of an account let go are on disk without a clean stop', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'defaas-books-'));
    try {
      const store = await FileNonceStore.open(dir);
      const { books, clock } = newBooks(1, store);
      await perCall(books, clock, CLIENT, 1n, P);
      await perCall(books, clock, CLIENT, 2n, 2n * P);
      books.get(LEASE, B); // CLIENT is let go
      const key = `${LEASE}/${CLIENT}`;
      await store.raise(key, store.floors(key)); // the write under way
      const reopened = await FileNonceStore.open(dir);
      expect(reopened.floors(key)).toEqual({ ceiling: 1n + RULES.reserveBlock, amountFloor: 2n * P });
      // A new process (no stop, no persist) refuses the old nonces and the old amounts.
      const after = newBooks(4, reopened, clock);
      expect((await refusal(perCall(after.books, clock, CLIENT, 2n, 3n * P))).code).toBe('NONCE_STALE');
      const next = 2n + RULES.reserveBlock;
      expect((await refusal(perCall(after.books, clock, CLIENT, next, 2n * P))).code).toBe(
        'VOUCHER_AMOUNT_TOO_LOW',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Books: letting accounts go never replays a nonce or lowers what must be paid', () => {
  it('per-call calls and fencing Syncs of three clients in one or two places, against a reference', async () => {
    const clients = [CLIENT, B, C];
    let total = 0;
    // Nonces and amounts near what an honest client would send: `k` from its highest nonce taken
    // (below it: replays and reordering), `delta` calls' worth from what it owes.
    const op = fc.record({
      who: fc.nat({ max: 2 }),
      sync: fc.nat({ max: 3 }).map((x) => x === 0),
      k: fc.bigInt({ min: -3n, max: 8n }),
      delta: fc.bigInt({ min: -2n, max: 2n }),
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 }), fc.array(op, { maxLength: 30 }), async (max, ops) => {
        const clock = new Clock();
        const books = new Books({
          domain: DOMAIN,
          signer: countingSigner(),
          rules: { ...RULES, window: 8, maxNonceJump: 8, reserveBlock: 4n },
          now: clock.now,
          maxAccounts: max,
        });
        // The reference: per client, the nonces taken (run or fenced), the calls covered, the highest amount.
        const taken = clients.map(() => new Set<bigint>());
        const covered = clients.map(() => 0n);
        const highest = clients.map(() => 0n);
        let served = 0;
        for (const o of ops) {
          const client = clients[o.who]!;
          const top = [...taken[o.who]!].reduce((m, n) => (n > m ? n : m), 0n);
          const nonce = top + o.k > 0n ? top + o.k : 0n;
          if (o.sync) {
            const [st] = await books.get(LEASE, client).statuses([nonce]);
            if (st?.state === 'not-run') taken[o.who]!.add(nonce);
            continue;
          }
          const owed = covered[o.who]! + 1n + o.delta;
          const amount = owed > 0n ? owed * P : 0n;
          const v = voucher(nonce, nonce, amount, clock.deadlineIn(3600), KEYS.get(client));
          const a = books.get(LEASE, client);
          try {
            await (await a.admit(req(nonce), { voucher: v, evidenceHash: EVIDENCE })).durable;
          } catch (e) {
            if (!isSessionError(e)) throw e;
            continue;
          }
          a.complete(record(nonce));
          served++;
          expect(taken[o.who]!.has(nonce), `nonce ${nonce} of ${o.who} taken twice`).toBe(false);
          taken[o.who]!.add(nonce);
          covered[o.who]! += 1n;
          if (amount > highest[o.who]!) highest[o.who] = amount;
          // One voucher the provider holds pays for every call covered so far, across let-gos.
          expect(highest[o.who]! >= covered[o.who]! * P).toBe(true);
          expect(books.size).toBeLessThanOrEqual(max);
        }
        total += served;
      }),
      { numRuns: 1000 },
    );
    // The generator serves most calls (the property is not vacuous).
    expect(total).toBeGreaterThan(1000);
  });
});

/** A store whose writes become durable when the test says so (`hold`). */
class SlowStore implements NonceStore {
  private readonly inner = new MemoryNonceStore();
  hold: Promise<void> = Promise.resolve();
  floors(key: string): Floors {
    return this.inner.floors(key);
  }
  async raise(key: string, floors: Floors): Promise<void> {
    const held = this.hold;
    await this.inner.raise(key, floors);
    await held;
  }
}
