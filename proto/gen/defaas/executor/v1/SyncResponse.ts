// Original file: proto/defaas/executor/v1/executor.proto

import type { CallStatus as _defaas_executor_v1_CallStatus, CallStatus__Output as _defaas_executor_v1_CallStatus__Output } from '../../../defaas/executor/v1/CallStatus.js';
import type { CallRecordMsg as _defaas_executor_v1_CallRecordMsg, CallRecordMsg__Output as _defaas_executor_v1_CallRecordMsg__Output } from '../../../defaas/executor/v1/CallRecordMsg.js';
import type { Long } from '@grpc/proto-loader';

export interface SyncResponse {
  'nextNonce'?: (number | string | Long);
  'vouchedThrough'?: (number | string | Long);
  'cumulativeAmount'?: (string);
  'calls'?: (_defaas_executor_v1_CallStatus)[];
  'unsettled'?: (_defaas_executor_v1_CallRecordMsg)[];
}

export interface SyncResponse__Output {
  'nextNonce': (string);
  'vouchedThrough': (string);
  'cumulativeAmount': (string);
  'calls': (_defaas_executor_v1_CallStatus__Output)[];
  'unsettled': (_defaas_executor_v1_CallRecordMsg__Output)[];
}
