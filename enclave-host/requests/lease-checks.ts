import type { Logger } from 'pino';
import { isSessionError, sessionFail } from '../../protocol/errors.js';
import { type ProbeGrant, probeGrantToJson, type SignedProbeGrant } from '../../protocol/probe-grant.js';

/** What a passed lease check knows about the lease. */
export interface LeaseFacts {
  /** The most the lease can pay (Settlement refuses to redeem a cumulative amount above it). */
  readonly budget?: bigint;
  /** Set when the client is served as a witness under a probe grant (not as the lease's customer). */
  readonly probe?: ProbeFacts;
}

/** What a passed check of a probe grant allows its witness. */
export interface ProbeFacts {
  /** Lower-case 0x address of the lease's customer, who signed the grant. */
  readonly customer: string;
  /** The grant checked (its witness is the client). */
  readonly grant: ProbeGrant;
  /**
   * The customer's signature on the grant, when the check kept it: the provider redeems the
   * witness's vouchers with the signed grant (Settlement.redeemProbes).
   */
  readonly signature?: Uint8Array;
  /**
   * Unix seconds until which the grant may be served: its expiry, or the end of its epoch when that
   * comes first. The check's result is trusted no longer.
   */
  readonly until: bigint;
}

/**
 * Asks whether a lease may be served to a client; resolves with what it learnt of the lease.
 * `client` and `enclave` are lower-case 0x addresses. With `grant`, the client asks to be served as
 * the grant's witness: the check passes only when the grant is the lease customer's, for this lease,
 * this client and now, and then resolves with `probe` set.
 */
export type LeaseCheck = (q: {
  leaseId: bigint;
  client: string;
  enclave: string;
  grant?: SignedProbeGrant;
}) => Promise<LeaseFacts | undefined>;

/**
 * The lease check of a client's calls (ExecutorOptions.leaseCheck, e.g. the chain's Settlement: lease
 * open, bound to this enclave, client its customer or the witness of a grant it signed), run at most
 * once per `ttlMs` per (lease, client, grant). A passed check is trusted for `ttlMs`, and a grant's no
 * longer than its `until`; a refusal is not remembered. A check that fails with anything but a
 * SessionError refuses as LEASE_CHECK_UNAVAILABLE.
 *
 * The grant a client last passed with is remembered for the client: its later requests, which carry
 * no grant (a call, a Sync without binding), are checked under it.
 *
 * At most `maxEntries` checks and as many grants are remembered: one more first drops the expired
 * checks, then the oldest (a client whose entry went is checked again on its next call; a witness
 * whose grant went binds again with it).
 */
export class LeaseChecks {
  /** Checks by `${lease}/${client}/${grant}`, oldest first (a renewed check goes to the end). */
  private readonly passed = new Map<string, { until: number; passed: Promise<LeaseFacts> }>();
  /** The grant each witness last passed with, by `${lease}/${client}`, oldest first. */
  private readonly grants = new Map<string, SignedProbeGrant>();

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

  check(leaseId: bigint, client: string, given?: SignedProbeGrant): Promise<LeaseFacts> {
    const check = this.o.check;
    if (!check) return Promise.resolve({});
    const clientKey = `${leaseId}/${client}`;
    const grant = given ?? this.grants.get(clientKey);
    const key = `${clientKey}/${grant ? JSON.stringify(probeGrantToJson(grant)) : ''}`;
    const now = this.o.now();
    const hit = this.passed.get(key);
    if (hit && hit.until > now) return hit.passed;
    if (hit) this.passed.delete(key);
    this.makeRoom(now);
    const entry = { until: now + this.o.ttlMs, passed: Promise.resolve<LeaseFacts>({}) };
    entry.passed = check({ leaseId, client, enclave: this.o.enclave, ...(grant && { grant }) }).then(
      (facts) => {
        if (!facts?.probe) return facts ?? {};
        // A grant's check holds no longer than the grant; a later request is checked again.
        const until = Number(facts.probe.until) * 1000;
        if (until < entry.until) entry.until = until;
        if (grant) this.remember(clientKey, grant);
        return facts;
      },
      (e: unknown) => {
        if (this.passed.get(key) === entry) this.passed.delete(key);
        if (grant && !given && this.grants.get(clientKey) === grant) this.grants.delete(clientKey);
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

  private remember(clientKey: string, grant: SignedProbeGrant): void {
    this.grants.delete(clientKey);
    if (this.grants.size >= this.o.maxEntries) {
      const oldest = this.grants.keys().next();
      if (!oldest.done) this.grants.delete(oldest.value);
    }
    this.grants.set(clientKey, grant);
  }

  /**
   * Drops the expired entries at the front, then the oldest until one more fits. Entries are in the
   * order they were made, most with the same TTL, so the expired ones mostly come first (one a grant
   * cut short and left behind is dropped in its turn, and never answers once expired).
   */
  private makeRoom(now: number): void {
    for (const [k, e] of this.passed) {
      if (e.until > now && this.passed.size < this.o.maxEntries) break;
      this.passed.delete(k);
    }
  }
}
