// Original file: proto/defaas/executor/v1/executor.proto

import type { CallState as _defaas_executor_v1_CallState, CallState__Output as _defaas_executor_v1_CallState__Output } from '../../../defaas/executor/v1/CallState.js';
import type { CallRecordMsg as _defaas_executor_v1_CallRecordMsg, CallRecordMsg__Output as _defaas_executor_v1_CallRecordMsg__Output } from '../../../defaas/executor/v1/CallRecordMsg.js';
import type { SignedReceipt as _defaas_executor_v1_SignedReceipt, SignedReceipt__Output as _defaas_executor_v1_SignedReceipt__Output } from '../../../defaas/executor/v1/SignedReceipt.js';
import type { Long } from '@grpc/proto-loader';

export interface CallStatus {
  'nonce'?: (number | string | Long);
  'state'?: (_defaas_executor_v1_CallState);
  'record'?: (_defaas_executor_v1_CallRecordMsg | null);
  'receipt'?: (_defaas_executor_v1_SignedReceipt | null);
}

export interface CallStatus__Output {
  'nonce': (string);
  'state': (_defaas_executor_v1_CallState__Output);
  'record': (_defaas_executor_v1_CallRecordMsg__Output | null);
  'receipt': (_defaas_executor_v1_SignedReceipt__Output | null);
}
