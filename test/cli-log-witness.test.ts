import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvidenceBundle } from '../attestation/bundle.js';
import { generateSimulatedRoot, produceSimulatedEvidence } from '../attestation/simulated.js';
import { formatLogSubmission } from '../protocol/log-submission.js';
import { generateCosignerKey } from '../verifier/log/cosignature.js';
import { generateEd25519Key } from '../verifier/log/note.js';
import { expectFailure, onlyJson, runCli } from './cli-run.js';

/*
 * The commands together, as separate processes: two `defaas log witness`, one `defaas log serve
 * --witness … --witness …`, and `defaas audit verify --policy` (in-process) needing both cosignatures.
 */

const repo = new URL('..', import.meta.url).pathname;
const ORIGIN = 'cli.example.test/log';
const root = generateSimulatedRoot();
const rootHex = Buffer.from(root.keyHash).toString('hex');

let dir: string;
const children: ChildProcess[] = [];

/** Starts `defaas …args --json` and resolves with its first stdout line (the serving line) as JSON. */
async function serving(args: string[]): Promise<Record<string, unknown>> {
  const c = spawn(process.execPath, [join(repo, 'bin', 'defaas.mjs'), ...args, '--json'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(c);
  let err = '';
  c.stderr?.on('data', (d) => {
    err += d;
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    c.stdout?.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    c.once('exit', (code) => reject(new Error(`defaas ${args[1]} exited ${code}: ${err}`)));
  });
  return JSON.parse(line) as Record<string, unknown>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'defaas-cli-witness-'));
  const k = generateEd25519Key(ORIGIN);
  await writeFile(join(dir, 'log.key'), `${k.signerKey}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'log.key.vkey'), `${k.verifierKey}\n`);
});

afterAll(async () => {
  for (const c of children.reverse())
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
  await rm(dir, { recursive: true, force: true });
});

describe('defaas log witness / log serve --witness / audit verify --policy', () => {
  it('two witness processes cosign what the log serves; an audit needing both passes', async () => {
    const w = [];
    for (const n of [1, 2])
      w.push(
        await serving([
          'log',
          'witness',
          '--key',
          `w${n}.key`,
          '--name',
          `w${n}.cli.example.test`,
          '--state-dir',
          `w${n}`,
          '--log',
          `${ORIGIN}=log.key.vkey`,
          '--listen',
          '127.0.0.1:0',
        ]),
      );
    // The witness created its key and printed the vkey it wrote beside it.
    expect(w[0]!.vkey).toBe((await readFile(join(dir, 'w1.key.vkey'), 'utf8')).trim());
    expect(w[0]!.logs).toEqual([{ origin: ORIGIN, size: null }]);
    const log = await serving([
      'log',
      'serve',
      '--key',
      'log.key',
      '--dir',
      'log',
      '--listen',
      '127.0.0.1:0',
      '--batch-ms',
      '10',
      '--simulated-root',
      rootHex,
      '--witness',
      `${w[0]!.url}=${w[0]!.vkey}`,
      '--witness',
      `${w[1]!.url}=w2.key.vkey`,
      '--log-level',
      'warn',
    ]);
    expect(log.witnesses).toEqual([w[0]!.url, w[1]!.url]);
    const evidence = encodeEvidenceBundle({
      evidence: produceSimulatedEvidence(root, { reportData: new Uint8Array(64) }),
    });
    const added = await fetch(`${log.url}/add`, {
      method: 'POST',
      body: formatLogSubmission({
        kind: 'session-verified',
        evidence,
        chain: null,
        enclave: null,
        provider: null,
        executorId: null,
        leaseId: '1',
        roundId: null,
        policyHash: null,
        verdict: 'accepted',
        code: null,
      }),
    });
    expect(added.status).toBe(200);
    // Cosignatures arrive after the checkpoint: the log signature and one line per witness.
    const deadline = Date.now() + 10_000;
    let note = '';
    while (Date.now() < deadline) {
      note = await (await fetch(`${log.url}/checkpoint`)).text();
      if (note.split('\n— ').length === 4 && note.includes('\n1\n')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(note.split('\n— ')).toHaveLength(4);

    const policy = join(dir, 'policy');
    await writeFile(
      policy,
      `# the log and its two witnesses, both needed\nlog ${(await readFile(join(dir, 'log.key.vkey'), 'utf8')).trim()}\nwitness one ${w[0]!.vkey}\nwitness two ${w[1]!.vkey}\ngroup both all one two\nquorum both\n`,
    );
    const ok = await runCli(
      'audit',
      'verify',
      '--log',
      String(log.url),
      '--policy',
      policy,
      '--simulated-root',
      rootHex,
      '--json',
    );
    expect(ok.code, ok.out + ok.err).toBe(0);
    expect(onlyJson(ok.out)).toMatchObject({
      clean: true,
      cosigners: ['w1.cli.example.test', 'w2.cli.example.test'],
    });

    // A policy that needs a third witness, which never cosigned: a finding, exit 1.
    const third = join(dir, 'policy3');
    const w3 = generateCosignerKey('w3.cli.example.test');
    await writeFile(
      third,
      (await readFile(policy, 'utf8')).replace(
        'group both all one two',
        `witness three ${w3.verifierKey}\ngroup both all one two three`,
      ),
    );
    const short = await runCli(
      'audit',
      'verify',
      '--log',
      String(log.url),
      '--policy',
      third,
      '--simulated-root',
      rootHex,
      '--json',
    );
    expect(short.code).toBe(1);
    expect(onlyJson(short.out).findings).toMatchObject([{ code: 'LOG_QUORUM_NOT_MET' }]);

    // A malformed policy is a usage error naming its line.
    await writeFile(third, 'quorum nobody\n');
    const bad = await runCli('audit', 'verify', '--log', String(log.url), '--policy', third, '--json');
    expect(bad.code).toBe(2);
    expect(String(expectFailure(bad.out, 'FILE_INVALID', 'usage').message)).toContain('line 1');
  }, 60_000);
});
