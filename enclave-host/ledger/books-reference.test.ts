import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_NONCE, NonceBook, type Taken } from './nonce-book.js';

/*
 * The nonce book against a naive reference (every nonce kept in a plain map): it takes exactly the
 * nonces the rule allows, and its count of covered nonces at or below a nonce is exact down to the
 * window's lower edge and never above the reference below it (a lower bound asks a client less,
 * never more).
 */

const takenArb = fc.constantFrom<Taken>('covered', 'uncovered', 'void');

describe('NonceBook against a naive reference', () => {
  it('takes exactly the nonces the rule allows, and counts the covered ones', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            n: fc.bigInt({ min: 0n, max: 80n }),
            as: takenArb,
            // A later change of an earlier nonce (a claim, a claim given back, an abandonment).
            change: fc.option(fc.record({ pick: fc.nat(), to: takenArb }), { nil: undefined }),
            last: fc.bigInt({ min: 0n, max: 90n }),
          }),
          { maxLength: 120 },
        ),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        (ops, window, maxJump) => {
          const floor = 3n;
          const book = new NonceBook(floor, { window, maxJump });
          const taken = new Map<bigint, Taken>();
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
              book.take(op.n, op.as);
              taken.set(op.n, op.as);
              if (op.n > highest) highest = op.n;
            }
            if (op.change && taken.size > 0) {
              const keys = [...taken.keys()];
              const n = keys[op.change.pick % keys.length]!;
              book.mark(n, taken.get(n)!, op.change.to);
              taken.set(n, op.change.to);
            }
            let exact = 0;
            for (const [n, t] of taken) if (t === 'covered' && n <= op.last) exact++;
            const fast = book.coveredAtOrBelow(op.last);
            if (op.last > highest - BigInt(window)) expect(fast).toBe(exact);
            else expect(fast).toBeLessThanOrEqual(exact);
            expect(book.covered).toBe([...taken.values()].filter((t) => t === 'covered').length);
            expect(book.nextNonce).toBe(highest + 1n);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
