// Original file: proto/defaas/executor/v1/executor.proto


export interface UndeployResponse {
  'removed'?: (boolean);
}

export interface UndeployResponse__Output {
  'removed': (boolean);
}
