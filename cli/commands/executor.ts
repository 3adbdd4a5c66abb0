import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ZeroAddress } from 'ethers';
import pino from 'pino';
import { toHex } from '../../attestation/bytes.js';
import type { TeeType } from '../../attestation/evidence.js';
import { loadIntelCollateral } from '../../attestation/intel/collateral.js';
import type { Policy } from '../../attestation/policy.js';
import { parseAmdChain } from '../../attestation/sev-snp/certs.js';
import {
  generateSimulatedRoot,
  type SimulatedRoot,
  simulatedRootFromPem,
} from '../../attestation/simulated.js';
import { isEnclaveHostError } from '../../enclave-host/errors.js';
import { allowListAuthority, Executor, type ExecutorOptions } from '../../enclave-host/executor.js';
import { ConfigfsTsmQuoteProvider } from '../../enclave-host/quote/configfs-tsm.js';
import { SimulatedQuoteProvider } from '../../enclave-host/quote/simulated.js';
import { FunctionRuntime } from '../../enclave-host/runtime/function-runtime.js';
import {
  type CollateralHook,
  hostCollateral,
  type QuoteSource,
} from '../../enclave-host/session/evidence-source.js';
import { addressArg, hostPortArg, integerArg, listenFailure, splitHostPort, uint256Arg } from '../args.js';
import { UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { exists, readText } from '../files.js';
import { formatLimits, limitsJson } from '../limits.js';
import { action, printResult } from '../output.js';
import { untilStopped } from '../until-stopped.js';

export const DEFAULT_STATE_DIR = '.defaas/executor';

/**
 * The simulated TEE's MRTD: SHA-384 of a fixed label, standing in for the measurement of this
 * executor build. Written into the dev policy so a client pins it like a real measurement.
 */
export const SIMULATED_MR_TD = new Uint8Array(
  createHash('sha384').update('defaas/enclave-host/simulated/v1').digest(),
);

/** The policy a client uses for a simulated executor: the simulated TEE only, this root, this MRTD. */
export function simulatedDevPolicy(root: SimulatedRoot): Policy {
  return {
    allowedTees: ['simulated'],
    measurements: { simulated: { mrTd: toHex(SIMULATED_MR_TD) } },
    simulated: { rootKeyHashes: [toHex(root.keyHash)] },
  };
}

/** The TEE types an executor runs on (attestation's spelling; sgx hosts no executor). */
const EXECUTOR_TEES = ['simulated', 'tdx', 'sev-snp'] as const satisfies readonly TeeType[];
type ExecutorTee = (typeof EXECUTOR_TEES)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The flags `executor start` and `provider start` share: the TEE, where to listen, the limits. */
export interface ExecutorFlags {
  tee: ExecutorTee;
  listen: string;
  stateDir: string;
  price: bigint;
  workers?: number;
  memoryMb: number;
  timeoutMs: number;
  maxInputBytes: number;
  maxOutputBytes: number;
  maxStderrBytes: number;
  maxSessions: number;
  maxSessionsPerPeer: number;
  maxAccounts: number;
  maxClientsPerSession: number;
  maxClientsPerPeer: number;
  handshakesPerSecond: number;
  logLevel: string;
  collateral?: string;
  snpChain?: string;
  json?: boolean;
}

interface StartOptions extends ExecutorFlags {
  lease?: bigint;
  challengeAllow?: string[];
  challengeEpochSeconds: number;
  claimedGflops?: number;
}

/**
 * Adds the executor flags `executor start` and `provider start` share to `cmd`; `stateDir` is the
 * default state directory.
 */
export function executorFlags(cmd: Command, stateDir: string): Command {
  return cmd
    .addOption(
      new Option(
        '--tee <type>',
        'TEE: simulated (software root, dev only), tdx or sev-snp (Linux configfs-tsm)',
      )
        .choices(EXECUTOR_TEES)
        .default('simulated'),
    )
    .option('--listen <host:port>', 'address to serve gRPC on', hostPortArg, '127.0.0.1:7443')
    .option(
      '--state-dir <dir>',
      'persistent state: nonce high-water marks, simulated root, dev policy',
      stateDir,
    )
    .addOption(
      new Option('--price <units>', 'price per call in token base units (uint256, decimal)')
        .argParser(uint256Arg)
        .default(0n, '0'),
    )
    .option('--workers <n>', 'WASM worker threads (default and maximum: the CPU count)', integerArg(1))
    .option('--memory-mb <n>', 'linear memory limit per invocation, MiB', integerArg(1), 64)
    .option('--timeout-ms <n>', 'wall-time limit per invocation', integerArg(1), 5000)
    .option('--max-input-bytes <n>', 'largest input accepted', integerArg(0), 4 * 1024 * 1024)
    .option('--max-output-bytes <n>', 'largest output produced', integerArg(0), 4 * 1024 * 1024)
    .option(
      '--max-stderr-bytes <n>',
      'stderr returned to the caller per invocation (the rest is dropped and counted); never logged on the host',
      integerArg(0),
      64 * 1024,
    )
    .option('--max-sessions <n>', 'open sessions at most', integerArg(1), 1024)
    .option('--max-sessions-per-peer <n>', 'open sessions of one peer address at most', integerArg(1), 64)
    .option(
      '--max-accounts <n>',
      'client books kept in memory at most; when full, an idle one is let go (its floors persisted)',
      integerArg(1),
      4_096,
    )
    .option('--max-clients-per-session <n>', 'wallets one session may be bound to at most', integerArg(1), 16)
    .option(
      '--max-clients-per-peer <n>',
      'distinct wallets the sessions of one peer address may be bound to at most',
      integerArg(1),
      256,
    )
    .option(
      '--handshakes-per-second <n>',
      'handshakes one peer address may start per second (burst: twice this)',
      integerArg(1),
      20,
    )
    .option(
      '--collateral <file|dir>',
      'tdx: Intel collateral presented with the quote (collateral.json or a directory of PCS responses)',
    )
    .option(
      '--snp-chain <pem>',
      'sev-snp: AMD chain (ASK or ASVK, then ARK) presented when the host certificate table lacks it',
    )
    .addOption(
      new Option('--log-level <level>', 'pino log level (logs go to stderr)')
        .choices(LOG_LEVELS)
        .default('info'),
    );
}

export function registerExecutor(program: Command): void {
  const executor = program
    .command('executor')
    .description('run an executor: the enclave host that serves functions');
  executorFlags(
    executor
      .command('start')
      .description(
        'start an executor: create the enclave keys, obtain evidence binding them, and serve attested sessions over gRPC',
      ),
    DEFAULT_STATE_DIR,
  )
    .option(
      '--lease <id>',
      'lease id to serve (uint256, decimal); default: a generated dev lease, printed at start',
      uint256Arg,
    )
    .option(
      '--challenge-allow <addresses>',
      'standalone capacity challenges: the witness addresses (comma-separated) that may challenge lease 0 (docs/witness.md); without it challenges are refused',
      addressListArg,
    )
    .option(
      '--challenge-epoch-seconds <s>',
      'standalone capacity challenges: epoch length; the challenge budget is per epoch',
      integerArg(1),
      3600,
    )
    .option(
      '--claimed-gflops <x>',
      'standalone capacity challenges: the claimed capacity in GFLOP/s (required with --challenge-allow)',
      positiveNumberArg,
    )
    .option(
      '--json',
      'once serving, print one JSON line on stdout: endpoint, leaseId, devLease, identity, tee, policyFile, limits',
    )
    .addHelpText(
      'after',
      '\nStandalone mode (until the chain is wired in): the executor serves the --lease given (or a generated dev\n' +
        'lease) to any client that signs vouchers correctly. Vouchers and receipts use the EIP-712 domain\n' +
        '{ name: "defaas Settlement", version: "1", chainId: 31337, verifyingContract: 0x0000…0000 }.\n' +
        'Once serving it prints where and what it serves on stdout (one JSON line with --json); its logs (pino,\n' +
        'JSON lines) go to stderr. With --tee simulated the software root is kept in <state-dir>/simulated-root.pem\n' +
        'and a policy pinning it is written to <state-dir>/policy.json (use it with `defaas invoke --policy`).\n' +
        'Stops cleanly on SIGTERM/SIGINT (under npx, also when npx exits: it does not forward signals).\n' +
        'With --tee sev-snp the host certificate table (configfs-tsm auxblob: VCEK or VLEK, ASK, ARK) is presented\n' +
        'with the report, so clients need not ask AMD KDS; with --tee tdx, pass --collateral or clients must bring\n' +
        'their own (SDK `collateral`). Collateral is read once at start: restart to present newer collateral.\n' +
        EXIT_CODES_HELP +
        '\nExample:\n  defaas executor start --tee simulated --listen 127.0.0.1:7443',
    )
    .action(action(start));
}

async function simulatedRoot(stateDir: string): Promise<SimulatedRoot> {
  const path = join(stateDir, 'simulated-root.pem');
  try {
    return simulatedRootFromPem(await readFile(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const root = generateSimulatedRoot();
  await writeFile(path, root.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  return root;
}

/** The --collateral / --snp-chain additions to what the TEE hands out (hostCollateral). */
async function presentedCollateral(o: ExecutorFlags): Promise<CollateralHook | undefined> {
  if (o.collateral !== undefined) {
    await exists(o.collateral, '--collateral');
    const intel = await loadIntelCollateral(o.collateral);
    return async (evidence, auxblob) => ({ ...(await hostCollateral(evidence, auxblob)), intel });
  }
  if (o.snpChain !== undefined) {
    const chain = await readText(o.snpChain, '--snp-chain');
    parseAmdChain(chain, '--snp-chain');
    return async (evidence, auxblob) => {
      const b = await hostCollateral(evidence, auxblob);
      return { ...b, snp: { ...b.snp, chain: b.snp?.chain ?? chain } };
    };
  }
  return undefined;
}

/** The state directory, created (mode 0700) if missing; FILE_UNWRITABLE when it cannot be. */
export async function makeStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UsageError(
      `--state-dir: cannot create ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      'FILE_UNWRITABLE',
      { flag: '--state-dir', path: dir },
    );
  }
}

/** The executor's TEE: the simulated root of the state directory (and its dev policy file) or configfs-tsm. */
export async function executorQuotes(
  o: ExecutorFlags,
  log: pino.Logger,
): Promise<{ quotes: QuoteSource; policyFile: string | null; root?: SimulatedRoot }> {
  if (o.collateral !== undefined && o.tee !== 'tdx') throw new UsageError('--collateral is for --tee tdx');
  if (o.snpChain !== undefined && o.tee !== 'sev-snp')
    throw new UsageError('--snp-chain is for --tee sev-snp');
  if (o.tee !== 'simulated')
    return { quotes: new ConfigfsTsmQuoteProvider({ tee: o.tee }), policyFile: null };
  const root = await simulatedRoot(o.stateDir);
  const policyFile = join(o.stateDir, 'policy.json');
  await writeFile(policyFile, `${JSON.stringify(simulatedDevPolicy(root), null, 2)}\n`);
  log.warn({ rootKeyHash: toHex(root.keyHash) }, 'simulated TEE: evidence proves nothing about hardware');
  return {
    quotes: new SimulatedQuoteProvider(root, { measurements: { mrTd: SIMULATED_MR_TD } }),
    policyFile,
    root,
  };
}

/** What the caller of `buildExecutor` decides beyond the flags (the lease, the chain, the identity). */
export type ExecutorExtras = Pick<
  ExecutorOptions,
  'identity' | 'leaseId' | 'domain' | 'leaseCheck' | 'challengeAuthority' | 'collateral' | 'onVoucher'
>;

/** The runtime and the executor for these flags; limits that cannot fit one gRPC message are a usage error. */
export async function buildExecutor(
  o: ExecutorFlags,
  log: pino.Logger,
  quotes: QuoteSource,
  extras: ExecutorExtras,
): Promise<Executor> {
  const collateral = extras.collateral ?? (await presentedCollateral(o));
  const runtime = new FunctionRuntime({
    ...(o.workers !== undefined && { workers: o.workers }),
    limits: {
      memoryBytes: o.memoryMb * 1024 * 1024,
      wallTimeMs: o.timeoutMs,
      maxInputBytes: o.maxInputBytes,
      maxOutputBytes: o.maxOutputBytes,
    },
    // A function's stderr goes back to its caller, sealed; it is never written to this log.
    maxLogBytes: o.maxStderrBytes,
  });
  try {
    return new Executor({
      ...extras,
      quotes,
      runtime,
      logger: log,
      stateDir: o.stateDir,
      domain: extras.domain ?? { chainId: 31337n, verifyingContract: ZeroAddress },
      pricePerCall: o.price,
      maxSessions: o.maxSessions,
      maxSessionsPerPeer: o.maxSessionsPerPeer,
      maxAccounts: o.maxAccounts,
      maxClientsPerSession: o.maxClientsPerSession,
      maxClientsPerPeer: o.maxClientsPerPeer,
      handshakesPerSecond: o.handshakesPerSecond,
      // Room for the largest module (32 MiB) plus framing.
      maxMessageBytes: 40 * 1024 * 1024,
      ...(collateral && { collateral }),
    });
  } catch (e) {
    await runtime.close();
    // Limits that cannot fit one gRPC message are a usage error: say which numbers clash.
    if (isEnclaveHostError(e, 'INVALID_ARGUMENT')) throw new UsageError(e.message);
    throw e;
  }
}

/** Starts serving on `listen`; a bind the user can fix (address in use, not ours) is a usage error. */
export async function listenExecutor(executor: Executor, listen: string): Promise<number> {
  try {
    return await executor.start(listen);
  } catch (e) {
    await executor.stop(0).catch(() => {});
    throw listenFailure(e, listen);
  }
}

async function start(json: boolean, o: StartOptions): Promise<ExitCode> {
  // stdout carries the serving line (the result); logs go to stderr.
  const log = pino(
    { level: o.logLevel, base: { svc: 'defaas-executor' } },
    pino.destination({ dest: 2, sync: true }),
  );
  await makeStateDir(o.stateDir);
  const { quotes, policyFile } = await executorQuotes(o, log);
  if ((o.challengeAllow === undefined) !== (o.claimedGflops === undefined))
    throw new UsageError('--challenge-allow and --claimed-gflops go together', 'MISSING_ARGUMENT');
  const challengeAuthority =
    o.challengeAllow && o.claimedGflops !== undefined
      ? allowListAuthority({
          witnesses: o.challengeAllow,
          claimedGflops: o.claimedGflops,
          epochSeconds: o.challengeEpochSeconds,
        })
      : undefined;
  const executor = await buildExecutor(o, log, quotes, {
    ...(challengeAuthority && { challengeAuthority }),
    ...(o.lease !== undefined && { leaseId: o.lease }),
  });
  const port = await listenExecutor(executor, o.listen);
  const { host } = splitHostPort(o.listen);
  printResult(
    json,
    {
      endpoint: `${host}:${port}`,
      leaseId: executor.leaseId,
      devLease: o.lease === undefined,
      identity: executor.identity.identityAddress,
      tee: o.tee,
      policyFile,
      limits: limitsJson(executor.terms.limits),
    },
    `executor listening on ${host}:${port}\n` +
      `  lease      ${executor.leaseId}${o.lease === undefined ? ' (generated dev lease)' : ''}\n` +
      `  identity   ${executor.identity.identityAddress}\n` +
      `  tee        ${o.tee}\n` +
      (policyFile ? `  policy     ${policyFile}\n` : '') +
      `  limits     ${formatLimits(executor.terms.limits)}\n`,
  );
  await untilStopped(log, () => executor.stop());
  return EXIT.OK;
}

/** A comma-separated list of 0x addresses, lower-cased. */
function addressListArg(v: string): string[] {
  const list = v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  if (list.length === 0) throw new InvalidArgumentError('Expected at least one 0x address.');
  return list.map((x) => addressArg(x));
}

/** A positive finite number. */
function positiveNumberArg(v: string): number {
  const x = Number(v);
  if (!/^[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?$/i.test(v) || !(x > 0) || !Number.isFinite(x))
    throw new InvalidArgumentError('Expected a positive number.');
  return x;
}
