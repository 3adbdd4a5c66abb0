import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import type { ExecutorClient } from '../proto/gen/defaas/executor/v1/Executor.js';
import type { SealedFrame, SealedFrame__Output } from '../proto/gen/defaas/executor/v1/SealedFrame.js';
import { type SessionRequest, type SessionResponse__Output, sessionCodec } from '../proto/load.js';
import { type CallRequest, requestHead } from '../protocol/call-records.js';
import { signClientBinding } from '../protocol/client-binding.js';
import { FrameCipher } from '../protocol/frame-cipher.js';
import { sha256Hex, signVoucher } from '../protocol/settlement.js';
import { parseInfoJson, recordFromWire, voucherToWire } from '../protocol/wire.js';
import {
  type Harness,
  type Key,
  LIMITS,
  newKey,
  type RawSession,
  rawClient,
  rawSession,
  startExecutor,
  startRelay,
} from './e2e-harness.js';

/*
 * The billing rules of docs/session.md ("Billing rules (enforced by the executor)") over real gRPC
 * on 127.0.0.1, with hand-built sealed frames: each case is a request an honest SDK would not send,
 * or a lost response, and the executor's books must hold whatever arrives. Every answer after a
 * frame authenticated is a sealed SessionResponse with status OK ("Errors: sealed after
 * authentication, hints before").
 */

const codec = sessionCodec();
const enc = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deadlineIn = (s: number) => BigInt(Math.floor(Date.now() / 1000) + s);

type Method = 'Deploy' | 'Invoke' | 'Settle' | 'Sync';

/** A raw client of one session: seals requests with its own sequence numbers, opens responses. */
class Raw {
  private seq = 0n;
  private readonly tx: FrameCipher;
  private readonly rx: FrameCipher;
  constructor(readonly s: RawSession) {
    this.tx = new FrameCipher(s.accepted.keys.c2s, 'c2s');
    this.rx = new FrameCipher(s.accepted.keys.s2c, 's2c');
  }

  get sessionId(): Uint8Array {
    return this.s.accepted.sessionId;
  }

  frame(req: SessionRequest): SealedFrame {
    const seq = this.seq++;
    const id = this.sessionId;
    return {
      sessionId: Buffer.from(id),
      seq: seq.toString(),
      ciphertext: this.tx.seal(id, seq, codec.encodeRequest(req)),
    };
  }

  /** Opens a sealed response frame; throws on a frame that does not open. */
  open(f: SealedFrame__Output): SessionResponse__Output {
    if (!Buffer.from(this.sessionId).equals(f.sessionId)) throw new Error('response for another session');
    const plain = this.rx.open(this.sessionId, BigInt(f.seq), f.ciphertext);
    if (!plain) throw new Error(`response ${f.seq} does not open`);
    return codec.decodeResponse(plain);
  }

  /** One unary RPC; a gRPC status (a refusal before authentication) rejects. */
  send(
    method: Method,
    req: SessionRequest,
    via: ExecutorClient = this.s.client,
  ): Promise<SessionResponse__Output> {
    const frame = this.frame(req);
    return new Promise((resolve, reject) => {
      const m = via[method].bind(via) as (
        f: SealedFrame,
        cb: (e: grpc.ServiceError | null, r?: SealedFrame__Output) => void,
      ) => unknown;
      m(frame, (e, r) => {
        if (e) return reject(new Error(`status ${e.code}: ${e.details}`));
        try {
          const res = this.open(r!);
          if (r!.seq !== frame.seq) throw new Error(`response to ${r!.seq}, expected ${frame.seq}`);
          resolve(res);
        } catch (x) {
          reject(x);
        }
      });
    });
  }
}

/** The sealed error of a response (its code, outcome and info), or 'OK'. */
function outcome(res: SessionResponse__Output): {
  code: string;
  callOutcome?: string;
  info: Record<string, unknown>;
} {
  if (res.body !== 'error' || !res.error) return { code: 'OK', info: {} };
  return {
    code: res.error.code,
    callOutcome: res.error.callOutcome,
    info: parseInfoJson(res.error.infoJson),
  };
}

describe('billing rules over real sessions', () => {
  const price = 5n;
  let h: Harness;
  let raw: Raw;
  let echo: { id: Buffer; hash: string };

  beforeAll(async () => {
    h = await startExecutor({ pricePerCall: price, batchMaxCalls: 8, voucherWaitMs: 300 });
    raw = new Raw(await rawSession(h.endpoint, h.policy));
    const d = await raw.send('Deploy', { deploy: { wasm: Buffer.from(await buildExample('echo')) } });
    const id = d.deploy!.functionId;
    echo = { id, hash: `0x${id.toString('hex')}` };
  });
  afterAll(async () => {
    raw.s.client.close();
    await h.stop();
  });

  const lease = () => h.executor.leaseId;

  function bind(r: Raw, key: Key) {
    return r.send('Sync', {
      sync: {
        leaseId: lease().toString(),
        client: key.address,
        clientProof: Buffer.from(signClientBinding(key.privateKey, r.sessionId, lease())),
      },
    });
  }

  function req(nonce: bigint, input: string): CallRequest {
    return { nonce, functionHash: echo.hash, inputHash: sha256Hex(enc(input)) };
  }

  function voucher(key: Key, reqs: CallRequest[], amount: bigint, deadline = deadlineIn(3600)) {
    return signVoucher(
      h.executor.domain,
      {
        leaseId: lease(),
        firstNonce: reqs[0]!.nonce,
        lastNonce: reqs[reqs.length - 1]!.nonce,
        requestHead: requestHead(reqs),
        cumulativeAmount: amount,
        deadline,
      },
      key.privateKey,
    );
  }

  function invoke(key: Key, nonce: bigint, o: { amount?: bigint; deadline?: bigint; input?: string } = {}) {
    const input = o.input ?? `call ${nonce}`;
    const v = o.amount === undefined ? undefined : voucher(key, [req(nonce, input)], o.amount, o.deadline);
    return raw.send('Invoke', {
      invoke: {
        leaseId: lease().toString(),
        client: key.address,
        nonce: nonce.toString(),
        functionId: echo.id,
        input: Buffer.from(enc(input)),
        ...(v && { voucher: voucherToWire(v) }),
      },
    });
  }

  function settle(key: Key, nonces: bigint[], amount: bigint, deadline = deadlineIn(3600)) {
    const v = voucher(
      key,
      nonces.map((n) => req(n, `call ${n}`)),
      amount,
      deadline,
    );
    return raw.send('Settle', { settle: { client: key.address, voucher: voucherToWire(v) } });
  }

  function sync(key: Key, nonces: bigint[] = []) {
    return raw.send('Sync', {
      sync: { leaseId: lease().toString(), client: key.address, nonces: nonces.map(String) },
    });
  }

  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => BigInt(a + i));

  it('overlapping Settles: one receipt per call, and the uncovered count never goes below zero', async () => {
    const key = newKey();
    await bind(raw, key);
    for (const n of range(1, 7)) expect(outcome(await invoke(key, n)).code).toBe('OK');
    // A names a call that has not arrived yet; B covers the calls both name.
    const a = settle(key, range(1, 8), 8n * price);
    await sleep(50);
    const b = await settle(key, range(1, 7), 7n * price);
    expect(b.settle?.receipt?.lastNonce).toBe('7');
    expect(outcome(await invoke(key, 8n)).code).toBe('OK');
    expect(outcome(await a).code).toBe('VOUCHER_MISMATCH');
    // Call 8 is still open: it settles alone, and the same voucher again gets the same receipt.
    const v8 = voucher(key, [req(8n, 'call 8')], 8n * price);
    const s1 = await raw.send('Settle', { settle: { client: key.address, voucher: voucherToWire(v8) } });
    const s2 = await raw.send('Settle', { settle: { client: key.address, voucher: voucherToWire(v8) } });
    expect(s1.settle?.receipt?.firstNonce).toBe('8');
    expect(Buffer.from(s2.settle!.receipt!.signature).equals(s1.settle!.receipt!.signature)).toBe(true);
    // Nothing is uncovered now: exactly one more batch (8 calls) is served without a voucher.
    for (const n of range(9, 16)) expect(outcome(await invoke(key, n)).code).toBe('OK');
    const over = outcome(await invoke(key, 17n));
    expect(over.code).toBe('VOUCHER_REQUIRED');
    expect(over.callOutcome).toBe('CALL_OUTCOME_NOT_ADMITTED');
  });

  it('two different vouchers over a batch whose last call still runs: exactly one receipt', async () => {
    const slow = await raw.send('Deploy', {
      deploy: { wasm: Buffer.from(await buildExample('infinite-loop')) },
    });
    const key = newKey();
    await bind(raw, key);
    for (const n of range(1, 3)) expect(outcome(await invoke(key, n)).code).toBe('OK');
    // Nonce 4 runs until its wall-time limit: a call that ran and failed, charged.
    const running = raw.send('Invoke', {
      invoke: {
        leaseId: lease().toString(),
        client: key.address,
        nonce: '4',
        functionId: slow.deploy!.functionId,
        input: Buffer.alloc(0),
      },
    });
    await sleep(100);
    const reqs = [...range(1, 3).map((n) => req(n, `call ${n}`))];
    reqs.push({
      nonce: 4n,
      functionHash: `0x${slow.deploy!.functionId.toString('hex')}`,
      inputHash: sha256Hex(enc('')),
    });
    const send = (amount: bigint) =>
      raw.send('Settle', {
        settle: { client: key.address, voucher: voucherToWire(voucher(key, reqs, amount)) },
      });
    const [x, y] = await Promise.all([send(4n * price), send(5n * price)]);
    const receipts = [x, y].filter((r) => r.settle?.receipt);
    expect(receipts).toHaveLength(1);
    expect([outcome(x).code, outcome(y).code].sort()).toEqual(['OK', 'VOUCHER_MISMATCH']);
    const r = await running;
    expect(r.invoke?.error?.code).toBe('FUNCTION_TIMEOUT');
    expect(r.invoke?.record?.nonce).toBe('4');
  });

  it('per-call vouchers whose cumulative amount does not rise are refused from the second call on', async () => {
    const key = newKey();
    expect(outcome(await invoke(key, 1n, { amount: price })).code).toBe('OK');
    const second = outcome(await invoke(key, 2n, { amount: price }));
    expect(second.code).toBe('VOUCHER_AMOUNT_TOO_LOW');
    expect(second.callOutcome).toBe('CALL_OUTCOME_NOT_ADMITTED');
    expect(second.info.required).toBe((2n * price).toString());
    expect(outcome(await invoke(key, 3n, { amount: price })).code).toBe('VOUCHER_AMOUNT_TOO_LOW');
    // Not admitted: the same nonce goes through with an amount that covers both calls.
    const ok = await invoke(key, 2n, { amount: 2n * price });
    expect(ok.invoke?.receipt?.lastNonce).toBe('2');
  });

  it('refuses a voucher whose deadline leaves no time to redeem it (now + 1 s)', async () => {
    const key = newKey();
    const soon = outcome(await invoke(key, 1n, { amount: price, deadline: deadlineIn(1) }));
    expect(soon.code).toBe('VOUCHER_DEADLINE_TOO_SOON');
    expect(soon.callOutcome).toBe('CALL_OUTCOME_NOT_ADMITTED');
    expect((await invoke(key, 1n, { amount: price })).invoke?.record?.nonce).toBe('1');
  });

  it('refuses nonce jumps to 2^64 − 2 and to highest + 10^6; the next nonce stays where it was', async () => {
    const key = newKey();
    await bind(raw, key);
    expect((await invoke(key, 1n, { amount: price })).invoke?.record?.nonce).toBe('1');
    for (const n of [(1n << 64n) - 2n, 1n + 1_000_000n]) {
      const far = outcome(await invoke(key, n, { amount: 2n * price }));
      expect(far.code, String(n)).toBe('NONCE_TOO_FAR');
      expect(far.callOutcome).toBe('CALL_OUTCOME_NOT_ADMITTED');
      expect(far.info.nextNonce).toBe('2');
      expect((await sync(key)).sync?.nextNonce).toBe('2');
    }
    expect((await invoke(key, 2n, { amount: 2n * price })).invoke?.record?.nonce).toBe('2');
    expect((await sync(key)).sync?.nextNonce).toBe('3');
  });

  it('Sync answers only for a wallet the session is bound to', async () => {
    const mine = newKey();
    const other = newKey();
    await bind(raw, mine);
    expect(outcome(await sync(mine)).code).toBe('OK');
    expect(outcome(await sync(other)).code).toBe('CLIENT_NOT_BOUND');
    const fresh = new Raw(await rawSession(h.endpoint, h.policy));
    try {
      const r = await fresh.send('Sync', { sync: { leaseId: lease().toString(), client: mine.address } });
      expect(outcome(r).code).toBe('CLIENT_NOT_BOUND');
    } finally {
      fresh.s.client.close();
    }
  });

  it('Sync{nonces}: ran (with record and receipt), not run, and a fenced nonce that can no longer run', async () => {
    const key = newKey();
    await bind(raw, key);
    await invoke(key, 1n, { amount: price });
    const r = await sync(key, [1n, 2n, 0n, 5000n]);
    const states = r.sync!.calls.map((c) => [c.nonce, c.state]);
    expect(states).toEqual([
      ['1', 'CALL_STATE_RAN'],
      ['2', 'CALL_STATE_NOT_RUN'],
      ['0', 'CALL_STATE_UNKNOWN'],
      ['5000', 'CALL_STATE_UNKNOWN'],
    ]);
    expect(r.sync!.calls[0]!.record?.nonce).toBe('1');
    expect(r.sync!.calls[0]!.receipt?.lastNonce).toBe('1');
    // Nonce 2 was fenced by that Sync: it is spent without running and never charged.
    const late = outcome(await invoke(key, 2n, { amount: 2n * price }));
    expect(late.code).toBe('NONCE_STALE');
    expect(late.callOutcome).toBe('CALL_OUTCOME_NOT_ADMITTED');
    expect((await invoke(key, 3n, { amount: 2n * price })).invoke?.record?.nonce).toBe('3');
    const tooMany = outcome(await sync(key, range(1, 65)));
    expect(tooMany.code).toBe('REQUEST_MALFORMED');
  });
});

describe('a lost batch recovers without a restart', () => {
  const price = 3n;
  let h: Harness;

  beforeAll(async () => {
    h = await startExecutor({ pricePerCall: price, voucherWaitMs: 300 });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('64 batched calls whose responses were dropped: Sync lists them, Settle covers them, batched calls go on', async () => {
    // A relay that lets every Invoke run and drops its response.
    const relay = await startRelay(h.endpoint, {
      Invoke: (call, cb, up) =>
        up.Invoke(call.request as never, () => cb({ code: grpc.status.UNAVAILABLE, details: 'dropped' })),
    });
    const raw = new Raw(await rawSession(h.endpoint, h.policy));
    const dropping = rawClient(relay.endpoint);
    try {
      const lease = h.executor.leaseId;
      const key = newKey();
      const d = await raw.send('Deploy', { deploy: { wasm: Buffer.from(await buildExample('echo')) } });
      const fnId = d.deploy!.functionId;
      await raw.send('Sync', {
        sync: {
          leaseId: lease.toString(),
          client: key.address,
          clientProof: Buffer.from(signClientBinding(key.privateKey, raw.sessionId, lease)),
        },
      });
      const call = (n: bigint, via?: ExecutorClient) =>
        raw.send(
          'Invoke',
          {
            invoke: {
              leaseId: lease.toString(),
              client: key.address,
              nonce: n.toString(),
              functionId: fnId,
              input: Buffer.from(enc(`lost ${n}`)),
            },
          },
          via,
        );
      const lost = await Promise.allSettled(
        Array.from({ length: 64 }, (_, i) => call(BigInt(i + 1), dropping)),
      );
      expect(lost.every((r) => r.status === 'rejected')).toBe(true);
      expect(outcome(await call(65n)).code).toBe('VOUCHER_REQUIRED');

      const s = await raw.send('Sync', { sync: { leaseId: lease.toString(), client: key.address } });
      const unsettled = s.sync!.unsettled.map(recordFromWire);
      expect(unsettled.map((r) => r.nonce)).toEqual(Array.from({ length: 64 }, (_, i) => BigInt(i + 1)));
      for (const r of unsettled) expect(r.inputHash).toBe(sha256Hex(enc(`lost ${r.nonce}`)));

      const v = signVoucher(
        h.executor.domain,
        {
          leaseId: lease,
          firstNonce: 1n,
          lastNonce: 64n,
          requestHead: requestHead(unsettled),
          cumulativeAmount: 64n * price,
          deadline: deadlineIn(3600),
        },
        key.privateKey,
      );
      const settled = await raw.send('Settle', {
        settle: { client: key.address, voucher: voucherToWire(v) },
      });
      expect(settled.settle?.receipt?.firstNonce).toBe('1');
      expect(settled.settle?.receipt?.lastNonce).toBe('64');

      // Batched mode is free again, on the same executor (nonce 65 was never admitted).
      for (let n = 65n; n <= 70n; n++) expect((await call(n)).invoke?.record?.nonce).toBe(n.toString());
      const after = await raw.send('Sync', {
        sync: { leaseId: lease.toString(), client: key.address, nonces: ['10'] },
      });
      expect(after.sync!.unsettled.map((r) => r.nonce)).toEqual(['65', '66', '67', '68', '69', '70']);
      expect(after.sync!.calls[0]!.state).toBe('CALL_STATE_RAN');
      expect(after.sync!.calls[0]!.receipt?.lastNonce).toBe('64');
      expect(after.sync!.cumulativeAmount).toBe((64n * price).toString());
    } finally {
      dropping.close();
      raw.s.client.close();
      relay.stop();
    }
  });
});

describe('InvokeStream: a refused frame is one refusal', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startExecutor({
      runtime: new FunctionRuntime({ workers: 2, limits: { ...LIMITS, wallTimeMs: 300 } }),
    });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('a replayed frame mid-stream gets its own refusal, and all 8 running calls deliver their responses', async () => {
    const raw = new Raw(await rawSession(h.endpoint, h.policy));
    try {
      const lease = h.executor.leaseId;
      const key = newKey();
      const d = await raw.send('Deploy', {
        deploy: { wasm: Buffer.from(await buildExample('infinite-loop')) },
      });
      await raw.send('Sync', {
        sync: {
          leaseId: lease.toString(),
          client: key.address,
          clientProof: Buffer.from(signClientBinding(key.privateKey, raw.sessionId, lease)),
        },
      });
      const stream = raw.s.client.InvokeStream();
      const got: SealedFrame__Output[] = [];
      let failed: unknown;
      const nine = new Promise<void>((resolve) => {
        stream.on('data', (f: SealedFrame__Output) => {
          got.push(f);
          if (got.length === 9) resolve();
        });
        stream.on('error', (e) => {
          failed = e;
          resolve();
        });
        stream.on('end', () => resolve());
      });
      const frames = Array.from({ length: 8 }, (_, i) =>
        raw.frame({
          invoke: {
            leaseId: lease.toString(),
            client: key.address,
            nonce: String(i + 1),
            functionId: d.deploy!.functionId,
            input: Buffer.alloc(0),
          },
        }),
      );
      for (const f of frames) stream.write(f);
      await sleep(100);
      const replayed = frames[2]!;
      stream.write({ ...replayed });
      await Promise.race([nine, sleep(10_000)]);
      stream.end();
      expect(failed).toBeUndefined();
      const refusals = got.filter((f) => f.ciphertext.length === 0);
      expect(refusals).toHaveLength(1);
      expect(refusals[0]!.seq).toBe(replayed.seq);
      expect(refusals[0]!.error?.code).toBe('FRAME_REPLAYED');
      const answers = got.filter((f) => f.ciphertext.length > 0);
      expect(answers.map((f) => f.seq).sort()).toEqual(frames.map((f) => f.seq).sort());
      for (const f of answers) {
        const res = raw.open(f);
        expect(res.invoke?.error?.code).toBe('FUNCTION_TIMEOUT');
        expect(res.invoke?.record?.nonce).toBeDefined();
      }
    } finally {
      raw.s.client.close();
    }
  });
});
