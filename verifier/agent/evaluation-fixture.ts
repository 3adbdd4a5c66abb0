import type { EvaluationInput, ExecutorOnChain, SlaTerms } from './evaluator.js';

/**
 * An evaluator's input for tests: lease 1, epoch 0 over chain seconds [0, 500), commit and reveal
 * deadlines 600 and 700, evaluated at 510, an executor at 127.0.0.1:1 (nothing listens); any field,
 * or any of the SLA terms and executor fields, overridden.
 */
export function evaluationInput(
  o: Partial<Omit<EvaluationInput, 'sla' | 'executor'>> & {
    sla?: Partial<SlaTerms>;
    executor?: Partial<ExecutorOnChain>;
  } = {},
): EvaluationInput {
  const { sla, executor, ...rest } = o;
  return {
    leaseId: 1n,
    epoch: 0,
    roundId: (1n << 32n) + 1n,
    witness: '0x1111111111111111111111111111111111111111',
    epochStart: 0n,
    epochEnd: 500n,
    commitDeadline: 600n,
    revealDeadline: 700n,
    now: 510n,
    signal: new AbortController().signal,
    ...rest,
    sla: {
      availabilityBps: 9900,
      p95LatencyMs: 500,
      epochLength: 500n,
      capacityGflops: 50,
      committeeSize: 5,
      majority: 3,
      ...sla,
    },
    executor: {
      executorId: 1n,
      endpoint: '127.0.0.1:1',
      enclave: '0x2222222222222222222222222222222222222222',
      evidenceHash: `0x${'00'.repeat(32)}`,
      teeType: 0,
      provider: '0x3333333333333333333333333333333333333333',
      ...executor,
    },
  };
}
