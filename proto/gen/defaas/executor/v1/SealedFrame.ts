// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface SealedFrame {
  'sessionId'?: (Buffer | Uint8Array | string);
  'seq'?: (number | string | Long);
  'ciphertext'?: (Buffer | Uint8Array | string);
}

export interface SealedFrame__Output {
  'sessionId': (Buffer);
  'seq': (string);
  'ciphertext': (Buffer);
}
