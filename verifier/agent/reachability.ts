import { connect } from 'node:net';
import { type Evaluation, type EvaluationInput, type Evaluator, keepEvidence } from './evaluator.js';

/*
 * The weakest useful check: does the executor's registered endpoint accept a TCP connection? A few
 * attempts spaced out; none accepted is Unavailable (violation time: the first failed attempt). An
 * accepted connection says nothing about what answers it (attest.ts does that); this check only
 * catches an executor that is gone. Its evidence record (JSON) is kept in `evidenceDir` when given.
 */

export interface ReachabilityOptions {
  readonly attempts?: number;
  readonly timeoutMs?: number;
  readonly spacingMs?: number;
  /** Where evidence records are written (`reachability-<roundId>.json`); none kept when absent. */
  readonly evidenceDir?: string;
}

export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const e = endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(e);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`executor endpoint ${JSON.stringify(endpoint)} is not host:port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function tryConnect(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (err: string | null) => {
      clearTimeout(t);
      signal.removeEventListener('abort', onAbort);
      s.destroy();
      resolve(err);
    };
    const onAbort = () => done('aborted');
    const t = setTimeout(() => done(`no connection within ${timeoutMs} ms`), timeoutMs);
    signal.addEventListener('abort', onAbort);
    s.once('connect', () => done(null));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

export function reachabilityEvaluator(o: ReachabilityOptions = {}): Evaluator {
  return {
    name: 'reachability',
    async evaluate(input: EvaluationInput): Promise<Evaluation> {
      const { host, port } = parseEndpoint(input.executor.endpoint);
      const tries: { at: string; ms: number; error: string | null }[] = [];
      const attempts = o.attempts ?? 3;
      for (let i = 0; i < attempts && !input.signal.aborted; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, o.spacingMs ?? 500));
        const t0 = Date.now();
        const error = await tryConnect(host, port, o.timeoutMs ?? 5_000, input.signal);
        tries.push({ at: new Date(t0).toISOString(), ms: Date.now() - t0, error });
        if (error === null) break;
      }
      const reachable = tries.some((t) => t.error === null);
      const record = {
        kind: 'defaas/witness/reachability/v1',
        roundId: input.roundId,
        leaseId: input.leaseId,
        epoch: input.epoch,
        witness: input.witness,
        endpoint: input.executor.endpoint,
        attempts: tries,
        verdict: reachable ? 'Ok' : 'Unavailable',
      };
      const kept = await keepEvidence({ record }, o.evidenceDir, `reachability-${input.roundId}.json`);
      return {
        verdict: reachable ? 'Ok' : 'Unavailable',
        ...kept,
        ...(!reachable && { violationTime: input.now }),
        detail: reachable
          ? `${input.executor.endpoint} accepted a connection`
          : `${input.executor.endpoint} refused ${tries.length} connection attempts (${tries.at(-1)?.error})`,
      };
    },
  };
}
