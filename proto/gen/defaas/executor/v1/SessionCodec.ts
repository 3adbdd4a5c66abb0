// Original file: proto/defaas/executor/v1/executor.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ErrorDetail as _defaas_executor_v1_ErrorDetail, ErrorDetail__Output as _defaas_executor_v1_ErrorDetail__Output } from '../../../defaas/executor/v1/ErrorDetail.js';
import type { SessionRequest as _defaas_executor_v1_SessionRequest, SessionRequest__Output as _defaas_executor_v1_SessionRequest__Output } from '../../../defaas/executor/v1/SessionRequest.js';
import type { SessionResponse as _defaas_executor_v1_SessionResponse, SessionResponse__Output as _defaas_executor_v1_SessionResponse__Output } from '../../../defaas/executor/v1/SessionResponse.js';

export interface SessionCodecClient extends grpc.Client {
  Error(argument: _defaas_executor_v1_ErrorDetail, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_ErrorDetail__Output>): grpc.ClientUnaryCall;
  Error(argument: _defaas_executor_v1_ErrorDetail, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_ErrorDetail__Output>): grpc.ClientUnaryCall;
  Error(argument: _defaas_executor_v1_ErrorDetail, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_ErrorDetail__Output>): grpc.ClientUnaryCall;
  Error(argument: _defaas_executor_v1_ErrorDetail, callback: grpc.requestCallback<_defaas_executor_v1_ErrorDetail__Output>): grpc.ClientUnaryCall;
  error(argument: _defaas_executor_v1_ErrorDetail, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_ErrorDetail__Output>): grpc.ClientUnaryCall;
  error(argument: _defaas_executor_v1_ErrorDetail, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_ErrorDetail__Output>): grpc.ClientUnaryCall;
  error(argument: _defaas_executor_v1_ErrorDetail, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_ErrorDetail__Output>): grpc.ClientUnaryCall;
  error(argument: _defaas_executor_v1_ErrorDetail, callback: grpc.requestCallback<_defaas_executor_v1_ErrorDetail__Output>): grpc.ClientUnaryCall;
  
  Request(argument: _defaas_executor_v1_SessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Request(argument: _defaas_executor_v1_SessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Request(argument: _defaas_executor_v1_SessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  Request(argument: _defaas_executor_v1_SessionRequest, callback: grpc.requestCallback<_defaas_executor_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  request(argument: _defaas_executor_v1_SessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  request(argument: _defaas_executor_v1_SessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_defaas_executor_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  request(argument: _defaas_executor_v1_SessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_defaas_executor_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  request(argument: _defaas_executor_v1_SessionRequest, callback: grpc.requestCallback<_defaas_executor_v1_SessionResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface SessionCodecHandlers extends grpc.UntypedServiceImplementation {
  Error: grpc.handleUnaryCall<_defaas_executor_v1_ErrorDetail__Output, _defaas_executor_v1_ErrorDetail>;
  
  Request: grpc.handleUnaryCall<_defaas_executor_v1_SessionRequest__Output, _defaas_executor_v1_SessionResponse>;
  
}

export interface SessionCodecDefinition extends grpc.ServiceDefinition {
  Error: MethodDefinition<_defaas_executor_v1_ErrorDetail, _defaas_executor_v1_ErrorDetail, _defaas_executor_v1_ErrorDetail__Output, _defaas_executor_v1_ErrorDetail__Output>
  Request: MethodDefinition<_defaas_executor_v1_SessionRequest, _defaas_executor_v1_SessionResponse, _defaas_executor_v1_SessionRequest__Output, _defaas_executor_v1_SessionResponse__Output>
}
