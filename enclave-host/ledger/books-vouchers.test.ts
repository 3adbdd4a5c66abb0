import { describe, expect, it } from 'vitest';
import { addressOfPrivateKey } from '../../protocol/secp256k1.js';
import {
  CLIENT,
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
import { Books, type LatestVoucher } from './books.js';

/*
 * The voucher hand-over of the books (Books `onVoucher`, `latestVouchers`): the provider is told of
 * each accepted voucher that raises a (lease, client)'s cumulative amount, never of a lower or a
 * refused one, and nothing the hook does reaches the request.
 */

const P = RULES.pricePerCall;
const KEY_B = new Uint8Array(32).fill(2);
const B = addressOfPrivateKey(KEY_B);

function newBooks(o: { maxAccounts?: number; hook?: (v: LatestVoucher) => void } = {}) {
  const told: LatestVoucher[] = [];
  const errors: unknown[] = [];
  const clock = new Clock();
  const books = new Books({
    domain: DOMAIN,
    signer: countingSigner(),
    rules: RULES,
    now: clock.now,
    maxAccounts: o.maxAccounts ?? 16,
    onVoucher: o.hook ?? ((v) => told.push(v)),
    onVoucherError: (e) => errors.push(e),
  });
  return { books, clock, told, errors };
}

const amounts = (vs: readonly LatestVoucher[]) =>
  vs.map((v) => [v.client, v.voucher.voucher.cumulativeAmount]);

describe('Books: the voucher hand-over', () => {
  it('tells of each higher voucher, not of one accepted after a higher one', async () => {
    const { books, clock, told } = newBooks();
    const a = books.get(LEASE, CLIENT);
    const v1 = voucher(1n, 1n, P, clock.deadlineIn(3600));
    const v2 = voucher(2n, 2n, 2n * P, clock.deadlineIn(3600));
    await (await a.admit(req(1n), { voucher: v1, evidenceHash: EVIDENCE })).durable;
    await (await a.admit(req(2n), { voucher: v2, evidenceHash: EVIDENCE })).durable;
    // Call 2 ends first: its voucher is the highest; call 1's, accepted after it, is lower.
    a.complete(record(2n));
    a.complete(record(1n));
    expect(amounts(told)).toEqual([[CLIENT, 2n * P]]);
    expect(told[0]!.voucher).toBe(v2);
    expect(told[0]!.leaseId).toBe(LEASE);
    expect(books.latestVouchers()).toEqual([{ leaseId: LEASE, client: CLIENT, voucher: v2 }]);
  });

  it('tells of a Settle once its receipt is signed, and never of a refused or abandoned voucher', async () => {
    const { books, clock, told } = newBooks();
    const a = books.get(LEASE, CLIENT);
    for (const n of [1n, 2n]) {
      await (await a.admit(req(n), { evidenceHash: EVIDENCE })).durable;
      a.complete(record(n));
    }
    // Too low for two calls: refused, not told.
    await expect(a.settle(voucher(1n, 2n, P, clock.deadlineIn(3600)), EVIDENCE)).rejects.toThrow();
    expect(told).toEqual([]);
    const batch = voucher(1n, 2n, 2n * P, clock.deadlineIn(3600));
    await a.settle(batch, EVIDENCE);
    expect(told.map((t) => t.voucher)).toEqual([batch]);
    // A call admitted with its voucher and abandoned (never ran): its voucher is dropped, not told.
    const v3 = voucher(3n, 3n, 3n * P, clock.deadlineIn(3600));
    await (await a.admit(req(3n), { voucher: v3, evidenceHash: EVIDENCE })).durable;
    a.abandon(3n);
    expect(told.map((t) => t.voucher)).toEqual([batch]);
    expect(books.latestVouchers().map((l) => l.voucher)).toEqual([batch]);
  });

  it('a hook that throws or rejects goes to onVoucherError; the call completes and the voucher is kept', async () => {
    let mode: 'throw' | 'reject' = 'throw';
    const { books, clock, errors } = newBooks({
      hook: () => {
        if (mode === 'throw') throw new Error('store down');
        return Promise.reject(new Error('store down later'));
      },
    });
    const a = books.get(LEASE, CLIENT);
    for (const n of [1n, 2n]) {
      if (n === 2n) mode = 'reject';
      const v = voucher(n, n, n * P, clock.deadlineIn(3600));
      await (await a.admit(req(n), { voucher: v, evidenceHash: EVIDENCE })).durable;
      expect(a.complete(record(n))).toBeDefined();
    }
    await new Promise((r) => setImmediate(r));
    expect(errors.map((e) => (e as Error).message)).toEqual(['store down', 'store down later']);
    expect(books.latestVouchers().map((l) => l.voucher.voucher.cumulativeAmount)).toEqual([2n * P]);
  });

  it('lists one voucher per kept (lease, client); an account let go takes its voucher with it', async () => {
    const { books, clock } = newBooks({ maxAccounts: 1 });
    const a = books.get(LEASE, CLIENT);
    const v = voucher(1n, 1n, P, clock.deadlineIn(3600));
    await (await a.admit(req(1n), { voucher: v, evidenceHash: EVIDENCE })).durable;
    a.complete(record(1n));
    expect(amounts(books.latestVouchers())).toEqual([[CLIENT, P]]);
    const b = books.get(LEASE, B);
    const vb = voucher(1n, 1n, P, clock.deadlineIn(3600), KEY_B);
    await (await b.admit(req(1n), { voucher: vb, evidenceHash: EVIDENCE })).durable;
    b.complete(record(1n));
    expect(amounts(books.latestVouchers())).toEqual([[B, P]]);
  });
});
