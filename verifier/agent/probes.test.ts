import { describe, expect, it } from 'vitest';
import { callOutputHash } from '../../protocol/call-records.js';
import { knownAnswersOf } from '../probes/known-answers.js';
import type { ProbeChannel } from '../probes/runner.js';
import { evaluationInput } from './evaluation-fixture.js';
import { probeEvaluator } from './probes.js';

const te = new TextEncoder();
const upper = (b: Uint8Array) => te.encode(new TextDecoder().decode(b).toUpperCase());
const KNOWN = knownAnswersOf(
  1n,
  'ef'.repeat(32),
  ['a', 'b'].map((s) => ({ input: te.encode(s), output: upper(te.encode(s)) })),
);

const at = (now: bigint) => evaluationInput({ now, sla: { p95LatencyMs: 200, capacityGflops: 1 } });

function channel(answer: (input: Uint8Array) => Uint8Array | 'drop'): ProbeChannel & { calls: number } {
  const ch = {
    calls: 0,
    async invoke(input: Uint8Array) {
      ch.calls++;
      const out = answer(input);
      if (out === 'drop') return new Promise<never>(() => {});
      return { outputHash: callOutputHash(out) };
    },
  };
  return ch;
}

const options = (ch: ProbeChannel, opened = { n: 0, closed: 0 }) => ({
  open: async () => {
    opened.n++;
    return {
      channel: ch,
      close: async () => {
        opened.closed++;
      },
    };
  },
  kit: (lease: bigint) => (lease === 1n ? { known: KNOWN } : undefined),
  meanIntervalMs: 2,
  timeoutMs: 100,
  maxProbes: 40,
  minProbes: 8,
});

describe('probeEvaluator', () => {
  it('probes from observe until evaluate, in one session, and judges an honest executor Ok', async () => {
    const ch = channel(upper);
    const opened = { n: 0, closed: 0 };
    const ev = probeEvaluator(options(ch, opened));
    ev.observe(at(400n));
    await new Promise((r) => setTimeout(r, 60));
    const e = await ev.evaluate(at(499n));
    expect(e.verdict).toBe('Ok');
    expect(ch.calls).toBeGreaterThanOrEqual(8);
    expect(ch.calls).toBeLessThanOrEqual(40);
    expect(opened).toEqual({ n: 1, closed: 1 });
    // Stopped: no probe after the evaluation.
    const calls = ch.calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(ch.calls).toBe(calls);
  });

  it('sends the minimum at evaluation when it was never told to observe', async () => {
    const ch = channel(upper);
    const e = await probeEvaluator(options(ch)).evaluate(at(499n));
    expect(e.verdict).toBe('Ok');
    expect(ch.calls).toBe(8);
  });

  it('judges changed answers fraud, dropped calls unavailable, with the time of the first bad probe', async () => {
    const wrong = await probeEvaluator(options(channel(() => te.encode('?')))).evaluate(at(499n));
    expect(wrong.verdict).toBe('Fraud');
    expect(wrong.violationTime).toBeLessThanOrEqual(499n);
    const dropped = await probeEvaluator(options(channel(() => 'drop'))).evaluate(at(499n));
    expect(dropped.verdict).toBe('Unavailable');
  });

  it('counts a session that cannot be opened as missed probes', async () => {
    const ev = probeEvaluator({
      ...options(channel(upper)),
      open: async () => {
        throw Object.assign(new Error('refused'), { code: 'UNAVAILABLE' });
      },
    });
    const e = await ev.evaluate(at(499n));
    expect(e.verdict).toBe('Unavailable');
    expect(e.detail).toMatch(/8 of 8 probes unanswered/);
  });

  it("does not probe, and reports no violation, without the customer's kit or after the epoch", async () => {
    const ch = channel(upper);
    const ev = probeEvaluator(options(ch));
    const none = await ev.evaluate({ ...at(499n), leaseId: 2n });
    expect(none).toMatchObject({ verdict: 'Ok', detail: expect.stringMatching(/not probed/) });
    const late = await ev.evaluate(at(500n));
    expect(late).toMatchObject({ verdict: 'Ok', detail: expect.stringMatching(/not probed/) });
    expect(ch.calls).toBe(0);
  });

  it('keeps three probes in flight during other work, and counts them with the epoch', async () => {
    let inFlight = 0;
    let most = 0;
    const slow: ProbeChannel = {
      async invoke(input) {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight--;
        return { outputHash: callOutputHash(upper(input)) };
      },
    };
    const ev = probeEvaluator({ ...options(slow), minProbes: 1 });
    const value = await ev.during(at(400n), new Promise((r) => setTimeout(() => r(42), 80)));
    expect(value).toBe(42);
    expect(most).toBe(3);
    const e = await ev.evaluate(at(499n));
    expect(e.verdict).toBe('Ok');
    expect(Number(/(\d+) of \1 probes/.exec(e.detail!)?.[1])).toBeGreaterThanOrEqual(9);
  });

  it("does not hold a customer's broken kit file against the provider", async () => {
    const ch = channel(upper);
    const ev = probeEvaluator({
      ...options(ch),
      kit: () => {
        throw new Error('7-0.grant.json: not JSON');
      },
    });
    ev.observe(at(400n));
    const e = await ev.evaluate(at(499n));
    expect(e).toMatchObject({
      verdict: 'Ok',
      detail: expect.stringMatching(/not probed \(7-0.grant.json: not JSON\)/),
    });
    expect(ch.calls).toBe(0);
  });
});
