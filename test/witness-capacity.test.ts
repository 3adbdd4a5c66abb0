import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMatmulEngine } from '../enclave-host/challenge/engine.js';
import { allowListAuthority, type MatmulEngine } from '../enclave-host/executor.js';
import { connect } from '../sdk/index.js';
import { sessionChallengeChannel } from '../sdk/session/challenge.js';
import { capacityEvaluator } from '../verifier/agent/capacity.js';
import { evaluationInput } from '../verifier/agent/evaluation-fixture.js';
import type { EvaluationInput } from '../verifier/agent/evaluator.js';
import { verifyEvidence } from '../verifier/evidence.js';
import { type Harness, newKey, startExecutor } from './e2e-harness.js';

/*
 * The witness agent's capacity evaluator against a real executor: challenges during the epoch from
 * `observe`, the rest at `evaluate` while the epoch lasts; a wrong product is Fraud with a bundle that
 * proves it offline; an executor that cannot be reached misses every challenge; after the epoch's end
 * nothing new is sent and an unchecked epoch is not a violation.
 */

const witness = newKey();

function engine(lie: () => boolean, hold: () => Promise<void>): MatmulEngine {
  let inner: Promise<MatmulEngine> | undefined;
  return {
    async multiply(n, a, b) {
      inner ??= startMatmulEngine({ workers: 1 });
      await hold();
      const c = await (await inner).multiply(n, a, b);
      if (lie()) c[0]! += 1;
      return c;
    },
    async close() {
      await (await inner)?.close();
    },
  };
}

function input(endpoint: string, now: bigint, roundId: bigint): EvaluationInput {
  return evaluationInput({
    leaseId: 0n,
    roundId,
    witness: witness.address,
    sla: { epochLength: 3600n, capacityGflops: 1, committeeSize: 1, majority: 1 },
    executor: { endpoint },
    epochEnd: 3600n,
    commitDeadline: 3700n,
    revealDeadline: 3800n,
    now,
  });
}

describe('capacity evaluator', () => {
  let h: Harness;
  let dir: string;
  let lie = false;
  let gate: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-capacity-'));
    h = await startExecutor({
      challengeAuthority: allowListAuthority({
        witnesses: [witness.address],
        claimedGflops: 1,
        epochSeconds: 3600,
      }),
      challengeEngine: engine(
        () => lie,
        () => gate,
      ),
    });
  });
  afterAll(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const evaluator = (endpoint = h.endpoint) =>
    capacityEvaluator({
      n: 64,
      witnessKey: witness.privateKey,
      evidenceDir: dir,
      open: async () => {
        const s = await connect(endpoint, { policy: h.policy, deadlineMs: 2_000 });
        return { channel: sessionChallengeChannel(s), close: () => s.close() };
      },
    });

  it('an honest executor: one challenge at observe, the rest at evaluate, Ok', async () => {
    const ev = evaluator();
    ev.observe(input(h.endpoint, 100n, 1n));
    const e = await ev.evaluate(input(h.endpoint, 3500n, 1n));
    expect(e.verdict, e.detail).toBe('Ok');
    expect(e.detail).toBe('3 challenges: pass, pass, pass');
  });

  it('a wrong product is Fraud, with a bundle that proves it offline', async () => {
    lie = true;
    try {
      const e = await evaluator().evaluate(input(h.endpoint, 3500n, 2n));
      expect(e.verdict).toBe('Fraud');
      const text = await readFile(e.evidencePath!, 'utf8');
      // The file holds exactly the bytes whose SHA-256 is revealed on chain.
      expect(Buffer.from(createHash('sha256').update(text).digest())).toEqual(Buffer.from(e.evidenceHash));
      expect(verifyEvidence(text)).toMatchObject({ result: 'fraud-proven', row: 0, column: 0 });
    } finally {
      lie = false;
    }
  });

  it('a challenge the executor is too busy for is asked again, and passes once it gets its turn', async () => {
    let release!: () => void;
    gate = new Promise((r) => {
      release = r;
    });
    try {
      // Another witness's challenge holds the engine.
      const first = evaluator().evaluate(input(h.endpoint, 3500n, 5n));
      const codes: (string | undefined)[] = [];
      const second = capacityEvaluator({
        n: 64,
        perEpoch: 1,
        random: () => 0,
        witnessKey: witness.privateKey,
        evidenceDir: dir,
        open: async () => {
          const s = await connect(h.endpoint, { policy: h.policy, deadlineMs: 2_000 });
          return { channel: sessionChallengeChannel(s), close: () => s.close() };
        },
        alongside: async (_input, work) => {
          const r = await work;
          const { code } = r as { code?: string };
          codes.push(code);
          // The engine is freed once this witness has been told it is busy.
          if (code === 'CHALLENGE_BUSY') release();
          return r;
        },
      });
      const e = await second.evaluate(input(h.endpoint, 3500n, 6n));
      expect(codes[0]).toBe('CHALLENGE_BUSY');
      expect(codes.at(-1)).toBeUndefined();
      expect(e).toMatchObject({ verdict: 'Ok', detail: '1 challenge: pass' });
      await first;
    } finally {
      release();
      gate = Promise.resolve();
    }
  });

  it('an executor that cannot be reached misses every challenge: Unavailable', async () => {
    const e = await evaluator('127.0.0.1:1').evaluate(input('127.0.0.1:1', 3500n, 3n));
    expect(e.verdict).toBe('Unavailable');
    expect(e.detail).toMatch(/3 of 3 challenges missed/);
  });

  it('after the epoch ended nothing is sent, and an unchecked epoch is no violation', async () => {
    const e = await evaluator('127.0.0.1:1').evaluate(input('127.0.0.1:1', 3601n, 4n));
    expect(e.verdict).toBe('Ok');
    expect(e.detail).toMatch(/capacity not checked/);
  });
});
