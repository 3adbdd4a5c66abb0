import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ZeroAddress } from 'ethers';
import pino from 'pino';
import { toHex } from '../../attestation/bytes.js';
import { loadIntelCollateral } from '../../attestation/intel/collateral.js';
import type { Policy } from '../../attestation/policy.js';
import { parseAmdChain } from '../../attestation/sev-snp/certs.js';
import {
  generateSimulatedRoot,
  type SimulatedRoot,
  simulatedRootFromPem,
} from '../../attestation/simulated.js';
import { isEnclaveHostError } from '../../enclave-host/errors.js';
import { Executor } from '../../enclave-host/executor.js';
import { ConfigfsTsmQuoteProvider } from '../../enclave-host/quote/configfs-tsm.js';
import { SimulatedQuoteProvider } from '../../enclave-host/quote/simulated.js';
import { FunctionRuntime } from '../../enclave-host/runtime/function-runtime.js';
import {
  type CollateralHook,
  hostCollateral,
  type QuoteSource,
} from '../../enclave-host/session/evidence-source.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { exists, readText } from '../files.js';
import { formatLimits } from '../limits.js';

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

interface StartOptions {
  tee: string;
  listen: string;
  stateDir: string;
  lease?: string;
  price: string;
  workers?: string;
  memoryMb: string;
  timeoutMs: string;
  maxInputBytes: string;
  maxOutputBytes: string;
  maxStderrBytes: string;
  maxSessions: string;
  maxSessionsPerPeer: string;
  handshakesPerSecond: string;
  logLevel: string;
  collateral?: string;
  snpChain?: string;
}

export function registerExecutor(program: Command): void {
  const executor = program
    .command('executor')
    .description('run an executor: the enclave host that serves functions');
  executor
    .command('start')
    .description(
      'start an executor: create the enclave keys, obtain evidence binding them, and serve attested sessions over gRPC',
    )
    .option(
      '--tee <type>',
      'TEE: simulated (software root, dev only), tdx or snp (Linux configfs-tsm)',
      'simulated',
    )
    .option('--listen <host:port>', 'address to serve gRPC on', '127.0.0.1:7443')
    .option(
      '--state-dir <dir>',
      'persistent state: nonce high-water marks, simulated root, dev policy',
      DEFAULT_STATE_DIR,
    )
    .option(
      '--lease <id>',
      'lease id to serve (uint256, decimal); default: a generated dev lease, printed at start',
    )
    .option('--price <units>', 'price per call in token base units', '0')
    .option('--workers <n>', 'WASM worker threads (default and maximum: the CPU count)')
    .option('--memory-mb <n>', 'linear memory limit per invocation, MiB', '64')
    .option('--timeout-ms <n>', 'wall-time limit per invocation', '5000')
    .option('--max-input-bytes <n>', 'largest input accepted', String(4 * 1024 * 1024))
    .option('--max-output-bytes <n>', 'largest output produced', String(4 * 1024 * 1024))
    .option(
      '--max-stderr-bytes <n>',
      'stderr returned to the caller per invocation (the rest is dropped and counted); never logged on the host',
      String(64 * 1024),
    )
    .option('--max-sessions <n>', 'open sessions at most', '1024')
    .option('--max-sessions-per-peer <n>', 'open sessions of one peer address at most', '64')
    .option(
      '--handshakes-per-second <n>',
      'handshakes one peer address may start per second (burst: twice this)',
      '20',
    )
    .option(
      '--collateral <file|dir>',
      'tdx: Intel collateral presented with the quote (collateral.json or a directory of PCS responses)',
    )
    .option(
      '--snp-chain <pem>',
      'snp: AMD chain (ASK or ASVK, then ARK) presented when the host certificate table lacks it',
    )
    .option('--log-level <level>', 'pino log level', 'info')
    .addHelpText(
      'after',
      '\nStandalone mode (until the chain is wired in): the executor serves the --lease given (or a generated dev\n' +
        'lease) to any client that signs vouchers correctly. Vouchers and receipts use the EIP-712 domain\n' +
        '{ name: "defaas Settlement", version: "1", chainId: 31337, verifyingContract: 0x0000…0000 }.\n' +
        'With --tee simulated the software root is kept in <state-dir>/simulated-root.pem and a policy pinning it\n' +
        'is written to <state-dir>/policy.json (use it with `defaas invoke --policy`). Stops cleanly on SIGTERM/SIGINT\n' +
        '(under npx, also when npx exits: it does not forward signals).\n' +
        'With --tee snp the host certificate table (configfs-tsm auxblob: VCEK or VLEK, ASK, ARK) is presented\n' +
        'with the report, so clients need not ask AMD KDS; with --tee tdx, pass --collateral or clients must bring\n' +
        'their own (SDK `collateral`). Collateral is read once at start: restart to present newer collateral.\n\n' +
        'Example:\n  defaas executor start --tee simulated --listen 127.0.0.1:7443',
    )
    .action(async (o: StartOptions) => {
      process.exitCode = await start(o);
    });
}

function int(name: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${name} must be an integer ≥ ${min}`);
  return n;
}

function uint(name: string, v: string): bigint {
  if (!/^[0-9]{1,78}$/.test(v)) throw new UsageError(`${name} must be a decimal integer`);
  return BigInt(v);
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
async function presentedCollateral(o: StartOptions): Promise<CollateralHook | undefined> {
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

async function start(o: StartOptions): Promise<number> {
  const log = pino({ level: o.logLevel, base: { svc: 'defaas-executor' } });
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  let quotes: QuoteSource;
  if (o.tee === 'simulated') {
    const root = await simulatedRoot(o.stateDir);
    quotes = new SimulatedQuoteProvider(root, { measurements: { mrTd: SIMULATED_MR_TD } });
    const policy = simulatedDevPolicy(root);
    await writeFile(join(o.stateDir, 'policy.json'), `${JSON.stringify(policy, null, 2)}\n`);
    log.warn({ rootKeyHash: toHex(root.keyHash) }, 'simulated TEE: evidence proves nothing about hardware');
  } else if (o.tee === 'tdx' || o.tee === 'snp') {
    quotes = new ConfigfsTsmQuoteProvider({ tee: o.tee === 'tdx' ? 'tdx' : 'sev-snp' });
  } else {
    throw new UsageError(`--tee must be simulated, tdx or snp (got ${o.tee})`);
  }
  if (o.collateral !== undefined && o.tee !== 'tdx') throw new UsageError('--collateral is for --tee tdx');
  if (o.snpChain !== undefined && o.tee !== 'snp') throw new UsageError('--snp-chain is for --tee snp');
  const collateral = await presentedCollateral(o);
  const runtime = new FunctionRuntime({
    ...(o.workers !== undefined && { workers: int('--workers', o.workers, 1) }),
    limits: {
      memoryBytes: int('--memory-mb', o.memoryMb, 1) * 1024 * 1024,
      wallTimeMs: int('--timeout-ms', o.timeoutMs, 1),
      maxInputBytes: int('--max-input-bytes', o.maxInputBytes),
      maxOutputBytes: int('--max-output-bytes', o.maxOutputBytes),
    },
    // A function's stderr goes back to its caller, sealed; it is never written to this log.
    maxLogBytes: int('--max-stderr-bytes', o.maxStderrBytes),
  });
  let executor: Executor;
  try {
    executor = newExecutor();
  } catch (e) {
    await runtime.close();
    // Limits that cannot fit one gRPC message are a usage error: say which numbers clash.
    if (isEnclaveHostError(e, 'INVALID_ARGUMENT')) throw new UsageError(e.message);
    throw e;
  }
  function newExecutor(): Executor {
    return new Executor({
      quotes,
      runtime,
      logger: log,
      stateDir: o.stateDir,
      ...(o.lease !== undefined && { leaseId: uint('--lease', o.lease) }),
      domain: { chainId: 31337n, verifyingContract: ZeroAddress },
      pricePerCall: uint('--price', o.price),
      maxSessions: int('--max-sessions', o.maxSessions, 1),
      maxSessionsPerPeer: int('--max-sessions-per-peer', o.maxSessionsPerPeer, 1),
      handshakesPerSecond: int('--handshakes-per-second', o.handshakesPerSecond, 1),
      // Room for the largest module (32 MiB) plus framing.
      maxMessageBytes: 40 * 1024 * 1024,
      ...(collateral && { collateral }),
    });
  }
  const port = await executor.start(o.listen);
  const host = o.listen.slice(0, o.listen.lastIndexOf(':'));
  process.stderr.write(
    `executor listening on ${host}:${port}\n` +
      `  lease      ${executor.leaseId}${o.lease === undefined ? ' (generated dev lease)' : ''}\n` +
      `  identity   ${executor.identity.identityAddress}\n` +
      `  tee        ${o.tee}\n` +
      (o.tee === 'simulated' ? `  policy     ${join(o.stateDir, 'policy.json')}\n` : '') +
      `  limits     ${formatLimits(executor.terms.limits)}\n`,
  );
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'shutting down');
      executor.stop().then(resolve, (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // `npx`/`npm exec` does not pass SIGTERM on: it dies and leaves us behind, re-parented. Under
    // npm, a parent that is gone is taken as the stop signal it did not forward.
    if (process.env.npm_command === 'exec') {
      const parent = process.ppid;
      const watch = setInterval(() => {
        if (process.ppid === parent) return;
        clearInterval(watch);
        stop('parent exited');
      }, 500);
      watch.unref();
    }
  });
  return EXIT.OK;
}
