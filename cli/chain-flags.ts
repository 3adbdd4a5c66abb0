import type { Command } from 'commander';
import { httpUrlArg } from './args.js';

/** Where `defaas chain up` writes the deployment file, and where the chain commands read it. */
export const DEFAULT_DEPLOYMENT = '.defaas/deployment.json';

/** `--rpc <url>` and `--deployment <file>`: the chain a command reads (its endpoint, else the file's `rpcUrl`). */
export function chainFlags(cmd: Command): Command {
  return cmd
    .option(
      '--rpc <url>',
      "the chain's JSON-RPC endpoint (default: the deployment file's rpcUrl)",
      httpUrlArg,
    )
    .option('--deployment <file>', 'deployment file written by `defaas chain up`', DEFAULT_DEPLOYMENT);
}
