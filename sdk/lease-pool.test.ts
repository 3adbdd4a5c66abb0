import { rm } from 'node:fs/promises';
import { keccak256, toBeHex, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSimulatedRoot } from '../attestation/simulated.js';
import { recoverReceiptSigner } from '../protocol/settlement.js';
import type { Harness } from '../test/e2e-harness.js';
import { slowEcho, startLeaseExecutor } from '../test/pool-harness.js';
import { type BalancePolicy, balanceSeed, choose } from './balance.js';
import { connect } from './connect.js';
import { DefaasError } from './errors.js';
import {
  type BlockRef,
  failoverDecision,
  LeasePool,
  type PoolInvokeResult,
  type PoolManyResult,
} from './lease-pool.js';
import { LocalReceiptStore } from './store.js';

/** The lease pool over three executors on 127.0.0.1, one lease each. */

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A block source that moves on every `every` reads (a stand-in for a provider's `latest`). */
function blocks(): { block: () => Promise<BlockRef>; reads: () => number } {
  let n = 0;
  return {
    block: async () => {
      n++;
      return { number: n, hash: keccak256(toBeHex(n, 32)) };
    },
    reads: () => n,
  };
}

/** The member a result names must be the one its draw picks, recomputed from the block and request id. */
function expectDrawHolds(r: PoolInvokeResult, policy: BalancePolicy): void {
  const last = r.attempts[r.attempts.length - 1]!;
  const again = choose(policy, balanceSeed(r.block.hash, r.requestId), last.loads);
  expect(again).toEqual(r.draw);
  expect(last.candidates[again.chosen]).toBe(r.leaseId);
  expect([...last.candidates]).toEqual([...last.candidates].sort((a, b) => (a < b ? -1 : 1)));
}

function okResults(rs: readonly PoolManyResult[]): PoolInvokeResult[] {
  return rs.flatMap((r) => (r.ok ? [r] : []));
}

describe('failover rule', () => {
  const err = (code: ConstructorParameters<typeof DefaasError>[0], sent: boolean) => {
    const e = new DefaasError(code, 'x');
    e.invokeSent = sent;
    return e;
  };
  it('moves a call only when it certainly did not run', () => {
    expect(failoverDecision(err('TRANSPORT_UNAVAILABLE', false), false)).toEqual({
      down: 'backoff',
      move: true,
    });
    expect(failoverDecision(err('IDENTITY_MISMATCH', false), false)).toEqual({ down: 'retire', move: true });
    expect(failoverDecision(err('LEASE_NOT_ACTIVE', false), false)).toEqual({ down: 'retire', move: true });
    // It may have run: returned, unless the caller accepts paying twice.
    expect(failoverDecision(err('CALL_OUTCOME_UNKNOWN', true), false)).toEqual({
      down: 'backoff',
      move: false,
    });
    expect(failoverDecision(err('CALL_OUTCOME_UNKNOWN', true), true)).toEqual({
      down: 'backoff',
      move: true,
    });
    expect(failoverDecision(err('RECEIPT_INVALID', true), false)).toEqual({ down: 'retire', move: false });
    // It ran and is charged: never again.
    expect(failoverDecision(err('CALL_OUTPUT_LOST', true), true)).toEqual({ down: 'backoff', move: false });
    expect(failoverDecision(err('FUNCTION_TRAPPED', true), true)).toEqual({ down: undefined, move: false });
    // Refused by the executor's rules: the member stays up, the caller hears why.
    expect(failoverDecision(err('INPUT_TOO_LARGE', false), false)).toEqual({ down: undefined, move: false });
  });
});

describe('lease pool', () => {
  const root = generateSimulatedRoot();
  const price = 7n;
  const hs: Harness[] = [];
  let echo: Uint8Array;

  beforeAll(async () => {
    echo = await slowEcho(1);
    // Lease 11 is a slow machine: one call at a time, 250 ms each.
    hs.push(await startLeaseExecutor(root, 11n, { serialDelayMs: 250, pricePerCall: price }));
    hs.push(await startLeaseExecutor(root, 12n, { pricePerCall: price }));
    hs.push(await startLeaseExecutor(root, 13n, { pricePerCall: price }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(hs.map((h) => h.stop()));
  });

  async function poolOf(
    policy: BalancePolicy,
    store: LocalReceiptStore,
    extra: { retryUnknown?: boolean } = {},
  ): Promise<{ pool: LeasePool; wallet: { address: string }; reads: () => number }> {
    const wallet = Wallet.createRandom();
    const members = await Promise.all(
      hs.map(async (h) => ({
        leaseId: h.executor.leaseId,
        session: await connect(h.endpoint, {
          policy: h.policy,
          leaseId: h.executor.leaseId,
          store,
          // The slow member queues calls: well within this.
          deadlineMs: 20_000,
        }),
      })),
    );
    const b = blocks();
    const pool = new LeasePool(members, { wallet, block: b.block, policy, store, ...extra });
    return { pool, wallet, reads: b.reads };
  }

  for (const policy of ['power-of-two', 'choice-of-two', 'none'] as const)
    it(`${policy}: every call goes where its draw says, and the store shows where`, async () => {
      const store = new LocalReceiptStore();
      const { pool, wallet, reads } = await poolOf(policy, store);
      try {
        const fn = await pool.deploy(echo);
        const inputs = Array.from({ length: 45 }, (_, i) => enc(`${policy}-${i}`));
        const rs = await pool.invokeMany(fn, inputs, { concurrency: 6 });
        const ok = okResults(rs);
        expect(ok).toHaveLength(inputs.length);
        const perLease = new Map<bigint, number>();
        for (const [i, r] of rs.entries()) {
          if (!r.ok) continue;
          expect(dec(r.output)).toBe(dec(inputs[i]!));
          expectDrawHolds(r, policy);
          expect(r.attempts).toHaveLength(1);
          expect(r.receipt.receipt.leaseId).toBe(r.leaseId);
          const p = store.placementOf(r.leaseId, wallet.address, r.record.nonce);
          expect(p?.requestId).toBe(r.requestId);
          expect(p?.draw).toEqual(r.draw);
          perLease.set(r.leaseId, (perLease.get(r.leaseId) ?? 0) + 1);
        }
        // Three members, 45 uniform-ish draws: each gets some ((2/3)^45 < 1e-7 to miss one).
        expect(perLease.size).toBe(3);
        // The block is cached: far fewer reads than calls.
        expect(reads()).toBeLessThan(5);
        expect(pool.status().map((s) => s.calls)).toEqual(
          [...perLease.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map((e) => e[1]),
        );
      } finally {
        await pool.close();
      }
    }, 60_000);

  it('power-of-two sends fewer calls to the slow member than to either other', async () => {
    const store = new LocalReceiptStore({ keepInMemory: false });
    const { pool } = await poolOf('power-of-two', store);
    try {
      const fn = await pool.deploy(echo);
      const rs = await pool.invokeMany(
        fn,
        Array.from({ length: 60 }, (_, i) => enc(`p2-${i}`)),
        { concurrency: 8 },
      );
      const ok = okResults(rs);
      expect(ok).toHaveLength(60);
      for (const r of ok) expectDrawHolds(r, 'power-of-two');
      const [slow, a, b] = pool.status().map((s) => s.calls);
      expect(slow).toBeLessThan(a!);
      expect(slow).toBeLessThan(b!);
    } finally {
      await pool.close();
    }
  }, 120_000);

  it('refuses malformed set-up and a malformed block', async () => {
    const wallet = Wallet.createRandom();
    const block = async () => ({ number: 1, hash: keccak256('0x01') });
    expect(() => new LeasePool([], { wallet, block })).toThrow(/SDK_INVALID_ARGUMENT/);
    const s = await connect(hs[0]!.endpoint, { policy: hs[0]!.policy, leaseId: 11n });
    try {
      const m = { leaseId: 11n, session: s };
      expect(() => new LeasePool([m, m], { wallet, block })).toThrow(/one member per lease/);
      expect(() => new LeasePool([m], { wallet, block, policy: 'round-robin' as BalancePolicy })).toThrow(
        /unknown balance policy/,
      );
      for (const bad of [
        { number: 1, hash: '0x12' },
        { number: -1, hash: keccak256('0x01') },
        { number: 1.5, hash: keccak256('0x01') },
        null,
      ]) {
        const pool = new LeasePool([m], { wallet, block: async () => bad as BlockRef });
        const fn = { id: '00'.repeat(32), hash: `0x${'00'.repeat(32)}` };
        await expect(pool.invoke(fn, enc('x'))).rejects.toThrow(/SDK_INVALID_ARGUMENT/);
        // Nothing was sent: the member is still up.
        expect(pool.status()[0]?.up).toBe(true);
      }
    } finally {
      await s.close();
    }
  }, 30_000);
});

describe('lease pool failover', () => {
  const root = generateSimulatedRoot();
  const price = 5n;
  const hs: Harness[] = [];
  let victim: Harness;

  beforeAll(async () => {
    for (const id of [21n, 22n, 23n]) hs.push(await startLeaseExecutor(root, id, { pricePerCall: price }));
    victim = hs[1]!;
  }, 60_000);
  afterAll(async () => {
    await Promise.all(hs.filter((h) => h !== victim).map((h) => h.stop()));
    await rm(victim.stateDir, { recursive: true, force: true });
  });

  it('an executor killed mid-run: calls move on, none runs twice, the vouchers add up', async () => {
    const store = new LocalReceiptStore();
    const wallet = Wallet.createRandom();
    const members = await Promise.all(
      hs.map(async (h) => ({
        leaseId: h.executor.leaseId,
        session: await connect(h.endpoint, {
          policy: h.policy,
          leaseId: h.executor.leaseId,
          store,
          deadlineMs: 1_500,
        }),
      })),
    );
    const pool = new LeasePool(members, { wallet, block: blocks().block, store, backoffMs: 60_000 });
    try {
      const fn = await pool.deploy(await slowEcho(3_000_000));
      const inputs = Array.from({ length: 90 }, (_, i) => enc(`kill-${i}`));
      const run = pool.invokeMany(fn, inputs, { concurrency: 6 });
      // Kill the victim once a third of the calls ran (bounded wait).
      for (let i = 0; i < 600 && pool.status().reduce((n, s) => n + s.calls, 0) < 30; i++)
        await new Promise((r) => setTimeout(r, 10));
      const killedAfter = pool.status()[1]!.calls;
      expect(killedAfter).toBeGreaterThan(0);
      await victim.executor.stop(0);
      const rs = await run;

      const ok = okResults(rs);
      const failed = rs.flatMap((r, i) => (r.ok ? [] : [{ i, error: r.error }]));
      // A call in flight on the victim has an unknown outcome: returned naming the lease, not re-sent.
      for (const f of failed) {
        expect(f.error.code).toBe('CALL_OUTCOME_UNKNOWN');
        expect(f.error.leaseId).toBe(victim.executor.leaseId);
      }
      expect(failed.length).toBeLessThanOrEqual(6);
      expect(ok.length + failed.length).toBe(inputs.length);
      // No input ran twice where we can see it: every output once, each its own input's.
      const outputs = ok.map((r) => dec(r.output));
      expect(new Set(outputs).size).toBe(outputs.length);
      for (const [i, r] of rs.entries()) if (r.ok) expect(dec(r.output)).toBe(dec(inputs[i]!));
      for (const f of failed) expect(outputs).not.toContain(dec(inputs[f.i]!));
      // The victim is down; the others took the rest.
      const st = pool.status();
      expect(st[1]!.up).toBe(false);
      expect(st[0]!.up && st[2]!.up).toBe(true);
      // Every receipt is signed by its member's attested enclave, for its lease, and covers its record.
      for (const r of ok) {
        const m = members.find((x) => x.leaseId === r.leaseId)!;
        expect(recoverReceiptSigner(r.receipt.domain, r.receipt)).toBe(m.session.accepted.identityAddress);
        expect(r.receipt.receipt.leaseId).toBe(r.leaseId);
        expect(r.receipt.records).toContainEqual(r.record);
      }
      // Per member, the highest voucher signed is the price of the calls that ran there; on the
      // victim, the calls of unknown outcome may be in it too (their vouchers went out).
      for (const m of members) {
        const ran = ok.filter((r) => r.leaseId === m.leaseId).length;
        let top = 0n;
        for (const e of store.entries)
          if (e.receipt.receipt.leaseId === m.leaseId && e.voucher.voucher.cumulativeAmount > top)
            top = e.voucher.voucher.cumulativeAmount;
        if (m.leaseId === victim.executor.leaseId) {
          expect(top).toBeGreaterThanOrEqual(BigInt(ran) * price);
          expect(top).toBeLessThanOrEqual(BigInt(ran + failed.length) * price);
        } else expect(top).toBe(BigInt(ran) * price);
      }
    } finally {
      await pool.close();
    }
  }, 120_000);
});
