import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from '../examples/build-example.js';
import { type CallRequest, requestHead } from '../protocol/call-records.js';
import { signClientBinding } from '../protocol/client-binding.js';
import { isSessionError } from '../protocol/errors.js';
import { sha256Hex, signVoucher } from '../protocol/settlement.js';
import { voucherToWire } from '../protocol/wire.js';
import { connect, type FunctionHandle, isDefaasError, type Session } from '../sdk/index.js';
import { type Harness, type Key, newKey, type RawSession, rawSession, startExecutor } from './e2e-harness.js';

/*
 * The executor's quotas of wallets and books over real sessions on 127.0.0.1 (every session here
 * comes from one peer address): a session and a peer bind at most so many wallets
 * (CLIENT_BINDING_LIMIT); the books keep at most `maxAccounts`, letting idle ones go for new
 * wallets and refusing with ACCOUNT_LIMIT when none is idle; a wallet whose books were let go is
 * served again from its persisted floors, which refuse its old nonces and lower amounts.
 */

const enc = (s: string) => new TextEncoder().encode(s);
const deadline = () => BigInt(Math.floor(Date.now() / 1000) + 3600);

/** The typed refusal of `p`: code, info and (for an Invoke) what became of its nonce; 'OK' when it passed. */
async function outcome(
  p: Promise<unknown>,
): Promise<{ code: string; info?: unknown; callOutcome?: string | undefined }> {
  try {
    await p;
    return { code: 'OK' };
  } catch (e) {
    if (isDefaasError(e))
      return { code: e.code, info: e.info, ...(e.callOutcome && { callOutcome: e.callOutcome }) };
    if (isSessionError(e)) return { code: e.code, info: e.info };
    throw e;
  }
}

/** Sealed requests of one raw session, as a client that signs its own vouchers would send them. */
class Client {
  constructor(
    readonly raw: RawSession,
    private readonly h: Harness,
    private readonly fn: { id: Buffer; hash: string },
  ) {}

  private get lease(): bigint {
    return this.h.executor.leaseId;
  }

  bind(key: Key) {
    return this.raw.channel.request('sync', {
      sync: {
        leaseId: this.lease.toString(),
        client: key.address,
        clientProof: Buffer.from(signClientBinding(key.privateKey, this.raw.accepted.sessionId, this.lease)),
      },
    });
  }

  async sync(key: Key) {
    const r = await this.raw.channel.request('sync', {
      sync: { leaseId: this.lease.toString(), client: key.address },
    });
    return r.sync!;
  }

  req(nonce: bigint): CallRequest {
    return { nonce, functionHash: this.fn.hash, inputHash: sha256Hex(enc(`call ${nonce}`)) };
  }

  voucher(key: Key, nonces: bigint[], amount: bigint) {
    const reqs = nonces.map((n) => this.req(n));
    return signVoucher(
      this.h.executor.domain,
      {
        leaseId: this.lease,
        firstNonce: nonces[0]!,
        lastNonce: nonces[nonces.length - 1]!,
        requestHead: requestHead(reqs),
        cumulativeAmount: amount,
        deadline: deadline(),
      },
      key.privateKey,
    );
  }

  /** Per call with `amount`, batched without. */
  invoke(key: Key, nonce: bigint, amount?: bigint) {
    const v = amount === undefined ? undefined : this.voucher(key, [nonce], amount);
    return this.raw.channel.request('invoke', {
      invoke: {
        leaseId: this.lease.toString(),
        client: key.address,
        nonce: nonce.toString(),
        functionId: this.fn.id,
        input: Buffer.from(enc(`call ${nonce}`)),
        ...(v && { voucher: voucherToWire(v) }),
      },
    });
  }

  settle(key: Key, nonces: bigint[], amount: bigint) {
    const v = this.voucher(key, nonces, amount);
    return this.raw.channel.request('settle', { settle: { client: key.address, voucher: voucherToWire(v) } });
  }
}

async function client(h: Harness, wasm?: Uint8Array): Promise<Client> {
  const raw = await rawSession(h.endpoint, h.policy);
  const d = await raw.channel.request('deploy', {
    deploy: { wasm: Buffer.from(wasm ?? (await buildExample('echo'))) },
  });
  const id = d.deploy!.functionId;
  return new Client(raw, h, { id, hash: `0x${id.toString('hex')}` });
}

describe('one peer binding fresh wallets', () => {
  const MAX_ACCOUNTS = 32;
  const PER_SESSION = 8;
  const PER_PEER = 40;
  let h: Harness;
  let honest: Session;
  let fn: FunctionHandle;
  const opened: Client[] = [];

  beforeAll(async () => {
    h = await startExecutor({
      maxAccounts: MAX_ACCOUNTS,
      maxClientsPerSession: PER_SESSION,
      maxClientsPerPeer: PER_PEER,
      pricePerCall: 5n,
    });
    honest = await connect(h.endpoint, { policy: h.policy });
    fn = await honest.deploy(await buildExample('echo'));
  });
  afterAll(async () => {
    await honest.close();
    for (const c of opened) c.raw.client.close();
    await h.stop();
  });

  it('hits the per-session and per-peer quotas with CLIENT_BINDING_LIMIT; books stay bounded; the honest client is served', async () => {
    // Two honest wallets: one calls before the flood and after it, one while it goes on.
    const wallet = Wallet.createRandom();
    const busy = Wallet.createRandom();
    const first = await honest.invoke(fn, enc('before'), { wallet });
    expect(first.record.nonce).toBe(1n);
    await honest.invoke(fn, enc('before'), { wallet: busy });

    const codes: string[] = [];
    let bound = 2; // the honest wallets
    let perPeer: unknown;
    // At most 8 sessions of 10 fresh wallets each: the peer's quota ends the loop before.
    for (let s = 0; s < 8 && perPeer === undefined; s++) {
      const c = await client(h);
      opened.push(c);
      for (let i = 0; i < 10; i++) {
        const r = await outcome(c.bind(newKey()));
        codes.push(r.code);
        expect(h.executor.clientBooks).toBeLessThanOrEqual(MAX_ACCOUNTS);
        if (r.code === 'OK') {
          bound++;
          continue;
        }
        expect(r.code).toBe('CLIENT_BINDING_LIMIT');
        const info = r.info as { limit: string; max: number; count: number };
        if (info.limit === 'maxClientsPerPeer') {
          expect(info).toEqual({ limit: 'maxClientsPerPeer', max: PER_PEER, count: PER_PEER });
          perPeer = info;
        } else {
          expect(info).toEqual({ limit: 'maxClientsPerSession', max: PER_SESSION, count: PER_SESSION });
        }
        break;
      }
      // The honest client keeps being served between the flood's sessions.
      const r = await honest.invoke(fn, enc(`during ${s}`), { wallet: busy });
      expect(new TextDecoder().decode(r.output)).toBe(`during ${s}`);
    }
    expect(perPeer).toBeDefined();
    expect(bound).toBe(PER_PEER);
    expect(codes.filter((c) => c === 'OK')).toHaveLength(PER_PEER - 2);
    // More wallets were bound than books kept: idle ones were let go for the new ones.
    expect(h.executor.clientBooks).toBe(MAX_ACCOUNTS);

    // The first honest wallet's books were let go (idle, least recently used) and are built again
    // from its floors: nonces up to its reserved ceiling (1 + 1,024) are spent, the SDK reads the
    // next one through a sealed Sync, and the call goes through with an amount that covers both.
    const last = await honest.invoke(fn, enc('after'), { wallet });
    expect(new TextDecoder().decode(last.output)).toBe('after');
    expect(last.record.nonce).toBe(1026n);
    expect(last.receipt.receipt.lastNonce).toBe(1026n);
  });

  it('per-call vouchers from 100 fresh wallets: every call is served in the place of an idle account', async () => {
    const c = await client(h);
    opened.push(c);
    for (let i = 0; i < 100; i++) {
      const k = newKey();
      expect((await c.invoke(k, 1n, 5n)).invoke?.receipt?.lastNonce).toBe('1');
      expect(h.executor.clientBooks).toBeLessThanOrEqual(MAX_ACCOUNTS);
    }
    expect(h.executor.clientBooks).toBe(MAX_ACCOUNTS);
  });
});

describe('books full of busy clients', () => {
  const MAX_ACCOUNTS = 8;
  const price = 5n;
  let h: Harness;
  let c: Client;

  beforeAll(async () => {
    h = await startExecutor({
      maxAccounts: MAX_ACCOUNTS,
      maxClientsPerSession: 16,
      maxClientsPerPeer: 64,
      batchMaxCalls: 4,
      pricePerCall: price,
    });
    c = await client(h);
  });
  afterAll(async () => {
    c.raw.client.close();
    await h.stop();
  });

  it('refuses new wallets with ACCOUNT_LIMIT; an idle account makes room; one let go reloads its floors', async () => {
    // Eight wallets, each with a call that ran and waits for its voucher: none is idle.
    const keys = Array.from({ length: MAX_ACCOUNTS }, newKey);
    for (const k of keys) {
      await c.bind(k);
      expect((await c.invoke(k, 1n)).invoke?.record?.nonce).toBe('1');
    }
    expect(h.executor.clientBooks).toBe(MAX_ACCOUNTS);

    // A ninth wallet: neither a binding Sync nor a per-call Invoke gets a place.
    const late = newKey();
    expect(await outcome(c.bind(late))).toEqual({
      code: 'ACCOUNT_LIMIT',
      info: { limit: 'maxAccounts', max: MAX_ACCOUNTS, count: MAX_ACCOUNTS },
    });
    expect((await outcome(c.sync(late))).code).toBe('CLIENT_NOT_BOUND');
    const refused = await outcome(c.invoke(late, 1n, price));
    expect(refused.code).toBe('ACCOUNT_LIMIT');
    expect(refused.callOutcome).toBe('not-admitted');
    expect(h.executor.clientBooks).toBe(MAX_ACCOUNTS);

    // The first wallet settles its call and runs one per call (amount 10): it is idle now.
    const a = keys[0]!;
    expect((await c.settle(a, [1n], price)).settle?.receipt?.lastNonce).toBe('1');
    expect((await c.invoke(a, 2n, 2n * price)).invoke?.receipt?.lastNonce).toBe('2');
    // The ninth wallet gets its place (per call, no binding needed).
    expect((await c.invoke(late, 1n, price)).invoke?.receipt?.lastNonce).toBe('1');
    expect(h.executor.clientBooks).toBe(MAX_ACCOUNTS);

    // The first wallet again (in the place of the ninth, idle now): built from its floors.
    const replay = await outcome(c.invoke(a, 2n, 3n * price));
    expect(replay.code).toBe('NONCE_STALE');
    expect(replay.callOutcome).toBe('not-admitted');
    expect(await outcome(c.invoke(a, 3n, 3n * price))).toMatchObject({ code: 'NONCE_STALE' });
    // Still bound (bindings belong to the session): Sync gives the next nonce and the amount floor.
    const st = await c.sync(a);
    expect(st.cumulativeAmount).toBe((2n * price).toString());
    const next = BigInt(st.nextNonce);
    expect(next).toBeGreaterThan(2n);
    const low = await outcome(c.invoke(a, next, 2n * price));
    expect(low.code).toBe('VOUCHER_AMOUNT_TOO_LOW');
    expect((low.info as { required: string }).required).toBe((3n * price).toString());
    expect((await c.invoke(a, next, 3n * price)).invoke?.receipt?.lastNonce).toBe(next.toString());

    // The busy wallets kept their books: each settles its call.
    for (const k of keys.slice(1))
      expect((await c.settle(k, [1n], price)).settle?.receipt?.lastNonce).toBe('1');
    expect(h.executor.clientBooks).toBe(MAX_ACCOUNTS);
  });
});
