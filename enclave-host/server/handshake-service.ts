import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { toHex } from '../../attestation/bytes.js';
import type { ClientHello__Output } from '../../proto/gen/defaas/executor/v1/ClientHello.js';
import type { GetEvidenceRequest__Output } from '../../proto/gen/defaas/executor/v1/GetEvidenceRequest.js';
import type { GetEvidenceResponse } from '../../proto/gen/defaas/executor/v1/GetEvidenceResponse.js';
import type { ServerHello } from '../../proto/gen/defaas/executor/v1/ServerHello.js';
import { sessionFail } from '../../protocol/errors.js';
import type { LeaseTermsFields, SessionMode } from '../../protocol/transcript.js';
import { termsToWire } from '../../protocol/wire.js';
import { logRefusal, toServiceError, toWireError } from '../rpc-errors.js';
import type { EphemeralPool } from '../session/ephemeral-pool.js';
import type { EvidenceSource } from '../session/evidence-source.js';
import { respondToHello } from '../session/handshake.js';
import { type HandshakeLimiter, peerAddress } from '../session/handshake-limiter.js';
import type { EnclaveIdentity } from '../session/identity.js';
import { requestedLease } from '../session/requested-lease.js';
import type { SessionTable } from '../session/session-table.js';

export interface HandshakeServiceOptions {
  readonly identity: EnclaveIdentity;
  readonly evidence: EvidenceSource;
  /** The terms served; `terms.leaseId` is the default lease (an empty ClientHello.lease_id). */
  readonly terms: LeaseTermsFields;
  /**
   * Whether a ClientHello may ask for any lease (a lease check decides on the first call whether it
   * is served); otherwise only the default lease is served (WRONG_LEASE).
   */
  readonly anyLease: boolean;
  readonly sessions: SessionTable;
  readonly limiter: HandshakeLimiter;
  readonly ephemerals: EphemeralPool;
  readonly sessionTtlMs: number;
  /** Replay window of each session's sequence numbers. */
  readonly window: number;
  readonly isServing: () => boolean;
  readonly now: () => number;
  readonly log: Logger;
}

/**
 * The plaintext RPCs (docs/session.md, "Handshake"): GetEvidence and OpenSession. Rate, table and
 * replay checks come before any state is kept, so a refused handshake leaves none; refusals are gRPC
 * statuses with the plaintext detail.
 */
export class HandshakeService {
  constructor(private readonly o: HandshakeServiceOptions) {}

  getEvidence(): grpc.handleUnaryCall<GetEvidenceRequest__Output, GetEvidenceResponse> {
    return (_call, cb) => {
      this.o.evidence.standingEvidence().then(
        (ev) =>
          cb(null, {
            tee: teeEnum(this.o.evidence.tee),
            evidenceBundle: Buffer.from(ev.bundle),
            keys: this.keys(),
          }),
        (e: unknown) => cb(this.refuse(e, 'GetEvidence')),
      );
    };
  }

  openSession(): grpc.handleUnaryCall<ClientHello__Output, ServerHello> {
    return (call, cb) => {
      this.open(call.request, peerAddress(call.getPeer())).then(
        (r) => cb(null, r),
        (e: unknown) => cb(this.refuse(e, 'OpenSession')),
      );
    };
  }

  private async open(h: ClientHello__Output, peer: string): Promise<ServerHello> {
    if (!this.o.isServing()) sessionFail('EXECUTOR_SHUTTING_DOWN', 'the executor is shutting down');
    this.o.limiter.take(peer);
    const mode: SessionMode | undefined =
      h.mode === 'SESSION_MODE_FRESH' ? 'fresh' : h.mode === 'SESSION_MODE_NORMAL' ? 'normal' : undefined;
    if (!mode) sessionFail('HANDSHAKE_MALFORMED', `unsupported session mode ${h.mode}`);
    const leaseId = requestedLease(h.leaseId, {
      defaultLease: this.o.terms.leaseId,
      anyLease: this.o.anyLease,
    });
    this.o.sessions.reserve(peer);
    this.o.sessions.checkHello(h.clientNonce);
    const out = await respondToHello(
      { version: h.version, clientEphemeral: h.clientEphemeral, clientNonce: h.clientNonce, mode, leaseId },
      {
        identity: this.o.identity,
        evidence: this.o.evidence,
        terms: this.o.terms,
        sessionTtlMs: this.o.sessionTtlMs,
        windowSize: this.o.window,
        now: this.o.now(),
        ephemeral: () => this.o.ephemerals.take(),
      },
    );
    out.session.peer = peer;
    this.o.sessions.add(out.session, peer, h.clientNonce);
    // Key derivation after the ServerHello is sent (the client needs longer than that to check it).
    const opened = out.session;
    setImmediate(() => opened.prepare());
    this.o.log.debug({ session: toHex(out.session.id), mode, leaseId: leaseId.toString() }, 'session opened');
    const f = out.fields;
    return {
      version: f.version,
      sessionId: Buffer.from(f.sessionId),
      serverEphemeral: Buffer.from(f.serverEphemeral),
      tee: teeEnum(f.tee),
      evidenceBundle: Buffer.from(out.evidenceBundle),
      keys: this.keys(),
      terms: termsToWire(f.terms),
      expiresInMs: f.expiresInMs.toString(),
      transcriptSignature: Buffer.from(out.signature),
    };
  }

  private keys() {
    return {
      identityAddress: this.o.identity.identityAddress,
      staticX25519: Buffer.from(this.o.identity.staticKey.publicKey),
    };
  }

  private refuse(e: unknown, rpc: string): grpc.ServiceError {
    const w = toWireError(e);
    logRefusal(this.o.log, w, e, rpc);
    return toServiceError(w) as grpc.ServiceError;
  }
}

function teeEnum(
  tee: string,
): 'TEE_TYPE_SIMULATED' | 'TEE_TYPE_TDX' | 'TEE_TYPE_SEV_SNP' | 'TEE_TYPE_UNSPECIFIED' {
  return tee === 'simulated'
    ? 'TEE_TYPE_SIMULATED'
    : tee === 'tdx'
      ? 'TEE_TYPE_TDX'
      : tee === 'sev-snp' || tee === 'snp'
        ? 'TEE_TYPE_SEV_SNP'
        : 'TEE_TYPE_UNSPECIFIED';
}
