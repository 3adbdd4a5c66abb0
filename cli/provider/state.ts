import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { abandonDir, lockDir, unlockDir } from '../../verifier/agent/dir-lock.js';
import { AgentError, stateCorrupt, stateIo } from '../../verifier/agent/errors.js';
import { writeFileAtomic } from '../../verifier/durable-file.js';

/*
 * The provider agent's state directory: `provider.json` holds what the agent must not forget across a
 * restart — its executor's registration, every bid (with the salt that opens it: a lost salt forfeits
 * the bond), every lease, the latest voucher of each lease's customer with the receipt and call
 * records of its batch (what a claim on that batch is answered with) — written atomically after each
 * change. A bid's salt is written before the commitment is sent. `provider.lock` holds the pid of the
 * agent using the directory.
 */

export const PROVIDER_STATE_VERSION = 1;

export type BidPhase =
  /** The salt is on disk; the commitment may or may not be on chain yet. */
  | 'committing'
  | 'committed'
  | 'revealed'
  /** Won and confirmed: the lease is in `leases`. */
  | 'confirmed'
  /** Not won (or not confirmed in time); the bond is claimed when the Market allows. */
  | 'lost'
  | 'bond-claimed'
  /** The bid could not be revealed in its window: its bond stays with the Market. */
  | 'forfeited';

export interface BidRecord {
  readonly orderId: string;
  readonly executorId: string;
  /** The index the Market gave the bid; null until the commitment is seen on chain. */
  bidIndex: number | null;
  readonly unitPrice: string;
  readonly gflops: number;
  /** 0x-hex, 32 bytes. */
  readonly salt: string;
  readonly commitment: string;
  readonly bidDeadline: number;
  readonly revealDeadline: number;
  /** What confirming the lease would lock of the executor's stake if the bid wins (decimal). */
  readonly collateral?: string;
  phase: BidPhase;
  note?: string;
}

export type LeasePhase = 'serving' | 'closed' | 'settled';

/** A voucher with its signature and the receipt and records of its batch, as JSON (settlementJson's shape). */
export interface HeldVoucher {
  readonly client: string;
  /** Decimal. */
  readonly cumulativeAmount: string;
  readonly firstNonce: string;
  readonly lastNonce: string;
  /** The voucher and signature and, when the executor produced one, the batch's receipt and records. */
  readonly json: Record<string, unknown>;
}

export interface LeaseRecord {
  readonly leaseId: string;
  readonly customer: string;
  readonly executorId: string;
  readonly confirmedAt: number;
  phase: LeasePhase;
  /** The customer's highest voucher the agent holds. */
  voucher?: HeldVoucher;
  /**
   * Each probing witness's highest voucher, with the customer's probe grant it was served under
   * (`json.grant`: probeGrantToJson), redeemed with Settlement.redeemProbes; by witness address.
   */
  probes?: Record<string, HeldVoucher>;
  /** Redeemed on chain (the lease's `paid`), decimal. */
  redeemed: string;
  collected: string;
  /**
   * Batches redeemed, which the customer may still claim (`${first}-${last}`); each one's voucher,
   * receipt and records are in `batches/<lease>-<first>-<last>.json` (ProviderState.keepBatch).
   */
  redeemedBatches: string[];
  claimsAnswered: string[];
}

export interface Failure {
  readonly at: string;
  readonly what: string;
  readonly code: string;
  readonly message: string;
}

export interface ProviderRecord {
  readonly v: number;
  readonly provider: string;
  readonly chainId: string;
  readonly registry: string;
  executorId: string | null;
  enclave: string | null;
  evidenceHash: string | null;
  endpoint: string | null;
  /** The next order id the agent has not looked at. */
  nextOrder: string;
  /** The next claim id the agent has not handled. */
  nextClaim: string;
  bids: Record<string, BidRecord>;
  leases: Record<string, LeaseRecord>;
  /** The latest failures, newest last (at most MAX_FAILURES). */
  failures: Failure[];
}

const MAX_FAILURES = 50;
const LOCK = 'provider.lock';

export interface ProviderIdentity {
  readonly provider: string;
  readonly chainId: bigint;
  readonly registry: string;
}

function check(v: unknown, path: string): ProviderRecord {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw stateCorrupt(path, 'not a JSON object');
  const r = v as Record<string, unknown>;
  if (r.v !== PROVIDER_STATE_VERSION)
    throw stateCorrupt(path, `state version ${String(r.v)}, expected ${PROVIDER_STATE_VERSION}`);
  for (const f of ['provider', 'chainId', 'registry', 'nextOrder', 'nextClaim'])
    if (typeof r[f] !== 'string') throw stateCorrupt(path, `field ${f} missing or of the wrong type`);
  for (const f of ['bids', 'leases'])
    if (typeof r[f] !== 'object' || r[f] === null || Array.isArray(r[f]))
      throw stateCorrupt(path, `field ${f} missing or of the wrong type`);
  if (!Array.isArray(r.failures)) throw stateCorrupt(path, 'field failures missing or of the wrong type');
  for (const [id, b] of Object.entries(r.bids as Record<string, Partial<BidRecord>>))
    if (typeof b?.salt !== 'string' || !/^0x[0-9a-f]{64}$/.test(b.salt) || typeof b.phase !== 'string')
      throw stateCorrupt(path, `bid of order ${id} has no salt or phase`);
  return r as unknown as ProviderRecord;
}

/** Reads a state directory without taking it (for `provider status`). */
export async function readProviderState(dir: string): Promise<ProviderRecord> {
  const path = join(dir, 'provider.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new AgentError('STATE_IO', `${dir} holds no provider state (no provider.json)`, { path: dir });
    throw stateIo(path, e);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw stateCorrupt(path, 'not JSON (a torn or edited file)', e);
  }
  return check(v, path);
}

export class ProviderState {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly record: ProviderRecord,
  ) {}

  /**
   * Takes the directory (creating it), loads or creates the state and checks it belongs to this
   * provider, chain and Registry. Refuses a directory held by another live agent (STATE_LOCKED) or of
   * another provider, chain or Registry (STATE_MISMATCH); a damaged file is STATE_CORRUPT, never reset.
   */
  static async open(dir: string, id: ProviderIdentity): Promise<ProviderState> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw stateIo(dir, e);
    }
    await lockDir(dir, LOCK, 'provider agent');
    try {
      let record: ProviderRecord;
      try {
        record = await readProviderState(dir);
      } catch (e) {
        if (!(e instanceof AgentError && e.code === 'STATE_IO' && (e.info as { path?: string }).path === dir))
          throw e;
        record = {
          v: PROVIDER_STATE_VERSION,
          provider: id.provider.toLowerCase(),
          chainId: id.chainId.toString(),
          registry: id.registry.toLowerCase(),
          executorId: null,
          enclave: null,
          evidenceHash: null,
          endpoint: null,
          nextOrder: '1',
          nextClaim: '1',
          bids: {},
          leases: {},
          failures: [],
        };
      }
      const same =
        record.provider === id.provider.toLowerCase() &&
        record.chainId === id.chainId.toString() &&
        record.registry === id.registry.toLowerCase();
      if (!same)
        throw new AgentError(
          'STATE_MISMATCH',
          `${dir} is the state of provider ${record.provider} on chain ${record.chainId}, Registry ${record.registry}; this agent is ${id.provider.toLowerCase()} on chain ${id.chainId}, Registry ${id.registry.toLowerCase()}`,
          { path: dir },
        );
      const s = new ProviderState(dir, record);
      await s.save();
      return s;
    } catch (e) {
      await unlockDir(dir, LOCK);
      throw e;
    }
  }

  /** Writes the record (writes are serialised; each one is atomic and durable). */
  save(): Promise<void> {
    const text = `${JSON.stringify(this.record, null, 2)}\n`;
    const path = join(this.dir, 'provider.json');
    const run = this.writing.then(() =>
      writeFileAtomic(path, text).catch((e: unknown) => {
        throw stateIo(path, e);
      }),
    );
    this.writing = run.catch(() => {});
    return run;
  }

  noteFailure(what: string, e: unknown): Failure {
    const f: Failure = {
      at: new Date().toISOString(),
      what,
      code: (e as { code?: unknown })?.code?.toString() ?? 'ERROR',
      message: e instanceof Error ? e.message : String(e),
    };
    this.record.failures.push(f);
    if (this.record.failures.length > MAX_FAILURES)
      this.record.failures.splice(0, this.record.failures.length - MAX_FAILURES);
    return f;
  }

  /** Writes a redeemed batch (its voucher, receipt and records) where a claim on it finds it. */
  async keepBatch(leaseId: string, v: HeldVoucher): Promise<void> {
    const path = this.batchPath(leaseId, `${v.firstNonce}-${v.lastNonce}`);
    await mkdir(join(this.dir, 'batches'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, `${JSON.stringify(v)}\n`).catch((e: unknown) => {
      throw stateIo(path, e);
    });
  }

  /** A redeemed batch written by keepBatch, or undefined. */
  async batch(leaseId: string, key: string): Promise<HeldVoucher | undefined> {
    const path = this.batchPath(leaseId, key);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as HeldVoucher;
    } catch (e) {
      throw stateCorrupt(path, 'not JSON', e);
    }
  }

  private batchPath(leaseId: string, key: string): string {
    if (!/^[0-9]+$/.test(leaseId) || !/^[0-9]+-[0-9]+$/.test(key)) throw new TypeError('bad batch name');
    return join(this.dir, 'batches', `${leaseId}-${key}.json`);
  }

  async close(): Promise<void> {
    await this.writing;
    await unlockDir(this.dir, LOCK);
  }

  /** Lets go of the directory as a crash would (the lock file stays). */
  abandon(): void {
    abandonDir(this.dir);
  }
}
