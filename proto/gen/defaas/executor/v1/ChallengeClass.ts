// Original file: proto/defaas/executor/v1/executor.proto

export const ChallengeClass = {
  CHALLENGE_CLASS_UNSPECIFIED: 'CHALLENGE_CLASS_UNSPECIFIED',
  CHALLENGE_CLASS_CPU: 'CHALLENGE_CLASS_CPU',
} as const;

export type ChallengeClass =
  | 'CHALLENGE_CLASS_UNSPECIFIED'
  | 0
  | 'CHALLENGE_CLASS_CPU'
  | 1

export type ChallengeClass__Output = typeof ChallengeClass[keyof typeof ChallengeClass]
