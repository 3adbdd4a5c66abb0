// Original file: proto/defaas/executor/v1/executor.proto

import type { DeployResponse as _defaas_executor_v1_DeployResponse, DeployResponse__Output as _defaas_executor_v1_DeployResponse__Output } from '../../../defaas/executor/v1/DeployResponse.js';
import type { InvokeResponse as _defaas_executor_v1_InvokeResponse, InvokeResponse__Output as _defaas_executor_v1_InvokeResponse__Output } from '../../../defaas/executor/v1/InvokeResponse.js';
import type { SettleResponse as _defaas_executor_v1_SettleResponse, SettleResponse__Output as _defaas_executor_v1_SettleResponse__Output } from '../../../defaas/executor/v1/SettleResponse.js';
import type { SyncResponse as _defaas_executor_v1_SyncResponse, SyncResponse__Output as _defaas_executor_v1_SyncResponse__Output } from '../../../defaas/executor/v1/SyncResponse.js';
import type { ErrorDetail as _defaas_executor_v1_ErrorDetail, ErrorDetail__Output as _defaas_executor_v1_ErrorDetail__Output } from '../../../defaas/executor/v1/ErrorDetail.js';

export interface SessionResponse {
  'deploy'?: (_defaas_executor_v1_DeployResponse | null);
  'invoke'?: (_defaas_executor_v1_InvokeResponse | null);
  'settle'?: (_defaas_executor_v1_SettleResponse | null);
  'sync'?: (_defaas_executor_v1_SyncResponse | null);
  'error'?: (_defaas_executor_v1_ErrorDetail | null);
  'body'?: "deploy"|"invoke"|"settle"|"sync"|"error";
}

export interface SessionResponse__Output {
  'deploy'?: (_defaas_executor_v1_DeployResponse__Output | null);
  'invoke'?: (_defaas_executor_v1_InvokeResponse__Output | null);
  'settle'?: (_defaas_executor_v1_SettleResponse__Output | null);
  'sync'?: (_defaas_executor_v1_SyncResponse__Output | null);
  'error'?: (_defaas_executor_v1_ErrorDetail__Output | null);
  'body'?: "deploy"|"invoke"|"settle"|"sync"|"error";
}
