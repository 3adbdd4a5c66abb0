// Original file: proto/defaas/executor/v1/executor.proto

import type { SessionMode as _defaas_executor_v1_SessionMode, SessionMode__Output as _defaas_executor_v1_SessionMode__Output } from '../../../defaas/executor/v1/SessionMode.js';

export interface ClientHello {
  'version'?: (number);
  'clientEphemeral'?: (Buffer | Uint8Array | string);
  'clientNonce'?: (Buffer | Uint8Array | string);
  'mode'?: (_defaas_executor_v1_SessionMode);
  'leaseId'?: (string);
}

export interface ClientHello__Output {
  'version': (number);
  'clientEphemeral': (Buffer);
  'clientNonce': (Buffer);
  'mode': (_defaas_executor_v1_SessionMode__Output);
  'leaseId': (string);
}
