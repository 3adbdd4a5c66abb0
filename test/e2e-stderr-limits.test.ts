import * as grpc from '@grpc/grpc-js';
import { Wallet, ZeroHash } from 'ethers';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSimulatedRoot } from '../attestation/simulated.js';
import { fail } from '../enclave-host/errors.js';
import { Executor, SEALED_RESPONSE_OVERHEAD_BYTES } from '../enclave-host/executor.js';
import { SimulatedQuoteProvider } from '../enclave-host/quote/simulated.js';
import { FunctionRuntime } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import { ERROR_DETAIL_KEY, sessionCodec } from '../proto/load.js';
import { signClientBinding } from '../protocol/client-binding.js';
import { sha256Hex, signVoucher } from '../protocol/settlement.js';
import { nextRequestHead } from '../protocol/typed-data.js';
import { voucherToWire } from '../protocol/wire.js';
import { connect, DefaasError, type FunctionHandle, isDefaasError, type Session } from '../sdk/index.js';
import { signingKey } from '../sdk/wallet.js';
import {
  type Harness,
  LIMITS,
  MR_TD,
  type RawSession,
  rawSession,
  startExecutor,
  startRelay,
} from './e2e-harness.js';
import { codeOfAsync as codeOf } from './error-code.js';

/**
 * A function's stderr reaches its caller sealed (never the host's log, never a plaintext trailer);
 * the limits are signed terms, checked against the message size at start and named in every limit
 * error; a call refused before it ran is neither recorded nor charged.
 */

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function failure(p: Promise<unknown>): Promise<DefaasError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DefaasError);
  return e as DefaasError;
}

describe('stderr and partial output reach the caller, sealed', () => {
  let h: Harness;
  let s: Session;
  const logged: string[] = [];
  const wallet = Wallet.createRandom();

  beforeAll(async () => {
    const sink = { write: (line: string) => logged.push(line) };
    h = await startExecutor({ logger: pino({ level: 'trace' }, sink) });
    s = await connect(h.endpoint, { policy: h.policy });
  });
  afterAll(async () => {
    await s.close();
    await h.stop();
  });

  it('returns stderr with the output of a successful call, and never logs it', async () => {
    const greet = await s.deploy(await buildExample('greet'));
    const r = await s.invoke(greet, enc('world'), { wallet });
    expect(dec(r.output)).toBe('hello, world');
    expect(dec(r.stderr)).toBe('greet: said hello\n');
    expect(r.stderrTruncatedBytes).toBe(0);
    expect(logged.join('')).not.toContain('said hello');
  });

  it('gives a failed function its stderr (and partial stdout) on the error, and never logs it', async () => {
    const trap = await s.deploy(await buildExample('trap'));
    const e = await failure(s.invoke(trap, enc('x'), { wallet }));
    expect(e.code).toBe('FUNCTION_TRAPPED');
    expect(dec(e.functionOutput!.stderr)).toBe('trap: about to execute unreachable\n');
    expect(e.functionOutput!.stderrTruncatedBytes).toBe(0);
    const exit = await s.deploy(await buildExample('exit-nonzero'));
    const e3 = await failure(s.invoke(exit, enc('x'), { wallet }));
    expect(e3.code).toBe('FUNCTION_EXIT_NONZERO');
    expect(dec(e3.functionOutput!.stderr)).toBe('exit-nonzero: giving up with code 3\n');
    // Partial stdout of a failure comes with the worker's `output` for every status.
    expect(e3.functionOutput!.stdout).toBeInstanceOf(Uint8Array);
    expect(logged.join('')).not.toContain('about to execute');
    expect(logged.join('')).not.toContain('giving up');
  });

  it('over InvokeStream too', async () => {
    const st = await connect(h.endpoint, { policy: h.policy, transport: 'stream' });
    try {
      const greet = await st.deploy(await buildExample('greet'));
      expect(dec((await st.invoke(greet, enc('x'), { wallet })).stderr)).toBe('greet: said hello\n');
      const trap = await st.deploy(await buildExample('trap'));
      const e = await failure(st.invoke(trap, enc('x'), { wallet }));
      expect(dec(e.functionOutput!.stderr)).toContain('unreachable');
    } finally {
      await st.close();
    }
  });

  it('names the numbers in every limit error', async () => {
    const cases = [
      ['infinite-loop', 'FUNCTION_TIMEOUT', `${LIMITS.wallTimeMs} ms`],
      ['memory-bomb', 'FUNCTION_MEMORY_LIMIT', `${LIMITS.memoryBytes} bytes`],
      ['spew', 'OUTPUT_TOO_LARGE', `${LIMITS.maxOutputBytes} bytes`],
    ] as const;
    for (const [name, code, number] of cases) {
      const fn = await s.deploy(await buildExample(name));
      const e = await failure(s.invoke(fn, enc('x'), { wallet }));
      expect(e.code, name).toBe(code);
      expect(e.message, name).toContain(number);
    }
    const echo = await s.deploy(await buildExample('echo'));
    const e = await failure(s.invoke(echo, new Uint8Array(LIMITS.maxInputBytes + 1), { wallet }));
    expect(e.code).toBe('INPUT_TOO_LARGE');
    expect(e.message).toContain(
      `${LIMITS.maxInputBytes + 1} bytes, over the limit of ${LIMITS.maxInputBytes}`,
    );
  });

  it('the signed terms announce the limits the executor enforces', () => {
    expect(s.terms.limits).toEqual({
      memoryBytes: BigInt(LIMITS.memoryBytes),
      wallTimeMs: LIMITS.wallTimeMs,
      maxInputBytes: BigInt(LIMITS.maxInputBytes),
      maxOutputBytes: BigInt(LIMITS.maxOutputBytes),
      maxStderrBytes: 65536n,
      maxMessageBytes: 40n * 1024n * 1024n,
    });
    expect(s.terms.limits).toEqual(h.executor.terms.limits);
  });
});

/** A relay that announces a larger output limit than the enclave signed. */
function limitsRelay(target: string) {
  return startRelay(target, {
    OpenSession: (call, cb, up) =>
      up.OpenSession(call.request as never, (e, r) => {
        if (e || !r) return cb(e);
        cb(null, {
          ...r,
          terms: { ...r.terms, limits: { ...r.terms!.limits!, maxOutputBytes: '99999999' } },
        });
      }),
  });
}

/** A relay that answers Invoke with a forged plaintext error carrying function output. */
function forgingRelay(target: string) {
  const codec = sessionCodec();
  return startRelay(target, {
    Invoke: (_call, cb) => {
      const md = new grpc.Metadata();
      const forged = {
        code: 'FUNCTION_TRAPPED',
        message: 'forged',
        infoJson: '{}',
        functionOutput: { stdout: Buffer.from('FORGED STDOUT'), stderr: Buffer.from('FORGED STDERR') },
      };
      md.set(ERROR_DETAIL_KEY, codec.encodeError(forged));
      // A "sealed" detail in a trailer (which the protocol does not have): the client must ignore it.
      md.set('defaas-sealed-error-bin', codec.encodeResponse({ error: forged }));
      cb({ code: grpc.status.ABORTED, details: 'forged', metadata: md });
    },
  });
}

describe('a relay cannot forge what the function wrote, nor the limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startExecutor();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('the SDK ignores stdout/stderr in a plaintext gRPC error (and in a sealed trailer that does not open)', async () => {
    const relay = await forgingRelay(h.endpoint);
    const s = await connect(relay.endpoint, { policy: h.policy });
    try {
      const echo = await s.deploy(await buildExample('echo'));
      const e = await failure(s.invoke(echo, enc('x'), { wallet: Wallet.createRandom() }));
      expect(e.functionOutput).toBeUndefined();
      expect(JSON.stringify(e)).not.toContain('FORGED');
    } finally {
      await s.close();
      relay.stop();
    }
  });

  it('refuses a ServerHello whose limits were changed (the transcript signature covers them)', async () => {
    const relay = await limitsRelay(h.endpoint);
    try {
      expect(await codeOf(connect(relay.endpoint, { policy: h.policy }))).toBe(
        'TRANSCRIPT_SIGNATURE_INVALID',
      );
    } finally {
      relay.stop();
    }
  });
});

describe('limits are checked against the gRPC message size at start', () => {
  const quotes = new SimulatedQuoteProvider(generateSimulatedRoot(), { measurements: { mrTd: MR_TD } });

  it('refuses a 64 MiB output limit under the 40 MiB message cap, naming both numbers', async () => {
    const runtime = new FunctionRuntime({
      workers: 1,
      limits: { ...LIMITS, maxOutputBytes: 64 * 1024 * 1024 },
    });
    try {
      const e = (() => {
        try {
          new Executor({ quotes, runtime, logger: pino({ level: 'silent' }) });
        } catch (x) {
          return x as Error;
        }
      })();
      expect(e?.message).toContain(`max output ${64 * 1024 * 1024} bytes`);
      expect(e?.message).toContain(`gRPC max message size of ${40 * 1024 * 1024} bytes`);
    } finally {
      await runtime.close();
    }
  });

  it('refuses an input limit that cannot fit one frame; accepts limits that just fit', async () => {
    const max = 1024 * 1024;
    const tooBig = new FunctionRuntime({ workers: 1, limits: { ...LIMITS, maxInputBytes: max } });
    const fits = new FunctionRuntime({
      workers: 1,
      limits: {
        ...LIMITS,
        maxInputBytes: 1024,
        maxOutputBytes: max - 65536 - SEALED_RESPONSE_OVERHEAD_BYTES,
      },
    });
    try {
      expect(
        () =>
          new Executor({ quotes, runtime: tooBig, logger: pino({ level: 'silent' }), maxMessageBytes: max }),
      ).toThrow(/max input 1048576 bytes .* gRPC max message size of 1048576 bytes/);
      expect(
        new Executor({ quotes, runtime: fits, logger: pino({ level: 'silent' }), maxMessageBytes: max }).terms
          .limits.maxOutputBytes,
      ).toBe(BigInt(max - 65536 - SEALED_RESPONSE_OVERHEAD_BYTES));
    } finally {
      await tooBig.close();
      await fits.close();
    }
  });
});

describe('charging rule: a call that did not run is neither recorded nor charged', () => {
  let h: Harness;
  let raw: RawSession;
  let echo: FunctionHandle;
  let busy = false;
  const price = 7n;
  const wallet = Wallet.createRandom();
  const key = signingKey(wallet);

  beforeAll(async () => {
    const real = new FunctionRuntime({ workers: 2, limits: LIMITS });
    h = await startExecutor({
      pricePerCall: price,
      runtime: {
        register: (w, o) => real.register(w, o),
        unregister: (f, o) => real.unregister(f, o),
        has: (f) => real.has(f),
        get effectiveLimits() {
          return real.effectiveLimits;
        },
        close: () => real.close(),
        invoke: (f, i, t) =>
          busy ? fail('RUNTIME_BUSY', 'the runtime queue is full') : real.invoke(f, i, t),
      },
    });
    const s = await connect(h.endpoint, { policy: h.policy });
    echo = await s.deploy(await buildExample('echo'));
    await s.close();
    raw = await rawSession(h.endpoint, h.policy);
    await raw.channel.request('deploy', { deploy: { wasm: Buffer.from(await buildExample('echo')) } });
  });
  afterAll(async () => {
    raw.client.close();
    await h.stop();
  });

  function call(nonce: bigint, o: { input?: Uint8Array; fnId?: string; wireFnId?: Buffer } = {}) {
    const input = o.input ?? enc('x');
    const fnId = o.fnId ?? echo.id;
    const req = { nonce, functionHash: `0x${fnId}`, inputHash: sha256Hex(input) };
    const sv = signVoucher(
      { chainId: h.executor.domain.chainId, verifyingContract: h.executor.domain.verifyingContract },
      {
        leaseId: h.executor.leaseId,
        firstNonce: nonce,
        lastNonce: nonce,
        requestHead: nextRequestHead(ZeroHash, req),
        cumulativeAmount: price * nonce,
        deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
      },
      key.privateKey,
    );
    return raw.channel.request('invoke', {
      invoke: {
        leaseId: h.executor.leaseId.toString(),
        client: key.address,
        nonce: nonce.toString(),
        functionId: o.wireFnId ?? Buffer.from(fnId, 'hex'),
        input: Buffer.from(input),
        voucher: voucherToWire(sv),
      },
    });
  }

  async function refused(p: Promise<unknown>, code: string): Promise<void> {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(isDefaasError(e) && e.code).toBe(code);
    // No record and no receipt: nothing the provider could redeem or the books could charge.
    expect((e as DefaasError).info.record).toBeUndefined();
    expect((e as DefaasError).info.receipt).toBeUndefined();
  }

  it('unknown function, oversized input, malformed request: the nonce stays free', async () => {
    await refused(call(1n, { fnId: 'cd'.repeat(32) }), 'FUNCTION_NOT_FOUND');
    await refused(call(1n, { input: new Uint8Array(LIMITS.maxInputBytes + 1) }), 'INPUT_TOO_LARGE');
    await refused(call(1n, { wireFnId: Buffer.from([0xcd]) }), 'REQUEST_MALFORMED');
    // Nonce 1 was never taken: it is served now.
    const ok = await call(1n);
    expect(ok.invoke?.record?.nonce).toBe('1');
    expect(ok.invoke?.record?.price).toBe(price.toString());
  });

  it('a call the runtime refused without running (busy): nonce spent, no record, no charge', async () => {
    busy = true;
    try {
      await refused(call(2n), 'RUNTIME_BUSY');
    } finally {
      busy = false;
    }
    await refused(call(2n), 'NONCE_STALE');
    expect((await call(3n)).invoke?.record?.nonce).toBe('3');
  });

  it('a function that ran and failed is recorded and charged', async () => {
    const trap = await buildExample('trap');
    const d = await raw.channel.request('deploy', { deploy: { wasm: Buffer.from(trap) } });
    // A result, not a refusal: the InvokeResponse carries the error, the record and the receipt.
    const r = await call(4n, { fnId: d.deploy!.functionId.toString('hex') });
    expect(r.invoke?.error?.code).toBe('FUNCTION_TRAPPED');
    expect(r.invoke?.record?.price).toBe(price.toString());
    expect(r.invoke?.receipt?.lastNonce).toBe('4');
  });

  it('the SDK does not authorise the price of a refused call in its next voucher', async () => {
    const s = await connect(h.endpoint, { policy: h.policy });
    const w = Wallet.createRandom();
    try {
      const fn = await s.deploy(await buildExample('echo'));
      expect(await codeOf(s.invoke(fn, new Uint8Array(LIMITS.maxInputBytes + 1), { wallet: w }))).toBe(
        'INPUT_TOO_LARGE',
      );
      const r = await s.invoke(fn, enc('ok'), { wallet: w });
      expect(r.receipt.records).toHaveLength(1);
      const stored = await s.invoke(fn, enc('ok2'), { wallet: w });
      expect(stored.record.price).toBe(price);
    } finally {
      await s.close();
    }
    // The executor's books: two calls ran, two prices authorised (read on a session bound to the wallet).
    const reader = await rawSession(h.endpoint, h.policy);
    const lease = h.executor.leaseId;
    const sync = await reader.channel.request('sync', {
      sync: {
        leaseId: lease.toString(),
        client: signingKey(w).address,
        clientProof: Buffer.from(
          signClientBinding(signingKey(w).privateKey, reader.accepted.sessionId, lease),
        ),
      },
    });
    reader.client.close();
    expect(sync.sync?.cumulativeAmount).toBe((2n * price).toString());
  });
});
