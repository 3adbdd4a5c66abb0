// Original file: proto/defaas/executor/v1/executor.proto


export interface EnclaveKeys {
  'identityAddress'?: (string);
  'staticX25519'?: (Buffer | Uint8Array | string);
}

export interface EnclaveKeys__Output {
  'identityAddress': (string);
  'staticX25519': (Buffer);
}
