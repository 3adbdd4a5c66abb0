import { randomBytes } from 'node:crypto';
import { Wallet, ZeroHash } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Policy } from '../attestation/policy.js';
import type { LeaseCheck } from '../enclave-host/executor.js';
import { buildExample } from '../examples/build-example.js';
import type { ClientHello } from '../proto/gen/defaas/executor/v1/ClientHello.js';
import { CHALLENGE_CLASS_CPU, signChallengeRequest } from '../protocol/challenge.js';
import { signClientBinding } from '../protocol/client-binding.js';
import { sessionFail } from '../protocol/errors.js';
import { recoverVoucherSigner, type SignedVoucher, sha256Hex, signVoucher } from '../protocol/settlement.js';
import { nextRequestHead } from '../protocol/typed-data.js';
import { voucherToWire } from '../protocol/wire.js';
import { connect } from '../sdk/connect.js';
import { DefaasError, toDefaasError } from '../sdk/errors.js';
import { SecureChannel } from '../sdk/session/channel.js';
import { finishHandshake, type PendingHello, startHandshake } from '../sdk/session/handshake.js';
import type { Session } from '../sdk/session/session.js';
import { type Harness, newKey, openSessionRaw, rawClient, startExecutor, startRelay } from './e2e-harness.js';
import { codeOfAsync as codeOf, codeOf as codeOfSync } from './error-code.js';

/*
 * One executor (one enclave identity, one endpoint) serving several leases: each session names its
 * lease in the ClientHello (ClientHello.lease_id), the signed terms carry it, the lease check on the
 * first call decides, and a session never acts on another lease. Real gRPC on 127.0.0.1.
 */

const DEFAULT_LEASE = 7n;
const LEASE_A = 100n;
/** A lease id beyond 64 bits: lease ids are uint256. */
const LEASE_B = (1n << 200n) + 3n;
const LEASE_C = 300n;
const PRICE = 5n;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Opens a session asking for `lease` (undefined: the default), without the SDK's session layer. */
async function rawSessionFor(endpoint: string, policy: Policy, lease: bigint | undefined) {
  const client = rawClient(endpoint);
  const hello = startHandshake('normal', lease);
  const sh = await openSessionRaw(client, hello);
  const accepted = await finishHandshake(hello, sh, {
    policy,
    mode: 'normal',
    now: new Date(),
    ...(lease !== undefined && { leaseId: lease }),
  });
  return { client, accepted, channel: new SecureChannel(client, accepted, 10_000) };
}

/** The code of the executor's refusal of a ClientHello whose lease_id is `leaseId`. */
async function helloRefusal(endpoint: string, leaseId: string): Promise<string> {
  const client = rawClient(endpoint);
  try {
    const h = startHandshake('normal');
    const hello: PendingHello = { ...h, message: { ...h.message, leaseId } };
    return await openSessionRaw(client, hello).then(
      () => 'ok',
      (e: unknown) => toDefaasError(e).code,
    );
  } finally {
    client.close();
  }
}

describe('one executor, several leases', () => {
  let h: Harness;
  let echo: Uint8Array;
  const x = Wallet.createRandom();
  const y = Wallet.createRandom();
  /** Which wallet is the customer of which lease (lower-case). */
  const customers = new Map<bigint, string>([
    [LEASE_A, x.address.toLowerCase()],
    [LEASE_B, y.address.toLowerCase()],
  ]);
  const checked: string[] = [];
  const told: { leaseId: bigint; client: string; voucher: SignedVoucher }[] = [];
  let hook: 'keep' | 'throw' | 'reject' = 'keep';
  const sessions: Session[] = [];

  const leaseCheck: LeaseCheck = async ({ leaseId, client }) => {
    checked.push(`${leaseId}/${client}`);
    const customer = customers.get(leaseId);
    if (customer === undefined) sessionFail('LEASE_NOT_ACTIVE', `lease ${leaseId} is not open`);
    if (customer !== client) sessionFail('NOT_LEASE_CUSTOMER', `${client} is not the customer`);
    return { budget: 1_000n };
  };

  beforeAll(async () => {
    echo = await buildExample('echo');
    h = await startExecutor({
      leaseId: DEFAULT_LEASE,
      leaseCheck,
      leaseCheckTtlMs: 60_000,
      pricePerCall: PRICE,
      onVoucher: (v) => {
        if (hook === 'throw') throw new Error('the provider store is down');
        if (hook === 'reject') return Promise.reject(new Error('the provider store is down'));
        told.push(v);
      },
    });
  });
  afterAll(async () => {
    for (const s of sessions) await s.close();
    await h?.stop();
  });

  async function open(lease: bigint | undefined): Promise<Session> {
    const s = await connect(h.endpoint, { policy: h.policy, ...(lease !== undefined && { leaseId: lease }) });
    sessions.push(s);
    return s;
  }

  it('serves lease A to its customer and lease B to its own, each under its own lease', async () => {
    const sA = await open(LEASE_A);
    const sB = await open(LEASE_B);
    expect(sA.accepted.terms.leaseId).toBe(LEASE_A);
    expect(sB.accepted.terms.leaseId).toBe(LEASE_B);
    // The same enclave signs both sessions' transcripts.
    expect(sA.accepted.identityAddress).toBe(h.executor.identity.identityAddress);
    expect(sB.accepted.identityAddress).toBe(h.executor.identity.identityAddress);
    const fnA = await sA.deploy(echo);
    const fnB = await sB.deploy(echo);
    const [ra, rb] = await Promise.all([
      sA.invoke(fnA, enc.encode('for A'), { wallet: x }),
      sB.invoke(fnB, enc.encode('for B'), { wallet: y }),
    ]);
    expect(dec.decode(ra.output)).toBe('for A');
    expect(dec.decode(rb.output)).toBe('for B');
    expect(ra.receipt.receipt.leaseId).toBe(LEASE_A);
    expect(rb.receipt.receipt.leaseId).toBe(LEASE_B);
    expect(ra.receipt.signer).toBe(h.executor.identity.identityAddress);
    expect(rb.receipt.signer).toBe(h.executor.identity.identityAddress);

    const byKey = new Map(told.map((t) => [`${t.leaseId}/${t.client}`, t]));
    const a = byKey.get(`${LEASE_A}/${x.address.toLowerCase()}`);
    const b = byKey.get(`${LEASE_B}/${y.address.toLowerCase()}`);
    expect(told).toHaveLength(2);
    expect(a?.voucher.voucher).toMatchObject({ leaseId: LEASE_A, cumulativeAmount: PRICE });
    expect(b?.voucher.voucher).toMatchObject({ leaseId: LEASE_B, cumulativeAmount: PRICE });
    // What the provider is handed is the customer's own signature, redeemable as it stands.
    expect(recoverVoucherSigner(h.executor.domain, a!.voucher)).toBe(x.address.toLowerCase());
    expect(recoverVoucherSigner(h.executor.domain, b!.voucher)).toBe(y.address.toLowerCase());

    // A second call on A raises its voucher; B's stays.
    await sA.invoke(fnA, enc.encode('again'), { wallet: x });
    expect(told).toHaveLength(3);
    expect(told[2]!.voucher.voucher).toMatchObject({ leaseId: LEASE_A, cumulativeAmount: 2n * PRICE });
    const latest = new Map(
      h.executor
        .latestVouchers()
        .map((l) => [`${l.leaseId}/${l.client}`, l.voucher.voucher.cumulativeAmount]),
    );
    expect(latest).toEqual(
      new Map([
        [`${LEASE_A}/${x.address.toLowerCase()}`, 2n * PRICE],
        [`${LEASE_B}/${y.address.toLowerCase()}`, PRICE],
      ]),
    );
  });

  it('a batch voucher (Settle) is handed over as well, under its lease', async () => {
    const s = await connect(h.endpoint, { policy: h.policy, leaseId: LEASE_B, receipts: 'batched' });
    sessions.push(s);
    const fn = await s.deploy(echo);
    const rs = await Promise.all(['1', '2', '3'].map((i) => s.invoke(fn, enc.encode(i), { wallet: y })));
    for (const r of rs) expect(r.receipt.receipt.leaseId).toBe(LEASE_B);
    const last = told.filter((t) => t.leaseId === LEASE_B).at(-1);
    expect(last?.voucher.voucher.cumulativeAmount).toBe(4n * PRICE);
    expect(recoverVoucherSigner(h.executor.domain, last!.voucher)).toBe(y.address.toLowerCase());
    const b = h.executor.latestVouchers().find((l) => l.leaseId === LEASE_B);
    expect(b?.voucher).toEqual(last?.voucher);
  });

  it('a voucher hand-over that throws or rejects never reaches the call', async () => {
    const s = await open(LEASE_A);
    const fn = await s.deploy(echo);
    const before = told.length;
    hook = 'throw';
    try {
      expect(dec.decode((await s.invoke(fn, enc.encode('t'), { wallet: x })).output)).toBe('t');
      hook = 'reject';
      expect(dec.decode((await s.invoke(fn, enc.encode('r'), { wallet: x })).output)).toBe('r');
    } finally {
      hook = 'keep';
    }
    expect(told).toHaveLength(before);
    // The books still hold the highest voucher.
    const mine = h.executor.latestVouchers().find((l) => l.leaseId === LEASE_A);
    expect(mine?.voucher.voucher.cumulativeAmount).toBe(4n * PRICE);
  });

  it('the lease check decides per lease: another customer, a lease not open', async () => {
    const sB = await open(LEASE_B);
    const fn = await sB.deploy(echo);
    expect(await codeOf(sB.invoke(fn, enc.encode('x on B'), { wallet: x }))).toBe('NOT_LEASE_CUSTOMER');
    const sC = await open(LEASE_C);
    expect(sC.accepted.terms.leaseId).toBe(LEASE_C);
    expect(await codeOf(sC.invoke(fn, enc.encode('x on C'), { wallet: x }))).toBe('LEASE_NOT_ACTIVE');
    // The default lease is asked about like any other.
    const sD = await open(undefined);
    expect(sD.accepted.terms.leaseId).toBe(DEFAULT_LEASE);
    expect(await codeOf(sD.invoke(fn, enc.encode('x on D'), { wallet: x }))).toBe('LEASE_NOT_ACTIVE');
    expect(checked).toEqual(
      expect.arrayContaining([
        `${LEASE_B}/${x.address.toLowerCase()}`,
        `${LEASE_C}/${x.address.toLowerCase()}`,
        `${DEFAULT_LEASE}/${x.address.toLowerCase()}`,
      ]),
    );
  });

  describe('a session for lease A never acts on lease B', () => {
    let raw: Awaited<ReturnType<typeof rawSessionFor>>;
    const key = newKey();
    const deadline = () => BigInt(Math.floor(Date.now() / 1000) + 3600);
    let functionId: Buffer;

    beforeAll(async () => {
      // The wallet is the customer of both leases here, so only the session's lease can refuse.
      customers.set(LEASE_C, key.address);
      raw = await rawSessionFor(h.endpoint, h.policy, LEASE_A);
      customers.set(LEASE_A, key.address);
      functionId = Buffer.from(
        (await raw.channel.request('deploy', { deploy: { wasm: Buffer.from(echo) } })).deploy!.functionId,
      );
    });
    afterAll(() => {
      customers.set(LEASE_A, x.address.toLowerCase());
      customers.delete(LEASE_C);
      raw.client.close();
    });

    function voucherFor(lease: bigint, nonce: bigint, input: Buffer): SignedVoucher {
      const req = { nonce, functionHash: `0x${functionId.toString('hex')}`, inputHash: sha256Hex(input) };
      return signVoucher(
        h.executor.domain,
        {
          leaseId: lease,
          firstNonce: nonce,
          lastNonce: nonce,
          requestHead: nextRequestHead(ZeroHash, req),
          cumulativeAmount: PRICE,
          deadline: deadline(),
        },
        key.privateKey,
      );
    }

    const invoke = (lease: bigint, voucherLease: bigint) => {
      const input = Buffer.from('cross');
      return raw.channel.request('invoke', {
        invoke: {
          leaseId: lease.toString(),
          client: key.address,
          nonce: '1',
          functionId,
          input,
          voucher: voucherToWire(voucherFor(voucherLease, 1n, input)),
        },
      });
    };

    it('invoke, settle, sync and challenge naming another lease are refused WRONG_LEASE', async () => {
      const books = h.executor.clientBooks;
      const checks = checked.length;
      expect(await codeOf(invoke(LEASE_C, LEASE_C))).toBe('WRONG_LEASE');
      expect(await codeOf(invoke(LEASE_A, LEASE_C))).toBe('WRONG_LEASE');
      expect(await codeOf(invoke(LEASE_B, LEASE_A))).toBe('WRONG_LEASE');
      expect(
        await codeOf(
          raw.channel.request('settle', {
            settle: {
              client: key.address,
              voucher: voucherToWire(voucherFor(LEASE_C, 1n, Buffer.from('s'))),
            },
          }),
        ),
      ).toBe('WRONG_LEASE');
      // A binding signed for lease C, sent for lease C, on a session for A.
      const proofC = signClientBinding(key.privateKey, raw.accepted.sessionId, LEASE_C);
      expect(
        await codeOf(
          raw.channel.request('sync', {
            sync: { leaseId: LEASE_C.toString(), client: key.address, clientProof: Buffer.from(proofC) },
          }),
        ),
      ).toBe('WRONG_LEASE');
      expect(
        await codeOf(
          raw.channel.request('sync', { sync: { leaseId: LEASE_B.toString(), client: key.address } }),
        ),
      ).toBe('WRONG_LEASE');
      // A binding signed for lease C, sent for the session's lease A, does not bind.
      expect(
        await codeOf(
          raw.channel.request('sync', {
            sync: { leaseId: LEASE_A.toString(), client: key.address, clientProof: Buffer.from(proofC) },
          }),
        ),
      ).toBe('CLIENT_PROOF_INVALID');
      // Refused before any books are kept or the chain is asked.
      expect(h.executor.clientBooks).toBe(books);
      expect(checked.length).toBe(checks);
      // The session's own lease is served to the same wallet.
      const ok = await invoke(LEASE_A, LEASE_A);
      expect(ok.invoke?.receipt?.leaseId).toBe(LEASE_A.toString());
      expect(told.at(-1)).toMatchObject({ leaseId: LEASE_A, client: key.address });
    });

    it('a challenge naming another lease than the session’s is refused WRONG_LEASE', async () => {
      const f = {
        leaseId: LEASE_C,
        id: new Uint8Array(randomBytes(32)),
        seed: new Uint8Array(randomBytes(32)),
        n: 8,
        cls: CHALLENGE_CLASS_CPU,
      };
      const witness = newKey();
      const proof = signChallengeRequest(witness.privateKey, raw.accepted.sessionId, f);
      const refused = await raw.channel
        .request('challenge', {
          challenge: {
            leaseId: f.leaseId.toString(),
            witness: witness.address,
            witnessProof: Buffer.from(proof),
            id: Buffer.from(f.id),
            seed: Buffer.from(f.seed),
            n: f.n,
            class: 'CHALLENGE_CLASS_CPU',
          },
        })
        .then(
          () => 'ok',
          (e: unknown) => (e instanceof DefaasError && e.origin === 'sealed' ? e.code : `unsealed ${e}`),
        );
      expect(refused).toBe('WRONG_LEASE');
    });
  });

  it('a relay that changes the lease asked for is caught by the signed terms (TERMS_MISMATCH)', async () => {
    const relay = await startRelay(h.endpoint, {
      OpenSession: (call, cb, up) =>
        up.OpenSession({ ...(call.request as ClientHello), leaseId: LEASE_C.toString() }, (e, r) => cb(e, r)),
    });
    try {
      expect(await codeOf(connect(relay.endpoint, { policy: h.policy, leaseId: LEASE_A }))).toBe(
        'TERMS_MISMATCH',
      );
    } finally {
      relay.stop();
    }
  });

  it('a malformed lease_id is refused HANDSHAKE_MALFORMED, and the executor keeps serving', async () => {
    const bad = [
      '-1',
      '01',
      '0x10',
      ' 1',
      '1 ',
      '1e3',
      'abc',
      '１',
      (1n << 256n).toString(),
      '9'.repeat(79),
      '9'.repeat(100_000),
    ];
    for (const s of bad)
      expect([s.slice(0, 20), await helloRefusal(h.endpoint, s)]).toEqual([
        s.slice(0, 20),
        'HANDSHAKE_MALFORMED',
      ]);
    // The SDK does not send a lease id that is not a uint256.
    expect(codeOfSync(() => startHandshake('normal', -1n))).toBe('SDK_INVALID_ARGUMENT');
    expect(codeOfSync(() => startHandshake('normal', 1n << 256n))).toBe('SDK_INVALID_ARGUMENT');
    // The largest uint256 is a lease id like any other.
    const top = await open((1n << 256n) - 1n);
    expect(top.accepted.terms.leaseId).toBe((1n << 256n) - 1n);
  });
});

describe('a standalone executor serves its own lease only', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startExecutor({ leaseId: DEFAULT_LEASE });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('refuses another lease at the handshake with WRONG_LEASE; empty or its own is served', async () => {
    expect(await codeOf(connect(h.endpoint, { policy: h.policy, leaseId: DEFAULT_LEASE + 1n }))).toBe(
      'WRONG_LEASE',
    );
    expect(await helloRefusal(h.endpoint, LEASE_B.toString())).toBe('WRONG_LEASE');
    expect(await helloRefusal(h.endpoint, '01')).toBe('HANDSHAKE_MALFORMED');
    // Refused before any session is kept.
    expect(h.executor.openSessions).toBe(0);
    // A relay that drops the lease asked for gets the default lease's terms, which the client refuses.
    const relay = await startRelay(h.endpoint, {
      OpenSession: (call, cb, up) =>
        up.OpenSession({ ...(call.request as ClientHello), leaseId: '' }, (e, r) => cb(e, r)),
    });
    try {
      expect(await codeOf(connect(relay.endpoint, { policy: h.policy, leaseId: DEFAULT_LEASE + 1n }))).toBe(
        'TERMS_MISMATCH',
      );
    } finally {
      relay.stop();
    }
    for (const lease of [undefined, DEFAULT_LEASE]) {
      const s = await connect(h.endpoint, {
        policy: h.policy,
        ...(lease !== undefined && { leaseId: lease }),
      });
      try {
        expect(s.accepted.terms.leaseId).toBe(DEFAULT_LEASE);
        const fn = await s.deploy(await buildExample('echo'));
        const r = await s.invoke(fn, enc.encode('own'), { wallet: Wallet.createRandom() });
        expect(r.receipt.receipt.leaseId).toBe(DEFAULT_LEASE);
      } finally {
        await s.close();
      }
    }
  });
});
