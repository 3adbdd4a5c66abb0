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
        'executor, witnesses, a customer who leases it on the market, invokes a function with verified receipts ' +
        'and pays per call and per checked epoch',
    )
    .option('--calls <n>', 'invocations of the sha256 example, batched (1-10000)', integerArg(1, 10_000), 100)
    .option(
      '--log-dir <dir>',
      'where the attestation log is written (emptied first; kept for `defaas audit verify`)',
      '.defaas/demo/log',
    )
    .option(
      '--keep-running',
      'after the audit, keep the network up (anvil, the log and its witnesses, the executor) until Ctrl-C, and print the command that audits the live log and chain',
    )
    .option('--json', 'print one JSON summary on stdout (progress lines go to stderr)')
    .addHelpText(
      'after',
      '\nSteps:\n' +
        '  1. start anvil (@foundry-rs/anvil) on 127.0.0.1 and deploy all contracts (DEFAULT_PARAMS with short\n' +
        "     market and witness windows; the demo advances anvil's clock with evm_increaseTime instead of waiting)\n" +
        '  2. start the attestation log (C2SP tiles, checkpoints signed with a fresh Ed25519 key, served over HTTP on\n' +
        '     127.0.0.1) in --log-dir, and two witnesses that cosign its checkpoints (C2SP tlog-witness); the log\n' +
        '     verifies every submission itself and anchors its checkpoints on AttestationLog\n' +
        '  3. the provider creates the enclave identity and its simulated evidence; the enclave signs its proof of\n' +
        '     possession and the provider registers the executor (stake, endpoint, specs, enclave, evidence hash);\n' +
        '     the registration and its evidence go into the attestation log\n' +
        '  4. three witnesses register with twice the minimum stake\n' +
        '  5. the customer posts an order with SLA terms (two epochs); the provider bids sealed (commit-reveal);\n' +
        '     bidding closes; the provider confirms (collateral locked from its stake); the customer starts the lease\n' +
        '  6. the executor starts in-process for that lease, with the EIP-712 domain of the deployed Settlement\n' +
        '  7. the customer connects with a policy pinning the simulated root and MRTD (the SDK logs the verified\n' +
        '     session), deploys examples/sha256.wat and invokes it --calls times in batched mode; every call is\n' +
        '     covered by a verified receipt\n' +
        '  8. the provider redeems the latest cumulative voucher on Settlement and collects; balances before/after\n' +
        '  9. each epoch: a round is requested and a committee drawn; witness agents attest the executor, send it\n' +
        '     capacity challenges and hidden probes, commit and reveal (and log their verdicts); the epoch is paid\n' +
        ' 10. after the redeem window the lease is settled: unused budget refunded, collateral released\n' +
        ' 11. the auditor verifies the log (both cosignatures, every tile, entry, blob and piece of evidence), its\n' +
        '     anchors, and that every executor, lease and revealed verdict on chain has its evidence in the log\n' +
        '     (with --keep-running the network stays up here until Ctrl-C, for `defaas audit verify --rpc`)\n' +
        ' 12. everything started is stopped (log server, session, executor, runtime, anvil by its pid); the log\n' +
        '     directory stays for `defaas audit verify`\n' +
        'When a step fails, its number and title are printed with the error (JSON: step, title), and the exit\n' +
        "code is the error's (70 when the error is untyped).\n" +
        'The simulated TEE is signed by a software root: production policies reject it.\n' +
        EXIT_CODES_HELP,
    )
    .action(action(demo));
}

async function demo(
  json: boolean,
  o: { calls: number; logDir: string; keepRunning?: boolean },
): Promise<ExitCode> {
  const log = (s: string) => progress(json, s);
  log('defaas demo — the whole local network on 127.0.0.1 (simulated TEE: a software root, dev only)');
  try {
    // With --keep-running, Ctrl-C (or SIGTERM) ends the wait once the network is up; the demo then stops it.
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const summary = await runDemo({
      calls: o.calls,
      logDir: o.logDir,
      log,
      ...(o.keepRunning && {
        keepRunning: stopped,
        onRunning: () => {
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        },
      }),
    });
    printResult(
      json,
      { ...summary },
      `\nDone in ${(summary.durationMs / 1000).toFixed(1)} s: ${summary.callsOk}/${summary.calls} calls, ` +
        `${summary.receiptsVerified} covered by ${summary.receipts} verified receipts; provider paid ` +
        `${formatEther(summary.providerPaid)} tokens for the calls and ` +
        `${formatEther(summary.epochs.reduce((a, e) => a + BigInt(e.providerPaid), 0n))} for ` +
        `${summary.epochs.length} checked epochs, on-chain.`,
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
