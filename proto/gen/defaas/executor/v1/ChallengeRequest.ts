// Original file: proto/defaas/executor/v1/executor.proto

import type { ChallengeClass as _defaas_executor_v1_ChallengeClass, ChallengeClass__Output as _defaas_executor_v1_ChallengeClass__Output } from '../../../defaas/executor/v1/ChallengeClass.js';

export interface ChallengeRequest {
  'leaseId'?: (string);
  'witness'?: (string);
  'witnessProof'?: (Buffer | Uint8Array | string);
  'id'?: (Buffer | Uint8Array | string);
  'seed'?: (Buffer | Uint8Array | string);
  'n'?: (number);
  'class'?: (_defaas_executor_v1_ChallengeClass);
}

export interface ChallengeRequest__Output {
  'leaseId': (string);
  'witness': (string);
  'witnessProof': (Buffer);
  'id': (Buffer);
  'seed': (Buffer);
  'n': (number);
  'class': (_defaas_executor_v1_ChallengeClass__Output);
}
