import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMatmulEngine } from '../enclave-host/challenge/engine.js';
import { allowListAuthority, type MatmulEngine } from '../enclave-host/executor.js';
import {
  CHALLENGE_CLASS_CPU,
  challengeCommitmentSigner,
  commitmentFromWire,
  signChallengeRequest,
} from '../protocol/challenge.js';
import { expandChallengeMatrices } from '../protocol/challenge-matrices.js';
import { connect, DefaasError, type Session } from '../sdk/index.js';
import { sessionChallengeChannel } from '../sdk/session/challenge.js';
import { SecureChannel } from '../sdk/session/channel.js';
import { runChallenge } from '../verifier/challenge.js';
import { buildEvidence, serializeEvidence, verifyEvidence } from '../verifier/evidence.js';
import { type Harness, type Key, newKey, rawSession, startExecutor } from './e2e-harness.js';

/*
 * Capacity challenges against a real executor over gRPC on 127.0.0.1 (docs/witness.md, "Capacity
 * challenges"): an honest executor passes at a generous claimed rate; a lying engine is caught as
 * `wrong` and its evidence bundle proves fraud offline; refusals are typed and sealed.
 */

const CLAIM = 0.05; // GFLOP/s: generous for the naive engine at n ≤ 256

/**
 * An engine that returns a product with one entry changed while `lie` is set, and that waits for
 * `hold()` (when it gives a promise) before computing.
 */
function lyingEngine(
  lie: () => boolean,
  hold: () => Promise<void> | undefined = () => undefined,
): MatmulEngine {
  let inner: Promise<MatmulEngine> | undefined;
  return {
    async multiply(n, a, b) {
      await hold();
      inner ??= startMatmulEngine();
      const c = await (await inner).multiply(n, a, b);
      if (lie()) c[Math.floor((n * n) / 2)]! += 1;
      return c;
    },
    async close() {
      await (await inner)?.close();
    },
  };
}

describe('capacity challenges against a real executor', () => {
  let h: Harness;
  let session: Session;
  let lie = false;
  /** While set, the engine calls it and waits for its promise before computing. */
  let held: (() => Promise<void>) | undefined;
  const witness: Key = newKey();
  const other: Key = newKey();
  const stranger: Key = newKey();

  beforeAll(async () => {
    h = await startExecutor({
      challengeAuthority: allowListAuthority({
        witnesses: [witness.address, other.address],
        claimedGflops: CLAIM,
        epochSeconds: 3600,
      }),
      challengeEngine: lyingEngine(
        () => lie,
        () => held?.(),
      ),
    });
    session = await connect(h.endpoint, { policy: h.policy });
  });
  afterAll(async () => {
    await session?.close();
    await h?.stop();
  });

  const run = (n: number, key = witness, leaseId = 0n) =>
    runChallenge(sessionChallengeChannel(session), {
      witnessKey: key.privateKey,
      leaseId,
      n,
      claimedGflops: CLAIM,
    });

  it('an honest executor passes at n = 128, its commitment signed by the enclave', async () => {
    const r = await run(128);
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.commitMs!).toBeLessThan(r.deadlineMs);
    expect(r.commitment!.witness).toBe(witness.address);
    expect(r.evidence).toBeUndefined();
  });

  it('a lying engine is caught as wrong, and its bundle proves fraud offline; tampering proves nothing', async () => {
    lie = true;
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run(64);
    } finally {
      lie = false;
    }
    expect(r.verdict).toBe('wrong');
    const text = serializeEvidence(r.evidence!);
    const v = verifyEvidence(text);
    expect(v).toMatchObject({ result: 'fraud-proven', executor: h.executor.identity.identityAddress });
    // The bundle with the right entry restored: the hash does not match.
    const b = JSON.parse(text);
    const c = Buffer.from(b.opened.c, 'base64');
    const at = Math.floor((64 * 64) / 2) * 4;
    c.writeInt32LE(c.readInt32LE(at) - 1, at);
    expect(
      verifyEvidence(JSON.stringify({ ...b, opened: { kind: 'full', c: c.toString('base64') } })),
    ).toMatchObject({
      result: 'rejected',
      reason: 'hash-mismatch',
    });
    // Another executor named: the signature does not recover to it.
    expect(
      verifyEvidence(JSON.stringify({ ...b, executor: { ...b.executor, identityAddress: other.address } })),
    ).toMatchObject({ result: 'rejected', reason: 'signature-invalid' });
    expect(verifyEvidence(JSON.stringify({ ...b, commitment: { ...b.commitment, n: 63 } }))).toMatchObject({
      result: 'rejected',
    });
    expect(verifyEvidence(JSON.stringify({ ...b, extra: 1 }))).toMatchObject({ reason: 'malformed' });
    expect(verifyEvidence(JSON.stringify({ ...b, format: 'v0' }))).toMatchObject({
      reason: 'unsupported-format',
    });
    expect(verifyEvidence('{')).toMatchObject({ reason: 'malformed' });
  });

  it('a bundle made from an honest run proves nothing (product-correct)', async () => {
    const r = await run(32);
    expect(r.verdict).toBe('pass');
    const c = r.commitment!;
    const { a, b } = expandChallengeMatrices(c.seed, c.n);
    const product = await (await startMatmulEngine()).multiply(c.n, a, b);
    const made = (c2: Int32Array) =>
      serializeEvidence(
        buildEvidence({
          executor: {
            identityAddress: h.executor.identity.identityAddress,
            evidenceHash: new Uint8Array(32),
          },
          domain: session.domain,
          commitment: c,
          opened: { kind: 'full', c: c2 },
          verdict: { verdict: 'wrong', reason: 'made up', rttP95Ms: 0, deadlineMs: 0, commitMs: 0, at: '' },
        }),
      );
    expect(verifyEvidence(made(product))).toMatchObject({ result: 'rejected', reason: 'product-correct' });
    // A witness that alters the honest product to accuse the executor breaks the signed hash.
    product[5]! += 1;
    expect(verifyEvidence(made(product))).toMatchObject({ result: 'rejected', reason: 'hash-mismatch' });
  });

  it('an opening the executor refuses is refused (unverified); an opening of other rows is wrong', async () => {
    const ch = sessionChallengeChannel(session);
    const opts = { witnessKey: witness.privateKey, leaseId: 0n, n: 16, claimedGflops: CLAIM };
    const dropped = await runChallenge(
      {
        ...ch,
        rtt: () => ch.rtt(),
        challenge: (r) => ch.challenge(r),
        open: (r) => ch.open({ ...r, id: randomBytes(32) }),
      },
      opts,
    );
    expect(dropped).toMatchObject({ verdict: 'refused', code: 'CHALLENGE_UNKNOWN' });
    const shifted = await runChallenge(
      {
        ...ch,
        rtt: () => ch.rtt(),
        challenge: (r) => ch.challenge(r),
        open: async (r) => ({ ...(await ch.open(r)), firstRow: (r.firstRow ?? 0) + 1 }),
      },
      opts,
    );
    expect(shifted.verdict).toBe('wrong');
    expect(verifyEvidence(serializeEvidence(shifted.evidence!)).result).toBe('rejected');
  });

  const send = (req: Record<string, unknown>) =>
    session.challengeRequest({ challenge: req }).then(
      (r) => ({ ok: r.challenge }),
      (e: unknown) => ({
        code: e instanceof DefaasError && e.origin === 'sealed' ? e.code : `unsealed ${e}`,
      }),
    );
  const request = (
    key: Key,
    o: { n?: number; cls?: number; id?: Uint8Array; leaseId?: bigint; proofKey?: Key } = {},
  ) => {
    const f = {
      leaseId: o.leaseId ?? 0n,
      id: o.id ?? new Uint8Array(randomBytes(32)),
      seed: new Uint8Array(randomBytes(32)),
      n: o.n ?? 8,
      cls: o.cls ?? CHALLENGE_CLASS_CPU,
    };
    const proof = signChallengeRequest((o.proofKey ?? key).privateKey, session.accepted.sessionId, f);
    return {
      fields: f,
      wire: {
        leaseId: f.leaseId.toString(),
        witness: key.address,
        witnessProof: Buffer.from(proof),
        id: Buffer.from(f.id),
        seed: Buffer.from(f.seed),
        n: f.n,
        class: f.cls === CHALLENGE_CLASS_CPU ? 'CHALLENGE_CLASS_CPU' : 'CHALLENGE_CLASS_UNSPECIFIED',
      },
    };
  };

  it('computes one product at a time: another meanwhile is CHALLENGE_BUSY and spends nothing (its id stays fresh)', async () => {
    let entered!: () => void;
    const inEngine = new Promise<void>((r) => {
      entered = r;
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    held = () => {
      entered();
      return gate;
    };
    try {
      const first = send(request(witness, { n: 16 }).wire);
      await inEngine;
      const second = request(other, { n: 16 });
      expect(await send(second.wire)).toEqual({ code: 'CHALLENGE_BUSY' });
      held = undefined;
      release();
      expect(await first).toHaveProperty('ok');
      // The refused challenge took no id and no budget: the same request is served now.
      expect(await send(second.wire)).toHaveProperty('ok');
    } finally {
      held = undefined;
      release();
    }
  });

  it('refuses non-members, a proof by another key, a replayed id, bad sizes and classes, sealed and typed', async () => {
    expect(await send(request(stranger).wire)).toEqual({ code: 'CHALLENGE_NOT_MEMBER' });
    expect(await send(request(stranger, { proofKey: witness }).wire)).toEqual({
      code: 'CHALLENGE_NOT_MEMBER',
    });
    expect(await send({ ...request(witness).wire, witness: other.address })).toEqual({
      code: 'CHALLENGE_NOT_MEMBER',
    });
    expect(await send(request(witness, { n: 0 }).wire)).toEqual({ code: 'CHALLENGE_MALFORMED' });
    expect(await send(request(witness, { n: 5000 }).wire)).toEqual({ code: 'CHALLENGE_MALFORMED' });
    expect(await send(request(witness, { cls: 0 }).wire)).toEqual({ code: 'CHALLENGE_MALFORMED' });
    expect(await send(request(witness, { leaseId: 12345n }).wire)).toEqual({ code: 'WRONG_LEASE' });
    const id = new Uint8Array(randomBytes(32));
    expect(await send(request(witness, { id }).wire)).toHaveProperty('ok');
    expect(await send(request(witness, { id }).wire)).toEqual({ code: 'CHALLENGE_REPLAYED' });
    // A proof made for another session does not serve on this one.
    const r = request(witness);
    const foreign = signChallengeRequest(witness.privateKey, new Uint8Array(16), r.fields);
    expect(await send({ ...r.wire, witnessProof: Buffer.from(foreign) })).toEqual({
      code: 'CHALLENGE_NOT_MEMBER',
    });
  });

  it('refuses a challenge sent on InvokeStream (challenges travel on the Challenge RPC only)', async () => {
    const raw = await rawSession(h.endpoint, h.policy);
    const stream = new SecureChannel(raw.client, raw.accepted, 10_000, 'stream');
    try {
      const err = await stream
        .request('challenge', { challengeOpen: { id: randomBytes(32), firstRow: 0, rowCount: 1 } })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(DefaasError);
      expect(err).toMatchObject({ code: 'REQUEST_MALFORMED', origin: 'sealed' });
    } finally {
      stream.close();
      raw.client.close();
    }
  });

  it('refuses opening an unknown id, and an opening from another session', async () => {
    const open = (s: Session, id: Uint8Array) =>
      s.challengeRequest({ challengeOpen: { id: Buffer.from(id), firstRow: 0, rowCount: 1 } }).then(
        () => 'opened',
        (e: unknown) => (e instanceof DefaasError && e.origin === 'sealed' ? e.code : `unsealed ${e}`),
      );
    expect(await open(session, randomBytes(32))).toBe('CHALLENGE_UNKNOWN');
    const r = request(witness);
    expect(await send(r.wire)).toHaveProperty('ok');
    expect(await open(session, r.fields.id)).toBe('opened');
    const s2 = await connect(h.endpoint, { policy: h.policy });
    try {
      expect(await open(s2, r.fields.id)).toBe('CHALLENGE_UNKNOWN');
    } finally {
      await s2.close();
    }
  });

  it('a witness cannot choose what the executor signs: the signature binds seed, n, id, witness and lease', async () => {
    const r = request(witness);
    const sent = (await send(r.wire)) as { ok: never };
    const c = commitmentFromWire(sent.ok);
    const enclave = h.executor.identity.identityAddress;
    expect(challengeCommitmentSigner(session.domain, c, c.signature)).toBe(enclave);
    for (const changed of [
      { ...c, seed: new Uint8Array(32) },
      { ...c, n: 9 },
      { ...c, id: new Uint8Array(32) },
      { ...c, witness: other.address },
      { ...c, leaseId: 1n },
      { ...c, resultHash: new Uint8Array(32).fill(7) },
    ])
      expect(challengeCommitmentSigner(session.domain, changed, c.signature)).not.toBe(enclave);
  });

  it('refuses a challenge over the witness share of the budget, saying what is left', async () => {
    // 0.02 · 3600 s · 0.05 GFLOP/s / 2 members = 1.8e9 FLOPs; n = 1000 costs 2e9.
    const r = await send(request(other, { n: 1000 }).wire);
    expect(r).toEqual({ code: 'CHALLENGE_BUDGET' });
  });
});

describe('capacity challenges in rows mode (n > 1024)', () => {
  let h: Harness;
  let session: Session;
  let lazy = false;
  const witness: Key = newKey();

  beforeAll(async () => {
    let inner: Promise<MatmulEngine> | undefined;
    h = await startExecutor({
      challengeAuthority: allowListAuthority({ witnesses: [witness.address], claimedGflops: 1 }),
      challengeEngine: {
        async multiply(n, a, b) {
          // The lazy engine computes nothing: a product of zeros.
          if (lazy) return new Int32Array(n * n);
          inner ??= startMatmulEngine();
          return (await inner).multiply(n, a, b);
        },
        async close() {},
      },
    });
    session = await connect(h.endpoint, { policy: h.policy });
  });
  afterAll(async () => {
    await session?.close();
    await h?.stop();
  });

  const run = () =>
    runChallenge(sessionChallengeChannel(session), {
      witnessKey: witness.privateKey,
      leaseId: 0n,
      n: 1100,
      claimedGflops: 0.2,
    });

  it('an honest executor passes with 40 rows and their Merkle paths', async () => {
    const r = await run();
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.commitment!.rowsRoot.some((x) => x !== 0)).toBe(true);
  }, 30_000);

  it('a lazy engine is caught from 40 rows, and its rows bundle proves fraud; a changed path does not', async () => {
    lazy = true;
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run();
    } finally {
      lazy = false;
    }
    expect(r.verdict, r.reason).toBe('wrong');
    const text = serializeEvidence(r.evidence!);
    expect(verifyEvidence(text)).toMatchObject({ result: 'fraud-proven' });
    const b = JSON.parse(text);
    const rows = b.opened.rows.map((x: { path: string[] }, i: number) =>
      i === 0 ? { ...x, path: [`0x${'00'.repeat(32)}`, ...x.path.slice(1)] } : x,
    );
    expect(verifyEvidence(JSON.stringify({ ...b, opened: { kind: 'rows', rows } }))).toMatchObject({
      result: 'rejected',
      reason: 'path-invalid',
    });
    expect(
      verifyEvidence(JSON.stringify({ ...b, opened: { kind: 'rows', rows: b.opened.rows.slice(1) } })),
    ).toMatchObject({ result: 'rejected', reason: 'rows-incomplete' });
  }, 30_000);
});
