// Original file: proto/defaas/executor/v1/executor.proto


export interface SyncRequest {
  'leaseId'?: (string);
  'client'?: (string);
  'clientProof'?: (Buffer | Uint8Array | string);
}

export interface SyncRequest__Output {
  'leaseId': (string);
  'client': (string);
  'clientProof': (Buffer);
}
