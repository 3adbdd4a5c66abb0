// Original file: proto/defaas/executor/v1/executor.proto

import type { TeeType as _defaas_executor_v1_TeeType, TeeType__Output as _defaas_executor_v1_TeeType__Output } from '../../../defaas/executor/v1/TeeType.js';
import type { EnclaveKeys as _defaas_executor_v1_EnclaveKeys, EnclaveKeys__Output as _defaas_executor_v1_EnclaveKeys__Output } from '../../../defaas/executor/v1/EnclaveKeys.js';
import type { LeaseTerms as _defaas_executor_v1_LeaseTerms, LeaseTerms__Output as _defaas_executor_v1_LeaseTerms__Output } from '../../../defaas/executor/v1/LeaseTerms.js';
import type { Long } from '@grpc/proto-loader';

export interface ServerHello {
  'version'?: (number);
  'sessionId'?: (Buffer | Uint8Array | string);
  'serverEphemeral'?: (Buffer | Uint8Array | string);
  'tee'?: (_defaas_executor_v1_TeeType);
  'evidenceBundle'?: (Buffer | Uint8Array | string);
  'keys'?: (_defaas_executor_v1_EnclaveKeys | null);
  'terms'?: (_defaas_executor_v1_LeaseTerms | null);
  'expiresInMs'?: (number | string | Long);
  'transcriptSignature'?: (Buffer | Uint8Array | string);
}

export interface ServerHello__Output {
  'version': (number);
  'sessionId': (Buffer);
  'serverEphemeral': (Buffer);
  'tee': (_defaas_executor_v1_TeeType__Output);
  'evidenceBundle': (Buffer);
  'keys': (_defaas_executor_v1_EnclaveKeys__Output | null);
  'terms': (_defaas_executor_v1_LeaseTerms__Output | null);
  'expiresInMs': (string);
  'transcriptSignature': (Buffer);
}
