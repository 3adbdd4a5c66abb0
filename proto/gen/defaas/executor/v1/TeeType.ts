// Original file: proto/defaas/executor/v1/executor.proto

export const TeeType = {
  TEE_TYPE_UNSPECIFIED: 'TEE_TYPE_UNSPECIFIED',
  TEE_TYPE_SIMULATED: 'TEE_TYPE_SIMULATED',
  TEE_TYPE_TDX: 'TEE_TYPE_TDX',
  TEE_TYPE_SEV_SNP: 'TEE_TYPE_SEV_SNP',
} as const;

export type TeeType =
  | 'TEE_TYPE_UNSPECIFIED'
  | 0
  | 'TEE_TYPE_SIMULATED'
  | 1
  | 'TEE_TYPE_TDX'
  | 2
  | 'TEE_TYPE_SEV_SNP'
  | 3

export type TeeType__Output = typeof TeeType[keyof typeof TeeType]
