import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerAttest } from './commands/attest.js';
import { registerAudit } from './commands/audit.js';
import { registerChain } from './commands/chain.js';
import { registerChallenge } from './commands/challenge.js';
import { registerDemo } from './commands/demo.js';
import { registerEvidence } from './commands/evidence.js';
import { registerExecutor } from './commands/executor.js';
import { registerInvoke } from './commands/invoke.js';
import { registerKey } from './commands/key.js';
import { registerLog } from './commands/log.js';
import { registerMarket } from './commands/market.js';
import { registerOrder } from './commands/order.js';
import { registerProbe } from './commands/probe.js';
import { registerProvider } from './commands/provider.js';
import { registerWitness } from './commands/witness.js';
import { EXIT } from './exit-codes.js';
import { reportFailure } from './output.js';

/** The version in package.json, read when the program is built. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Builds the `defaas` program. One file per subcommand under cli/commands/. */
export function buildProgram(): Command {
  const program = new Command('defaas')
    .description(
      'defaas: confidential Function-as-a-Service on attested TEEs, witnessed and settled on an EVM chain',
    )
    .version(packageVersion())
    // commander's own error text is replaced by reportFailure's (one format, JSON under --json);
    // subcommands inherit this.
    .configureOutput({ outputError: () => {} });
  registerAttest(program);
  registerChain(program);
  registerKey(program);
  registerExecutor(program);
  registerInvoke(program);
  registerProbe(program);
  registerWitness(program);
  registerProvider(program);
  registerMarket(program);
  registerOrder(program);
  registerChallenge(program);
  registerEvidence(program);
  registerLog(program);
  registerAudit(program);
  registerDemo(program);
  return program;
}

/** `--json` among the arguments (before a `--`): how a parse error is reported before any action runs. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Runs the CLI and resolves with the process exit code (the table in exit-codes.ts). */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.commands.forEach(function override(c: Command) {
    c.exitOverride();
    c.commands.forEach(override);
  });
  let json = wantsJson(argv.slice(2));
  program.hook('preAction', (_program, command) => {
    json = command.opts().json === true;
  });
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (e) {
    // --help and --version end here too, with exit code 0 and nothing more to say.
    if (e instanceof CommanderError && e.exitCode === 0) return EXIT.OK;
    return reportFailure(e, json);
  }
}
