/*
 * `defaas probe answers` computes a lease's known answers on the customer's own machine (the WASM run
 * locally, not by any provider); `defaas probe run` sends hidden probes to an executor and judges
 * them against SLA terms (docs/witness.md, "Hidden probes").
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { getBytes, Wallet } from 'ethers';
import { FunctionRuntime } from '../../enclave-host/runtime/function-runtime.js';
import { probeGrantToJson, signProbeGrant } from '../../protocol/probe-grant.js';
import { connect, isDefaasError } from '../../sdk/index.js';
import {
  encodeKnownAnswers,
  knownAnswersOf,
  parseKnownAnswers,
} from '../../verifier/probes/known-answers.js';
import { runProbes } from '../../verifier/probes/runner.js';
import { judgeSla } from '../../verifier/probes/sla.js';
import { addressArg, hostPortArg, integerArg, uint256Arg } from '../args.js';
import { DEFAULT_DEPLOYMENT } from '../chain-flags.js';
import { UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readBytes, readDeployment, readPolicy, readPrivateKey, readText } from '../files.js';
import { action, printResult, progress } from '../output.js';
import { sessionProbeChannel } from '../probe-channel.js';

interface AnswersOptions {
  wasm: string;
  inputs: string;
  base64?: boolean;
  lease: bigint;
  out: string;
  json?: boolean;
}

interface RunOptions {
  endpoint: string;
  policy: string;
  wasm: string;
  knownAnswers: string;
  count: number;
  intervalMs: number;
  timeoutMs: number;
  availabilityBps: number;
  p95Ms: number;
  key?: string;
  lease?: bigint;
  deadlineMs: number;
  json?: boolean;
}

const PROBE_EXIT_HELP =
  '\nExit codes: 0 the SLA holds, 1 violated (a wrong answer, or unavailable or slow beyond the SLA with\n' +
  'significance), 2 usage error, 3 the executor cannot be reached or attested (nothing was judged).\n';

export function registerProbe(program: Command): void {
  const probe = program
    .command('probe')
    .description(
      "hidden probes: known answers of a customer's function, and probes judged against SLA terms",
    );

  probe
    .command('answers')
    .description(
      "run the function locally on the customer's inputs and write the known answers its witnesses probe with",
    )
    .requiredOption('--wasm <file>', 'the WASI preview 1 command module the lease runs')
    .requiredOption(
      '--inputs <file>',
      'one input per line (UTF-8 text, or base64 with --base64); use a uniform sample of ≥ 256 real inputs',
    )
    .option('--base64', 'the lines of --inputs are base64')
    .requiredOption('--lease <id>', 'the lease (uint256, decimal; 0 for a standalone executor)', uint256Arg)
    .requiredOption('--out <file>', 'where to write the known answers (JSON)')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}\nExample:\n  defaas probe answers --wasm f.wasm --inputs samples.txt --lease 0 --out answers.json`,
    )
    .action(action(answers));

  probe
    .command('grant')
    .description(
      "as a lease's customer, sign a ProbeGrant that lets one witness probe the lease in one epoch, paid from the lease budget up to a cap",
    )
    .requiredOption('--key <file>', "the customer's private key file (one line of hex)")
    .requiredOption('--lease <id>', 'the lease (uint256, decimal)', uint256Arg)
    .requiredOption('--witness <address>', 'the witness wallet that will sign the probe vouchers', addressArg)
    .requiredOption(
      '--epoch <n>',
      'the epoch of the round the witness was drawn for',
      integerArg(0, 2 ** 32 - 1),
    )
    .option(
      '--max-calls <n>',
      'probes the executor serves under this grant at most',
      integerArg(1, 2 ** 32 - 1),
      256,
    )
    .requiredOption(
      '--max-amount <units>',
      "cumulative cap, in token base units, on what the witness's vouchers may take from the lease budget",
      uint256Arg,
    )
    .requiredOption(
      '--expiry <unix-seconds>',
      'after this time the executor serves no probe under the grant',
      uint256Arg,
    )
    .option(
      '--deployment <file>',
      'deployment file: the chain id and the Settlement of the EIP-712 domain',
      DEFAULT_DEPLOYMENT,
    )
    .requiredOption('--out <file>', 'where to write the signed grant (JSON); give it to the witness')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      '\nThe witness puts it, as <lease>-<epoch>.grant.json, beside <lease>.answers.json in its --probe-dir.\n' +
        EXIT_CODES_HELP +
        '\nExample:\n  defaas probe grant --key customer.key --lease 1 --witness 0x… --epoch 0 --max-amount 1000000000000000000 \\\n' +
        '    --expiry 1893456000 --out 1-0.grant.json',
    )
    .action(action(grant));

  probe
    .command('run')
    .description('send hidden probes (known-answer calls at Poisson times) to an executor and judge the SLA')
    .requiredOption('--endpoint <host:port>', 'executor gRPC address', hostPortArg)
    .requiredOption('--policy <file>', 'attestation policy the executor must satisfy')
    .requiredOption('--wasm <file>', 'the function (deployed if the executor does not hold it yet)')
    .requiredOption('--known-answers <file>', 'known answers (`defaas probe answers`)')
    .option('--count <n>', 'probes to send (1..10000)', integerArg(1, 10_000), 20)
    .option('--interval-ms <ms>', 'mean time between probes', integerArg(0, 3_600_000), 50)
    .option('--timeout-ms <ms>', 'a probe unanswered this long is missed', integerArg(1, 600_000), 5_000)
    .option('--availability-bps <bps>', 'promised availability (basis points)', integerArg(0, 10_000), 9_900)
    .option('--p95-ms <ms>', 'promised 95th-percentile latency', integerArg(1, 600_000), 500)
    .option('--key <file>', 'wallet that signs the probe vouchers (default: a new random wallet)')
    .option('--lease <id>', 'the lease the executor must serve (default: the one it presents)', uint256Arg)
    .option(
      '--deadline-ms <ms>',
      'per-RPC deadline, the session opening included',
      integerArg(1, 600_000),
      30_000,
    )
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `${PROBE_EXIT_HELP}Example:\n  defaas probe run --endpoint 127.0.0.1:7443 --policy .defaas/executor/policy.json \\\n` +
        '    --wasm f.wasm --known-answers answers.json --count 50 --json',
    )
    .action(action(run));
}

/** The lines of --inputs, as bytes. */
async function readInputs(o: AnswersOptions): Promise<Uint8Array[]> {
  const lines = (await readText(o.inputs, '--inputs'))
    .split('\n')
    .filter((l, i, all) => l !== '' || i < all.length - 1);
  if (lines.length === 0) throw new UsageError('--inputs: no inputs', 'FILE_INVALID', { flag: '--inputs' });
  return lines.map((l, i) => {
    if (!o.base64) return new TextEncoder().encode(l);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(l) || l.length % 4 !== 0)
      throw new UsageError(`--inputs: line ${i + 1} is not base64`, 'FILE_INVALID', {
        flag: '--inputs',
        line: i + 1,
      });
    return new Uint8Array(Buffer.from(l, 'base64'));
  });
}

async function answers(json: boolean, o: AnswersOptions): Promise<ExitCode> {
  const wasm = await readBytes(o.wasm, '--wasm');
  const inputs = await readInputs(o);
  const runtime = new FunctionRuntime({
    workers: 1,
    limits: { memoryBytes: 256 << 20, wallTimeMs: 10_000, maxInputBytes: 16 << 20, maxOutputBytes: 16 << 20 },
  });
  try {
    const fnId = await runtime.register(wasm, 'customer');
    const pairs = [];
    for (const [i, input] of inputs.entries()) {
      // A function that fails on an input gives no answer to probe with.
      const r = await runtime.invoke(fnId, input).catch((e: unknown) => {
        throw new UsageError(
          `input ${i + 1}: the function failed locally (${(e as Error).message})`,
          'FILE_INVALID',
          {
            flag: '--inputs',
            line: i + 1,
          },
        );
      });
      pairs.push({ input, output: r.output });
      if ((i + 1) % 64 === 0) progress(json, `${i + 1} of ${inputs.length} inputs run`);
    }
    const known = knownAnswersOf(o.lease, fnId, pairs);
    await writeFile(o.out, encodeKnownAnswers(known));
    if (inputs.length < 256)
      progress(
        json,
        `warning: ${inputs.length} answers; fewer than 256 make probe sizes easier to tell apart`,
      );
    printResult(
      json,
      { out: o.out, functionId: fnId, answers: inputs.length, lease: o.lease },
      `wrote ${inputs.length} known answers of function ${fnId} to ${o.out}`,
    );
    return EXIT.OK;
  } finally {
    await runtime.close();
  }
}

interface GrantOptions {
  key: string;
  lease: bigint;
  witness: string;
  epoch: number;
  maxCalls: number;
  maxAmount: bigint;
  expiry: bigint;
  deployment: string;
  out: string;
  json?: boolean;
}

async function grant(json: boolean, o: GrantOptions): Promise<ExitCode> {
  const deployment = await readDeployment(o.deployment);
  const domain = { chainId: BigInt(deployment.chainId), verifyingContract: deployment.contracts.settlement };
  const wallet = new Wallet(await readPrivateKey(o.key));
  const g = {
    leaseId: o.lease,
    witness: o.witness,
    epoch: BigInt(o.epoch),
    maxCalls: BigInt(o.maxCalls),
    maxAmount: o.maxAmount,
    expiry: o.expiry,
  };
  const signed = signProbeGrant(getBytes(wallet.privateKey), domain, g);
  const body = probeGrantToJson(signed);
  await writeFile(o.out, `${JSON.stringify(body, null, 2)}\n`);
  printResult(
    json,
    { out: o.out, customer: wallet.address.toLowerCase(), ...body },
    `wrote a grant for witness ${o.witness} on lease ${o.lease}, epoch ${o.epoch} (cap ${o.maxAmount}) to ${o.out}`,
  );
  return EXIT.OK;
}

async function run(json: boolean, o: RunOptions): Promise<ExitCode> {
  const policy = await readPolicy(o.policy);
  const wasm = await readBytes(o.wasm, '--wasm');
  let known: ReturnType<typeof parseKnownAnswers>;
  try {
    known = parseKnownAnswers(await readText(o.knownAnswers, '--known-answers'));
  } catch (e) {
    throw new UsageError(`--known-answers: ${(e as Error).message}`, 'FILE_INVALID', {
      flag: '--known-answers',
    });
  }
  const wallet = o.key ? new Wallet(await readPrivateKey(o.key)) : Wallet.createRandom();
  let session: Awaited<ReturnType<typeof connect>>;
  try {
    session = await connect(o.endpoint, {
      policy,
      deadlineMs: o.deadlineMs,
      ...(o.lease !== undefined && { leaseId: o.lease }),
    });
  } catch (e) {
    // Not reachable, or not attested: nothing was probed, so nothing is judged.
    if (isDefaasError(e))
      printResult(
        json,
        { verdict: 'unreachable', code: e.code, message: e.message },
        `unreachable: ${e.code}: ${e.message}`,
      );
    else throw e;
    return EXIT.TRANSIENT;
  }
  try {
    const fn = await session.deploy(wasm);
    if (fn.id !== known.functionId)
      throw new UsageError(
        `--wasm is function ${fn.id}, the known answers are of ${known.functionId}`,
        'FILE_INVALID',
        { flag: '--known-answers' },
      );
    progress(json, `sending ${o.count} probes at a mean interval of ${o.intervalMs} ms`);
    const t0 = performance.now();
    const obs = await runProbes(sessionProbeChannel(session, fn, wallet), known, {
      count: o.count,
      meanIntervalMs: o.intervalMs,
      timeoutMs: o.timeoutMs,
    });
    const j = judgeSla(obs, { availabilityBps: o.availabilityBps, p95LatencyMs: o.p95Ms });
    printResult(
      json,
      {
        verdict: j.verdict,
        why: j.why,
        probes: j.probes,
        wrong: j.wrong,
        missed: j.missed,
        slow: j.slow,
        p95Ms: j.p95Ms,
        availabilityP: j.availabilityP,
        latencyP: j.latencyP,
        seconds: (performance.now() - t0) / 1000,
        functionId: fn.id,
        enclave: session.accepted.identityAddress,
      },
      `${j.verdict}: ${j.why}${j.p95Ms !== undefined ? ` (p95 ${j.p95Ms.toFixed(1)} ms)` : ''}`,
    );
    return j.verdict === 'Ok' ? EXIT.OK : EXIT.VERIFICATION_FAILED;
  } finally {
    await session.close();
  }
}
