import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CallRecordMsg as _defaas_executor_v1_CallRecordMsg, CallRecordMsg__Output as _defaas_executor_v1_CallRecordMsg__Output } from './defaas/executor/v1/CallRecordMsg.js';
import type { CallStatus as _defaas_executor_v1_CallStatus, CallStatus__Output as _defaas_executor_v1_CallStatus__Output } from './defaas/executor/v1/CallStatus.js';
import type { ChallengeCommitment as _defaas_executor_v1_ChallengeCommitment, ChallengeCommitment__Output as _defaas_executor_v1_ChallengeCommitment__Output } from './defaas/executor/v1/ChallengeCommitment.js';
import type { ChallengeOpenRequest as _defaas_executor_v1_ChallengeOpenRequest, ChallengeOpenRequest__Output as _defaas_executor_v1_ChallengeOpenRequest__Output } from './defaas/executor/v1/ChallengeOpenRequest.js';
import type { ChallengeOpenResponse as _defaas_executor_v1_ChallengeOpenResponse, ChallengeOpenResponse__Output as _defaas_executor_v1_ChallengeOpenResponse__Output } from './defaas/executor/v1/ChallengeOpenResponse.js';
import type { ChallengeRequest as _defaas_executor_v1_ChallengeRequest, ChallengeRequest__Output as _defaas_executor_v1_ChallengeRequest__Output } from './defaas/executor/v1/ChallengeRequest.js';
import type { ChallengeRowProof as _defaas_executor_v1_ChallengeRowProof, ChallengeRowProof__Output as _defaas_executor_v1_ChallengeRowProof__Output } from './defaas/executor/v1/ChallengeRowProof.js';
import type { ClientHello as _defaas_executor_v1_ClientHello, ClientHello__Output as _defaas_executor_v1_ClientHello__Output } from './defaas/executor/v1/ClientHello.js';
import type { DeployRequest as _defaas_executor_v1_DeployRequest, DeployRequest__Output as _defaas_executor_v1_DeployRequest__Output } from './defaas/executor/v1/DeployRequest.js';
import type { DeployResponse as _defaas_executor_v1_DeployResponse, DeployResponse__Output as _defaas_executor_v1_DeployResponse__Output } from './defaas/executor/v1/DeployResponse.js';
import type { EnclaveKeys as _defaas_executor_v1_EnclaveKeys, EnclaveKeys__Output as _defaas_executor_v1_EnclaveKeys__Output } from './defaas/executor/v1/EnclaveKeys.js';
import type { ErrorDetail as _defaas_executor_v1_ErrorDetail, ErrorDetail__Output as _defaas_executor_v1_ErrorDetail__Output } from './defaas/executor/v1/ErrorDetail.js';
import type { ExecutorClient as _defaas_executor_v1_ExecutorClient, ExecutorDefinition as _defaas_executor_v1_ExecutorDefinition } from './defaas/executor/v1/Executor.js';
import type { FunctionOutput as _defaas_executor_v1_FunctionOutput, FunctionOutput__Output as _defaas_executor_v1_FunctionOutput__Output } from './defaas/executor/v1/FunctionOutput.js';
import type { GetEvidenceRequest as _defaas_executor_v1_GetEvidenceRequest, GetEvidenceRequest__Output as _defaas_executor_v1_GetEvidenceRequest__Output } from './defaas/executor/v1/GetEvidenceRequest.js';
import type { GetEvidenceResponse as _defaas_executor_v1_GetEvidenceResponse, GetEvidenceResponse__Output as _defaas_executor_v1_GetEvidenceResponse__Output } from './defaas/executor/v1/GetEvidenceResponse.js';
import type { InvokeRequest as _defaas_executor_v1_InvokeRequest, InvokeRequest__Output as _defaas_executor_v1_InvokeRequest__Output } from './defaas/executor/v1/InvokeRequest.js';
import type { InvokeResponse as _defaas_executor_v1_InvokeResponse, InvokeResponse__Output as _defaas_executor_v1_InvokeResponse__Output } from './defaas/executor/v1/InvokeResponse.js';
import type { LeaseTerms as _defaas_executor_v1_LeaseTerms, LeaseTerms__Output as _defaas_executor_v1_LeaseTerms__Output } from './defaas/executor/v1/LeaseTerms.js';
import type { Limits as _defaas_executor_v1_Limits, Limits__Output as _defaas_executor_v1_Limits__Output } from './defaas/executor/v1/Limits.js';
import type { ProbeGrant as _defaas_executor_v1_ProbeGrant, ProbeGrant__Output as _defaas_executor_v1_ProbeGrant__Output } from './defaas/executor/v1/ProbeGrant.js';
import type { SealedFrame as _defaas_executor_v1_SealedFrame, SealedFrame__Output as _defaas_executor_v1_SealedFrame__Output } from './defaas/executor/v1/SealedFrame.js';
import type { ServerHello as _defaas_executor_v1_ServerHello, ServerHello__Output as _defaas_executor_v1_ServerHello__Output } from './defaas/executor/v1/ServerHello.js';
import type { SessionCodecClient as _defaas_executor_v1_SessionCodecClient, SessionCodecDefinition as _defaas_executor_v1_SessionCodecDefinition } from './defaas/executor/v1/SessionCodec.js';
import type { SessionRequest as _defaas_executor_v1_SessionRequest, SessionRequest__Output as _defaas_executor_v1_SessionRequest__Output } from './defaas/executor/v1/SessionRequest.js';
import type { SessionResponse as _defaas_executor_v1_SessionResponse, SessionResponse__Output as _defaas_executor_v1_SessionResponse__Output } from './defaas/executor/v1/SessionResponse.js';
import type { SettleRequest as _defaas_executor_v1_SettleRequest, SettleRequest__Output as _defaas_executor_v1_SettleRequest__Output } from './defaas/executor/v1/SettleRequest.js';
import type { SettleResponse as _defaas_executor_v1_SettleResponse, SettleResponse__Output as _defaas_executor_v1_SettleResponse__Output } from './defaas/executor/v1/SettleResponse.js';
import type { SignedReceipt as _defaas_executor_v1_SignedReceipt, SignedReceipt__Output as _defaas_executor_v1_SignedReceipt__Output } from './defaas/executor/v1/SignedReceipt.js';
import type { SignedVoucher as _defaas_executor_v1_SignedVoucher, SignedVoucher__Output as _defaas_executor_v1_SignedVoucher__Output } from './defaas/executor/v1/SignedVoucher.js';
import type { SyncRequest as _defaas_executor_v1_SyncRequest, SyncRequest__Output as _defaas_executor_v1_SyncRequest__Output } from './defaas/executor/v1/SyncRequest.js';
import type { SyncResponse as _defaas_executor_v1_SyncResponse, SyncResponse__Output as _defaas_executor_v1_SyncResponse__Output } from './defaas/executor/v1/SyncResponse.js';
import type { UndeployRequest as _defaas_executor_v1_UndeployRequest, UndeployRequest__Output as _defaas_executor_v1_UndeployRequest__Output } from './defaas/executor/v1/UndeployRequest.js';
import type { UndeployResponse as _defaas_executor_v1_UndeployResponse, UndeployResponse__Output as _defaas_executor_v1_UndeployResponse__Output } from './defaas/executor/v1/UndeployResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  defaas: {
    executor: {
      v1: {
        CallOutcome: EnumTypeDefinition
        CallRecordMsg: MessageTypeDefinition<_defaas_executor_v1_CallRecordMsg, _defaas_executor_v1_CallRecordMsg__Output>
        CallState: EnumTypeDefinition
        CallStatus: MessageTypeDefinition<_defaas_executor_v1_CallStatus, _defaas_executor_v1_CallStatus__Output>
        ChallengeClass: EnumTypeDefinition
        ChallengeCommitment: MessageTypeDefinition<_defaas_executor_v1_ChallengeCommitment, _defaas_executor_v1_ChallengeCommitment__Output>
        ChallengeOpenRequest: MessageTypeDefinition<_defaas_executor_v1_ChallengeOpenRequest, _defaas_executor_v1_ChallengeOpenRequest__Output>
        ChallengeOpenResponse: MessageTypeDefinition<_defaas_executor_v1_ChallengeOpenResponse, _defaas_executor_v1_ChallengeOpenResponse__Output>
        ChallengeRequest: MessageTypeDefinition<_defaas_executor_v1_ChallengeRequest, _defaas_executor_v1_ChallengeRequest__Output>
        ChallengeRowProof: MessageTypeDefinition<_defaas_executor_v1_ChallengeRowProof, _defaas_executor_v1_ChallengeRowProof__Output>
        ClientHello: MessageTypeDefinition<_defaas_executor_v1_ClientHello, _defaas_executor_v1_ClientHello__Output>
        DeployRequest: MessageTypeDefinition<_defaas_executor_v1_DeployRequest, _defaas_executor_v1_DeployRequest__Output>
        DeployResponse: MessageTypeDefinition<_defaas_executor_v1_DeployResponse, _defaas_executor_v1_DeployResponse__Output>
        EnclaveKeys: MessageTypeDefinition<_defaas_executor_v1_EnclaveKeys, _defaas_executor_v1_EnclaveKeys__Output>
        ErrorDetail: MessageTypeDefinition<_defaas_executor_v1_ErrorDetail, _defaas_executor_v1_ErrorDetail__Output>
        Executor: SubtypeConstructor<typeof grpc.Client, _defaas_executor_v1_ExecutorClient> & { service: _defaas_executor_v1_ExecutorDefinition }
        FunctionOutput: MessageTypeDefinition<_defaas_executor_v1_FunctionOutput, _defaas_executor_v1_FunctionOutput__Output>
        GetEvidenceRequest: MessageTypeDefinition<_defaas_executor_v1_GetEvidenceRequest, _defaas_executor_v1_GetEvidenceRequest__Output>
        GetEvidenceResponse: MessageTypeDefinition<_defaas_executor_v1_GetEvidenceResponse, _defaas_executor_v1_GetEvidenceResponse__Output>
        InvokeRequest: MessageTypeDefinition<_defaas_executor_v1_InvokeRequest, _defaas_executor_v1_InvokeRequest__Output>
        InvokeResponse: MessageTypeDefinition<_defaas_executor_v1_InvokeResponse, _defaas_executor_v1_InvokeResponse__Output>
        LeaseTerms: MessageTypeDefinition<_defaas_executor_v1_LeaseTerms, _defaas_executor_v1_LeaseTerms__Output>
        Limits: MessageTypeDefinition<_defaas_executor_v1_Limits, _defaas_executor_v1_Limits__Output>
        ProbeGrant: MessageTypeDefinition<_defaas_executor_v1_ProbeGrant, _defaas_executor_v1_ProbeGrant__Output>
        SealedFrame: MessageTypeDefinition<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output>
        ServerHello: MessageTypeDefinition<_defaas_executor_v1_ServerHello, _defaas_executor_v1_ServerHello__Output>
        SessionCodec: SubtypeConstructor<typeof grpc.Client, _defaas_executor_v1_SessionCodecClient> & { service: _defaas_executor_v1_SessionCodecDefinition }
        SessionMode: EnumTypeDefinition
        SessionRequest: MessageTypeDefinition<_defaas_executor_v1_SessionRequest, _defaas_executor_v1_SessionRequest__Output>
        SessionResponse: MessageTypeDefinition<_defaas_executor_v1_SessionResponse, _defaas_executor_v1_SessionResponse__Output>
        SettleRequest: MessageTypeDefinition<_defaas_executor_v1_SettleRequest, _defaas_executor_v1_SettleRequest__Output>
        SettleResponse: MessageTypeDefinition<_defaas_executor_v1_SettleResponse, _defaas_executor_v1_SettleResponse__Output>
        SignedReceipt: MessageTypeDefinition<_defaas_executor_v1_SignedReceipt, _defaas_executor_v1_SignedReceipt__Output>
        SignedVoucher: MessageTypeDefinition<_defaas_executor_v1_SignedVoucher, _defaas_executor_v1_SignedVoucher__Output>
        SyncRequest: MessageTypeDefinition<_defaas_executor_v1_SyncRequest, _defaas_executor_v1_SyncRequest__Output>
        SyncResponse: MessageTypeDefinition<_defaas_executor_v1_SyncResponse, _defaas_executor_v1_SyncResponse__Output>
        TeeType: EnumTypeDefinition
        UndeployRequest: MessageTypeDefinition<_defaas_executor_v1_UndeployRequest, _defaas_executor_v1_UndeployRequest__Output>
        UndeployResponse: MessageTypeDefinition<_defaas_executor_v1_UndeployResponse, _defaas_executor_v1_UndeployResponse__Output>
      }
    }
  }
}

