import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
 * The two-terminal flow of issue 3, as child processes: `executor start --tee simulated` and
 * `invoke … --json`, then SIGTERM. The commands are registered on a bare commander program here
 * (cli/main.ts wires them into `defaas`).
 */

const repo = new URL('..', import.meta.url).pathname;

let entry = '';

/** `node bin/run-ts.mjs <entry> …args`, the entry registering both commands on a bare program. */
function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, [join(repo, 'bin', 'run-ts.mjs'), entry, ...args], {
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

function runMain(args: string[]): Promise<{ code: number; stderr: string }> {
  const c = spawn(process.execPath, [join(repo, 'bin', 'defaas.mjs'), ...args], {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  c.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => c.on('exit', (code) => resolve({ code: code ?? -1, stderr })));
}

describe('defaas executor start / defaas invoke', () => {
  let dir: string;
  let executor: ChildProcess;
  let endpoint: string;
  let logs = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'defaas-cli-'));
    entry = join(dir, 'cli-entry.mts');
    await writeFile(
      entry,
      [
        `import { Command } from '${createRequire(import.meta.url).resolve('commander')}';`,
        `import { registerExecutor } from '${join(repo, 'cli/commands/executor.ts')}';`,
        `import { registerInvoke } from '${join(repo, 'cli/commands/invoke.ts')}';`,
        "const p = new Command('defaas');",
        'registerExecutor(p);',
        'registerInvoke(p);',
        'await p.parseAsync(process.argv);',
      ].join('\n'),
    );
    executor = cli([...simulatedExecutor(join(dir, 'state'))]);
    executor.stdout?.on('data', (d) => {
      logs += d;
    });
    endpoint = await new Promise<string>((resolve, reject) => {
      let err = '';
      const t = setTimeout(() => reject(new Error(`executor did not start: ${err}`)), 20_000);
      executor.stderr?.on('data', (d) => {
        err += d;
        const m = /listening on (127\.0\.0\.1:\d+)/.exec(err);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
  }, 30_000);

  afterAll(async () => {
    if (executor.exitCode === null) executor.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('invokes a function and prints the verified receipt as JSON', async () => {
    const wat = join(dir, 'echo.wasm');
    const { buildExample } = await import('../examples/build-example.js');
    await writeFile(wat, await buildExample('echo'));
    const r = await run([
      'invoke',
      '--endpoint',
      endpoint,
      '--wasm',
      wat,
      '--input',
      'hello, enclave',
      '--policy',
      join(dir, 'state', 'policy.json'),
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout) as Record<string, unknown> & {
      receipt: { signer: string; typedData: { message: { firstNonce: string } } };
    };
    expect(o.outputText).toBe('hello, enclave');
    expect(Buffer.from(String(o.output), 'base64').toString()).toBe('hello, enclave');
    expect(o.receiptVerified).toBe(true);
    expect(o.receipt.signer).toMatch(/^0x[0-9a-f]{40}$/);
    expect(o.receipt.typedData.message.firstNonce).toBe(o.nonce);
  }, 30_000);

  it("shows the function's stderr and the executor's signed limits (--json and human output)", async () => {
    const wasm = join(dir, 'greet.wasm');
    const { buildExample } = await import('../examples/build-example.js');
    await writeFile(wasm, await buildExample('greet'));
    const base = ['invoke', '--endpoint', endpoint, '--wasm', wasm, '--input', 'cli'];
    const policy = ['--policy', join(dir, 'state', 'policy.json')];
    const j = await run([...base, ...policy, '--json']);
    expect(j.code).toBe(0);
    const o = JSON.parse(j.stdout) as Record<string, unknown>;
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
    const h = await run([...base, ...policy, '--verbose']);
    expect(h.code).toBe(0);
    expect(h.stdout).toBe('hello, cli\n');
    expect(h.stderr).toContain('[function stderr] greet: said hello\n');
    expect(h.stderr).toContain(
      'executor limits: memory 64 MiB · wall time 5000 ms · input 4 MiB · output 4 MiB · stderr 64 KiB · message 40 MiB',
    );
  }, 30_000);

  it('refuses at start an output limit that cannot fit one gRPC message, naming both numbers', async () => {
    const r = await runMain([
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
    const r = await run([
      'invoke',
      '--endpoint',
      endpoint,
      '--wasm',
      join(dir, 'echo.wasm'),
      '--input',
      'x',
      '--policy',
      join(dir, 'state', 'policy.json'),
      '--fetch',
      '--pcs-url',
      nowhere,
      '--kds-url',
      nowhere,
      '--cache-dir',
      join(dir, 'cache'),
    ]);
    expect(r.stderr).toMatch(/receipt verified/);
    expect(r.code).toBe(0);
  }, 30_000);

  it('exits non-zero with the stable code when the policy refuses the executor', async () => {
    const bad = join(dir, 'bad-policy.json');
    await writeFile(bad, JSON.stringify({ allowedTees: ['tdx'], dangerouslyAllowAnyMeasurement: true }));
    const r = await run([
      'invoke',
      '--endpoint',
      endpoint,
      '--wasm',
      join(dir, 'echo.wasm'),
      '--input',
      'x',
      '--policy',
      bad,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/POLICY_TEE_NOT_ALLOWED/);
  }, 30_000);

  it('refuses collateral flags that do not fit the TEE, or files that are missing, with exit 2', async () => {
    const state = ['--state-dir', join(dir, 'state-flags'), '--listen', '127.0.0.1:0'];
    // Through the real entry point (bin/defaas.mjs), which maps usage errors to exit 2.
    const run = (args: string[]) => runMain(args);
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
    expect(wrongTee.stderr).toMatch(/--collateral is for --tee tdx/);
    const missing = await run([
      'executor',
      'start',
      '--tee',
      'snp',
      '--snp-chain',
      join(dir, 'nope.pem'),
      ...state,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--snp-chain: .*nope\.pem does not exist/);
  }, 30_000);

  it('shuts down cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => executor.on('exit', (code) => resolve(code)));
    executor.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs).toMatch(/"msg":"executor stopped"/);
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
