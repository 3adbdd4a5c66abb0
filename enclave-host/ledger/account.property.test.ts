import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSessionError } from '../../protocol/errors.js';
import type { SignedVoucher } from '../../protocol/settlement.js';
import type { Account } from './account.js';
import {
  Clock,
  countingSigner,
  EVIDENCE,
  newAccount,
  RULES,
  record,
  req,
  voucher,
} from './account-fixture.js';
import { MemoryNonceStore } from './nonce-store.js';

/*
 * Property tests of the books (docs/session.md, "Billing rules"): random interleavings of admissions,
 * completions, abandonments, Settles, per-call vouchers, Syncs and restarts against one account.
 * - Safety, whatever the client sends (any nonce, any amount, replayed and overlapping Settles): every
 *   nonce is taken once; the calls served without a voucher stay within [0, maxUncovered]; no receipt
 *   covers a nonce twice; the accepted cumulative amount never decreases and always pays for every
 *   call a receipt covers.
 * - Fairness: a client that follows the rules, with its requests delivered in any order, is never
 *   refused.
 */

const P = RULES.pricePerCall;
const CAP = RULES.maxUncovered;

/** A nonce relative to the highest one taken (`d` from `top + 1`), or an absolute one. */
type NonceChoice = { d: number } | { abs: bigint };
const nonceArb: fc.Arbitrary<NonceChoice> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ d: fc.integer({ min: -4, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ abs: fc.bigInt({ min: 0n, max: 24n }) }) },
  { weight: 1, arbitrary: fc.record({ abs: fc.constantFrom(1n << 62n, (1n << 64n) - 2n, 1_000_000n) }) },
);
/**
 * An amount `d` prices above or below the calls taken so far (`of: 'taken'`), the highest amount
 * accepted (`of: 'highest'`), or zero: around both edges of the rule.
 */
type AmountChoice = { of: 'taken' | 'highest' | 'zero'; d: number };
const amountArb: fc.Arbitrary<AmountChoice> = fc.oneof(
  fc.record({
    of: fc.constantFrom('taken' as const, 'highest' as const),
    d: fc.integer({ min: -4, max: 2 }),
  }),
  fc.record({ of: fc.constant('zero' as const), d: fc.integer({ min: 0, max: 8 }) }),
);

type Op =
  | { t: 'inline'; n: NonceChoice; k: AmountChoice; soon: boolean }
  | { t: 'batched'; n: NonceChoice }
  | { t: 'complete'; i: number }
  | { t: 'abandon'; i: number }
  | { t: 'settle'; first: SettleFirst; len: number; k: AmountChoice }
  | { t: 'replay' }
  | { t: 'sync'; ns: NonceChoice[] }
  | { t: 'restart' };

type SettleFirst = NonceChoice | { open: number };
const firstArb: fc.Arbitrary<SettleFirst> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ open: fc.nat() }) as fc.Arbitrary<SettleFirst> },
  { weight: 1, arbitrary: fc.record({ d: fc.integer({ min: -8, max: 0 }) }) as fc.Arbitrary<SettleFirst> },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('inline' as const),
      n: nonceArb,
      k: amountArb,
      soon: fc.nat(4).map((x) => x === 0),
    }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('batched' as const), n: nonceArb }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('complete' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abandon' as const), i: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('settle' as const),
      // Mostly from a call a Settle could claim, else anywhere near the top.
      first: firstArb,
      len: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 2 }) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: CAP + 1 }) },
      ),
      k: amountArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('replay' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('sync' as const), ns: fc.array(nonceArb, { maxLength: 4 }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const) }) },
);

/**
 * Run on every run: a Settle of call 1 for one price while per-call 2 (one price, signed while 1 was
 * not covered) and per-call 3 (three prices) are admitted. Counting 3's amount alone for the calls
 * after 1 would let the Settle pass, and the receipts of 1 and 2 then hold one price until 3 runs,
 * and for good if it never does.
 */
const SETTLE_BELOW_PENDING: Op[] = [
  { t: 'batched', n: { abs: 1n } },
  { t: 'inline', n: { abs: 2n }, k: { of: 'highest', d: 1 }, soon: false },
  { t: 'complete', i: 0 },
  { t: 'inline', n: { abs: 3n }, k: { of: 'zero', d: 3 }, soon: false },
  { t: 'settle', first: { open: 0 }, len: 1, k: { of: 'zero', d: 1 } },
  { t: 'batched', n: { d: 0 } },
  { t: 'settle', first: { d: 0 }, len: 1, k: { of: 'zero', d: 0 } },
  { t: 'batched', n: { d: 0 } },
  { t: 'batched', n: { d: 0 } },
  { t: 'settle', first: { d: 0 }, len: 1, k: { of: 'taken', d: 0 } },
  { t: 'complete', i: 0 },
  { t: 'settle', first: { d: 0 }, len: 1, k: { of: 'zero', d: 0 } },
  { t: 'sync', ns: [] },
  { t: 'inline', n: { d: 0 }, k: { of: 'taken', d: 0 }, soon: true },
  { t: 'batched', n: { d: 0 } },
];

async function ok(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (e) {
    if (!isSessionError(e)) throw e;
    return false;
  }
}

describe('the books hold whatever the client sends', () => {
  it('nonces once, uncovered within [0, cap], one receipt per nonce, amounts that never decrease and pay for every covered call', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 60 }), async (ops) => {
        const store = new MemoryNonceStore();
        const clock = new Clock();
        const signer = countingSigner();
        let a: Account = newAccount({ store, clock, signer }).account;
        const taken = new Set<bigint>();
        let running: bigint[] = [];
        let pending: Promise<unknown>[] = [];
        let lastSettle: SignedVoucher | undefined;
        let cumulative = 0n;

        const check = () => {
          expect(a.uncoveredCount).toBeGreaterThanOrEqual(0);
          expect(a.uncoveredCount).toBeLessThanOrEqual(CAP);
          const covered = new Set<bigint>();
          for (const r of signer.signed)
            for (let n = r.receipt.firstNonce; n <= r.receipt.lastNonce; n++) {
              expect(covered.has(n), `nonce ${n} covered twice`).toBe(false);
              covered.add(n);
            }
          const amount = a.status.cumulativeAmount;
          expect(amount).toBeGreaterThanOrEqual(cumulative);
          cumulative = amount;
          expect(amount).toBeGreaterThanOrEqual(P * BigInt(covered.size));
        };
        const admitted = (n: bigint) => {
          expect(taken.has(n), `nonce ${n} taken twice`).toBe(false);
          taken.add(n);
          running.push(n);
        };
        const drain = async () => {
          for (const n of running) a.complete(record(n));
          running = [];
          await Promise.allSettled(pending);
          pending = [];
        };

        const nonce = (c: NonceChoice) => {
          if ('abs' in c) return c.abs;
          const n = a.nextNonce + BigInt(c.d);
          return n < 0n ? 0n : n;
        };
        /** Calls served without a voucher so far (some settled since). */
        const served = new Set<bigint>();
        /** One of the calls a Settle could still claim (ran or running, no voucher), by index. */
        const openCall = (i: number) => {
          const open = [...a.unsettled().map((r) => r.nonce), ...running.filter((n) => served.has(n))].sort(
            (x, y) => (x < y ? -1 : 1),
          );
          return open.length ? open[i % open.length]! : a.nextNonce;
        };
        const amount = (k: AmountChoice) => {
          const base =
            k.of === 'taken' ? BigInt(taken.size) * P : k.of === 'highest' ? a.status.cumulativeAmount : 0n;
          const v = base + BigInt(k.d) * P;
          return v > 0n ? v : 0n;
        };

        for (const op of ops) {
          switch (op.t) {
            case 'inline': {
              const n = nonce(op.n);
              const v = voucher(n, n, amount(op.k), clock.deadlineIn(op.soon ? 10 : 3600));
              const p = (async () => {
                a.checkInlineVoucher(v, req(n));
                await (await a.admit(req(n), { voucher: v, evidenceHash: EVIDENCE })).durable;
              })();
              if (await ok(p)) admitted(n);
              break;
            }
            case 'batched': {
              const n = nonce(op.n);
              if (await ok(a.admit(req(n), { evidenceHash: EVIDENCE }).then((x) => x.durable))) {
                admitted(n);
                served.add(n);
              }
              break;
            }
            case 'complete':
            case 'abandon': {
              if (running.length === 0) break;
              const [n] = running.splice(op.i % running.length, 1);
              if (op.t === 'complete') a.complete(record(n!));
              else a.abandon(n!);
              break;
            }
            case 'settle': {
              const first = 'open' in op.first ? openCall(op.first.open) : nonce(op.first);
              const v = voucher(first, first + BigInt(op.len - 1), amount(op.k), clock.deadlineIn(3600));
              lastSettle = v;
              pending.push(a.settle(v, EVIDENCE).catch(() => undefined));
              break;
            }
            case 'replay':
              if (lastSettle) pending.push(a.settle(lastSettle, EVIDENCE).catch(() => undefined));
              break;
            case 'sync': {
              const ns = op.ns.map(nonce);
              const states = await a.statuses(ns);
              ns.forEach((n, i) => {
                // A nonce this Sync fenced is taken now.
                if (states[i]!.state === 'not-run' && !taken.has(n)) taken.add(n);
              });
              break;
            }
            case 'restart': {
              await drain();
              await a.persist();
              a = newAccount({ store, clock, signer }).account;
              break;
            }
          }
          await Promise.resolve();
          check();
        }
        await drain();
        check();
      }),
      { numRuns: 150, examples: [[SETTLE_BELOW_PENDING]] },
    );
  });
});

type HonestOp =
  | { t: 'perCall' }
  | { t: 'batched' }
  | { t: 'deliver'; i: number }
  | { t: 'complete'; i: number }
  | { t: 'abandon'; i: number }
  | { t: 'settle' }
  | { t: 'restart'; clean: boolean };

const honestArb: fc.Arbitrary<HonestOp> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ t: 'perCall' as const }) },
  { weight: 4, arbitrary: fc.constant({ t: 'batched' as const }) },
  { weight: 8, arbitrary: fc.record({ t: fc.constant('deliver' as const), i: fc.nat() }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('complete' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abandon' as const), i: fc.nat() }) },
  { weight: 4, arbitrary: fc.constant({ t: 'settle' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), clean: fc.boolean() }) },
);

/**
 * A client that follows the rules of docs/session.md ("Billing rules", 2: "letting its amounts rise
 * with its nonces"): the amount of a voucher over [first, last] is the amount Sync reported when it
 * (re)bound plus the price of every call at or below `last` it sent since and was not told did not
 * run, and never less than a voucher it signed for an earlier range. It counts by nonce, not by
 * time, so an older range signed late (a lost batch recovered) needs no second signature.
 */
class HonestClient {
  next: bigint;
  private base = 0n;
  /** Calls sent since the last bind: whether each was told NOT_RUN. */
  private readonly sent = new Map<bigint, boolean>();
  private readonly signed: { last: bigint; amount: bigint }[] = [];

  constructor(a: Account) {
    this.next = a.nextNonce;
    this.bind(a);
  }

  /** The Sync of a new session: next nonce and amount authorised. */
  bind(a: Account): void {
    if (a.nextNonce > this.next) this.next = a.nextNonce;
    if (a.status.cumulativeAmount > this.base) this.base = a.status.cumulativeAmount;
    this.sent.clear();
  }

  send(): bigint {
    const n = this.next++;
    this.sent.set(n, false);
    return n;
  }

  toldNotRun(n: bigint): void {
    this.sent.set(n, true);
  }

  amount(first: bigint, last: bigint): bigint {
    let k = 0n;
    for (const [n, notRun] of this.sent) if (n <= last && !notRun) k++;
    let amount = this.base + P * k;
    for (const v of this.signed) if (v.last < first && v.amount > amount) amount = v.amount;
    this.signed.push({ last, amount });
    return amount;
  }
}

describe('fairness', () => {
  it('a client following the rules is never refused, whatever the order its requests arrive in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(honestArb, { minLength: 20, maxLength: 100 }), async (ops) => {
        const store = new MemoryNonceStore();
        const clock = new Clock();
        let a: Account = newAccount({ store, clock }).account;
        const client = new HonestClient(a);
        // Batched calls sent and not covered by a Settle that was answered (the SDK's own cap).
        let uncovered = 0;
        const batchedDone = new Set<bigint>();
        const isBatched = new Set<bigint>();
        let inFlight: (() => Promise<void>)[] = [];
        let running: bigint[] = [];
        const refusals: string[] = [];

        const expectServed = async (what: string, p: Promise<unknown>) => {
          try {
            await p;
          } catch (e) {
            refusals.push(`${what}: ${String(e)}`);
          }
        };

        for (const op of ops) {
          switch (op.t) {
            case 'perCall': {
              const n = client.send();
              const v = voucher(n, n, client.amount(n, n), clock.deadlineIn(3600));
              const acct = a;
              inFlight.push(() =>
                expectServed(
                  `per-call ${n}`,
                  (async () => {
                    acct.checkInlineVoucher(v, req(n));
                    await (await acct.admit(req(n), { voucher: v, evidenceHash: EVIDENCE })).durable;
                    running.push(n);
                  })(),
                ),
              );
              break;
            }
            case 'batched': {
              if (uncovered >= CAP) break;
              const n = client.send();
              uncovered++;
              isBatched.add(n);
              const acct = a;
              inFlight.push(() =>
                expectServed(
                  `batched ${n}`,
                  (async () => {
                    await (await acct.admit(req(n), { evidenceHash: EVIDENCE })).durable;
                    running.push(n);
                  })(),
                ),
              );
              break;
            }
            case 'deliver': {
              if (inFlight.length === 0) break;
              const [send] = inFlight.splice(op.i % inFlight.length, 1);
              await send!();
              break;
            }
            case 'complete':
            case 'abandon': {
              if (running.length === 0) break;
              const [n] = running.splice(op.i % running.length, 1);
              if (op.t === 'complete') {
                a.complete(record(n!));
                if (isBatched.has(n!)) batchedDone.add(n!);
              } else {
                a.abandon(n!);
                // Told NOT_RUN: not charged, and its place in the batch is free again.
                client.toldNotRun(n!);
                if (isBatched.has(n!)) uncovered--;
              }
              break;
            }
            case 'settle': {
              // The lowest run of consecutive answered batched calls, at most one voucher range.
              const sorted = [...batchedDone].sort((x, y) => (x < y ? -1 : 1));
              if (sorted.length === 0) break;
              const run = [sorted[0]!];
              for (const n of sorted.slice(1)) {
                if (n !== run[run.length - 1]! + 1n || run.length >= RULES.maxVoucherRange) break;
                run.push(n);
              }
              for (const n of run) batchedDone.delete(n);
              const first = run[0]!;
              const last = run[run.length - 1]!;
              const v = voucher(first, last, client.amount(first, last), clock.deadlineIn(3600));
              const acct = a;
              inFlight.push(() =>
                expectServed(
                  `settle ${first}..${last}`,
                  (async () => {
                    await acct.settle(v, EVIDENCE);
                    uncovered -= run.length;
                  })(),
                ),
              );
              break;
            }
            case 'restart': {
              // Requests on the way and calls running are lost; the client binds a new session.
              if (op.clean) await a.persist();
              a = newAccount({ store, clock }).account;
              inFlight = [];
              running = [];
              batchedDone.clear();
              uncovered = 0;
              client.bind(a);
              break;
            }
          }
        }
        for (const send of inFlight) await send();
        expect(refusals).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
