import { sessionFail } from '../../protocol/errors.js';

/**
 * The caps of the probe grants the executor admitted, per lease and witness: what the witnesses'
 * vouchers may take from the lease budget, which the customer's vouchers must leave (the customer's
 * books are noted `budget − reserved`). A witness's reservation only grows (the largest cap of the
 * grants it was admitted with: Settlement pays a witness up to the grant it redeems with), so an
 * admitted witness keeps its room. At most `maxWitnesses` per lease (PROBE_GRANT_LIMIT); a cap that
 * does not fit beside the customer's committed amount and the other reservations is refused
 * (PROBE_GRANT_OVER_BUDGET): the provider never serves calls it cannot be paid for.
 */
export class ProbeReservations {
  /** Caps by lease, then by witness (lower-case address). */
  private readonly leases = new Map<bigint, Map<string, bigint>>();

  constructor(private readonly o: { readonly maxWitnesses: number }) {
    if (!Number.isSafeInteger(o.maxWitnesses) || o.maxWitnesses < 1)
      throw new RangeError('maxWitnesses must be a positive integer');
  }

  /** The sum of the caps reserved on the lease. */
  reserved(leaseId: bigint): bigint {
    let sum = 0n;
    for (const cap of this.leases.get(leaseId)?.values() ?? []) sum += cap;
    return sum;
  }

  /** The cap reserved for the witness (0 when none). */
  capOf(leaseId: bigint, witness: string): bigint {
    return this.leases.get(leaseId)?.get(witness) ?? 0n;
  }

  /** Witnesses with a reservation on the lease. */
  witnesses(leaseId: bigint): number {
    return this.leases.get(leaseId)?.size ?? 0;
  }

  /**
   * Reserves `cap` for the witness, or refuses: when the witness is new and the lease holds
   * `maxWitnesses` already (PROBE_GRANT_LIMIT), or when `customerCommitted` plus every reservation with
   * this one exceeds `budget` (PROBE_GRANT_OVER_BUDGET). A cap at or below the witness's reservation
   * changes nothing and is never refused.
   */
  reserve(q: {
    leaseId: bigint;
    witness: string;
    cap: bigint;
    budget: bigint;
    customerCommitted: bigint;
  }): void {
    let caps = this.leases.get(q.leaseId);
    const held = caps?.get(q.witness);
    if (held !== undefined && held >= q.cap) return;
    if (held === undefined && (caps?.size ?? 0) >= this.o.maxWitnesses)
      sessionFail(
        'PROBE_GRANT_LIMIT',
        `lease ${q.leaseId} has probe grants admitted for ${this.o.maxWitnesses} witnesses, the most allowed`,
        { limit: 'maxProbeWitnesses', max: this.o.maxWitnesses },
      );
    const others = this.reserved(q.leaseId) - (held ?? 0n);
    const need = q.customerCommitted + others + q.cap;
    if (need > q.budget)
      sessionFail(
        'PROBE_GRANT_OVER_BUDGET',
        `the grant's cap of ${q.cap} does not fit the lease budget of ${q.budget}: the customer has committed ${q.customerCommitted} and other grants hold ${others}`,
        {
          cap: q.cap.toString(),
          budget: q.budget.toString(),
          customerCommitted: q.customerCommitted.toString(),
          reserved: others.toString(),
        },
      );
    if (!caps) {
      caps = new Map();
      this.leases.set(q.leaseId, caps);
    }
    caps.set(q.witness, q.cap);
  }
}
