import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../cli/main.js';
import { expectFailure, runCli as run } from './cli-run.js';

/*
 * The command line of every `defaas` command: --version, --help, commander validation (choices and
 * argument parsers), private keys from files only, and the one failure format (JSON under --json,
 * `defaas: CODE: message` on stderr otherwise). None of these needs a chain or an executor.
 */

const repo = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'defaas-usage-'));
/** A private key used only to check that it is never echoed. */
const SECRET = '4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';

const policy = join(dir, 'policy.json');
writeFileSync(policy, JSON.stringify({ allowedTees: ['simulated'], dangerouslyAllowAnyMeasurement: true }));
const wasm = join(dir, 'f.wasm');
writeFileSync(wasm, new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
/** `invoke` with everything it reads before connecting; the endpoint is never reached in these tests. */
const invoke = ['invoke', '--endpoint', '127.0.0.1:9', '--wasm', wasm, '--input', 'x', '--policy', policy];

afterEach(() => {
  delete process.env.DEFAAS_DEPLOYER_KEY;
});

describe('defaas --version and --help', () => {
  it('--version prints the version in package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
    const r = await run('--version');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${pkg.version}\n`);
  });

  it('--help works on every command, and every command with a result has --json and the exit codes', async () => {
    // Every command of the program, walked from buildProgram(): a new command is checked without being listed.
    const walk = (c: Command, path: string[]): string[][] => [
      path,
      ...c.commands.flatMap((sub) => walk(sub, [...path, sub.name()])),
    ];
    const all = walk(buildProgram(), []);
    expect(all.length).toBeGreaterThan(30);
    const groups = new Set(
      all
        .filter((p) => all.some((q) => q.length === p.length + 1 && p.every((x, i) => q[i] === x)))
        .map(String),
    );
    for (const args of all) {
      const r = await run(...args, '--help');
      expect(r.code, `${args.join(' ')}: ${r.out}${r.err}`).toBe(0);
      expect(r.out).toMatch(/Usage:/);
      if (groups.has(String(args))) continue;
      // Every command with a result: --json, and its exit codes (the shared table, or its own).
      expect(r.out, args.join(' ')).toMatch(/--json/);
      expect(r.out, args.join(' ')).toMatch(/\nExit codes: 0 /);
    }
    for (const args of [
      ['attest', 'verify'],
      ['chain', 'up'],
      ['executor', 'start'],
      ['invoke'],
      ['demo'],
      ['market', 'levels'],
      ['market', 'orders'],
      ['market', 'executors'],
      ['provider', 'start'],
      ['order', 'post'],
    ]) {
      const r = await run(...args, '--help');
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out).toMatch(/--json/);
      expect(r.out).toMatch(/Exit codes: 0 ok, 1 verification failed/);
      expect(r.out).toMatch(/4 refused by policy/);
    }
  });

  it('a command group without a subcommand is a usage error (after its help, on stderr)', async () => {
    const r = await run('chain');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/Usage: defaas chain[\s\S]*\ndefaas: MISSING_COMMAND: a subcommand is required\n$/);
  });
});

describe('commander validation: invalid values exit 2, as one JSON object under --json', () => {
  it.each([
    ['--tee snp (the TEE type is spelled sev-snp)', ['executor', 'start', '--tee', 'snp']],
    ['--tee sgx (no executor runs on SGX)', ['executor', 'start', '--tee', 'sgx']],
    ['--log-level loud', ['executor', 'start', '--log-level', 'loud']],
    ['--mode slow', [...invoke, '--mode', 'slow']],
    ['--receipts weekly', [...invoke, '--receipts', 'weekly']],
  ])('choices: %s', async (_name, args) => {
    const r = await run(...args, '--json');
    expect(r.code).toBe(2);
    expect(expectFailure(r.out, 'INVALID_ARGUMENT', 'usage').message).toMatch(/Allowed choices are/);
  });

  it.each([
    ['market executors --tee tdx,sgx', ['market', 'executors', '--tee', 'tdx,sgx']],
    ['market orders --state open (the state is bidding)', ['market', 'orders', '--state', 'open']],
    ['market levels --from 0 (ids start at 1)', ['market', 'levels', '--from', '0']],
    ['market executors --min-gflops -1', ['market', 'executors', '--min-gflops', '-1']],
    ['demo --calls 0', ['demo', '--calls', '0']],
    ['executor --lease -1', ['executor', 'start', '--lease', '-1']],
    ['executor --lease 2^256', ['executor', 'start', '--lease', (1n << 256n).toString()]],
    ['executor --price 1e3', ['executor', 'start', '--price', '1e3']],
    ['executor --workers 0', ['executor', 'start', '--workers', '0']],
    ['executor --memory-mb 1.5', ['executor', 'start', '--memory-mb', '1.5']],
    ['executor --listen 7443', ['executor', 'start', '--listen', '7443']],
    ['invoke --endpoint localhost', ['invoke', '--endpoint', 'localhost', '--wasm', wasm, '--input', 'x']],
    ['invoke --lease abc', [...invoke, '--lease', 'abc']],
    ['invoke --identity 0x1234', [...invoke, '--identity', '0x1234']],
    [
      'invoke --identity (bad checksum)',
      [...invoke, '--identity', '0xAbcdef0000000000000000000000000000000000'],
    ],
    ['invoke --evidence-hash (31 bytes)', [...invoke, '--evidence-hash', `0x${'ab'.repeat(31)}`]],
    ['invoke --evidence-hash (not hex)', [...invoke, '--evidence-hash', 'zz'.repeat(32)]],
    ['attest verify --at 2025-07-01', ['attest', 'verify', wasm, '--at', '2025-07-01']],
    ['attest verify --pcs-url ftp://x', ['attest', 'verify', wasm, '--pcs-url', 'ftp://x']],
    ['chain up --rpc localhost:8545', ['chain', 'up', '--rpc', 'localhost:8545']],
  ])('argument parsers: %s', async (_name, args) => {
    const r = await run(...args, '--json');
    expect(r.code).toBe(2);
    expect(expectFailure(r.out, 'INVALID_ARGUMENT', 'usage').message).toMatch(/argument .* is invalid\. \S/);
  });

  it('without --json the same error is one `defaas: CODE: message` on stderr and nothing on stdout', async () => {
    const r = await run('executor', 'start', '--tee', 'snp');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      "defaas: INVALID_ARGUMENT: option '--tee <type>' argument 'snp' is invalid. Allowed choices are simulated, tdx, sev-snp.\n" +
        '(run with --help for usage)\n',
    );
  });

  it('unknown options, missing and conflicting flags have their own codes', async () => {
    expectFailure((await run('attest', 'verify', 'x', '--nope', '--json')).out, 'UNKNOWN_OPTION', 'usage');
    expectFailure((await run('attest', 'verify', '--json')).out, 'MISSING_ARGUMENT', 'usage');
    expectFailure((await run('invoke', '--wasm', wasm, '--json')).out, 'MISSING_ARGUMENT', 'usage');
    expectFailure((await run(...invoke, '--input-file', wasm, '--json')).out, 'CONFLICTING_OPTIONS', 'usage');
    expectFailure((await run('nope', '--json')).out, 'UNKNOWN_COMMAND', 'usage');
  });
});

describe('private keys come from files (--key <file>), never from the command line', () => {
  const badKey = join(dir, 'bad.key');
  writeFileSync(badKey, `not a key but secret-ish: ${SECRET.slice(0, 20)}\n`);
  const outOfRange = join(dir, 'n.key');
  writeFileSync(outOfRange, `${'f'.repeat(64)}\n`);

  it('chain up --private-key is gone (and the key is not echoed)', async () => {
    const r = await run('chain', 'up', '--private-key', `0x${SECRET}`, '--json');
    expect(r.code).toBe(2);
    expectFailure(r.out, 'UNKNOWN_OPTION', 'usage');
    expect(r.out + r.err).not.toContain(SECRET);
  });

  it.each([
    ['chain up', ['chain', 'up', '--rpc', 'http://127.0.0.1:9']],
    ['invoke', invoke],
  ])(
    '%s --key: a missing file, a file without a key, and an out-of-range key are usage errors naming the file',
    async (_name, args) => {
      const missing = join(dir, 'missing.key');
      const m = await run(...args, '--key', missing, '--json');
      expect(m.code).toBe(2);
      expect(expectFailure(m.out, 'FILE_NOT_FOUND', 'usage').message).toContain(missing);
      for (const file of [badKey, outOfRange]) {
        const r = await run(...args, '--key', file, '--json');
        expect(r.code).toBe(2);
        const j = expectFailure(r.out, 'FILE_INVALID', 'usage');
        expect(j.message).toContain(file);
        expect(r.out + r.err).not.toContain(SECRET.slice(0, 20));
        expect(r.out + r.err).not.toContain('f'.repeat(64));
      }
      const text = await run(...args, '--key', badKey);
      expect(text.err).toMatch(new RegExp(`^defaas: FILE_INVALID: --key: ${badKey} does not hold`));
    },
  );

  it('a malformed $DEFAAS_DEPLOYER_KEY is a usage error that does not echo it', async () => {
    process.env.DEFAAS_DEPLOYER_KEY = SECRET.slice(2);
    const r = await run('chain', 'up', '--rpc', 'http://127.0.0.1:9', '--json');
    expect(r.code).toBe(2);
    expect(expectFailure(r.out, 'INVALID_ARGUMENT', 'usage').message).toMatch(/DEFAAS_DEPLOYER_KEY/);
    expect(r.out + r.err).not.toContain(SECRET.slice(2));
  });
});

describe('transient failures exit 3', () => {
  it('chain up --rpc to an endpoint that does not answer: CHAIN_UNAVAILABLE', async () => {
    const r = await run('chain', 'up', '--rpc', 'http://127.0.0.1:9', '--json');
    expect(r.code).toBe(3);
    expect(expectFailure(r.out, 'CHAIN_UNAVAILABLE', 'transient').info).toEqual({
      rpc: 'http://127.0.0.1:9',
    });
  });
});
