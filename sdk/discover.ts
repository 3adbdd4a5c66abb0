import { isError, JsonRpcProvider, Network, type Provider } from 'ethers';
import { connectMarket, type MarketContract } from '../contracts/bindings/market.js';
import { connectRegistry, type RegistryContract } from '../contracts/bindings/registry.js';
import { DefaasError } from './errors.js';

/*
 * Read-only views of the market: the executors in the Registry that meet a customer's requirements,
 * the Market's levels, and its orders. Everything is read from the contracts (counts, then one view
 * call per id), never from a list kept elsewhere. Ids start at 1 in both contracts; reads go in
 * pages of at most `maxItems` ids, `PARALLEL` calls at a time.
 */

/** TEE families as the CLI and policies spell them, in the order of `IRegistry.TeeType`. */
export const TEE_NAMES = ['simulated', 'tdx', 'sev-snp'] as const;
export type TeeName = (typeof TEE_NAMES)[number];

/** Order states as `IMarket.State` names them (`none` is an id never used). */
export const ORDER_STATES = [
  'none',
  'bidding',
  'confirming',
  'deploying',
  'fulfilling',
  'finished',
  'failed',
  'cancelled',
] as const;
export type OrderStateName = (typeof ORDER_STATES)[number];

/** The page size when the caller gives none, and the largest page a caller may ask for. */
export const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 10_000;
/** View calls in flight at once. */
const PARALLEL = 16;

/** Where the contracts are: the deployment file's chain id and addresses (other fields are ignored). */
export interface MarketDeployment {
  readonly chainId: number;
  readonly contracts: { readonly registry: string; readonly market: string };
}

/** A provider to read with, or the URL of a JSON-RPC endpoint (a provider is made and closed per call). */
export type ChainSource = { readonly provider: Provider } | { readonly rpc: string };

export type MarketReadOptions = ChainSource & {
  readonly deployment: MarketDeployment;
  /** First id to read (default 1). */
  readonly from?: bigint;
  /** Most ids to read (default DEFAULT_PAGE, at most MAX_PAGE). */
  readonly maxItems?: number;
};

/** What an executor must have; every field is optional and all given ones must hold. */
export interface Requirements {
  readonly minCpuCores?: number;
  readonly minMemoryMiB?: number;
  readonly minGpuMemoryMiB?: number;
  readonly minGflops?: number;
  /** TEE types allowed (non-empty when given). */
  readonly tees?: readonly TeeName[];
  /**
   * A level whose minimums apply as the Market checks a bid: specs at least the level's, the
   * level's TEE type, and free stake at least the Market's `minProviderStake`.
   */
  readonly levelId?: bigint;
  /** Free stake (token base units) at least this. */
  readonly minFreeStake?: bigint;
}

export interface ExecutorInfo {
  readonly id: bigint;
  readonly provider: string;
  readonly enclave: string;
  readonly endpoint: string;
  readonly evidenceHash: string;
  readonly cpuCores: number;
  readonly memoryMiB: number;
  readonly gpuMemoryMiB: number;
  readonly gflops: number;
  readonly teeType: TeeName | 'unknown';
  /** Free stake: what bids and new leases draw on. */
  readonly freeStake: bigint;
  /** Collateral of unsettled leases. */
  readonly lockedStake: bigint;
  readonly thawingStake: bigint;
  readonly activeLeases: number;
}

export interface LevelInfo {
  readonly id: bigint;
  readonly cpuCores: number;
  readonly memoryMiB: number;
  readonly gpuMemoryMiB: number;
  readonly minGflops: number;
  /** `unknown` for an id that is no `IRegistry.TeeType`: no executor meets such a level. */
  readonly teeType: TeeName | 'unknown';
  readonly labels: string;
}

export interface OrderInfo {
  readonly id: bigint;
  readonly customer: string;
  readonly levelId: bigint;
  readonly state: OrderStateName;
  readonly duration: bigint;
  readonly maxUnitPrice: bigint;
  readonly bidDeadline: bigint;
  readonly revealDeadline: bigint;
  readonly bidCount: number;
  readonly committeeSize: number;
  readonly majority: number;
  /** The SLA the lease carries. */
  readonly availabilityBps: number;
  readonly p95LatencyMs: number;
  readonly epochLength: bigint;
  readonly epochs: number;
  /** The offered bid's unit price (0 before bidding closes). */
  readonly price: bigint;
  /** When the lease started (0 before). */
  readonly startedAt: bigint;
}

/** A page of ids read: the items, how many ids exist, and the first id not read yet (if any). */
export interface Page<T> {
  readonly items: T[];
  readonly total: bigint;
  readonly next?: bigint;
}

function invalid(message: string, info: Record<string, unknown>): DefaasError {
  return new DefaasError('SDK_INVALID_REQUIREMENTS', message, info);
}

function checkCount(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff))
    throw invalid(`${name} must be an integer from 0 to 2^32-1`, { [name]: v });
}

/** Refuses requirements that no executor could be checked against (SDK_INVALID_REQUIREMENTS). */
export function validateRequirements(r: Requirements): void {
  checkCount('minCpuCores', r.minCpuCores);
  checkCount('minMemoryMiB', r.minMemoryMiB);
  checkCount('minGpuMemoryMiB', r.minGpuMemoryMiB);
  checkCount('minGflops', r.minGflops);
  if (r.tees !== undefined) {
    if (r.tees.length === 0) throw invalid('tees is empty: no executor could match', { tees: [] });
    for (const t of r.tees)
      if (!(TEE_NAMES as readonly string[]).includes(t))
        throw invalid(`unknown TEE type ${JSON.stringify(t)} (expected ${TEE_NAMES.join(', ')})`, { tee: t });
  }
  if (r.levelId !== undefined && r.levelId < 1n)
    throw invalid('levelId must be at least 1 (level ids start at 1)', { levelId: r.levelId });
  if (r.minFreeStake !== undefined && r.minFreeStake < 0n)
    throw invalid('minFreeStake must not be negative', { minFreeStake: r.minFreeStake });
}

function checkPage(o: MarketReadOptions): { from: bigint; max: bigint } {
  const from = o.from ?? 1n;
  const max = o.maxItems ?? DEFAULT_PAGE;
  if (from < 1n) throw new DefaasError('SDK_INVALID_ARGUMENT', 'from must be at least 1 (ids start at 1)');
  if (!Number.isSafeInteger(max) || max < 1 || max > MAX_PAGE)
    throw new DefaasError('SDK_INVALID_ARGUMENT', `maxItems must be an integer from 1 to ${MAX_PAGE}`, {
      maxItems: max,
    });
  return { from, max: BigInt(max) };
}

/** A TEE type id as its name; an id past `IRegistry.TeeType` (a level may hold any uint8) is `unknown`. */
function teeName(t: bigint): TeeName | 'unknown' {
  return TEE_NAMES[Number(t)] ?? 'unknown';
}

/** A failure to reach the chain, as ethers or Node report it: CHAIN_UNAVAILABLE (transient). */
export function chainError(e: unknown, where: string): unknown {
  if (e instanceof DefaasError) return e;
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  if (
    isError(e, 'NETWORK_ERROR') ||
    isError(e, 'TIMEOUT') ||
    isError(e, 'SERVER_ERROR') ||
    errno === 'ECONNREFUSED' ||
    errno === 'ECONNRESET'
  )
    return new DefaasError('CHAIN_UNAVAILABLE', `${where}: ${(e as Error).message}`, { rpc: where }, e);
  if (isError(e, 'BAD_DATA') || isError(e, 'CALL_EXCEPTION'))
    return new DefaasError(
      'CHAIN_UNEXPECTED_ANSWER',
      `${where}: the contracts did not answer as a defaas deployment (${(e as Error).message})`,
      { rpc: where },
      e,
    );
  return e;
}

interface Contracts {
  readonly registry: RegistryContract;
  readonly market: MarketContract;
}

/**
 * The provider a read goes through: the caller's, or one for `rpc` on the deployment's chain (`own`,
 * destroyed by the caller); `where` names it in errors.
 */
export function chainProvider(
  o: ChainSource,
  chainId: number,
): { provider: Provider; own?: JsonRpcProvider; where: string } {
  if (!('rpc' in o)) return { provider: o.provider, where: 'provider' };
  const network = Network.from(BigInt(chainId));
  const own = new JsonRpcProvider(o.rpc, network, { staticNetwork: network, batchMaxCount: 1 });
  return { provider: own, own, where: o.rpc };
}

/** Runs `read` against the deployment's contracts, mapping chain failures to typed errors. */
async function withContracts<T>(o: MarketReadOptions, read: (c: Contracts) => Promise<T>): Promise<T> {
  const { provider, own, where } = chainProvider(o, o.deployment.chainId);
  try {
    return await read({
      registry: connectRegistry(o.deployment.contracts.registry, provider),
      market: connectMarket(o.deployment.contracts.market, provider),
    });
  } catch (e) {
    throw chainError(e, where);
  } finally {
    own?.destroy();
  }
}

/** Reads ids [from, min(from + max, count + 1)) with `get`, PARALLEL at a time. */
async function readPage<T>(
  count: bigint,
  page: { from: bigint; max: bigint },
  get: (id: bigint) => Promise<T>,
): Promise<Page<T>> {
  const end = page.from + page.max <= count + 1n ? page.from + page.max : count + 1n;
  const items: T[] = [];
  for (let start = page.from; start < end; start += BigInt(PARALLEL)) {
    const ids: bigint[] = [];
    for (let id = start; id < end && id < start + BigInt(PARALLEL); id++) ids.push(id);
    items.push(...(await Promise.all(ids.map(get))));
  }
  return { items, total: count, ...(end <= count && { next: end }) };
}

async function readLevel(market: MarketContract, id: bigint): Promise<LevelInfo> {
  const l = await market.level(id);
  return {
    id,
    cpuCores: Number(l.cpuCores),
    memoryMiB: Number(l.memoryMiB),
    gpuMemoryMiB: Number(l.gpuMemoryMiB),
    minGflops: Number(l.minGflops),
    teeType: teeName(l.teeType),
    labels: l.labels,
  };
}

/** The Market's levels (a page of ids; levels are append-only). */
export async function levels(o: MarketReadOptions): Promise<Page<LevelInfo>> {
  const page = checkPage(o);
  return await withContracts(o, async ({ market }) =>
    readPage(await market.levelCount(), page, (id) => readLevel(market, id)),
  );
}

/** The Market's orders (a page of ids), with their SLA terms; `state` keeps only orders in those states. */
export async function orders(
  o: MarketReadOptions & { readonly state?: readonly OrderStateName[] },
): Promise<Page<OrderInfo>> {
  const page = checkPage(o);
  for (const s of o.state ?? [])
    if (!(ORDER_STATES as readonly string[]).includes(s))
      throw new DefaasError('SDK_INVALID_ARGUMENT', `unknown order state ${JSON.stringify(s)}`, { state: s });
  return await withContracts(o, async ({ market }) => {
    const p = await readPage(await market.orderCount(), page, async (id): Promise<OrderInfo> => {
      const x = await market.order(id);
      return {
        id,
        customer: x.customer.toLowerCase(),
        levelId: x.levelId,
        state: ORDER_STATES[Number(x.state)] ?? 'none',
        duration: x.duration,
        maxUnitPrice: x.maxUnitPrice,
        bidDeadline: x.bidDeadline,
        revealDeadline: x.revealDeadline,
        bidCount: Number(x.bidCount),
        committeeSize: Number(x.committeeSize),
        majority: Number(x.majority),
        availabilityBps: Number(x.availabilityBps),
        p95LatencyMs: Number(x.p95LatencyMs),
        epochLength: x.epochLength,
        epochs: Number(x.epochs),
        price: x.price,
        startedAt: x.startedAt,
      };
    });
    const keep = o.state;
    return keep === undefined ? p : { ...p, items: p.items.filter((x) => keep.includes(x.state)) };
  });
}

/** Whether `e` meets `r` (with the level and the Market's minimum stake already resolved). */
function meets(e: ExecutorInfo, r: Requirements, level?: LevelInfo, minStake?: bigint): boolean {
  const atLeast = (have: number, min: number | undefined) => min === undefined || have >= min;
  return (
    atLeast(e.cpuCores, r.minCpuCores) &&
    atLeast(e.memoryMiB, r.minMemoryMiB) &&
    atLeast(e.gpuMemoryMiB, r.minGpuMemoryMiB) &&
    atLeast(e.gflops, r.minGflops) &&
    (r.tees === undefined || (r.tees as readonly string[]).includes(e.teeType)) &&
    (r.minFreeStake === undefined || e.freeStake >= r.minFreeStake) &&
    (level === undefined ||
      (e.cpuCores >= level.cpuCores &&
        e.memoryMiB >= level.memoryMiB &&
        e.gpuMemoryMiB >= level.gpuMemoryMiB &&
        e.gflops >= level.minGflops &&
        e.teeType === level.teeType &&
        e.freeStake >= (minStake ?? 0n)))
  );
}

/**
 * The registered executors (a page of Registry ids) that meet `requirements`. Refuses requirements
 * that make no sense (SDK_INVALID_REQUIREMENTS) and a level the Market does not have
 * (MARKET_UNKNOWN_LEVEL); a chain that does not answer is CHAIN_UNAVAILABLE.
 */
export async function discover(
  o: MarketReadOptions & { readonly requirements?: Requirements },
): Promise<Page<ExecutorInfo>> {
  const r = o.requirements ?? {};
  validateRequirements(r);
  const page = checkPage(o);
  return await withContracts(o, async ({ registry, market }) => {
    let level: LevelInfo | undefined;
    let minStake: bigint | undefined;
    if (r.levelId !== undefined) {
      const count = await market.levelCount();
      if (r.levelId > count)
        throw new DefaasError('MARKET_UNKNOWN_LEVEL', `level ${r.levelId} does not exist (${count} levels)`, {
          levelId: r.levelId,
          levels: count,
        });
      level = await readLevel(market, r.levelId);
      minStake = (await market.params()).minProviderStake;
    }
    const p = await readPage(await registry.executorCount(), page, async (id): Promise<ExecutorInfo> => {
      const e = await registry.executor(id);
      return {
        id,
        provider: e.provider.toLowerCase(),
        enclave: e.enclave.toLowerCase(),
        endpoint: e.endpoint,
        evidenceHash: e.evidenceHash,
        cpuCores: Number(e.cpuCores),
        memoryMiB: Number(e.memoryMiB),
        gpuMemoryMiB: Number(e.gpuMemoryMiB),
        gflops: Number(e.gflops),
        teeType: teeName(e.teeType),
        freeStake: e.stake,
        lockedStake: e.locked,
        thawingStake: e.thawing,
        activeLeases: Number(e.activeLeases),
      };
    });
    return { ...p, items: p.items.filter((e) => meets(e, r, level, minStake)) };
  });
}
