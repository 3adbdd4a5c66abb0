import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from '../examples/build-example.js';
import { parseProbeGrantJson, probeGrantSigner } from '../protocol/probe-grant.js';
import { parseKnownAnswers } from '../verifier/probes/known-answers.js';
import { onlyJson, runCli } from './cli-run.js';
import { type Harness, startExecutor } from './e2e-harness.js';

/** `defaas probe answers` and `defaas probe run` against a real executor. */
describe('defaas probe', () => {
  let dir: string;
  let h: Harness;
  let wasm: string;
  let answers: string;
  let policy: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-probe-'));
    h = await startExecutor();
    wasm = join(dir, 'transform.wasm');
    await writeFile(wasm, await buildExample('transform'));
    policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify(h.policy));
    answers = join(dir, 'answers.json');
  });
  afterAll(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('has --help on every command', async () => {
    for (const sub of ['answers', 'grant', 'run']) {
      const r = await runCli('probe', sub, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Example:/);
    }
  });

  it('computes the known answers locally', async () => {
    const inputs = join(dir, 'inputs.txt');
    await writeFile(inputs, 'alpha\nbeta\ngamma\n');
    const r = await runCli(
      'probe',
      'answers',
      '--wasm',
      wasm,
      '--inputs',
      inputs,
      '--lease',
      '0',
      '--out',
      answers,
      '--json',
    );
    expect(r.code).toBe(0);
    expect(onlyJson(r.out)).toMatchObject({ ok: true, answers: 3 });
    const k = parseKnownAnswers(await readFile(answers, 'utf8'));
    expect(k.answers.map((a) => new TextDecoder().decode(a.input))).toEqual(['alpha', 'beta', 'gamma']);
    const bad = join(dir, 'bad.txt');
    await writeFile(bad, 'not base64!\n');
    const u = await runCli(
      'probe',
      'answers',
      '--wasm',
      wasm,
      '--inputs',
      bad,
      '--base64',
      '--lease',
      '0',
      '--out',
      answers,
    );
    expect(u.code).toBe(2);
  });

  it('probes an honest executor: Ok, exit 0', async () => {
    const r = await runCli(
      'probe',
      'run',
      '--endpoint',
      h.endpoint,
      '--policy',
      policy,
      '--wasm',
      wasm,
      '--known-answers',
      answers,
      '--count',
      '10',
      '--interval-ms',
      '5',
      '--json',
    );
    expect(r.code, r.out + r.err).toBe(0);
    expect(onlyJson(r.out)).toMatchObject({ ok: true, verdict: 'Ok', probes: 10, wrong: 0, missed: 0 });
  });

  it('answers that do not match are fraud, exit 1', async () => {
    const k = JSON.parse(await readFile(answers, 'utf8'));
    k.answers[0].outputHash = `0x${'00'.repeat(32)}`;
    const forged = join(dir, 'forged.json');
    await writeFile(forged, JSON.stringify(k));
    // One answer of three is wrong: with 30 probes it is drawn (P(never) = (2/3)^30 < 10^-5).
    const r = await runCli(
      'probe',
      'run',
      '--endpoint',
      h.endpoint,
      '--policy',
      policy,
      '--wasm',
      wasm,
      '--known-answers',
      forged,
      '--count',
      '30',
      '--interval-ms',
      '1',
      '--json',
    );
    expect(r.code).toBe(1);
    expect(onlyJson(r.out)).toMatchObject({ verdict: 'Fraud' });
  });

  it('an executor that is not there exits 3, and the wrong function is a usage error', async () => {
    const gone = await runCli(
      'probe',
      'run',
      '--endpoint',
      '127.0.0.1:1',
      '--deadline-ms',
      '1000',
      '--policy',
      policy,
      '--wasm',
      wasm,
      '--known-answers',
      answers,
      '--json',
    );
    expect(gone.code).toBe(3);
    const echo = join(dir, 'echo.wasm');
    await writeFile(echo, await buildExample('echo'));
    const wrong = await runCli(
      'probe',
      'run',
      '--endpoint',
      h.endpoint,
      '--policy',
      policy,
      '--wasm',
      echo,
      '--known-answers',
      answers,
    );
    expect(wrong.code).toBe(2);
  });

  it("signs a grant as the customer, which recovers to it in the deployment's Settlement domain", async () => {
    const customer = Wallet.createRandom();
    const key = join(dir, 'customer.key');
    await writeFile(key, `${customer.privateKey}\n`);
    const deployment = join(dir, 'deployment.json');
    const settlement = '0x00000000000000000000000000000000000000aa';
    const other = '0x00000000000000000000000000000000000000bb';
    await writeFile(
      deployment,
      JSON.stringify({
        chainId: 31337,
        contracts: { token: other, registry: other, market: other, settlement, witnessPool: other },
      }),
    );
    const witness = Wallet.createRandom().address;
    const out = join(dir, '1-0.grant.json');
    const r = await runCli(
      'probe',
      'grant',
      '--key',
      key,
      '--lease',
      '1',
      '--witness',
      witness,
      '--epoch',
      '0',
      '--max-amount',
      '1000',
      '--expiry',
      '2000000000',
      '--deployment',
      deployment,
      '--out',
      out,
      '--json',
    );
    expect(r.code, r.out + r.err).toBe(0);
    const g = parseProbeGrantJson(JSON.parse(await readFile(out, 'utf8')));
    expect(g.grant).toMatchObject({ leaseId: 1n, epoch: 0n, maxAmount: 1000n, maxCalls: 256n });
    expect(probeGrantSigner({ chainId: 31337n, verifyingContract: settlement }, g)).toBe(
      customer.address.toLowerCase(),
    );
    const bad = await runCli(
      'probe',
      'grant',
      '--key',
      key,
      '--lease',
      '1',
      '--witness',
      'nope',
      '--epoch',
      '0',
      '--max-amount',
      '1',
      '--expiry',
      '1',
      '--deployment',
      deployment,
      '--out',
      out,
    );
    expect(bad.code).toBe(2);
  });
});
