import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as ExecutorGrpc } from './gen/executor.js';
import type { ProtoGrpcType as HealthGrpc } from './gen/health.js';

/** Directory holding the .proto files (the include root). */
export const PROTO_ROOT = fileURLToPath(new URL('.', import.meta.url));

/**
 * Run-time loader options. proto/scripts/generate.mjs passes the same options to
 * proto-loader-gen-types, so the types in proto/gen/ describe exactly what these produce:
 * camelCase fields, 64-bit integers as decimal strings, enums as names, bytes as Buffer,
 * defaults filled in, and a virtual field naming the set member of each oneof.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

let cached: { executor: ExecutorGrpc; health: HealthGrpc } | undefined;

/** The loaded executor and health packages (loaded once per process). */
export function loadProtos(): { executor: ExecutorGrpc; health: HealthGrpc } {
  if (cached) return cached;
  const exec = protoLoader.loadSync('defaas/executor/v1/executor.proto', LOADER_OPTIONS);
  const health = protoLoader.loadSync('grpc/health/v1/health.proto', LOADER_OPTIONS);
  cached = {
    executor: grpc.loadPackageDefinition(exec) as unknown as ExecutorGrpc,
    health: grpc.loadPackageDefinition(health) as unknown as HealthGrpc,
  };
  return cached;
}

export type {
  SessionRequest,
  SessionRequest__Output,
} from './gen/defaas/executor/v1/SessionRequest.js';
export type {
  SessionResponse,
  SessionResponse__Output,
} from './gen/defaas/executor/v1/SessionResponse.js';

import type { ErrorDetail, ErrorDetail__Output } from './gen/defaas/executor/v1/ErrorDetail.js';
import type { SessionRequest, SessionRequest__Output } from './gen/defaas/executor/v1/SessionRequest.js';
import type { SessionResponse, SessionResponse__Output } from './gen/defaas/executor/v1/SessionResponse.js';

export interface SessionCodec {
  encodeRequest(m: SessionRequest): Buffer;
  /** Throws on bytes that are not a SessionRequest. */
  decodeRequest(b: Buffer): SessionRequest__Output;
  encodeResponse(m: SessionResponse): Buffer;
  decodeResponse(b: Buffer): SessionResponse__Output;
  encodeError(m: ErrorDetail): Buffer;
  decodeError(b: Buffer): ErrorDetail__Output;
}

/**
 * Serializers for the plaintext inside sealed frames, taken from the never-served SessionCodec
 * service so they use exactly the loader options above.
 */
export function sessionCodec(): SessionCodec {
  const svc = loadProtos().executor.defaas.executor.v1.SessionCodec.service;
  const m = svc.Request;
  return {
    encodeError: (x) => svc.Error.requestSerialize(x),
    decodeError: (b) => svc.Error.requestDeserialize(b),
    encodeRequest: (x) => m.requestSerialize(x),
    decodeRequest: (b) => m.requestDeserialize(b),
    encodeResponse: (x) => m.responseSerialize(x),
    decodeResponse: (b) => m.responseDeserialize(b),
  };
}

/** Trailer key carrying an encoded ErrorDetail on every failed executor RPC. */
export const ERROR_DETAIL_KEY = 'defaas-error-bin';

/**
 * Trailer key of a failed sealed RPC whose request authenticated: a SessionResponse{error} with the
 * full detail, sealed like a response under the request's sequence number. The plain
 * `defaas-error-bin` detail then carries the code and message only, so call records (input and
 * output hashes) and receipts never travel in the clear.
 */
export const SEALED_ERROR_KEY = 'defaas-sealed-error-bin';
