// Original file: proto/defaas/executor/v1/executor.proto


export interface ChallengeRowProof {
  'index'?: (number);
  'row'?: (Buffer | Uint8Array | string);
  'path'?: (Buffer | Uint8Array | string)[];
}

export interface ChallengeRowProof__Output {
  'index': (number);
  'row': (Buffer);
  'path': (Buffer)[];
}
