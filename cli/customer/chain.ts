import type { JsonRpcProvider } from 'ethers';
import type {
  MarketContract,
  RegistryContract,
  SettlementContract,
  TokenContract,
  WitnessPoolContract,
} from '../../contracts/bindings/index.js';
import { PaddedWallet } from '../../contracts/deploy.js';
import { type AgentDeployment, connectContracts } from '../../verifier/agent/chain.js';
import { isTransient, TxSender } from '../../verifier/agent/tx-sender.js';
import { CliError, UsageError } from '../errors.js';
import { rpcProvider } from '../rpc-provider.js';

/*
 * The customer's connection to a chain: the endpoint checked against the deployment file (its chain
 * id), the contracts connected to the wallet (or read-only without one), and one TxSender for the
 * wallet's transactions. An endpoint that does not answer is CHAIN_UNAVAILABLE (exit 3) after a few
 * bounded attempts, never a silent hang.
 */

export interface CustomerChain {
  readonly rpc: string;
  readonly chainId: bigint;
  readonly deployment: AgentDeployment;
  readonly provider: JsonRpcProvider;
  /** The wallet, when a key was given. */
  readonly signer?: PaddedWallet;
  /** Sends the wallet's transactions (undefined without a key). */
  readonly sender?: TxSender;
  readonly token: TokenContract;
  readonly registry: RegistryContract;
  readonly market: MarketContract;
  readonly settlement: SettlementContract;
  readonly witnessPool: WitnessPoolContract;
  close(): void;
}

export interface RetryOptions {
  /** Attempts in total (default 4). */
  readonly attempts?: number;
  /** First backoff; doubled each attempt (default 250 ms). */
  readonly baseDelayMs?: number;
  /** How long one request may take before it counts as failed (default 10 s). */
  readonly requestTimeoutMs?: number;
}

const REQUEST_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The message of the innermost cause: what Node says about a refused connection. */
function why(e: unknown): string {
  let x: unknown = e;
  for (let depth = 0; depth < 5 && x instanceof Error && x.cause instanceof Error; depth++) x = x.cause;
  return x instanceof Error ? x.message : String(x);
}

/**
 * Runs a read against the chain; a transient failure (refused, reset, timed out) is tried again with
 * backoff, and after the last attempt becomes CHAIN_UNAVAILABLE. Anything else passes through.
 */
export async function reading<T>(rpc: string, read: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const attempts = o.attempts ?? 4;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep((o.baseDelayMs ?? 250) * 2 ** (i - 1));
    try {
      return await read();
    } catch (e) {
      if (!isTransient(e)) throw e;
      last = e;
    }
  }
  throw new CliError(
    'CHAIN_UNAVAILABLE',
    `${rpc} did not answer after ${attempts} attempts (${why(last)})`,
    { rpc },
    last,
  );
}

/** The endpoint's chain id (eth_chainId), or CHAIN_UNAVAILABLE when it does not answer. */
export async function chainIdAt(url: string, o: RetryOptions = {}): Promise<bigint> {
  return reading(
    url,
    async () => {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
      });
      let result: unknown;
      try {
        ({ result } = (await r.json()) as { result?: unknown });
      } catch {
        result = undefined;
      }
      if (typeof result !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(result))
        throw new CliError('CHAIN_UNAVAILABLE', `${url}: HTTP ${r.status}, no chain id in the answer`, {
          rpc: url,
        });
      return BigInt(result);
    },
    o,
  );
}

export interface OpenChainOptions {
  readonly rpc: string;
  readonly deployment: AgentDeployment;
  /** The wallet's key (0x-hex); without it the chain is read-only. */
  readonly privateKey?: string;
  readonly retry?: RetryOptions;
  /** Each retried send (label, attempt, error): for progress lines. */
  readonly onRetry?: (label: string, attempt: number, error: unknown) => void;
}

/** Connects to `rpc` after checking that it serves the deployment's chain (else a usage error). */
export async function openChain(o: OpenChainOptions): Promise<CustomerChain> {
  const chainId = await chainIdAt(o.rpc, o.retry);
  if (chainId !== BigInt(o.deployment.chainId))
    throw new UsageError(
      `${o.rpc} serves chain ${chainId}, the deployment file is for chain ${o.deployment.chainId}: give the --rpc of that chain or its deployment file`,
      'INVALID_ARGUMENT',
      { rpc: o.rpc, chainId: chainId.toString(), deploymentChainId: o.deployment.chainId },
    );
  const provider = rpcProvider(o.rpc, chainId, o.retry?.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, 250);
  const signer = o.privateKey !== undefined ? new PaddedWallet(o.privateKey, provider) : undefined;
  const runner = signer ?? provider;
  const { pool, ...contracts } = connectContracts(o.deployment.contracts, runner);
  const sender =
    signer &&
    new TxSender({
      provider,
      maxAttempts: o.retry?.attempts ?? 4,
      baseDelayMs: o.retry?.baseDelayMs ?? 250,
      maxDelayMs: 4_000,
      receiptTimeoutMs: 60_000,
      pollMs: 250,
      ...(o.onRetry && { onRetry: o.onRetry }),
    });
  return {
    rpc: o.rpc,
    chainId,
    deployment: o.deployment,
    provider,
    ...(signer && { signer }),
    ...(sender && { sender }),
    ...contracts,
    witnessPool: pool,
    close: () => provider.destroy(),
  };
}

/** The chain's clock: the latest block's timestamp. */
export async function chainNow(ch: CustomerChain): Promise<bigint> {
  return reading(ch.rpc, async () => {
    const b = await ch.provider.getBlock('latest');
    if (!b) throw Object.assign(new Error('no latest block'), { code: 'TIMEOUT' });
    return BigInt(b.timestamp);
  });
}
