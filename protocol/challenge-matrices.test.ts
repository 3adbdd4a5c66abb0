import { shake256 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import { expandChallengeMatrices, MAX_CHALLENGE_N, maxProductEntry } from './challenge-matrices.js';

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('challenge matrices', () => {
  it('expand A and B as SHAKE256(seed ‖ "A") and SHAKE256(seed ‖ "B"), one byte per entry', () => {
    const n = 17;
    const { a, b } = expandChallengeMatrices(seed, n);
    // @noble/hashes' SHAKE256 as an implementation independent of node:crypto's
    const ref = (label: string) =>
      shake256(Uint8Array.from([...seed, label.charCodeAt(0)]), { dkLen: n * n });
    expect(a).toEqual(ref('A'));
    expect(b).toEqual(ref('B'));
    expect(a).not.toEqual(b);
    expect(expandChallengeMatrices(seed, n).a).toEqual(a); // deterministic
  });

  it('refuses a seed that is not 32 bytes and sizes outside 1..MAX_CHALLENGE_N', () => {
    expect(() => expandChallengeMatrices(new Uint8Array(31), 4)).toThrow(/32 bytes/);
    for (const n of [0, -1, 1.5, MAX_CHALLENGE_N + 1])
      expect(() => expandChallengeMatrices(seed, n)).toThrow(/n must/);
  });

  it('bounds a product entry by n·255²', () => {
    expect(maxProductEntry(1)).toBe(65_025);
    expect(maxProductEntry(MAX_CHALLENGE_N)).toBeLessThan(2 ** 28);
  });
});
