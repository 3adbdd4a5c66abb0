import * as grpc from '@grpc/grpc-js';
import { getBytes, Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../attestation/bytes.js';
import { buildExample } from '../examples/build-example.js';
import type { SealedFrame__Output } from '../proto/gen/defaas/executor/v1/SealedFrame.js';
import { signClientBinding } from '../protocol/client-binding.js';
import {
  connect,
  DefaasError,
  LocalReceiptStore,
  type ReceiptMode,
  type Session,
  type Transport,
} from '../sdk/index.js';
import {
  countingRuntime,
  forgedStatus,
  type Harness,
  type Relay,
  rawSession,
  startExecutor,
  startRelay,
} from './e2e-harness.js';

/**
 * Nothing unauthenticated moves client state (docs/session.md, "The client's trust rule"): a relay
 * on the path that forges plaintext errors can make a call fail, but never make the SDK jump its
 * nonces, run a call twice, or accept another enclave than the one pinned.
 */

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const HUGE_NONCE = ((1n << 64n) - 2n).toString();

type Forge = 'after-run' | 'instead';

/**
 * A relay that answers the first Invoke itself with `err`: after forwarding it and dropping the real
 * response (`after-run`), or without forwarding it at all (`instead`). Later Invokes pass.
 */
function forgingRelay(target: string, forge: Forge, err: () => grpc.ServiceError) {
  let forged = false;
  return startRelay(target, {
    Invoke: (call, cb, up) => {
      if (forged) return up.Invoke(call.request as never, (e, r) => cb(e, r));
      forged = true;
      if (forge === 'instead') return cb(err());
      up.Invoke(call.request as never, () => cb(err()));
    },
  });
}

/** The same on InvokeStream: the first invoke frame is answered with a forged refusal frame. */
function forgingStreamRelay(target: string, forge: Forge) {
  let forgedSeq: string | undefined;
  return startRelay(
    target,
    {},
    {
      up(frame, send, reply) {
        const refusal = {
          sessionId: frame.sessionId,
          seq: frame.seq,
          ciphertext: Buffer.alloc(0),
          error: {
            code: 'NONCE_STALE',
            message: 'forged',
            infoJson: JSON.stringify({ nextNonce: HUGE_NONCE }),
          },
        };
        // Frames 0 and 1 are the Deploy and the binding Sync; frame 2 is the first Invoke.
        if (frame.seq === '2' && forgedSeq === undefined) {
          forgedSeq = frame.seq;
          if (forge === 'after-run') send(frame);
          return reply(refusal);
        }
        send(frame);
      },
      down(frame: SealedFrame__Output, send) {
        if (frame.seq !== forgedSeq) send(frame);
      },
    },
  );
}

describe('forged plaintext errors move no client state', () => {
  let h: Harness;
  let runs: Map<string, number>;
  let echo: Uint8Array;
  let relay: Relay | undefined;
  let session: Session | undefined;

  beforeAll(async () => {
    const c = countingRuntime();
    runs = c.runs;
    h = await startExecutor({ runtime: c.runtime });
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

  /** The executor's next nonce for `wallet`, read over a session of its own. */
  async function executorNextNonce(wallet: { address: string; privateKey: string }): Promise<bigint> {
    const s = await connect(h.endpoint, { policy: h.policy });
    try {
      const fn = await s.deploy(echo);
      const r = await s.invoke(fn, enc(`probe-${wallet.address}`), { wallet });
      return r.record.nonce;
    } finally {
      await s.close();
    }
  }

  async function open(endpoint: string, receipts: ReceiptMode, transport: Transport = 'unary') {
    const store = new LocalReceiptStore();
    session = await connect(endpoint, { policy: h.policy, receipts, transport, store, deadlineMs: 5_000 });
    const fn = await session.deploy(echo);
    return { s: session, fn, store };
  }

  async function failure(p: Promise<unknown>): Promise<DefaasError> {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(DefaasError);
    return e as DefaasError;
  }

  it.each(['per-call', 'batched'] as const)(
    '%s: NONCE_STALE{nextNonce: 2^64-2} forged after the call ran: CALL_OUTPUT_LOST, the nonce does not jump, the wallet keeps working',
    async (mode) => {
      relay = await forgingRelay(h.endpoint, 'after-run', () =>
        forgedStatus('NONCE_STALE', grpc.status.FAILED_PRECONDITION, { nonce: '1', nextNonce: HUGE_NONCE }),
      );
      const wallet = Wallet.createRandom();
      const { s, fn } = await open(relay.endpoint, mode);
      const input = `stale-${mode}`;
      const e = await failure(s.invoke(fn, enc(input), { wallet }));
      expect(e.code).toBe('CALL_OUTPUT_LOST');
      expect(e.call?.record.nonce).toBe(1n);
      // It ran once, and its record is covered like any other call.
      expect(runs.get(input)).toBe(1);
      const receipt = await e.call?.receipt;
      expect(receipt?.records.map((r) => r.nonce)).toContain(1n);
      const next = await s.invoke(fn, enc(`${input}-next`), { wallet });
      expect(dec(next.output)).toBe(`${input}-next`);
      expect(next.record.nonce).toBe(2n);
      expect(await executorNextNonce(wallet)).toBe(3n);
    },
  );

  it.each(['per-call', 'batched'] as const)(
    '%s: NONCE_STALE forged for a call the relay dropped: the executor fences the nonce, the call runs once under the next',
    async (mode) => {
      relay = await forgingRelay(h.endpoint, 'instead', () =>
        forgedStatus('NONCE_STALE', grpc.status.FAILED_PRECONDITION, { nonce: '1', nextNonce: HUGE_NONCE }),
      );
      const wallet = Wallet.createRandom();
      const { s, fn } = await open(relay.endpoint, mode);
      const input = `dropped-${mode}`;
      const r = await s.invoke(fn, enc(input), { wallet });
      expect(dec(r.output)).toBe(input);
      expect(r.record.nonce).toBe(2n);
      expect(runs.get(input)).toBe(1);
      expect(await executorNextNonce(wallet)).toBe(3n);
    },
  );

  it.each(['per-call', 'batched'] as const)(
    '%s: SESSION_UNKNOWN forged after the call ran: re-handshake, but the call is not run or vouchered twice',
    async (mode) => {
      let handshakes = 0;
      let forged = false;
      relay = await startRelay(h.endpoint, {
        OpenSession: (call, cb, up) => {
          handshakes++;
          up.OpenSession(call.request as never, (e, r) => cb(e, r));
        },
        Invoke: (call, cb, up) => {
          if (forged) return up.Invoke(call.request as never, (e, r) => cb(e, r));
          forged = true;
          up.Invoke(call.request as never, () =>
            cb(forgedStatus('SESSION_UNKNOWN', grpc.status.NOT_FOUND, {})),
          );
        },
      });
      const wallet = Wallet.createRandom();
      const { s, fn, store } = await open(relay.endpoint, mode);
      const input = `gone-${mode}`;
      const e = await failure(s.invoke(fn, enc(input), { wallet }));
      expect(e.code).toBe('CALL_OUTPUT_LOST');
      expect(handshakes).toBe(2);
      expect(runs.get(input)).toBe(1);
      await e.call?.receipt;
      await s.close();
      const vouchered = store.entries.flatMap((x) => x.receipt.records.map((r) => r.nonce));
      expect(vouchered.filter((n) => n === 1n)).toHaveLength(1);
    },
  );

  it.each(['per-call', 'batched'] as const)(
    '%s over InvokeStream: a forged refusal frame after the call ran: CALL_OUTPUT_LOST, run once; a dropped frame: run once under the next nonce',
    async (mode) => {
      relay = await forgingStreamRelay(h.endpoint, 'after-run');
      const wallet = Wallet.createRandom();
      const a = await open(relay.endpoint, mode, 'stream');
      const input = `stream-${mode}`;
      const e = await failure(a.s.invoke(a.fn, enc(input), { wallet }));
      expect(e.code).toBe('CALL_OUTPUT_LOST');
      expect(runs.get(input)).toBe(1);
      await a.s.close();
      relay.stop();

      relay = await forgingStreamRelay(h.endpoint, 'instead');
      const wallet2 = Wallet.createRandom();
      const b = await open(relay.endpoint, mode, 'stream');
      const r = await b.s.invoke(b.fn, enc(`${input}-dropped`), { wallet: wallet2 });
      expect(dec(r.output)).toBe(`${input}-dropped`);
      expect(runs.get(`${input}-dropped`)).toBe(1);
      expect(r.record.nonce).toBe(2n);
    },
  );
});

describe('connect({ identity }) pins the enclave', () => {
  let a: Harness;
  let b: Harness;
  let relay: Relay;

  beforeAll(async () => {
    a = await startExecutor();
    // A second genuine enclave: same root, same measurement, same lease.
    b = await startExecutor({ root: a.root, leaseId: a.executor.leaseId });
    // The relay claims to be A but takes every RPC to B.
    relay = await startRelay(b.endpoint);
  });
  afterAll(async () => {
    relay.stop();
    await a.stop();
    await b.stop();
  });

  it('without a pin, the relay to the other enclave passes every other check', async () => {
    const s = await connect(relay.endpoint, { policy: a.policy, leaseId: a.executor.leaseId });
    expect(s.accepted.identityAddress).toBe(b.executor.identity.identityAddress);
    await s.close();
  });

  it('refuses the other enclave by address and by evidence hash, and accepts the pinned one', async () => {
    const address = a.executor.identity.identityAddress;
    const direct = await connect(a.endpoint, { policy: a.policy, identity: { address } });
    const evidenceHash = toHex(direct.accepted.verified.evidenceHash);
    await direct.close();
    for (const identity of [{ address }, { evidenceHash }, { address, evidenceHash: `0x${evidenceHash}` }]) {
      const e = await connect(relay.endpoint, { policy: a.policy, identity }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(DefaasError);
      expect((e as DefaasError).code).toBe('IDENTITY_MISMATCH');
      expect((e as DefaasError).kind).toBe('protocol');
    }
    const s = await connect(a.endpoint, { policy: a.policy, identity: { address, evidenceHash } });
    expect(s.accepted.identityAddress).toBe(address);
    await s.close();
  });

  it('an empty pin is refused rather than ignored', async () => {
    const e = await connect(a.endpoint, { policy: a.policy, identity: {} }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((e as DefaasError).code).toBe('IDENTITY_MISMATCH');
  });
});

describe('Sync through the raw channel (the executor side of the trust rule)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startExecutor();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('a plaintext trailer on a sealed RPC is never the answer to an authenticated request', async () => {
    const raw = await rawSession(h.endpoint, h.policy);
    // An unbound Sync is refused inside the session: sealed, not as a status.
    const e = await raw.channel
      .request('sync', {
        sync: { leaseId: h.executor.leaseId.toString(), client: Wallet.createRandom().address },
      })
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(e).toBeInstanceOf(DefaasError);
    expect((e as DefaasError).origin).toBe('sealed');
    expect((e as DefaasError).code).toBe('CLIENT_NOT_BOUND');
    raw.client.close();
  });
});

describe('recovery after a client crashed with a batch unsettled', () => {
  const price = 5n;
  let h: Harness;
  beforeAll(async () => {
    h = await startExecutor({ pricePerCall: price, batchMaxCalls: 8, voucherWaitMs: 300 });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('the next SDK process of the wallet settles the calls that ran, and its batched calls are served', async () => {
    const wallet = Wallet.createRandom();
    const key = { address: wallet.address.toLowerCase(), privateKey: getBytes(wallet.privateKey) };
    const lease = h.executor.leaseId;
    // The crashed process: 8 batched calls ran (the cap), no voucher was ever sent.
    const raw = await rawSession(h.endpoint, h.policy);
    const d = await raw.channel.request('deploy', {
      deploy: { wasm: Buffer.from(await buildExample('echo')) },
    });
    await raw.channel.request('sync', {
      sync: {
        leaseId: lease.toString(),
        client: key.address,
        clientProof: Buffer.from(signClientBinding(key.privateKey, raw.accepted.sessionId, lease)),
      },
    });
    for (let n = 1n; n <= 8n; n++)
      await raw.channel.request('invoke', {
        invoke: {
          leaseId: lease.toString(),
          client: key.address,
          nonce: n.toString(),
          functionId: d.deploy!.functionId,
          input: Buffer.from(enc(`before the crash ${n}`)),
        },
      });
    raw.client.close();

    const store = new LocalReceiptStore();
    const s = await connect(h.endpoint, { policy: h.policy, receipts: 'batched', store });
    const fn = await s.deploy(await buildExample('echo'));
    const r = await s.invoke(fn, enc('after'), { wallet });
    expect(dec(r.output)).toBe('after');
    expect(r.record.nonce).toBe(9n);
    await s.close();
    // The 8 calls that ran are covered by a receipt the SDK verified and kept; all 9 are paid for.
    const covered = store.entries.flatMap((e) => e.receipt.records.map((x) => x.nonce));
    expect(covered.sort((a, b) => (a < b ? -1 : 1))).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    const amounts = store.entries
      .map((e) => e.voucher.voucher.cumulativeAmount)
      .sort((a, b) => (a < b ? -1 : 1));
    expect(amounts.at(-1)).toBe(9n * price);
  });
});

describe('a Settle sent again on a re-opened fresh-mode session', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startExecutor();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('accepts the receipt given again, which names the evidence of the session that settled first', async () => {
    let forged = false;
    const relay = await startRelay(h.endpoint, {
      Settle: (call, cb, up) => {
        if (forged) return up.Settle(call.request as never, (e, r) => cb(e, r));
        forged = true;
        up.Settle(call.request as never, () =>
          cb(forgedStatus('SESSION_UNKNOWN', grpc.status.NOT_FOUND, {})),
        );
      },
    });
    const s = await connect(relay.endpoint, { policy: h.policy, mode: 'fresh', receipts: 'batched' });
    try {
      const first = toHex(s.accepted.verified.evidenceHash);
      const fn = await s.deploy(await buildExample('echo'));
      const r = await s.invoke(fn, enc('fresh'), { wallet: Wallet.createRandom() });
      // A new session with a new quote; the receipt is the one signed under the first.
      expect(toHex(s.accepted.verified.evidenceHash)).not.toBe(first);
      expect(r.receipt.receipt.evidenceHash).toBe(`0x${first}`);
    } finally {
      await s.close();
      relay.stop();
    }
  });
});
