/*
 * `defaas log serve` runs the attestation log (verifier/log/): the store in --dir, served over HTTP in
 * the C2SP formats, taking verified submissions, and anchoring checkpoints on chain when given one.
 * With --witness it asks tlog-witness witnesses to cosign each checkpoint (verifier/log/cosigning.ts).
 * `defaas log witness` (log-witness.ts) runs such a witness. `defaas log prove` writes a C2SP
 * tlog-proof file for one entry; `defaas log verify-proof` checks one offline with the log's vkey alone.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { JsonRpcProvider, Network } from 'ethers';
import pino from 'pino';
import { connectAttestationLog } from '../../contracts/bindings/attestation-log.js';
import { connectRegistry } from '../../contracts/bindings/registry.js';
import { connectWitnessPool } from '../../contracts/bindings/witness-pool.js';
import { PaddedWallet } from '../../contracts/deploy.js';
import { TxSender } from '../../verifier/agent/tx-sender.js';
import { writeFileAtomic } from '../../verifier/durable-file.js';
import { startAnchoring } from '../../verifier/log/anchor.js';
import { readBundle } from '../../verifier/log/audit.js';
import { chainRegistrationChecker, chainVerdictChecker } from '../../verifier/log/chain-checks.js';
import { openCheckpoint } from '../../verifier/log/checkpoint.js';
import { type Cosigning, startCosigning } from '../../verifier/log/cosigning.js';
import { entryIdentity, parseEntry } from '../../verifier/log/entry.js';
import { leafHash } from '../../verifier/log/hash.js';
import { inclusionProof } from '../../verifier/log/merkle.js';
import {
  ed25519Signer,
  ed25519Verifier,
  generateEd25519Key,
  type NoteVerifier,
} from '../../verifier/log/note.js';
import { checkTlogProof, formatTlogProof, parseTlogProof } from '../../verifier/log/proof.js';
import { logDirReader, logUrlReader } from '../../verifier/log/reader.js';
import { startLogServer } from '../../verifier/log/server.js';
import { LogStore } from '../../verifier/log/store.js';
import type { AdmitOptions } from '../../verifier/log/submission.js';
import { TILE_WIDTH, tileHashReader } from '../../verifier/log/tiles.js';
import { hash32Arg, hostPortArg, integerArg, listenFailure, splitHostPort } from '../args.js';
import { CliError, UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { privateKeyFromEnv, readPrivateKey, readText } from '../files.js';
import { action, printResult } from '../output.js';
import { untilStopped } from '../until-stopped.js';
import { pairArg, registerLogWitness, vkeyText, witnessEndpoints } from './log-witness.js';

export const DEFAULT_LOG_DIR = '.defaas/log';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

interface ServeOptions {
  dir: string;
  key?: string;
  origin?: string;
  listen: string;
  batchSize: number;
  batchMs: number;
  simulatedRoot: Uint8Array[];
  partyLimit: number;
  rpc?: string;
  deployment?: string;
  operatorKey?: string;
  anchorEvery: number;
  witness: Array<[string, string]>;
  logLevel: (typeof LOG_LEVELS)[number];
}

export function registerLog(program: Command): void {
  const log = program
    .command('log')
    .description('the attestation transparency log (C2SP tiles, checkpoints, proofs)');
  log
    .command('serve')
    .description(
      'run the attestation log: verify submissions (POST /add) and append them in batches, serve the checkpoint, tiles, entry bundles and evidence blobs over HTTP, and anchor checkpoints on chain',
    )
    .option('--dir <dir>', 'where the log lives (tiles, checkpoint, blobs)', DEFAULT_LOG_DIR)
    .option('--key <file>', "the log's signer key (created, with <file>.vkey, if missing)", undefined)
    .option(
      '--origin <origin>',
      'the log origin for a new key (the key name)',
      'defaas.local/attestation-log',
    )
    .option('--listen <host:port>', 'address to serve HTTP on', hostPortArg, '127.0.0.1:8090')
    .option('--batch-size <n>', 'entries per batch (1..256)', integerArg(1, 256), 256)
    .option('--batch-ms <ms>', 'longest wait before a batch is written', integerArg(0, 60_000), 1000)
    .option(
      '--simulated-root <sha256>',
      'admit simulated evidence signed by this software root (SHA-256 of its public key, hex); repeatable',
      (v: string, prev: Uint8Array[]) => [...prev, hash32Arg(v)],
      [] as Uint8Array[],
    )
    .option('--party-limit <n>', 'new entries one platform or round may add per hour', integerArg(1), 256)
    .option(
      '--rpc <url>',
      'JSON-RPC endpoint: check revealed verdicts against the chain, anchor checkpoints (with --operator-key)',
    )
    .option('--deployment <file>', 'deployment file naming the AttestationLog contract (with --rpc)')
    .option(
      '--operator-key <file>',
      'the log operator wallet (secp256k1, one line of hex; or $DEFAAS_LOG_OPERATOR_KEY)',
    )
    .option('--anchor-every <s>', 'seconds between anchors', integerArg(1), 60)
    .option(
      '--witness <url>=<vkey>',
      'a tlog-witness witness to ask for cosignatures (its submission URL and cosigner vkey, inline or a file); repeatable',
      pairArg('<url>=<vkey or file>'),
      [] as Array<[string, string]>,
    )
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, 'info')
    .option('--json', 'print the serving line as JSON')
    .addHelpText(
      'after',
      `\nThe log runs until SIGTERM/SIGINT; what is queued is written before it exits. Entries are acknowledged only\nonce a signed checkpoint covering them is on disk.\n\nExample:\n  defaas log serve --dir .defaas/log --listen 127.0.0.1:8090\n${EXIT_CODES_HELP}`,
    )
    .action(action(serve));

  registerLogWitness(log);

  log
    .command('prove')
    .description(
      'write a C2SP tlog-proof file for one entry: its inclusion under the latest checkpoint, with the entry in the extra line',
    )
    .requiredOption('--log <url|dir>', 'the log (HTTP URL or directory)')
    .requiredOption('--vkey <file|vkey>', "the log's verifier key")
    .requiredOption('--index <n>', 'the entry index', integerArg(0))
    .option('--out <file>', 'where to write the proof (default: stdout)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(action(prove));

  log
    .command('verify-proof')
    .description('check a tlog-proof file offline with the log key alone, and print the entry it proves')
    .argument('<file>', 'the proof file')
    .requiredOption('--vkey <file|vkey>', "the log's verifier key")
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `${EXIT_CODES_HELP}For this command: 0 the proof holds; 1 it does not.`)
    .action(action(verifyProof));
}

/** A vkey given inline or in a file. */
export async function readVerifierKey(v: string): Promise<NoteVerifier> {
  const text = await vkeyText(v, '--vkey');
  try {
    return ed25519Verifier(text);
  } catch (e) {
    throw new UsageError(`--vkey: not a log verifier key (${(e as Error).message})`, 'FILE_INVALID', {
      flag: '--vkey',
    });
  }
}

/** The log's signer key from `path`, created with a fresh Ed25519 key named `origin` if missing. */
async function signerKey(
  path: string,
  origin: string,
): Promise<{ skey: string; vkey: string; created: boolean }> {
  try {
    const skey = (await readFile(path, 'utf8')).trim();
    try {
      return { skey, vkey: ed25519Signer(skey).verifierKey, created: false };
    } catch (e) {
      throw new UsageError(
        `--key: ${path} is not a log signer key (${(e as Error).message})`,
        'FILE_INVALID',
        {
          flag: '--key',
          path,
        },
      );
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const k = generateEd25519Key(origin);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${k.signerKey}\n`, 0o600);
  await writeFileAtomic(`${path}.vkey`, `${k.verifierKey}\n`, 0o644);
  return { skey: k.signerKey, vkey: k.verifierKey, created: true };
}

async function serve(json: boolean, o: ServeOptions): Promise<ExitCode> {
  const log = pino(
    { level: o.logLevel, base: { svc: 'defaas-log' } },
    pino.destination({ dest: 2, sync: true }),
  );
  const keyPath = resolve(o.key ?? `${DEFAULT_LOG_DIR}.key`);
  const { skey, vkey, created } = await signerKey(keyPath, o.origin ?? 'defaas.local/attestation-log');
  const signer = ed25519Signer(skey);
  if (created) log.info({ key: keyPath, vkey }, 'created a log key');
  // Witnesses are asked after each checkpoint; /checkpoint serves the cosignatures gathered so far.
  const endpoints = await witnessEndpoints(o.witness);
  let cosigning: Cosigning | undefined;
  const store = await LogStore.open({
    dir: resolve(o.dir),
    origin: signer.name,
    signer,
    verifier: ed25519Verifier(vkey),
    batchSize: o.batchSize,
    batchDelayMs: o.batchMs,
    identity: entryIdentity,
    onCheckpoint: (c) => {
      log.debug({ size: c.size }, 'checkpoint');
      cosigning?.notify();
    },
  });
  if (endpoints.length > 0)
    cosigning = startCosigning({
      witnesses: endpoints,
      current: () => ({ checkpoint: store.checkpoint, hashes: store.hashReader() }),
      log: (e) =>
        String(e.event) === 'cosigned'
          ? log.debug(e, 'cosigned')
          : /fork|inconsistent|ahead/.test(String(e.event))
            ? log.error(e, `WITNESS: ${String(e.message)}`)
            : log.warn(e, String(e.event)),
    });
  cosigning?.notify();
  let anchoring: ReturnType<typeof startAnchoring> | undefined;
  let chainChecks: Pick<AdmitOptions, 'checkVerdict' | 'checkRegistration'> = {};
  if (o.rpc !== undefined || o.deployment !== undefined) {
    if (o.rpc === undefined || o.deployment === undefined)
      throw new UsageError('the chain checks need both --rpc and --deployment', 'MISSING_ARGUMENT', {
        flag: '--rpc',
      });
    const dep = JSON.parse(await readText(o.deployment, '--deployment')) as {
      chainId?: number;
      contracts?: { attestationLog?: string; witnessPool?: string; registry?: string };
    };
    const { attestationLog, witnessPool, registry } = dep.contracts ?? {};
    if (
      typeof attestationLog !== 'string' ||
      typeof witnessPool !== 'string' ||
      typeof registry !== 'string' ||
      typeof dep.chainId !== 'number'
    )
      throw new UsageError(
        `--deployment: ${o.deployment} does not name the AttestationLog, WitnessPool and Registry`,
        'FILE_INVALID',
      );
    const provider = new JsonRpcProvider(o.rpc, Network.from(BigInt(dep.chainId)), { staticNetwork: true });
    chainChecks = {
      checkVerdict: chainVerdictChecker(connectWitnessPool(witnessPool, provider)),
      checkRegistration: chainRegistrationChecker(connectRegistry(registry, provider)),
    };
    const key =
      o.operatorKey !== undefined
        ? await readPrivateKey(o.operatorKey, '--operator-key')
        : privateKeyFromEnv('DEFAAS_LOG_OPERATOR_KEY');
    if (key !== undefined) {
      const wallet = new PaddedWallet(key, provider);
      anchoring = startAnchoring({
        contract: connectAttestationLog(attestationLog, wallet),
        operator: wallet.address,
        sender: new TxSender({
          provider,
          onRetry: (label, attempt, e) => log.warn({ label, attempt, err: e }, 'retrying'),
        }),
        checkpoint: () => store.checkpoint,
        intervalMs: o.anchorEvery * 1000,
        log: (e) =>
          e.event === 'fork'
            ? log.error(e, 'FORK: the chain holds another view of this log')
            : log.info(e, String(e.event)),
      });
    } else log.warn('no --operator-key: checkpoints are not anchored');
  }
  const { host, port } = splitHostPort(o.listen);
  const witnessed = cosigning;
  let server: Awaited<ReturnType<typeof startLogServer>>;
  try {
    server = await startLogServer(
      {
        store,
        admit: { simulatedRoots: o.simulatedRoot, ...chainChecks },
        partyLimitPerHour: o.partyLimit,
        log: (e) => log.info(e, String(e.event)),
        ...(witnessed && { checkpointText: () => witnessed.cosignedText() }),
      },
      { host, port },
    );
  } catch (e) {
    await cosigning?.stop();
    await store.close();
    throw listenFailure(e, o.listen);
  }
  printResult(
    json,
    {
      url: server.url,
      origin: signer.name,
      vkey,
      dir: resolve(o.dir),
      size: store.checkpoint.size,
      anchoring: anchoring !== undefined,
      witnesses: endpoints.map((w) => w.url),
    },
    `log serving on ${server.url}\n  origin   ${signer.name}\n  vkey     ${vkey}\n  dir      ${resolve(o.dir)}\n  entries  ${store.checkpoint.size}\n` +
      (anchoring ? `  anchors  every ${o.anchorEvery} s\n` : '') +
      endpoints.map((w) => `  witness  ${w.verifier.name} at ${w.url}\n`).join(''),
  );
  await untilStopped(log, async () => {
    await server.close();
    await store.close();
    await cosigning?.stop();
    await anchoring?.anchorNow();
    await anchoring?.stop();
  });
  return EXIT.OK;
}

/** A log given as an HTTP URL or a directory. */
export const readerFor = (source: string) =>
  /^https?:\/\//.test(source) ? logUrlReader(source) : logDirReader(resolve(source));

async function prove(
  json: boolean,
  o: { log: string; vkey: string; index: number; out?: string },
): Promise<ExitCode> {
  const verifier = await readVerifierKey(o.vkey);
  const read = readerFor(o.log);
  let text: Uint8Array | undefined;
  try {
    text = await read('checkpoint');
  } catch (e) {
    throw new CliError('CHAIN_UNAVAILABLE', `--log: ${o.log} cannot be read (${(e as Error).message})`);
  }
  if (text === undefined) throw new UsageError(`--log: ${o.log} serves no checkpoint`, 'FILE_NOT_FOUND');
  const checkpointText = new TextDecoder().decode(text);
  const { checkpoint } = openCheckpoint(checkpointText, [verifier], { origin: verifier.name });
  if (o.index >= checkpoint.size)
    throw new UsageError(`--index: the log has ${checkpoint.size} entries`, 'INVALID_ARGUMENT', {
      flag: '--index',
    });
  const reader = tileHashReader(checkpoint.size, checkpoint.root, async (p) => {
    const b = await read(p);
    if (b === undefined) throw new Error(`${p} is not served`);
    return b;
  });
  const bundle = Math.floor(o.index / TILE_WIDTH);
  const entries = await readBundle(read, bundle, Math.min(TILE_WIDTH, checkpoint.size - bundle * TILE_WIDTH));
  const entry = entries[o.index % TILE_WIDTH]!;
  const proof = await inclusionProof(o.index, checkpoint.size, reader);
  const file = formatTlogProof({ extra: entry, index: o.index, proof, checkpoint: checkpointText });
  // The proof must hold before it is handed out: the entry's leaf under the signed root.
  checkTlogProof(file, leafHash(entry), { origin: verifier.name, logKeys: [verifier] });
  if (o.out !== undefined) await writeFile(o.out, file);
  else if (!json) process.stdout.write(file);
  if (o.out !== undefined || json)
    printResult(
      json,
      { index: o.index, size: checkpoint.size, out: o.out, proof: o.out === undefined ? file : undefined },
      `proof of entry ${o.index} under size ${checkpoint.size} written to ${o.out}`,
    );
  return EXIT.OK;
}

async function verifyProof(json: boolean, path: string, o: { vkey: string }): Promise<ExitCode> {
  const verifier = await readVerifierKey(o.vkey);
  const text = await readText(path, '<file>');
  const p = parseTlogProof(text);
  if (p.extra === undefined)
    throw new UsageError(`${path}: the proof carries no entry (no extra line) to check`, 'FILE_INVALID');
  const v = checkTlogProof(text, leafHash(p.extra), { origin: verifier.name, logKeys: [verifier] });
  let entry: unknown;
  try {
    entry = parseEntry(p.extra);
  } catch {
    entry = undefined;
  }
  printResult(
    json,
    { index: p.index, size: v.checkpoint.size, origin: v.checkpoint.origin, entry },
    `proof holds: entry ${p.index} is in ${v.checkpoint.origin} at size ${v.checkpoint.size}\n${entry ? JSON.stringify(entry, null, 2) : ''}`,
  );
  return EXIT.OK;
}
