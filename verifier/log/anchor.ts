import type { AttestationLogContract } from '../../contracts/bindings/attestation-log.js';
import { isAgentError } from '../agent/errors.js';
import { decodeRevert, type TxSender } from '../agent/tx-sender.js';
import type { PublishedCheckpoint } from './store.js';

/*
 * Anchors the log's checkpoints on the AttestationLog contract (contracts/src/AttestationLog.sol) on a
 * cadence: every `intervalMs`, when the published tree has grown since the operator's last anchor,
 * the operator sends anchor(size, root, signed checkpoint note). The contract keeps one chain of
 * anchors per operator in which sizes never shrink and one size has one root, so a log that showed
 * two trees cannot anchor both. A revert AttestationLogRootMismatch means this operator already
 * anchored another root for this size: a fork, which is reported and stops anchoring (sending again
 * cannot succeed and must not be retried around). Other failures are reported and retried at the
 * next tick.
 */

export interface AnchoringOptions {
  readonly contract: AttestationLogContract;
  /** The operator's address (the sender's wallet). */
  readonly operator: string;
  readonly sender: TxSender;
  /** The log's published checkpoint now. */
  readonly checkpoint: () => PublishedCheckpoint;
  readonly intervalMs: number;
  readonly log?: (event: Record<string, unknown>) => void;
}

export type AnchorResult =
  | { readonly status: 'anchored'; readonly size: number; readonly index: bigint; readonly tx: string }
  | { readonly status: 'up-to-date'; readonly size: number }
  | { readonly status: 'fork'; readonly size: number; readonly anchoredRoot: string }
  | { readonly status: 'failed'; readonly size: number; readonly error: string };

export interface Anchoring {
  /** Anchors the published checkpoint now if the chain is behind it. */
  anchorNow(): Promise<AnchorResult>;
  /** The operator's latest anchored size as last seen (undefined before the first look). */
  readonly anchoredSize: number | undefined;
  readonly forked: boolean;
  stop(): Promise<void>;
}

const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

export function startAnchoring(o: AnchoringOptions): Anchoring {
  const log = o.log ?? (() => {});
  let anchored: number | undefined;
  let forked = false;
  let stopped = false;
  let running: Promise<AnchorResult> | undefined;

  /** The operator's latest anchor on chain (size 0 when it has none). */
  async function latest(): Promise<{ size: number; root: string }> {
    try {
      const c = await o.contract.latestOf(o.operator);
      return { size: Number(c.treeSize), root: c.root };
    } catch (e) {
      if (decodeRevert(e)?.name === 'AttestationLogEmpty') return { size: 0, root: '' };
      throw e;
    }
  }

  const fork = (size: number, anchoredRoot: string, root: string): AnchorResult => {
    forked = true;
    log({ event: 'fork', size, anchoredRoot, root });
    return { status: 'fork', size, anchoredRoot };
  };

  async function once(): Promise<AnchorResult> {
    const cp = o.checkpoint();
    const root = hex(cp.root);
    if (forked) return { status: 'failed', size: cp.size, error: 'anchoring stopped after a fork' };
    try {
      if (anchored === undefined || cp.size > anchored) {
        const on = await latest();
        anchored = on.size;
        // The chain holds a larger tree than this log, or another root for this size: two views.
        if (on.size > cp.size) return fork(on.size, on.root, root);
        if (on.size === cp.size && on.size > 0 && on.root !== root) return fork(on.size, on.root, root);
      }
      if (cp.size === 0 || cp.size <= anchored) return { status: 'up-to-date', size: anchored };
      const sent = await o.sender.send(
        `anchor ${cp.size}`,
        () => o.contract.anchor(cp.size, root, new TextEncoder().encode(cp.text)),
        async () => (await latest()).size >= cp.size,
      );
      anchored = cp.size;
      const index = await o.contract.latestIndexOf(o.operator);
      const tx = sent === 'already-done' ? 'already-done' : sent.hash;
      log({ event: 'anchored', size: cp.size, index: index.toString(), tx });
      return { status: 'anchored', size: cp.size, index, tx };
    } catch (e) {
      if (isAgentError(e, 'TX_REVERTED') && e.info?.error === 'AttestationLogRootMismatch')
        return fork(cp.size, String((e.info?.args as string[] | undefined)?.[1] ?? ''), root);
      const error = e instanceof Error ? e.message : String(e);
      log({ event: 'anchor-failed', size: cp.size, error });
      return { status: 'failed', size: cp.size, error };
    }
  }

  const anchorNow = () => {
    running ??= once().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped) void anchorNow();
  }, o.intervalMs);
  timer.unref();

  return {
    anchorNow,
    get anchoredSize() {
      return anchored;
    },
    get forked() {
      return forked;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
