import * as grpc from '@grpc/grpc-js';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../attestation/bytes.js';
import { buildExample } from '../examples/build-example.js';
import type { ServerHello__Output } from '../proto/gen/defaas/executor/v1/ServerHello.js';
import { loadProtos } from '../proto/load.js';
import { connect, isDefaasError } from '../sdk/index.js';
import { finishHandshake, startHandshake } from '../sdk/session/handshake.js';
import {
  type Harness,
  openSessionRaw,
  policyFor,
  rawClient,
  startExecutor,
  startRelay,
} from './e2e-harness.js';

/** Handshake: what the client accepts and every way it refuses (issue 3, "Tests"). */

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isDefaasError(e)) return e.code;
    if (e instanceof Error && 'code' in e) return String((e as { code: unknown }).code);
    throw e;
  }
  return 'ACCEPTED';
}

/** A relay between client and executor that rewrites the ServerHello. */
function helloRelay(
  upstream: string,
  rewrite: (sh: ServerHello__Output) => Promise<ServerHello__Output> | ServerHello__Output,
) {
  return startRelay(upstream, {
    OpenSession: (call, cb, up) =>
      up.OpenSession(call.request as never, async (e, r) => {
        if (e || !r) return cb(e);
        cb(null, await rewrite(r));
      }),
  });
}

describe('handshake', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startExecutor();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('accepts a good simulated executor, in normal and fresh mode', async () => {
    for (const mode of ['normal', 'fresh'] as const) {
      const s = await connect(h.endpoint, { policy: h.policy, mode });
      expect(s.accepted.identityAddress).toBe(h.executor.identity.identityAddress);
      expect(s.accepted.terms.leaseId).toBe(h.executor.leaseId);
      const fn = await s.deploy(await buildExample('echo'));
      const r = await s.invoke(fn, new TextEncoder().encode('hi'), { wallet: Wallet.createRandom() });
      expect(new TextDecoder().decode(r.output)).toBe('hi');
      await s.close();
    }
  });

  it('fresh mode gets a new quote per session; normal mode reuses the standing one', async () => {
    const hashes = async (mode: 'normal' | 'fresh') => {
      const a = await connect(h.endpoint, { policy: h.policy, mode });
      const b = await connect(h.endpoint, { policy: h.policy, mode });
      const r = [toHex(a.accepted.verified.evidenceHash), toHex(b.accepted.verified.evidenceHash)];
      await a.close();
      await b.close();
      return r;
    };
    const [n1, n2] = await hashes('normal');
    expect(n1).toBe(n2);
    const [f1, f2] = await hashes('fresh');
    expect(f1).not.toBe(f2);
    expect(f1).not.toBe(n1);
  });

  it('rejects a wrong measurement', async () => {
    const policy = policyFor(h.root, new Uint8Array(48).fill(0x22));
    expect(await codeOf(connect(h.endpoint, { policy }))).toBe('POLICY_MEASUREMENT_MISMATCH');
  });

  it('rejects an executor whose root the policy does not pin', async () => {
    const other = await startExecutor();
    try {
      expect(await codeOf(connect(other.endpoint, { policy: h.policy }))).toMatch(/^POLICY_/);
    } finally {
      await other.stop();
    }
  });

  it('rejects debug evidence', async () => {
    const dbg = await startExecutor({ root: h.root, debug: true });
    try {
      expect(await codeOf(connect(dbg.endpoint, { policy: h.policy }))).toBe('POLICY_DEBUG');
    } finally {
      await dbg.stop();
    }
  });

  it('rejects evidence whose REPORTDATA does not bind the presented keys', async () => {
    const { SimulatedQuoteProvider } = await import('../enclave-host/quote/simulated.js');
    const inner = new SimulatedQuoteProvider(h.root, {
      measurements: { mrTd: new Uint8Array(48).fill(0x11) },
    });
    const liar = await startExecutor({
      root: h.root,
      quotes: { tee: 'simulated', getEvidence: (rd) => inner.getEvidence(rd.map((b) => b ^ 1)) },
    });
    try {
      expect(await codeOf(connect(liar.endpoint, { policy: h.policy }))).toBe('REPORT_DATA_MISMATCH');
    } finally {
      await liar.stop();
    }
  });

  it('rejects a fresh-mode session that presents the standing (normal-mode) quote', async () => {
    const relay = await helloRelay(h.endpoint, async (sh) => {
      const ev = await new Promise<Buffer>((res, rej) =>
        relay.up.GetEvidence({}, (e, r) => (e || !r ? rej(e) : res(r.evidenceBundle))),
      );
      return { ...sh, evidenceBundle: ev };
    });
    try {
      expect(await codeOf(connect(relay.endpoint, { policy: h.policy, mode: 'fresh' }))).toBe(
        'REPORT_DATA_MISMATCH',
      );
    } finally {
      relay.stop();
    }
  });

  it('rejects a bad transcript signature', async () => {
    const relay = await helloRelay(h.endpoint, (sh) => {
      const sig = Buffer.from(sh.transcriptSignature);
      sig[10]! ^= 0xff;
      return { ...sh, transcriptSignature: sig };
    });
    try {
      expect(await codeOf(connect(relay.endpoint, { policy: h.policy }))).toBe(
        'TRANSCRIPT_SIGNATURE_INVALID',
      );
    } finally {
      relay.stop();
    }
  });

  it('rejects a relayed session that swaps the server ephemeral key', async () => {
    const { generateX25519 } = await import('../protocol/x25519.js');
    const mitm = generateX25519();
    const relay = await helloRelay(h.endpoint, (sh) => ({
      ...sh,
      serverEphemeral: Buffer.from(mitm.publicKey),
    }));
    try {
      expect(await codeOf(connect(relay.endpoint, { policy: h.policy }))).toBe(
        'TRANSCRIPT_SIGNATURE_INVALID',
      );
    } finally {
      relay.stop();
    }
  });

  it('rejects swapped lease terms (covered by the signature)', async () => {
    const relay = await helloRelay(h.endpoint, (sh) => ({
      ...sh,
      terms: { ...sh.terms!, pricePerCall: '0' === sh.terms!.pricePerCall ? '1' : '0' },
    }));
    try {
      expect(await codeOf(connect(relay.endpoint, { policy: h.policy }))).toBe(
        'TRANSCRIPT_SIGNATURE_INVALID',
      );
    } finally {
      relay.stop();
    }
  });

  it('refuses a replayed ClientHello and keeps serving', async () => {
    const client = rawClient(h.endpoint);
    const hello = startHandshake('normal');
    const sh = await openSessionRaw(client, hello);
    await finishHandshake(hello, sh, { policy: h.policy, mode: 'normal', now: new Date() });
    const again = await openSessionRaw(client, hello).then(
      () => 'ACCEPTED',
      (e: grpc.ServiceError) => `${e.code} ${e.details}`,
    );
    expect(again).toBe(`${grpc.status.ALREADY_EXISTS} HANDSHAKE_REPLAYED: this ClientHello was already used`);
    const s = await connect(h.endpoint, { policy: h.policy });
    await s.close();
    client.close();
  });

  it('a standalone executor refuses a lease other than its own at the handshake', async () => {
    expect(await codeOf(connect(h.endpoint, { policy: h.policy, leaseId: h.executor.leaseId + 1n }))).toBe(
      'WRONG_LEASE',
    );
  });

  it('rejects an EIP-712 domain other than the one pinned, and accepts the pinned one', async () => {
    const zero = '0x0000000000000000000000000000000000000000';
    const other = '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0';
    expect(
      await codeOf(
        connect(h.endpoint, { policy: h.policy, domain: { chainId: 31337n, verifyingContract: other } }),
      ),
    ).toBe('TERMS_MISMATCH');
    expect(
      await codeOf(
        connect(h.endpoint, { policy: h.policy, domain: { chainId: 1n, verifyingContract: zero } }),
      ),
    ).toBe('TERMS_MISMATCH');
    const s = await connect(h.endpoint, {
      policy: h.policy,
      domain: { chainId: 31337n, verifyingContract: zero },
    });
    await s.close();
  });

  it('caps open sessions and expires them; the SDK re-opens an expired session', async () => {
    const small = await startExecutor({ root: h.root, maxSessions: 2, sessionTtlMs: 400 });
    try {
      const a = await connect(small.endpoint, { policy: small.policy });
      const b = await connect(small.endpoint, { policy: small.policy });
      expect(await codeOf(connect(small.endpoint, { policy: small.policy }))).toBe('SESSION_LIMIT');
      const fn = await a.deploy(await buildExample('echo'));
      await new Promise((r) => setTimeout(r, 500));
      // Expired on the executor: the SDK opens a new attested session and retries.
      const r = await a.invoke(fn, new Uint8Array([1, 2, 3]), { wallet: Wallet.createRandom() });
      expect([...r.output]).toEqual([1, 2, 3]);
      await a.close();
      await b.close();
    } finally {
      await small.stop();
    }
  });

  it('publishes its keys and standing evidence without a session', async () => {
    const client = rawClient(h.endpoint);
    const ev = await new Promise<{ keys: { identityAddress: string } | null; tee: string }>((res, rej) =>
      client.GetEvidence({}, (e, r) => (e || !r ? rej(e) : res(r))),
    );
    expect(ev.tee).toBe('TEE_TYPE_SIMULATED');
    expect(ev.keys?.identityAddress).toBe(h.executor.identity.identityAddress);
    expect(toHex(h.root.keyHash)).toHaveLength(64);
    client.close();
  });

  it('serves grpc.health.v1', async () => {
    const { health } = loadProtos();
    const c = new health.grpc.health.v1.Health(h.endpoint, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<string>((res) =>
        c.Check({ service }, (e, r) => res(e ? `error ${e.code}` : String(r?.status))),
      );
    expect(await check('')).toBe('SERVING');
    expect(await check('defaas.executor.v1.Executor')).toBe('SERVING');
    expect(await check('nope')).toBe(`error ${grpc.status.NOT_FOUND}`);
    c.close();
  });
});
