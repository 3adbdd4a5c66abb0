// Original file: proto/defaas/executor/v1/executor.proto

import type { SignedVoucher as _defaas_executor_v1_SignedVoucher, SignedVoucher__Output as _defaas_executor_v1_SignedVoucher__Output } from '../../../defaas/executor/v1/SignedVoucher.js';

export interface SettleRequest {
  'client'?: (string);
  'voucher'?: (_defaas_executor_v1_SignedVoucher | null);
}

export interface SettleRequest__Output {
  'client': (string);
  'voucher': (_defaas_executor_v1_SignedVoucher__Output | null);
}
