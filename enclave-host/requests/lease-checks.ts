import type { Logger } from 'pino';
import { isSessionError, sessionFail } from '../../protocol/errors.js';

/** Asks whether a lease may be served to a client. `client` and `enclave` are lower-case 0x addresses. */
export type LeaseCheck = (q: { leaseId: bigint; client: string; enclave: string }) => Promise<void>;

/**
 * The lease check of a client's calls (ExecutorOptions.leaseCheck, e.g. the chain's Settlement: lease
 * open, bound to this enclave, client its customer), run at most once per `ttlMs` per (lease,
 * client). A passed check is trusted for `ttlMs`; a refusal is not remembered. A check that fails
 * with anything but a SessionError refuses as LEASE_CHECK_UNAVAILABLE.
 */
export class LeaseChecks {
  private readonly passed = new Map<string, { until: number; passed: Promise<void> }>();

  constructor(
    private readonly o: {
      readonly check: LeaseCheck | undefined;
      readonly ttlMs: number;
      /** The enclave identity address the lease must be bound to. */
      readonly enclave: string;
      readonly now: () => number;
      readonly log: Logger;
    },
  ) {}

  check(leaseId: bigint, client: string): Promise<void> {
    const check = this.o.check;
    if (!check) return Promise.resolve();
    const key = `${leaseId}/${client}`;
    const now = this.o.now();
    const hit = this.passed.get(key);
    if (hit && hit.until > now) return hit.passed;
    const entry = { until: now + this.o.ttlMs, passed: Promise.resolve() };
    entry.passed = check({ leaseId, client, enclave: this.o.enclave }).catch((e: unknown) => {
      if (this.passed.get(key) === entry) this.passed.delete(key);
      if (isSessionError(e)) throw e;
      this.o.log.warn({ err: e, leaseId: leaseId.toString(), client }, 'lease check failed');
      return sessionFail('LEASE_CHECK_UNAVAILABLE', 'the lease could not be checked now; try again later');
    });
    this.passed.set(key, entry);
    return entry.passed;
  }
}
