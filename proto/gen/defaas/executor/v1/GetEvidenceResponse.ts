// Original file: proto/defaas/executor/v1/executor.proto

import type { TeeType as _defaas_executor_v1_TeeType, TeeType__Output as _defaas_executor_v1_TeeType__Output } from '../../../defaas/executor/v1/TeeType.js';
import type { EnclaveKeys as _defaas_executor_v1_EnclaveKeys, EnclaveKeys__Output as _defaas_executor_v1_EnclaveKeys__Output } from '../../../defaas/executor/v1/EnclaveKeys.js';

export interface GetEvidenceResponse {
  'tee'?: (_defaas_executor_v1_TeeType);
  'evidenceBundle'?: (Buffer | Uint8Array | string);
  'keys'?: (_defaas_executor_v1_EnclaveKeys | null);
}

export interface GetEvidenceResponse__Output {
  'tee': (_defaas_executor_v1_TeeType__Output);
  'evidenceBundle': (Buffer);
  'keys': (_defaas_executor_v1_EnclaveKeys__Output | null);
}
