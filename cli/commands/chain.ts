/*
 * `defaas chain up [--rpc <url>] [--out <file>] [--key <file>] [--params default|dev]`: without --rpc,
 * starts the embedded anvil on 127.0.0.1 (a free port, a block every second besides one per
 * transaction), deploys and wires every contract, writes the deployment file, prints it and keeps the
 * chain running until interrupted; with --rpc, deploys to that endpoint and exits.
 * `defaas chain fund --to <address>[,…] --tokens <n> [--eth <n>]`: tokens and gas money from the
 * deployer to the accounts that will use the market.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { formatEther, isError, JsonRpcProvider, Network, parseEther } from 'ethers';
import { type Anvil, startAnvil } from '../../contracts/anvil.js';
import {
  type ChainParams,
  DEFAULT_PARAMS,
  type Deployment,
  deployAll,
  PaddedWallet,
} from '../../contracts/deploy.js';
import { addressArg, httpUrlArg } from '../args.js';
import { chainFlags, DEFAULT_DEPLOYMENT } from '../chain-flags.js';
import { chainIdAt, openChain } from '../customer/chain.js';
import { fund } from '../customer/fund.js';
import { CliError, UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { privateKeyFromEnv, readDeployment, readPrivateKey } from '../files.js';
import { action, printResult, progress, reportFailure } from '../output.js';

/** anvil's first default account (mnemonic "test test … junk"): a well-known development key. */
const ANVIL_DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

/** anvil's chain id: the only chain the well-known development key is used on. */
const ANVIL_CHAIN_ID = 31337n;

/**
 * DEFAULT_PARAMS with windows of seconds, so a provider and a customer can run an auction and a lease
 * in real time on a chain whose clock is not moved: 5 s of bidding at least, 10 s of reveals, a minute
 * to confirm and to start, one-minute epochs (a witness round's commit and reveal windows, 30 s each,
 * fit in one, as the Market's constructor requires), two minutes to redeem.
 */
export const DEV_PARAMS: ChainParams = {
  ...DEFAULT_PARAMS,
  thawPeriod: 300n,
  redeemWindow: 120n,
  answerWindow: 60n,
  commitWindow: 30n,
  revealWindow: 30n,
  drawTimeout: 300n,
  bidRevealWindow: 10n,
  confirmWindow: 60n,
  deployWindow: 60n,
  minBiddingWindow: 5n,
  minEpochLength: 60n,
  staleGrace: 300n,
};

/** The parameter sets `chain up --params` deploys. */
export const PARAM_SETS = { default: DEFAULT_PARAMS, dev: DEV_PARAMS } as const;
export type ParamSetName = keyof typeof PARAM_SETS;

/** Seconds between the embedded anvil's blocks when no transaction comes: chain time keeps moving. */
export const ANVIL_BLOCK_TIME = 1;

export interface ChainUpOptions {
  readonly rpc?: string;
  readonly out: string;
  /**
   * Deployer key (0x-hex). Default: $DEFAAS_DEPLOYER_KEY, else anvil's development key, which only a
   * chain with anvil's chain id (31337) is deployed to.
   */
  readonly privateKey?: string;
  /** The protocol parameters (default: DEFAULT_PARAMS). */
  readonly params?: ParamSetName;
}

export interface ChainUp {
  readonly deployment: Deployment;
  /** Absolute path of the deployment file written. */
  readonly file: string;
  /** The anvil started (no --rpc); the caller stops it. */
  readonly anvil?: Anvil;
  /** The parameter set deployed. */
  readonly params: ParamSetName;
}

/** A failure to reach the chain (as ethers or Node report it) is transient. */
function chainUnavailable(e: unknown, url: string): unknown {
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  if (
    isError(e, 'NETWORK_ERROR') ||
    isError(e, 'TIMEOUT') ||
    errno === 'ECONNREFUSED' ||
    errno === 'ECONNRESET'
  )
    return new CliError('CHAIN_UNAVAILABLE', `${url}: ${(e as Error).message}`, { rpc: url }, e);
  return e;
}

export async function chainUp(opts: ChainUpOptions): Promise<ChainUp> {
  const key = opts.privateKey ?? privateKeyFromEnv('DEFAAS_DEPLOYER_KEY');
  let anvil: Anvil | undefined;
  if (opts.rpc === undefined) {
    try {
      // Mixed mining: every transaction is mined at once, and a block comes every second besides,
      // so the market's windows close on a quiet chain too.
      anvil = await startAnvil({ blockTime: ANVIL_BLOCK_TIME, args: ['--mixed-mining'] });
    } catch (e) {
      throw new CliError('CHAIN_UNAVAILABLE', `cannot start anvil: ${(e as Error).message}`, {}, e);
    }
  }
  const rpcUrl = opts.rpc ?? anvil!.url;
  try {
    const chainId = await chainIdAt(rpcUrl);
    if (key === undefined && chainId !== ANVIL_CHAIN_ID)
      throw new UsageError(
        `chain ${chainId} is not a development chain: give the deployer key with --key <file> or $DEFAAS_DEPLOYER_KEY`,
        'MISSING_ARGUMENT',
      );
    const network = Network.from(chainId);
    const provider = new JsonRpcProvider(rpcUrl, network, {
      staticNetwork: network,
      cacheTimeout: -1,
      pollingInterval: 50,
    });
    try {
      const signer = new PaddedWallet(key ?? ANVIL_DEV_KEY, provider);
      const params = opts.params ?? 'default';
      const { deployment } = await deployAll(signer, rpcUrl, { params: PARAM_SETS[params] }).catch(
        (e: unknown) => {
          throw chainUnavailable(e, rpcUrl);
        },
      );
      const file = resolve(opts.out);
      try {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, `${JSON.stringify(deployment, null, 2)}\n`);
      } catch (e) {
        throw new UsageError(
          `--out: cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
          'FILE_UNWRITABLE',
          { flag: '--out', path: file },
        );
      }
      return anvil ? { deployment, file, anvil, params } : { deployment, file, params };
    } finally {
      provider.destroy();
    }
  } catch (e) {
    await anvil?.stop();
    throw e;
  }
}

/** The `chain up` result: the deployment, where it was written, the anvil started (or null). */
function chainUpResult(r: ChainUp): Record<string, unknown> {
  return {
    deployment: r.deployment,
    file: r.file,
    params: r.params,
    anvil: r.anvil ? { url: r.anvil.url, pid: r.anvil.pid, blockTime: ANVIL_BLOCK_TIME } : null,
  };
}

/** The market windows of a parameter set, in one line. */
function paramsLine(p: ChainParams): string {
  return (
    `bidding ≥ ${p.minBiddingWindow} s, reveal ${p.bidRevealWindow} s, confirm ${p.confirmWindow} s, ` +
    `deploy ${p.deployWindow} s, epochs ≥ ${p.minEpochLength} s, redeem ${p.redeemWindow} s`
  );
}

function chainUpText(r: ChainUp): string {
  const d = r.deployment;
  return [
    `deployed to ${d.rpcUrl} (chain id ${d.chainId}) with the ${r.params} parameters (${paramsLine(PARAM_SETS[r.params])})`,
    ...Object.entries(d.contracts).map(([k, v]) => `  ${k.padEnd(15)} ${v}`),
    `deployment written to ${r.file}`,
  ].join('\n');
}

export function registerChain(program: Command): void {
  const chain = program.command('chain').description('local chain and contract deployment');
  chain
    .command('up')
    .description('start anvil (or use --rpc), deploy the defaas contracts and write the deployment file')
    .option(
      '--rpc <url>',
      'deploy to this EVM JSON-RPC endpoint and exit instead of starting anvil',
      httpUrlArg,
    )
    .option('--out <file>', 'deployment file', DEFAULT_DEPLOYMENT)
    .option(
      '--key <file>',
      "deployer private key file, one line of hex (default: $DEFAAS_DEPLOYER_KEY, else anvil's development key on chain 31337)",
    )
    .addOption(
      new Option(
        '--params <set>',
        'protocol parameters: default (windows of hours) or dev (windows of seconds, for trying the market in real time)',
      )
        .choices(Object.keys(PARAM_SETS))
        .default('default'),
    )
    .option(
      '--json',
      'print one JSON object: deployment, file, params, anvil ({url, pid, blockTime} or null)',
    )
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}An endpoint that does not answer (or an anvil that exits) is transient: exit 3.\n` +
        `The embedded anvil mines each transaction at once and a block every ${ANVIL_BLOCK_TIME} s besides;\n` +
        "with --rpc, the endpoint's own mining is left as it is.\n" +
        'Examples:\n  defaas chain up --out .defaas/deployment.json --json\n  defaas chain up --params dev',
    )
    .action(action(up));
  chainFlags(
    chain
      .command('fund')
      .description(
        "send DFS tokens and gas money from the deployer to accounts (e.g. a provider's and a customer's)",
      ),
  )
    .requiredOption('--to <addresses>', 'comma-separated 0x addresses to fund', addressListArg)
    .requiredOption(
      '--tokens <n>',
      'DFS tokens for each, in whole tokens (decimals allowed, e.g. 1000 or 0.5)',
      amountArg,
    )
    .option(
      '--eth <n>',
      'gas money for each, in ether: on anvil the balance is set to it (anvil_setBalance), elsewhere it is sent',
      amountArg,
    )
    .option(
      '--key <file>',
      "the deployer's private key file, one line of hex (default: $DEFAAS_DEPLOYER_KEY, else anvil's development key on chain 31337)",
    )
    .option('--json', 'print one JSON object: funded ({address, tokens, eth, txs}), anvil')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}Amounts in the result are base units (wei).\n` +
        'Example:\n  defaas chain fund --to 0xProvider…,0xCustomer… --tokens 5000 --eth 10',
    )
    .action(action(fundCommand));
}

/** A comma-separated list of addresses, lower-case, without repeats. */
function addressListArg(v: string): string[] {
  const items = v.split(',').map((s) => s.trim());
  if (items.length > 100) throw new InvalidArgumentError('At most 100 addresses.');
  return [...new Set(items.map(addressArg))];
}

/** A non-negative decimal amount of tokens or ether (up to 18 decimals), in base units. */
function amountArg(v: string): bigint {
  if (!/^[0-9]{1,30}(\.[0-9]{1,18})?$/.test(v))
    throw new InvalidArgumentError('Expected a decimal amount, e.g. 1000 or 0.5 (at most 18 decimals).');
  return parseEther(v);
}

interface FundCommandOptions {
  rpc?: string;
  deployment: string;
  to: string[];
  tokens: bigint;
  eth?: bigint;
  key?: string;
}

async function fundCommand(json: boolean, o: FundCommandOptions): Promise<ExitCode> {
  const deployment = await readDeployment(o.deployment);
  const rpc = o.rpc ?? deployment.rpcUrl;
  if (rpc === undefined)
    throw new UsageError(`--rpc is needed: ${o.deployment} has no rpcUrl`, 'MISSING_ARGUMENT', {
      flag: '--rpc',
    });
  let key = o.key !== undefined ? await readPrivateKey(o.key) : privateKeyFromEnv('DEFAAS_DEPLOYER_KEY');
  if (key === undefined) {
    if (BigInt(deployment.chainId) !== ANVIL_CHAIN_ID)
      throw new UsageError(
        `chain ${deployment.chainId} is not a development chain: give the deployer key with --key <file> or $DEFAAS_DEPLOYER_KEY`,
        'MISSING_ARGUMENT',
        { flag: '--key' },
      );
    key = ANVIL_DEV_KEY;
  }
  const ch = await openChain({
    rpc,
    deployment,
    privateKey: key,
    onRetry: (label, attempt) => process.stderr.write(`${label}: retry ${attempt}\n`),
  });
  try {
    const r = await fund(
      ch,
      { to: o.to, tokens: o.tokens, ...(o.eth !== undefined && { eth: o.eth }) },
      (l) => process.stderr.write(`${l}\n`),
    );
    printResult(
      json,
      { from: ch.signer!.address, anvil: r.anvil, funded: r.funded },
      r.funded.map((f) => `${f.address}: ${formatEther(f.tokens)} DFS, ${formatEther(f.eth)} ETH`).join('\n'),
    );
    return EXIT.OK;
  } finally {
    ch.close();
  }
}

async function up(
  json: boolean,
  o: { rpc?: string; out: string; key?: string; params: ParamSetName },
): Promise<ExitCode> {
  const r = await chainUp({
    out: o.out,
    params: o.params,
    ...(o.rpc !== undefined && { rpc: o.rpc }),
    ...(o.key !== undefined && { privateKey: await readPrivateKey(o.key) }),
  });
  printResult(json, chainUpResult(r), chainUpText(r));
  const { anvil } = r;
  if (!anvil) return EXIT.OK;
  progress(json, `anvil running at ${anvil.url} (pid ${anvil.pid}); Ctrl-C to stop`);
  const died = await new Promise<boolean>((res) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      res(false);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    void anvil.exited.then(() => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      res(true);
    });
  });
  if (died)
    // The result is already out (one JSON object under --json): the failure goes to stderr as text.
    return reportFailure(new CliError('CHAIN_UNAVAILABLE', `anvil (pid ${anvil.pid}) exited`), false);
  await anvil.stop();
  return EXIT.OK;
}
