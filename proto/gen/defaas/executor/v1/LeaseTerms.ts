// Original file: proto/defaas/executor/v1/executor.proto

import type { Limits as _defaas_executor_v1_Limits, Limits__Output as _defaas_executor_v1_Limits__Output } from '../../../defaas/executor/v1/Limits.js';
import type { Long } from '@grpc/proto-loader';

export interface LeaseTerms {
  'leaseId'?: (string);
  'chainId'?: (number | string | Long);
  'verifyingContract'?: (string);
  'pricePerCall'?: (string);
  'batchMaxCalls'?: (number);
  'batchMaxMillis'?: (number);
  'limits'?: (_defaas_executor_v1_Limits | null);
}

export interface LeaseTerms__Output {
  'leaseId': (string);
  'chainId': (string);
  'verifyingContract': (string);
  'pricePerCall': (string);
  'batchMaxCalls': (number);
  'batchMaxMillis': (number);
  'limits': (_defaas_executor_v1_Limits__Output | null);
}
