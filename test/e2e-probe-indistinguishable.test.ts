import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionProbeChannel } from '../cli/probe-channel.js';
import { buildExample } from '../examples/build-example.js';
import type { SealedFrame__Output } from '../proto/gen/defaas/executor/v1/SealedFrame.js';
import { connect, type FunctionHandle, type Session } from '../sdk/index.js';
import { knownAnswersOf } from '../verifier/probes/known-answers.js';
import { type ProbeClock, runProbes, SYSTEM_CLOCK } from '../verifier/probes/runner.js';
import { Prng } from '../verifier/sim/prng.js';
import { type Harness, type Relay, startExecutor, startRelay } from './e2e-harness.js';

/*
 * Can the provider's host tell hidden probes from customer calls? A recording proxy on the path sees,
 * per call, the RPC method, the sealed request and response sizes and the timing; it does not know
 * which client is a witness. Two sessions call the same function at Poisson times with the same
 * mean rate: the customer with its own inputs, the witness with known answers the customer picked
 * from its inputs at deploy time. The proxy is given the labels of half the calls to train on and
 * classifies the other half (and the other way round): its best accuracy must stay at chance
 * (≤ 55 %). A control run where the probes' inputs come from another size range than the
 * customer's shows the same classifier separates what differs.
 */

/**
 * Known answers the customer draws from its own inputs: their sizes are a sample of its traffic's,
 * off by O(1/√m) per size bucket, and that difference is what a classifier can exploit (24 answers
 * gave a size-threshold classifier 56 %; docs/witness.md).
 */
const KNOWN_ANSWERS = 256;

interface Call {
  readonly session: string;
  readonly method: string;
  readonly request: number;
  readonly response: number;
  readonly latencyMs: number;
  readonly at: number;
}

/** A relay that forwards everything and records each unary call as the host sees it. */
function recordingRelay(upstream: string, calls: Call[]): Promise<Relay> {
  return startRelay(upstream, {}, undefined, (method, request, response, ms) => {
    const req = request as Partial<SealedFrame__Output>;
    // Sealed frames only (not the handshake or the evidence request).
    if (!(req.sessionId instanceof Uint8Array) || !(req.ciphertext instanceof Uint8Array)) return;
    calls.push({
      session: Buffer.from(req.sessionId).toString('hex'),
      method,
      request: req.ciphertext.length,
      response: (response as SealedFrame__Output | undefined)?.ciphertext?.length ?? 0,
      latencyMs: ms,
      at: performance.now() - ms,
    });
  });
}

/** A seeded uniform generator in [0, 1). */
function rng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.next();
}

/** A customer input: printable bytes, length log-uniform in [min, max). */
function input(random: () => number, min: number, max: number): Uint8Array {
  const n = Math.floor(Math.exp(Math.log(min) + random() * (Math.log(max) - Math.log(min))));
  return Uint8Array.from({ length: n }, () => 97 + Math.floor(random() * 26));
}

type Features = readonly number[];
const features = (c: Call, prevAt: number | undefined): Features => [
  Math.log2(c.request),
  Math.log2(Math.max(1, c.response)),
  c.latencyMs,
  prevAt === undefined ? 0 : c.at - prevAt,
];

/** Best single-feature threshold on `train`, applied to `test`: accuracy. */
function stumpAccuracy(train: [Features, boolean][], test: [Features, boolean][]): number {
  let best = { f: 0, t: Number.NEGATIVE_INFINITY, above: true, acc: 0 };
  const dims = train[0]![0].length;
  for (let f = 0; f < dims; f++) {
    const values = [...new Set(train.map(([x]) => x[f]!))].sort((a, b) => a - b);
    for (const t of values)
      for (const above of [true, false]) {
        const acc = train.filter(([x, y]) => (x[f]! > t === above) === y).length / train.length;
        if (acc > best.acc) best = { f, t, above, acc };
      }
  }
  return test.filter(([x, y]) => (x[best.f]! > best.t === best.above) === y).length / test.length;
}

/** k nearest neighbours (standardised features, majority of k = 7) trained on `train`: accuracy on `test`. */
function knnAccuracy(train: [Features, boolean][], test: [Features, boolean][]): number {
  const dims = train[0]![0].length;
  const mean = Array.from({ length: dims }, (_, f) => train.reduce((s, [x]) => s + x[f]!, 0) / train.length);
  const sd = Array.from({ length: dims }, (_, f) =>
    Math.max(1e-9, Math.sqrt(train.reduce((s, [x]) => s + (x[f]! - mean[f]!) ** 2, 0) / train.length)),
  );
  const z = (x: Features) => x.map((v, f) => (v - mean[f]!) / sd[f]!);
  const zt = train.map(([x, y]) => [z(x), y] as const);
  let right = 0;
  for (const [x, y] of test) {
    const q = z(x);
    const near = zt
      .map(([p, label]) => [p.reduce((s, v, f) => s + (v - q[f]!) ** 2, 0), label] as const)
      .sort((a, b) => a[0] - b[0])
      .slice(0, 7);
    const votes = near.filter(([, label]) => label).length;
    if (votes > 3 === y) right++;
  }
  return right / test.length;
}

/** The classifiers' best accuracy, two-fold (each half trains for the other), on a balanced sample. */
function bestAccuracy(calls: readonly Call[], witnessSession: string): number {
  const prev = new Map<string, number>();
  const labelled = calls.map((c): [Features, boolean] => {
    const f = features(c, prev.get(c.session));
    prev.set(c.session, c.at);
    return [f, c.session === witnessSession];
  });
  const probes = labelled.filter(([, y]) => y);
  const others = labelled.filter(([, y]) => !y);
  const n = Math.min(probes.length, others.length);
  // Interleaved, so each half has as many of each.
  const balanced = Array.from({ length: n }, (_, i) => [probes[i]!, others[i]!]).flat();
  const a = balanced.filter((_, i) => i % 4 < 2);
  const b = balanced.filter((_, i) => i % 4 >= 2);
  const fold = (f: typeof stumpAccuracy) => (f(a, b) + f(b, a)) / 2;
  return Math.max(fold(stumpAccuracy), fold(knnAccuracy));
}

describe('hidden probes, as the host sees them', () => {
  let h: Harness;
  let relay: Relay;
  let customer: Session;
  let witness: Session;
  let fn: FunctionHandle;
  const calls: Call[] = [];
  const customerWallet = Wallet.createRandom();
  const witnessWallet = Wallet.createRandom();

  beforeAll(async () => {
    h = await startExecutor();
    relay = await recordingRelay(h.endpoint, calls);
    customer = await connect(relay.endpoint, { policy: h.policy });
    witness = await connect(relay.endpoint, { policy: h.policy });
    fn = await customer.deploy(await buildExample('transform'));
  });
  afterAll(async () => {
    await witness?.close();
    await customer?.close();
    relay?.stop();
    await h?.stop();
  });

  /** One session's Poisson-timed calls at `meanMs`, from a seeded clock. */
  const seeded = (seed: number): ProbeClock => ({ ...SYSTEM_CLOCK, random: rng(seed) });

  async function mixed(count: number, probeSizes: readonly [number, number]): Promise<number> {
    calls.length = 0;
    const random = rng(1);
    // The customer picked its known answers from its own inputs at deploy time.
    const pairs = [];
    for (let i = 0; i < KNOWN_ANSWERS; i++) {
      const x = input(random, probeSizes[0], probeSizes[1]);
      pairs.push({ input: x, output: (await customer.invoke(fn, x, { wallet: customerWallet })).output });
    }
    const known = knownAnswersOf(0n, fn.id, pairs);
    calls.length = 0;
    const customerCalls = (async () => {
      const clock = seeded(2);
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        if (i > 0) await clock.sleep(-Math.log(1 - clock.random()) * 8);
        pending.push(customer.invoke(fn, input(random, 8, 3000), { wallet: customerWallet }));
      }
      await Promise.all(pending);
    })();
    const probes = runProbes(
      sessionProbeChannel(witness, fn, witnessWallet),
      known,
      { count, meanIntervalMs: 8, timeoutMs: 10_000 },
      seeded(3),
    );
    const [obs] = await Promise.all([probes, customerCalls]);
    expect(obs.every((o) => o.outcome === 'ok')).toBe(true);
    const witnessSession = Buffer.from(witness.accepted.sessionId).toString('hex');
    // The calls are the Invokes; a session's opening (handshake, Sync) happens once per session.
    const invokes = calls.filter((c) => c.method === 'Invoke');
    expect(invokes.filter((c) => c.session === witnessSession).length).toBe(count);
    expect(invokes.length).toBe(2 * count);
    return bestAccuracy(invokes, witnessSession);
  }

  // 2,000 calls rather than 1,000: the accuracy's standard error at chance is then 1.1 points, so
  // the 55 % bound is not within the noise of a classifier that has nothing to go on.
  it('cannot tell probes from customer calls better than chance (≤ 55 % on 2,000 mixed calls)', async () => {
    const accuracy = await mixed(1000, [8, 3000]);
    expect(accuracy, `classifier accuracy ${(accuracy * 100).toFixed(1)} %`).toBeLessThanOrEqual(0.55);
  }, 60_000);

  it('control: probes whose inputs are larger than any customer input are told apart', async () => {
    const accuracy = await mixed(150, [3100, 6000]);
    expect(accuracy, `classifier accuracy ${(accuracy * 100).toFixed(1)} %`).toBeGreaterThan(0.9);
  }, 60_000);
});
