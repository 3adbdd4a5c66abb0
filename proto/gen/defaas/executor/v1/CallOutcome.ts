// Original file: proto/defaas/executor/v1/executor.proto

export const CallOutcome = {
  CALL_OUTCOME_UNSPECIFIED: 'CALL_OUTCOME_UNSPECIFIED',
  CALL_OUTCOME_NOT_ADMITTED: 'CALL_OUTCOME_NOT_ADMITTED',
  CALL_OUTCOME_NOT_RUN: 'CALL_OUTCOME_NOT_RUN',
} as const;

export type CallOutcome =
  | 'CALL_OUTCOME_UNSPECIFIED'
  | 0
  | 'CALL_OUTCOME_NOT_ADMITTED'
  | 1
  | 'CALL_OUTCOME_NOT_RUN'
  | 2

export type CallOutcome__Output = typeof CallOutcome[keyof typeof CallOutcome]
