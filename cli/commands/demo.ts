import type { Command } from 'commander';
import { formatEther } from 'ethers';
import { DemoStepError, runDemo } from '../demo/network.js';
import { EXIT, UsageError } from '../exit-codes.js';

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
    .option('--calls <n>', 'invocations of the sha256 example, batched (1-10000)', '100')
    .option('--json', 'print only a JSON summary (progress lines are not printed)')
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
        'Exit code 0 when every step succeeded; otherwise the failed step and its error are printed and it exits 1.\n' +
        'The simulated TEE is signed by a software root: production policies reject it.',
    )
    .action(async (o: { json?: boolean; calls: string }) => {
      const calls = Number(o.calls);
      if (!Number.isSafeInteger(calls) || calls < 1 || calls > 10_000)
        throw new UsageError('--calls must be an integer from 1 to 10000');
      process.exitCode = await demo(o.json === true, calls);
    });
}

async function demo(json: boolean, calls: number): Promise<number> {
  const log = (s: string) => {
    if (!json) process.stdout.write(`${s}\n`);
  };
  log('defaas demo — the whole local network on 127.0.0.1 (simulated TEE: a software root, dev only)');
  try {
    const summary = await runDemo({ calls, log });
    if (json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else
      log(
        `\nDone in ${(summary.durationMs / 1000).toFixed(1)} s: ${summary.callsOk}/${summary.calls} calls, ` +
          `${summary.receiptsVerified} covered by ${summary.receipts} verified receipts, provider paid ` +
          `${formatEther(summary.providerPaid)} tokens on-chain.`,
      );
    return EXIT.OK;
  } catch (e) {
    const step = e instanceof DemoStepError ? { step: e.step, title: e.title } : {};
    const message = e instanceof Error ? e.message : String(e);
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, ...step, error: message }, null, 2)}\n`);
    process.stderr.write(`defaas demo: ${message}\n`);
    return EXIT.REJECTED;
  }
}
