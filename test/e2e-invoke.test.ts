import { Wallet, ZeroHash } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from '../examples/build-example.js';
import type { SealedFrame__Output } from '../proto/gen/defaas/executor/v1/SealedFrame.js';
import { sessionCodec } from '../proto/load.js';
import { errorOutputHash } from '../protocol/call-records.js';
import { signClientBinding } from '../protocol/client-binding.js';
import { FrameCipher } from '../protocol/frame-cipher.js';
import { sha256Hex, signVoucher } from '../protocol/settlement.js';
import { nextRequestHead, type Voucher } from '../protocol/typed-data.js';
import { voucherToWire } from '../protocol/wire.js';
import { connect, DefaasError, type FunctionHandle, type Session } from '../sdk/index.js';
import type { SecureChannel } from '../sdk/session/channel.js';
import { signingKey } from '../sdk/wallet.js';
import { type Harness, LIMITS, type RawSession, rawSession, startExecutor } from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';

/** Invocation: every refusal is a typed error, and the executor answers the next valid call. */

const enc = (s: string) => new TextEncoder().encode(s);

describe('invocation', () => {
  let h: Harness;
  let s: Session;
  let echo: FunctionHandle;
  const wallet = Wallet.createRandom();

  beforeAll(async () => {
    h = await startExecutor({ voucherWaitMs: 300, batchMaxCalls: 8 });
    s = await connect(h.endpoint, { policy: h.policy });
    echo = await s.deploy(await buildExample('echo'));
  });
  afterAll(async () => {
    await s.close();
    await h.stop();
  });

  async function stillServes(): Promise<void> {
    const r = await s.invoke(echo, enc('ok'), { wallet });
    expect(new TextDecoder().decode(r.output)).toBe('ok');
  }

  it('turns function failures into typed errors with a receipt, and keeps serving', async () => {
    const cases = [
      ['trap', 'FUNCTION_TRAPPED'],
      ['exit-nonzero', 'FUNCTION_EXIT_NONZERO'],
      ['infinite-loop', 'FUNCTION_TIMEOUT'],
      ['memory-bomb', 'FUNCTION_MEMORY_LIMIT'],
      ['spew', 'OUTPUT_TOO_LARGE'],
    ] as const;
    for (const [name, code] of cases) {
      const fn = await s.deploy(await buildExample(name));
      const err = await s.invoke(fn, enc('x'), { wallet }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(DefaasError);
      expect((err as DefaasError).code, name).toBe(code);
      // The call ran: its verified record and receipt come with the error.
      expect((err as DefaasError).call?.record.nonce, name).toBeDefined();
      expect(await (err as DefaasError).call?.receipt, name).toBeDefined();
      await stillServes();
    }
  });

  it('batched mode: close() settles the open batch, so deferred receipts arrive', async () => {
    const b = await connect(h.endpoint, { policy: h.policy, receipts: 'batched' });
    const fn = await b.deploy(await buildExample('echo'));
    const w = Wallet.createRandom();
    const calls = await Promise.all([1, 2, 3].map((i) => b.invokeDeferred(fn, enc(`d${i}`), { wallet: w })));
    await b.close();
    const receipts = await Promise.all(calls.map((c) => c.receipt));
    for (const [i, r] of receipts.entries()) expect(r.records).toContainEqual(calls[i]!.record);
  });

  it('refuses input over the limit', async () => {
    expect(await codeOf(s.invoke(echo, new Uint8Array(LIMITS.maxInputBytes + 1), { wallet }))).toBe(
      'INPUT_TOO_LARGE',
    );
    await stillServes();
  });

  it('refuses an invalid module and an unknown function', async () => {
    expect(await codeOf(s.deploy(new Uint8Array([0, 97, 115, 109, 9, 9])))).toBe('FUNCTION_INVALID_MODULE');
    const ghost = { id: 'ab'.repeat(32), hash: `0x${'ab'.repeat(32)}` };
    expect(await codeOf(s.invoke(ghost, enc('x'), { wallet }))).toBe('FUNCTION_NOT_FOUND');
    await stillServes();
  });

  it('over InvokeStream, function errors come back as sealed typed errors and the stream keeps serving', async () => {
    for (const receipts of ['per-call', 'batched'] as const) {
      const st = await connect(h.endpoint, { policy: h.policy, transport: 'stream', receipts });
      const fn = await st.deploy(await buildExample('trap'));
      const e2 = await st.deploy(await buildExample('echo'));
      const err = await st.invoke(fn, enc('x'), { wallet }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as DefaasError).code).toBe('FUNCTION_TRAPPED');
      expect((err as DefaasError).call?.record).toBeDefined();
      const ok = await st.invoke(e2, enc('after'), { wallet });
      expect(new TextDecoder().decode(ok.output)).toBe('after');
      await st.close();
    }
  });

  describe('vouchers and nonces (raw protocol)', () => {
    let raw: RawSession;
    const key = signingKey(wallet);
    beforeAll(async () => {
      raw = await rawSession(h.endpoint, h.policy);
    });
    afterAll(() => raw.client.close());

    function call(
      nonce: bigint,
      o: { lease?: bigint; signer?: Uint8Array; head?: string; input?: string } = {},
    ) {
      const input = enc(o.input ?? 'raw');
      const req = { nonce, functionHash: echo.hash, inputHash: sha256Hex(input) };
      const lease = o.lease ?? h.executor.leaseId;
      const v: Voucher = {
        leaseId: lease,
        firstNonce: nonce,
        lastNonce: nonce,
        requestHead: o.head ?? nextRequestHead(ZeroHash, req),
        cumulativeAmount: 0n,
        deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
      };
      const sv = signVoucher(s.domain, v, o.signer ?? key.privateKey);
      return raw.channel.request('invoke', {
        invoke: {
          leaseId: lease.toString(),
          client: key.address,
          nonce: nonce.toString(),
          functionId: Buffer.from(echo.id, 'hex'),
          input: Buffer.from(input),
          voucher: voucherToWire(sv),
        },
      });
    }

    it('serves a correctly signed call', async () => {
      const r = await call(1_000n);
      expect(r.invoke?.receipt?.lastNonce).toBe('1000');
    });

    it('keeps call records out of the clear: the detail of a failed call travels sealed', async () => {
      const trap = await s.deploy(await buildExample('trap'));
      const input = enc('secret input');
      const nonce = 1n;
      const key = signingKey(Wallet.createRandom());
      const req = { nonce, functionHash: trap.hash, inputHash: sha256Hex(input) };
      const v = signVoucher(
        s.domain,
        {
          leaseId: h.executor.leaseId,
          firstNonce: nonce,
          lastNonce: nonce,
          requestHead: nextRequestHead(ZeroHash, req),
          cumulativeAmount: 0n,
          deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
        },
        key.privateKey,
      );
      const own = await rawSession(h.endpoint, h.policy);
      const id = own.accepted.sessionId;
      const seq = 3n;
      const plain = sessionCodec().encodeRequest({
        invoke: {
          leaseId: h.executor.leaseId.toString(),
          client: key.address,
          nonce: nonce.toString(),
          functionId: Buffer.from(trap.id, 'hex'),
          input: Buffer.from(input),
          voucher: voucherToWire(v),
        },
      });
      const frame = {
        sessionId: Buffer.from(id),
        seq: seq.toString(),
        ciphertext: new FrameCipher(own.accepted.keys.c2s, 'c2s').seal(id, seq, plain),
      };
      // A function that ran and failed is answered with a sealed InvokeResponse (status OK): the
      // host sees neither the code nor the record nor what the function wrote.
      const res = await new Promise<SealedFrame__Output>((resolve, reject) =>
        own.client.Invoke(frame, (e, r) => (e ? reject(e) : resolve(r!))),
      );
      const opened = new FrameCipher(own.accepted.keys.s2c, 's2c').open(id, seq, res.ciphertext);
      const inv = sessionCodec().decodeResponse(opened!).invoke!;
      expect(inv.error?.code).toBe('FUNCTION_TRAPPED');
      expect(`0x${inv.record!.inputHash.toString('hex')}`).toBe(req.inputHash);
      expect(inv.record!.outputHash.toString('hex')).toBe(errorOutputHash('FUNCTION_TRAPPED').slice(2));
      expect(inv.receipt?.lastNonce).toBe('1');
      expect(new TextDecoder().decode(inv.stderr)).toBe('trap: about to execute unreachable\n');
      expect(res.ciphertext.includes(Buffer.from(req.inputHash.slice(2)))).toBe(false);
      expect(res.ciphertext.includes(Buffer.from('trap: about'))).toBe(false);
      own.client.close();
    });

    it('refuses a voucher signed by another wallet', async () => {
      const other = signingKey(Wallet.createRandom());
      expect(await codeOf(call(1_001n, { signer: other.privateKey }))).toBe('VOUCHER_INVALID');
      expect((await call(1_001n)).invoke?.record?.nonce).toBe('1001');
    });

    it('keeps no books for a client whose first call is refused', async () => {
      const claimed = signingKey(Wallet.createRandom());
      const input = enc('x');
      const req = { nonce: 1n, functionHash: echo.hash, inputHash: sha256Hex(input) };
      const v = signVoucher(
        s.domain,
        {
          leaseId: h.executor.leaseId,
          firstNonce: 1n,
          lastNonce: 1n,
          requestHead: nextRequestHead(ZeroHash, req),
          cumulativeAmount: 0n,
          deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
        },
        key.privateKey, // not the claimed client's key
      );
      const r = raw.channel.request('invoke', {
        invoke: {
          leaseId: h.executor.leaseId.toString(),
          client: claimed.address,
          nonce: '1',
          functionId: Buffer.from(echo.id, 'hex'),
          input: Buffer.from(input),
          voucher: voucherToWire(v),
        },
      });
      const before = h.executor.clientBooks;
      expect(await codeOf(r)).toBe('VOUCHER_INVALID');
      expect(h.executor.clientBooks).toBe(before);
    });

    it('refuses a stale or replayed nonce', async () => {
      expect(await codeOf(call(1_001n))).toBe('NONCE_STALE');
      expect(await codeOf(call(0n))).toBe('NONCE_STALE');
      expect((await call(1_002n)).invoke?.record?.nonce).toBe('1002');
    });

    it('refuses the wrong lease', async () => {
      expect(await codeOf(call(1_003n, { lease: h.executor.leaseId + 1n }))).toBe('WRONG_LEASE');
      expect((await call(1_003n)).invoke?.record?.nonce).toBe('1003');
    });

    it('refuses a voucher whose request chain does not match the call', async () => {
      expect(await codeOf(call(1_004n, { head: `0x${'00'.repeat(31)}01` }))).toBe('VOUCHER_MISMATCH');
      expect((await call(1_004n)).invoke?.record?.nonce).toBe('1004');
    });

    it('serves one batch without vouchers, then requires a voucher', async () => {
      const c = signingKey(Wallet.createRandom());
      const send = (n: bigint) =>
        raw.channel.request('invoke', {
          invoke: {
            leaseId: h.executor.leaseId.toString(),
            client: c.address,
            nonce: n.toString(),
            functionId: Buffer.from(echo.id, 'hex'),
            input: Buffer.from(enc('b')),
          },
        });
      // A call without a voucher needs the session bound to its client by the client's wallet.
      expect(await codeOf(send(1n))).toBe('CLIENT_NOT_BOUND');
      // Sync answers only for a wallet the session is bound to; an unproven one keeps no books.
      const books = h.executor.clientBooks;
      const unproven = raw.channel.request('sync', {
        sync: { leaseId: h.executor.leaseId.toString(), client: c.address },
      });
      expect(await codeOf(unproven)).toBe('CLIENT_NOT_BOUND');
      expect(h.executor.clientBooks).toBe(books);
      const lease = h.executor.leaseId;
      const bind = (ch: SecureChannel, signer: Uint8Array, sessionId = ch.accepted.sessionId) =>
        ch.request('sync', {
          sync: {
            leaseId: lease.toString(),
            client: c.address,
            clientProof: Buffer.from(signClientBinding(signer, sessionId, lease)),
          },
        });
      const stranger = signingKey(Wallet.createRandom());
      expect(await codeOf(bind(raw.channel, stranger.privateKey))).toBe('CLIENT_PROOF_INVALID');
      const other = await rawSession(h.endpoint, h.policy);
      // A proof made for another session does not bind this one, and a binding stays in its session.
      expect(await codeOf(bind(raw.channel, c.privateKey, other.accepted.sessionId))).toBe(
        'CLIENT_PROOF_INVALID',
      );
      await bind(other.channel, c.privateKey);
      expect(await codeOf(send(1n))).toBe('CLIENT_NOT_BOUND');
      other.client.close();
      await bind(raw.channel, c.privateKey);
      // The refused attempts spent no nonce: the batch starts at 1.
      for (let n = 1n; n <= 8n; n++) await send(n);
      expect(await codeOf(send(9n))).toBe('VOUCHER_REQUIRED');
      // A voucher whose chain does not match the calls is refused; the right one settles the batch.
      const reqs = Array.from({ length: 8 }, (_, i) => ({
        nonce: BigInt(i + 1),
        functionHash: echo.hash,
        inputHash: sha256Hex(enc('b')),
      }));
      let head = ZeroHash as string;
      for (const r of reqs) head = nextRequestHead(head, r);
      const settle = (requestHead: string) =>
        raw.channel.request('settle', {
          settle: {
            client: c.address,
            voucher: voucherToWire(
              signVoucher(
                s.domain,
                {
                  leaseId: h.executor.leaseId,
                  firstNonce: 1n,
                  lastNonce: 8n,
                  requestHead,
                  cumulativeAmount: 0n,
                  deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
                },
                c.privateKey,
              ),
            ),
          },
        });
      expect(await codeOf(settle(nextRequestHead(head, reqs[0]!)))).toBe('VOUCHER_MISMATCH');
      const r = await settle(head);
      expect(r.settle?.receipt?.firstNonce).toBe('1');
      expect(r.settle?.receipt?.lastNonce).toBe('8');
      expect((await send(9n)).invoke?.record?.nonce).toBe('9');
    });
  });
});

describe('restart', () => {
  it('refuses a replayed call after the executor restarts', async () => {
    const first = await startExecutor();
    const wallet = Wallet.createRandom();
    const key = signingKey(wallet);
    const echo = await buildExample('echo');
    const raw = await rawSession(first.endpoint, first.policy);
    const d = await raw.channel.request('deploy', { deploy: { wasm: Buffer.from(echo) } });
    const fnId = d.deploy!.functionId;
    const input = enc('pay me twice');
    const req = { nonce: 7n, functionHash: `0x${fnId.toString('hex')}`, inputHash: sha256Hex(input) };
    const invoke = (r: RawSession, domain: { chainId: bigint; verifyingContract: string }, lease: bigint) =>
      r.channel.request('invoke', {
        invoke: {
          leaseId: lease.toString(),
          client: key.address,
          nonce: '7',
          functionId: fnId,
          input: Buffer.from(input),
          voucher: voucherToWire(
            signVoucher(
              domain,
              {
                leaseId: lease,
                firstNonce: 7n,
                lastNonce: 7n,
                requestHead: nextRequestHead(ZeroHash, req),
                cumulativeAmount: 0n,
                deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
              },
              key.privateKey,
            ),
          ),
        },
      });
    const domain = { chainId: 31337n, verifyingContract: `0x${'00'.repeat(20)}` };
    expect((await invoke(raw, domain, first.executor.leaseId)).invoke?.record?.nonce).toBe('7');
    raw.client.close();
    await first.executor.stop(500);
    // Same state dir, same lease, new process state (new keys, new quote).
    const second = await startExecutor({
      root: first.root,
      stateDir: first.stateDir,
      leaseId: first.executor.leaseId,
    });
    try {
      const raw2 = await rawSession(second.endpoint, second.policy);
      await raw2.channel.request('deploy', { deploy: { wasm: Buffer.from(echo) } });
      expect(await codeOf(invoke(raw2, domain, second.executor.leaseId))).toBe('NONCE_STALE');
      // The SDK resynchronises its nonce and carries on.
      const s = await connect(second.endpoint, { policy: second.policy });
      const fn = await s.deploy(echo);
      const r = await s.invoke(fn, enc('fresh'), { wallet });
      expect(r.record.nonce).toBeGreaterThan(7n);
      await s.close();
      raw2.client.close();
    } finally {
      await second.stop();
      const { rm } = await import('node:fs/promises');
      await rm(first.stateDir, { recursive: true, force: true });
    }
  });

  it.each(['per-call', 'batched'] as const)(
    'keeps an SDK session (%s) working across an executor restart on the same address',
    async (receipts) => {
      const first = await startExecutor();
      const wallet = Wallet.createRandom();
      // Batched: the re-opened session must be bound to the wallet again before the call is re-sent.
      const s = await connect(first.endpoint, { policy: first.policy, receipts });
      const fn = await s.deploy(await buildExample('echo'));
      const before = await s.invoke(fn, enc('before'), { wallet });
      const identity = s.accepted.identityAddress;
      await first.executor.stop(500);
      const second = await startExecutor({
        root: first.root,
        stateDir: first.stateDir,
        leaseId: first.executor.leaseId,
        listen: first.endpoint,
      });
      try {
        // Same Session object: it re-attests the new instance, re-deploys, resynchronises its nonce.
        const after = await s.invoke(fn, enc('after'), { wallet });
        expect(new TextDecoder().decode(after.output)).toBe('after');
        expect(after.record.nonce).toBeGreaterThan(before.record.nonce);
        expect(s.accepted.identityAddress).not.toBe(identity);
        expect(after.receipt.signer).toBe(second.executor.identity.identityAddress);
        await s.close();
      } finally {
        await second.stop();
        const { rm } = await import('node:fs/promises');
        await rm(first.stateDir, { recursive: true, force: true });
      }
    },
  );
});
