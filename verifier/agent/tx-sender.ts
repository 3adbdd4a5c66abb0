import type { ContractTransactionResponse, Provider, TransactionReceipt } from 'ethers';
import { isError } from 'ethers';
import { defaasErrors } from '../../contracts/bindings/index.js';
import { AgentError } from './errors.js';

/*
 * Sends the agent's transactions one at a time (one wallet, one nonce sequence) and tells three
 * failures apart:
 * - a revert (the contracts refused: a closed window, a wrong phase): decoded with `defaasErrors`
 *   and thrown at once as TX_REVERTED — sending it again would revert again;
 * - a transient failure (the RPC endpoint down or timing out, a nonce another send used, a receipt
 *   that does not come): retried with exponential backoff, asking `alreadyDone` (a view) before each
 *   retry so a transaction that was mined after all is not sent twice;
 * - anything else (no funds for gas, a malformed request): thrown as TX_FAILED without retry.
 * Nothing is dropped: every failure reaches the caller, which records it.
 */

export interface DecodedRevert {
  readonly name: string;
  readonly args: readonly string[];
}

/** The custom error behind a revert, decoded with every contract's errors; undefined if it is not one. */
export function decodeRevert(e: unknown): DecodedRevert | undefined {
  const candidates: unknown[] = [];
  for (let x: unknown = e, depth = 0; x !== null && typeof x === 'object' && depth < 5; depth++) {
    const o = x as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } };
    candidates.push(o.data, o.info?.error?.data, o.error?.data);
    x = (x as { cause?: unknown }).cause;
  }
  for (const c of candidates) {
    const data = typeof c === 'string' ? c : (c as { data?: unknown } | undefined)?.data;
    if (typeof data !== 'string' || data.length < 10) continue;
    try {
      const parsed = defaasErrors.parseError(data);
      if (parsed) return { name: parsed.name, args: parsed.args.map((a: unknown) => String(a)) };
    } catch {
      // not one of ours: try the next candidate
    }
  }
  return undefined;
}

const TRANSIENT_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** A failure that sending again later may cure: the endpoint, the network, a nonce race. */
export function isTransient(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x !== null && typeof x === 'object' && depth < 5; depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_ERRNO.has(code)) return true;
    x = (x as { cause?: unknown }).cause;
  }
  if (
    isError(e, 'NETWORK_ERROR') ||
    isError(e, 'TIMEOUT') ||
    isError(e, 'SERVER_ERROR') ||
    isError(e, 'NONCE_EXPIRED') ||
    isError(e, 'REPLACEMENT_UNDERPRICED') ||
    isError(e, 'TRANSACTION_REPLACED')
  )
    return true;
  const m = e instanceof Error ? e.message : String(e);
  return /fetch failed|socket hang up|ECONNREFUSED|ECONNRESET|nonce too low|nonce has already been used|timeout/i.test(
    m,
  );
}

export interface SentTx {
  readonly hash: string;
  readonly block: number;
  readonly gasUsed: bigint;
}

export interface TxSenderOptions {
  readonly provider: Provider;
  /** Sends in total, first included (default 8). */
  readonly maxAttempts?: number;
  /** Backoff: base · 2^attempt, capped (defaults 250 ms, 5 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** How long to wait for a receipt before treating the send as lost (default 60 s). */
  readonly receiptTimeoutMs?: number;
  /** Receipt polling interval (default 200 ms). */
  readonly pollMs?: number;
  readonly onRetry?: (label: string, attempt: number, error: unknown) => void;
  /** True once the sender is stopped: no further retry starts. */
  readonly stopped?: () => boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class TxSender {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: TxSenderOptions) {}

  /**
   * Sends `build()` (which signs and submits one transaction) and waits for its receipt. Resolves
   * `'already-done'` when `alreadyDone` says the effect is on chain without this send.
   */
  send(
    label: string,
    build: () => Promise<ContractTransactionResponse>,
    alreadyDone?: () => Promise<boolean>,
  ): Promise<SentTx | 'already-done'> {
    const run = this.queue.then(() => this.attempts(label, build, alreadyDone));
    this.queue = run.catch(() => {});
    return run;
  }

  private async attempts(
    label: string,
    build: () => Promise<ContractTransactionResponse>,
    alreadyDone?: () => Promise<boolean>,
  ): Promise<SentTx | 'already-done'> {
    const max = this.o.maxAttempts ?? 8;
    let last: unknown;
    for (let attempt = 0; attempt < max; attempt++) {
      if (attempt > 0) {
        if (this.o.stopped?.()) break;
        const delay = Math.min((this.o.baseDelayMs ?? 250) * 2 ** (attempt - 1), this.o.maxDelayMs ?? 5000);
        await sleep(delay);
        try {
          if (alreadyDone && (await alreadyDone())) return 'already-done';
        } catch (e) {
          if (!isTransient(e)) throw failed(label, e);
          last = e;
          this.o.onRetry?.(label, attempt, e);
          continue;
        }
      }
      try {
        return await this.once(label, build);
      } catch (e) {
        if (e instanceof AgentError) throw e;
        const revert = decodeRevert(e);
        if (revert) throw reverted(label, revert, e);
        if (!isTransient(e)) throw failed(label, e);
        last = e;
        this.o.onRetry?.(label, attempt + 1, e);
      }
    }
    throw new AgentError(
      'TX_FAILED',
      `${label}: gave up after ${max} attempts: ${last instanceof Error ? last.message : String(last)}`,
      { label, attempts: max },
      last,
    );
  }

  private async once(label: string, build: () => Promise<ContractTransactionResponse>): Promise<SentTx> {
    const tx = await build();
    const receipt = await this.receipt(tx.hash);
    if (receipt.status !== 1) {
      // Mined and reverted: replay it at its block to learn the custom error.
      let revert: DecodedRevert | undefined;
      try {
        await this.o.provider.call({
          to: tx.to,
          from: tx.from,
          data: tx.data,
          value: tx.value,
          blockTag: receipt.blockNumber,
        });
      } catch (e) {
        revert = decodeRevert(e);
      }
      throw reverted(label, revert ?? { name: 'unknown', args: [] }, undefined, tx.hash);
    }
    return { hash: tx.hash, block: receipt.blockNumber, gasUsed: receipt.gasUsed };
  }

  /** Polls for the receipt, tolerating an endpoint that comes and goes, until receiptTimeoutMs. */
  private async receipt(hash: string): Promise<TransactionReceipt> {
    const deadline = Date.now() + (this.o.receiptTimeoutMs ?? 60_000);
    let last: unknown;
    for (;;) {
      try {
        const r = await this.o.provider.getTransactionReceipt(hash);
        if (r) return r;
      } catch (e) {
        if (!isTransient(e)) throw e;
        last = e;
      }
      if (Date.now() >= deadline || this.o.stopped?.())
        throw Object.assign(new Error(`no receipt for ${hash} (timeout)`), { cause: last, code: 'TIMEOUT' });
      await sleep(this.o.pollMs ?? 200);
    }
  }
}

function reverted(label: string, r: DecodedRevert, cause?: unknown, hash?: string): AgentError {
  return new AgentError(
    'TX_REVERTED',
    `${label} reverted: ${r.name}(${r.args.join(', ')})`,
    { label, error: r.name, args: r.args, ...(hash !== undefined && { tx: hash }) },
    cause,
  );
}

function failed(label: string, e: unknown): AgentError {
  const m = e instanceof Error ? ((e as { shortMessage?: string }).shortMessage ?? e.message) : String(e);
  return new AgentError('TX_FAILED', `${label}: ${m}`, { label }, e);
}
