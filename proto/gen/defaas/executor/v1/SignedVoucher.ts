// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface SignedVoucher {
  'leaseId'?: (string);
  'firstNonce'?: (number | string | Long);
  'lastNonce'?: (number | string | Long);
  'requestHead'?: (Buffer | Uint8Array | string);
  'cumulativeAmount'?: (string);
  'deadline'?: (number | string | Long);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface SignedVoucher__Output {
  'leaseId': (string);
  'firstNonce': (string);
  'lastNonce': (string);
  'requestHead': (Buffer);
  'cumulativeAmount': (string);
  'deadline': (string);
  'signature': (Buffer);
}
