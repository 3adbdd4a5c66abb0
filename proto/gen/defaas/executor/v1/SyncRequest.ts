// Original file: proto/defaas/executor/v1/executor.proto

import type { ProbeGrant as _defaas_executor_v1_ProbeGrant, ProbeGrant__Output as _defaas_executor_v1_ProbeGrant__Output } from '../../../defaas/executor/v1/ProbeGrant.js';
import type { Long } from '@grpc/proto-loader';

export interface SyncRequest {
  'leaseId'?: (string);
  'client'?: (string);
  'clientProof'?: (Buffer | Uint8Array | string);
  'nonces'?: (number | string | Long)[];
  'probeGrant'?: (_defaas_executor_v1_ProbeGrant | null);
}

export interface SyncRequest__Output {
  'leaseId': (string);
  'client': (string);
  'clientProof': (Buffer);
  'nonces': (string)[];
  'probeGrant': (_defaas_executor_v1_ProbeGrant__Output | null);
}
