import { randomBytes } from 'node:crypto';
import { type EnclaveRegistration, signRegistration } from '../../protocol/registration.js';
import { addressOfPrivateKey, isPrivateKey } from '../../protocol/secp256k1.js';
import type { TypedDataDomain } from '../../protocol/typed-data.js';
import { generateX25519, type X25519KeyPair } from '../../protocol/x25519.js';

/**
 * The enclave's long-lived keys, created at start inside the TEE and never written out
 * (ARCHITECTURE.md, trust chain step 1): the identity key (secp256k1; its address signs transcripts
 * and receipts and is what contracts `ecrecover`) and the static X25519 key of the handshake.
 */
export interface EnclaveIdentity {
  readonly identityPrivateKey: Uint8Array;
  /** Lower-case 0x address of the identity key. */
  readonly identityAddress: string;
  readonly staticKey: X25519KeyPair;
}

export function generateEnclaveIdentity(): EnclaveIdentity {
  let priv = new Uint8Array(randomBytes(32));
  while (!isPrivateKey(priv)) priv = new Uint8Array(randomBytes(32));
  return {
    identityPrivateKey: priv,
    identityAddress: addressOfPrivateKey(priv),
    staticKey: generateX25519(),
  };
}

/**
 * The enclave's proof of possession for registering it on the Registry: its identity key signs the
 * provider, evidence hash and endpoint under the Registry's EIP-712 domain (protocol/registration.ts).
 * Besides transcripts and receipts this is the only thing the identity key signs, and the typed-data
 * domain keeps it from standing for either.
 */
export function registrationProof(
  identity: EnclaveIdentity,
  registry: TypedDataDomain,
  reg: EnclaveRegistration,
): Uint8Array {
  return signRegistration(registry, reg, identity.identityPrivateKey);
}
