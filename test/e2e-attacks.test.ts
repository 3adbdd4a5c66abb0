import * as grpc from '@grpc/grpc-js';
import { getBytes, Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from '../examples/build-example.js';
import type { ExecutorClient } from '../proto/gen/defaas/executor/v1/Executor.js';
import { signClientBinding } from '../protocol/client-binding.js';
import { sessionFail } from '../protocol/errors.js';
import { DefaasError } from '../sdk/errors.js';
import { connect, LocalReceiptStore, type Session } from '../sdk/index.js';
import type { SecureChannel } from '../sdk/session/channel.js';
import {
  countingRuntime,
  forgedStatus,
  type Harness,
  type Key,
  newKey,
  type RawSession,
  type Relay,
  rawClient,
  rawSession,
  startExecutor,
  startRelay,
} from './e2e-harness.js';

/*
 * Attacks on the session protocol over real gRPC on 127.0.0.1 (docs/session.md, "The client's trust
 * rule" and "Billing rules"): a relay or host on the path, a customer sending what an honest SDK
 * would not, a provider trying to charge for what did not run. Each case asserts the precise outcome
 * the protocol promises.
 */

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** The sealed refusal code of a request through `ch`, or 'OK'. */
async function sealedCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (!(e instanceof DefaasError) || e.origin !== 'sealed') throw e;
    return e.code;
  }
}

function bindSync(ch: SecureChannel, lease: bigint, key: Key, nonces: string[] = []) {
  return ch.request('sync', {
    sync: {
      leaseId: lease.toString(),
      client: key.address,
      clientProof: Buffer.from(signClientBinding(key.privateKey, ch.accepted.sessionId, lease)),
      nonces,
    },
  });
}

describe('a stranger to the lease keeps no books (lease check on Sync)', () => {
  const customer = newKey();
  let h: Harness;
  let raw: RawSession;

  beforeAll(async () => {
    h = await startExecutor({
      leaseCheck: async ({ client }) => {
        if (client !== customer.address) sessionFail('NOT_LEASE_CUSTOMER', `${client} is not the customer`);
      },
    });
    raw = await rawSession(h.endpoint, h.policy);
  });
  afterAll(async () => {
    raw.client.close();
    await h.stop();
  });

  it('binding made-up wallets (each signing its own proof) is refused and leaves no books or fenced nonces', async () => {
    const lease = h.executor.leaseId;
    for (let i = 0; i < 5; i++) {
      const stranger = newKey();
      expect(await sealedCode(bindSync(raw.channel, lease, stranger, ['1']))).toBe('NOT_LEASE_CUSTOMER');
      // Not bound either: a Sync without the proof is refused as for any unbound wallet.
      const unbound = raw.channel.request('sync', {
        sync: { leaseId: lease.toString(), client: stranger.address, nonces: ['2'] },
      });
      expect(await sealedCode(unbound)).toBe('CLIENT_NOT_BOUND');
    }
    expect(h.executor.clientBooks).toBe(0);
    const res = await bindSync(raw.channel, lease, customer, ['1']);
    expect(res.sync?.calls[0]?.state).toBe('CALL_STATE_NOT_RUN');
    expect(h.executor.clientBooks).toBe(1);
  });
});

describe('a relay answering a Settle in the clear (the trust rule, 2)', () => {
  const price = 7n;
  let h: Harness;
  let echo: Uint8Array;
  let relay: Relay | undefined;
  let session: Session | undefined;

  beforeAll(async () => {
    h = await startExecutor({ pricePerCall: price });
    echo = await buildExample('echo');
  });
  afterEach(async () => {
    await session?.close();
    relay?.stop();
    session = undefined;
    relay = undefined;
  });
  afterAll(async () => {
    await h.stop();
  });

  /** The executor's highest accepted amount and unsettled calls for `wallet`, over a session of its own. */
  async function books(wallet: { address: string; privateKey: string }) {
    const raw = await rawSession(h.endpoint, h.policy);
    try {
      const key = { address: wallet.address.toLowerCase(), privateKey: getBytes(wallet.privateKey) };
      const r = await bindSync(raw.channel, h.executor.leaseId, key);
      return { amount: BigInt(r.sync!.cumulativeAmount), unsettled: r.sync!.unsettled.map((c) => c.nonce) };
    } finally {
      raw.client.close();
    }
  }

  /** A relay whose first Settle is answered with a forged UNAVAILABLE: after forwarding it, or instead. */
  function settleRelay(forward: boolean) {
    let settles = 0;
    const r = startRelay(h.endpoint, {
      Settle: (call, cb, up) => {
        settles++;
        if (settles > 1) return up.Settle(call.request as never, (e, res) => cb(e, res));
        const forged = { code: grpc.status.UNAVAILABLE, details: 'forged' } as grpc.ServiceError;
        if (!forward) return cb(forged);
        up.Settle(call.request as never, () => cb(forged));
      },
    });
    return { relay: r, settles: () => settles };
  }

  it.each([
    ['after forwarding it', true],
    ['instead of forwarding it', false],
  ])(
    'a forged UNAVAILABLE %s: the same voucher goes again, the call resolves with its receipt, paid once',
    async (_, forward) => {
      const r = settleRelay(forward);
      relay = await r.relay;
      const store = new LocalReceiptStore();
      session = await connect(relay.endpoint, {
        policy: h.policy,
        receipts: 'batched',
        store,
        deadlineMs: 5_000,
      });
      const fn = await session.deploy(echo);
      const wallet = Wallet.createRandom();
      const res = await session.invoke(fn, enc('settle-me'), { wallet });
      expect(dec(res.output)).toBe('settle-me');
      expect(res.receipt.records.map((x) => x.nonce)).toEqual([res.record.nonce]);
      expect(r.settles()).toBe(2);
      expect(store.entries.map((e) => e.voucher.voucher.cumulativeAmount)).toEqual([price]);
      expect(await books(wallet)).toEqual({ amount: price, unsettled: [] });
      // The next batch pays for exactly one more call.
      await session.invoke(fn, enc('next'), { wallet });
      expect(store.entries.map((e) => e.voucher.voucher.cumulativeAmount)).toEqual([price, 2n * price]);
      expect(await books(wallet)).toEqual({ amount: 2n * price, unsettled: [] });
    },
  );

  it('every Settle of a session refused in the clear: the call is settled on the next session, and paid once', async () => {
    // The relay refuses every Settle of the first session without forwarding it.
    relay = await startRelay(h.endpoint, {
      Settle: (_call, cb) => cb({ code: grpc.status.UNAVAILABLE, details: 'forged' } as grpc.ServiceError),
    });
    const store = new LocalReceiptStore();
    const wallet = Wallet.createRandom();
    const first = await connect(relay.endpoint, {
      policy: h.policy,
      receipts: 'batched',
      store,
      deadlineMs: 5_000,
    });
    const e = await first.invoke(await first.deploy(echo), enc('a'), { wallet }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((e as DefaasError).code).toBe('TRANSPORT_UNAVAILABLE');
    await first.close();
    expect(await books(wallet)).toEqual({ amount: 0n, unsettled: ['1'] });
    // A new session of the same process: its binding lists call 1, settled with the price counted once.
    session = await connect(h.endpoint, { policy: h.policy, receipts: 'batched', store });
    await session.invoke(await session.deploy(echo), enc('b'), { wallet });
    expect(await books(wallet)).toEqual({ amount: 2n * price, unsettled: [] });
    expect(
      store.entries.map((x) => [x.voucher.voucher.firstNonce, x.voucher.voucher.cumulativeAmount]),
    ).toEqual([
      [1n, price],
      [2n, 2n * price],
    ]);
  });
});

describe('a relay that re-routes a lost call to another genuine enclave', () => {
  const runs = new Map<string, number>();
  let a: Harness;
  let b: Harness;
  let toB: ExecutorClient;

  beforeAll(async () => {
    a = await startExecutor({ runtime: countingRuntime(runs).runtime });
    // Same root, measurement and lease: only the pinned identity tells them apart.
    b = await startExecutor({
      root: a.root,
      leaseId: a.executor.leaseId,
      runtime: countingRuntime(runs).runtime,
    });
    toB = rawClient(b.endpoint);
  });
  afterAll(async () => {
    toB.close();
    await a.stop();
    await b.stop();
  });

  /**
   * Everything goes to A until the first Invoke, which runs on A and is answered with a forged
   * SESSION_UNKNOWN; from then on everything goes to B.
   */
  function switchingRelay(): Promise<Relay> {
    let switched = false;
    const route =
      (m: 'OpenSession' | 'Deploy' | 'Sync' | 'Settle' | 'Undeploy') =>
      (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>, up: ExecutorClient) => {
        const to = switched ? toB : up;
        (
          to[m] as unknown as (r: unknown, c: (e: grpc.ServiceError | null, r?: unknown) => void) => void
        ).call(to, call.request, (e, r) => cb(e, r));
      };
    return startRelay(a.endpoint, {
      OpenSession: route('OpenSession'),
      Deploy: route('Deploy'),
      Sync: route('Sync'),
      Settle: route('Settle'),
      Undeploy: route('Undeploy'),
      Invoke: (call, cb, up) => {
        if (switched) return toB.Invoke(call.request as never, (e, r) => cb(e, r));
        up.Invoke(call.request as never, () => {
          switched = true;
          cb(forgedStatus('SESSION_UNKNOWN', grpc.status.NOT_FOUND));
        });
      },
    });
  }

  it.each(['per-call', 'batched'] as const)(
    '%s: the other enclave cannot say the call did not run: CALL_OUTCOME_UNKNOWN, and it ran once',
    async (receipts) => {
      const relay = await switchingRelay();
      const s = await connect(relay.endpoint, { policy: a.policy, receipts, deadlineMs: 5_000 });
      try {
        const fn = await s.deploy(await buildExample('echo'));
        const wallet = Wallet.createRandom();
        const input = `once-${receipts}`;
        const e = await s.invoke(fn, enc(input), { wallet }).then(
          () => undefined,
          (x: unknown) => x,
        );
        expect(s.accepted.identityAddress).toBe(b.executor.identity.identityAddress);
        expect((e as DefaasError).code).toBe('CALL_OUTCOME_UNKNOWN');
        expect(runs.get(input)).toBe(1);
      } finally {
        await s.close();
        relay.stop();
      }
    },
  );
});
