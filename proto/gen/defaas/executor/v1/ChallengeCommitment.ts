// Original file: proto/defaas/executor/v1/executor.proto

import type { ChallengeClass as _defaas_executor_v1_ChallengeClass, ChallengeClass__Output as _defaas_executor_v1_ChallengeClass__Output } from '../../../defaas/executor/v1/ChallengeClass.js';
import type { Long } from '@grpc/proto-loader';

export interface ChallengeCommitment {
  'leaseId'?: (string);
  'witness'?: (string);
  'id'?: (Buffer | Uint8Array | string);
  'seed'?: (Buffer | Uint8Array | string);
  'n'?: (number);
  'class'?: (_defaas_executor_v1_ChallengeClass);
  'resultHash'?: (Buffer | Uint8Array | string);
  'rowsRoot'?: (Buffer | Uint8Array | string);
  'computedMs'?: (number | string | Long);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface ChallengeCommitment__Output {
  'leaseId': (string);
  'witness': (string);
  'id': (Buffer);
  'seed': (Buffer);
  'n': (number);
  'class': (_defaas_executor_v1_ChallengeClass__Output);
  'resultHash': (Buffer);
  'rowsRoot': (Buffer);
  'computedMs': (string);
  'signature': (Buffer);
}
