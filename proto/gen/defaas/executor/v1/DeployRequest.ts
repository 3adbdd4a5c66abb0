// Original file: proto/defaas/executor/v1/executor.proto


export interface DeployRequest {
  'wasm'?: (Buffer | Uint8Array | string);
}

export interface DeployRequest__Output {
  'wasm': (Buffer);
}
