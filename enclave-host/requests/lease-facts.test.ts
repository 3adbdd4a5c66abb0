import { describe, expect, it } from 'vitest';
import type { ProbeGrant } from '../../protocol/probe-grant.js';
import { addressOfPrivateKey } from '../../protocol/secp256k1.js';
import { codeOf, codeOfAsync } from '../../test/error-code.js';
import type { Account } from '../ledger/account.js';
import {
  CLIENT,
  Clock,
  countingSigner,
  DOMAIN,
  EVIDENCE,
  LEASE,
  perCall,
  RULES,
  record,
  req,
  voucher,
} from '../ledger/account-fixture.js';
import { Books } from '../ledger/books.js';
import type { RequestContext } from './context.js';
import type { LeaseFacts } from './lease-checks.js';
import { noteLeaseFacts } from './lease-facts.js';
import { ProbeReservations } from './probe-reservations.js';

/*
 * What a passed lease check notes in the books: a witness is capped at its grant, and the customer's
 * budget leaves room for every cap admitted. The fixture's client (CLIENT) is the lease's customer.
 */

const P = RULES.pricePerCall;
const BUDGET = 100n * P;
const witness = (i: number) => `0x${i.toString(16).padStart(40, '0')}`;
const WITNESS_KEY = new Uint8Array(32).fill(2);
const WITNESS = addressOfPrivateKey(WITNESS_KEY);

/** A per-call call of the witness, paid with a voucher its own key signs. */
async function witnessCall(a: Account, clock: Clock, n: bigint, amount: bigint) {
  const v = voucher(n, n, amount, clock.deadlineIn(3600), WITNESS_KEY);
  a.checkInlineVoucher(v, req(n));
  await (await a.admit(req(n), { voucher: v, evidenceHash: EVIDENCE })).durable;
  return a.complete(record(n));
}

function context(maxWitnesses = 16) {
  const clock = new Clock();
  const books = new Books({
    domain: DOMAIN,
    signer: countingSigner(),
    rules: RULES,
    now: clock.now,
    maxAccounts: 64,
  });
  const c = {
    books,
    probes: new ProbeReservations({ maxWitnesses }),
    terms: { pricePerCall: P },
  } as unknown as RequestContext;
  return { c, books, clock };
}

function grantFacts(w: string, g: Partial<ProbeGrant> = {}): LeaseFacts {
  return {
    budget: BUDGET,
    probe: {
      customer: CLIENT,
      grant: {
        leaseId: LEASE,
        witness: w,
        epoch: 0n,
        maxCalls: 10n,
        maxAmount: 10n * P,
        expiry: 2_000_000_000n,
        ...g,
      },
      until: 2_000_000_000n,
    },
  };
}

/** What a Sync or call does with the facts: note them, then keep the account. */
function admitFacts(c: RequestContext, client: string, facts: LeaseFacts): Account {
  const note = noteLeaseFacts(c, LEASE, facts);
  const a = c.books.get(LEASE, client);
  note(a);
  return a;
}

describe('noteLeaseFacts', () => {
  it('caps a witness at min(maxAmount, maxCalls × price, budget): it cannot spend above its cap', async () => {
    const { c, clock } = context();
    // maxCalls bounds: 3 calls' worth, below maxAmount.
    const w = admitFacts(c, WITNESS, grantFacts(WITNESS, { maxCalls: 3n, maxAmount: 50n * P }));
    expect(c.probes.capOf(LEASE, WITNESS)).toBe(3n * P);
    for (let n = 1n; n <= 3n; n++) await witnessCall(w, clock, n, n * P);
    expect(await codeOfAsync(witnessCall(w, clock, 4n, 4n * P))).toBe('VOUCHER_OVER_BUDGET');
    expect(await codeOfAsync(w.admit(req(4n), { evidenceHash: EVIDENCE }))).toBe('VOUCHER_OVER_BUDGET');
    // maxAmount bounds.
    admitFacts(c, witness(2), grantFacts(witness(2), { maxCalls: 100n, maxAmount: 2n * P }));
    expect(c.probes.capOf(LEASE, witness(2))).toBe(2n * P);
    // The budget bounds.
    const { c: c2 } = context();
    admitFacts(c2, witness(3), { ...grantFacts(witness(3), { maxCalls: 1000n, maxAmount: 1000n * P }) });
    expect(c2.probes.capOf(LEASE, witness(3))).toBe(BUDGET);
  });

  it("the customer's budget shrinks by the caps admitted, on its kept books at once", async () => {
    const { c, clock } = context();
    const customer = admitFacts(c, CLIENT, { budget: BUDGET });
    admitFacts(c, witness(1), grantFacts(witness(1)));
    admitFacts(c, witness(2), grantFacts(witness(2)));
    // 80 calls fit beside the two caps of 10; the 81st does not, per call or batched.
    await perCall(customer, clock, 1n, 80n * P);
    expect(await codeOfAsync(perCall(customer, clock, 2n, 81n * P))).toBe('VOUCHER_OVER_BUDGET');
    // Noted again from a fresh check of the customer: still less the caps.
    admitFacts(c, CLIENT, { budget: BUDGET });
    expect(await codeOfAsync(perCall(customer, clock, 2n, 81n * P))).toBe('VOUCHER_OVER_BUDGET');
  });

  it('attack: a customer cannot Settle into the reserved caps (the batched calls it ran are refused room)', async () => {
    const { c, clock } = context();
    const customer = admitFacts(c, CLIENT, { budget: BUDGET });
    for (let n = 1n; n <= 4n; n++) {
      await (await customer.admit(req(n), { evidenceHash: EVIDENCE })).durable;
      customer.complete(record(n));
    }
    admitFacts(c, witness(1), grantFacts(witness(1), { maxAmount: 96n * P, maxCalls: 96n }));
    expect(
      await codeOfAsync(customer.settle(voucher(1n, 4n, 5n * P, clock.deadlineIn(3600)), EVIDENCE)),
    ).toBe('VOUCHER_OVER_BUDGET');
    await customer.settle(voucher(1n, 4n, 4n * P, clock.deadlineIn(3600)), EVIDENCE);
    expect(await codeOfAsync(customer.admit(req(5n), { evidenceHash: EVIDENCE }))).toBe(
      'VOUCHER_OVER_BUDGET',
    );
  });

  it('refuses a grant whose cap does not fit beside what the customer committed (PROBE_GRANT_OVER_BUDGET)', async () => {
    const { c, clock } = context();
    const customer = admitFacts(c, CLIENT, { budget: BUDGET });
    await perCall(customer, clock, 1n, 95n * P);
    expect(codeOf(() => noteLeaseFacts(c, LEASE, grantFacts(witness(1))))).toBe('PROBE_GRANT_OVER_BUDGET');
    expect(c.probes.reserved(LEASE)).toBe(0n);
    admitFacts(c, witness(1), grantFacts(witness(1), { maxAmount: 5n * P }));
    expect(c.probes.reserved(LEASE)).toBe(5n * P);
  });

  it('counts a customer known only from the persisted floors (books let go) as committed', async () => {
    const { c, books } = context();
    const store = (books as unknown as { store: { raise(k: string, f: object): Promise<void> } }).store;
    await store.raise(`${LEASE}/${CLIENT}`, { ceiling: 10n, amountFloor: 99n * P });
    expect(codeOf(() => noteLeaseFacts(c, LEASE, grantFacts(witness(1))))).toBe('PROBE_GRANT_OVER_BUDGET');
  });

  it('refuses a 17th witness on the lease (PROBE_GRANT_LIMIT)', () => {
    const { c } = context();
    for (let i = 1; i <= 16; i++) admitFacts(c, witness(i), grantFacts(witness(i), { maxAmount: P }));
    expect(codeOf(() => noteLeaseFacts(c, LEASE, grantFacts(witness(17), { maxAmount: P })))).toBe(
      'PROBE_GRANT_LIMIT',
    );
  });
});
