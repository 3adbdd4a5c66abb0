import { describe, expect, it } from 'vitest';
import { isSessionError } from '../../protocol/errors.js';
import { codeOfAsync } from '../../test/error-code.js';
import type { Account } from './account.js';
import {
  countingSigner,
  EVIDENCE,
  newAccount,
  perCall,
  RULES,
  record,
  req,
  voucher,
} from './account-fixture.js';

/*
 * A customer attacking its own books (docs/session.md, "Billing rules"): requests an honest SDK
 * would not send, aimed at getting calls whose price no voucher the provider holds pays for. The
 * invariant every case checks: the highest amount the books count is the amount of a voucher they
 * accepted, and it pays for every covered call.
 */

const P = RULES.pricePerCall;

async function batched(a: Account, n: bigint, complete = true) {
  await (await a.admit(req(n), { evidenceHash: EVIDENCE })).durable;
  if (complete) a.complete(record(n));
}

async function required(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!isSessionError(e) || e.code !== 'VOUCHER_AMOUNT_TOO_LOW') throw new Error(`expected TOO_LOW: ${e}`);
  return String(e.info.required);
}

describe('a refused Settle moves no amount', () => {
  it('a huge Settle voucher refused because a claimed call did not run does not raise the highest amount', async () => {
    const { account: a, clock } = newAccount();
    await batched(a, 1n);
    await batched(a, 2n, false);
    // Claims 1 and 2 with an amount no provider will ever hold (the Settle is refused).
    const s = a.settle(voucher(1n, 2n, 1_000_000n * P, clock.deadlineIn(3600)), EVIDENCE);
    a.abandon(2n);
    expect(await codeOfAsync(s)).toBe('VOUCHER_MISMATCH');
    expect(a.status.cumulativeAmount).toBe(0n);
    // Otherwise the phantom amount would let every later voucher pay only for the calls at or
    // below its own nonce: descending nonces would each carry the same amount.
    await perCall(a, clock, 1026n, P);
    expect(await required(perCall(a, clock, 1025n, P))).toBe((2n * P).toString());
    await perCall(a, clock, 1025n, 2n * P);
    expect(a.status.cumulativeAmount).toBe(2n * P);
  });

  it('a Settle still waiting counts its calls as covered, its amount only with them; once signed, it counts', async () => {
    const { account: a, clock } = newAccount();
    await batched(a, 1n);
    await batched(a, 2n, false);
    const s = a.settle(voucher(1n, 2n, 100n * P, clock.deadlineIn(3600)), EVIDENCE);
    // A per-call voucher meanwhile must pay for the two claimed calls and its own.
    expect(await required(perCall(a, clock, 3n, P))).toBe((3n * P).toString());
    await perCall(a, clock, 3n, 3n * P);
    a.complete(record(2n));
    await s;
    expect(a.status.cumulativeAmount).toBe(100n * P);
  });

  it('the same refused voucher sent again is judged again, and still moves nothing', async () => {
    const { account: a, clock } = newAccount();
    await batched(a, 1n);
    await batched(a, 2n, false);
    const v = voucher(1n, 2n, 50n * P, clock.deadlineIn(3600));
    const first = a.settle(v, EVIDENCE);
    a.abandon(2n);
    expect(await codeOfAsync(first)).toBe('VOUCHER_MISMATCH');
    expect(await codeOfAsync(a.settle(v, EVIDENCE))).toBe('VOUCHER_MISMATCH');
    expect(a.status.cumulativeAmount).toBe(0n);
    expect(a.unsettled().map((r) => r.nonce)).toEqual([1n]);
  });
});

describe('vouchers that try to cover what is not theirs', () => {
  it('a Settle naming a call its per-call voucher covers already is refused; nothing is covered twice', async () => {
    const { account: a, clock } = newAccount();
    await perCall(a, clock, 1n, P);
    await batched(a, 2n);
    const s = a.settle(voucher(1n, 2n, 2n * P, clock.deadlineIn(3600)), EVIDENCE);
    expect(await codeOfAsync(s)).toBe('VOUCHER_MISMATCH');
    expect(a.uncoveredCount).toBe(1);
    await a.settle(voucher(2n, 2n, 2n * P, clock.deadlineIn(3600)), EVIDENCE);
    expect(a.uncoveredCount).toBe(0);
  });

  it('a Settle over a fenced nonce, or over a nonce never served, is refused', async () => {
    const { account: a, clock } = newAccount();
    await batched(a, 1n);
    await a.statuses([2n]); // fenced: spent, never ran
    await batched(a, 3n);
    expect(await codeOfAsync(a.settle(voucher(1n, 3n, 3n * P, clock.deadlineIn(3600)), EVIDENCE))).toBe(
      'VOUCHER_MISMATCH',
    );
    expect(await codeOfAsync(a.settle(voucher(3n, 4n, 3n * P, clock.deadlineIn(3600)), EVIDENCE))).toBe(
      'VOUCHER_MISMATCH',
    );
    expect(a.unsettled().map((r) => r.nonce)).toEqual([1n, 3n]);
    expect(a.status.cumulativeAmount).toBe(0n);
  });

  it('an old Settle voucher replayed after its receipt left the memory of settles gets no second receipt', async () => {
    const signer = countingSigner();
    const { account: a, clock } = newAccount({ signer });
    const vouchers = [];
    for (let n = 1n; n <= BigInt(RULES.recentSettles) + 2n; n++) {
      await batched(a, n);
      const v = voucher(n, n, n * P, clock.deadlineIn(3600));
      await a.settle(v, EVIDENCE);
      vouchers.push(v);
    }
    const signed = signer.signed.length;
    expect(await codeOfAsync(a.settle(vouchers[0]!, EVIDENCE))).toBe('VOUCHER_MISMATCH');
    expect(signer.signed.length).toBe(signed);
    // The last one is remembered: the same receipt, not a new one.
    expect(await a.settle(vouchers[vouchers.length - 1]!, EVIDENCE)).toBe(signer.signed[signed - 1]);
    expect(signer.signed.length).toBe(signed);
  });

  it('descending nonces with a constant amount: each voucher past the first must pay for every covered call', async () => {
    const { account: a, clock } = newAccount();
    await perCall(a, clock, 100n, P);
    for (let n = 99n; n > 90n; n--) {
      const count = BigInt(101n - n);
      expect(await required(perCall(a, clock, n, P))).toBe((count * P).toString());
      await perCall(a, clock, n, count * P);
    }
    expect(a.status.cumulativeAmount).toBe(10n * P);
  });
});

describe('an inline voucher whose call is abandoned', () => {
  // A customer can make its own call be abandoned: over its per-tenant queue the runtime refuses it
  // (RUNTIME_BUSY) after admission. Its voucher is dropped with the call: the provider never holds
  // it, so while the call is admitted its amount stands in for other calls only together with its
  // own, and once dropped it stands in for nothing (descending nonces would then pass at a constant
  // amount, and receipts signed meanwhile would be paid for by no voucher the provider holds).
  it('does not leave its amount standing in for the covered calls after it', async () => {
    const { account: a, clock } = newAccount();
    await perCall(a, clock, 1n, P);
    const v = voucher(1025n, 1025n, 1_000_000n * P, clock.deadlineIn(3600));
    await (await a.admit(req(1025n), { voucher: v, evidenceHash: EVIDENCE })).durable;
    a.abandon(1025n);
    await perCall(a, clock, 1024n, 2n * P);
    // Calls 1 and 1024 are covered: 1023 must pay for three.
    expect(await required(perCall(a, clock, 1023n, 2n * P))).toBe((3n * P).toString());
  });

  it('calls admitted while it was pending are paid for by the next voucher once it is dropped', async () => {
    const { account: a, clock } = newAccount();
    await perCall(a, clock, 1n, P);
    const v = voucher(1025n, 1025n, 1_000_000n * P, clock.deadlineIn(3600));
    await (await a.admit(req(1025n), { voucher: v, evidenceHash: EVIDENCE })).durable;
    // While it is pending its amount covers everything: 1024 passes at 2P (it ran, and is covered).
    await perCall(a, clock, 1024n, 2n * P);
    a.abandon(1025n);
    expect(a.status.cumulativeAmount).toBe(2n * P);
    // Dropped: the next voucher must pay for every covered call again (1, 1024 and its own).
    expect(await required(perCall(a, clock, 1023n, 2n * P))).toBe((3n * P).toString());
    await perCall(a, clock, 1023n, 3n * P);
    expect(a.status.cumulativeAmount).toBe(3n * P);
  });
});

describe('a pending inline voucher and a Settle below it', () => {
  it('a Settle may not lean on the amount of a call that can still be abandoned to leave a receipt unpaid', async () => {
    const signer = countingSigner();
    const { account: a, clock } = newAccount({ signer });
    await batched(a, 1n); // ran, awaiting a Settle
    const admit = async (n: bigint, amount: bigint) => {
      const v = voucher(n, n, amount, clock.deadlineIn(3600));
      a.checkInlineVoucher(v, req(n));
      await (await a.admit(req(n), { voucher: v, evidenceHash: EVIDENCE })).durable;
    };
    await admit(2n, P); // running; call 1 is not covered, so one price pays for what 2 follows
    await admit(3n, 3n * P); // running; pays for 1, 2 and 3
    // Settling 1 for one price would leave 1 and 2 paid for by 3's voucher alone, which is dropped
    // if 3 never runs: two receipts and one price held.
    expect(await required(a.settle(voucher(1n, 1n, P, clock.deadlineIn(3600)), EVIDENCE))).toBe(
      (2n * P).toString(),
    );
    await a.settle(voucher(1n, 1n, 2n * P, clock.deadlineIn(3600)), EVIDENCE);
    a.complete(record(2n));
    a.abandon(3n);
    expect(signer.signed.map((r) => r.receipt.lastNonce)).toEqual([1n, 2n]);
    expect(a.status.cumulativeAmount).toBe(2n * P);
  });
});

describe('a voucher above the lease budget', () => {
  // Settlement refuses to redeem a cumulative amount above the lease's budget, so such a voucher
  // would stand in for later calls (the amount rule's highest amount) while paying for none.
  it('is refused, per call and by Settle, once a lease check told the budget; calls within it pass', async () => {
    const { account: a, clock } = newAccount();
    a.noteBudget(10n * P);
    expect(await codeOfAsync(perCall(a, clock, 1n, 11n * P))).toBe('VOUCHER_OVER_BUDGET');
    await perCall(a, clock, 1n, 10n * P);
    await batched(a, 2n);
    expect(await codeOfAsync(a.settle(voucher(2n, 2n, 11n * P, clock.deadlineIn(3600)), EVIDENCE))).toBe(
      'VOUCHER_OVER_BUDGET',
    );
    expect(a.status.cumulativeAmount).toBe(10n * P);
    // Without a budget (no chain) nothing bounds the amount.
    const { account: b, clock: c2 } = newAccount();
    await perCall(b, c2, 1n, 1_000_000n * P);
    expect(b.status.cumulativeAmount).toBe(1_000_000n * P);
  });
});

describe('calls served without a voucher stay within the budget', () => {
  // A witness's books are capped at its probe grant's cap; batched calls run before any voucher, so
  // the cap must bound them at admission too, or the witness gets calls no redeemable voucher pays.
  it('attack: batched calls beyond the budget are refused at admission, before they run', async () => {
    const { account: a, clock } = newAccount();
    a.noteBudget(3n * P);
    await batched(a, 1n);
    await batched(a, 2n);
    await batched(a, 3n);
    expect(await codeOfAsync(batched(a, 4n))).toBe('VOUCHER_OVER_BUDGET');
    expect(a.unsettled().map((r) => r.nonce)).toEqual([1n, 2n, 3n]);
    await a.settle(voucher(1n, 3n, 3n * P, clock.deadlineIn(3600)), EVIDENCE);
    // Paid up to the budget: no room for one more call, with a voucher or without.
    expect(await codeOfAsync(batched(a, 4n))).toBe('VOUCHER_OVER_BUDGET');
    expect(await codeOfAsync(perCall(a, clock, 4n, 4n * P))).toBe('VOUCHER_OVER_BUDGET');
  });

  it('counts the calls still running: per-call calls in flight leave no room for a batched one', async () => {
    const { account: a, clock } = newAccount();
    a.noteBudget(2n * P);
    const v = voucher(1n, 1n, 2n * P, clock.deadlineIn(3600));
    a.checkInlineVoucher(v, req(1n));
    await (await a.admit(req(1n), { voucher: v, evidenceHash: EVIDENCE })).durable;
    await batched(a, 2n, false);
    expect(await codeOfAsync(batched(a, 3n))).toBe('VOUCHER_OVER_BUDGET');
    expect(a.committedAmount).toBe(2n * P);
  });
});
