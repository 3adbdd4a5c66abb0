// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface ProbeGrant {
  'leaseId'?: (string);
  'witness'?: (string);
  'epoch'?: (number);
  'maxCalls'?: (number);
  'maxAmount'?: (string);
  'expiry'?: (number | string | Long);
  'signature'?: (Buffer | Uint8Array | string);
}

export interface ProbeGrant__Output {
  'leaseId': (string);
  'witness': (string);
  'epoch': (number);
  'maxCalls': (number);
  'maxAmount': (string);
  'expiry': (string);
  'signature': (Buffer);
}
