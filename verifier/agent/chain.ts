import type { ContractRunner, Provider, Signer } from 'ethers';
import {
  connectMarket,
  connectRegistry,
  connectSettlement,
  connectToken,
  connectWitnessPool,
  type MarketContract,
  type RegistryContract,
  type SettlementContract,
  type TokenContract,
  type WitnessPoolContract,
} from '../../contracts/bindings/index.js';
import { AgentError } from './errors.js';

/*
 * The contracts the agent drives, connected to its wallet, and the chain views it reads (chain time,
 * a lease's SLA terms and executor). The deployment file is `contracts/deploy.ts`'s `Deployment`;
 * only the fields below are read.
 */

export interface AgentDeployment {
  readonly chainId: number;
  readonly contracts: {
    readonly token: string;
    readonly registry: string;
    readonly market: string;
    readonly settlement: string;
    readonly witnessPool: string;
  };
}

export interface AgentChain {
  readonly provider: Provider;
  readonly signer: Signer;
  readonly witness: string;
  readonly chainId: bigint;
  readonly deployment: AgentDeployment;
  readonly token: TokenContract;
  readonly registry: RegistryContract;
  readonly market: MarketContract;
  readonly settlement: SettlementContract;
  readonly pool: WitnessPoolContract;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** Checks the fields the agent reads from a deployment file; DEPLOYMENT_INVALID otherwise. */
export function parseDeployment(v: unknown, where: string): AgentDeployment {
  const d = v as { chainId?: unknown; contracts?: Record<string, unknown> } | null;
  const bad = (why: string) => new AgentError('DEPLOYMENT_INVALID', `${where}: ${why}`, { path: where });
  if (typeof d !== 'object' || d === null) throw bad('not a JSON object');
  if (!Number.isSafeInteger(d.chainId)) throw bad('chainId missing');
  for (const k of ['token', 'registry', 'market', 'settlement', 'witnessPool'])
    if (typeof d.contracts?.[k] !== 'string' || !ADDRESS.test(d.contracts[k] as string))
      throw bad(`contracts.${k} missing or not an address`);
  return d as unknown as AgentDeployment;
}

/** Connects the contracts; checks the endpoint's chain id against the deployment's. */
export async function connectChain(signer: Signer, deployment: AgentDeployment): Promise<AgentChain> {
  const provider = signer.provider;
  if (!provider) throw new AgentError('DEPLOYMENT_INVALID', 'the wallet has no provider');
  const chainId = (await provider.getNetwork()).chainId;
  if (chainId !== BigInt(deployment.chainId))
    throw new AgentError(
      'DEPLOYMENT_INVALID',
      `the endpoint serves chain ${chainId}, the deployment is on chain ${deployment.chainId}`,
      { chainId: chainId.toString(), deploymentChainId: deployment.chainId },
    );
  return {
    provider,
    signer,
    witness: await signer.getAddress(),
    chainId,
    deployment,
    ...connectContracts(deployment.contracts, signer),
  };
}

/** The deployment's contracts, connected to `runner` (a wallet, or a provider to read only). */
export function connectContracts(
  c: AgentDeployment['contracts'],
  runner: ContractRunner,
): Pick<AgentChain, 'token' | 'registry' | 'market' | 'settlement' | 'pool'> {
  return {
    token: connectToken(c.token, runner),
    registry: connectRegistry(c.registry, runner),
    market: connectMarket(c.market, runner),
    settlement: connectSettlement(c.settlement, runner),
    pool: connectWitnessPool(c.witnessPool, runner),
  };
}

/** The latest block's timestamp: the clock every window is measured on. */
export async function chainNow(provider: Provider): Promise<bigint> {
  const b = await provider.getBlock('latest');
  if (!b) throw new Error('no latest block');
  return BigInt(b.timestamp);
}
