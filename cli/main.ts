import { Command, CommanderError } from 'commander';
import { registerAttest } from './commands/attest.js';
import { registerChain } from './commands/chain.js';
import { registerDemo } from './commands/demo.js';
import { registerExecutor } from './commands/executor.js';
import { registerInvoke } from './commands/invoke.js';
import { EXIT, UsageError } from './exit-codes.js';

/** Builds the `defaas` program. One file per subcommand under cli/commands/. */
export function buildProgram(): Command {
  const program = new Command('defaas')
    .description(
      'defaas: confidential Function-as-a-Service on attested TEEs, witnessed and settled on an EVM chain',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');
  registerAttest(program);
  registerChain(program);
  registerExecutor(program);
  registerInvoke(program);
  registerDemo(program);
  return program;
}

/** Runs the CLI and resolves with the process exit code (0 ok, 1 rejected, 2 usage, 3 transient). */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.commands.forEach(function override(c: Command) {
    c.exitOverride();
    c.commands.forEach(override);
  });
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end through here with exitCode 0.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`defaas: ${e.message}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`defaas: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.REJECTED;
  }
}
