// Original file: proto/defaas/executor/v1/executor.proto

import type { SignedReceipt as _defaas_executor_v1_SignedReceipt, SignedReceipt__Output as _defaas_executor_v1_SignedReceipt__Output } from '../../../defaas/executor/v1/SignedReceipt.js';

export interface SettleResponse {
  'receipt'?: (_defaas_executor_v1_SignedReceipt | null);
}

export interface SettleResponse__Output {
  'receipt': (_defaas_executor_v1_SignedReceipt__Output | null);
}
