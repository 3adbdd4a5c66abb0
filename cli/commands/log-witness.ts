/*
 * `defaas log witness` runs a c2sp.org/tlog-witness witness for one or more logs
 * (verifier/log/witness-server.ts): it cosigns a log's checkpoints only along consistency proofs from
 * the one it cosigned last, and keeps that state in --state-dir. `--witness <url>=<vkey>` for
 * `defaas log serve` and `--policy` for `defaas audit verify` are parsed here too.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import pino from 'pino';
import { writeFileAtomic } from '../../verifier/durable-file.js';
import {
  type CosignatureVerifier,
  cosignatureVerifier,
  cosigner,
  generateCosignerKey,
} from '../../verifier/log/cosignature.js';
import type { WitnessEndpoint } from '../../verifier/log/cosigning.js';
import { isLogError } from '../../verifier/log/errors.js';
import { ed25519Verifier, type NoteVerifier, parseVerifierKey } from '../../verifier/log/note.js';
import { parseTlogPolicy, type TlogPolicy } from '../../verifier/log/policy.js';
import { startWitnessServer, type WitnessedLog } from '../../verifier/log/witness-server.js';
import { hostPortArg, integerArg, listenFailure, splitHostPort } from '../args.js';
import { UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readText } from '../files.js';
import { action, printResult } from '../output.js';
import { untilStopped } from '../until-stopped.js';

export const DEFAULT_WITNESS_KEY = '.defaas/log-witness.key';
export const DEFAULT_WITNESS_STATE = '.defaas/log-witness';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

interface WitnessOptions {
  key: string;
  name: string;
  stateDir: string;
  log: Array<{ origin: string; vkey: string }>;
  listen: string;
  clientLimit: number;
  logLevel: (typeof LOG_LEVELS)[number];
}

/** Splits `<a>=<b>` at its first `=` (a vkey's base64 may end in `=`, a URL or origin rarely holds one). */
export function pairArg(what: string): (v: string, prev: Array<[string, string]>) => Array<[string, string]> {
  return (v, prev) => {
    const at = v.indexOf('=');
    if (at <= 0 || at === v.length - 1) throw new InvalidArgumentError(`Expected ${what}.`);
    return [...prev, [v.slice(0, at), v.slice(at + 1)]];
  };
}

/** A vkey given inline, or else the path of a file holding one. */
export async function vkeyText(v: string, flag: string): Promise<string> {
  try {
    parseVerifierKey(v);
    return v;
  } catch {
    return (await readText(v, flag)).trim();
  }
}

function keyOrUsage<T>(make: (vkey: string) => T, vkey: string, flag: string, what: string): T {
  try {
    return make(vkey);
  } catch (e) {
    if (isLogError(e)) throw new UsageError(`${flag}: not ${what} (${e.message})`, 'FILE_INVALID', { flag });
    throw e;
  }
}

/** `--witness <url>=<vkey|file>` values of `defaas log serve`, as cosigning endpoints. */
export async function witnessEndpoints(pairs: ReadonlyArray<[string, string]>): Promise<WitnessEndpoint[]> {
  const out: WitnessEndpoint[] = [];
  for (const [url, v] of pairs) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new UsageError(`--witness: ${url} is not a URL`, 'INVALID_ARGUMENT', { flag: '--witness' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new UsageError(`--witness: ${url} is not an http(s) URL`, 'INVALID_ARGUMENT', {
        flag: '--witness',
      });
    const verifier: CosignatureVerifier = keyOrUsage(
      cosignatureVerifier,
      await vkeyText(v, '--witness'),
      '--witness',
      'a witness cosigner vkey (type 0x04)',
    );
    out.push({ url, verifier });
  }
  return out;
}

/** A tlog-policy file (`--policy`), its refusals as usage errors naming the line. */
export async function readPolicyFile(path: string): Promise<TlogPolicy> {
  const text = await readText(path, '--policy');
  try {
    return parseTlogPolicy(text);
  } catch (e) {
    if (isLogError(e, 'LOG_POLICY_MALFORMED'))
      throw new UsageError(`--policy: ${path}: ${e.message}`, 'FILE_INVALID', { flag: '--policy', path });
    throw e;
  }
}

export function registerLogWitness(log: Command): void {
  log
    .command('witness')
    .description(
      'run a tlog-witness witness: cosign the checkpoints of the given logs, each only along a consistency proof from the one it cosigned last (POST /add-checkpoint)',
    )
    .option(
      '--key <file>',
      'the cosigner key (type 0x04; created, with <file>.vkey, if missing)',
      DEFAULT_WITNESS_KEY,
    )
    .option('--name <name>', 'the key name for a new key', 'defaas.local/witness')
    .option(
      '--state-dir <dir>',
      'where the latest cosigned checkpoint of each log is kept',
      DEFAULT_WITNESS_STATE,
    )
    .option(
      '--log <origin>=<vkey>',
      'a log to witness: its origin and its vkey (inline or a file); repeatable',
      pairArg('<origin>=<vkey or file>'),
      [] as Array<[string, string]>,
    )
    .option('--listen <host:port>', 'address to serve HTTP on', hostPortArg, '127.0.0.1:8091')
    .option('--client-limit <n>', 'requests one client address may make per minute', integerArg(1), 600)
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, 'info')
    .option('--json', 'print the serving line as JSON')
    .addHelpText(
      'after',
      `\nThe witness runs until SIGTERM/SIGINT. A checkpoint is cosigned only after the new state is on disk.\n\nExample:\n  defaas log witness --key w1.key --state-dir .defaas/w1 --log defaas.local/attestation-log=.defaas/log.key.vkey\n${EXIT_CODES_HELP}`,
    )
    .action(
      action(async (json: boolean, o: Omit<WitnessOptions, 'log'> & { log: Array<[string, string]> }) =>
        witness(json, { ...o, log: o.log.map(([origin, vkey]) => ({ origin, vkey })) }),
      ),
    );
}

/** The cosigner key at `path`, created with a fresh key named `name` if missing. */
async function cosignerKey(path: string, name: string): Promise<{ skey: string; created: boolean }> {
  try {
    const skey = (await readFile(path, 'utf8')).trim();
    keyOrUsage(cosigner, skey, '--key', `a witness cosigner key (${path})`);
    return { skey, created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const k = keyOrUsage((n: string) => generateCosignerKey(n), name, '--name', 'a valid key name');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${k.signerKey}\n`, 0o600);
  await writeFileAtomic(`${path}.vkey`, `${k.verifierKey}\n`, 0o644);
  return { skey: k.signerKey, created: true };
}

async function witness(json: boolean, o: WitnessOptions): Promise<ExitCode> {
  if (o.log.length === 0)
    throw new UsageError('give at least one --log <origin>=<vkey> to witness', 'MISSING_ARGUMENT', {
      flag: '--log',
    });
  const log = pino(
    { level: o.logLevel, base: { svc: 'defaas-log-witness' } },
    pino.destination({ dest: 2, sync: true }),
  );
  const byOrigin = new Map<string, NoteVerifier[]>();
  for (const l of o.log) {
    const v = keyOrUsage(ed25519Verifier, await vkeyText(l.vkey, '--log'), '--log', 'a log vkey (Ed25519)');
    byOrigin.set(l.origin, [...(byOrigin.get(l.origin) ?? []), v]);
  }
  const logs: WitnessedLog[] = [...byOrigin].map(([origin, keys]) => ({ origin, keys }));
  const keyPath = resolve(o.key);
  const { skey, created } = await cosignerKey(keyPath, o.name);
  const c = cosigner(skey);
  if (created) log.info({ key: keyPath, vkey: c.verifierKey }, 'created a witness key');
  const { host, port } = splitHostPort(o.listen);
  let server: Awaited<ReturnType<typeof startWitnessServer>>;
  try {
    server = await startWitnessServer(
      {
        cosigner: c,
        logs,
        stateDir: resolve(o.stateDir),
        clientLimitPerMinute: o.clientLimit,
        log: (e) => (e.event === 'error' ? log.error(e, 'error') : log.info(e, String(e.event))),
      },
      { host, port },
    );
  } catch (e) {
    throw listenFailure(e, o.listen);
  }
  printResult(
    json,
    {
      url: server.url,
      name: c.name,
      vkey: c.verifierKey,
      stateDir: resolve(o.stateDir),
      logs: logs.map((l) => ({ origin: l.origin, size: server.cosignedSize(l.origin) ?? null })),
    },
    `witness serving on ${server.url}\n  name     ${c.name}\n  vkey     ${c.verifierKey}\n  state    ${resolve(o.stateDir)}\n` +
      logs
        .map((l) => `  log      ${l.origin} (cosigned size ${server.cosignedSize(l.origin) ?? 'none'})\n`)
        .join(''),
  );
  await untilStopped(log, () => server.close());
  return EXIT.OK;
}
