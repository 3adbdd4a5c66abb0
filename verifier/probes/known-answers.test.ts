import { describe, expect, it } from 'vitest';
import { callOutputHash } from '../../protocol/call-records.js';
import { isVerifierError } from '../errors.js';
import { encodeKnownAnswers, knownAnswersOf, parseKnownAnswers } from './known-answers.js';

const FN = 'ab'.repeat(32);
const te = new TextEncoder();

describe('known answers', () => {
  it('round-trip through the file format', () => {
    const k = knownAnswersOf(7n, FN, [
      { input: te.encode('hello'), output: te.encode('HELLO') },
      { input: new Uint8Array(0), output: new Uint8Array([0, 255]) },
    ]);
    expect(k.answers[0]!.outputHash).toBe(callOutputHash(te.encode('HELLO')));
    const back = parseKnownAnswers(encodeKnownAnswers(k));
    expect(back).toEqual(k);
  });

  it('refuse anything unexpected, with KNOWN_ANSWERS_MALFORMED', () => {
    const good = JSON.parse(
      encodeKnownAnswers(knownAnswersOf(1n, FN, [{ input: te.encode('x'), output: te.encode('y') }])),
    );
    const variants: unknown[] = [
      'not json',
      [],
      { ...good, version: 2 },
      { ...good, leaseId: '-1' },
      { ...good, leaseId: '01' },
      { ...good, leaseId: (1n << 256n).toString() },
      { ...good, functionId: FN.toUpperCase() },
      { ...good, answers: [] },
      { ...good, answers: [{ input: '%%%%', outputHash: good.answers[0].outputHash }] },
      { ...good, answers: [{ input: 'eA==', outputHash: '0x12' }] },
      { ...good, answers: [null] },
    ];
    for (const v of variants) {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      let caught: unknown;
      try {
        parseKnownAnswers(text);
      } catch (e) {
        caught = e;
      }
      expect(isVerifierError(caught, 'KNOWN_ANSWERS_MALFORMED'), text).toBe(true);
    }
  });
});
