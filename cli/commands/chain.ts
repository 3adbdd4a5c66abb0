/*
 * `defaas chain up [--rpc <url>] [--out <file>]`: without --rpc, starts the embedded anvil on
 * 127.0.0.1 (a free port), deploys and wires every contract, writes the deployment file, prints it and
 * keeps the chain running until interrupted; with --rpc, deploys to that endpoint and exits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { JsonRpcProvider } from 'ethers';
import { type Anvil, startAnvil } from '../../contracts/anvil.js';
import { type Deployment, deployAll, PaddedWallet } from '../../contracts/deploy.js';
import { EXIT } from '../exit-codes.js';

/** anvil's first default account (mnemonic "test test … junk"): a well-known development key. */
const ANVIL_DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

export interface ChainUpOptions {
  readonly rpc?: string;
  readonly out: string;
  /** Deployer key; required with --rpc unless the endpoint is a dev chain with anvil's default account. */
  readonly privateKey?: string;
}

export async function chainUp(
  opts: ChainUpOptions,
  log: (line: string) => void = console.log,
): Promise<{ deployment: Deployment; anvil?: Anvil }> {
  const anvil: Anvil | undefined = opts.rpc === undefined ? await startAnvil() : undefined;
  const rpcUrl = opts.rpc ?? anvil!.url;
  try {
    const provider = new JsonRpcProvider(rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
      pollingInterval: 50,
    });
    const key = opts.privateKey ?? process.env.DEFAAS_DEPLOYER_KEY ?? ANVIL_DEV_KEY;
    const signer = new PaddedWallet(key, provider);
    const { deployment } = await deployAll(signer, rpcUrl);
    const out = resolve(opts.out);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(deployment, null, 2)}\n`);
    log(JSON.stringify(deployment, null, 2));
    log(`deployment written to ${out}`);
    provider.destroy();
    return anvil ? { deployment, anvil } : { deployment };
  } catch (e) {
    await anvil?.stop();
    throw e;
  }
}

export function registerChain(program: Command): void {
  const chain = program.command('chain').description('local chain and contract deployment');
  chain
    .command('up')
    .description('start anvil (or use --rpc), deploy the defaas contracts and write the deployment file')
    .option('--rpc <url>', 'deploy to this EVM JSON-RPC endpoint and exit instead of starting anvil')
    .option('--out <file>', 'deployment file', '.defaas/deployment.json')
    .option('--private-key <hex>', 'deployer key (default: $DEFAAS_DEPLOYER_KEY, else the anvil dev key)')
    .action(async (o: { rpc?: string; out: string; privateKey?: string }) => {
      const { anvil } = await chainUp({
        out: o.out,
        ...(o.rpc !== undefined ? { rpc: o.rpc } : {}),
        ...(o.privateKey !== undefined ? { privateKey: o.privateKey } : {}),
      });
      if (!anvil) return;
      console.log(`anvil running at ${anvil.url} (pid ${anvil.pid}); Ctrl-C to stop`);
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
      if (died) {
        console.error('anvil exited');
        process.exitCode = EXIT.TRANSIENT;
        return;
      }
      await anvil.stop();
    });
}
