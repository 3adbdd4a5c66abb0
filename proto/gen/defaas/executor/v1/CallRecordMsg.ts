// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface CallRecordMsg {
  'nonce'?: (number | string | Long);
  'functionHash'?: (Buffer | Uint8Array | string);
  'inputHash'?: (Buffer | Uint8Array | string);
  'outputHash'?: (Buffer | Uint8Array | string);
  'usage'?: (number | string | Long);
  'price'?: (string);
}

export interface CallRecordMsg__Output {
  'nonce': (string);
  'functionHash': (Buffer);
  'inputHash': (Buffer);
  'outputHash': (Buffer);
  'usage': (string);
  'price': (string);
}
