// Original file: proto/defaas/executor/v1/executor.proto


export interface ChallengeOpenRequest {
  'id'?: (Buffer | Uint8Array | string);
  'firstRow'?: (number);
  'rowCount'?: (number);
  'rows'?: (number)[];
}

export interface ChallengeOpenRequest__Output {
  'id': (Buffer);
  'firstRow': (number);
  'rowCount': (number);
  'rows': (number)[];
}
