// Original file: proto/defaas/executor/v1/executor.proto

export const CallState = {
  CALL_STATE_UNSPECIFIED: 'CALL_STATE_UNSPECIFIED',
  CALL_STATE_UNKNOWN: 'CALL_STATE_UNKNOWN',
  CALL_STATE_NOT_RUN: 'CALL_STATE_NOT_RUN',
  CALL_STATE_RUNNING: 'CALL_STATE_RUNNING',
  CALL_STATE_RAN: 'CALL_STATE_RAN',
} as const;

export type CallState =
  | 'CALL_STATE_UNSPECIFIED'
  | 0
  | 'CALL_STATE_UNKNOWN'
  | 1
  | 'CALL_STATE_NOT_RUN'
  | 2
  | 'CALL_STATE_RUNNING'
  | 3
  | 'CALL_STATE_RAN'
  | 4

export type CallState__Output = typeof CallState[keyof typeof CallState]
