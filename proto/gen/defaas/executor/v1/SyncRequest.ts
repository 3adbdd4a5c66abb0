// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface SyncRequest {
  'leaseId'?: (string);
  'client'?: (string);
  'clientProof'?: (Buffer | Uint8Array | string);
  'nonces'?: (number | string | Long)[];
}

export interface SyncRequest__Output {
  'leaseId': (string);
  'client': (string);
  'clientProof': (Buffer);
  'nonces': (string)[];
}
