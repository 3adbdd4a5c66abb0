/*
 * `defaas key new --out <file>` writes a new secp256k1 private key (one line of hex, mode 0600) and
 * prints its address; `defaas key address <file>` prints the address of a key file. The key files
 * are what `--key` reads everywhere (provider, customer, witness).
 */
import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { Wallet } from 'ethers';
import { UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readPrivateKey } from '../files.js';
import { action, printResult } from '../output.js';

async function newKey(json: boolean, o: { out: string }): Promise<ExitCode> {
  const w = Wallet.createRandom();
  // 'wx': never overwrite a key file (it may hold funds).
  const f = await open(o.out, 'wx', 0o600).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(
      e.code === 'EEXIST'
        ? `--out: ${o.out} exists; a key file is never overwritten`
        : `--out: cannot create ${o.out} (${e.code ?? 'error'})`,
      'FILE_UNWRITABLE',
      { flag: '--out', path: o.out },
    );
  });
  try {
    await f.writeFile(`${w.privateKey.slice(2)}\n`);
    await f.sync();
  } finally {
    await f.close();
  }
  printResult(json, { address: w.address, file: o.out }, `${w.address}\n`);
  return EXIT.OK;
}

async function address(json: boolean, file: string): Promise<ExitCode> {
  const w = new Wallet(await readPrivateKey(file, 'key file'));
  printResult(json, { address: w.address, file }, `${w.address}\n`);
  return EXIT.OK;
}

export function registerKey(program: Command): void {
  const key = program.command('key').description('wallet key files for --key (provider, customer, witness)');
  key
    .command('new')
    .description('write a new private key file (mode 0600) and print its address')
    .requiredOption('--out <file>', 'the key file to create (never overwritten)')
    .option('--json', 'print one JSON object: address, file')
    .addHelpText('after', `${EXIT_CODES_HELP}\nExample:\n  defaas key new --out provider.key`)
    .action(action(newKey));
  key
    .command('address')
    .description("print a key file's address")
    .argument('<file>', 'a key file (one line of 64 hex digits)')
    .option('--json', 'print one JSON object: address, file')
    .addHelpText('after', `${EXIT_CODES_HELP}\nExample:\n  defaas key address provider.key`)
    .action(action(address));
}
