import { describe, expect, it } from 'vitest';
import { isSessionError } from '../../protocol/errors.js';
import { codeOf, codeOfAsync } from '../../test/error-code.js';
import type { Account } from './account.js';
import {
  CLIENT,
  Clock,
  countingSigner,
  EVIDENCE,
  LEASE,
  newAccount,
  perCall,
  RULES,
  record,
  req,
  voucher,
} from './account-fixture.js';
import { MAX_NONCE } from './nonce-book.js';
import { MemoryNonceStore } from './nonce-store.js';

/* The billing rules of docs/session.md, one account at a time (no gRPC). */

const P = RULES.pricePerCall;

async function batched(a: Account, n: bigint, complete = true) {
  await (await a.admit(req(n), { evidenceHash: EVIDENCE })).durable;
  if (complete) a.complete(record(n));
}

function settle(a: Account, clock: Clock, first: bigint, last: bigint, amount: bigint) {
  return a.settle(voucher(first, last, amount, clock.deadlineIn(3600)), EVIDENCE);
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; info: Record<string, unknown> }> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!isSessionError(e)) throw new Error(`expected a refusal, got ${String(e)}`);
  return { code: e.code, info: e.info };
}

describe('rule 1: nonces', () => {
  it('takes a nonce once, within the window and the jump, never above 2^62', async () => {
    const { account: a, clock } = newAccount({ rules: { window: 8, maxNonceJump: 16 } });
    await perCall(a, clock, 1n, P);
    expect(await codeOfAsync(perCall(a, clock, 1n, 2n * P))).toBe('NONCE_STALE');
    expect(await codeOfAsync(perCall(a, clock, 0n, 2n * P))).toBe('NONCE_STALE');
    const far = await refusal(perCall(a, clock, 18n, 2n * P));
    expect(far.code).toBe('NONCE_TOO_FAR');
    expect(far.info).toMatchObject({ nonce: '18', nextNonce: '2', maxNonce: '17' });
    expect(a.nextNonce).toBe(2n);
    await perCall(a, clock, 17n, 2n * P);
    expect(a.nextNonce).toBe(18n);
    // Below the window (17 − 8): stale although never seen; inside it: accepted out of order.
    expect(await codeOfAsync(perCall(a, clock, 9n, 3n * P))).toBe('NONCE_STALE');
    await perCall(a, clock, 10n, 3n * P);
  });

  it('refuses nonces above 2^62 whatever the jump', async () => {
    const store = new MemoryNonceStore();
    await store.raise(`${LEASE}/${CLIENT}`, { ceiling: MAX_NONCE - 1n, amountFloor: 0n });
    const { account: a, clock } = newAccount({ store });
    await perCall(a, clock, MAX_NONCE, P);
    expect(await codeOfAsync(perCall(a, clock, MAX_NONCE + 1n, 2n * P))).toBe('NONCE_TOO_FAR');
  });

  it('a refused call leaves its nonce free; an abandoned one spends it', async () => {
    const { account: a, clock } = newAccount();
    expect(await codeOfAsync(perCall(a, clock, 1n, 0n))).toBe('VOUCHER_AMOUNT_TOO_LOW');
    await (
      await a.admit(req(1n), { voucher: voucher(1n, 1n, P, clock.deadlineIn(3600)), evidenceHash: EVIDENCE })
    ).durable;
    a.abandon(1n);
    expect(await codeOfAsync(perCall(a, clock, 1n, P))).toBe('NONCE_STALE');
  });

  it('persists the ceiling, one block ahead, before a nonce above it is served', async () => {
    const { account: a, clock, store } = newAccount();
    await perCall(a, clock, 5n, P);
    expect(store.floors(a.key).ceiling).toBe(5n + RULES.reserveBlock);
    const again = newAccount({ store, clock }).account;
    expect(again.nextNonce).toBe(5n + RULES.reserveBlock + 1n);
  });
});

describe('rule 2: amounts cover what they follow', () => {
  it('a per-call voucher authorises every call at or below it, its own included', async () => {
    const { account: a, clock } = newAccount();
    await perCall(a, clock, 1n, P);
    const low = await refusal(perCall(a, clock, 2n, P));
    expect(low.code).toBe('VOUCHER_AMOUNT_TOO_LOW');
    expect(low.info.required).toBe((2n * P).toString());
    await perCall(a, clock, 2n, 2n * P);
    expect(a.status.cumulativeAmount).toBe(2n * P);
  });

  it('counts covered calls, running or ran; not calls awaiting a Settle, abandoned or fenced', async () => {
    const { account: a, clock } = newAccount();
    await batched(a, 1n); // ran, awaiting a Settle: not covered yet
    await perCall(a, clock, 2n, P);
    const v3 = voucher(3n, 3n, 2n * P, clock.deadlineIn(3600));
    await (await a.admit(req(3n), { voucher: v3, evidenceHash: EVIDENCE })).durable; // running
    expect((await refusal(perCall(a, clock, 4n, 2n * P))).info.required).toBe((3n * P).toString());
    a.abandon(3n);
    await perCall(a, clock, 4n, 2n * P);
    await a.statuses([5n]); // fenced
    await perCall(a, clock, 6n, 3n * P);
    // Settling call 1 covers it: the highest amount must then pay for 1, 2, 4 and 6.
    expect((await refusal(settle(a, clock, 1n, 1n, 3n * P))).info.required).toBe((4n * P).toString());
    await settle(a, clock, 1n, 1n, 4n * P);
  });

  it('honest vouchers arriving out of order pass; a lower amount reordered to arrive last does not', async () => {
    const { account: a, clock } = newAccount();
    await perCall(a, clock, 2n, 2n * P);
    await perCall(a, clock, 1n, P);
    expect(a.status.cumulativeAmount).toBe(2n * P);
    // A client that signs 4 with 3 prices and sends it before 3: both vouchers pass the count up to
    // their own nonce, but together they would leave four calls covered by three prices.
    await perCall(a, clock, 4n, 3n * P);
    const late = await refusal(perCall(a, clock, 3n, 3n * P));
    expect(late.code).toBe('VOUCHER_AMOUNT_TOO_LOW');
    expect(late.info.required).toBe((4n * P).toString());
    await perCall(a, clock, 3n, 4n * P);
  });

  it('a pending voucher stands in for other calls together with its own: honest vouchers that overtake one pass', async () => {
    const { account: a, clock } = newAccount();
    await batched(a, 1n);
    await batched(a, 2n);
    // Per-call 3 (three prices) is running when the Settle of 1..2 (two prices) arrives: whether 3
    // runs or not, a voucher the provider holds pays for every receipt.
    const v3 = voucher(3n, 3n, 3n * P, clock.deadlineIn(3600));
    await (await a.admit(req(3n), { voucher: v3, evidenceHash: EVIDENCE })).durable;
    await settle(a, clock, 1n, 2n, 2n * P);
    a.abandon(3n);
    expect(a.status.cumulativeAmount).toBe(2n * P);
    // Per-call 1 (one price) overtaken by the Settle of 2..3 (three prices), which waits for 3:
    // whether the Settle is signed or refused, a voucher the provider holds pays for every receipt.
    const { account: b, clock: c2 } = newAccount();
    await batched(b, 2n);
    await batched(b, 3n, false);
    const s = settle(b, c2, 2n, 3n, 3n * P);
    await perCall(b, c2, 1n, P);
    b.complete(record(3n));
    await s;
    expect(b.status.cumulativeAmount).toBe(3n * P);
  });

  it('an amount below an earlier one passes while the highest pays for every covered call', async () => {
    const { account: a, clock } = newAccount();
    await perCall(a, clock, 1n, 9n * P);
    await perCall(a, clock, 2n, 2n * P);
    // The highest accepted amount never decreases.
    expect(a.status.cumulativeAmount).toBe(9n * P);
  });

  it('persists the amount floor with the ceiling: after a restart, vouchers start above it', async () => {
    const { account: a, clock, store } = newAccount();
    await perCall(a, clock, 1n, 5n * P);
    await a.persist();
    const b = newAccount({ store, clock }).account;
    expect(b.status.cumulativeAmount).toBe(5n * P);
    const n = b.nextNonce;
    const low = await refusal(perCall(b, clock, n, 5n * P));
    expect(low.info.required).toBe((6n * P).toString());
    await perCall(b, clock, n, 6n * P);
  });

  it('a settle voucher authorises the calls of its range and those before them', async () => {
    const { account: a, clock } = newAccount();
    for (const n of [1n, 2n, 3n]) await batched(a, n);
    expect(await codeOfAsync(settle(a, clock, 1n, 3n, 2n * P))).toBe('VOUCHER_AMOUNT_TOO_LOW');
    expect(a.unsettled()).toHaveLength(3);
    await settle(a, clock, 1n, 3n, 3n * P);
  });
});

describe('rule 3: redeemable deadlines', () => {
  it('refuses a deadline in less than minVoucherLifetimeS, and one in the past', async () => {
    const { account: a, clock } = newAccount();
    expect(await codeOfAsync(perCall(a, clock, 1n, P, 1))).toBe('VOUCHER_DEADLINE_TOO_SOON');
    expect(await codeOfAsync(perCall(a, clock, 1n, P, 599))).toBe('VOUCHER_DEADLINE_TOO_SOON');
    expect(await codeOfAsync(perCall(a, clock, 1n, P, -1))).toBe('VOUCHER_EXPIRED');
    await perCall(a, clock, 1n, P, 600);
  });

  it('refuses a voucher by another key or for another lease before anything else', () => {
    const { account: a, clock } = newAccount();
    const other = voucher(1n, 1n, P, clock.deadlineIn(3600), new Uint8Array(32).fill(2));
    expect(codeOf(() => a.checkInlineVoucher(other, req(1n)))).toBe('VOUCHER_INVALID');
    const wrongCall = voucher(1n, 1n, P, clock.deadlineIn(3600));
    expect(codeOf(() => a.checkInlineVoucher(wrongCall, req(2n)))).toBe('VOUCHER_MISMATCH');
  });
});

describe('rule 4: one receipt per call', () => {
  it('overlapping Settles: the first claims its calls before waiting, the second is refused', async () => {
    const { account: a, clock } = newAccount();
    for (const n of [1n, 2n]) await batched(a, n);
    await batched(a, 3n, false); // still running
    const first = settle(a, clock, 1n, 3n, 3n * P);
    const second = settle(a, clock, 2n, 3n, 3n * P);
    expect(await codeOfAsync(second)).toBe('VOUCHER_MISMATCH');
    expect(a.uncoveredCount).toBe(3);
    a.complete(record(3n));
    const r = await first;
    expect([r.receipt.firstNonce, r.receipt.lastNonce]).toEqual([1n, 3n]);
    expect(a.uncoveredCount).toBe(0);
    expect(await codeOfAsync(settle(a, clock, 3n, 3n, 3n * P))).toBe('VOUCHER_MISMATCH');
  });

  it('the same voucher sent again gets the same receipt, also while the first is waiting', async () => {
    const { account: a, clock } = newAccount();
    await batched(a, 1n, false);
    const v = voucher(1n, 1n, P, clock.deadlineIn(3600));
    const x = a.settle(v, EVIDENCE);
    const y = a.settle(v, EVIDENCE);
    a.complete(record(1n));
    const [rx, ry] = await Promise.all([x, y]);
    expect(ry).toBe(rx);
    expect(await a.settle(v, EVIDENCE)).toBe(rx);
  });

  it('a claimed call that is abandoned fails the Settle and gives the other calls back', async () => {
    const { account: a, clock } = newAccount();
    await batched(a, 1n);
    await batched(a, 2n, false);
    const s = settle(a, clock, 1n, 2n, 2n * P);
    a.abandon(2n);
    expect(await codeOfAsync(s)).toBe('VOUCHER_MISMATCH');
    expect(a.unsettled().map((r) => r.nonce)).toEqual([1n]);
    expect(a.uncoveredCount).toBe(1);
    await settle(a, clock, 1n, 1n, P);
    expect(a.uncoveredCount).toBe(0);
  });

  it('serves at most maxUncovered calls without a voucher, and no fewer than zero', async () => {
    const { account: a, clock } = newAccount();
    for (const n of [1n, 2n, 3n, 4n]) await batched(a, n);
    const over = await refusal(batched(a, 5n));
    expect(over.code).toBe('VOUCHER_REQUIRED');
    expect(a.uncoveredCount).toBe(4);
    await settle(a, clock, 1n, 4n, 4n * P);
    expect(a.uncoveredCount).toBe(0);
    await batched(a, 5n);
    expect(a.uncoveredCount).toBe(1);
  });

  it('a call over the cap waits for a voucher and goes on once one arrives', async () => {
    const { account: a, clock } = newAccount({ rules: { voucherWaitMs: 2_000 }, clock: realtime() });
    for (const n of [1n, 2n, 3n, 4n]) await batched(a, n);
    const waiting = batched(a, 5n);
    await settle(a, clock, 1n, 4n, 4n * P);
    await waiting;
    expect(a.uncoveredCount).toBe(1);
  });
});

describe('rule 5: recovery without a restart', () => {
  it('a lost batch: Sync lists the calls, Settle covers them, batched calls go on', async () => {
    const { account: a, clock } = newAccount();
    for (const n of [1n, 2n, 3n, 4n]) await batched(a, n);
    expect(await codeOfAsync(batched(a, 5n))).toBe('VOUCHER_REQUIRED');
    expect(a.unsettled().map((r) => r.nonce)).toEqual([1n, 2n, 3n, 4n]);
    await settle(a, clock, 1n, 4n, 4n * P);
    expect(a.unsettled()).toEqual([]);
    await batched(a, 5n);
    expect(a.status.vouchedThrough).toBe(4n);
  });

  it('Sync{nonces}: running, ran (with and without receipt), not run, fenced, unknown', async () => {
    const { account: a, clock } = newAccount({ rules: { recentCalls: 3 } });
    await perCall(a, clock, 1n, P);
    await batched(a, 2n);
    await batched(a, 3n, false);
    await batched(a, 4n, false);
    a.abandon(4n);
    const states = await a.statuses([1n, 2n, 3n, 4n, 5n, 0n, 5000n]);
    expect(states.map((s) => s.state)).toEqual([
      'ran',
      'ran-uncovered',
      'running',
      'not-run',
      'not-run',
      'unknown',
      'unknown',
    ]);
    const ran = states[0]!;
    expect(ran.state === 'ran' && ran.receipt.receipt.lastNonce).toBe(1n);
    // Nonce 5 was fenced: it can no longer run, and it was never charged.
    expect(await codeOfAsync(batched(a, 5n))).toBe('NONCE_STALE');
    await perCall(a, clock, 6n, 2n * P); // 1 (covered) and its own: not 2 or 3 (no voucher yet), 4 or 5
    // The memory of finished calls is bounded: the oldest are forgotten.
    await a.statuses([7n, 8n]);
    expect((await a.statuses([1n]))[0]!.state).toBe('unknown');
  });

  it('fencing a nonce above the persisted ceiling persists it before answering', async () => {
    const { account: a, store } = newAccount();
    await a.statuses([3n]);
    expect(store.floors(a.key).ceiling).toBe(3n + RULES.reserveBlock);
  });
});

describe('receipts', () => {
  it('are signed by the signer capability over exactly the voucher range', async () => {
    const signer = countingSigner();
    const { account: a, clock } = newAccount({ signer });
    const r1 = await perCall(a, clock, 1n, P);
    for (const n of [2n, 3n]) await batched(a, n);
    const r2 = await settle(a, clock, 2n, 3n, 3n * P);
    expect(signer.signed).toEqual([r1, r2]);
    expect(r1!.receipt).toMatchObject({ leaseId: LEASE, firstNonce: 1n, lastNonce: 1n });
    expect(r2.receipt).toMatchObject({ firstNonce: 2n, lastNonce: 3n, evidenceHash: `0x${'09'.repeat(32)}` });
  });
});

/** A clock that follows real time (for the waits measured with timers). */
function realtime(): Clock {
  const c = new Clock();
  Object.defineProperty(c, 'ms', { get: () => Date.now() });
  return c;
}
