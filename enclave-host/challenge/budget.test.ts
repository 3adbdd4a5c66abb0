import { describe, expect, it } from 'vitest';
import { isSessionError } from '../../protocol/errors.js';
import { allowListAuthority } from './authority.js';
import { ChallengeBudget, memberShare } from './budget.js';
import { KeptResults } from './kept-results.js';

const m = { epoch: 1n, epochEndsAt: 10_000, epochSeconds: 3600, committeeSize: 3, claimedGflops: 1 };
const code = (f: () => void) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return isSessionError(e) ? e.code : String(e);
  }
};

describe('challenge budget', () => {
  it('is 0.02 · epochSeconds · claimedGflops · 1e9 / committeeSize per member', () => {
    expect(memberShare(m)).toBeCloseTo((0.02 * 3600 * 1e9) / 3);
  });

  it('refuses a repeated id and a challenge over the share, saying what is left', () => {
    const b = new ChallengeBudget({ now: () => 0 });
    const small = { ...m, epochSeconds: 3, claimedGflops: 0.0001, committeeSize: 1 }; // 6,000 FLOPs
    expect(code(() => b.admit(0n, 'w', small, 'a', 10))).toBe('ok'); // 2,000
    expect(code(() => b.admit(0n, 'w', small, 'a', 1))).toBe('CHALLENGE_REPLAYED');
    expect(code(() => b.admit(0n, 'w', small, 'b', 13))).toBe('CHALLENGE_BUDGET'); // 4,394 > 4,000
    expect(code(() => b.admit(0n, 'v', small, 'b', 13))).toBe('ok'); // another member's share
    try {
      b.admit(0n, 'w', small, 'c', 13);
    } catch (e) {
      expect(isSessionError(e) && e.info).toMatchObject({
        leftFlops: expect.any(Number),
        epochEndsAt: 10_000,
      });
    }
    // The next epoch starts afresh.
    expect(code(() => b.admit(0n, 'w', { ...small, epoch: 2n }, 'a', 10))).toBe('ok');
  });

  it('bounds the ids per witness per epoch and the entries in total', () => {
    const b = new ChallengeBudget({ now: () => 0, maxIdsPerWitness: 3, maxEntries: 2 });
    for (const id of ['1', '2', '3']) b.admit(0n, 'w', m, id, 1);
    expect(code(() => b.admit(0n, 'w', m, '4', 1))).toBe('CHALLENGE_BUDGET');
    b.admit(0n, 'x', m, '1', 1);
    b.admit(0n, 'y', m, '1', 1);
    expect(b.size).toBe(2);
  });

  it('drops the entries of ended epochs', () => {
    let t = 0;
    const b = new ChallengeBudget({ now: () => t });
    b.admit(0n, 'w', m, '1', 1);
    t = 10_000;
    b.admit(0n, 'x', { ...m, epoch: 2n, epochEndsAt: 20_000 }, '1', 1);
    expect(b.size).toBe(1);
  });
});

describe('kept results', () => {
  it('keeps one result per witness, opened only from its session, for a bounded time', () => {
    let t = 0;
    const k = new KeptResults({ now: () => t, ttlMs: 100 });
    k.keep('s1', 'w', 'id1', 1, Int32Array.of(5));
    expect(k.get('s1', 'id1')?.c[0]).toBe(5);
    expect(k.get('s2', 'id1')).toBeUndefined();
    k.keep('s1', 'w', 'id2', 1, Int32Array.of(6));
    expect(k.get('s1', 'id1')).toBeUndefined();
    expect(k.size).toBe(1);
    t = 100;
    expect(k.get('s1', 'id2')).toBeUndefined();
  });

  it('bounds the total bytes and entries, dropping the oldest', () => {
    const k = new KeptResults({ now: () => 0, maxBytes: 8, maxEntries: 10 });
    k.keep('s', 'a', '1', 1, Int32Array.of(1));
    k.keep('s', 'b', '1', 1, Int32Array.of(2));
    k.keep('s', 'c', '1', 1, Int32Array.of(3));
    expect(k.keptBytes).toBe(8);
    expect(k.get('s', '1')).toBeDefined();
    const e = new KeptResults({ now: () => 0, maxEntries: 2 });
    for (const w of ['a', 'b', 'c']) e.keep('s', w, w, 1, Int32Array.of(1));
    expect(e.size).toBe(2);
    expect(e.get('s', 'a')).toBeUndefined();
  });
});

describe('allow-list authority', () => {
  it('admits the listed witnesses on lease 0 only, with fixed epochs', async () => {
    const a = allowListAuthority({
      witnesses: ['0x00000000000000000000000000000000000000AA'],
      claimedGflops: 2,
      epochSeconds: 10,
      now: () => 25_000,
    });
    const w = '0x00000000000000000000000000000000000000aa';
    expect(await a({ leaseId: 0n, witness: w })).toEqual({
      epoch: 2n,
      epochEndsAt: 30_000,
      epochSeconds: 10,
      committeeSize: 1,
      claimedGflops: 2,
    });
    expect(await a({ leaseId: 1n, witness: w })).toBeUndefined();
    expect(await a({ leaseId: 0n, witness: '0x00000000000000000000000000000000000000ab' })).toBeUndefined();
  });
});
