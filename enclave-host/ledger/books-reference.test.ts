import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmountBook } from './amount-book.js';
import { MAX_NONCE, NonceBook } from './nonce-book.js';

/*
 * The two fast structures of the books against naive references (every nonce and every voucher kept
 * in plain lists): exact where they claim to be, never above the reference where they fall back to
 * a lower bound (a lower bound asks a client less, never more).
 */

describe('NonceBook against a naive reference', () => {
  it('takes exactly the nonces the rule allows, and counts them', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            n: fc.bigInt({ min: 0n, max: 80n }),
            counts: fc.boolean(),
            uncount: fc.boolean(),
            last: fc.bigInt({ min: 0n, max: 90n }),
          }),
          { maxLength: 120 },
        ),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        (ops, window, maxJump) => {
          const floor = 3n;
          const book = new NonceBook(floor, { window, maxJump });
          const taken = new Map<bigint, boolean>();
          let highest = floor;
          for (const op of ops) {
            const allowed =
              op.n > floor &&
              op.n > highest - BigInt(window) &&
              !taken.has(op.n) &&
              op.n <= highest + BigInt(maxJump) &&
              op.n <= MAX_NONCE;
            expect(book.refusal(op.n) === undefined, `nonce ${op.n}`).toBe(allowed);
            if (allowed) {
              book.take(op.n, op.counts);
              taken.set(op.n, op.counts);
              if (op.n > highest) highest = op.n;
              if (op.counts && op.uncount) {
                book.uncount(op.n);
                taken.set(op.n, false);
              }
            }
            let exact = 0;
            for (const [n, counts] of taken) if (counts && n <= op.last) exact++;
            const fast = book.countAtOrBelow(op.last);
            if (op.last > highest - BigInt(window)) expect(fast).toBe(exact);
            else expect(fast).toBeLessThanOrEqual(exact);
            expect(book.counted).toBe([...taken.values()].filter(Boolean).length);
            expect(book.nextNonce).toBe(highest + 1n);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('AmountBook against a naive reference', () => {
  it('the highest amount ending before a nonce: exact without folding, a lower bound with it', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ last: fc.bigInt({ min: 1n, max: 60n }), amount: fc.bigInt({ min: 0n, max: 1000n }) }),
          { maxLength: 80 },
        ),
        fc.bigInt({ min: 0n, max: 62n }),
        fc.integer({ min: 1, max: 8 }),
        (vouchers, first, keep) => {
          const unfolded = new AmountBook(5n, 1000);
          const folding = new AmountBook(5n, keep);
          let highest = 5n;
          for (const v of vouchers) {
            unfolded.accept(v.last, v.amount);
            folding.accept(v.last, v.amount);
            if (v.amount > highest) highest = v.amount;
          }
          let naive = 0n;
          for (const v of vouchers) if (v.last < first && v.amount > naive) naive = v.amount;
          expect(unfolded.endingBefore(first)).toBe(naive);
          expect(folding.endingBefore(first)).toBeLessThanOrEqual(naive);
          expect(unfolded.highest).toBe(highest);
          expect(folding.highest).toBe(highest);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
