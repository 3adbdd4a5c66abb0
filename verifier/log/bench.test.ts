import { describe, expect, it } from 'vitest';
import { benchLog } from './bench.js';

describe('benchLog', () => {
  it('runs on a small tree and reports positive rates (its proofs verified before timing)', async () => {
    const r = await benchLog({ treeSize: 1000, proofs: 50, seconds: 0.02 });
    expect(r.treeSize).toBe(1000);
    expect(r.inclusion.perSecond).toBeGreaterThan(0);
    expect(r.consistency.perSecond).toBeGreaterThan(0);
    expect(r.inclusion.meanProofHashes).toBeGreaterThan(9);
    expect(r.nodeHashesPerSecond.twoBlock).toBeGreaterThan(0);
  });
});
