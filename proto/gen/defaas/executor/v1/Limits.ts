// Original file: proto/defaas/executor/v1/executor.proto

import type { Long } from '@grpc/proto-loader';

export interface Limits {
  'memoryBytes'?: (number | string | Long);
  'wallTimeMs'?: (number);
  'maxInputBytes'?: (number | string | Long);
  'maxOutputBytes'?: (number | string | Long);
  'maxStderrBytes'?: (number | string | Long);
  'maxMessageBytes'?: (number | string | Long);
}

export interface Limits__Output {
  'memoryBytes': (string);
  'wallTimeMs': (number);
  'maxInputBytes': (string);
  'maxOutputBytes': (string);
  'maxStderrBytes': (string);
  'maxMessageBytes': (string);
}
