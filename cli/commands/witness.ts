/*
 * `defaas witness start` runs the witness agent (verifier/agent/): registers the wallet as a witness
 * (or reuses its registration), follows the WitnessPool for the committees it is drawn into, and for
 * each round evaluates the executor, commits and reveals its verdict in their windows and finalizes.
 * `defaas witness status` reports what the agent's state directory holds (and balances with --rpc).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { getBytes, hexlify, JsonRpcProvider, Network, Wallet } from 'ethers';
import pino from 'pino';
import type { Policy } from '../../attestation/policy.js';
import { PaddedWallet } from '../../contracts/deploy.js';
import { connect, isDefaasError } from '../../sdk/index.js';
import { sessionChallengeChannel } from '../../sdk/session/challenge.js';
import { WitnessAgent } from '../../verifier/agent/agent.js';
import { type AttestFailure, attestEvaluator } from '../../verifier/agent/attest.js';
import { capacityEvaluator } from '../../verifier/agent/capacity.js';
import type { AgentDeployment } from '../../verifier/agent/chain.js';
import { isAgentError } from '../../verifier/agent/errors.js';
import { allOf, dangerouslyAlwaysOk, type Evaluator } from '../../verifier/agent/evaluator.js';
import { directoryProbeKits } from '../../verifier/agent/probe-kits.js';
import { type ProbeKit, probeEvaluator } from '../../verifier/agent/probes.js';
import { reachabilityEvaluator } from '../../verifier/agent/reachability.js';
import { agentStatus, formatStatus } from '../../verifier/agent/status.js';
import { httpUrlArg, integerArg, uint256Arg } from '../args.js';
import { chainFlags, DEFAULT_DEPLOYMENT } from '../chain-flags.js';
import { CliError, UsageError } from '../errors.js';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.js';
import { readDeployment, readPolicy, walletAndChain } from '../files.js';
import { action, printResult } from '../output.js';
import { sessionProbeChannel } from '../probe-channel.js';
import { untilStopped } from '../until-stopped.js';

export const DEFAULT_WITNESS_STATE_DIR = '.defaas/witness';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const EVALUATORS = ['attest', 'reachability', 'always-ok'] as const;

interface StartOptions {
  rpc?: string;
  key?: string;
  stateDir: string;
  deployment: string;
  stake?: bigint;
  pollMs: number;
  evaluator?: (typeof EVALUATORS)[number];
  policy?: string;
  commitMargin: number;
  evaluateLead: number;
  logUrl?: string;
  challengeN: number;
  probeDir?: string;
  probeIntervalMs: number;
  logLevel: string;
  json?: boolean;
}

/** attest: a DefaasError as the verdict it stands for (verifier/agent/attest.ts). */
function classifyAttest(e: unknown): AttestFailure {
  const message = e instanceof Error ? e.message : String(e);
  if (!isDefaasError(e)) return { verdict: 'Unavailable', code: 'ERROR', message };
  const stale =
    /^(POLICY_TCB_STATUS|POLICY_ADVISORY|POLICY_MIN_TCB|COLLATERAL_EXPIRED|COLLATERAL_NOT_YET_VALID|TCB_)/;
  if (e.kind === 'transient' || e.kind === 'rejected' || e.kind === 'usage')
    return { verdict: 'Unavailable', code: e.code, message };
  if (stale.test(e.code)) return { verdict: 'Stale', code: e.code, message };
  // Forged or foreign evidence, another enclave than the lease's, a broken handshake.
  return { verdict: 'Fraud', code: e.code, message };
}

async function buildEvaluator(
  o: StartOptions,
  key: string,
  evidenceDir: string,
  log: pino.Logger,
): Promise<Evaluator> {
  const name = o.evaluator ?? (o.policy !== undefined ? 'attest' : 'reachability');
  if (name === 'always-ok') {
    log.warn('evaluator always-ok: this witness checks nothing and reports Ok (demonstrations only)');
    return dangerouslyAlwaysOk;
  }
  if (name === 'reachability') {
    log.warn('evaluator reachability: only checks that the executor endpoint accepts connections');
    return reachabilityEvaluator({ evidenceDir });
  }
  if (o.policy === undefined)
    throw new UsageError('--evaluator attest needs --policy <file>', 'MISSING_ARGUMENT', {
      flag: '--policy',
    });
  return attestedEvaluator(await readPolicy(o.policy), evidenceDir, {
    witnessKey: getBytes(key),
    challengeN: o.challengeN,
    probeKits: o.probeDir !== undefined ? directoryProbeKits(o.probeDir, new Wallet(key).address) : undefined,
    probeIntervalMs: o.probeIntervalMs,
  });
}

/**
 * The checks of a witness that holds the executor's attestation policy: reachability, an attested
 * session pinned to the lease's enclave (verifier/agent/attest.ts) opened with the SDK, and, with the
 * witness key, capacity challenges of size `challengeN` over the epoch (verifier/agent/capacity.ts).
 */
export function attestedEvaluator(
  policy: Policy,
  evidenceDir: string,
  c: {
    witnessKey?: Uint8Array | undefined;
    challengeN?: number;
    /** The customers' probe kits (known answers and grants); with the witness key, hidden probes too. */
    probeKits?: ((leaseId: bigint, epoch: number) => ProbeKit | undefined) | undefined;
    probeIntervalMs?: number;
  } = {},
): Evaluator {
  const attest = attestEvaluator({
    evidenceDir,
    classify: classifyAttest,
    open: async (t) => {
      const session = await connect(t.endpoint, {
        policy,
        leaseId: t.leaseId,
        identity: { address: t.enclave },
      });
      const identity = session.accepted.identityAddress;
      await session.close();
      return { identity };
    },
  });
  const parts: Evaluator[] = [reachabilityEvaluator({ evidenceDir }), attest];
  const key = c.witnessKey;
  const session = (t: { endpoint: string; leaseId: bigint; enclave: string }) =>
    connect(t.endpoint, { policy, leaseId: t.leaseId, identity: { address: t.enclave } });
  let probes: ReturnType<typeof probeEvaluator> | undefined;
  if (key !== undefined && c.probeKits) {
    const wallet = new Wallet(hexlify(key));
    probes = probeEvaluator({
      kit: c.probeKits,
      meanIntervalMs: c.probeIntervalMs ?? 60_000,
      timeoutMs: 10_000,
      minProbes: 8,
      maxProbes: 500,
      evidenceDir,
      open: async (t) => {
        const s = await session(t);
        const id = t.kit.known.functionId;
        return {
          channel: sessionProbeChannel(s, { id, hash: `0x${id}` }, wallet, t.kit.grant),
          close: () => s.close(),
        };
      },
    });
  }
  if (key !== undefined && c.challengeN)
    parts.push(
      capacityEvaluator({
        n: c.challengeN,
        witnessKey: key,
        evidenceDir,
        ...(probes && { alongside: probes.during }),
        open: async (t) => {
          const s = await session(t);
          return { channel: sessionChallengeChannel(s), close: () => s.close() };
        },
      }),
    );
  if (probes) parts.push(probes);
  return allOf(parts.map((p) => p.name).join('+'), parts, evidenceDir);
}

async function start(json: boolean, o: StartOptions): Promise<ExitCode> {
  const log = pino(
    { level: o.logLevel, base: { svc: 'defaas-witness' } },
    pino.destination({ dest: 2, sync: true }),
  );
  const { key, deployment, rpc } = await walletAndChain(o, 'witness', 'DEFAAS_WITNESS_KEY');
  const evidenceDir = join(o.stateDir, 'evidence');
  try {
    await mkdir(evidenceDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UsageError(
      `--state-dir: cannot create ${o.stateDir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      'FILE_UNWRITABLE',
      { flag: '--state-dir', path: o.stateDir },
    );
  }
  const evaluator = await buildEvaluator(o, key, resolve(evidenceDir), log);
  const network = Network.from(BigInt(deployment.chainId));
  const provider = new JsonRpcProvider(rpc, network, {
    staticNetwork: network,
    cacheTimeout: -1,
    pollingInterval: 500,
  });
  let agent: WitnessAgent;
  try {
    agent = await WitnessAgent.create({
      signer: new PaddedWallet(key, provider),
      deployment,
      stateDir: o.stateDir,
      evaluator,
      log,
      pollMs: o.pollMs,
      commitMarginSeconds: o.commitMargin,
      evaluateLeadSeconds: o.evaluateLead,
      ...(o.logUrl !== undefined && { logUrl: o.logUrl }),
      ...(o.stake !== undefined && { stake: o.stake }),
    });
    await agent.start();
  } catch (e) {
    provider.destroy();
    throw cliErrorOf(e, rpc);
  }
  const reg = agent.registration!;
  printResult(
    json,
    {
      witness: agent.witness,
      witnessId: reg.witnessId,
      reused: reg.reused,
      stake: reg.stake,
      eligible: reg.eligible,
      stateDir: resolve(o.stateDir),
      evaluator: evaluator.name,
      rpc,
    },
    `witness ${agent.witness} (id ${reg.witnessId}, ${reg.reused ? 'registration reused' : 'registered'}, stake ${reg.stake}${reg.eligible ? '' : ', NOT eligible'})\n` +
      `  evaluator ${evaluator.name}\n  state     ${resolve(o.stateDir)}\n  chain     ${rpc}\n`,
  );
  await untilStopped(log, () => agent.stop());
  provider.destroy();
  return EXIT.OK;
}

/** A chain that does not answer is CHAIN_UNAVAILABLE (exit 3); the agent's own errors pass through. */
function cliErrorOf(e: unknown, rpc: string): unknown {
  if (isAgentError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'NETWORK_ERROR' || code === 'TIMEOUT')
    return new CliError('CHAIN_UNAVAILABLE', `${rpc}: ${(e as Error).message}`, { rpc }, e);
  return e;
}

interface StatusOptions {
  stateDir: string;
  rpc?: string;
  deployment: string;
  json?: boolean;
}

async function status(json: boolean, o: StatusOptions): Promise<ExitCode> {
  let chain: { provider: JsonRpcProvider; deployment: AgentDeployment } | undefined;
  if (o.rpc !== undefined) {
    const deployment = await readDeployment(o.deployment);
    const network = Network.from(BigInt(deployment.chainId));
    chain = { provider: new JsonRpcProvider(o.rpc, network, { staticNetwork: network }), deployment };
  }
  try {
    await readFile(join(o.stateDir, 'agent.json')).catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(
        `--state-dir: ${o.stateDir} holds no witness agent state (${e.code ?? 'error'})`,
        'FILE_NOT_FOUND',
        { flag: '--state-dir', path: o.stateDir },
      );
    });
    const s = await agentStatus(resolve(o.stateDir), chain).catch((e: unknown) => {
      throw o.rpc !== undefined ? cliErrorOf(e, o.rpc) : e;
    });
    printResult(json, { ...s }, formatStatus(s));
    return EXIT.OK;
  } finally {
    chain?.provider.destroy();
  }
}

export function registerWitness(program: Command): void {
  const witness = program
    .command('witness')
    .description(
      'run a witness agent: check executors for the committees it is drawn into and report verdicts',
    );
  chainFlags(
    witness
      .command('start')
      .description(
        'register (or reuse the registration), then follow the WitnessPool: evaluate, commit, reveal and finalize each round the wallet is drawn into',
      ),
  )
    .option('--key <file>', 'witness private key file, one line of hex (default: $DEFAAS_WITNESS_KEY)')
    .option(
      '--state-dir <dir>',
      'where rounds, salts and evidence are kept (fsync-ed)',
      DEFAULT_WITNESS_STATE_DIR,
    )
    .option(
      '--stake <units>',
      'stake to register with, token base units (default: minWitnessStake)',
      uint256Arg,
    )
    .option('--poll-ms <n>', 'how often to read the chain', integerArg(50), 2000)
    .addOption(
      new Option(
        '--evaluator <name>',
        'attest: attested session pinned to the lease enclave + reachability + capacity challenges (needs --policy); reachability: TCP connect only; always-ok: checks nothing (demos)',
      ).choices(EVALUATORS),
    )
    .option('--policy <file>', 'attestation policy for --evaluator attest (the default evaluator when given)')
    .option(
      '--commit-margin <s>',
      'seal the verdict at least this many seconds before the commit deadline',
      integerArg(1),
      30,
    )
    .option(
      '--log-url <url>',
      'attestation log to record each revealed verdict and its evidence in',
      httpUrlArg,
    )
    .option(
      '--evaluate-lead <s>',
      "evaluate this many seconds before the epoch's end (capacity challenges must run inside the epoch)",
      integerArg(0),
      120,
    )
    .option(
      '--probe-dir <dir>',
      "hidden probes (with --policy): the customers' <lease>.answers.json and <lease>-<epoch>.grant.json files",
    )
    .option('--probe-interval-ms <ms>', 'mean time between hidden probes', integerArg(10), 60_000)
    .option(
      '--challenge-n <n>',
      'matrix size of the capacity challenges (with --policy; 0: no challenges)',
      integerArg(0, 4096),
      256,
    )
    .addOption(
      new Option('--log-level <level>', 'pino log level (logs go to stderr)')
        .choices(LOG_LEVELS)
        .default('info'),
    )
    .option(
      '--json',
      'once running, print one JSON line: witness, witnessId, reused, stake, eligible, stateDir, evaluator',
    )
    .addHelpText(
      'after',
      '\nThe agent runs until SIGTERM/SIGINT. Verdicts and salts are written (fsync) to --state-dir before a\n' +
        'commitment is sent, so a restarted agent still reveals. Without --policy and --evaluator, the agent only\n' +
        'checks that the executor accepts connections (reachability), and says so in its log. Rewards are paid by\n' +
        'finalize itself; there is nothing to claim. See docs/witness.md, "The witness agent".\n' +
        EXIT_CODES_HELP +
        '\nExample:\n  defaas witness start --key witness.key --state-dir .defaas/witness --policy .defaas/executor/policy.json',
    )
    .action(action(start));
  witness
    .command('status')
    .description("report the agent's rounds, failures and (with --rpc) balances from its state directory")
    .option('--state-dir <dir>', 'the agent state directory', DEFAULT_WITNESS_STATE_DIR)
    .option('--rpc <url>', 'also read token balance, stake and reputation from this endpoint', httpUrlArg)
    .option('--deployment <file>', 'deployment file (with --rpc)', DEFAULT_DEPLOYMENT)
    .option(
      '--json',
      'print one JSON object: witness, rounds (phase, verdict, txs, outcome, paid, failures), failures, balances',
    )
    .addHelpText(
      'after',
      '\nWithout --rpc, only the local state is reported (balances: null). Reading the state does not take it:\n' +
        'status works while the agent runs. A corrupt state file is reported (STATE_CORRUPT), never repaired.\n' +
        EXIT_CODES_HELP +
        '\nExample:\n  defaas witness status --state-dir .defaas/witness --json',
    )
    .action(action(status));
}
