import { randomBytes } from 'node:crypto';
import { sessionFail } from '../../protocol/errors.js';
import { deriveSessionKeys } from '../../protocol/keys.js';
import { signDigest } from '../../protocol/secp256k1.js';
import {
  bindingHash,
  type HandshakeFields,
  type LeaseTermsFields,
  PROTOCOL_VERSION,
  type SessionMode,
  transcriptHash,
} from '../../protocol/transcript.js';
import { generateX25519, type X25519KeyPair, x25519 } from '../../protocol/x25519.js';
import type { EvidenceSource } from './evidence-source.js';
import type { EnclaveIdentity } from './identity.js';
import { ServerSession } from './server-session.js';

export interface ClientHelloIn {
  readonly version: number;
  readonly clientEphemeral: Uint8Array;
  readonly clientNonce: Uint8Array;
  readonly mode: SessionMode;
  /** The lease asked for, already admitted (session/requested-lease.ts). */
  readonly leaseId: bigint;
}

export interface ServerHelloOut {
  readonly fields: HandshakeFields;
  readonly evidenceBundle: Uint8Array;
  readonly signature: Uint8Array;
  readonly session: ServerSession;
}

export interface HandshakeContext {
  readonly identity: EnclaveIdentity;
  readonly evidence: EvidenceSource;
  /** The terms served; the ServerHello's carry the lease asked for instead of theirs. */
  readonly terms: LeaseTermsFields;
  readonly sessionTtlMs: number;
  readonly windowSize: number;
  readonly now: number;
  /** Source of the server's ephemeral key (e.g. an EphemeralPool); default: a new key. */
  readonly ephemeral?: () => X25519KeyPair;
}

/**
 * The responder side of the handshake (ARCHITECTURE.md, "Attested session"): a fresh ephemeral key,
 * the evidence (standing, or fresh with the binding hash in REPORTDATA), the transcript signed by
 * the identity key, and the two directional keys from DH(ce, se) ‖ DH(ce, s).
 */
export async function respondToHello(hello: ClientHelloIn, ctx: HandshakeContext): Promise<ServerHelloOut> {
  if (hello.version !== PROTOCOL_VERSION)
    sessionFail('HANDSHAKE_VERSION_UNSUPPORTED', `protocol version ${hello.version} is not supported`, {
      supported: [PROTOCOL_VERSION],
    });
  if (hello.clientEphemeral.length !== 32)
    sessionFail('HANDSHAKE_MALFORMED', 'client ephemeral key must be 32 bytes');
  if (hello.clientNonce.length !== 32) sessionFail('HANDSHAKE_MALFORMED', 'client nonce must be 32 bytes');
  const terms: LeaseTermsFields = { ...ctx.terms, leaseId: hello.leaseId };
  const eph = ctx.ephemeral ? ctx.ephemeral() : generateX25519();
  const fields: HandshakeFields = {
    version: PROTOCOL_VERSION,
    clientEphemeral: hello.clientEphemeral,
    clientNonce: hello.clientNonce,
    mode: hello.mode,
    sessionId: new Uint8Array(randomBytes(16)),
    serverEphemeral: eph.publicKey,
    tee: ctx.evidence.tee,
    identityAddress: ctx.identity.identityAddress,
    staticX25519: ctx.identity.staticKey.publicKey,
    terms,
    expiresInMs: BigInt(ctx.sessionTtlMs),
  };
  const binding = bindingHash(fields);
  const presented =
    hello.mode === 'fresh'
      ? await ctx.evidence.freshEvidence(binding)
      : await ctx.evidence.standingEvidence();
  const th = transcriptHash(binding, presented.bundle);
  // Malformed or low-order client keys are refused here, before anything is signed.
  const dhE = x25519(eph.privateKey, hello.clientEphemeral);
  const dhS = x25519(ctx.identity.staticKey.privateKey, hello.clientEphemeral);
  // HKDF and the ciphers are set up on first use (or ServerSession.prepare()), after the
  // ServerHello is on its way.
  const session = new ServerSession(
    fields.sessionId,
    () => deriveSessionKeys(th, dhE, dhS),
    ctx.now + ctx.sessionTtlMs,
    presented.evidenceHash,
    ctx.windowSize,
    terms,
  );
  return {
    fields,
    evidenceBundle: presented.bundle,
    signature: signDigest(ctx.identity.identityPrivateKey, th),
    session,
  };
}
