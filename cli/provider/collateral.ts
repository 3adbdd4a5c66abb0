import type { EvidenceBundle } from '../../attestation/bundle.js';
import { encodeEvidenceBundle, MAX_BUNDLE_BYTES } from '../../attestation/bundle.js';
import { VerifyCache } from '../../attestation/cache.js';
import { CodedError, fail, isAttestationError } from '../../attestation/errors.js';
import type { HttpGetter } from '../../attestation/http.js';
import type { TrustRoots } from '../../attestation/roots.js';
import { type CollateralHook, hostCollateral } from '../../enclave-host/session/evidence-source.js';
import { type Assessment, assessCollateral, type KeeperTcbStatus } from './collateral-assess.js';
import { readCachedCollateral, writeCachedCollateral } from './collateral-cache.js';
import {
  DEFAULT_SCHEDULE,
  type ExpiringItem,
  expiringItems,
  refreshTime,
  retryDelay,
  type ScheduleOptions,
} from './collateral-expiry.js';
import { boundedFetchGetter } from './collateral-getter.js';
import { checkNotOlder } from './collateral-rollback.js';
import {
  type CollateralSource,
  checkSource,
  fetchPlatformCollateral,
  type PlatformCollateral,
  type ProviderTee,
} from './collateral-source.js';

/*
 * A provider's TDX / SEV-SNP collateral, kept fresh while it serves. The keeper fetches collateral
 * for the platform that produced `evidence`, verifies it with the client's own verifier, presents it
 * (through `hook`), and refreshes it ahead of its earliest nextUpdate. A failed or refused refresh
 * keeps the collateral it has and tries again after a doubling, capped delay; status() says how close
 * the presented collateral is to expiring and why the last attempt failed.
 */

export type { CollateralSource, KeeperTcbStatus, ProviderTee };

export type CollateralState = 'fresh' | 'expiring' | 'expired';

export interface CollateralError {
  readonly code: string;
  readonly message: string;
  readonly at: Date;
}

export interface CollateralStatus {
  readonly tee: ProviderTee;
  /** `pcs:<url>`, `pccs:<url>`, `kds:<url>` or `dir:<path>`. */
  readonly source: string;
  /** When the presented collateral was fetched (read, for a directory). */
  readonly fetchedAt: Date;
  /** The earliest nextUpdate (or certificate notAfter) of the presented collateral. */
  readonly nextUpdate: Date;
  /** The item that expires first. */
  readonly expiresFirst: string;
  /** When the presented collateral is due to be replaced. */
  readonly refreshAt: Date;
  /** The next attempt the keeper has scheduled (absent once stopped or out of attempts). */
  readonly nextAttemptAt?: Date;
  readonly tcbStatus: KeeperTcbStatus;
  readonly advisories?: readonly string[];
  /** Why the last attempt failed; cleared by a successful refresh. */
  readonly lastError?: CollateralError;
  /** Consecutive failed attempts. */
  readonly failures: number;
  /**
   * `expired` from the earliest nextUpdate on; `expiring` once a refresh is overdue (refreshAt passed
   * without newer collateral) or within the lead time before nextUpdate; `fresh` otherwise.
   */
  readonly state: CollateralState;
}

/** A pino-compatible logger slice. */
export interface KeeperLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Timers the keeper schedules with; tests inject their own. */
export interface KeeperTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Node's timers, unref'd: a pending refresh does not keep the process alive. */
export const NODE_TIMERS: KeeperTimers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** How long a refresh waits for onRefresh / onTcbChange before it finishes without them. */
const CALLBACK_WAIT_MS = 30_000;

/** setTimeout's largest delay; longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface CollateralKeeperOptions {
  readonly tee: ProviderTee;
  /** Evidence from this platform: it names the FMSPC / chip and TCB whose collateral is kept. */
  readonly evidence: Uint8Array;
  readonly source: CollateralSource;
  /** Where the adopted collateral is cached (`collateral-<tee>.json`). */
  readonly cacheDir: string;
  readonly now?: () => Date;
  /** The network; default fetch() with a 15 s timeout and a MAX_BUNDLE_BYTES cap per answer. */
  readonly getter?: HttpGetter;
  readonly timers?: KeeperTimers;
  /** Roots of trust; the production pins by default. */
  readonly roots?: TrustRoots;
  readonly schedule?: ScheduleOptions;
  /** SEV-SNP from KDS: also fetch and present the ARK-signed CRL (default true). */
  readonly snpCrl?: boolean;
  /** Called when a refresh changes the platform's TCB status (e.g. to re-attest on chain). */
  readonly onTcbChange?: (old: KeeperTcbStatus, now: KeeperTcbStatus, status: CollateralStatus) => unknown;
  /** Called after each refresh that adopted collateral (e.g. Executor.refreshEvidence). */
  readonly onRefresh?: (status: CollateralStatus) => unknown;
  readonly log?: KeeperLog;
}

interface Held {
  readonly collateral: PlatformCollateral;
  readonly fetchedAt: Date;
  readonly first: ExpiringItem;
  readonly refreshAt: Date;
  readonly assessment: Assessment;
}

export class CollateralKeeper {
  private held: Held;
  private readonly now: () => Date;
  private readonly timers: KeeperTimers;
  private readonly sched: Required<ScheduleOptions>;
  private readonly cache = new VerifyCache();
  private timer: unknown;
  private nextAttemptAt: Date | undefined;
  private inflight: Promise<CollateralStatus> | undefined;
  private lastError: CollateralError | undefined;
  private failures = 0;
  private stopped = false;

  private constructor(
    private readonly o: CollateralKeeperOptions,
    private readonly sourceName: string,
    private readonly getter: HttpGetter,
    first: Held,
  ) {
    this.now = o.now ?? (() => new Date());
    this.timers = o.timers ?? NODE_TIMERS;
    this.sched = { ...DEFAULT_SCHEDULE, ...o.schedule };
    this.held = first;
  }

  /**
   * Loads collateral (the cached copy while it still verifies, else from the source), verifies it and
   * schedules its refresh. Fails with the verifier's error when no current collateral can be had.
   */
  static async start(o: CollateralKeeperOptions): Promise<CollateralKeeper> {
    const sourceName = checkSource(o.tee, o.evidence, o.source);
    const now = (o.now ?? (() => new Date()))();
    const sched = { ...DEFAULT_SCHEDULE, ...o.schedule };
    const cache = new VerifyCache();
    const getter = o.getter ?? boundedFetchGetter();
    let first: Held | undefined;
    const cached = await readCachedCollateral(o.cacheDir, o.tee);
    if (cached) {
      try {
        first = hold(o.evidence, cached.collateral, cached.fetchedAt, now, sched, o.roots, cache);
      } catch (e) {
        if (!isAttestationError(e)) throw e;
        o.log?.info({ code: e.code }, 'cached collateral is not usable; fetching');
      }
    }
    if (!first) {
      const c = await fetchPlatformCollateral(o.tee, o.evidence, o.source, {
        getter,
        now,
        ...snpCrl(o),
      }).catch((e: unknown) => {
        throw innerRefusal(e);
      });
      first = hold(o.evidence, c, now, now, sched, o.roots, cache);
      await writeCachedCollateral(o.cacheDir, o.tee, o.evidence, first);
    }
    const k = new CollateralKeeper(o, sourceName, getter, first);
    k.log('info', { ...statusLog(k.status()) }, 'collateral loaded');
    k.schedule(first.refreshAt);
    return k;
  }

  /** What the executor presents now: the evidence the keeper was started with and the held collateral. */
  current(): EvidenceBundle {
    return { evidence: this.o.evidence, ...this.held.collateral };
  }

  /**
   * The executor's CollateralHook: what the TEE itself hands out (hostCollateral), with the held
   * collateral added. Read at every call, so a rebuilt bundle carries the latest refresh.
   */
  readonly hook: CollateralHook = async (evidence, auxblob) => {
    const b = await hostCollateral(evidence, auxblob);
    const c = this.held.collateral;
    if (c.intel) return { ...b, intel: c.intel };
    // The host's own VCEK (certificate table) matches its current TCB; chain and CRL come from here.
    return { ...b, snp: { ...c.snp, ...b.snp } };
  };

  status(): CollateralStatus {
    const h = this.held;
    const now = this.now().getTime();
    const next = h.first.nextUpdate.getTime();
    const state: CollateralState =
      now >= next
        ? 'expired'
        : now >= h.refreshAt.getTime() || now >= next - this.sched.leadMs
          ? 'expiring'
          : 'fresh';
    return {
      tee: this.o.tee,
      source: this.sourceName,
      fetchedAt: h.fetchedAt,
      nextUpdate: h.first.nextUpdate,
      expiresFirst: h.first.what,
      refreshAt: h.refreshAt,
      ...(this.nextAttemptAt && { nextAttemptAt: this.nextAttemptAt }),
      tcbStatus: h.assessment.tcbStatus,
      ...(h.assessment.advisories && { advisories: h.assessment.advisories }),
      ...(this.lastError && { lastError: this.lastError }),
      failures: this.failures,
      state,
    };
  }

  /** Refreshes now (joining a refresh already running); resolves with the status after it. */
  refreshNow(): Promise<CollateralStatus> {
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Cancels the scheduled refresh; a refresh already running finishes but schedules nothing. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private async refresh(): Promise<CollateralStatus> {
    const now = this.now();
    const old = this.held.assessment.tcbStatus;
    let adopted: Held;
    try {
      const c = await fetchPlatformCollateral(this.o.tee, this.o.evidence, this.o.source, {
        getter: this.getter,
        now,
        ...snpCrl(this.o),
      });
      checkNotOlder(this.held.collateral, c);
      adopted = hold(this.o.evidence, c, now, now, this.sched, this.o.roots, this.cache);
    } catch (e) {
      this.failed(e, now);
      return this.status();
    }
    this.held = adopted;
    this.failures = 0;
    this.lastError = undefined;
    try {
      await writeCachedCollateral(this.o.cacheDir, this.o.tee, this.o.evidence, adopted);
    } catch (e) {
      this.log('warn', { err: e }, 'collateral adopted but not cached');
    }
    if (!this.stopped) this.schedule(adopted.refreshAt);
    const status = this.status();
    this.log('info', statusLog(status), 'collateral refreshed');
    await this.notify('onRefresh', () => this.o.onRefresh?.(status));
    if (old !== status.tcbStatus) {
      this.log('warn', { old, tcbStatus: status.tcbStatus }, 'TCB status changed');
      await this.notify('onTcbChange', () => this.o.onTcbChange?.(old, status.tcbStatus, status));
    }
    return status;
  }

  private failed(e: unknown, now: Date): void {
    const cause = refusalOf(e);
    this.lastError = { ...cause, at: now };
    this.failures++;
    const delay = retryDelay(this.failures, this.sched);
    const giveUp = this.failures >= this.sched.maxAttempts;
    this.log(
      giveUp ? 'error' : 'warn',
      { code: cause.code, failures: this.failures, ...(!giveUp && { retryInMs: delay }) },
      giveUp
        ? 'collateral refresh failed; no more attempts until refreshNow()'
        : 'collateral refresh failed; keeping the old',
    );
    if (giveUp || this.stopped) {
      this.clearTimer();
      this.nextAttemptAt = undefined;
    } else {
      this.schedule(new Date(now.getTime() + delay));
    }
  }

  /**
   * Runs a callback, waiting for it at most CALLBACK_WAIT_MS: a callback that hangs (a quoting
   * service that never answers) must not hold up later refreshes, which join the one running.
   */
  private async notify(what: string, f: () => unknown): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), CALLBACK_WAIT_MS).unref();
    });
    try {
      const run = Promise.resolve().then(f);
      run.catch(() => {});
      if ((await Promise.race([run, timeout])) === 'timeout')
        this.log('warn', { waitedMs: CALLBACK_WAIT_MS }, `${what} still running; not waiting for it`);
    } catch (e) {
      this.log('error', { err: e }, `${what} failed`);
    } finally {
      clearTimeout(timer);
    }
  }

  private schedule(at: Date): void {
    this.clearTimer();
    if (this.stopped) return;
    this.nextAttemptAt = at;
    const delay = Math.min(Math.max(at.getTime() - this.now().getTime(), 0), MAX_TIMER_MS);
    this.timer = this.timers.set(() => this.wake(), delay);
  }

  private wake(): void {
    this.timer = undefined;
    const at = this.nextAttemptAt;
    if (this.stopped || !at) return;
    // A wait longer than one timer, or a clock that runs behind the timers: wait again.
    if (this.now().getTime() < at.getTime()) {
      this.schedule(at);
      return;
    }
    void this.refreshNow();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }

  private log(level: 'info' | 'warn' | 'error', obj: object, msg: string): void {
    this.o.log?.[level]({ tee: this.o.tee, ...obj }, msg);
  }
}

/** Starts a keeper for the provider process (see CollateralKeeper.start). */
export function startCollateralKeeper(o: CollateralKeeperOptions): Promise<CollateralKeeper> {
  return CollateralKeeper.start(o);
}

function snpCrl(o: CollateralKeeperOptions): { snpCrl?: boolean } {
  return o.snpCrl === undefined ? {} : { snpCrl: o.snpCrl };
}

/** Verifies collateral for the evidence at `now` and computes its expiry and refresh time. */
function hold(
  evidence: Uint8Array,
  collateral: PlatformCollateral,
  fetchedAt: Date,
  now: Date,
  sched: Required<ScheduleOptions>,
  roots: TrustRoots | undefined,
  cache: VerifyCache,
): Held {
  const size = encodeEvidenceBundle({ evidence, ...collateral }).length;
  if (size > MAX_BUNDLE_BYTES)
    fail(
      'COLLATERAL_MALFORMED',
      `the bundle with this collateral is ${size} bytes, over ${MAX_BUNDLE_BYTES}`,
      {
        size,
      },
    );
  const assessment = assessCollateral(evidence, collateral, { now, cache, ...(roots && { roots }) });
  const first = expiringItems(collateral)[0];
  if (!first) return fail('COLLATERAL_MISSING', 'the collateral carries nothing that expires');
  return { collateral, fetchedAt, first, refreshAt: refreshTime(now, first.nextUpdate, sched), assessment };
}

/**
 * The refusal behind an error: the PCS client wraps what its network throws (an oversized answer's
 * COLLATERAL_MALFORMED) in COLLATERAL_UNAVAILABLE; the inner attestation error is the one to report.
 */
function innerRefusal(e: unknown): unknown {
  let err = e;
  for (let i = 0; i < 4 && isAttestationError(err, 'COLLATERAL_UNAVAILABLE'); i++) {
    if (!isAttestationError(err.cause)) break;
    err = err.cause;
  }
  return err;
}

/** The code and message to report for a failed attempt. */
function refusalOf(e: unknown): { code: string; message: string } {
  const err = innerRefusal(e);
  if (err instanceof CodedError) return { code: err.code, message: err.message };
  const code = (err as NodeJS.ErrnoException)?.code;
  return {
    code: typeof code === 'string' ? code : 'INTERNAL',
    message: String((err as Error)?.message ?? err),
  };
}

function statusLog(s: CollateralStatus): object {
  return {
    source: s.source,
    nextUpdate: s.nextUpdate.toISOString(),
    expiresFirst: s.expiresFirst,
    refreshAt: s.refreshAt.toISOString(),
    tcbStatus: s.tcbStatus,
    state: s.state,
  };
}
