/*
 * `defaas provider start` runs one executor and its provider agent (cli/provider/): the executor serves
 * the leases the chain binds to its enclave; the agent registers it, bids within a price policy,
 * confirms, requests witness rounds, redeems and collects, answers claims, settles, and survives
 * restarts through its state directory. `defaas provider status` reports that directory.
 */
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import pino from 'pino';
import { encodeEvidenceBundle } from '../../attestation/bundle.js';
import { INTEL_PCS_BASE_URL } from '../../attestation/intel/pcs.js';
import { AMD_KDS_BASE } from '../../attestation/sev-snp/kds.js';
import {
  connectMarket,
  connectSettlement,
  connectWitnessPool,
  RegistryTeeType,
} from '../../contracts/bindings/index.js';
import { PaddedWallet } from '../../contracts/deploy.js';
import type { LatestVoucher } from '../../enclave-host/executor.js';
import { hostCollateral } from '../../enclave-host/session/evidence-source.js';
import { isAgentError } from '../../verifier/agent/errors.js';
import { isTransient } from '../../verifier/agent/tx-sender.js';
import { writeFileAtomic } from '../../verifier/durable-file.js';
import { httpUrlArg, integerArg, splitHostPort, uint256Arg } from '../args.js';
import { chainFlags, DEFAULT_DEPLOYMENT } from '../chain-flags.js';
import { chainChallengeAuthority } from '../challenge-authority.js';
import { CliError, UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readDeployment, readText, walletAndChain } from '../files.js';
import { action, jsonValue, printResult } from '../output.js';
import { ProviderAgent } from '../provider/agent.js';
import { type BidPolicy, checkFraction, parseBidPolicyFile } from '../provider/bid-policy.js';
import {
  type CollateralKeeper,
  type CollateralSource,
  type CollateralStatus,
  startCollateralKeeper,
} from '../provider/collateral.js';
import { prepareEnclave } from '../provider/enclave.js';
import { readProviderState } from '../provider/state.js';
import { COLLATERAL_STATUS_FILE, formatProviderStatus, providerStatus } from '../provider/status.js';
import { rpcProvider } from '../rpc-provider.js';
import { settlementLeaseCheck } from '../settlement-lease-check.js';
import { untilStopped } from '../until-stopped.js';
import {
  buildExecutor,
  type ExecutorFlags,
  executorFlags,
  executorQuotes,
  listenExecutor,
  makeStateDir,
} from './executor.js';

export const DEFAULT_PROVIDER_STATE_DIR = '.defaas/provider';
/** Attempts to reach the chain at start (backoff 0.5, 1, 2, 4 s) before giving up with exit 3. */
const START_ATTEMPTS = 5;
/** Vouchers accepted before the agent is up, kept at most. */
const MAX_EARLY_VOUCHERS = 10_000;

const TEE_TYPE = {
  simulated: RegistryTeeType.Simulated,
  tdx: RegistryTeeType.Tdx,
  'sev-snp': RegistryTeeType.SevSnp,
};

interface StartOptions extends ExecutorFlags {
  rpc?: string;
  key?: string;
  deployment: string;
  endpoint?: string;
  cpuCores: number;
  memoryMib: number;
  gpuMemoryMib: number;
  gflops: number;
  stake?: bigint;
  config?: string;
  minPrice: bigint;
  bidFraction: number;
  levels?: bigint[];
  maxLeases: number;
  claimedGflops?: number;
  pollMs: number;
  redeemEvery: number;
  rpcTimeoutMs: number;
  logUrl?: string;
  collateralSource?: string;
}

async function bidPolicy(o: StartOptions, cmd: Command): Promise<BidPolicy> {
  const file =
    o.config !== undefined ? parseBidPolicyFile(await readText(o.config, '--config'), o.config) : {};
  // A flag given on the command line wins over the file; the file wins over the flag's default.
  const pick = <T>(flag: string, fromFlag: T, fromFile: T | undefined): T =>
    cmd.getOptionValueSource(flag) === 'cli' || fromFile === undefined ? fromFlag : fromFile;
  const claimed = o.claimedGflops ?? o.gflops;
  const p: BidPolicy = {
    minUnitPrice: pick('minPrice', o.minPrice, file.minUnitPrice),
    fraction: pick('bidFraction', o.bidFraction, file.fraction),
    levels: pick('levels', o.levels ?? [], file.levels),
    maxLeases: pick('maxLeases', o.maxLeases, file.maxLeases),
    claimedGflops: pick('claimedGflops', claimed, file.claimedGflops),
  };
  if (p.claimedGflops > o.gflops)
    throw new UsageError(
      `the bids would claim ${p.claimedGflops} GFLOP/s, more than the executor's registered --gflops ${o.gflops}`,
    );
  return p;
}

async function start(json: boolean, o: StartOptions, cmd: Command): Promise<ExitCode> {
  const log = pino(
    { level: o.logLevel, base: { svc: 'defaas-provider' } },
    pino.destination({ dest: 2, sync: true }),
  );
  const { key, deployment, rpc } = await walletAndChain(o, 'provider', 'DEFAAS_PROVIDER_KEY');
  const policy = await bidPolicy(o, cmd);
  await makeStateDir(o.stateDir);
  const { quotes, policyFile } = await executorQuotes(o, log);
  const enclave = await prepareEnclave(quotes, o.stateDir, o.tee === 'simulated');
  const keeper = o.tee === 'simulated' ? undefined : await startKeeper(o, enclave.evidence, log);
  const provider = rpcProvider(rpc, deployment.chainId, o.rpcTimeoutMs);
  const chainId = BigInt(deployment.chainId);
  const domain = { chainId, verifyingContract: deployment.contracts.settlement };
  let agent: ProviderAgent | undefined;
  // Vouchers the executor accepts before the agent is up wait here (bounded) and are handed over then.
  const early: LatestVoucher[] = [];
  const takeVoucher = (v: LatestVoucher) => {
    if (agent) return agent.takeVoucher(v);
    if (early.length < MAX_EARLY_VOUCHERS) early.push(v);
    return undefined;
  };
  const market = connectMarket(deployment.contracts.market, provider);
  const executor = await buildExecutor(o, log, enclave.quotes, {
    ...(keeper && { collateral: keeper.keeper.hook }),
    identity: enclave.identity,
    leaseId: 0n,
    onVoucher: takeVoucher,
    domain,
    // Serve a lease only while Settlement shows it open, bound to this enclave, to its customer (or a
    // witness it granted probes to); challenges only from the members of the lease's current round.
    leaseCheck: settlementLeaseCheck(connectSettlement(deployment.contracts.settlement, provider), {
      domain,
      market,
    }),
    challengeAuthority: chainChallengeAuthority({
      market,
      pool: connectWitnessPool(deployment.contracts.witnessPool, provider),
    }),
  });
  const port = await listenExecutor(executor, await listenAddress(o));
  const endpoint = o.endpoint ?? `${splitHostPort(o.listen).host}:${port}`;
  // Refreshed collateral is presented at once; the evidence (and its registered hash) stays the same.
  keeper?.onRefresh(() => executor.refreshEvidence());
  const stop = async () => {
    keeper?.keeper.stop();
    await agent?.stop();
    await executor.stop();
    provider.destroy();
  };
  try {
    const bundle = encodeEvidenceBundle(
      keeper ? keeper.keeper.current() : await hostCollateral(enclave.evidence),
    );
    for (let attempt = 1; ; attempt++) {
      try {
        agent ??= await ProviderAgent.create({
          signer: new PaddedWallet(key, provider),
          deployment,
          stateDir: o.stateDir,
          enclave,
          endpoint,
          specs: {
            cpuCores: o.cpuCores,
            memoryMiB: o.memoryMib,
            gpuMemoryMiB: o.gpuMemoryMib,
            gflops: o.gflops,
            teeType: TEE_TYPE[o.tee],
          },
          stake: o.stake ?? (await market.params()).minProviderStake,
          policy,
          log,
          pollMs: o.pollMs,
          cadence: { redeemEverySeconds: o.redeemEvery },
          ...(o.logUrl !== undefined && { logUrl: o.logUrl, evidenceBundle: bundle }),
        });
        await agent.start();
        for (const v of early.splice(0)) agent.takeVoucher(v);
        break;
      } catch (e) {
        if (!isTransient(e) || attempt >= START_ATTEMPTS) throw e;
        log.warn({ attempt, err: e instanceof Error ? e.message : String(e) }, 'chain unreachable; retrying');
        await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
      }
    }
  } catch (e) {
    await stop().catch(() => {});
    throw cliErrorOf(e, rpc);
  }
  const reg = agent.registration!;
  printResult(
    json,
    {
      provider: agent.ctx.address,
      executorId: reg.executorId,
      registration: reg.status,
      enclave: enclave.identity.identityAddress,
      enclaveRestored: enclave.restored,
      evidenceHash: enclave.evidenceHash,
      endpoint,
      tee: o.tee,
      policyFile,
      stateDir: resolve(o.stateDir),
      rpc,
      bidPolicy: {
        minUnitPrice: policy.minUnitPrice,
        fraction: policy.fraction,
        levels: policy.levels,
        maxLeases: policy.maxLeases,
        claimedGflops: policy.claimedGflops,
      },
    },
    `provider ${agent.ctx.address}: executor #${reg.executorId} (${reg.status})\n` +
      `  endpoint  ${endpoint}\n  enclave   ${enclave.identity.identityAddress}${enclave.restored ? ' (restored)' : ''}\n` +
      `  evidence  ${enclave.evidenceHash}\n  tee       ${o.tee}\n` +
      (policyFile ? `  policy    ${policyFile}\n` : '') +
      `  bids      ≥ ${policy.minUnitPrice}/s, ${policy.fraction} of the cap, at most ${policy.maxLeases} lease(s)\n` +
      `  state     ${resolve(o.stateDir)}\n  chain     ${rpc}\n`,
  );
  await untilStopped(log, stop);
  return EXIT.OK;
}

/**
 * The collateral keeper of a TDX or SEV-SNP executor (cli/provider/collateral.ts): the vendor's service,
 * a PCCS or a directory, refreshed before it expires; each report is written to the state directory for
 * `provider status` (tcb-status), and a change of the platform's TCB status is logged as an error.
 */
async function startKeeper(
  o: StartOptions,
  evidence: Uint8Array,
  log: pino.Logger,
): Promise<{ keeper: CollateralKeeper; onRefresh: (f: () => Promise<void>) => void }> {
  // --collateral (the executor's file or directory) is the keeper's directory source unless told otherwise.
  const from = o.collateralSource ?? o.collateral;
  const source: CollateralSource =
    from !== undefined && !/^https?:\/\//.test(from)
      ? { dir: from }
      : o.tee === 'tdx'
        ? { pcs: from ?? INTEL_PCS_BASE_URL }
        : { kds: from ?? AMD_KDS_BASE };
  const statusFile = join(o.stateDir, COLLATERAL_STATUS_FILE);
  const write = (s: CollateralStatus) =>
    writeFileAtomic(statusFile, `${JSON.stringify(jsonValue(s), null, 2)}\n`, 0o644).catch((e: unknown) =>
      log.error({ err: e }, 'collateral status not written'),
    );
  let refreshed: () => Promise<void> = async () => {};
  const keeper = await startCollateralKeeper({
    tee: o.tee as 'tdx' | 'sev-snp',
    evidence,
    source,
    cacheDir: o.stateDir,
    onRefresh: async (s) => {
      await write(s);
      await refreshed().catch((e: unknown) =>
        log.error({ err: e }, 'refreshed collateral not presented yet'),
      );
    },
    onTcbChange: (old, now) =>
      log.error(
        { old, now },
        'the TCB status of this platform changed: clients judge the evidence by it; a platform update and a restart (new evidence, registration update) re-attest',
      ),
    log,
  });
  await write(keeper.status());
  log.info({ ...(jsonValue(keeper.status()) as object) }, 'collateral kept fresh');
  return {
    keeper,
    onRefresh: (f) => {
      refreshed = f;
    },
  };
}

/**
 * Where to listen: --listen, except that a restart asked for any port (`:0`) takes the port of the
 * endpoint registered before, so the registration (and the leases bound to it) stays valid.
 */
async function listenAddress(o: StartOptions): Promise<string> {
  const { host, port } = splitHostPort(o.listen);
  if (port !== 0 || o.endpoint !== undefined) return o.listen;
  const before = await readProviderState(o.stateDir).catch(() => undefined);
  if (!before?.endpoint) return o.listen;
  const registered = splitHostPort(before.endpoint);
  return registered.host === host ? before.endpoint : o.listen;
}

/** A chain that does not answer is CHAIN_UNAVAILABLE (exit 3); the agents' own errors pass through. */
function cliErrorOf(e: unknown, rpc: string): unknown {
  if (isAgentError(e) || e instanceof CliError) return e;
  if (isTransient(e)) return new CliError('CHAIN_UNAVAILABLE', `${rpc}: ${(e as Error).message}`, { rpc }, e);
  return e;
}

interface StatusOptions {
  stateDir: string;
  rpc?: string;
  deployment: string;
  rpcTimeoutMs: number;
}

async function status(json: boolean, o: StatusOptions): Promise<ExitCode> {
  const deployment = o.rpc !== undefined ? await readDeployment(o.deployment) : undefined;
  const provider = deployment && rpcProvider(o.rpc!, deployment.chainId, o.rpcTimeoutMs);
  try {
    const s = await providerStatus(
      resolve(o.stateDir),
      provider && deployment && { provider, deployment },
    ).catch((e: unknown) => {
      throw o.rpc !== undefined ? cliErrorOf(e, o.rpc) : e;
    });
    printResult(json, { ...s }, formatProviderStatus(s));
    return EXIT.OK;
  } finally {
    provider?.destroy();
  }
}

function levelsArg(v: string): bigint[] {
  return v.split(',').map((x) => uint256Arg(x.trim()));
}

function fractionArg(v: string): number {
  return checkFraction(Number(v), (why) => new UsageError(`--bid-fraction: ${why}`));
}

export function registerProvider(program: Command): void {
  const cmd = program
    .command('provider')
    .description('run a provider: an executor and the agent that registers, bids, serves and gets paid');
  const startCmd = chainFlags(
    executorFlags(
      cmd
        .command('start')
        .description(
          'start an executor and its provider agent on a chain: register it, bid on orders it meets, confirm, serve, redeem and settle',
        ),
      DEFAULT_PROVIDER_STATE_DIR,
    ),
  )
    .option('--key <file>', 'provider private key file, one line of hex (default: $DEFAAS_PROVIDER_KEY)')
    .option('--endpoint <host:port>', 'the address registered on chain (default: the --listen host and port)')
    .option('--cpu-cores <n>', 'cores registered (default: this machine)', integerArg(1), cpus().length)
    .option(
      '--memory-mib <n>',
      'memory registered, MiB (default: this machine)',
      integerArg(1),
      Math.floor(totalmem() / 2 ** 20),
    )
    .option('--gpu-memory-mib <n>', 'GPU memory registered, MiB', integerArg(0), 0)
    .option(
      '--gflops <n>',
      'capacity registered, GFLOP/s: witnesses challenge it (measure with `npm run bench -- witness`)',
      integerArg(1),
      1,
    )
    .option(
      '--stake <units>',
      "stake of a first registration, token base units (default: the Market's minimum)",
      uint256Arg,
    )
    .option(
      '--config <file>',
      'price policy file (JSON: minUnitPrice, fraction, levels, maxLeases, claimedGflops)',
    )
    .addOption(
      new Option('--min-price <units>', 'lowest unit price to bid, token base units per second')
        .argParser(uint256Arg)
        .default(0n, '0'),
    )
    .option('--bid-fraction <x>', "bid this share of the order's cap, in (0, 1]", fractionArg, 0.9)
    .option(
      '--levels <ids>',
      'bid only on these FaaS levels (comma-separated; default: every level met)',
      levelsArg,
    )
    .option('--max-leases <n>', 'leases served plus bids open at most', integerArg(1), 1)
    .option('--claimed-gflops <n>', 'capacity each bid claims (default: --gflops)', integerArg(1))
    .option('--poll-ms <n>', 'how often to read the chain', integerArg(50), 2000)
    .option(
      '--redeem-every <s>',
      "seconds between redemptions of a lease's latest voucher",
      integerArg(1),
      300,
    )
    .option('--rpc-timeout-ms <n>', 'one JSON-RPC request may take this long', integerArg(100), 15_000)
    .option('--log-url <url>', 'attestation log to record the registration and its evidence in', httpUrlArg)
    .option(
      '--collateral-source <url|dir>',
      'tdx / sev-snp: where the collateral is refreshed from: a PCS or PCCS base URL (tdx), a KDS base URL (sev-snp), or a directory (default: Intel PCS / AMD KDS)',
    )
    .option(
      '--json',
      'once running, print one JSON line: provider, executorId, registration, enclave, endpoint, …',
    )
    .addHelpText(
      'after',
      '\nThe executor serves every lease the chain binds to its enclave, and only while Settlement shows it open,\n' +
        'to its customer. The agent runs until SIGTERM/SIGINT; bids (with their salts), leases and the latest\n' +
        'vouchers are kept in --state-dir (written before anything depends on them), so a restart resumes them.\n' +
        'On the simulated TEE the enclave identity is kept there too; on TDX / SEV-SNP a restart is a new enclave\n' +
        'whose registration is updated (refused by the Registry while leases are active). See docs/provider.md.\n' +
        EXIT_CODES_HELP +
        '\nExample:\n  defaas provider start --key provider.key --listen 127.0.0.1:7443 --min-price 1000000000000000',
    );
  startCmd.action(action(start));
  cmd
    .command('status')
    .description(
      "report the provider agent's registration, bids, leases and redemptions from its state directory",
    )
    .option('--state-dir <dir>', 'the provider state directory', DEFAULT_PROVIDER_STATE_DIR)
    .option('--rpc <url>', 'also read the executor, stake and balances from this endpoint', httpUrlArg)
    .option('--deployment <file>', 'deployment file (with --rpc)', DEFAULT_DEPLOYMENT)
    .option('--rpc-timeout-ms <n>', 'one JSON-RPC request may take this long', integerArg(100), 15_000)
    .option('--json', 'print one JSON object: registration, bids, leases, tcb, failures, chain')
    .addHelpText(
      'after',
      '\nReading the state does not take it: status works while the agent runs.\n' +
        EXIT_CODES_HELP +
        '\nExample:\n  defaas provider status --state-dir .defaas/provider --json',
    )
    .action(action(status));
}
