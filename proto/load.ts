import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { SealedFrame } from './gen/defaas/executor/v1/SealedFrame.js';
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
  sendEncodedFrames(exec['defaas.executor.v1.Executor'] as grpc.ServiceDefinition);
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

/** Trailer key carrying an encoded ErrorDetail on an executor RPC refused before its frame authenticated. */
export const ERROR_DETAIL_KEY = 'defaas-error-bin';

// ---- SealedFrame encoded once ----

const ENCODED = Symbol('defaas.encodedSealedFrame');

interface EncodedFrame {
  readonly bytes: Buffer;
  readonly sessionId: unknown;
  readonly seq: unknown;
  readonly ciphertext: unknown;
}

function varintLength(v: bigint): number {
  let n = 1;
  for (let x = v >> 7n; x > 0n; x >>= 7n) n++;
  return n;
}

function writeVarint(out: Buffer, at: number, v: bigint): number {
  let x = v;
  let i = at;
  while (x >= 0x80n) {
    out[i++] = Number(x & 0x7fn) | 0x80;
    x >>= 7n;
  }
  out[i++] = Number(x);
  return i;
}

/**
 * A SealedFrame built together with its protobuf encoding, in one buffer: `fill(out, offset)` writes
 * the `ciphertextLength` sealed bytes at `offset` (e.g. FrameCipher.sealInto). gRPC then sends these
 * bytes as they are instead of copying the payload-sized ciphertext into a new encoding; the bytes
 * are the same as the generic encoder's (fields 1, 2, 3 in order, each present). The frame's
 * `ciphertext` is a view into them. A frame whose fields are replaced afterwards (or a copy of it)
 * is encoded the usual way.
 */
export function encodedSealedFrame(
  sessionId: Uint8Array,
  seq: bigint,
  ciphertextLength: number,
  fill: (out: Buffer, offset: number) => void,
): SealedFrame {
  if (seq < 0n || seq >= 1n << 64n) throw new RangeError('seq must be a uint64');
  const len = BigInt(ciphertextLength);
  const idLen = BigInt(sessionId.length);
  const header = 1 + varintLength(idLen) + sessionId.length + 1 + varintLength(seq) + 1 + varintLength(len);
  const bytes = Buffer.allocUnsafe(header + ciphertextLength);
  let at = 0;
  bytes[at++] = 0x0a; // field 1 (session_id), length-delimited
  at = writeVarint(bytes, at, idLen);
  const idAt = at;
  bytes.set(sessionId, at);
  at += sessionId.length;
  bytes[at++] = 0x10; // field 2 (seq), varint
  at = writeVarint(bytes, at, seq);
  bytes[at++] = 0x1a; // field 3 (ciphertext), length-delimited
  at = writeVarint(bytes, at, len);
  fill(bytes, at);
  const frame: SealedFrame = {
    sessionId: bytes.subarray(idAt, idAt + sessionId.length),
    seq: seq.toString(),
    ciphertext: bytes.subarray(at),
  };
  const enc: EncodedFrame = {
    bytes,
    sessionId: frame.sessionId,
    seq: frame.seq,
    ciphertext: frame.ciphertext,
  };
  Object.defineProperty(frame, ENCODED, { value: enc, enumerable: false });
  return frame;
}

/** The frame's ready encoding, if it was built by `encodedSealedFrame` and not changed since. */
function readyEncoding(m: unknown): Buffer | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const enc = (m as { [ENCODED]?: EncodedFrame })[ENCODED];
  const f = m as SealedFrame;
  if (!enc || f.sessionId !== enc.sessionId || f.seq !== enc.seq || f.ciphertext !== enc.ciphertext)
    return undefined;
  return enc.bytes;
}

/** Lets the SealedFrame methods of `service` send frames from `encodedSealedFrame` as they are. */
function sendEncodedFrames(service: grpc.ServiceDefinition): void {
  for (const m of Object.values(service) as (grpc.MethodDefinition<unknown, unknown> & {
    requestType?: { type?: { name?: string } };
    responseType?: { type?: { name?: string } };
  })[]) {
    if (m.requestType?.type?.name === 'SealedFrame') {
      const generic = m.requestSerialize;
      m.requestSerialize = (x: unknown) => readyEncoding(x) ?? generic(x);
    }
    if (m.responseType?.type?.name === 'SealedFrame') {
      const generic = m.responseSerialize;
      m.responseSerialize = (x: unknown) => readyEncoding(x) ?? generic(x);
    }
  }
}

// ---- plaintext with its payload kept apart ----

/**
 * The encoding of a SessionRequest / SessionResponse as parts whose concatenation is a valid
 * encoding of the message, with the large bytes field (`input` of an invoke request, `output` of an
 * invoke response) left as the caller's buffer instead of being copied into a new encoding: the
 * sealer encrypts the parts one after the other (a stream cipher, so the ciphertext is the same as
 * for the joined bytes). The payload field is placed last, which protobuf decoders accept like any
 * field order; the decoded message is the same.
 */
export interface PlaintextParts {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
}

function readVarint(b: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    if (i >= b.length || shift > 28) throw new RangeError('bad varint');
    const x = b[i++]!;
    value += (x & 0x7f) * 2 ** shift;
    if (x < 0x80) return { value, next: i };
    shift += 7;
  }
}

/**
 * `outer` is the encoding of a message holding exactly one length-delimited field `outerTag` (the
 * oneof member) whose value is an inner message without its payload field; returns the parts of the
 * same message with `payload` appended to the inner message as field `payloadTag`.
 */
function withPayload(
  outer: Buffer,
  outerTag: number,
  payloadTag: number,
  payload: Uint8Array,
): PlaintextParts {
  if (outer[0] !== outerTag) throw new RangeError('unexpected message layout');
  const { value: innerLength, next } = readVarint(outer, 1);
  if (next + innerLength !== outer.length) throw new RangeError('unexpected message layout');
  const n = BigInt(payload.length);
  const fieldHeader = 1 + varintLength(n);
  const total = BigInt(innerLength + fieldHeader) + n;
  const head = Buffer.allocUnsafe(1 + varintLength(total) + innerLength + fieldHeader);
  let at = 0;
  head[at++] = outerTag;
  at = writeVarint(head, at, total);
  at += outer.copy(head, at, next);
  head[at++] = payloadTag;
  writeVarint(head, at, n);
  return { parts: [head, payload], length: head.length + payload.length };
}

const TAG_INVOKE = 0x12; // SessionRequest.invoke / SessionResponse.invoke: field 2, length-delimited
const TAG_INPUT = 0x2a; // InvokeRequest.input: field 5, length-delimited
const TAG_OUTPUT = 0x0a; // InvokeResponse.output: field 1, length-delimited

/** Payloads below this size are simply encoded (splitting only pays for large ones). */
const SPLIT_MIN_BYTES = 16 * 1024;

export function requestParts(codec: SessionCodec, req: SessionRequest): PlaintextParts {
  const input = req.invoke?.input;
  if (!req.invoke || !(input instanceof Uint8Array) || input.length < SPLIT_MIN_BYTES) {
    const b = codec.encodeRequest(req);
    return { parts: [b], length: b.length };
  }
  const { input: _payload, ...rest } = req.invoke;
  return withPayload(codec.encodeRequest({ invoke: rest }), TAG_INVOKE, TAG_INPUT, input);
}

export function responseParts(codec: SessionCodec, res: SessionResponse): PlaintextParts {
  const output = res.invoke?.output;
  if (!res.invoke || !(output instanceof Uint8Array) || output.length < SPLIT_MIN_BYTES) {
    const b = codec.encodeResponse(res);
    return { parts: [b], length: b.length };
  }
  const { output: _payload, ...rest } = res.invoke;
  return withPayload(codec.encodeResponse({ invoke: rest }), TAG_INVOKE, TAG_OUTPUT, output);
}
