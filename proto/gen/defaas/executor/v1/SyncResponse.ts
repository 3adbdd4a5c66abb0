// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface SyncResponse {
  'nextNonce'?: (number | string | Long);
  'vouchedThrough'?: (number | string | Long);
  'cumulativeAmount'?: (string);
}

export interface SyncResponse__Output {
  'nextNonce': (string);
  'vouchedThrough': (string);
  'cumulativeAmount': (string);
}
