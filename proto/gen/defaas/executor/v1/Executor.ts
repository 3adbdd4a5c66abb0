// Original file: proto/defaas/executor/v1/executor.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ClientHello as _defaas_executor_v1_ClientHello, ClientHello__Output as _defaas_executor_v1_ClientHello__Output } from '../../../defaas/executor/v1/ClientHello.js';
import type { GetEvidenceRequest as _defaas_executor_v1_GetEvidenceRequest, GetEvidenceRequest__Output as _defaas_executor_v1_GetEvidenceRequest__Output } from '../../../defaas/executor/v1/GetEvidenceRequest.js';
import type { GetEvidenceResponse as _defaas_executor_v1_GetEvidenceResponse, GetEvidenceResponse__Output as _defaas_executor_v1_GetEvidenceResponse__Output } from '../../../defaas/executor/v1/GetEvidenceResponse.js';
import type { SealedFrame as _defaas_executor_v1_SealedFrame, SealedFrame__Output as _defaas_executor_v1_SealedFrame__Output } from '../../../defaas/executor/v1/SealedFrame.js';
import type { ServerHello as _defaas_executor_v1_ServerHello, ServerHello__Output as _defaas_executor_v1_ServerHello__Output } from '../../../defaas/executor/v1/ServerHello.js';

export interface ExecutorClient extends grpc.Client {
  Challenge(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Challenge(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Challenge(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Challenge(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  challenge(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  challenge(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  challenge(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  challenge(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  
  Deploy(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Deploy(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Deploy(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Deploy(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  deploy(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  deploy(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  deploy(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  deploy(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  
  GetEvidence(argument: _defaas_executor_v1_GetEvidenceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_GetEvidenceResponse__Output>): grpc.ClientUnaryCall;
  GetEvidence(argument: _defaas_executor_v1_GetEvidenceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_GetEvidenceResponse__Output>): grpc.ClientUnaryCall;
  GetEvidence(argument: _defaas_executor_v1_GetEvidenceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_GetEvidenceResponse__Output>): grpc.ClientUnaryCall;
  GetEvidence(argument: _defaas_executor_v1_GetEvidenceRequest, callback: grpc.requestCallback<_defaas_executor_v1_GetEvidenceResponse__Output>): grpc.ClientUnaryCall;
  getEvidence(argument: _defaas_executor_v1_GetEvidenceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_GetEvidenceResponse__Output>): grpc.ClientUnaryCall;
  getEvidence(argument: _defaas_executor_v1_GetEvidenceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_GetEvidenceResponse__Output>): grpc.ClientUnaryCall;
  getEvidence(argument: _defaas_executor_v1_GetEvidenceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_GetEvidenceResponse__Output>): grpc.ClientUnaryCall;
  getEvidence(argument: _defaas_executor_v1_GetEvidenceRequest, callback: grpc.requestCallback<_defaas_executor_v1_GetEvidenceResponse__Output>): grpc.ClientUnaryCall;
  
  Invoke(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  invoke(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  invoke(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  invoke(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  invoke(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  
  InvokeStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output>;
  InvokeStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output>;
  invokeStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output>;
  invokeStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output>;
  
  OpenSession(argument: _defaas_executor_v1_ClientHello, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_ServerHello__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _defaas_executor_v1_ClientHello, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_ServerHello__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _defaas_executor_v1_ClientHello, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_ServerHello__Output>): grpc.ClientUnaryCall;
  OpenSession(argument: _defaas_executor_v1_ClientHello, callback: grpc.requestCallback<_defaas_executor_v1_ServerHello__Output>): grpc.ClientUnaryCall;
  openSession(argument: _defaas_executor_v1_ClientHello, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_ServerHello__Output>): grpc.ClientUnaryCall;
  openSession(argument: _defaas_executor_v1_ClientHello, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_ServerHello__Output>): grpc.ClientUnaryCall;
  openSession(argument: _defaas_executor_v1_ClientHello, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_ServerHello__Output>): grpc.ClientUnaryCall;
  openSession(argument: _defaas_executor_v1_ClientHello, callback: grpc.requestCallback<_defaas_executor_v1_ServerHello__Output>): grpc.ClientUnaryCall;
  
  Settle(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Settle(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Settle(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Settle(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  settle(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  settle(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  settle(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  settle(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  
  Sync(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Sync(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Sync(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Sync(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  sync(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  sync(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  sync(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  sync(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  
  Undeploy(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Undeploy(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Undeploy(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  Undeploy(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  undeploy(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  undeploy(argument: _defaas_executor_v1_SealedFrame, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  undeploy(argument: _defaas_executor_v1_SealedFrame, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  undeploy(argument: _defaas_executor_v1_SealedFrame, callback: grpc.requestCallback<_defaas_executor_v1_SealedFrame__Output>): grpc.ClientUnaryCall;
  
}

export interface ExecutorHandlers extends grpc.UntypedServiceImplementation {
  Challenge: grpc.handleUnaryCall<_defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame>;
  
  Deploy: grpc.handleUnaryCall<_defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame>;
  
  GetEvidence: grpc.handleUnaryCall<_defaas_executor_v1_GetEvidenceRequest__Output, _defaas_executor_v1_GetEvidenceResponse>;
  
  Invoke: grpc.handleUnaryCall<_defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame>;
  
  InvokeStream: grpc.handleBidiStreamingCall<_defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame>;
  
  OpenSession: grpc.handleUnaryCall<_defaas_executor_v1_ClientHello__Output, _defaas_executor_v1_ServerHello>;
  
  Settle: grpc.handleUnaryCall<_defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame>;
  
  Sync: grpc.handleUnaryCall<_defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame>;
  
  Undeploy: grpc.handleUnaryCall<_defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame>;
  
}

export interface ExecutorDefinition extends grpc.ServiceDefinition {
  Challenge: MethodDefinition<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame__Output>
  Deploy: MethodDefinition<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame__Output>
  GetEvidence: MethodDefinition<_defaas_executor_v1_GetEvidenceRequest, _defaas_executor_v1_GetEvidenceResponse, _defaas_executor_v1_GetEvidenceRequest__Output, _defaas_executor_v1_GetEvidenceResponse__Output>
  Invoke: MethodDefinition<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame__Output>
  InvokeStream: MethodDefinition<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame__Output>
  OpenSession: MethodDefinition<_defaas_executor_v1_ClientHello, _defaas_executor_v1_ServerHello, _defaas_executor_v1_ClientHello__Output, _defaas_executor_v1_ServerHello__Output>
  Settle: MethodDefinition<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame__Output>
  Sync: MethodDefinition<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame__Output>
  Undeploy: MethodDefinition<_defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame, _defaas_executor_v1_SealedFrame__Output, _defaas_executor_v1_SealedFrame__Output>
}
