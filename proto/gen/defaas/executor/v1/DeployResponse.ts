// Original file: proto/defaas/executor/v1/executor.proto


export interface DeployResponse {
  'functionId'?: (Buffer | Uint8Array | string);
}

export interface DeployResponse__Output {
  'functionId': (Buffer);
}
