import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionProbeChannel } from '../cli/probe-channel.js';
import type { Runtime } from '../enclave-host/executor.js';
import type { InvokeResult } from '../enclave-host/runtime/function-runtime.js';
import { buildExample } from '../examples/build-example.js';
import { connect, type FunctionHandle, type Session } from '../sdk/index.js';
import { type KnownAnswers, knownAnswersOf } from '../verifier/probes/known-answers.js';
import { runProbes } from '../verifier/probes/runner.js';
import { judgeSla } from '../verifier/probes/sla.js';
import { type Harness, startExecutor, wrappedRuntime } from './e2e-harness.js';

/*
 * Hidden probes against a real executor over gRPC: the customer deploys two functions and records
 * known answers for one; a witness probes it through its own session. A provider whose executor
 * drops, delays or changes the answers of that one function (while serving the other) is judged
 * against the SLA from the probes alone.
 */

type Misbehaviour = 'none' | 'drop' | 'delay' | 'wrong';
const enc = (s: string) => new TextEncoder().encode(s);
const SLA = { availabilityBps: 9900, p95LatencyMs: 250 };
const PLAN = { count: 12, meanIntervalMs: 5, timeoutMs: 1500 };

/** A runtime that misbehaves on calls of `target()` only, as the host of a tampered executor would. */
function tamperedRuntime(mode: () => Misbehaviour, target: () => string): Runtime {
  return wrappedRuntime(async (rt, fn, input, tenant) => {
    const m = fn === target() ? mode() : 'none';
    if (m === 'drop') return new Promise<InvokeResult>(() => {});
    if (m === 'delay') await new Promise((r) => setTimeout(r, 600));
    const r = await rt.invoke(fn, input, tenant);
    return m === 'wrong' ? { ...r, output: enc('not the answer') } : r;
  });
}

describe('hidden probes against a real executor', () => {
  let h: Harness;
  let customer: Session;
  let witness: Session;
  let probed: FunctionHandle;
  let other: FunctionHandle;
  let known: KnownAnswers;
  let mode: Misbehaviour = 'none';
  const customerWallet = Wallet.createRandom();
  const witnessWallet = Wallet.createRandom();

  beforeAll(async () => {
    h = await startExecutor({
      runtime: tamperedRuntime(
        () => mode,
        () => probed.id,
      ),
    });
    customer = await connect(h.endpoint, { policy: h.policy });
    probed = await customer.deploy(await buildExample('transform'));
    other = await customer.deploy(await buildExample('echo'));
    // The customer's known answers: inputs it chose, with the outputs it got at deploy time.
    const inputs = ['alpha', 'beta', 'gamma', 'delta'].map(enc);
    const pairs = [];
    for (const input of inputs)
      pairs.push({
        input,
        output: (await customer.invoke(probed, input, { wallet: customerWallet })).output,
      });
    known = knownAnswersOf(0n, probed.id, pairs);
    witness = await connect(h.endpoint, { policy: h.policy });
  });
  afterAll(async () => {
    await witness?.close();
    await customer?.close();
    await h?.stop();
  });

  async function probeEpoch(m: Misbehaviour) {
    mode = m;
    const channel = sessionProbeChannel(witness, probed, witnessWallet);
    const obs = await runProbes(channel, known, PLAN);
    // The customer's other function is served all along.
    const echo = await customer.invoke(other, enc('still here'), { wallet: customerWallet });
    expect(new TextDecoder().decode(echo.output)).toBe('still here');
    mode = 'none';
    return judgeSla(obs, SLA);
  }

  it('an honest executor passes', async () => {
    const j = await probeEpoch('none');
    expect(j).toMatchObject({ verdict: 'Ok', wrong: 0, missed: 0 });
  });

  it('wrong answers to the probed function are fraud', async () => {
    const j = await probeEpoch('wrong');
    expect(j.verdict).toBe('Fraud');
    expect(j.wrong).toBe(PLAN.count);
  });

  it('slow answers break the latency SLA', async () => {
    const j = await probeEpoch('delay');
    expect(j.verdict).toBe('Unavailable');
    expect(j.slow).toBe(PLAN.count);
    expect(j.missed).toBe(0);
  });

  it('dropped calls break the availability SLA', async () => {
    // Last: the dropped calls stay pending in the executor until it stops.
    const j = await probeEpoch('drop');
    expect(j.verdict).toBe('Unavailable');
    expect(j.missed).toBe(PLAN.count);
  });
});
