import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExample } from '../examples/build-example.js';
import { expectFailure, onlyJson } from './cli-run.js';

/** `executor start` on the simulated TEE, one worker, a free port on 127.0.0.1, state in `stateDir`. */
const simulatedExecutor = (stateDir: string) => [
  'executor',
  'start',
  '--tee',
  'simulated',
  '--listen',
  '127.0.0.1:0',
  '--state-dir',
  stateDir,
  '--workers',
  '1',
];

/**
 * The two-terminal flow, as child processes of the real entry point (bin/defaas.mjs):
 * `executor start --tee simulated --json` and `invoke … --json`, then SIGTERM.
 */

const repo = new URL('..', import.meta.url).pathname;

/** `node bin/defaas.mjs …args`. */
function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, [join(repo, 'bin', 'defaas.mjs'), ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = cli(args);
  let stdout = '';
  let stderr = '';
  c.stdout?.on('data', (d) => {
    stdout += d;
  });
  c.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => c.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

interface Serving {
  endpoint: string;
  leaseId: string;
  devLease: boolean;
  identity: string;
  tee: string;
  policyFile: string | null;
  limits: Record<string, number>;
}

describe('defaas executor start / defaas invoke', () => {
  let dir: string;
  let executor: ChildProcess;
  let serving: Serving;
  let endpoint: string;
  let stdout = '';
  let logs = '';
  let echo: string;
  let policy: string;
  /** `invoke` of the echo function on the executor, with the dev policy. */
  const invokeEcho = (...more: string[]) =>
    run(['invoke', '--endpoint', endpoint, '--wasm', echo, '--input', 'x', '--policy', policy, ...more]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-cli-'));
    echo = join(dir, 'echo.wasm');
    await writeFile(echo, await buildExample('echo'));
    policy = join(dir, 'state', 'policy.json');
    executor = cli([...simulatedExecutor(join(dir, 'state')), '--json']);
    executor.stderr?.on('data', (d) => {
      logs += d;
    });
    serving = await new Promise<Serving>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`executor did not start: ${logs}`)), 20_000);
      executor.stdout?.on('data', (d) => {
        stdout += d;
        if (stdout.includes('\n')) {
          clearTimeout(t);
          resolve(onlyJson<Serving>(stdout));
        }
      });
    });
    endpoint = serving.endpoint;
  }, 30_000);

  afterAll(async () => {
    if (executor.exitCode === null) executor.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('executor start --json prints one line on stdout once serving; its logs go to stderr', () => {
    expect(serving).toMatchObject({ ok: true, tee: 'simulated', devLease: true, policyFile: policy });
    expect(serving.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(serving.leaseId).toMatch(/^[0-9]+$/);
    expect(serving.identity).toMatch(/^0x[0-9a-f]{40}$/);
    expect(serving.limits.wallTimeMs).toBe(5000);
    expect(logs).toMatch(/"msg":"executor serving"/);
  });

  it('invokes a function and prints the verified receipt as one JSON object', async () => {
    const r = await run([
      'invoke',
      '--endpoint',
      endpoint,
      '--wasm',
      echo,
      '--input',
      'hello, enclave',
      '--policy',
      policy,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const o = onlyJson<{
      output: string;
      outputText: string;
      functionId: string;
      nonce: string;
      receiptVerified: boolean;
      enclave: { identity: string; evidenceHash: string; tee: string };
      receipt: { signer: string; signature: string; typedData: { message: { firstNonce: string } } };
    }>(r.stdout);
    expect(o.ok).toBe(true);
    expect(o.outputText).toBe('hello, enclave');
    expect(o.output).toBe(`0x${Buffer.from('hello, enclave').toString('hex')}`);
    expect(o.functionId).toMatch(/^0x[0-9a-f]{64}$/);
    expect(o.receiptVerified).toBe(true);
    expect(o.receipt.signer).toBe(serving.identity);
    expect(o.receipt.signature).toMatch(/^0x[0-9a-f]{130}$/);
    expect(o.receipt.typedData.message.firstNonce).toBe(o.nonce);
    expect(o.enclave).toMatchObject({ identity: serving.identity, tee: 'simulated' });
    expect(o.enclave.evidenceHash).toMatch(/^0x[0-9a-f]{64}$/);
  }, 30_000);

  it("shows the function's stderr and the executor's signed limits (--json and human output)", async () => {
    const wasm = join(dir, 'greet.wasm');
    await writeFile(wasm, await buildExample('greet'));
    const base = ['invoke', '--endpoint', endpoint, '--wasm', wasm, '--input', 'cli', '--policy', policy];
    const j = await run([...base, '--json']);
    expect(j.code).toBe(0);
    const o = onlyJson(j.stdout);
    expect(o.outputText).toBe('hello, cli');
    expect(o.stderr).toBe('greet: said hello\n');
    expect(o.stderrTruncatedBytes).toBe(0);
    // The executor runs with the CLI defaults.
    expect(o.limits).toEqual({
      memoryBytes: 64 * 1024 * 1024,
      wallTimeMs: 5000,
      maxInputBytes: 4 * 1024 * 1024,
      maxOutputBytes: 4 * 1024 * 1024,
      maxStderrBytes: 64 * 1024,
      maxMessageBytes: 40 * 1024 * 1024,
    });
    const h = await run([...base, '--verbose']);
    expect(h.code).toBe(0);
    expect(h.stdout).toBe('hello, cli\n');
    expect(h.stderr).toContain('[function stderr] greet: said hello\n');
    expect(h.stderr).toContain(
      'executor limits: memory 64 MiB · wall time 5000 ms · input 4 MiB · output 4 MiB · stderr 64 KiB · message 40 MiB',
    );
  }, 30_000);

  it('a function that ran and failed exits 5, with its partial output and stderr', async () => {
    const wasm = join(dir, 'exit-nonzero.wasm');
    await writeFile(wasm, await buildExample('exit-nonzero'));
    const base = ['invoke', '--endpoint', endpoint, '--wasm', wasm, '--input', 'x', '--policy', policy];
    const j = await run([...base, '--json']);
    expect(j.code).toBe(5);
    const o = expectFailure(j.stdout, 'FUNCTION_EXIT_NONZERO', 'function');
    expect(o.outputText).toBe('partial');
    expect(o.stderr).toBe('exit-nonzero: giving up with code 3\n');
    expect(o.limits).toMatchObject({ wallTimeMs: 5000 });
    // It ran, so it is charged: its record and the receipt covering it were verified.
    expect(o.nonce).toBe('1');
    expect(o.receiptVerified).toBe(true);
    expect((o.record as { outputHash: string }).outputHash).toMatch(/^0x[0-9a-f]{64}$/);
    const h = await run(base);
    expect(h.code).toBe(5);
    expect(h.stdout).toBe('partial\n');
    expect(h.stderr).toMatch(
      /\[function stderr\] exit-nonzero: giving up with code 3\ndefaas: FUNCTION_EXIT_NONZERO: .*\n {2}the call ran and is charged: nonce 1, receipt verified/,
    );
  }, 30_000);

  it('--identity and --evidence-hash pin the enclave: the right one is accepted', async () => {
    const first = onlyJson<{ enclave: { evidenceHash: string } }>((await invokeEcho('--json')).stdout);
    const evidenceHash = first.enclave.evidenceHash;
    const r = await invokeEcho('--identity', serving.identity, '--evidence-hash', evidenceHash, '--json');
    expect(r.code, r.stdout).toBe(0);
    expect(onlyJson(r.stdout).enclave).toMatchObject({ identity: serving.identity, evidenceHash });
    // EIP-55 checksummed spelling of the same address is the same pin.
    const { getAddress } = await import('ethers');
    expect((await invokeEcho('--identity', getAddress(serving.identity))).code).toBe(0);
  }, 30_000);

  it('--identity naming another enclave is refused: IDENTITY_MISMATCH, a verification failure (exit 1)', async () => {
    const other = '0x000000000000000000000000000000000000dead';
    const j = await invokeEcho('--identity', other, '--json');
    expect(j.code).toBe(1);
    const o = expectFailure(j.stdout, 'IDENTITY_MISMATCH', 'protocol');
    expect(o.message).toContain(other);
    const h = await invokeEcho('--evidence-hash', `0x${'00'.repeat(32)}`);
    expect(h.code).toBe(1);
    expect(h.stdout).toBe('');
    expect(h.stderr).toMatch(/^defaas: IDENTITY_MISMATCH: /);
  }, 30_000);

  it('refuses at start an output limit that cannot fit one gRPC message, naming both numbers', async () => {
    const r = await run([
      ...simulatedExecutor(join(dir, 'state-64m')),
      '--max-output-bytes',
      String(64 * 1024 * 1024),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`max output ${64 * 1024 * 1024} bytes`);
    expect(r.stderr).toContain(`gRPC max message size of ${40 * 1024 * 1024} bytes`);
  }, 30_000);

  it('--fetch asks the vendors only for what is missing (simulated evidence needs nothing)', async () => {
    const nowhere = 'http://127.0.0.1:9'; // discard port: any request would fail as COLLATERAL_UNAVAILABLE
    const r = await invokeEcho(
      '--fetch',
      '--pcs-url',
      nowhere,
      '--kds-url',
      nowhere,
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(r.stderr).toMatch(/receipt verified/);
    expect(r.code).toBe(0);
  }, 30_000);

  it('a policy refusal exits 4 with the stable code, apart from verification failures', async () => {
    const bad = join(dir, 'bad-policy.json');
    await writeFile(bad, JSON.stringify({ allowedTees: ['tdx'], dangerouslyAllowAnyMeasurement: true }));
    const r = await run([
      'invoke',
      '--endpoint',
      endpoint,
      '--wasm',
      echo,
      '--input',
      'x',
      '--policy',
      bad,
      '--json',
    ]);
    expect(r.code).toBe(4);
    // The SDK's kind for every evidence refusal is `attestation`; the code says it is the policy's.
    expectFailure(r.stdout, 'POLICY_TEE_NOT_ALLOWED', 'attestation');
  }, 30_000);

  it("a refusal by the executor's terms exits 4 too (a lease it does not serve)", async () => {
    const other = serving.leaseId === '1' ? '2' : '1';
    const r = await invokeEcho('--lease', other, '--json');
    expect(r.code).toBe(4);
    expectFailure(r.stdout, 'WRONG_LEASE', 'rejected');
  }, 30_000);

  it('refuses collateral flags that do not fit the TEE, or files that are missing, with exit 2', async () => {
    const state = ['--state-dir', join(dir, 'state-flags'), '--listen', '127.0.0.1:0'];
    const wrongTee = await run([
      'executor',
      'start',
      '--tee',
      'simulated',
      '--collateral',
      'c.json',
      ...state,
    ]);
    expect(wrongTee.code).toBe(2);
    expect(wrongTee.stderr).toMatch(/^defaas: INVALID_ARGUMENT: --collateral is for --tee tdx/);
    const missing = await run([
      'executor',
      'start',
      '--tee',
      'sev-snp',
      '--snp-chain',
      join(dir, 'nope.pem'),
      ...state,
      '--json',
    ]);
    expect(missing.code).toBe(2);
    expect(expectFailure(missing.stdout, 'FILE_NOT_FOUND', 'usage').message).toMatch(
      /--snp-chain: .*nope\.pem does not exist/,
    );
  }, 30_000);

  it('a --listen address already in use is a usage error (exit 2)', async () => {
    const r = await run([...simulatedExecutor(join(dir, 'state-busy')), '--listen', endpoint, '--json']);
    expect(r.code).toBe(2);
    expect(expectFailure(r.stdout, 'INVALID_ARGUMENT', 'usage').info).toEqual({
      flag: '--listen',
      errno: 'EADDRINUSE',
    });
  }, 30_000);

  it('shuts down cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => executor.on('exit', (code) => resolve(code)));
    executor.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs).toMatch(/"msg":"executor stopped"/);
    // stdout held the one serving line, nothing more.
    expect(stdout.split('\n').filter(Boolean)).toHaveLength(1);
  }, 30_000);
});

describe('executor under npx', () => {
  it('stops cleanly when the npm parent dies without forwarding SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'defaas-npx-'));
    try {
      const log = join(dir, 'executor.log');
      // Plays `npm exec`: starts the executor with npm's environment, prints its pid, then is killed.
      const parentScript = join(dir, 'parent.mjs');
      await writeFile(
        parentScript,
        [
          "import { spawn } from 'node:child_process';",
          "import { openSync } from 'node:fs';",
          `const out = openSync(${JSON.stringify(log)}, 'w');`,
          `const c = spawn(process.execPath, [${JSON.stringify(join(repo, 'bin', 'defaas.mjs'))}, 'executor', 'start', '--tee', 'simulated', '--listen', '127.0.0.1:0', '--state-dir', ${JSON.stringify(join(dir, 'state'))}, '--workers', '1'], { stdio: ['ignore', out, out], env: { ...process.env, npm_command: 'exec' } });`,
          'console.log(c.pid);',
          'setInterval(() => {}, 1000);',
        ].join('\n'),
      );
      const parent = spawn(process.execPath, [parentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = Number(
        await new Promise<string>((resolve) => parent.stdout?.once('data', (d) => resolve(String(d).trim()))),
      );
      const deadline = Date.now() + 20_000;
      while (!(await readFile(log, 'utf8')).includes('listening on') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      parent.kill('SIGKILL');
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const stillAlive = alive();
      if (stillAlive) process.kill(pid, 'SIGKILL');
      expect(stillAlive).toBe(false);
      expect(await readFile(log, 'utf8')).toMatch(/"signal":"parent exited".*\n.*"msg":"executor stopped"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
