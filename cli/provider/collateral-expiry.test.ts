import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULE, refreshTime, retryDelay } from './collateral-expiry.js';

const DAY = 24 * 3600_000;
const now = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(now.getTime() + ms);

describe('refresh schedule', () => {
  it('30 days left: half the remaining validity comes first', () => {
    expect(refreshTime(now, at(30 * DAY), DEFAULT_SCHEDULE)).toEqual(at(15 * DAY));
  });

  it('10 days left: a week ahead of nextUpdate comes first', () => {
    expect(refreshTime(now, at(10 * DAY), DEFAULT_SCHEDULE)).toEqual(at(3 * DAY));
  });

  it('inside the lead time, already expired, or an invalid date: no sooner than the minimum interval', () => {
    for (const next of [at(2 * DAY), at(-DAY), at(0)])
      expect(refreshTime(now, next, DEFAULT_SCHEDULE)).toEqual(at(DEFAULT_SCHEDULE.minIntervalMs));
    // An unparseable date would give NaN: never a time in the past, never NaN.
    const t = refreshTime(now, new Date(Number.NaN), DEFAULT_SCHEDULE);
    expect(Number.isNaN(t.getTime())).toBe(false);
    expect(t.getTime()).toBeGreaterThanOrEqual(now.getTime() + DEFAULT_SCHEDULE.minIntervalMs);
  });

  it('retries double from the first delay up to the cap, also for absurd failure counts', () => {
    const o = { ...DEFAULT_SCHEDULE, retryFirstMs: 1_000, retryMaxMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, o))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
    expect(retryDelay(1e9, o)).toBe(10_000);
    expect(retryDelay(0, o)).toBe(1_000);
  });
});
