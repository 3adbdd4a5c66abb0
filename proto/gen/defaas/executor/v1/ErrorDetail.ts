// Original file: proto/defaas/executor/v1/executor.proto


export interface ErrorDetail {
  'code'?: (string);
  'message'?: (string);
  'infoJson'?: (string);
}

export interface ErrorDetail__Output {
  'code': (string);
  'message': (string);
  'infoJson': (string);
}
