// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface FunctionOutput {
  'stdout'?: (Buffer | Uint8Array | string);
  'stderr'?: (Buffer | Uint8Array | string);
  'stderrTruncatedBytes'?: (number | string | Long);
}

export interface FunctionOutput__Output {
  'stdout': (Buffer);
  'stderr': (Buffer);
  'stderrTruncatedBytes': (string);
}
