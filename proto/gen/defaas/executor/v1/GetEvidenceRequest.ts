// Original file: proto/defaas/executor/v1/executor.proto


export interface GetEvidenceRequest {
}

export interface GetEvidenceRequest__Output {
}
