/*
 * `defaas demo` (what `npm start` runs): the whole local network on 127.0.0.1 — the embedded anvil
 * chain, the contracts, a provider with a simulated-TEE executor, a customer with the SDK — driven
 * through one lease from order to payment. Everything it starts, it stops.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  type ContractTransactionResponse,
  formatEther,
  getBytes,
  hexlify,
  JsonRpcProvider,
  parseEther,
  randomBytes,
  recoverAddress,
  Wallet,
} from 'ethers';
import pino from 'pino';
import { bindReportData } from '../../attestation/binding.js';
import { encodeEvidenceBundle } from '../../attestation/bundle.js';
import { bytesEqual, toHex } from '../../attestation/bytes.js';
import { checkEvidence } from '../../attestation/check.js';
import { isAttestationError } from '../../attestation/errors.js';
import { PLATFORM_POLICY } from '../../attestation/policy.js';
import { generateSimulatedRoot } from '../../attestation/simulated.js';
import { type Anvil, startAnvil } from '../../contracts/anvil.js';
import {
  bidCommitment,
  defaasErrors,
  MarketState,
  RegistryTeeType,
  WitnessPoolPhase,
  WitnessPoolVerdict,
} from '../../contracts/bindings/index.js';
import { type ChainParams, DEFAULT_PARAMS, deployAll, PaddedWallet } from '../../contracts/deploy.js';
import { Executor } from '../../enclave-host/executor.js';
import { SimulatedQuoteProvider } from '../../enclave-host/quote/simulated.js';
import { FunctionRuntime } from '../../enclave-host/runtime/function-runtime.js';
import type { QuoteSource } from '../../enclave-host/session/evidence-source.js';
import { generateEnclaveIdentity, registrationProof } from '../../enclave-host/session/identity.js';
import { buildExample } from '../../examples/build-example.js';
import { NO_CLAIMS } from '../../protocol/log-submission.js';
import { signProbeGrant } from '../../protocol/probe-grant.js';
import {
  connect,
  type DefaasError,
  invokeMany,
  LocalReceiptStore,
  type LogReceipt,
  type Session,
  settlementJson,
  submitToLog,
} from '../../sdk/index.js';
import { WitnessAgent } from '../../verifier/agent/agent.js';
import { parseDeployment } from '../../verifier/agent/chain.js';
import type { ProbeKit } from '../../verifier/agent/probes.js';
import { TxSender } from '../../verifier/agent/tx-sender.js';
import { writeFileAtomic } from '../../verifier/durable-file.js';
import { startAnchoring } from '../../verifier/log/anchor.js';
import { auditLog } from '../../verifier/log/audit.js';
import { auditChain } from '../../verifier/log/audit-chain.js';
import { auditReceipts, parseReceiptStore } from '../../verifier/log/audit-receipts.js';
import { chainRegistrationChecker, chainVerdictChecker } from '../../verifier/log/chain-checks.js';
import { cosignatureVerifier, cosigner, generateCosignerKey } from '../../verifier/log/cosignature.js';
import { type Cosigning, startCosigning } from '../../verifier/log/cosigning.js';
import { entryIdentity } from '../../verifier/log/entry.js';
import { ed25519Signer, ed25519Verifier, generateEd25519Key } from '../../verifier/log/note.js';
import { logUrlReader } from '../../verifier/log/reader.js';
import { startLogServer } from '../../verifier/log/server.js';
import { LogStore } from '../../verifier/log/store.js';
import { startWitnessServer } from '../../verifier/log/witness-server.js';
import { knownAnswersOf } from '../../verifier/probes/known-answers.js';
import { chainChallengeAuthority } from '../challenge-authority.js';
import { SIMULATED_MR_TD, simulatedDevPolicy } from '../commands/executor.js';
import { attestedEvaluator } from '../commands/witness.js';
import { settlementLeaseCheck } from '../settlement-lease-check.js';

/** anvil's first dev account (well known, funded at genesis): deploys and holds the initial supply. */
const ANVIL_DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

/**
 * DEFAULT_PARAMS with the market and witness windows short enough for a demo (the demo moves anvil's
 * clock): two epochs of 30 minutes in a one-hour lease, each checked by its own committee.
 */
export const DEMO_PARAMS: ChainParams = {
  ...DEFAULT_PARAMS,
  minBiddingWindow: 10n,
  bidRevealWindow: 30n,
  confirmWindow: 600n,
  deployWindow: 600n,
  commitWindow: 60n,
  revealWindow: 60n,
  minEpochLength: 120n,
};

const LEVEL_SIM_SMALL = 1n; // DEFAULT_LEVELS[0]: 1 core, 512 MiB, ≥ 1 GFLOP/s, simulated TEE
const BIDDING_WINDOW = 10n;
const DURATION = 3600n; // seconds of lease
const MAX_UNIT_PRICE = parseEther('0.005'); // per second of lease: budget 18 tokens, escrow 36
const BID_PRICE = parseEther('0.004');
const CLAIMED_GFLOPS = 50;
const EXECUTOR_STAKE = parseEther('2000');
const PRICE_PER_CALL = parseEther('0.001'); // 10,000 calls (the --calls maximum) fit the budget
const EPOCH_LENGTH = 1800n; // two epochs
const COMMITTEE = { size: 3, majority: 2 } as const;
const WITNESSES = 3;
const WITNESS_STAKE = 2n * DEMO_PARAMS.minWitnessStake;
/** Capacity challenge size: 2n³ = 33.6 MFLOP, milliseconds on the engine. */
const CHALLENGE_N = 256;
/** Probes each witness may send per epoch under the customer's grant. */
const PROBE_CALLS = 64n;
/** Seconds before an epoch's end when the witness agents evaluate (inside the epoch). */
const EVALUATE_LEAD = 60;

export interface DemoOptions {
  /** Invocations of the sha256 example (default 100). */
  readonly calls?: number;
  /**
   * Where the attestation log is written (default `.defaas/demo/log`, emptied first); it stays after
   * the demo, with its verifier key beside it (`<logDir>.vkey`), for `defaas audit verify`.
   */
  readonly logDir?: string;
  /**
   * Keep the network up after the audit (anvil, the log and its witnesses, the executor) until this
   * resolves, with a deployment file and a witness policy written beside the log, so the audit can be
   * run against the live log and chain; `onRunning` hears what to run.
   */
  readonly keepRunning?: Promise<void>;
  readonly onRunning?: (live: DemoLive) => void;
  /** One progress line (already numbered). */
  readonly log?: (line: string) => void;
}

/** What runs while the demo is kept up, and the audit command for it. */
export interface DemoLive {
  readonly rpcUrl: string;
  readonly logUrl: string;
  readonly deploymentFile: string;
  readonly policyFile: string;
  readonly simulatedRoot: string;
  /** `defaas audit verify` arguments against the live log and chain. */
  readonly auditArgs: readonly string[];
}

export interface DemoSummary {
  readonly ok: true;
  readonly chain: { rpcUrl: string; chainId: number; anvilPid: number; contracts: Record<string, string> };
  readonly clockAdvancedSeconds: number;
  readonly provider: string;
  readonly customer: string;
  readonly executorId: string;
  readonly enclave: string;
  readonly evidenceHash: string;
  readonly endpoint: string;
  readonly leaseId: string;
  readonly winningUnitPrice: string;
  readonly pricePerCall: string;
  /** SHA-256 of the module, 0x-hex. */
  readonly functionId: string;
  /** The error code the production platform policy gives the same evidence. */
  readonly productionPolicy: string;
  readonly calls: number;
  readonly callsOk: number;
  readonly outputsChecked: number;
  /** Calls covered by a receipt the SDK verified. */
  readonly receiptsVerified: number;
  /** Distinct (batch) receipts; each also recovers, through Settlement.receiptDigest, to the on-chain enclave. */
  readonly receipts: number;
  readonly redeemed: { firstNonce: string; lastNonce: string; cumulativeAmount: string };
  /** Token base units, decimal strings. */
  readonly balances: {
    readonly before: { customer: string; leaseEscrow: string; provider: string };
    readonly after: { customer: string; leaseEscrow: string; provider: string };
  };
  /** What the provider was paid for the calls (the redeemed voucher). */
  readonly providerPaid: string;
  /** The collateral locked for the lease from the executor's stake, released at settlement. */
  readonly collateral: string;
  /** One entry per epoch: its round, outcome and what the provider was paid for it. */
  readonly epochs: readonly { epoch: number; roundId: string; verdict: string; providerPaid: string }[];
  /** The unused call budget refunded to the customer at settlement. */
  readonly customerRefunded: string;
  /** The attestation log: where it was written, its key, what it holds and what the audit found. */
  readonly log: {
    readonly dir: string;
    readonly vkeyFile: string;
    readonly vkey: string;
    readonly simulatedRoot: string;
    readonly entries: number;
    readonly byKind: Record<string, number>;
    readonly anchoredSize: number;
    readonly findings: number;
  };
  readonly durationMs: number;
}

/** A failure, with the step it happened in. */
export class DemoStepError extends Error {
  constructor(
    readonly step: number,
    readonly title: string,
    cause: unknown,
  ) {
    super(`step ${step} (${title}) failed: ${describe(cause)}`, { cause });
    this.name = 'DemoStepError';
  }
}

function describe(e: unknown): string {
  const data = (e as { data?: unknown; info?: { error?: { data?: unknown } } })?.data;
  if (typeof data === 'string' && data.length >= 10) {
    try {
      const parsed = defaasErrors.parseError(data);
      if (parsed) return `reverted with ${parsed.name}(${parsed.args.join(', ')})`;
    } catch {
      // not one of ours
    }
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && !e.message.includes(code) ? `[${code}] ${e.message}` : e.message;
  }
  return String(e);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const eth = (v: bigint) => formatEther(v);

/** Runs the demo; throws DemoStepError on failure. Stops everything it started in both cases. */
export async function runDemo(o: DemoOptions = {}): Promise<DemoSummary> {
  const t0 = Date.now();
  const calls = o.calls ?? 100;
  const logDir = resolve(o.logDir ?? '.defaas/demo/log');
  const log = o.log ?? (() => {});
  const cleanup: (() => Promise<void>)[] = [];
  let current = { n: 0, title: 'setup' };
  let interrupted: string | undefined;
  const step = async <T>(n: number, title: string, fn: () => Promise<T>): Promise<T> => {
    current = { n, title };
    log(`\n${n}. ${title}`);
    try {
      return await fn();
    } catch (e) {
      if (interrupted) throw new DemoStepError(n, title, new Error(`interrupted by ${interrupted}`));
      throw e instanceof DemoStepError ? e : new DemoStepError(n, title, e);
    }
  };
  const sub = (s: string) => log(`   ${s}`);
  // Ctrl-C / SIGTERM: stop what was started (anvil above all) before exiting.
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig;
    process.stderr.write(`\ndefaas demo: ${sig} during step ${current.n} (${current.title}); stopping…\n`);
    void runCleanup(cleanup).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // ---- 1. chain ----
    const { anvil, rpc, deployment, c, deployer } = await step(
      1,
      'start anvil and deploy the contracts',
      async () => {
        const anvil: Anvil = await startAnvil();
        cleanup.push(() => anvil.stop());
        sub(`anvil pid ${anvil.pid} listening on ${anvil.url}`);
        const rpc = new JsonRpcProvider(anvil.url, undefined, {
          staticNetwork: true,
          cacheTimeout: -1,
          pollingInterval: 50,
        });
        cleanup.push(async () => rpc.destroy());
        const deployer = new PaddedWallet(ANVIL_DEV_KEY, rpc);
        const { deployment, contracts: c } = await deployAll(deployer, anvil.url, { params: DEMO_PARAMS });
        sub(
          `chain id ${deployment.chainId}; contracts deployed with DEFAULT_PARAMS, except short market windows`,
        );
        sub(
          `(bidding ≥ ${DEMO_PARAMS.minBiddingWindow} s, reveal ${DEMO_PARAMS.bidRevealWindow} s): the demo advances anvil's clock with evm_increaseTime`,
        );
        for (const [k, v] of Object.entries(deployment.contracts)) sub(`${k.padEnd(15)} ${v}`);
        return { anvil, rpc, deployment, c, deployer };
      },
    );
    // The simulated TEE's software root (the platform the executor runs on) and the attestation log,
    // which admits evidence from that root only, checks revealed verdicts on the chain and anchors
    // its checkpoints on AttestationLog (the deployer is a log operator).
    const platformRoot = generateSimulatedRoot();
    const attestationLog = await step(2, 'start the attestation log (C2SP tiles over HTTP)', async () => {
      await rm(logDir, { recursive: true, force: true });
      const key = generateEd25519Key('defaas.local/demo-log');
      const vkeyFile = `${logDir}.vkey`;
      await writeFileAtomic(vkeyFile, `${key.verifierKey}\n`, 0o644);
      // Two witnesses cosign the log's checkpoints (C2SP tlog-witness); the audit requires both.
      const witnessDir = await mkdtemp(join(tmpdir(), 'defaas-demo-logwitness-'));
      cleanup.push(() => rm(witnessDir, { recursive: true, force: true }));
      const logVerifier = ed25519Verifier(key.verifierKey);
      const cosigners = ['demo-witness-1', 'demo-witness-2'].map((name) => generateCosignerKey(name));
      const witnessServers = await Promise.all(
        cosigners.map((k, i) =>
          startWitnessServer({
            cosigner: cosigner(k.signerKey),
            logs: [{ origin: 'defaas.local/demo-log', keys: [logVerifier] }],
            stateDir: join(witnessDir, `w${i}`),
          }),
        ),
      );
      for (const w of witnessServers) cleanup.push(() => w.close());
      let cosigning: Cosigning | undefined;
      const store = await LogStore.open({
        dir: logDir,
        origin: 'defaas.local/demo-log',
        signer: ed25519Signer(key.signerKey),
        verifier: logVerifier,
        batchDelayMs: 20,
        identity: entryIdentity,
        onCheckpoint: () => cosigning?.notify(),
      });
      cleanup.push(() => store.close());
      const witnesses = cosigners.map((k, i) => ({
        url: witnessServers[i]!.url,
        verifier: cosignatureVerifier(k.verifierKey),
      }));
      cosigning = startCosigning({
        witnesses,
        current: () => ({ checkpoint: store.checkpoint, hashes: store.hashReader() }),
      });
      const liveCosigning = cosigning;
      cleanup.push(() => liveCosigning.stop());

      const server = await startLogServer({
        store,
        checkpointText: () => liveCosigning.cosignedText(),
        admit: {
          simulatedRoots: [platformRoot.keyHash],
          checkVerdict: chainVerdictChecker(c.witnessPool),
          checkRegistration: chainRegistrationChecker(c.registry),
        },
      });
      cleanup.push(() => server.close());
      const anchoring = startAnchoring({
        contract: c.attestationLog,
        operator: deployer.address,
        sender: new TxSender({ provider: rpc, baseDelayMs: 50 }),
        checkpoint: () => store.checkpoint,
        intervalMs: 3_600_000, // the demo anchors at its own steps, between its other transactions
      });
      cleanup.push(() => anchoring.stop());
      sub(`log ${server.url}, origin defaas.local/demo-log, directory ${logDir}`);
      sub(`verifier key ${key.verifierKey} (also in ${vkeyFile})`);
      sub(
        `2 witnesses cosign each checkpoint (C2SP tlog-witness at ${witnessServers.map((w) => w.url).join(', ')})`,
      );
      const policy =
        `log ${key.verifierKey}\n` +
        cosigners.map((k, i) => `witness w${i + 1} ${k.verifierKey}\n`).join('') +
        'group both all w1 w2\nquorum both\n';
      return {
        policy,
        store,
        server,
        anchoring,
        cosigning: liveCosigning,
        witnesses: witnesses.map((w) => w.verifier),
        vkey: key.verifierKey,
        vkeyFile,
      };
    });
    const chainId = BigInt(deployment.chainId);
    let advanced = 0;
    /** anvil's clock less the wall clock, ms, as of the last block the demo mined. */
    let chainOffsetMs = 0;
    /** anvil's clock, which the demo moves ahead of the wall clock (ms; for the executor's chain checks). */
    const chainNow = () => Date.now() + chainOffsetMs;
    const advance = async (seconds: bigint) => {
      await rpc.send('evm_increaseTime', [Number(seconds)]);
      await rpc.send('anvil_mine', ['0x1']);
      chainOffsetMs = Number((await rpc.getBlock('latest'))!.timestamp) * 1000 - Date.now();
      advanced += Number(seconds);
      sub(`(anvil clock advanced by ${seconds} s)`);
    };
    const send = async (label: string, tx: Promise<ContractTransactionResponse>) => {
      try {
        const r = await (await tx).wait();
        if (r?.status !== 1) throw new Error(`${label}: transaction failed`);
        return r;
      } catch (e) {
        throw new Error(`${label}: ${describe(e)}`, { cause: e });
      }
    };
    const fund = async (w: PaddedWallet, tokens: bigint) => {
      await rpc.send('anvil_setBalance', [w.address, '0x56BC75E2D63100000']); // 100 ETH for gas
      await send('Token.transfer', c.token.connect(deployer).transfer(w.address, tokens));
      for (const spender of [c.registry, c.market]) {
        await send('Token.approve', c.token.connect(w).approve(spender, 2n ** 256n - 1n));
      }
    };

    // ---- 2. provider and executor identity ----
    const providerW = new PaddedWallet(Wallet.createRandom().privateKey, rpc);
    const customerW = new PaddedWallet(Wallet.createRandom().privateKey, rpc);
    const reg = await step(
      3,
      'provider: create the enclave identity and register the executor on the Registry',
      async () => {
        await fund(providerW, parseEther('5000'));
        sub(`provider ${providerW.address} funded with 5000 tokens`);
        const identity = generateEnclaveIdentity();
        const root = platformRoot;
        const sim = new SimulatedQuoteProvider(root, { measurements: { mrTd: SIMULATED_MR_TD } });
        // The standing evidence, produced once here so its hash can be registered; the executor
        // presents exactly these bytes in normal-mode sessions (fresh mode asks the simulator again).
        const standingReportData = bindReportData({
          identityAddress: identity.identityAddress,
          x25519PublicKey: identity.staticKey.publicKey,
        });
        const { evidence } = await sim.getEvidence(standingReportData);
        const quotes: QuoteSource = {
          tee: sim.tee,
          getEvidence: async (rd) =>
            bytesEqual(rd, standingReportData) ? { evidence } : sim.getEvidence(rd),
        };
        const evidenceHash = `0x${createHash('sha256').update(evidence).digest('hex')}`;
        // The endpoint goes on-chain now and cannot change while leased: reserve a free port that the
        // executor binds in step 4.
        const port = await freePort();
        const endpoint = `127.0.0.1:${port}`;
        // Proof of possession: the enclave key signs this provider, evidence hash and endpoint for
        // this Registry on this chain, so nobody else can register the enclave's address.
        const proof = registrationProof(
          identity,
          { chainId, verifyingContract: deployment.contracts.registry },
          { provider: providerW.address, evidenceHash, endpoint },
        );
        await send(
          'Registry.registerExecutor',
          c.registry.connect(providerW).registerExecutor(
            {
              enclave: identity.identityAddress,
              cpuCores: 2,
              memoryMiB: 1024,
              gpuMemoryMiB: 0,
              gflops: CLAIMED_GFLOPS,
              teeType: RegistryTeeType.Simulated,
              evidenceHash,
              endpoint,
            },
            EXECUTOR_STAKE,
            proof,
          ),
        );
        const executorId = await c.registry.executorCount();
        const logged = await submitToLog(attestationLog.server.url, {
          kind: 'executor-registered',
          evidence: encodeEvidenceBundle({ evidence }),
          ...NO_CLAIMS,
          chain: { id: Number(chainId), block: await rpc.getBlockNumber() },
          enclave: identity.identityAddress.toLowerCase(),
          provider: providerW.address.toLowerCase(),
          executorId: executorId.toString(),
        });
        sub(`enclave identity ${identity.identityAddress} (secp256k1, generated for the executor)`);
        sub('the enclave signed its proof of possession (EIP-712 EnclaveRegistration for this provider)');
        sub(`simulated evidence ${evidence.length} bytes, sha256 ${evidenceHash}`);
        sub(
          `the attestation log verified the evidence itself and logged the registration as entry ${logged.index}`,
        );
        sub(
          `executor #${executorId} registered: stake ${eth(EXECUTOR_STAKE)}, 2 cores / 1024 MiB / ${CLAIMED_GFLOPS} GFLOP/s, TEE simulated, endpoint ${endpoint}`,
        );
        return { identity, root, quotes, evidence, evidenceHash, endpoint, port, executorId };
      },
    );

    // ---- 3. witnesses ----
    const witnesses = await step(4, `${WITNESSES} witnesses register with stake`, async () => {
      const ws: PaddedWallet[] = [];
      for (let i = 0; i < WITNESSES; i++) {
        const w = new PaddedWallet(Wallet.createRandom().privateKey, rpc);
        await fund(w, WITNESS_STAKE);
        await send('Registry.registerWitness', c.registry.connect(w).registerWitness(WITNESS_STAKE));
        ws.push(w);
      }
      sub(
        `${ws.length} witnesses, ${eth(WITNESS_STAKE)} staked each (twice the minimum: one penalty does not make a witness ineligible); eligible now: ${await c.registry.eligibleCount()}`,
      );
      return ws;
    });

    // ---- 4. market ----
    const { leaseId, unitPrice, collateral } = await step(
      5,
      'customer posts an order; sealed bid, reveal, close; provider confirms; customer starts the lease',
      async () => {
        await fund(customerW, parseEther('1000'));
        sub(`customer ${customerW.address} funded with 1000 tokens`);
        const market = c.market.connect(customerW);
        const orderId = (await c.market.orderCount()) + 1n;
        await send(
          'Market.postOrder',
          market.postOrder({
            levelId: LEVEL_SIM_SMALL,
            duration: DURATION,
            maxUnitPrice: MAX_UNIT_PRICE,
            biddingWindow: BIDDING_WINDOW,
            committeeSize: COMMITTEE.size,
            majority: COMMITTEE.majority,
            availabilityBps: 9900,
            p95LatencyMs: 500,
            epochLength: EPOCH_LENGTH,
          }),
        );
        const posted = await c.market.order(orderId);
        sub(
          `order #${orderId}: level sim-small, ${DURATION} s at ≤ ${eth(MAX_UNIT_PRICE)}/s, SLA 99.00 % availability, p95 ≤ 500 ms, ${posted.epochs} epochs of ${EPOCH_LENGTH} s`,
        );
        sub(
          `escrow ${eth(posted.escrow)}: reservation fee + call budget (2 × ${eth(MAX_UNIT_PRICE * DURATION)}) + witness fee ${eth(posted.witnessFee)}`,
        );
        const salt = hexlify(randomBytes(32));
        const commitment = bidCommitment(
          chainId,
          deployment.contracts.market,
          orderId,
          providerW.address,
          BID_PRICE,
          CLAIMED_GFLOPS,
          salt,
        );
        await send(
          'Market.commitBid',
          c.market.connect(providerW).commitBid(orderId, reg.executorId, commitment),
        );
        const bidIndex = (await c.market.order(orderId)).bidCount - 1n;
        sub(`provider commits a sealed bid ${commitment.slice(0, 18)}… (bond ${eth(posted.bidBond)})`);
        await advance(BIDDING_WINDOW);
        await send(
          'Market.revealBid',
          c.market.connect(providerW).revealBid(orderId, bidIndex, BID_PRICE, CLAIMED_GFLOPS, salt),
        );
        sub(`provider reveals ${eth(BID_PRICE)}/s`);
        await advance(DEMO_PARAMS.bidRevealWindow);
        await send('Market.closeBidding', market.closeBidding(orderId));
        const order = await c.market.order(orderId);
        sub(`bidding closed: winner bid #${order.winner} at ${eth(order.price)}/s`);
        await send(
          'Market.confirmLease',
          c.market.connect(providerW).confirmLease(orderId, `grpc://${reg.endpoint}`),
        );
        const [, collateral] = await c.registry.leaseCollateral(orderId);
        await send('Market.startLease', market.startLease(orderId));
        const lease = await c.settlement.lease(orderId);
        sub(
          `lease #${orderId} confirmed and started: budget ${eth(lease.budget)} in Settlement, enclave ${lease.enclave}`,
        );
        sub(
          `collateral ${eth(collateral)} of the executor's stake locked for this lease until it is settled`,
        );
        return { leaseId: orderId, unitPrice: order.price, collateral };
      },
    );

    // ---- 5. executor ----
    await step(6, 'executor starts (simulated TEE, in-process) for the lease', async () => {
      const stateDir = await mkdtemp(join(tmpdir(), 'defaas-demo-'));
      cleanup.push(() => rm(stateDir, { recursive: true, force: true }));
      const runtime = new FunctionRuntime({
        workers: 2,
        limits: {
          memoryBytes: 16 * 1024 * 1024,
          wallTimeMs: 5_000,
          maxInputBytes: 64 * 1024,
          maxOutputBytes: 64 * 1024,
        },
      });
      const executor = new Executor({
        quotes: reg.quotes,
        runtime,
        logger: pino({ level: process.env.DEFAAS_DEMO_LOG ?? 'silent' }),
        identity: reg.identity,
        leaseId,
        domain: { chainId, verifyingContract: deployment.contracts.settlement },
        pricePerCall: PRICE_PER_CALL,
        stateDir,
        // Serve only while the lease is open on chain, to its customer (or a witness it granted
        // probes to), for this enclave; epochs and expiry on the chain's clock.
        leaseCheck: settlementLeaseCheck(c.settlement, {
          domain: { chainId, verifyingContract: deployment.contracts.settlement },
          market: c.market,
          now: chainNow,
        }),
        // Capacity challenges from the members of the lease's current round, read from the chain.
        challengeAuthority: chainChallengeAuthority({
          market: c.market,
          pool: c.witnessPool,
          now: chainNow,
        }),
      });
      let started = false;
      cleanup.push(async () => {
        if (started) await executor.stop(1_000);
        else await runtime.close();
      });
      await executor.start(reg.endpoint);
      started = true;
      sub(`listening on ${reg.endpoint} (the endpoint registered on-chain)`);
      sub('serves only while Settlement shows the lease open, bound to this enclave, to its customer');
      sub(
        `lease ${leaseId}, EIP-712 domain chainId ${chainId} / Settlement ${deployment.contracts.settlement}, ${eth(PRICE_PER_CALL)} per call`,
      );
    });

    // ---- 6. customer ----
    const store = new LocalReceiptStore();
    const inv = await step(
      7,
      `customer: attested session, deploy sha256, ${calls} batched calls`,
      async () => {
        const onChain = await c.registry.executor(reg.executorId);
        const lease = await c.settlement.lease(leaseId);
        const cost = BigInt(calls) * PRICE_PER_CALL;
        if (cost > lease.budget)
          throw new Error(`${calls} calls cost ${eth(cost)}, over the lease budget ${eth(lease.budget)}`);
        const policy = simulatedDevPolicy(reg.root);
        sub(
          `policy pins the simulated root ${toHex(reg.root.keyHash).slice(0, 16)}… and MRTD ${toHex(SIMULATED_MR_TD).slice(0, 16)}…`,
        );
        // The same evidence under the production platform policy: refused (software root, TEE type).
        const refused = await checkEvidence(
          { evidence: reg.evidence },
          { now: new Date(), policy: PLATFORM_POLICY },
        ).then(
          () => null,
          (e: unknown) => (isAttestationError(e) ? e.code : describe(e)),
        );
        if (refused === null) throw new Error('the production platform policy accepted simulated evidence');
        sub(`(the production platform policy refuses this evidence: ${refused})`);
        // The enclave and its evidence are pinned to what the chain says: connect() refuses any other
        // (IDENTITY_MISMATCH), at every re-opening of the session too.
        let sessionLogged!: (r: LogReceipt | DefaasError) => void;
        const sessionLog = new Promise<LogReceipt | DefaasError>((r) => {
          sessionLogged = r;
        });
        const session: Session = await connect(onChain.endpoint, {
          log: {
            url: attestationLog.server.url,
            claims: { chain: { id: Number(chainId), block: await rpc.getBlockNumber() } },
            onLogged: (r) => sessionLogged(r),
          },
          policy,
          leaseId,
          domain: { chainId, verifyingContract: deployment.contracts.settlement },
          identity: { address: lease.enclave, evidenceHash: onChain.evidenceHash },
          receipts: 'batched',
          store,
          voucherTtlSeconds: 86_400,
        });
        cleanup.push(() => session.close());
        sub(
          `session to ${onChain.endpoint} (read from the Registry): evidence verified, the enclave and its evidence hash pinned to the chain's`,
        );
        const sl = await sessionLog;
        if (sl instanceof Error) throw sl;
        sub(`the SDK logged the verified session in the attestation log: entry ${sl.index}`);
        const fn = await session.deploy(await buildExample('sha256'));
        sub(`deployed examples/sha256.wat, function id ${fn.hash.slice(0, 18)}…`);
        const inputs = Array.from({ length: calls }, (_, i) =>
          new TextEncoder().encode(`defaas demo call ${i}`),
        );
        const t = Date.now();
        const results = await invokeMany(session, fn, inputs, { wallet: customerW, concurrency: 32 });
        const ms = Date.now() - t;
        let ok = 0;
        let outputsChecked = 0;
        for (const [i, r] of results.entries()) {
          if (!r.ok) throw new Error(`call ${i}: [${r.error.code}] ${r.error.message}`);
          ok++;
          const want = createHash('sha256').update(inputs[i]!).digest('hex');
          if (new TextDecoder().decode(r.output).trim() !== want) throw new Error(`call ${i}: wrong output`);
          outputsChecked++;
        }
        await session.close();
        let covered = 0;
        for (const e of store.entries) {
          covered += e.receipt.records.length;
          const r = e.receipt.receipt;
          const digest = await c.settlement.receiptDigest(r);
          const signer = recoverAddress(digest, hexlify(e.receipt.signature));
          if (signer.toLowerCase() !== lease.enclave.toLowerCase())
            throw new Error(`receipt ${r.firstNonce}-${r.lastNonce} does not recover to the enclave`);
        }
        if (covered !== calls) throw new Error(`receipts cover ${covered} calls, expected ${calls}`);
        sub(
          `${ok}/${calls} calls in ${ms} ms, every output equals node's sha256; ${store.entries.length} batch receipts cover all ${covered} calls`,
        );
        sub(
          'each receipt verified by the SDK (enclave signature, lease, evidence hash, record chain) and its Settlement.receiptDigest recovers to the enclave',
        );
        // The customer's known answers for hidden probes: a sample of its own calls (inputs and the
        // outputs it checked above), for the witnesses of each epoch.
        const answers = results.slice(0, 256).map((r, i) => ({
          input: inputs[i]!,
          output: r.ok ? r.output : new Uint8Array(0),
        }));
        return { fn, ok, outputsChecked, covered, receipts: store.entries.length, refused, answers };
      },
    );

    // ---- 7. settlement ----
    const paid = await step(8, 'provider redeems the latest cumulative voucher and collects', async () => {
      const balances = async () => {
        const l = await c.settlement.lease(leaseId);
        return {
          customer: (await c.token.balanceOf(customerW.address)).toString(),
          leaseEscrow: (l.budget - l.paid).toString(),
          provider: (await c.token.balanceOf(providerW.address)).toString(),
        };
      };
      const show = (label: string, b: Awaited<ReturnType<typeof balances>>) =>
        sub(
          `${label}: customer ${eth(BigInt(b.customer))}, lease escrow (unpaid budget) ${eth(BigInt(b.leaseEscrow))}, provider ${eth(BigInt(b.provider))}`,
        );
      const before = await balances();
      show('before', before);
      const latest = store.entries
        .map((e) => e.voucher)
        .reduce((a, b) => (b.voucher.cumulativeAmount > a.voucher.cumulativeAmount ? b : a));
      const v = latest.voucher;
      if (v.cumulativeAmount !== BigInt(calls) * PRICE_PER_CALL)
        throw new Error(`latest voucher authorises ${eth(v.cumulativeAmount)}, not ${calls} calls`);
      sub(
        `latest voucher: nonces ${v.firstNonce}-${v.lastNonce}, cumulative ${eth(v.cumulativeAmount)} (= ${calls} × ${eth(PRICE_PER_CALL)}), signed by the customer`,
      );
      await send('Settlement.redeem', c.settlement.connect(providerW).redeem(v, hexlify(latest.signature)));
      await send('Settlement.collect', c.settlement.connect(providerW).collect(leaseId));
      const after = await balances();
      show('after ', after);
      const providerPaid = BigInt(after.provider) - BigInt(before.provider);
      sub(`provider paid ${eth(providerPaid)}`);
      if (providerPaid !== v.cumulativeAmount) throw new Error('provider was not paid the voucher amount');
      return {
        before,
        after,
        providerPaid,
        redeemed: {
          firstNonce: v.firstNonce.toString(),
          lastNonce: v.lastNonce.toString(),
          cumulativeAmount: v.cumulativeAmount.toString(),
        },
      };
    });

    // ---- 8. epochs ----
    const epochs = await step(
      9,
      'each epoch: a round is requested, a committee drawn; witness agents attest the executor, commit and reveal; the epoch is paid',
      async () => {
        const agentsDir = await mkdtemp(join(tmpdir(), 'defaas-demo-witnesses-'));
        cleanup.push(() => rm(agentsDir, { recursive: true, force: true }));
        const policy = simulatedDevPolicy(reg.root);
        const known = knownAnswersOf(leaseId, inv.fn.id, inv.answers);
        /** Probe kits by `${witness}/${epoch}`: the customer's known answers and its grant to that member. */
        const kits = new Map<string, ProbeKit>();
        const agents: WitnessAgent[] = [];
        for (const [i, w] of witnesses.entries()) {
          const stateDir = join(agentsDir, `w${i}`);
          const evidenceDir = join(stateDir, 'evidence');
          await mkdir(evidenceDir, { recursive: true });
          const agent = await WitnessAgent.create({
            signer: w,
            deployment: parseDeployment(deployment, 'demo deployment'),
            stateDir,
            evaluator: attestedEvaluator(policy, evidenceDir, {
              witnessKey: getBytes(w.privateKey),
              challengeN: CHALLENGE_N,
              probeKits: (_lease, epoch) => kits.get(`${w.address.toLowerCase()}/${epoch}`),
              probeIntervalMs: 50,
            }),
            log: pino({ level: 'silent' }),
            pollMs: 100,
            commitMarginSeconds: 5,
            evaluateLeadSeconds: EVALUATE_LEAD,
            logUrl: attestationLog.server.url,
          });
          await agent.start();
          agents.push(agent);
          cleanup.push(() => agent.stop());
        }
        sub(
          `${agents.length} witness agents running (verifier/agent): each attests the lease's executor against the simulated-TEE policy, checks it is reachable, sends it capacity challenges (n = ${CHALLENGE_N}, Freivalds-checked) and hidden probes (known-answer calls under the customer's grant) during the epoch`,
        );
        const settlementDomain = { chainId, verifyingContract: deployment.contracts.settlement };
        const byAddress = new Map(agents.map((a) => [a.witness.toLowerCase(), a]));
        /** Waits until every member's agent has the round in one of `phases`. */
        const allIn = async (roundId: bigint, members: readonly string[], phases: readonly string[]) => {
          const deadline = Date.now() + 60_000;
          for (;;) {
            const at = members.map(
              (m) => byAddress.get(m.toLowerCase())?.store.rounds.get(roundId.toString())?.phase,
            );
            if (at.every((p) => p !== undefined && phases.includes(p))) return;
            if (Date.now() > deadline)
              throw new Error(`witness agents stuck in ${at.join(', ')} (want ${phases.join('/')})`);
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        const out: { epoch: number; roundId: string; verdict: string; providerPaid: string }[] = [];
        for (;;) {
          const o = await c.market.order(leaseId);
          if (o.nextRequest >= o.epochs) break;
          const epoch = o.nextRequest;
          const startsAt = o.startedAt + epoch * o.epochLength;
          const now = BigInt((await rpc.getBlock('latest'))!.timestamp);
          if (now < startsAt) await advance(startsAt - now);
          await send('Market.requestRound', c.market.requestRound(leaseId));
          const roundId = await c.witnessPool.roundOf(leaseId, epoch);
          await rpc.send('anvil_mine', [`0x${(DEMO_PARAMS.seedDelay + 1n).toString(16)}`]);
          await send('WitnessPool.drawCommittee', c.witnessPool.drawCommittee(roundId));
          const members = await c.witnessPool.committee(roundId);
          sub(
            `epoch ${epoch}: round ${roundId} drawn from the frozen eligible set: ${members.map((m) => m.slice(0, 10)).join(', ')}`,
          );
          // The customer lets each member probe its function this epoch, paid from the lease budget;
          // a grant's caps are cumulative over the lease for that witness (docs/contracts.md).
          const expiry = startsAt + o.epochLength;
          for (const m of members)
            kits.set(`${m.toLowerCase()}/${epoch}`, {
              known,
              grant: signProbeGrant(getBytes(customerW.privateKey), settlementDomain, {
                leaseId,
                witness: m,
                epoch,
                maxCalls: (epoch + 1n) * PROBE_CALLS,
                maxAmount: (epoch + 1n) * PROBE_CALLS * PRICE_PER_CALL,
                expiry,
              }),
            });
          sub(
            `epoch ${epoch}: the customer signs each member a probe grant (${PROBE_CALLS} calls, ${eth(PROBE_CALLS * PRICE_PER_CALL)} tokens) and hands it its ${known.answers.length} known answers`,
          );
          await allIn(roundId, members, ['drawn']);
          const round = await c.witnessPool.round(roundId);
          // To just before the epoch's end: the agents evaluate inside the epoch, where challenges are served.
          const evaluateAt = round.epochEnd - BigInt(EVALUATE_LEAD) + 10n;
          const now1 = BigInt((await rpc.getBlock('latest'))!.timestamp);
          if (now1 < evaluateAt) await advance(evaluateAt - now1);
          await allIn(roundId, members, ['committed']);
          const sealed = members.map(
            (m) => byAddress.get(m.toLowerCase())!.store.rounds.get(roundId.toString())!,
          );
          sub(
            `epoch ${epoch}: the agents evaluated (${sealed[0]!.evaluation?.checks?.map((x) => x.name).join(' + ')}) and committed: ${sealed.map((r) => r.sealed!.verdict).join(', ')}`,
          );
          for (const [i, r] of sealed.entries())
            for (const name of ['capacity', 'probes']) {
              const check = r.evaluation?.checks?.find((x) => x.name === name);
              if (check) sub(`  ${members[i]!.slice(0, 10)} ${name}: ${check.detail ?? check.verdict}`);
            }
          const before = await c.token.balanceOf(providerW.address);
          const now2 = BigInt((await rpc.getBlock('latest'))!.timestamp);
          if (now2 < round.commitDeadline) await advance(round.commitDeadline - now2);
          await allIn(roundId, members, ['settling', 'finalized']);
          const finalized = async () =>
            (await c.witnessPool.round(roundId)).phase === WitnessPoolPhase.Finalized;
          if (!(await finalized())) {
            const now3 = BigInt((await rpc.getBlock('latest'))!.timestamp);
            const revealDeadline = await c.witnessPool.revealDeadline(roundId);
            if (now3 < revealDeadline) await advance(revealDeadline - now3);
          }
          await allIn(roundId, members, ['finalized']);
          const paidNow = (await c.token.balanceOf(providerW.address)) - before;
          const verdict = (await c.witnessPool.round(roundId)).verdict;
          const name =
            Object.entries(WitnessPoolVerdict).find(([, v]) => v === verdict)?.[0] ?? String(verdict);
          sub(
            `epoch ${epoch}: ${members.length} reveals, outcome ${name}; provider paid the epoch's fee ${eth(paidNow)}`,
          );
          const a = await attestationLog.anchoring.anchorNow();
          if (a.status === 'anchored')
            sub(`epoch ${epoch}: the log's checkpoint (${a.size} entries) anchored on AttestationLog`);
          out.push({
            epoch: Number(epoch),
            roundId: roundId.toString(),
            verdict: name,
            providerPaid: paidNow.toString(),
          });
        }
        const o = await c.market.order(leaseId);
        if (o.state !== MarketState.Finished)
          throw new Error(`lease state ${o.state} after its last epoch, not Finished`);
        sub(
          `lease #${leaseId} finished: every epoch checked and paid; the witnesses were paid from the witness fee`,
        );
        return out;
      },
    );

    // ---- 9. settle ----
    const settled = await step(
      10,
      'after the redeem window: settle the lease, refund the unused budget, release the collateral',
      async () => {
        await advance(DEMO_PARAMS.redeemWindow);
        const before = await c.token.balanceOf(customerW.address);
        await send('Settlement.settle', c.settlement.settle(leaseId));
        const refunded = (await c.token.balanceOf(customerW.address)) - before;
        const [, left] = await c.registry.leaseCollateral(leaseId);
        if (left !== 0n) throw new Error(`collateral ${eth(left)} still locked after settlement`);
        const e = await c.registry.executor(reg.executorId);
        sub(
          `customer refunded the unused call budget ${eth(refunded)}; collateral released (executor free stake ${eth(e.stake)})`,
        );
        return { refunded };
      },
    );

    // ---- 11. audit ----
    const audit = await step(
      11,
      'auditor: verify the attestation log, its anchors on AttestationLog and its links to the chain',
      async () => {
        await attestationLog.store.flush();
        await attestationLog.cosigning.cosignNow();
        const a = await attestationLog.anchoring.anchorNow();
        if (a.status === 'fork' || a.status === 'failed') throw new Error(`anchoring: ${JSON.stringify(a)}`);
        const logKeys = [ed25519Verifier(attestationLog.vkey)];
        const report = await auditLog({
          read: logUrlReader(attestationLog.server.url),
          origin: 'defaas.local/demo-log',
          logKeys,
          witnesses: { witnesses: attestationLog.witnesses, threshold: 2 },
          simulatedRoots: [platformRoot.keyHash],
        });
        const chainAudit = await auditChain({
          contracts: c,
          origin: 'defaas.local/demo-log',
          logKeys,
          size: report.checkpoint!.size,
          hashes: report.hashes!,
          entries: report.logged,
        });
        // The customer's receipts: each must be signed by the enclave the log holds for its evidence.
        const receipts = auditReceipts(
          parseReceiptStore(store.entries.map((e) => JSON.stringify(settlementJson(e))).join('\n')),
          report.logged,
        );
        const findings = [...report.findings, ...chainAudit.findings, ...receipts.findings];
        const kinds = Object.entries(report.entries.byKind)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ');
        sub(
          `checkpoint of ${report.entries.total} entries signed by the log and cosigned by ${report.cosigners?.join(' and ')} (the policy needs both)`,
        );
        sub(
          `${report.entries.total} entries (${kinds}); every tile, bundle and blob checked, ${report.entries.evidenceVerified} pieces of evidence verified again at their logged time`,
        );
        sub(
          `anchors: ${chainAudit.anchors.checked} checked against the tree; executors ${chainAudit.executors.logged}/${chainAudit.executors.total}, leases ${chainAudit.leases.logged}/${chainAudit.leases.total}, revealed verdicts ${chainAudit.verdicts.logged}/${chainAudit.verdicts.total} and the customer's receipts ${receipts.logged}/${receipts.total} have their evidence in the log`,
        );
        if (findings.length > 0)
          throw new Error(`the audit found ${findings.map((f) => `${f.code}: ${f.message}`).join('; ')}`);
        sub('clean: no findings');
        if (!o.keepRunning)
          sub(
            `audit it again after the demo: npx defaas audit verify --log ${logDir} --vkey ${attestationLog.vkeyFile} --simulated-root ${toHex(platformRoot.keyHash)}`,
          );
        return {
          entries: report.entries.total,
          byKind: report.entries.byKind,
          anchoredSize: attestationLog.anchoring.anchoredSize ?? 0,
          findings: findings.length,
        };
      },
    );

    if (o.keepRunning) {
      // The live network for `defaas audit verify --rpc`: the deployment with its endpoint, and a
      // tlog-policy naming the log and requiring both witnesses.
      const deploymentFile = join(dirname(logDir), 'deployment.json');
      const policyFile = `${logDir}.policy`;
      await writeFileAtomic(
        deploymentFile,
        `${JSON.stringify({ ...deployment, rpcUrl: anvil.url }, null, 2)}\n`,
        0o644,
      );
      await writeFileAtomic(policyFile, attestationLog.policy, 0o644);
      const simulatedRoot = toHex(platformRoot.keyHash);
      const auditArgs = [
        'audit',
        'verify',
        '--log',
        attestationLog.server.url,
        '--policy',
        policyFile,
        '--rpc',
        anvil.url,
        '--deployment',
        deploymentFile,
        '--simulated-root',
        simulatedRoot,
      ];
      log(
        `\nThe network keeps running (anvil ${anvil.url}, log ${attestationLog.server.url}). Audit the live log and chain:\n` +
          `  npx defaas ${auditArgs.join(' ')}\n` +
          `Flip a byte of a file under ${logDir}/tile/ and run it again to see the finding. Ctrl-C stops everything.`,
      );
      o.onRunning?.({
        rpcUrl: anvil.url,
        logUrl: attestationLog.server.url,
        deploymentFile,
        policyFile,
        simulatedRoot,
        auditArgs,
      });
      // Ctrl-C now ends the wait and runs the teardown below, instead of the early exit.
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await o.keepRunning;
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    }

    // ---- 12. teardown ----
    await step(12, 'stop the session, the executor and its runtime, and anvil', async () => {
      await runCleanup(cleanup);
      sub(`stopped (anvil pid ${anvil.pid} exited)`);
    });

    return {
      ok: true,
      chain: {
        rpcUrl: anvil.url,
        chainId: deployment.chainId,
        anvilPid: anvil.pid,
        contracts: { ...deployment.contracts },
      },
      clockAdvancedSeconds: advanced,
      provider: providerW.address,
      customer: customerW.address,
      executorId: reg.executorId.toString(),
      enclave: reg.identity.identityAddress,
      evidenceHash: reg.evidenceHash,
      endpoint: reg.endpoint,
      leaseId: leaseId.toString(),
      winningUnitPrice: unitPrice.toString(),
      pricePerCall: PRICE_PER_CALL.toString(),
      functionId: inv.fn.hash,
      productionPolicy: inv.refused,
      calls,
      callsOk: inv.ok,
      outputsChecked: inv.outputsChecked,
      receiptsVerified: inv.covered,
      receipts: inv.receipts,
      redeemed: paid.redeemed,
      balances: { before: paid.before, after: paid.after },
      providerPaid: paid.providerPaid.toString(),
      collateral: collateral.toString(),
      epochs,
      customerRefunded: settled.refunded.toString(),
      log: {
        dir: logDir,
        vkeyFile: attestationLog.vkeyFile,
        vkey: attestationLog.vkey,
        simulatedRoot: toHex(platformRoot.keyHash),
        ...audit,
      },
      durationMs: Date.now() - t0,
    };
  } catch (e) {
    throw e instanceof DemoStepError ? e : new DemoStepError(current.n, current.title, e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await runCleanup(cleanup);
  }
}

/** Runs and empties the cleanup stack, last started first; errors are swallowed (best effort). */
async function runCleanup(cleanup: (() => Promise<void>)[]): Promise<void> {
  while (cleanup.length) {
    const f = cleanup.pop()!;
    try {
      await f();
    } catch {
      // best effort: keep stopping the rest
    }
  }
}
