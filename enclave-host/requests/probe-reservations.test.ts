import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/error-code.js';
import { ProbeReservations } from './probe-reservations.js';

/* The caps reserved for probe grants: bounded per lease, never beyond the budget, only growing. */

const LEASE = 7n;
const witness = (i: number) => `0x${i.toString(16).padStart(40, '0')}`;

describe('ProbeReservations', () => {
  it('reserves caps that fit beside the customer, and sums them', () => {
    const r = new ProbeReservations({ maxWitnesses: 4 });
    r.reserve({ leaseId: LEASE, witness: witness(1), cap: 30n, budget: 100n, customerCommitted: 40n });
    r.reserve({ leaseId: LEASE, witness: witness(2), cap: 30n, budget: 100n, customerCommitted: 40n });
    expect(r.reserved(LEASE)).toBe(60n);
    expect(r.reserved(LEASE + 1n)).toBe(0n);
    expect(r.capOf(LEASE, witness(2))).toBe(30n);
  });

  it('refuses a cap that does not fit: PROBE_GRANT_OVER_BUDGET, and reserves nothing', () => {
    const r = new ProbeReservations({ maxWitnesses: 4 });
    r.reserve({ leaseId: LEASE, witness: witness(1), cap: 30n, budget: 100n, customerCommitted: 40n });
    expect(
      codeOf(() =>
        r.reserve({ leaseId: LEASE, witness: witness(2), cap: 31n, budget: 100n, customerCommitted: 40n }),
      ),
    ).toBe('PROBE_GRANT_OVER_BUDGET');
    expect(
      codeOf(() =>
        r.reserve({ leaseId: LEASE, witness: witness(3), cap: 1n, budget: 100n, customerCommitted: 100n }),
      ),
    ).toBe('PROBE_GRANT_OVER_BUDGET');
    expect(r.reserved(LEASE)).toBe(30n);
    expect(r.witnesses(LEASE)).toBe(1);
  });

  it("a witness's reservation only grows, and a grant within it is never refused", () => {
    const r = new ProbeReservations({ maxWitnesses: 4 });
    r.reserve({ leaseId: LEASE, witness: witness(1), cap: 30n, budget: 100n, customerCommitted: 0n });
    r.reserve({ leaseId: LEASE, witness: witness(1), cap: 50n, budget: 100n, customerCommitted: 0n });
    expect(r.reserved(LEASE)).toBe(50n);
    // The budget shrank on chain (probes redeemed): the admitted witness keeps its room.
    r.reserve({ leaseId: LEASE, witness: witness(1), cap: 20n, budget: 10n, customerCommitted: 0n });
    expect(r.capOf(LEASE, witness(1))).toBe(50n);
    // Growing counts the witness's own reservation once.
    expect(
      codeOf(() =>
        r.reserve({ leaseId: LEASE, witness: witness(1), cap: 61n, budget: 100n, customerCommitted: 40n }),
      ),
    ).toBe('PROBE_GRANT_OVER_BUDGET');
    r.reserve({ leaseId: LEASE, witness: witness(1), cap: 60n, budget: 100n, customerCommitted: 40n });
    expect(r.reserved(LEASE)).toBe(60n);
  });

  it('attack: a stranger cannot fill the table: at most maxWitnesses per lease (PROBE_GRANT_LIMIT)', () => {
    const r = new ProbeReservations({ maxWitnesses: 16 });
    for (let i = 1; i <= 16; i++)
      r.reserve({ leaseId: LEASE, witness: witness(i), cap: 1n, budget: 1000n, customerCommitted: 0n });
    expect(
      codeOf(() =>
        r.reserve({ leaseId: LEASE, witness: witness(17), cap: 1n, budget: 1000n, customerCommitted: 0n }),
      ),
    ).toBe('PROBE_GRANT_LIMIT');
    expect(r.witnesses(LEASE)).toBe(16);
    // An admitted witness still renews within the quota.
    r.reserve({ leaseId: LEASE, witness: witness(3), cap: 2n, budget: 1000n, customerCommitted: 0n });
    expect(r.reserved(LEASE)).toBe(17n);
  });
});
