import { rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { keccak256, toBeHex, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSimulatedRoot } from '../attestation/simulated.js';
import { recoverReceiptSigner } from '../protocol/settlement.js';
import { type Harness, type Relay, startRelay } from '../test/e2e-harness.js';
import { slowEcho, startLeaseExecutor } from '../test/pool-harness.js';
import { type BalancePolicy, balanceSeed, choose } from './balance.js';
import { connect } from './connect.js';
import { DefaasError, isDefaasError } from './errors.js';
import {
  attemptsOf,
  type BlockRef,
  failoverDecision,
  LeasePool,
  type PoolInvokeResult,
  type PoolManyResult,
} from './lease-pool.js';
import type { FunctionHandle } from './session/session.js';
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
      expect(() => new LeasePool([{ leaseId: 12n, session: s }], { wallet, block })).toThrow(
        /has a session to lease 11/,
      );
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
      // A block source that fails: the chain is unavailable; nothing was sent.
      const noChain = new LeasePool([m], {
        wallet,
        block: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9')),
      });
      const fn = { id: '00'.repeat(32), hash: `0x${'00'.repeat(32)}` };
      await expect(noChain.invoke(fn, enc('x'))).rejects.toThrow(/CHAIN_UNAVAILABLE/);
      expect(noChain.status()[0]?.up).toBe(true);
      // A module no executor takes: the executor's own refusal, and the member stays up.
      const e = await noChain.deploy(enc('not wasm')).catch((x: unknown) => x);
      expect(isDefaasError(e), String(e)).toBe(true);
      expect((e as DefaasError).code).not.toBe('POOL_NO_MEMBER');
      expect((e as DefaasError).leaseId).toBe(11n);
      expect(noChain.status()[0]).toMatchObject({ up: true, retired: false });
    } finally {
      await s.close();
    }
  }, 30_000);
});

describe('lease pool failover', () => {
  const root = generateSimulatedRoot();
  const price = 5n;
  const hs: Harness[] = [];
  /** What ran on each member, by input. */
  const runs = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>()];
  let victim: Harness;

  beforeAll(async () => {
    for (const [i, id] of [21n, 22n, 23n].entries())
      hs.push(await startLeaseExecutor(root, id, { pricePerCall: price, runs: runs[i]! }));
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
      // No input ran twice: each answered one ran exactly once, where its result says; one of
      // unknown outcome ran at most once (on the victim, or nowhere).
      const ranAt = (input: string) => runs.map((m) => m.get(input) ?? 0);
      for (const [i, r] of rs.entries()) {
        const input = dec(inputs[i]!);
        const at = ranAt(input);
        if (r.ok) {
          expect(dec(r.output)).toBe(input);
          expect(at).toEqual(members.map((m) => (m.leaseId === r.leaseId ? 1 : 0)));
        } else expect(at[0]! + at[2]!).toBe(0);
      }
      expect(runs.reduce((n, m) => n + m.size, 0)).toBeLessThanOrEqual(inputs.length);
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
      // Per member, the highest voucher signed is the price of the calls that ran there (counted by
      // its runtime); on the victim, calls of unknown outcome may be in it too (their vouchers went out).
      for (const [i, m] of members.entries()) {
        const ran = [...runs[i]!.values()].reduce((a, b) => a + b, 0);
        const answered = ok.filter((r) => r.leaseId === m.leaseId).length;
        let top = 0n;
        for (const e of store.entries)
          if (e.receipt.receipt.leaseId === m.leaseId && e.voucher.voucher.cumulativeAmount > top)
            top = e.voucher.voucher.cumulativeAmount;
        if (m.leaseId === victim.executor.leaseId) {
          expect(ran).toBeGreaterThanOrEqual(answered);
          expect(ran).toBeLessThanOrEqual(answered + failed.length);
          expect(top).toBeGreaterThanOrEqual(BigInt(answered) * price);
          expect(top).toBeLessThanOrEqual(BigInt(answered + failed.length) * price);
        } else {
          expect(ran).toBe(answered);
          expect(top).toBe(BigInt(ran) * price);
        }
      }
    } finally {
      await pool.close();
    }
  }, 120_000);
});

describe('lease pool: a call that ran or may have run is not moved', () => {
  const root = generateSimulatedRoot();
  const HASH = keccak256('0x5eed');
  const block = async () => ({ number: 7, hash: HASH });
  const runsA = new Map<string, number>();
  const runsB = new Map<string, number>();
  let a: Harness;
  let b: Harness;
  let relay: Relay;
  /** What the relay in front of A does with an Invoke's answer and with Syncs. */
  let mode: 'pass' | 'lose-answer' | 'lose-answer-and-sync' = 'pass';
  let pool: LeasePool;
  let fn: FunctionHandle;

  const unavailable = () =>
    Object.assign(new Error('dropped'), {
      code: grpc.status.UNAVAILABLE,
      details: 'dropped by the relay',
      metadata: new grpc.Metadata(),
    });

  /** A request id whose draw (policy none, both up) picks member `index` (0: A, 1: B). */
  function requestIdFor(index: number): string {
    for (let i = 0; i < 200; i++) {
      const rid = keccak256(toBeHex(BigInt(i) + 1000n * BigInt(index + 1), 32));
      if (choose('none', balanceSeed(HASH, rid), [0, 0]).chosen === index) return rid;
    }
    throw new Error('no request id found');
  }

  async function until(cond: () => boolean, ms: number): Promise<void> {
    for (const end = Date.now() + ms; !cond() && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 20));
    expect(cond()).toBe(true);
  }

  beforeAll(async () => {
    a = await startLeaseExecutor(root, 31n, { pricePerCall: 2n, runs: runsA });
    b = await startLeaseExecutor(root, 32n, { pricePerCall: 2n, runs: runsB });
    relay = await startRelay(a.endpoint, {
      Invoke: (call, cb, up) =>
        up.Invoke(call.request as never, (e, r) => (mode === 'pass' ? cb(e, r) : cb(unavailable()))),
      Sync: (call, cb, up) =>
        mode === 'lose-answer-and-sync' ? cb(unavailable()) : up.Sync(call.request as never, cb),
    });
    const wallet = Wallet.createRandom();
    const members = [
      {
        leaseId: 31n,
        session: await connect(relay.endpoint, { policy: a.policy, leaseId: 31n, deadlineMs: 1_500 }),
      },
      {
        leaseId: 32n,
        session: await connect(b.endpoint, { policy: b.policy, leaseId: 32n, deadlineMs: 1_500 }),
      },
    ];
    pool = new LeasePool(members, { wallet, block, policy: 'none', backoffMs: 200 });
    fn = await pool.deploy(await slowEcho(1));
    // Both sessions bound to the wallet while everything passes.
    for (const i of [0, 1]) await pool.invoke(fn, enc(`warm-${i}`), { requestId: requestIdFor(i) });
  }, 60_000);
  afterAll(async () => {
    await pool?.close();
    relay?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('CALL_OUTPUT_LOST (it ran, it is charged) is returned naming the lease, even with retryUnknown', async () => {
    mode = 'lose-answer';
    const e = await pool
      .invoke(fn, enc('lost'), { requestId: requestIdFor(0), retryUnknown: true })
      .catch((x: unknown) => x);
    expect(isDefaasError(e, 'CALL_OUTPUT_LOST'), String(e)).toBe(true);
    const err = e as DefaasError;
    expect(err.leaseId).toBe(31n);
    expect(err.invokeSent).toBe(true);
    expect(err.call?.record).toBeDefined();
    expect(attemptsOf(err).map((x) => x.leaseId)).toEqual([31n]);
    expect([runsA.get('lost'), runsB.get('lost')]).toEqual([1, undefined]);
    // The member is down for a while, then probed and back.
    expect(pool.status()[0]).toMatchObject({ up: false, retired: false, downCode: 'CALL_OUTPUT_LOST' });
    mode = 'pass';
    await until(() => pool.status()[0]!.up, 5_000);
    const r = await pool.invoke(fn, enc('after probe'), { requestId: requestIdFor(0) });
    expect(r.leaseId).toBe(31n);
  }, 30_000);

  it('CALL_OUTCOME_UNKNOWN is returned naming the lease; with retryUnknown it runs elsewhere (and twice)', async () => {
    mode = 'lose-answer-and-sync';
    const e = await pool.invoke(fn, enc('unknown'), { requestId: requestIdFor(0) }).catch((x: unknown) => x);
    expect(isDefaasError(e, 'CALL_OUTCOME_UNKNOWN'), String(e)).toBe(true);
    expect((e as DefaasError).leaseId).toBe(31n);
    expect([runsA.get('unknown'), runsB.get('unknown')]).toEqual([1, undefined]);

    await until(() => pool.status()[0]!.up, 5_000);
    const r = await pool.invoke(fn, enc('paid twice'), { requestId: requestIdFor(0), retryUnknown: true });
    expect(r.leaseId).toBe(32n);
    expect(r.attempts.map((x) => [x.leaseId, x.error?.code])).toEqual([
      [31n, 'CALL_OUTCOME_UNKNOWN'],
      [32n, undefined],
    ]);
    // The second attempt's draw is over what was left, from the same seed.
    expect(r.attempts[1]!.candidates).toEqual([32n]);
    expect([runsA.get('paid twice'), runsB.get('paid twice')]).toEqual([1, 1]);
    mode = 'pass';
  }, 30_000);

  it('a member that cannot be reached before the call goes out: the call moves, and ran once', async () => {
    await until(() => pool.status()[0]!.up, 5_000);
    relay.stop();
    // Once the session saw its connection drop, it checks the session before a call goes out. (A
    // call sent on a connection that is dropping has an unknown outcome, as in the test above.)
    await new Promise((r) => setTimeout(r, 300));
    const r = await pool.invoke(fn, enc('moved'), { requestId: requestIdFor(0) });
    expect(r.leaseId).toBe(32n);
    expect(r.attempts).toHaveLength(2);
    expect(r.attempts[0]!.error?.invokeSent).toBe(false);
    expect(r.attempts[0]!.error?.kind).toBe('transient');
    expect([runsA.get('moved'), runsB.get('moved')]).toEqual([undefined, 1]);
    expect(pool.status()[0]!.up).toBe(false);
  }, 30_000);
});

describe('lease pool: an executor replaced by another enclave is retired', () => {
  const root = generateSimulatedRoot();
  let c: Harness;
  let imposter: Harness | undefined;
  let b: Harness;
  const runsC = new Map<string, number>();
  const runsB = new Map<string, number>();

  beforeAll(async () => {
    c = await startLeaseExecutor(root, 41n, { runs: runsC });
    b = await startLeaseExecutor(root, 42n, { runs: runsB });
  }, 60_000);
  afterAll(async () => {
    await imposter?.stop();
    await b.stop();
    await rm(c.stateDir, { recursive: true, force: true });
  });

  it('IDENTITY_MISMATCH on re-opening: down for good, the call moves', async () => {
    const pin = { address: c.executor.identity.identityAddress };
    const members = [
      {
        leaseId: 41n,
        session: await connect(c.endpoint, {
          policy: c.policy,
          leaseId: 41n,
          identity: pin,
          deadlineMs: 1_500,
        }),
      },
      {
        leaseId: 42n,
        session: await connect(b.endpoint, { policy: b.policy, leaseId: 42n, deadlineMs: 1_500 }),
      },
    ];
    const HASH = keccak256('0x0c');
    const pool = new LeasePool(members, {
      wallet: Wallet.createRandom(),
      block: async () => ({ number: 1, hash: HASH }),
      policy: 'none',
      backoffMs: 100,
    });
    try {
      const fn = await pool.deploy(await slowEcho(1));
      let rid = '';
      for (let i = 0; i < 200 && rid === ''; i++) {
        const x = keccak256(toBeHex(i + 1, 32));
        if (choose('none', balanceSeed(HASH, x), [0, 0]).chosen === 0) rid = x;
      }
      expect((await pool.invoke(fn, enc('first'), { requestId: rid })).leaseId).toBe(41n);
      // Same address, same lease, same platform root: another enclave (a new identity key).
      await c.executor.stop(0);
      imposter = await startLeaseExecutor(root, 41n, { listen: c.endpoint, runs: runsC });
      const r = await pool.invoke(fn, enc('second'), { requestId: rid });
      expect(r.leaseId).toBe(42n);
      expect(r.attempts[0]!.error?.code).toBe('IDENTITY_MISMATCH');
      expect(r.attempts[0]!.error?.invokeSent).toBe(false);
      expect(pool.status()[0]).toMatchObject({ up: false, retired: true, downCode: 'IDENTITY_MISMATCH' });
      expect([runsC.get('second'), runsB.get('second')]).toEqual([undefined, 1]);
      // Retired: never probed back, every later call goes to the other.
      await new Promise((res) => setTimeout(res, 400));
      expect(pool.status()[0]!.up).toBe(false);
      expect((await pool.invoke(fn, enc('third'), { requestId: rid })).leaseId).toBe(42n);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
