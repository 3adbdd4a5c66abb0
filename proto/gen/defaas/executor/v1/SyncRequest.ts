// Original file: proto/defaas/executor/v1/executor.proto


export interface SyncRequest {
  'leaseId'?: (string);
  'client'?: (string);
}

export interface SyncRequest__Output {
  'leaseId': (string);
  'client': (string);
}
