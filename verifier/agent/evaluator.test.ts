import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluationInput } from './evaluation-fixture.js';
import {
  allOf,
  dangerouslyAlwaysOk,
  type Evaluation,
  type Evaluator,
  evaluateSafely,
  keepEvidence,
} from './evaluator.js';
import { reachabilityEvaluator } from './reachability.js';

const input = evaluationInput();

const fixed = (name: string, verdict: Evaluation['verdict'], byte: number): Evaluator => ({
  name,
  evaluate: async () => ({ verdict, evidenceHash: new Uint8Array(32).fill(byte), detail: name }),
});

describe('evaluators', () => {
  it('allOf reports the most severe verdict with the evidence of the part that found it', async () => {
    const e = await allOf('all', [
      fixed('a', 'Ok', 1),
      fixed('b', 'Stale', 2),
      fixed('c', 'Unavailable', 3),
    ]).evaluate(input);
    expect(e.verdict).toBe('Unavailable');
    expect(e.evidenceHash[0]).toBe(3);
    expect(e.checks?.map((c) => c.verdict)).toEqual(['Ok', 'Stale', 'Unavailable']);
    const f = await allOf('all', [fixed('a', 'Unavailable', 1), fixed('b', 'Fraud', 2)]).evaluate(input);
    expect(f.verdict).toBe('Fraud');
  });

  it('allOf over Ok parts hashes the list of their evidence (order matters)', async () => {
    const x = await allOf('all', [fixed('a', 'Ok', 1), fixed('b', 'Ok', 2)]).evaluate(input);
    const y = await allOf('all', [fixed('b', 'Ok', 2), fixed('a', 'Ok', 1)]).evaluate(input);
    expect(x.verdict).toBe('Ok');
    expect(Buffer.from(x.evidenceHash).equals(Buffer.from(y.evidenceHash))).toBe(false);
  });

  it('allOf over Ok parts keeps one record holding the evidence file of each part, hashed to the revealed hash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'defaas-allof-'));
    try {
      const filed: Evaluator = {
        name: 'filed',
        evaluate: async () => {
          const kept = await keepEvidence({ record: { seen: 'all good' } }, dir, 'part.json');
          return { verdict: 'Ok', ...kept };
        },
      };
      const e = await allOf('all', [fixed('a', 'Ok', 1), filed], dir).evaluate(input);
      const text = await readFile(e.evidencePath!, 'utf8');
      expect(createHash('sha256').update(text).digest().equals(Buffer.from(e.evidenceHash))).toBe(true);
      const record = JSON.parse(text);
      expect(record.kind).toBe('defaas/witness/all-of/v1');
      expect(record.parts.map((p: { name: string }) => p.name)).toEqual(['a', 'filed']);
      expect(record.parts[0].text).toBeUndefined();
      expect(JSON.parse(record.parts[1].text)).toEqual({ seen: 'all good' });
      expect(createHash('sha256').update(record.parts[1].text).digest('hex')).toBe(
        record.parts[1].evidenceHash.slice(2),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an evaluator that throws, or answers malformed, is Unavailable, never a crash', async () => {
    const throws: Evaluator = {
      name: 'boom',
      evaluate: async () => {
        throw new Error('probe crashed');
      },
    };
    const bad: Evaluator = {
      name: 'bad',
      evaluate: async () => ({ verdict: 'Ok', evidenceHash: new Uint8Array(3) }),
    };
    for (const ev of [throws, bad]) {
      const e = await evaluateSafely(ev, input);
      expect(e.verdict).toBe('Unavailable');
      expect(e.evaluatorError).toBeDefined();
      expect(e.evidenceHash).toHaveLength(32);
    }
    // inside a composition too
    expect((await allOf('all', [fixed('a', 'Ok', 1), throws]).evaluate(input)).verdict).toBe('Unavailable');
  });

  it('reachability: a closed port is Unavailable with the violation time of the evaluation', async () => {
    const e = await reachabilityEvaluator({ attempts: 2, spacingMs: 10, timeoutMs: 500 }).evaluate(input);
    expect(e.verdict).toBe('Unavailable');
    expect(e.violationTime).toBe(510n);
  });

  it('always-ok says so in its name', () => {
    expect(dangerouslyAlwaysOk.name).toBe('always-ok');
  });
});
