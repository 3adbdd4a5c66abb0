// Original file: proto/defaas/executor/v1/executor.proto

import type { ChallengeRowProof as _defaas_executor_v1_ChallengeRowProof, ChallengeRowProof__Output as _defaas_executor_v1_ChallengeRowProof__Output } from '../../../defaas/executor/v1/ChallengeRowProof.js';

export interface ChallengeOpenResponse {
  'id'?: (Buffer | Uint8Array | string);
  'firstRow'?: (number);
  'rowsLe'?: (Buffer | Uint8Array | string);
  'proofs'?: (_defaas_executor_v1_ChallengeRowProof)[];
}

export interface ChallengeOpenResponse__Output {
  'id': (Buffer);
  'firstRow': (number);
  'rowsLe': (Buffer);
  'proofs': (_defaas_executor_v1_ChallengeRowProof__Output)[];
}
