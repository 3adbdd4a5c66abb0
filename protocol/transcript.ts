import { createHash } from 'node:crypto';
import { fromHex } from '../attestation/bytes.js';
import { sessionFail } from './errors.js';

/*
 * Handshake transcript (ARCHITECTURE.md, "Attested session"). Like Noise's handshake hash h, every
 * field either side sends is absorbed in order with its length, so no two different handshakes share
 * a hash. Two stages:
 *   bindingHash = H(LABEL ‖ each field of ClientHello and ServerHello except evidence and signature)
 *   transcriptHash = H(LABEL_FULL ‖ bindingHash ‖ H(evidence bundle))
 * Fresh mode puts bindingHash into REPORTDATA (the evidence cannot commit to a hash of itself); the
 * identity key signs transcriptHash, and transcriptHash salts the key derivation.
 */
export const PROTOCOL_VERSION = 1;
const LABEL = 'defaas/session/v1/transcript';
const LABEL_FULL = 'defaas/session/v1/transcript+evidence';

export type SessionMode = 'normal' | 'fresh';

/** Per-call limits the executor enforces (LeaseTerms.limits); all sizes in bytes. */
export interface LimitsFields {
  readonly memoryBytes: bigint;
  readonly wallTimeMs: number;
  readonly maxInputBytes: bigint;
  readonly maxOutputBytes: bigint;
  readonly maxStderrBytes: bigint;
  readonly maxMessageBytes: bigint;
}

export interface LeaseTermsFields {
  readonly leaseId: bigint;
  readonly chainId: bigint;
  /** 0x-hex, 20 bytes. */
  readonly verifyingContract: string;
  readonly pricePerCall: bigint;
  readonly batchMaxCalls: number;
  readonly batchMaxMillis: number;
  readonly limits: LimitsFields;
}

export interface HandshakeFields {
  readonly version: number;
  readonly clientEphemeral: Uint8Array;
  readonly clientNonce: Uint8Array;
  readonly mode: SessionMode;
  readonly sessionId: Uint8Array;
  readonly serverEphemeral: Uint8Array;
  readonly tee: string;
  /** 0x-hex, 20 bytes (case ignored). */
  readonly identityAddress: string;
  readonly staticX25519: Uint8Array;
  readonly terms: LeaseTermsFields;
  readonly expiresInMs: bigint;
}

class Absorber {
  private readonly h = createHash('sha256');
  constructor(label: string) {
    this.bytes(new TextEncoder().encode(label));
  }
  bytes(b: Uint8Array): this {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    this.h.update(len);
    this.h.update(b);
    return this;
  }
  text(s: string): this {
    return this.bytes(new TextEncoder().encode(s));
  }
  u64(v: bigint): this {
    if (v < 0n || v >= 1n << 64n) sessionFail('HANDSHAKE_MALFORMED', `value ${v} is not a uint64`);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return this.bytes(b);
  }
  digest(): Uint8Array {
    return new Uint8Array(this.h.digest());
  }
}

export function bindingHash(f: HandshakeFields): Uint8Array {
  const addr = fromHex(f.identityAddress, 'identity address');
  if (addr.length !== 20) sessionFail('HANDSHAKE_MALFORMED', 'identity address must be 20 bytes');
  const contract = fromHex(f.terms.verifyingContract, 'verifying contract');
  if (contract.length !== 20) sessionFail('HANDSHAKE_MALFORMED', 'verifying contract must be 20 bytes');
  return new Absorber(LABEL)
    .u64(BigInt(f.version))
    .bytes(f.clientEphemeral)
    .bytes(f.clientNonce)
    .text(f.mode)
    .bytes(f.sessionId)
    .bytes(f.serverEphemeral)
    .text(f.tee)
    .bytes(addr)
    .bytes(f.staticX25519)
    .text(f.terms.leaseId.toString())
    .u64(f.terms.chainId)
    .bytes(contract)
    .text(f.terms.pricePerCall.toString())
    .u64(BigInt(f.terms.batchMaxCalls))
    .u64(BigInt(f.terms.batchMaxMillis))
    .u64(f.terms.limits.memoryBytes)
    .u64(BigInt(f.terms.limits.wallTimeMs))
    .u64(f.terms.limits.maxInputBytes)
    .u64(f.terms.limits.maxOutputBytes)
    .u64(f.terms.limits.maxStderrBytes)
    .u64(f.terms.limits.maxMessageBytes)
    .u64(f.expiresInMs)
    .digest();
}

export function transcriptHash(binding: Uint8Array, evidenceBundle: Uint8Array): Uint8Array {
  const evHash = createHash('sha256').update(evidenceBundle).digest();
  return new Absorber(LABEL_FULL).bytes(binding).bytes(evHash).digest();
}
