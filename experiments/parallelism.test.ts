import { describe, expect, it } from 'vitest';
import { parallelismSection, runParallelism } from './parallelism.js';

const TINY = {
  executors: [1, 2],
  perExecutorConcurrency: 4,
  serverfulConcurrency: 8,
  matmulN: 16,
  cpuCalls: 6,
  waitMs: 15,
  waitCalls: 24,
};

describe('parallelism', () => {
  it('serverful stays at or below one call at a time; two executors serve about two', {
    timeout: 60_000,
  }, async () => {
    const bursts = await runParallelism(TINY, () => {});
    expect(bursts.map((b) => `${b.workload} ${b.setup} ${b.executors}`)).toEqual([
      'cpu serverful serial 1',
      'cpu serverful burst 1',
      'cpu serverless 1',
      'cpu serverless 2',
      'wait serverful serial 1',
      'wait serverful burst 1',
      'wait serverless 1',
      'wait serverless 2',
    ]);
    for (const b of bursts) {
      expect(b.failed).toBe(0);
      expect(b.busyMs).toBeGreaterThan(0);
      // Busy time is measured inside the burst's wall time, one slot per executor.
      expect(b.parallelism).toBeLessThanOrEqual(b.executors + 1e-9);
    }
    const wait2 = bursts.find((b) => b.workload === 'wait' && b.setup === 'serverless' && b.executors === 2)!;
    const waitBurst = bursts.find((b) => b.workload === 'wait' && b.setup === 'serverful burst')!;
    // Each hold is 15 ms off the CPU: two slots kept busy by 8 calls in flight overlap most of the time.
    expect(wait2.parallelism).toBeGreaterThan(1.3);
    expect(wait2.parallelism).toBeGreaterThan(waitBurst.parallelism + 0.3);
  });

  it('the section reports the definition, the CPU count and both plots', { timeout: 60_000 }, async () => {
    const s = await parallelismSection({ ...TINY, executors: [1], cpuCalls: 3, waitCalls: 6 }, () => {});
    expect(s.name).toBe('parallelism');
    expect(s.markdown).toContain('busy time');
    expect(s.markdown).toMatch(/\*\*\d+ CPUs\*\*/);
    expect(Object.keys(s.plots).sort()).toEqual(['parallelism-speedup.svg', 'parallelism.svg']);
  });
});
