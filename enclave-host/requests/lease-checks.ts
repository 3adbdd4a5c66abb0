import type { Logger } from 'pino';
import { isSessionError, sessionFail } from '../../protocol/errors.js';

/** What a passed lease check knows about the lease. */
export interface LeaseFacts {
  /** The most the lease can pay (Settlement refuses to redeem a cumulative amount above it). */
  readonly budget?: bigint;
}

/**
 * Asks whether a lease may be served to a client; resolves with what it learnt of the lease.
 * `client` and `enclave` are lower-case 0x addresses.
 */
export type LeaseCheck = (q: {
  leaseId: bigint;
  client: string;
  enclave: string;
}) => Promise<LeaseFacts | undefined>;

/**
 * The lease check of a client's calls (ExecutorOptions.leaseCheck, e.g. the chain's Settlement: lease
 * open, bound to this enclave, client its customer), run at most once per `ttlMs` per (lease,
 * client). A passed check is trusted for `ttlMs`; a refusal is not remembered. A check that fails
 * with anything but a SessionError refuses as LEASE_CHECK_UNAVAILABLE.
 *
 * At most `maxEntries` checks are remembered: one more first drops the expired ones, then the
 * oldest (a client whose entry went is checked again on its next call).
 */
export class LeaseChecks {
  /** Checks by `${lease}/${client}`, oldest first (a renewed check goes to the end). */
  private readonly passed = new Map<string, { until: number; passed: Promise<LeaseFacts> }>();

  constructor(
    private readonly o: {
      readonly check: LeaseCheck | undefined;
      readonly ttlMs: number;
      /** Checks remembered at most. */
      readonly maxEntries: number;
      /** The enclave identity address the lease must be bound to. */
      readonly enclave: string;
      readonly now: () => number;
      readonly log: Logger;
    },
  ) {}

  check(leaseId: bigint, client: string): Promise<LeaseFacts> {
    const check = this.o.check;
    if (!check) return Promise.resolve({});
    const key = `${leaseId}/${client}`;
    const now = this.o.now();
    const hit = this.passed.get(key);
    if (hit && hit.until > now) return hit.passed;
    if (hit) this.passed.delete(key);
    this.makeRoom(now);
    const entry = { until: now + this.o.ttlMs, passed: Promise.resolve<LeaseFacts>({}) };
    entry.passed = check({ leaseId, client, enclave: this.o.enclave }).then(
      (facts) => facts ?? {},
      (e: unknown) => {
        if (this.passed.get(key) === entry) this.passed.delete(key);
        if (isSessionError(e)) throw e;
        this.o.log.warn({ err: e, leaseId: leaseId.toString(), client }, 'lease check failed');
        return sessionFail('LEASE_CHECK_UNAVAILABLE', 'the lease could not be checked now; try again later');
      },
    );
    this.passed.set(key, entry);
    return entry.passed;
  }

  /** Checks remembered now (passed, or still being asked). */
  get size(): number {
    return this.passed.size;
  }

  /**
   * Drops the expired entries at the front, then the oldest until one more fits. Entries are in the
   * order they were made, all with the same TTL, so the expired ones come first.
   */
  private makeRoom(now: number): void {
    for (const [k, e] of this.passed) {
      if (e.until > now && this.passed.size < this.o.maxEntries) break;
      this.passed.delete(k);
    }
  }
}
