import { toHex } from '../../attestation/bytes.js';
import { type CallRequest, requestHead } from '../../protocol/call-records.js';
import { sessionFail } from '../../protocol/errors.js';
import type { SignedProbeGrant } from '../../protocol/probe-grant.js';
import type { SignedReceipt, SignedVoucher } from '../../protocol/settlement.js';
import type { CallRecord, TypedDataDomain, Voucher } from '../../protocol/typed-data.js';
import { chainHeadsFast as chainHeads } from '../../protocol/typed-data-fast.js';
import { NonceBook, type Taken } from './nonce-book.js';
import type { NonceStore } from './nonce-store.js';
import type { ReceiptSigner } from './receipt-signer.js';
import { type Finished, RecentCalls } from './recent-calls.js';
import { checkPerCallShape, checkVoucherEnvelope } from './voucher-checks.js';

/*
 * The executor's books for one (lease, client) (docs/session.md, "Billing rules (enforced by the
 * executor)"). Every request passes the same rules, whatever the client sends:
 * 1. nonces (nonce-book.ts): taken once, above the persisted floor, within the window, not too far;
 * 2. amounts: a voucher over [first, last] authorises at least the amount floor plus the price of
 *    every covered call at or below `last` (its own included), and after it the highest accepted
 *    amount pays for every call a receipt covers, whichever pending vouchers are accepted or dropped
 *    later (so vouchers arriving out of order cannot lower what the provider can redeem). A pending
 *    voucher is accepted together with its calls' receipt or dropped together with its calls: an
 *    inline one when its call ran or was abandoned, a Settle's when its receipt is signed or it is
 *    refused. Its amount therefore stands in for other calls only with its own calls counted. The
 *    highest accepted amount never decreases and is persisted with the nonce ceiling as the next
 *    process's amount floor;
 * 3. deadlines (voucher-checks.ts): at least `minVoucherLifetimeS` left;
 * 4. coverage: a call is covered once, by its inline voucher or by one Settle, which claims its
 *    calls synchronously before it waits for any of them. Calls served without a voucher (claimed
 *    ones included, until their receipt is signed) stay between 0 and `maxUncovered`;
 * 5. memory: calls that ran stay open until covered (Sync lists them as unsettled); the last
 *    `recentCalls` finished ones are kept for Sync{nonces}; a nonce Sync asks about that could still
 *    be taken is fenced (taken without running).
 */

/** The enclave-signed receipt and the call records of the calls a voucher covers. */
export interface VoucherBatch {
  readonly receipt: SignedReceipt;
  readonly records: readonly CallRecord[];
}

export interface LedgerRules {
  /** Replay window of nonces. */
  readonly window: number;
  /** How far above the highest nonce seen a new one may be. */
  readonly maxNonceJump: number;
  /** Calls served without a voucher at most (one batch). */
  readonly maxUncovered: number;
  /** Calls one Settle voucher may cover at most. */
  readonly maxVoucherRange: number;
  /** How long a call over the uncovered cap waits for a voucher. */
  readonly voucherWaitMs: number;
  /** How long a Settle waits for claimed calls still running. */
  readonly settleWaitMs: number;
  /** Price of every call that ran, failed or not (the lease's terms). */
  readonly pricePerCall: bigint;
  /** Nonces reserved per persisted write. */
  readonly reserveBlock: bigint;
  /** Seconds a voucher must still be redeemable for when accepted. */
  readonly minVoucherLifetimeS: number;
  /** Finished calls remembered for Sync{nonces}. */
  readonly recentCalls: number;
  /** Settled vouchers remembered, so the same voucher sent again gets the same receipt. */
  readonly recentSettles: number;
}

export interface AccountConfig {
  readonly leaseId: bigint;
  /** Lower-case 0x address of the customer wallet. */
  readonly client: string;
  readonly domain: TypedDataDomain;
  readonly signer: ReceiptSigner;
  readonly store: NonceStore;
  readonly rules: LedgerRules;
  readonly now: () => number;
  /** Told each time the account becomes idle (`idle` true) or stops being idle. */
  readonly onIdleChange?: (a: Account, idle: boolean) => void;
  /**
   * Told each time the account accepts a voucher whose cumulative amount is above that of the last
   * one it told of (the first one accepted: any amount). Called synchronously inside the request:
   * it must not throw (the books guard it, Books).
   */
  /**
   * Told of each voucher with a higher amount than the last it was told of. What it returns is
   * awaited before a Settle's receipt goes out (a provider that keeps vouchers durably can write the
   * voucher first); it must not reject.
   */
  readonly onVoucher?: (a: Account, voucher: SignedVoucher, batch: VoucherBatch) => void | Promise<void>;
}

/**
 * How a call is covered: `none` (served without a voucher), `claimed` (a Settle is waiting for it),
 * `inline` (its own voucher), `settled` (a receipt covers it).
 */
type Coverage = 'none' | 'claimed' | 'inline' | 'settled';

interface Call extends CallRequest {
  coverage: Coverage;
  /** Per-call mode: the evidence hash of the invoking session, which its receipt carries. */
  readonly evidenceHash: Uint8Array | undefined;
  readonly startedAt: number;
  finishedAt: number;
  record: CallRecord | undefined;
  abandoned: boolean;
  readonly done: Promise<void>;
  resolve(): void;
}

/** A call's nonce is taken; `durable` resolves once the nonce reservation is on disk. */
export interface Admission {
  readonly durable: Promise<void>;
}

/** The fate of one nonce, for Sync{nonces}. */
export type CallState =
  | Finished
  | { readonly state: 'running' }
  | { readonly state: 'ran-uncovered'; readonly record: CallRecord }
  | { readonly state: 'unknown' };

export interface AccountStatus {
  readonly nextNonce: bigint;
  /** Last nonce covered by a receipt (0 when none). */
  readonly vouchedThrough: bigint;
  /** Highest cumulative amount accepted. */
  readonly cumulativeAmount: bigint;
}

export class Account {
  readonly key: string;
  private readonly nonces: NonceBook;
  /** The amount floor this account started from (persisted by an earlier process). */
  private readonly amountFloor: bigint;
  /** The highest cumulative amount accepted (at least the floor): of vouchers whose calls ran. */
  private highest: bigint;
  /** The accepted voucher with the highest cumulative amount (the first of equal ones). */
  private latest: SignedVoucher | undefined;
  /** Calls this account signed a receipt for (the amount floor pays for those of earlier processes). */
  private receipted = 0;
  /**
   * Vouchers taken and not yet accepted, by first nonce: an inline voucher from its call's admission
   * until the call ran (accepted) or was abandoned (dropped); a Settle from its claims until its
   * receipt is signed (accepted) or it is refused (dropped). Each is accepted in the same step as the
   * receipt over its calls, or dropped with them, so the amount rule lets its amount stand in for
   * other calls only in the outcomes where its own calls are paid for too (`heldRequirement`).
   */
  private readonly pending = new Map<bigint, PendingVoucher>();
  /** The lease's budget, as the last lease check said (none: no chain, no bound). */
  private budget: bigint | undefined;
  private readonly open = new Map<bigint, Call>();
  private readonly recent: RecentCalls;
  /** Open calls not covered by a receipt: coverage `none` or `claimed`. */
  private uncovered = 0;
  private vouchedThrough = 0n;
  private roomWaiters: (() => void)[] = [];
  private readonly settles = new Map<string, { voucher: Voucher; receipt: Promise<SignedReceipt> }>();
  /** Admit, Settle and Sync requests inside the account (between their start and their answer). */
  private inside = 0;
  /** Set when the books let go of the account (evicted): its state is no longer the client's. */
  private retired = false;

  constructor(private readonly cfg: AccountConfig) {
    this.key = `${cfg.leaseId}/${cfg.client}`;
    const floors = cfg.store.floors(this.key);
    this.nonces = new NonceBook(floors.ceiling, {
      window: cfg.rules.window,
      maxJump: cfg.rules.maxNonceJump,
    });
    this.amountFloor = floors.amountFloor;
    this.highest = floors.amountFloor;
    this.recent = new RecentCalls(cfg.rules.recentCalls);
  }

  get nextNonce(): bigint {
    return this.nonces.nextNonce;
  }

  get status(): AccountStatus {
    return {
      nextNonce: this.nonces.nextNonce,
      vouchedThrough: this.vouchedThrough,
      cumulativeAmount: this.highest,
    };
  }

  /** Calls served without a receipt covering them (always within [0, maxUncovered]). */
  get uncoveredCount(): number {
    return this.uncovered;
  }

  /**
   * The budget from a passed lease check: no voucher above it is accepted, and no call is served
   * without a voucher when one more call could not be paid within it. For the lease's customer it is
   * the lease budget less the caps reserved for probe grants; for a witness, its grant's cap
   * (requests/lease-facts.ts). Settlement would refuse to redeem above it, so such a voucher must not
   * stand in for any call (the amount rule).
   */
  noteBudget(budget: bigint | undefined): void {
    if (budget !== undefined) this.budget = budget;
  }

  /** The probe grant a witness's account is served under (the latest checked), signed by the customer. */
  grant: SignedProbeGrant | undefined;

  noteGrant(g: SignedProbeGrant): void {
    this.grant = g;
  }

  /**
   * What the provider may already hold or be owed by the client: the highest amount accepted or
   * pending, and at least the least amount that pays for every call served (the amount floor plus
   * the price of each call receipted or open).
   */
  get committedAmount(): bigint {
    let top = this.servedAmount(0);
    if (this.highest > top) top = this.highest;
    for (const p of this.pending.values()) if (p.amount > top) top = p.amount;
    return top;
  }

  /** The least cumulative amount that pays for every call served and `more` calls. */
  private servedAmount(more: number): bigint {
    return this.amountFloor + this.cfg.rules.pricePerCall * BigInt(this.receipted + this.open.size + more);
  }

  /** The highest cumulative amount accepted, what the books persist as the amount floor. */
  get highestAmount(): bigint {
    return this.highest;
  }

  get leaseId(): bigint {
    return this.cfg.leaseId;
  }

  /** Lower-case 0x address of the client wallet. */
  get client(): string {
    return this.cfg.client;
  }

  /** The accepted voucher with the highest cumulative amount this account holds (none after a restart or eviction). */
  get latestVoucher(): SignedVoucher | undefined {
    return this.latest;
  }

  /**
   * Nothing open (no call running, uncovered or claimed) and no request inside (none waiting for
   * room, for claimed calls or for a reservation): the account can be dropped from memory and
   * rebuilt from its persisted floors without a client noticing more than after a restart.
   */
  get idle(): boolean {
    return this.open.size === 0 && this.inside === 0;
  }

  /**
   * The books let go of the account: its floors are raised in the store (the returned promise
   * resolves once they are durable) and any later request on this object is an internal error,
   * since the books may hold a newer account of the same client.
   */
  retire(): Promise<void> {
    this.retired = true;
    return this.persist();
  }

  /**
   * Per-call mode, before anything else of the call is looked at: the voucher's lease, deadline and
   * signature, and that it covers exactly this call. Its amount is checked at admission.
   */
  checkInlineVoucher(sv: SignedVoucher, req: CallRequest): void {
    checkVoucherEnvelope(sv, this.voucherContext());
    checkPerCallShape(sv, req);
  }

  /**
   * Takes the call's nonce, or refuses it (the nonce stays free): NONCE_STALE, NONCE_TOO_FAR,
   * VOUCHER_AMOUNT_TOO_LOW (per call), VOUCHER_REQUIRED (a call without a voucher over the cap,
   * after waiting `voucherWaitMs` for one). Everything after the wait runs synchronously.
   */
  async admit(
    req: CallRequest,
    o: { voucher?: SignedVoucher | undefined; evidenceHash: Uint8Array },
  ): Promise<Admission> {
    this.enter();
    try {
      return await this.admitInside(req, o);
    } finally {
      this.leave();
    }
  }

  private async admitInside(
    req: CallRequest,
    o: { voucher?: SignedVoucher | undefined; evidenceHash: Uint8Array },
  ): Promise<Admission> {
    const sv = o.voucher;
    const v = sv?.voucher;
    if (!v) await this.waitForRoom();
    const refused = this.nonces.refusal(req.nonce);
    if (refused) throw refused;
    if (v) this.checkAmount(v, 1);
    else this.checkRoomInBudget();
    this.nonces.take(req.nonce, v ? 'covered' : 'uncovered');
    if (sv) this.pending.set(req.nonce, { amount: sv.voucher.cumulativeAmount, calls: 1, voucher: sv });
    else this.uncovered++;
    let resolve!: () => void;
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    this.open.set(req.nonce, {
      nonce: req.nonce,
      functionHash: req.functionHash,
      inputHash: req.inputHash,
      coverage: v ? 'inline' : 'none',
      evidenceHash: v ? o.evidenceHash : undefined,
      startedAt: this.cfg.now(),
      finishedAt: 0,
      record: undefined,
      abandoned: false,
      done,
      resolve,
    });
    const durable = this.reserve(req.nonce).catch((e: unknown) => {
      this.abandon(req.nonce);
      throw e;
    });
    return { durable };
  }

  /**
   * The function ran: the call has its record. Per call, returns its receipt (and the call is
   * finished); a call served without a voucher stays open until a Settle covers it.
   */
  complete(record: CallRecord): SignedReceipt | undefined {
    const c = this.open.get(record.nonce);
    if (!c || c.abandoned || c.record) return undefined;
    c.record = record;
    c.finishedAt = this.cfg.now();
    c.resolve();
    if (c.coverage !== 'inline') return undefined;
    const p = this.pending.get(c.nonce);
    this.pending.delete(c.nonce);
    const receipt = this.sign([c], c.evidenceHash!);
    if (p) this.accept(p.voucher, { receipt, records: [record] });
    this.finish([c], receipt);
    return receipt;
  }

  /**
   * A call admitted but not run (the runtime refused it: busy, closed, its worker failed): the nonce
   * stays spent (it cannot be replayed) but the call stops counting and leaves no record, so no
   * voucher or receipt covers it and it is never charged. A Settle that claimed it fails.
   */
  abandon(nonce: bigint): void {
    const c = this.open.get(nonce);
    if (!c || c.record || c.abandoned) return;
    const wasIdle = this.idle;
    c.abandoned = true;
    this.open.delete(nonce);
    // A claimed call's Settle is dropped when it gives its claims back (it may be keyed by this nonce).
    if (c.coverage === 'inline') this.pending.delete(nonce);
    this.nonces.mark(nonce, taken(c), 'void');
    if (c.coverage === 'none' || c.coverage === 'claimed') this.freeRoom(1);
    this.recent.add(nonce, { state: 'not-run' });
    c.resolve();
    this.noteIdle(wasIdle);
  }

  /**
   * Batched mode: a voucher over open calls. Its calls are claimed synchronously (a second Settle
   * naming any of them is refused), then awaited (bounded) if still running; the receipt covers
   * exactly the voucher's range. The same voucher sent again gets the same receipt.
   */
  async settle(sv: SignedVoucher, evidenceHash: Uint8Array): Promise<SignedReceipt> {
    this.enter();
    try {
      return await this.settleInside(sv, evidenceHash);
    } finally {
      this.leave();
    }
  }

  private async settleInside(sv: SignedVoucher, evidenceHash: Uint8Array): Promise<SignedReceipt> {
    // Nothing below awaits before the claims are made: an async function runs synchronously up to
    // its first await.
    const id = toHex(sv.signature);
    const again = this.settles.get(id);
    if (again && sameVoucher(again.voucher, sv.voucher)) return again.receipt;
    const v = sv.voucher;
    checkVoucherEnvelope(sv, this.voucherContext());
    if (v.lastNonce < v.firstNonce || v.lastNonce - v.firstNonce >= BigInt(this.cfg.rules.maxVoucherRange))
      sessionFail('VOUCHER_MISMATCH', `voucher range must hold 1..${this.cfg.rules.maxVoucherRange} calls`);
    const calls: Call[] = [];
    for (let n = v.firstNonce; n <= v.lastNonce; n++) {
      const c = this.open.get(n);
      if (c?.coverage !== 'none')
        sessionFail(
          'VOUCHER_MISMATCH',
          `voucher covers call ${n}, which is not an open call of this client`,
          {
            nonce: n.toString(),
          },
        );
      calls.push(c);
    }
    if (requestHead(calls) !== v.requestHead)
      sessionFail('VOUCHER_MISMATCH', 'voucher request chain does not match the calls served', {
        firstNonce: v.firstNonce.toString(),
        lastNonce: v.lastNonce.toString(),
      });
    this.checkAmount(v, calls.length);
    for (const c of calls) {
      c.coverage = 'claimed';
      this.nonces.mark(c.nonce, 'uncovered', 'covered');
    }
    // The amount is accepted once the receipt is signed: a Settle refused after waiting leaves no
    // voucher the provider holds. Meanwhile it is pending: its calls count as covered, and its amount
    // stands in for other calls only together with them.
    this.pending.set(v.firstNonce, { amount: v.cumulativeAmount, calls: calls.length, voucher: sv });
    const receipt = this.finishSettle(sv, calls, evidenceHash);
    this.remember(id, v, receipt);
    return await receipt;
  }

  /**
   * The fate of each nonce. A nonce never taken that could still be taken is fenced: taken without
   * running, so a request still on its way is refused (NONCE_STALE) and the answer stays true.
   * Resolves once a fenced nonce above the persisted ceiling is durable.
   */
  async statuses(nonces: readonly bigint[]): Promise<CallState[]> {
    this.enter();
    try {
      return await this.statusesInside(nonces);
    } finally {
      this.leave();
    }
  }

  private async statusesInside(nonces: readonly bigint[]): Promise<CallState[]> {
    let fenced = 0n;
    const out = nonces.map((n): CallState => {
      const c = this.open.get(n);
      if (c) return c.record ? { state: 'ran-uncovered', record: c.record } : { state: 'running' };
      const f = this.recent.get(n);
      if (f) return f;
      if (this.nonces.refusal(n)) return { state: 'unknown' };
      this.nonces.take(n, 'void');
      this.recent.add(n, { state: 'not-run' });
      if (n > fenced) fenced = n;
      return { state: 'not-run' };
    });
    if (fenced > 0n) await this.reserve(fenced);
    return out;
  }

  /** Records of the calls that ran and that no voucher covers or claims, by nonce. */
  unsettled(): CallRecord[] {
    const out: CallRecord[] = [];
    for (const c of this.open.values()) if (c.record && c.coverage === 'none') out.push(c.record);
    return out.sort((a, b) => (a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0));
  }

  /** Persists the amount floor (at a clean stop); the nonce ceiling stays as reserved. */
  persist(): Promise<void> {
    const f = this.cfg.store.floors(this.key);
    return this.cfg.store.raise(this.key, { ceiling: f.ceiling, amountFloor: this.highest });
  }

  // ---- the rules ----

  /**
   * The amount rule (docs/session.md, "Billing rules", 2) for a voucher `v` whose acceptance covers
   * `newlyCovered` more calls, all at or below its last nonce: it pays for every covered call at or
   * below `last`, and the highest amount after it pays for every covered call.
   */
  private checkAmount(v: Voucher, newlyCovered: number): void {
    if (this.budget !== undefined && v.cumulativeAmount > this.budget)
      sessionFail(
        'VOUCHER_OVER_BUDGET',
        `voucher authorises ${v.cumulativeAmount}, above the lease budget of ${this.budget}`,
        { budget: this.budget.toString(), cumulativeAmount: v.cumulativeAmount.toString() },
      );
    const price = this.cfg.rules.pricePerCall;
    const byLast =
      this.amountFloor + price * BigInt(this.nonces.coveredAtOrBelow(v.lastNonce) + newlyCovered);
    const held = this.heldRequirement(newlyCovered);
    const required = byLast > held ? byLast : held;
    if (v.cumulativeAmount < required)
      sessionFail(
        'VOUCHER_AMOUNT_TOO_LOW',
        `voucher authorises ${v.cumulativeAmount}; the covered calls it follows need at least ${required}`,
        { required: required.toString(), cumulativeAmount: v.cumulativeAmount.toString() },
      );
  }

  /**
   * A call served without a voucher must be one a voucher within the budget can still pay for:
   * otherwise the provider would serve a call it cannot be paid for.
   */
  private checkRoomInBudget(): void {
    if (this.budget === undefined) return;
    const need = this.servedAmount(1);
    if (need > this.budget)
      sessionFail(
        'VOUCHER_OVER_BUDGET',
        `one more call needs a voucher for ${need}, above the budget of ${this.budget}`,
        { budget: this.budget.toString(), cumulativeAmount: need.toString() },
      );
  }

  /** Takes `sv`'s amount; `batch` is the receipt and records of the calls it covers (what answers a claim). */
  private accept(sv: SignedVoucher, batch: VoucherBatch): void | Promise<void> {
    const amount = sv.voucher.cumulativeAmount;
    if (amount > this.highest) this.highest = amount;
    if (this.latest && amount <= this.latest.voucher.cumulativeAmount) return;
    this.latest = sv;
    return this.cfg.onVoucher?.(this, sv, batch);
  }

  /**
   * The least amount a voucher whose acceptance receipts `k` more calls must authorise so that the
   * provider holds one voucher worth every call it signed a receipt for, whichever pending vouchers
   * are accepted or dropped later: for every set S of them accepted, the highest of the accepted
   * amount, this voucher's and S's is at least the floor plus the price of the calls receipted, the
   * k and S's calls (0 when the accepted amount alone does that whatever S is). With all of them
   * accepted this asks what covers every covered call. For a given highest amount the worst S holds
   * every pending voucher at or below it, so the sets to check are those of the lowest amounts.
   */
  private heldRequirement(k: number): bigint {
    const price = this.cfg.rules.pricePerCall;
    const byAmount = [...this.pending.values()].sort((x, y) =>
      x.amount < y.amount ? -1 : x.amount > y.amount ? 1 : 0,
    );
    let need = this.amountFloor + price * BigInt(this.receipted + k);
    let top = this.highest;
    let required = top < need ? need : 0n;
    for (const p of byAmount) {
      need += price * BigInt(p.calls);
      if (p.amount > top) top = p.amount;
      if (top < need) required = need;
    }
    return required;
  }

  private async waitForRoom(): Promise<void> {
    const max = this.cfg.rules.maxUncovered;
    if (this.uncovered < max) return;
    const deadline = this.cfg.now() + this.cfg.rules.voucherWaitMs;
    while (this.uncovered >= max) {
      const left = deadline - this.cfg.now();
      if (left <= 0)
        sessionFail(
          'VOUCHER_REQUIRED',
          `${this.uncovered} calls are not covered by a voucher; settle them first`,
          {
            uncovered: this.uncovered,
            vouchedThrough: this.vouchedThrough.toString(),
          },
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.roomWaiters.push(done);
      });
    }
  }

  private freeRoom(n: number): void {
    this.uncovered -= n;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Waits (bounded) for claimed calls still running, then signs and accepts `v`'s amount, or gives
   * the claims back (and `v` moves nothing).
   */
  private async finishSettle(
    sv: SignedVoucher,
    calls: readonly Call[],
    evidenceHash: Uint8Array,
  ): Promise<SignedReceipt> {
    const v = sv.voucher;
    if (calls.some((c) => !c.record && !c.abandoned)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(calls.map((c) => c.done)),
        new Promise<void>((r) => {
          timer = setTimeout(r, this.cfg.rules.settleWaitMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.pending.delete(v.firstNonce);
    const missing = calls.find((c) => !c.record);
    if (missing) {
      for (const c of calls)
        if (!c.abandoned) {
          c.coverage = 'none';
          this.nonces.mark(c.nonce, 'covered', 'uncovered');
        }
      return sessionFail(
        'VOUCHER_MISMATCH',
        missing.abandoned
          ? `voucher covers call ${missing.nonce}, which did not run`
          : `voucher covers call ${missing.nonce}, which is still running`,
        { nonce: missing.nonce.toString() },
      );
    }
    const receipt = this.sign(calls, evidenceHash);
    this.finish(calls, receipt);
    const told = this.accept(sv, { receipt, records: calls.map((c) => c.record!) });
    this.freeRoom(calls.length);
    await told;
    return receipt;
  }

  /** Covered calls that ran leave the open set for the memory of recent calls. */
  private finish(calls: readonly Call[], receipt: SignedReceipt): void {
    const wasIdle = this.idle;
    this.receipted += calls.length;
    for (const c of calls) {
      c.coverage = 'settled';
      this.open.delete(c.nonce);
      this.recent.add(c.nonce, { state: 'ran', record: c.record!, receipt });
    }
    const last = calls[calls.length - 1]!.nonce;
    if (last > this.vouchedThrough) this.vouchedThrough = last;
    this.noteIdle(wasIdle);
  }

  /** A request comes inside; one on a retired account is a bug of the caller, refused as internal. */
  private enter(): void {
    if (this.retired) throw new Error(`the books of ${this.key} were let go; use the kept account`);
    const wasIdle = this.idle;
    this.inside++;
    this.noteIdle(wasIdle);
  }

  private leave(): void {
    const wasIdle = this.idle;
    this.inside--;
    this.noteIdle(wasIdle);
  }

  private noteIdle(wasIdle: boolean): void {
    const idle = this.idle;
    if (idle !== wasIdle) this.cfg.onIdleChange?.(this, idle);
  }

  private remember(id: string, voucher: Voucher, receipt: Promise<SignedReceipt>): void {
    this.settles.set(id, { voucher, receipt });
    // A refused Settle is forgotten (the same voucher is judged again); a signed one is kept.
    receipt.catch(() => {
      if (this.settles.get(id)?.receipt === receipt) this.settles.delete(id);
    });
    if (this.settles.size > this.cfg.rules.recentSettles) {
      const oldest = this.settles.keys().next();
      if (!oldest.done) this.settles.delete(oldest.value);
    }
  }

  private sign(calls: readonly Call[], evidenceHash: Uint8Array): SignedReceipt {
    const records = calls.map((c) => c.record!);
    const first = calls[0]!.nonce;
    const last = calls[calls.length - 1]!.nonce;
    const { recordHead } = chainHeads(records, first, last);
    let startedAt = calls[0]!.startedAt;
    let finishedAt = calls[0]!.finishedAt;
    for (const c of calls) {
      if (c.startedAt < startedAt) startedAt = c.startedAt;
      if (c.finishedAt > finishedAt) finishedAt = c.finishedAt;
    }
    return this.cfg.signer.sign({
      leaseId: this.cfg.leaseId,
      firstNonce: first,
      lastNonce: last,
      recordHead,
      evidenceHash: `0x${toHex(evidenceHash)}`,
      startedAt: BigInt(startedAt),
      finishedAt: BigInt(finishedAt),
    });
  }

  /** Before serving nonce n: its reservation on disk (or the write already raising it). */
  private reserve(n: bigint): Promise<void> {
    const f = this.cfg.store.floors(this.key);
    if (n <= f.ceiling) return this.cfg.store.raise(this.key, f);
    return this.cfg.store.raise(this.key, {
      ceiling: n + this.cfg.rules.reserveBlock,
      amountFloor: this.highest,
    });
  }

  private voucherContext() {
    return {
      leaseId: this.cfg.leaseId,
      client: this.cfg.client,
      domain: this.cfg.domain,
      minLifetimeS: this.cfg.rules.minVoucherLifetimeS,
      now: this.cfg.now(),
    };
  }
}

/** A voucher taken and not yet accepted: its amount, the calls it covers, and the voucher. */
interface PendingVoucher {
  readonly amount: bigint;
  readonly calls: number;
  readonly voucher: SignedVoucher;
}

/** What the call's nonce stands for in the nonce book. */
function taken(c: Call): Taken {
  return c.coverage === 'none' ? 'uncovered' : 'covered';
}

function sameVoucher(a: Voucher, b: Voucher): boolean {
  return (
    a.leaseId === b.leaseId &&
    a.firstNonce === b.firstNonce &&
    a.lastNonce === b.lastNonce &&
    a.requestHead === b.requestHead &&
    a.cumulativeAmount === b.cumulativeAmount &&
    a.deadline === b.deadline
  );
}
