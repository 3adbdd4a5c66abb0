// Original file: proto/defaas/executor/v1/executor.proto

import type { ErrorDetail as _defaas_executor_v1_ErrorDetail, ErrorDetail__Output as _defaas_executor_v1_ErrorDetail__Output } from '../../../defaas/executor/v1/ErrorDetail.js';
import type { Long } from '@grpc/proto-loader';

export interface SealedFrame {
  'sessionId'?: (Buffer | Uint8Array | string);
  'seq'?: (number | string | Long);
  'ciphertext'?: (Buffer | Uint8Array | string);
  'error'?: (_defaas_executor_v1_ErrorDetail | null);
}

export interface SealedFrame__Output {
  'sessionId': (Buffer);
  'seq': (string);
  'ciphertext': (Buffer);
  'error': (_defaas_executor_v1_ErrorDetail__Output | null);
}
