import { describe, expect, it } from 'vitest';
import { Quota } from './quota.js';

describe('per-party quota', () => {
  it('gives each party its own share per window, and no burst at a window boundary', () => {
    let t = 0;
    const q = new Quota({ limit: 3, windowMs: 1000, now: () => t });
    expect([1, 2, 3, 4].map(() => q.take('a'))).toEqual([true, true, true, false]);
    expect(q.take('b')).toBe(true);
    t = 1000; // the next window has just begun: the previous one still counts in full
    expect(q.take('a')).toBe(false);
    t = 1700; // 70 % through: 3 · 0.3 = 0.9 of the previous window is left
    expect([q.take('a'), q.take('a'), q.take('a')]).toEqual([true, true, false]);
    t = 5000;
    expect([1, 2, 3, 4].map(() => q.take('a'))).toEqual([true, true, true, false]);
  });

  it('a flood of new parties cannot push out an active one', () => {
    let t = 0;
    const q = new Quota({ limit: 2, windowMs: 1000, maxParties: 3, now: () => t });
    expect(q.take('a')).toBe(true);
    expect(q.take('b')).toBe(true);
    expect(q.take('c')).toBe(true);
    expect(q.take('d')).toBe(false);
    expect(q.take('a')).toBe(true);
    t = 3000; // a, b and c are idle for two windows: room again
    expect(q.take('d')).toBe(true);
  });
});
