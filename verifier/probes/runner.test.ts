import { describe, expect, it } from 'vitest';
import { callOutputHash } from '../../protocol/call-records.js';
import { isVerifierError } from '../errors.js';
import { knownAnswersOf } from './known-answers.js';
import {
  type ProbeChannel,
  type ProbeClock,
  probeOnce,
  probeWhile,
  runProbes,
  SYSTEM_CLOCK,
} from './runner.js';

const te = new TextEncoder();
const upper = (b: Uint8Array) => te.encode(new TextDecoder().decode(b).toUpperCase());
const KNOWN = knownAnswersOf(
  3n,
  'cd'.repeat(32),
  ['alpha', 'beta', 'gamma'].map((s) => ({ input: te.encode(s), output: upper(te.encode(s)) })),
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A channel that runs the function honestly after `delayMs`. */
function honest(delayMs = 0): ProbeChannel & { calls: number; maxInFlight: number } {
  let inFlight = 0;
  const ch = {
    calls: 0,
    maxInFlight: 0,
    async invoke(input: Uint8Array) {
      ch.calls++;
      ch.maxInFlight = Math.max(ch.maxInFlight, ++inFlight);
      try {
        await sleep(delayMs);
        return { outputHash: callOutputHash(upper(input)) };
      } finally {
        inFlight--;
      }
    },
  };
  return ch;
}

describe('probeOnce', () => {
  it('judges an honest answer ok, with its latency', async () => {
    const o = await probeOnce(honest(5), KNOWN, 1000);
    expect(o.outcome).toBe('ok');
    expect(o.latencyMs).toBeGreaterThanOrEqual(4);
  });
  it('judges a different output wrong, keeping the hash received', async () => {
    const liar: ProbeChannel = { invoke: async () => ({ outputHash: callOutputHash(te.encode('nope')) }) };
    const o = await probeOnce(liar, KNOWN, 1000);
    expect(o.outcome).toBe('wrong');
    expect(o.detail).toBe(callOutputHash(te.encode('nope')));
  });
  it('judges a refused call failed, with its code', async () => {
    const refusing: ProbeChannel = {
      invoke: async () => {
        throw Object.assign(new Error('busy'), { code: 'RUNTIME_BUSY' });
      },
    };
    const o = await probeOnce(refusing, KNOWN, 1000);
    expect(o).toMatchObject({ outcome: 'failed', detail: 'RUNTIME_BUSY' });
  });
  it("judges the enclave's sealed refusal of the witness's own grant refused, and the same code in plaintext failed", async () => {
    const refusing = (origin: string): ProbeChannel => ({
      invoke: async () => {
        throw Object.assign(new Error('grant spent'), { code: 'VOUCHER_OVER_BUDGET', origin });
      },
    });
    expect(await probeOnce(refusing('sealed'), KNOWN, 1000)).toMatchObject({ outcome: 'refused' });
    expect(await probeOnce(refusing('plaintext'), KNOWN, 1000)).toMatchObject({ outcome: 'failed' });
  });

  it('judges a call that does not answer in time unanswered', async () => {
    const o = await probeOnce(honest(200), KNOWN, 20);
    expect(o.outcome).toBe('unanswered');
  });
});

describe('runProbes', () => {
  it('sends the planned count at exponential gaps of the planned mean, without waiting for answers', async () => {
    const gaps: number[] = [];
    let u = 0;
    const clock: ProbeClock = {
      now: SYSTEM_CLOCK.now,
      sleep: async (ms) => {
        gaps.push(ms);
      },
      // A low-discrepancy sequence: the mean of -ln(1 - u) over it is close to 1.
      random: () => {
        u = (u + 0.6180339887) % 1;
        return u;
      },
    };
    const ch = honest(30);
    const obs = await runProbes(ch, KNOWN, { count: 400, meanIntervalMs: 10, timeoutMs: 1000 }, clock);
    expect(obs).toHaveLength(400);
    expect(obs.every((o) => o.outcome === 'ok')).toBe(true);
    expect(gaps).toHaveLength(399);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(9);
    expect(mean).toBeLessThan(11);
    // The sleeps took no time, so every probe was sent before the first answer came back.
    expect(ch.maxInFlight).toBe(400);
  });
  it('refuses an unbounded plan', async () => {
    for (const plan of [
      { count: 0, meanIntervalMs: 1, timeoutMs: 1 },
      { count: 1e6, meanIntervalMs: 1, timeoutMs: 1 },
      { count: 1, meanIntervalMs: -1, timeoutMs: 1 },
      { count: 1, meanIntervalMs: 1, timeoutMs: 0 },
    ])
      await expect(runProbes(honest(), KNOWN, plan)).rejects.toSatisfy((e) =>
        isVerifierError(e, 'PROBE_PLAN_INVALID'),
      );
  });
});

describe('probeWhile', () => {
  it('keeps at least the asked number of probes in flight until the work ends, then stops', async () => {
    const ch = honest(10);
    const { result, observations } = await probeWhile(
      ch,
      KNOWN,
      sleep(120).then(() => 42),
      {
        inFlight: 3,
        timeoutMs: 1000,
        maxProbes: 500,
      },
    );
    expect(result).toEqual({ status: 'fulfilled', value: 42 });
    expect(ch.maxInFlight).toBe(3);
    // 120 ms of work at 10 ms per probe on 3 lanes: about 36 probes, and never more than the work allowed.
    expect(observations.length).toBeGreaterThanOrEqual(15);
    expect(observations.length).toBeLessThan(60);
    const calls = ch.calls;
    await sleep(40);
    expect(ch.calls).toBe(calls);
  });
  it('reports a failed work item and stops at maxProbes', async () => {
    const ch = honest(0);
    const { result, observations } = await probeWhile(
      ch,
      KNOWN,
      sleep(50).then(() => Promise.reject(new Error('x'))),
      {
        inFlight: 3,
        timeoutMs: 1000,
        maxProbes: 10,
      },
    );
    expect(result.status).toBe('rejected');
    expect(observations).toHaveLength(10);
  });
});
