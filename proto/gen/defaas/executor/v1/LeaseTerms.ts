// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface LeaseTerms {
  'leaseId'?: (string);
  'chainId'?: (number | string | Long);
  'verifyingContract'?: (string);
  'pricePerCall'?: (string);
  'batchMaxCalls'?: (number);
  'batchMaxMillis'?: (number);
}

export interface LeaseTerms__Output {
  'leaseId': (string);
  'chainId': (string);
  'verifyingContract': (string);
  'pricePerCall': (string);
  'batchMaxCalls': (number);
  'batchMaxMillis': (number);
}
