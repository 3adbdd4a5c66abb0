/*
 * `defaas chain up [--rpc <url>] [--out <file>] [--key <file>]`: without --rpc, starts the embedded
 * anvil on 127.0.0.1 (a free port), deploys and wires every contract, writes the deployment file,
 * prints it and keeps the chain running until interrupted; with --rpc, deploys to that endpoint and
 * exits.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { isError, JsonRpcProvider, Network } from 'ethers';
import { type Anvil, startAnvil } from '../../contracts/anvil.js';
import { type Deployment, deployAll, PaddedWallet } from '../../contracts/deploy.js';
import { httpUrlArg } from '../args.js';
import { CliError, UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { privateKeyFromEnv, readPrivateKey } from '../files.js';
import { action, printResult, progress, reportFailure } from '../output.js';

/** anvil's first default account (mnemonic "test test … junk"): a well-known development key. */
const ANVIL_DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

/** anvil's chain id: the only chain the well-known development key is used on. */
const ANVIL_CHAIN_ID = 31337n;

export interface ChainUpOptions {
  readonly rpc?: string;
  readonly out: string;
  /**
   * Deployer key (0x-hex). Default: $DEFAAS_DEPLOYER_KEY, else anvil's development key, which only a
   * chain with anvil's chain id (31337) is deployed to.
   */
  readonly privateKey?: string;
}

export interface ChainUp {
  readonly deployment: Deployment;
  /** Absolute path of the deployment file written. */
  readonly file: string;
  /** The anvil started (no --rpc); the caller stops it. */
  readonly anvil?: Anvil;
}

/** The endpoint's chain id (eth_chainId), or CHAIN_UNAVAILABLE when it does not answer. */
async function chainIdAt(url: string): Promise<bigint> {
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
    const { result } = (await r.json()) as { result?: unknown };
    if (typeof result !== 'string') throw new Error(`HTTP ${r.status}, no chain id in the answer`);
    return BigInt(result);
  } catch (e) {
    const why = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
    throw new CliError('CHAIN_UNAVAILABLE', `${url} did not answer eth_chainId (${why})`, { rpc: url }, e);
  }
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
      anvil = await startAnvil();
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
      const { deployment } = await deployAll(signer, rpcUrl).catch((e: unknown) => {
        throw chainUnavailable(e, rpcUrl);
      });
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
      return anvil ? { deployment, file, anvil } : { deployment, file };
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
    anvil: r.anvil ? { url: r.anvil.url, pid: r.anvil.pid } : null,
  };
}

function chainUpText(r: ChainUp): string {
  const d = r.deployment;
  return [
    `deployed to ${d.rpcUrl} (chain id ${d.chainId})`,
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
    .option('--out <file>', 'deployment file', '.defaas/deployment.json')
    .option(
      '--key <file>',
      "deployer private key file, one line of hex (default: $DEFAAS_DEPLOYER_KEY, else anvil's development key on chain 31337)",
    )
    .option('--json', 'print one JSON object: deployment, file, anvil ({url, pid} or null)')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}An endpoint that does not answer (or an anvil that exits) is transient: exit 3.\n` +
        'Example:\n  defaas chain up --out .defaas/deployment.json --json',
    )
    .action(action(up));
}

async function up(json: boolean, o: { rpc?: string; out: string; key?: string }): Promise<ExitCode> {
  const r = await chainUp({
    out: o.out,
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
