import type { VerifiedReceipt } from '../protocol/receipts.js';
import { DefaasError, toDefaasError } from './errors.js';
import type { FunctionHandle, InvokeResult, Session } from './session/session.js';
import type { WalletLike } from './wallet.js';

export interface ManyCall {
  readonly input: Uint8Array;
  /** Function per session, by index in the `sessions` list (one deploy per session). */
  readonly fn?: FunctionHandle;
}

export type ManyResult = ({ ok: true } & InvokeResult) | { ok: false; error: DefaasError };

export interface InvokeManyOptions {
  readonly wallet: WalletLike;
  /** Calls in flight at once, across all sessions (default 32). */
  readonly concurrency?: number;
}

/**
 * The parallel invoker: runs `calls` with bounded concurrency over one or more sessions (round
 * robin), each call covered by a verified receipt. `fns[i]` is the function handle in `sessions[i]`
 * (the same module deployed to each). Results come back in call order; failures are values, so one
 * refused call does not hide the others.
 */
export async function invokeMany(
  sessions: Session | readonly Session[],
  fns: FunctionHandle | readonly FunctionHandle[],
  inputs: readonly Uint8Array[],
  opts: InvokeManyOptions,
): Promise<ManyResult[]> {
  const ss = Array.isArray(sessions) ? sessions : [sessions as Session];
  const fs = Array.isArray(fns) ? fns : [fns as FunctionHandle];
  if (ss.length === 0 || ss.length !== fs.length)
    throw new DefaasError('SDK_INVALID_ARGUMENT', 'need one function handle per session');
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 32));
  const results: ManyResult[] = new Array(inputs.length);
  const receipts: Promise<void>[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    for (;;) {
      const i = next++;
      if (i >= inputs.length) return;
      const k = i % ss.length;
      try {
        // Concurrency bounds calls in flight; receipts (batched mode) are awaited at the end, so
        // a batch can fill up instead of closing on its timer.
        const r = await ss[k]!.invokeDeferred(fs[k]!, inputs[i]!, { wallet: opts.wallet });
        receipts.push(
          r.receipt.then(
            (receipt: VerifiedReceipt) => {
              results[i] = {
                ok: true,
                output: r.output,
                stderr: r.stderr,
                stderrTruncatedBytes: r.stderrTruncatedBytes,
                record: r.record,
                receipt,
              };
            },
            (e: unknown) => {
              results[i] = { ok: false, error: toDefaasError(e) };
            },
          ),
        );
      } catch (e) {
        results[i] = { ok: false, error: toDefaasError(e) };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
  await Promise.all(receipts);
  return results;
}
