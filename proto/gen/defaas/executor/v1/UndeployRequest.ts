// Original file: proto/defaas/executor/v1/executor.proto


export interface UndeployRequest {
  'functionId'?: (Buffer | Uint8Array | string);
}

export interface UndeployRequest__Output {
  'functionId': (Buffer);
}
