// Original file: proto/defaas/executor/v1/executor.proto

import type { CallRecordMsg as _defaas_executor_v1_CallRecordMsg, CallRecordMsg__Output as _defaas_executor_v1_CallRecordMsg__Output } from '../../../defaas/executor/v1/CallRecordMsg.js';
import type { SignedReceipt as _defaas_executor_v1_SignedReceipt, SignedReceipt__Output as _defaas_executor_v1_SignedReceipt__Output } from '../../../defaas/executor/v1/SignedReceipt.js';
import type { ErrorDetail as _defaas_executor_v1_ErrorDetail, ErrorDetail__Output as _defaas_executor_v1_ErrorDetail__Output } from '../../../defaas/executor/v1/ErrorDetail.js';
import type { Long } from '@grpc/proto-loader';

export interface InvokeResponse {
  'output'?: (Buffer | Uint8Array | string);
  'record'?: (_defaas_executor_v1_CallRecordMsg | null);
  'receipt'?: (_defaas_executor_v1_SignedReceipt | null);
  'stderr'?: (Buffer | Uint8Array | string);
  'stderrTruncatedBytes'?: (number | string | Long);
  'error'?: (_defaas_executor_v1_ErrorDetail | null);
}

export interface InvokeResponse__Output {
  'output': (Buffer);
  'record': (_defaas_executor_v1_CallRecordMsg__Output | null);
  'receipt': (_defaas_executor_v1_SignedReceipt__Output | null);
  'stderr': (Buffer);
  'stderrTruncatedBytes': (string);
  'error': (_defaas_executor_v1_ErrorDetail__Output | null);
}
