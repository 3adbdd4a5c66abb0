// Original file: proto/defaas/executor/v1/executor.proto

import type { SignedVoucher as _defaas_executor_v1_SignedVoucher, SignedVoucher__Output as _defaas_executor_v1_SignedVoucher__Output } from '../../../defaas/executor/v1/SignedVoucher.js';
import type { Long } from '@grpc/proto-loader';

export interface InvokeRequest {
  'leaseId'?: (string);
  'client'?: (string);
  'nonce'?: (number | string | Long);
  'functionId'?: (Buffer | Uint8Array | string);
  'input'?: (Buffer | Uint8Array | string);
  'voucher'?: (_defaas_executor_v1_SignedVoucher | null);
}

export interface InvokeRequest__Output {
  'leaseId': (string);
  'client': (string);
  'nonce': (string);
  'functionId': (Buffer);
  'input': (Buffer);
  'voucher': (_defaas_executor_v1_SignedVoucher__Output | null);
}
