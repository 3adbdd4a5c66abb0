/*
 * Deploys and wires the six contracts with ethers v6 (ARCHITECTURE.md, "Chain"). Used by
 * `defaas chain up`, the gas report and the end-to-end tests.
 */
import { type Provider, parseEther, type Signer, type TransactionRequest, Wallet } from 'ethers';
import {
  type AttestationLogContract,
  deployAttestationLog,
  deployMarket,
  deployRegistry,
  deploySettlement,
  deployToken,
  deployWitnessPool,
  type MarketContract,
  type RegistryContract,
  RegistryTeeType,
  type SettlementContract,
  type TokenContract,
  type WitnessPoolContract,
} from './bindings/index.js';

/**
 * A wallet that sends with 25% more gas than `eth_estimateGas` returns. ethers uses the estimate as
 * the limit; on anvil we saw an estimate a few hundred gas short for `Market.confirmLease` (nested calls
 * under the 63/64 rule), which made the mined transaction run out of gas. Unused gas is not charged.
 */
export class PaddedWallet extends Wallet {
  constructor(key: string, provider: Provider | null) {
    super(key, provider);
  }

  override async estimateGas(tx: TransactionRequest): Promise<bigint> {
    return ((await super.estimateGas(tx)) * 5n) / 4n;
  }

  override connect(provider: Provider | null): PaddedWallet {
    return new PaddedWallet(this.privateKey, provider);
  }
}

/** The deployment file (`.defaas/deployment.json`). */
export interface Deployment {
  readonly chainId: number;
  readonly rpcUrl: string;
  readonly contracts: {
    readonly token: string;
    readonly registry: string;
    readonly market: string;
    readonly settlement: string;
    readonly witnessPool: string;
    readonly attestationLog: string;
  };
}

export interface Contracts {
  readonly token: TokenContract;
  readonly registry: RegistryContract;
  readonly market: MarketContract;
  readonly settlement: SettlementContract;
  readonly witnessPool: WitnessPoolContract;
  readonly attestationLog: AttestationLogContract;
}

/** Every protocol parameter (docs/contracts.md, "Parameters"). Times in seconds unless noted. */
export interface ChainParams {
  readonly initialSupply: bigint;
  readonly thawPeriod: bigint;
  readonly minWitnessStake: bigint;
  readonly initialReputation: bigint;
  readonly redeemWindow: bigint;
  readonly answerWindow: bigint;
  readonly claimBond: bigint;
  readonly claimSlash: bigint;
  readonly seedDelay: bigint; // blocks
  readonly commitWindow: bigint;
  readonly revealWindow: bigint;
  readonly drawTimeout: bigint;
  readonly rewardUnit: bigint;
  readonly reputationLoss: bigint;
  readonly providerSlashBps: bigint;
  readonly customerShareBps: bigint;
  readonly witnessShareBps: bigint;
  readonly minBidBond: bigint;
  readonly bidBondBps: bigint;
  readonly minProviderStake: bigint;
  readonly bidRevealWindow: bigint;
  readonly confirmWindow: bigint;
  readonly deployWindow: bigint;
  readonly minBiddingWindow: bigint;
  readonly maxBiddingWindow: bigint;
  readonly maxDuration: bigint;
  readonly minEpochLength: bigint;
  readonly staleGrace: bigint;
  readonly deployFeeBps: bigint;
}

const HOUR = 3600n;
const DAY = 24n * HOUR;

export const DEFAULT_PARAMS: ChainParams = {
  initialSupply: parseEther('1000000000'),
  thawPeriod: 7n * DAY,
  minWitnessStake: parseEther('100'),
  initialReputation: 3n,
  redeemWindow: DAY,
  answerWindow: 6n * HOUR,
  claimBond: parseEther('1'),
  claimSlash: parseEther('10'),
  seedDelay: 2n,
  commitWindow: 2n * HOUR,
  revealWindow: 2n * HOUR,
  drawTimeout: DAY,
  rewardUnit: parseEther('0.1'),
  reputationLoss: 1n,
  providerSlashBps: 5000n,
  // A slash is burned: a share of it to the customer or the reporters would pay whoever captures a
  // committee to convict an honest provider (docs/experiments.md, "Why the slash is burned").
  customerShareBps: 0n,
  witnessShareBps: 0n,
  minBidBond: parseEther('1'),
  bidBondBps: 500n,
  minProviderStake: parseEther('1000'),
  bidRevealWindow: HOUR,
  confirmWindow: HOUR,
  deployWindow: HOUR,
  minBiddingWindow: 60n,
  maxBiddingWindow: 7n * DAY,
  maxDuration: 365n * DAY,
  minEpochLength: 4n * HOUR,
  staleGrace: 7n * DAY,
  deployFeeBps: 500n,
};

/** Short windows for tests on anvil (time moves with evm_increaseTime). */
export const TEST_PARAMS: ChainParams = {
  ...DEFAULT_PARAMS,
  thawPeriod: 1000n,
  redeemWindow: 100n,
  answerWindow: 100n,
  seedDelay: 1n,
  commitWindow: 100n,
  revealWindow: 100n,
  drawTimeout: 1000n,
  bidRevealWindow: 100n,
  confirmWindow: 100n,
  deployWindow: 100n,
  minBiddingWindow: 10n,
  minEpochLength: 200n,
  staleGrace: 300n,
  // Non-zero shares, so the tests on anvil exercise how the pool splits a slash.
  customerShareBps: 5000n,
  witnessShareBps: 2500n,
};

const { Simulated, Tdx, SevSnp } = RegistryTeeType;

/** The FaaS levels a fresh chain starts with (the table is append-only afterwards). */
export const DEFAULT_LEVELS = [
  { cpuCores: 1, memoryMiB: 512, gpuMemoryMiB: 0, minGflops: 1, teeType: Simulated, labels: 'sim-small' },
  { cpuCores: 2, memoryMiB: 2048, gpuMemoryMiB: 0, minGflops: 10, teeType: Tdx, labels: 'tdx-small' },
  { cpuCores: 4, memoryMiB: 8192, gpuMemoryMiB: 0, minGflops: 40, teeType: SevSnp, labels: 'snp-medium' },
] as const;

export interface DeployOptions {
  readonly params?: ChainParams;
  /** Receives the initial supply; defaults to the deployer. */
  readonly treasury?: string;
  /** Log operators allowed to anchor checkpoints; the deployer is always one. */
  readonly logOperators?: readonly string[];
  readonly levels?: readonly (typeof DEFAULT_LEVELS)[number][];
}

/** Deploys everything, wires the contracts together and returns typed handles and the deployment file. */
export async function deployAll(
  signer: Signer,
  rpcUrl: string,
  options: DeployOptions = {},
): Promise<{ deployment: Deployment; contracts: Contracts }> {
  const p = options.params ?? DEFAULT_PARAMS;
  const deployer = await signer.getAddress();
  const token = await deployToken(signer, options.treasury ?? deployer, p.initialSupply);
  const registry = await deployRegistry(signer, token, p.thawPeriod, p.minWitnessStake, p.initialReputation);
  const settlement = await deploySettlement(
    signer,
    token,
    registry,
    p.redeemWindow,
    p.answerWindow,
    p.claimBond,
    p.claimSlash,
  );
  const witnessPool = await deployWitnessPool(signer, token, registry, {
    seedDelay: p.seedDelay,
    commitWindow: p.commitWindow,
    revealWindow: p.revealWindow,
    drawTimeout: p.drawTimeout,
    rewardUnit: p.rewardUnit,
    reputationLoss: p.reputationLoss,
    providerSlashBps: p.providerSlashBps,
    customerShareBps: p.customerShareBps,
    witnessShareBps: p.witnessShareBps,
  });
  const market = await deployMarket(signer, token, registry, settlement, witnessPool, {
    minBidBond: p.minBidBond,
    bidBondBps: p.bidBondBps,
    minProviderStake: p.minProviderStake,
    revealWindow: p.bidRevealWindow,
    confirmWindow: p.confirmWindow,
    deployWindow: p.deployWindow,
    minBiddingWindow: p.minBiddingWindow,
    maxBiddingWindow: p.maxBiddingWindow,
    maxDuration: p.maxDuration,
    minEpochLength: p.minEpochLength,
    staleGrace: p.staleGrace,
    deployFeeBps: p.deployFeeBps,
  });
  const attestationLog = await deployAttestationLog(signer);
  const wiring = [
    () => registry.wire(market, settlement, witnessPool),
    () => settlement.setMarket(market),
    () => witnessPool.setMarket(market),
    ...[deployer, ...(options.logOperators ?? [])].map((op) => () => attestationLog.setOperator(op, true)),
    ...(options.levels ?? DEFAULT_LEVELS).map((l) => () => market.addLevel(l)),
  ];
  for (const step of wiring) await (await step()).wait();
  const network = await signer.provider!.getNetwork();
  const contracts = { token, registry, market, settlement, witnessPool, attestationLog };
  const deployment: Deployment = {
    chainId: Number(network.chainId),
    rpcUrl,
    contracts: {
      token: await token.getAddress(),
      registry: await registry.getAddress(),
      market: await market.getAddress(),
      settlement: await settlement.getAddress(),
      witnessPool: await witnessPool.getAddress(),
      attestationLog: await attestationLog.getAddress(),
    },
  };
  return { deployment, contracts };
}
