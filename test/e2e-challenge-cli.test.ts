import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMatmulEngine } from '../enclave-host/challenge/engine.js';
import { allowListAuthority, type MatmulEngine } from '../enclave-host/executor.js';
import { onlyJson, runCli } from './cli-run.js';
import { type Harness, startExecutor } from './e2e-harness.js';

/*
 * `defaas challenge` and `defaas evidence verify`: against an executor started as a child process
 * (`executor start --challenge-allow … --claimed-gflops …`), which passes when it has the CPU and
 * misses its deadlines when the test starves it (SIGSTOP/SIGCONT on a duty cycle); and against an
 * in-process executor with a lying engine, whose evidence bundle verifies offline.
 */

const repo = new URL('..', import.meta.url).pathname;
const witness = Wallet.createRandom();

describe('defaas challenge against a child-process executor', () => {
  let dir: string;
  let keyFile: string;
  let child: ChildProcess;
  let endpoint: string;
  let policy: string;
  let duty: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-challenge-'));
    keyFile = join(dir, 'witness.key');
    await writeFile(keyFile, `${witness.privateKey.slice(2)}\n`);
    child = spawn(
      process.execPath,
      [
        join(repo, 'bin', 'defaas.mjs'),
        'executor',
        'start',
        '--tee',
        'simulated',
        '--listen',
        '127.0.0.1:0',
        '--state-dir',
        join(dir, 'state'),
        '--workers',
        '1',
        '--log-level',
        'warn',
        '--challenge-allow',
        witness.address,
        '--claimed-gflops',
        '1',
        '--json',
      ],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let logs = '';
    child.stderr?.on('data', (d) => {
      logs += d;
    });
    const serving = await new Promise<{ endpoint: string; policyFile: string }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`executor did not start: ${logs}`)), 20_000);
      child.stdout?.on('data', (d) => {
        out += d;
        if (out.includes('\n')) {
          clearTimeout(t);
          resolve(JSON.parse(out.split('\n')[0]!));
        }
      });
    });
    endpoint = serving.endpoint;
    policy = serving.policyFile;
  }, 30_000);

  afterEach(() => {
    if (duty) clearInterval(duty);
    duty = undefined;
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGCONT');
  });
  afterAll(async () => {
    if (child.pid && child.exitCode === null) {
      process.kill(child.pid, 'SIGCONT');
      child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  });

  const challenge = (...more: string[]) =>
    runCli('challenge', '--endpoint', endpoint, '--policy', policy, '--key', keyFile, '--json', ...more);

  it('passes at its claimed rate, with the --json fields', async () => {
    // A first, small challenge warms both ends (module loading, JIT) before the timed one.
    expect(onlyJson((await challenge('--n', '8', '--gflops', '0.05')).out)).toHaveProperty('verdict');
    const r = await challenge('--n', '128', '--gflops', '0.05');
    const o = onlyJson(r.out);
    expect(o, r.out + r.err).toMatchObject({ ok: true, verdict: 'pass', n: 128, claimedGflops: 0.05 });
    for (const k of ['deadlineMs', 'commitMs', 'rttP95Ms', 'measuredGflops'])
      expect(typeof o[k]).toBe('number');
    expect(o.commitMs as number).toBeLessThan(o.deadlineMs as number);
    expect(r.code).toBe(0);
  }, 30_000);

  it('misses its deadline when starved of CPU (SIGSTOP/SIGCONT duty cycle), and not without', async () => {
    // A product large enough to need the CPU across several of the duty cycle's windows: 2.1 GFLOP at
    // n = 1024, a deadline of RTT_p95 + 372 ms at the 10 GFLOP/s claimed, which the engine meets
    // several times over when it has the CPU.
    const fed = onlyJson((await challenge('--n', '1024', '--gflops', '10')).out);
    expect(fed, JSON.stringify(fed)).toMatchObject({ verdict: 'pass', n: 1024 });
    const pid = child.pid!;
    let stopped = false;
    // Runs 10 ms in every 310 ms.
    const tick = () => {
      process.kill(pid, stopped ? 'SIGCONT' : 'SIGSTOP');
      stopped = !stopped;
      duty = setTimeout(tick, stopped ? 300 : 10);
    };
    tick();
    const r = await challenge('--n', '1024', '--gflops', '10');
    const o = onlyJson(r.out);
    expect(o, r.out + r.err).toMatchObject({ verdict: 'late', n: 1024 });
    expect(o.commitMs as number).toBeGreaterThan(o.deadlineMs as number);
    expect(r.code).toBe(1);
  }, 60_000);

  it('exits 2 on usage errors and 3 when nothing listens', async () => {
    expect((await runCli('challenge', '--help')).code).toBe(0);
    expect((await challenge('--gflops', '1')).code).toBe(2);
    expect((await challenge('--n', '0', '--gflops', '1')).code).toBe(2);
    expect((await challenge('--n', '8', '--gflops', '-1')).code).toBe(2);
    const r = await runCli(
      'challenge',
      '--endpoint',
      '127.0.0.1:1',
      '--policy',
      policy,
      '--key',
      keyFile,
      '--n',
      '8',
      '--gflops',
      '1',
      '--timeout-ms',
      '1500',
      '--json',
    );
    expect(r.code, r.out).toBe(3);
    expect(onlyJson(r.out)).toMatchObject({ ok: false, kind: 'transient' });
  }, 60_000);
});

describe('defaas challenge / evidence verify against a lying engine', () => {
  let h: Harness;
  let dir: string;
  let keyFile: string;
  let policy: string;
  let lie = true;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-evidence-'));
    keyFile = join(dir, 'witness.key');
    await writeFile(keyFile, `${witness.privateKey.slice(2)}\n`);
    let inner: Promise<MatmulEngine> | undefined;
    h = await startExecutor({
      challengeAuthority: allowListAuthority({ witnesses: [witness.address], claimedGflops: 1 }),
      challengeEngine: {
        async multiply(n, a, b) {
          inner ??= startMatmulEngine();
          const c = await (await inner).multiply(n, a, b);
          if (lie) c[n + 1]! += 3;
          return c;
        },
        async close() {},
      },
    });
    policy = join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify(h.policy));
  });
  afterAll(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a wrong product exits 1 with the evidence path; the bundle proves fraud, a tampered one does not', async () => {
    const bundle = join(dir, 'evidence.json');
    const r = await runCli(
      'challenge',
      '--endpoint',
      h.endpoint,
      '--policy',
      policy,
      '--key',
      keyFile,
      '--n',
      '48',
      '--gflops',
      '0.05',
      '--evidence-out',
      bundle,
      '--json',
    );
    expect(onlyJson(r.out)).toMatchObject({ verdict: 'wrong', evidencePath: bundle });
    expect(r.code).toBe(1);
    const good = await runCli('evidence', 'verify', bundle, '--json');
    expect(onlyJson(good.out)).toMatchObject({ result: 'fraud-proven', row: 1, column: 1 });
    expect(good.code).toBe(0);
    const b = JSON.parse(await readFile(bundle, 'utf8'));
    b.commitment.seed = `0x${'11'.repeat(32)}`;
    const bad = join(dir, 'tampered.json');
    await writeFile(bad, JSON.stringify(b));
    const v = await runCli('evidence', 'verify', bad, '--json');
    expect(onlyJson(v.out)).toMatchObject({ result: 'rejected', reason: 'signature-invalid' });
    expect(v.code).toBe(1);
    expect((await runCli('evidence', 'verify', join(dir, 'missing.json'))).code).toBe(2);
  });

  it('an honest product passes (exit 0) and writes no bundle', async () => {
    lie = false;
    const r = await runCli(
      'challenge',
      '--endpoint',
      h.endpoint,
      '--policy',
      policy,
      '--key',
      keyFile,
      '--n',
      '32',
      '--gflops',
      '0.05',
      '--json',
    );
    expect(onlyJson(r.out)).toMatchObject({ verdict: 'pass' });
    expect(onlyJson(r.out).evidencePath).toBeUndefined();
    expect(r.code).toBe(0);
  });
});
