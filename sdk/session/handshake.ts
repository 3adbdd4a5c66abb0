import { randomBytes } from 'node:crypto';
import { bindReportData } from '../../attestation/binding.js';
import { decodeEvidenceBundle, encodeEvidenceBundle, type SnpCollateral } from '../../attestation/bundle.js';
import { bytesEqual, toHex } from '../../attestation/bytes.js';
import type { VerifyCache } from '../../attestation/cache.js';
import { checkEvidence } from '../../attestation/check.js';
import type { VerifiedEvidence } from '../../attestation/evidence.js';
import { completeBundle, type FetchCollateralOptions } from '../../attestation/fetch-collateral.js';
import type { IntelCollateral } from '../../attestation/intel/types.js';
import type { Policy } from '../../attestation/policy.js';
import type { TrustRoots } from '../../attestation/roots.js';
import type { ClientHello } from '../../proto/gen/defaas/executor/v1/ClientHello.js';
import type { ServerHello__Output } from '../../proto/gen/defaas/executor/v1/ServerHello.js';
import { sessionFail } from '../../protocol/errors.js';
import { type DirectionalKeys, deriveSessionKeys } from '../../protocol/keys.js';
import { recoverDigestSigner } from '../../protocol/secp256k1.js';
import {
  bindingHash,
  type HandshakeFields,
  type LeaseTermsFields,
  PROTOCOL_VERSION,
  type SessionMode,
  transcriptHash,
} from '../../protocol/transcript.js';
import type { TypedDataDomain } from '../../protocol/typed-data.js';
import { parseUint, termsFromWire } from '../../protocol/wire.js';
import { generateX25519, type X25519KeyPair, x25519 } from '../../protocol/x25519.js';
import { DefaasError } from '../errors.js';

export interface HandshakeOptions {
  readonly policy: Policy;
  readonly mode: SessionMode;
  readonly now: Date;
  readonly roots?: TrustRoots;
  readonly cache?: VerifyCache;
  /** When set, the executor must serve exactly this lease. */
  readonly leaseId?: bigint;
  /** When set, the executor's EIP-712 domain (chain id, Settlement address) must be exactly this. */
  readonly domain?: TypedDataDomain;
  /**
   * Intel collateral to verify the evidence with instead of what the executor sent. The transcript
   * (and its signature) still covers the evidence bundle exactly as the executor sent it.
   */
  readonly collateral?: IntelCollateral;
  /** SEV-SNP collateral; each field given replaces the one the executor sent (same transcript rule). */
  readonly snpCollateral?: SnpCollateral;
  /** Fetch what the evidence still lacks (Intel PCS, AMD KDS) after the above are applied. */
  readonly fetchCollateral?: FetchCollateralOptions;
  /** When set, the enclave must be exactly this one (IDENTITY_MISMATCH otherwise). */
  readonly identity?: EnclaveIdentityPin;
}

/**
 * The enclave a client expects, when it knows it (from the chain's registry, or an earlier
 * session): its identity address, and/or the SHA-256 of the evidence it presents. Another genuine
 * enclave with the same measurement and roots is then refused.
 */
export interface EnclaveIdentityPin {
  /** 0x address of the enclave identity key. */
  readonly address?: string;
  /** SHA-256 of the raw evidence (32 bytes, or 0x-hex). */
  readonly evidenceHash?: Uint8Array | string;
}

export interface PendingHello {
  readonly message: ClientHello;
  readonly ephemeral: X25519KeyPair;
  readonly nonce: Uint8Array;
  readonly mode: SessionMode;
}

/** What the client knows once the handshake is accepted. */
export interface AcceptedSession {
  readonly sessionId: Uint8Array;
  readonly keys: DirectionalKeys;
  readonly verified: VerifiedEvidence;
  /** The evidence bundle as verified (with any collateral the client added), encoded (attestation/bundle.ts). */
  readonly evidenceBundle: Uint8Array;
  /** Lower-case 0x address of the enclave identity key (the receipt signer). */
  readonly identityAddress: string;
  readonly terms: LeaseTermsFields;
  readonly transcriptHash: Uint8Array;
  readonly expiresAt: number;
}

/**
 * A new ClientHello. With `leaseId`, it asks for that lease (ClientHello.lease_id); without, for the
 * executor's default lease. finishHandshake checks the lease the terms name (`HandshakeOptions.leaseId`).
 */
export function startHandshake(mode: SessionMode, leaseId?: bigint): PendingHello {
  if (leaseId !== undefined && (leaseId < 0n || leaseId >= 1n << 256n))
    throw new DefaasError('SDK_INVALID_ARGUMENT', `lease id ${leaseId} is not a uint256`);
  const ephemeral = generateX25519();
  const nonce = new Uint8Array(randomBytes(32));
  return {
    ephemeral,
    nonce,
    mode,
    message: {
      version: PROTOCOL_VERSION,
      clientEphemeral: Buffer.from(ephemeral.publicKey),
      clientNonce: Buffer.from(nonce),
      mode: mode === 'fresh' ? 'SESSION_MODE_FRESH' : 'SESSION_MODE_NORMAL',
      ...(leaseId !== undefined && { leaseId: leaseId.toString() }),
    },
  };
}

const TEE_NAMES: Record<string, string> = {
  TEE_TYPE_SIMULATED: 'simulated',
  TEE_TYPE_TDX: 'tdx',
  TEE_TYPE_SEV_SNP: 'sev-snp',
};

/**
 * The initiator's checks, in the order ARCHITECTURE.md fixes: evidence verified and policy satisfied
 * (attestation/check.ts) → REPORTDATA equals the binding of the presented keys (and, in fresh mode,
 * of this handshake) → transcript signature by the presented identity key. Only then are keys
 * derived. Any failure throws a typed error and nothing is sent under the session.
 */
export async function finishHandshake(
  hello: PendingHello,
  sh: ServerHello__Output,
  opts: HandshakeOptions,
): Promise<AcceptedSession> {
  if (sh.version !== PROTOCOL_VERSION)
    sessionFail('HANDSHAKE_VERSION_UNSUPPORTED', `executor speaks protocol ${sh.version}`);
  if (!sh.keys || !sh.terms) sessionFail('HANDSHAKE_MALFORMED', 'ServerHello lacks keys or terms');
  if (sh.sessionId.length !== 16) sessionFail('HANDSHAKE_MALFORMED', 'session id must be 16 bytes');
  if (sh.serverEphemeral.length !== 32 || sh.keys.staticX25519.length !== 32)
    sessionFail('HANDSHAKE_MALFORMED', 'X25519 keys must be 32 bytes');
  if (!/^0x[0-9a-fA-F]{40}$/.test(sh.keys.identityAddress))
    sessionFail('HANDSHAKE_MALFORMED', 'identity address is not an Ethereum address');
  const tee = TEE_NAMES[sh.tee];
  if (!tee) sessionFail('HANDSHAKE_MALFORMED', `unknown TEE type ${sh.tee}`);
  const terms = termsFromWire(sh.terms);
  const identityAddress = sh.keys.identityAddress.toLowerCase();
  const fields: HandshakeFields = {
    version: PROTOCOL_VERSION,
    clientEphemeral: hello.ephemeral.publicKey,
    clientNonce: hello.nonce,
    mode: hello.mode,
    sessionId: sh.sessionId,
    serverEphemeral: sh.serverEphemeral,
    tee,
    identityAddress,
    staticX25519: sh.keys.staticX25519,
    terms,
    expiresInMs: parseUint(sh.expiresInMs, 'expires in', 64),
  };
  const binding = bindingHash(fields);
  // 1–2. Evidence genuine and accepted by the policy.
  const sent = decodeEvidenceBundle(sh.evidenceBundle);
  const given = {
    ...sent,
    ...(opts.collateral && { intel: opts.collateral }),
    ...(opts.snpCollateral && { snp: { ...sent.snp, ...opts.snpCollateral } }),
  };
  const bundle = opts.fetchCollateral ? await completeBundle(given, opts.fetchCollateral, opts.now) : given;
  const verified = await checkEvidence(bundle, {
    now: opts.now,
    policy: opts.policy,
    ...(opts.roots && { roots: opts.roots }),
    ...(opts.cache && { cache: opts.cache }),
  });
  if (verified.tee !== tee)
    sessionFail('REPORT_DATA_MISMATCH', `ServerHello says ${tee}, evidence is ${verified.tee}`);
  // 3. REPORTDATA binds the presented keys (and this handshake, in fresh mode).
  const expected = bindReportData({
    identityAddress,
    x25519PublicKey: sh.keys.staticX25519,
    ...(hello.mode === 'fresh' && { transcriptHash: binding }),
  });
  if (!bytesEqual(verified.reportData, expected))
    sessionFail('REPORT_DATA_MISMATCH', 'evidence REPORTDATA does not bind the presented enclave keys', {
      mode: hello.mode,
      reportData: toHex(verified.reportData),
    });
  // 4. The identity key signed this exact transcript (ephemeral keys, evidence, terms included).
  const th = transcriptHash(binding, sh.evidenceBundle);
  const signer = recoverDigestSigner(th, sh.transcriptSignature);
  if (signer !== identityAddress)
    sessionFail('TRANSCRIPT_SIGNATURE_INVALID', 'transcript is not signed by the attested identity key', {
      identityAddress,
      ...(signer && { signer }),
    });
  if (opts.identity) checkPinnedIdentity(opts.identity, identityAddress, verified.evidenceHash);
  if (opts.leaseId !== undefined && opts.leaseId !== terms.leaseId)
    sessionFail('TERMS_MISMATCH', `executor serves lease ${terms.leaseId}, not ${opts.leaseId}`);
  if (
    opts.domain &&
    (opts.domain.chainId !== terms.chainId ||
      opts.domain.verifyingContract.toLowerCase() !== terms.verifyingContract)
  ) {
    sessionFail(
      'TERMS_MISMATCH',
      `executor signs for chain ${terms.chainId} / ${terms.verifyingContract}, not ${opts.domain.chainId} / ${opts.domain.verifyingContract}`,
    );
  }
  const dhE = x25519(hello.ephemeral.privateKey, sh.serverEphemeral);
  const dhS = x25519(hello.ephemeral.privateKey, sh.keys.staticX25519);
  return {
    sessionId: new Uint8Array(sh.sessionId),
    keys: deriveSessionKeys(th, dhE, dhS),
    verified,
    evidenceBundle: bundle === sent ? new Uint8Array(sh.evidenceBundle) : encodeEvidenceBundle(bundle),
    identityAddress,
    terms,
    transcriptHash: th,
    expiresAt: opts.now.getTime() + Number(fields.expiresInMs),
  };
}

/** The pinned identity (address, evidence hash) against the attested one; IDENTITY_MISMATCH names both. */
function checkPinnedIdentity(pin: EnclaveIdentityPin, address: string, evidenceHash: Uint8Array): void {
  if (pin.address === undefined && pin.evidenceHash === undefined)
    sessionFail('IDENTITY_MISMATCH', 'an identity pin must name an address or an evidence hash');
  if (pin.address !== undefined && pin.address.toLowerCase() !== address)
    sessionFail(
      'IDENTITY_MISMATCH',
      `the enclave is ${address}, not the pinned ${pin.address.toLowerCase()}`,
      {
        expected: pin.address.toLowerCase(),
        actual: address,
      },
    );
  if (pin.evidenceHash !== undefined) {
    const want =
      typeof pin.evidenceHash === 'string'
        ? pin.evidenceHash.replace(/^0x/, '').toLowerCase()
        : toHex(pin.evidenceHash);
    const got = toHex(evidenceHash);
    if (want !== got)
      sessionFail('IDENTITY_MISMATCH', `the enclave presents evidence ${got}, not the pinned ${want}`, {
        expected: want,
        actual: got,
      });
  }
}
