import { AgentError } from '../../verifier/agent/errors.js';

/*
 * What a provider bids on and at what price (docs/provider.md, "Price policy"). The Market runs a
 * sealed-bid reverse auction at a unit price per second of lease, capped by the order's
 * `maxUnitPrice`: the agent bids `max(minUnitPrice, ⌊maxUnitPrice · fraction⌋)` and skips orders whose
 * cap is below its floor, at most `maxLeases` leases and open bids at once.
 */

export interface BidPolicy {
  /** The lowest unit price (token base units per second) the provider works for. */
  readonly minUnitPrice: bigint;
  /** The share of the order's cap to bid, in (0, 1]. */
  readonly fraction: number;
  /** Only these FaaS levels; empty: every level the executor meets. */
  readonly levels: readonly bigint[];
  /** Leases being served plus bids still open, at most. */
  readonly maxLeases: number;
  /** The capacity each bid claims (GFLOP/s); witnesses hold the executor to it. */
  readonly claimedGflops: number;
}

/** The unit price to bid on an order capped at `maxUnitPrice`; undefined when the cap is below the floor. */
export function bidPrice(p: BidPolicy, maxUnitPrice: bigint): bigint | undefined {
  if (maxUnitPrice < p.minUnitPrice) return undefined;
  const PPM = 1_000_000n;
  const share = (maxUnitPrice * BigInt(Math.round(p.fraction * 1e6))) / PPM;
  return share > p.minUnitPrice ? share : p.minUnitPrice;
}

const KEYS = ['minUnitPrice', 'fraction', 'levels', 'maxLeases', 'claimedGflops'] as const;

/**
 * A price policy file: a JSON object with any of `minUnitPrice` (decimal string), `fraction`,
 * `levels` (decimal strings), `maxLeases`, `claimedGflops`; unknown keys are refused (a misspelt key
 * would otherwise be ignored silently).
 */
export function parseBidPolicyFile(text: string, path: string): Partial<BidPolicy> {
  const bad = (why: string) => new AgentError('DEPLOYMENT_INVALID', `${path}: ${why}`, { path });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!(KEYS as readonly string[]).includes(k)) throw bad(`unknown key ${k} (known: ${KEYS.join(', ')})`);
  const out: { -readonly [K in keyof BidPolicy]?: BidPolicy[K] } = {};
  if (o.minUnitPrice !== undefined) {
    if (typeof o.minUnitPrice !== 'string' || !/^[0-9]{1,78}$/.test(o.minUnitPrice))
      throw bad('minUnitPrice must be a decimal string');
    out.minUnitPrice = BigInt(o.minUnitPrice);
  }
  if (o.fraction !== undefined) out.fraction = checkFraction(o.fraction, bad);
  if (o.levels !== undefined) {
    if (
      !Array.isArray(o.levels) ||
      o.levels.some((l) => typeof l !== 'string' || !/^[1-9][0-9]{0,77}$/.test(l))
    )
      throw bad('levels must be a list of level ids (decimal strings)');
    out.levels = (o.levels as string[]).map((l) => BigInt(l));
  }
  if (o.maxLeases !== undefined) {
    if (!Number.isSafeInteger(o.maxLeases) || (o.maxLeases as number) < 1) throw bad('maxLeases must be ≥ 1');
    out.maxLeases = o.maxLeases as number;
  }
  if (o.claimedGflops !== undefined) {
    if (
      !Number.isSafeInteger(o.claimedGflops) ||
      (o.claimedGflops as number) < 1 ||
      (o.claimedGflops as number) > 2 ** 32 - 1
    )
      throw bad('claimedGflops must be a whole number ≥ 1');
    out.claimedGflops = o.claimedGflops as number;
  }
  return out;
}

export function checkFraction(v: unknown, bad: (why: string) => Error): number {
  if (typeof v !== 'number' || !(v > 0) || v > 1) throw bad('fraction must be a number in (0, 1]');
  return v;
}
