import { type Evaluation, type EvaluationInput, type Evaluator, keepEvidence } from './evaluator.js';
import type { Verdict } from './state-store.js';

/*
 * Attests the executor serving a lease: opens an attested session to its registered endpoint,
 * pinned to the enclave the lease was opened with and the evidence hash in the Registry, for this
 * lease. The session itself comes from the caller (`AttestOpener`; the CLI wires the SDK's
 * `connect`), since verifier/ does not import the SDK. How a failure reads is the caller's too
 * (`classify`): the executor not answering is Unavailable, evidence the policy refuses for its TCB
 * or collateral is Stale, another enclave or forged evidence is Fraud.
 */

export interface AttestTarget {
  readonly endpoint: string;
  readonly leaseId: bigint;
  readonly enclave: string;
  readonly evidenceHash: string;
  readonly signal: AbortSignal;
}

/** Opens (and closes) one attested session; throws the SDK's typed error on refusal. */
export type AttestOpener = (t: AttestTarget) => Promise<{ identity: string }>;

export type AttestFailure = { verdict: Exclude<Verdict, 'Ok'>; code: string; message: string };

export interface AttestOptions {
  readonly open: AttestOpener;
  readonly classify: (e: unknown) => AttestFailure;
  readonly evidenceDir?: string;
}

export function attestEvaluator(o: AttestOptions): Evaluator {
  return {
    name: 'attest',
    async evaluate(input: EvaluationInput): Promise<Evaluation> {
      const t0 = Date.now();
      let result: { verdict: Verdict; identity?: string; code?: string; message?: string };
      try {
        const { identity } = await o.open({
          endpoint: input.executor.endpoint,
          leaseId: input.leaseId,
          enclave: input.executor.enclave,
          evidenceHash: input.executor.evidenceHash,
          signal: input.signal,
        });
        result = { verdict: 'Ok', identity };
      } catch (e) {
        result = o.classify(e);
      }
      const record = {
        kind: 'defaas/witness/attest/v1',
        roundId: input.roundId,
        leaseId: input.leaseId,
        epoch: input.epoch,
        witness: input.witness,
        endpoint: input.executor.endpoint,
        pinned: { enclave: input.executor.enclave, evidenceHash: input.executor.evidenceHash },
        at: new Date(t0).toISOString(),
        ms: Date.now() - t0,
        ...result,
      };
      const kept = await keepEvidence({ record }, o.evidenceDir, `attest-${input.roundId}.json`);
      const violation = result.verdict === 'Fraud' || result.verdict === 'Unavailable';
      return {
        verdict: result.verdict,
        ...kept,
        ...(violation && { violationTime: input.now }),
        detail:
          result.verdict === 'Ok'
            ? `attested enclave ${result.identity}`
            : `${result.code ?? 'refused'}: ${result.message ?? ''}`,
      };
    },
  };
}
