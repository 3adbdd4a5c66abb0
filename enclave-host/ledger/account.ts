import { ZeroHash } from 'ethers';
import { toHex } from '../../attestation/bytes.js';
import { sessionFail } from '../../protocol/errors.js';
import {
  recoverVoucherSigner,
  type SignedReceipt,
  type SignedVoucher,
  signReceipt,
} from '../../protocol/settlement.js';
import type { CallRecord, TypedDataDomain } from '../../protocol/typed-data.js';
import {
  chainHeadsFast as chainHeads,
  nextRequestHeadFast as nextRequestHead,
} from '../../protocol/typed-data-fast.js';
import type { NonceStore } from './nonce-store.js';

/*
 * The executor's books for one (lease, client) pair (ARCHITECTURE.md, "Requests, receipts,
 * vouchers"):
 * - nonces: each accepted at most once, above the persisted floor, and no older than `window` below
 *   the highest seen (concurrent calls may arrive slightly out of order);
 * - coverage: a call is either covered by a customer voucher in its request (per-call mode) or
 *   counted as uncovered until a Settle voucher covers it (batched mode). At most `maxUncovered`
 *   calls (one batch) are served uncovered; a further call waits up to `voucherWaitMs` for a voucher
 *   and then fails with VOUCHER_REQUIRED, so a customer who stops signing gets one batch at most;
 * - receipts: signed by the enclave over the full call records of exactly the voucher's range.
 */

export interface CallRequest {
  readonly nonce: bigint;
  /** 0x-hex SHA-256 of the module. */
  readonly functionHash: string;
  /** 0x-hex SHA-256 of the input. */
  readonly inputHash: string;
}

interface Call extends CallRequest {
  covered: boolean;
  startedAt: number;
  finishedAt: number;
  record: CallRecord | undefined;
  readonly done: Promise<void>;
  resolve(): void;
}

export interface AccountConfig {
  readonly leaseId: bigint;
  /** Lower-case 0x address of the customer wallet. */
  readonly client: string;
  readonly domain: TypedDataDomain;
  readonly store: NonceStore;
  readonly window: number;
  readonly maxUncovered: number;
  readonly maxVoucherRange: number;
  readonly voucherWaitMs: number;
  /** Price of every call that ran, failed or not (the lease's terms). */
  readonly pricePerCall: bigint;
  /** Nonces reserved per persisted write. */
  readonly reserveBlock: bigint;
  readonly now: () => number;
}

export class Account {
  private readonly key: string;
  private floor: bigint;
  private highest: bigint;
  private readonly seen = new Set<bigint>();
  private readonly calls = new Map<bigint, Call>();
  private uncovered = 0;
  private coverageWaiters: (() => void)[] = [];
  /** Sum of the prices of receipted calls since start. */
  private cumulative = 0n;
  /** Highest cumulative amount a voucher authorised (what the provider would redeem). */
  private authorised = 0n;
  private vouchedThrough = 0n;

  constructor(private readonly cfg: AccountConfig) {
    this.key = `${cfg.leaseId}/${cfg.client}`;
    this.floor = cfg.store.ceiling(this.key);
    this.highest = this.floor;
  }

  /** The lowest nonce that can still be accepted as the next new one. */
  get nextNonce(): bigint {
    return this.highest + 1n;
  }

  get status(): { nextNonce: bigint; vouchedThrough: bigint; cumulativeAmount: bigint } {
    return {
      nextNonce: this.nextNonce,
      vouchedThrough: this.vouchedThrough,
      cumulativeAmount: this.authorised,
    };
  }

  /** Per-call mode: checks a voucher for exactly this call before anything runs. */
  checkInlineVoucher(sv: SignedVoucher, req: CallRequest): void {
    const price = this.cfg.pricePerCall;
    const v = sv.voucher;
    this.checkVoucherEnvelope(sv);
    if (v.firstNonce !== req.nonce || v.lastNonce !== req.nonce)
      sessionFail('VOUCHER_MISMATCH', 'a per-call voucher must cover exactly its call', {
        nonce: req.nonce.toString(),
      });
    if (v.requestHead !== nextRequestHead(ZeroHash, req))
      sessionFail('VOUCHER_MISMATCH', 'voucher request chain does not match the call', {
        nonce: req.nonce.toString(),
      });
    if (v.cumulativeAmount < price)
      sessionFail('VOUCHER_MISMATCH', 'voucher authorises less than the call costs', {
        price: price.toString(),
      });
  }

  /** Accepts a nonce (or throws NONCE_STALE / VOUCHER_REQUIRED); resolves once its reservation is durable. */
  async admit(req: CallRequest, covered: boolean): Promise<void> {
    if (!covered && this.uncovered >= this.cfg.maxUncovered) {
      const deadline = this.cfg.now() + this.cfg.voucherWaitMs;
      while (this.uncovered >= this.cfg.maxUncovered) {
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
        await this.waitCoverage(left);
      }
    }
    const n = req.nonce;
    if (n <= this.floor || n <= this.highest - BigInt(this.cfg.window) || this.seen.has(n))
      sessionFail('NONCE_STALE', `nonce ${n} is not above the last one seen`, {
        nonce: n.toString(),
        nextNonce: this.nextNonce.toString(),
      });
    this.seen.add(n);
    if (n > this.highest) {
      this.highest = n;
      const drop = this.highest - BigInt(this.cfg.window);
      if (this.seen.size > this.cfg.window * 2) for (const s of this.seen) if (s <= drop) this.seen.delete(s);
    }
    let resolve!: () => void;
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    this.calls.set(n, {
      ...req,
      covered,
      startedAt: this.cfg.now(),
      finishedAt: 0,
      record: undefined,
      done,
      resolve,
    });
    if (!covered) this.uncovered++;
    if (n > this.cfg.store.ceiling(this.key)) await this.cfg.store.raise(this.key, n + this.cfg.reserveBlock);
  }

  complete(record: CallRecord): void {
    const c = this.calls.get(record.nonce);
    if (!c) return;
    c.record = record;
    c.finishedAt = this.cfg.now();
    c.resolve();
  }

  /**
   * A call admitted but not run (the runtime refused it: busy, closed, its worker failed): the nonce
   * stays spent (it cannot be replayed) but the call leaves no record, so no voucher or receipt can
   * cover it and it is never charged. A batch voucher over it is refused as not served.
   */
  abandon(nonce: bigint): void {
    const c = this.calls.get(nonce);
    if (!c || c.record) return;
    this.calls.delete(nonce);
    if (!c.covered) {
      this.uncovered--;
      const waiters = this.coverageWaiters;
      this.coverageWaiters = [];
      for (const w of waiters) w();
    }
    c.resolve();
  }

  /** Per-call mode: the receipt for a completed, voucher-covered call. */
  receiptFor(
    nonce: bigint,
    sv: SignedVoucher,
    evidenceHash: Uint8Array,
    identityKey: Uint8Array,
  ): SignedReceipt {
    const c = this.calls.get(nonce);
    if (!c?.record) return sessionFail('EXECUTOR_INTERNAL', `call ${nonce} has no record`);
    this.calls.delete(nonce);
    this.cumulative += c.record.price;
    if (sv.voucher.cumulativeAmount > this.authorised) this.authorised = sv.voucher.cumulativeAmount;
    if (nonce > this.vouchedThrough) this.vouchedThrough = nonce;
    return this.sign([c], evidenceHash, identityKey);
  }

  /** Batched mode: verifies a voucher over served calls and returns the receipt over the same range. */
  async settle(sv: SignedVoucher, evidenceHash: Uint8Array, identityKey: Uint8Array): Promise<SignedReceipt> {
    const v = sv.voucher;
    this.checkVoucherEnvelope(sv);
    if (v.lastNonce < v.firstNonce || v.lastNonce - v.firstNonce >= BigInt(this.cfg.maxVoucherRange))
      sessionFail('VOUCHER_MISMATCH', `voucher range must hold 1..${this.cfg.maxVoucherRange} calls`);
    // Calls of the range may still be in flight; wait for them (bounded).
    const deadline = this.cfg.now() + this.cfg.voucherWaitMs;
    const calls: Call[] = [];
    for (let n = v.firstNonce; n <= v.lastNonce; n++) {
      let c = this.calls.get(n);
      while (!c && this.cfg.now() < deadline) {
        await sleep(2);
        c = this.calls.get(n);
      }
      if (!c || c.covered)
        sessionFail(
          'VOUCHER_MISMATCH',
          `voucher covers call ${n}, which is not an open call of this client`,
          {
            nonce: n.toString(),
          },
        );
      calls.push(c);
    }
    const owed = BigInt(calls.length) * this.cfg.pricePerCall;
    if (v.cumulativeAmount < owed)
      sessionFail('VOUCHER_MISMATCH', 'voucher authorises less than its calls cost', {
        owed: owed.toString(),
      });
    let head: string = ZeroHash;
    for (const c of calls) head = nextRequestHead(head, c);
    if (head !== v.requestHead)
      sessionFail('VOUCHER_MISMATCH', 'voucher request chain does not match the calls served', {
        firstNonce: v.firstNonce.toString(),
        lastNonce: v.lastNonce.toString(),
      });
    // Covered from now on: the next batch may proceed while the last calls of this one finish.
    for (const c of calls) c.covered = true;
    this.uncovered -= calls.length;
    const waiters = this.coverageWaiters;
    this.coverageWaiters = [];
    for (const w of waiters) w();
    await Promise.race([
      Promise.all(calls.map((c) => c.done)),
      sleep(Math.max(0, deadline - this.cfg.now()) + 60_000),
    ]);
    const price = calls.reduce((s, c) => s + (c.record?.price ?? 0n), 0n);
    for (const c of calls) this.calls.delete(c.nonce);
    this.cumulative += price;
    if (v.cumulativeAmount > this.authorised) this.authorised = v.cumulativeAmount;
    if (v.lastNonce > this.vouchedThrough) this.vouchedThrough = v.lastNonce;
    return this.sign(calls, evidenceHash, identityKey);
  }

  private checkVoucherEnvelope(sv: SignedVoucher): void {
    const v = sv.voucher;
    if (v.leaseId !== this.cfg.leaseId)
      sessionFail('WRONG_LEASE', `voucher is for lease ${v.leaseId}, not ${this.cfg.leaseId}`);
    if (v.deadline * 1000n < BigInt(this.cfg.now()))
      sessionFail('VOUCHER_EXPIRED', 'voucher deadline has passed', { deadline: v.deadline.toString() });
    const signer = recoverVoucherSigner(this.cfg.domain, sv);
    if (signer !== this.cfg.client)
      sessionFail('VOUCHER_INVALID', 'voucher is not signed by the client wallet', {
        client: this.cfg.client,
        ...(signer && { signer }),
      });
  }

  private sign(calls: readonly Call[], evidenceHash: Uint8Array, identityKey: Uint8Array): SignedReceipt {
    const records = calls.map(
      (c) => c.record ?? sessionFail('EXECUTOR_INTERNAL', `call ${c.nonce} did not finish`),
    );
    const first = calls[0]!.nonce;
    const last = calls[calls.length - 1]!.nonce;
    const { recordHead } = chainHeads(records, first, last);
    return signReceipt(
      this.cfg.domain,
      {
        leaseId: this.cfg.leaseId,
        firstNonce: first,
        lastNonce: last,
        recordHead,
        evidenceHash: `0x${toHex(evidenceHash)}`,
        startedAt: BigInt(Math.min(...calls.map((c) => c.startedAt))),
        finishedAt: BigInt(Math.max(...calls.map((c) => c.finishedAt))),
      },
      identityKey,
    );
  }

  private waitCoverage(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.coverageWaiters.push(done);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
