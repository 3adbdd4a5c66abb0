// Original file: proto/defaas/executor/v1/executor.proto

export const SessionMode = {
  SESSION_MODE_UNSPECIFIED: 'SESSION_MODE_UNSPECIFIED',
  SESSION_MODE_NORMAL: 'SESSION_MODE_NORMAL',
  SESSION_MODE_FRESH: 'SESSION_MODE_FRESH',
} as const;

export type SessionMode =
  | 'SESSION_MODE_UNSPECIFIED'
  | 0
  | 'SESSION_MODE_NORMAL'
  | 1
  | 'SESSION_MODE_FRESH'
  | 2

export type SessionMode__Output = typeof SessionMode[keyof typeof SessionMode]
