import type { Command } from 'commander';
import { formatEther } from 'ethers';
import { CodedError } from '../../attestation/errors.js';
import { integerArg } from '../args.js';
import { DemoStepError, runDemo } from '../demo/network.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { action, printResult, progress, reportFailure } from '../output.js';

/**
 * `npm start`: the whole local network on 127.0.0.1, one lease from order to payment (cli/demo/network.ts).
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole local network on 127.0.0.1: embedded anvil + contracts, a provider with a simulated-TEE ' +
        'executor, a customer who leases it on the market, invokes a function with verified receipts and pays',
    )
    .option('--calls <n>', 'invocations of the sha256 example, batched (1-10000)', integerArg(1, 10_000), 100)
    .option('--json', 'print one JSON summary on stdout (progress lines go to stderr)')
    .addHelpText(
      'after',
      '\nSteps:\n' +
        '  1. start anvil (@foundry-rs/anvil) on 127.0.0.1 and deploy all contracts (DEFAULT_PARAMS with short\n' +
        "     market windows; the demo advances anvil's clock with evm_increaseTime instead of waiting)\n" +
        '  2. the provider creates the enclave identity, produces its simulated evidence and registers the executor\n' +
        '     (stake, endpoint, specs, TEE simulated, enclave address, sha256 of the evidence)\n' +
        '  3. the customer posts an order; the provider bids sealed (commit-reveal); bidding closes; the provider\n' +
        '     confirms the lease; the customer starts it (a witness committee is requested, no witnesses run)\n' +
        '  4. the executor starts in-process for that lease, with the EIP-712 domain of the deployed Settlement\n' +
        '  5. the customer connects with a policy pinning the simulated root and MRTD, deploys examples/sha256.wat\n' +
        '     and invokes it --calls times in batched mode; every call is covered by a verified receipt\n' +
        '  6. the provider redeems the latest cumulative voucher on Settlement and collects; balances before/after\n' +
        '  7. everything started is stopped (session, executor, runtime, anvil by its pid)\n' +
        'When a step fails, its number and title are printed with the error (JSON: step, title), and the exit\n' +
        "code is the error's (70 when the error is untyped).\n" +
        'The simulated TEE is signed by a software root: production policies reject it.\n' +
        EXIT_CODES_HELP,
    )
    .action(action(demo));
}

async function demo(json: boolean, o: { calls: number }): Promise<ExitCode> {
  const log = (s: string) => progress(json, s);
  log('defaas demo — the whole local network on 127.0.0.1 (simulated TEE: a software root, dev only)');
  try {
    const summary = await runDemo({ calls: o.calls, log });
    printResult(
      json,
      { ...summary },
      `\nDone in ${(summary.durationMs / 1000).toFixed(1)} s: ${summary.callsOk}/${summary.calls} calls, ` +
        `${summary.receiptsVerified} covered by ${summary.receipts} verified receipts, provider paid ` +
        `${formatEther(summary.providerPaid)} tokens on-chain.`,
    );
    return EXIT.OK;
  } catch (e) {
    if (!(e instanceof DemoStepError)) throw e;
    // A typed cause keeps its code and kind (and exit code); anything else is the step's failure.
    const typed = e.cause instanceof CodedError ? e.cause : undefined;
    return reportFailure(typed ?? e, json, {
      fields: { step: e.step, title: e.title },
      lines: typed ? [`in step ${e.step} (${e.title})`] : [],
    });
  }
}
