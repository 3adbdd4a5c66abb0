// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface SignedReceipt {
  'leaseId'?: (string);
  'firstNonce'?: (number | string | Long);
  'lastNonce'?: (number | string | Long);
  'recordHead'?: (Buffer | Uint8Array | string);
  'evidenceHash'?: (Buffer | Uint8Array | string);
  'startedAt'?: (number | string | Long);
  'finishedAt'?: (number | string | Long);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface SignedReceipt__Output {
  'leaseId': (string);
  'firstNonce': (string);
  'lastNonce': (string);
  'recordHead': (Buffer);
  'evidenceHash': (Buffer);
  'startedAt': (string);
  'finishedAt': (string);
  'signature': (Buffer);
}
