import { getBytes, TypedDataEncoder } from 'ethers';
import { recoverDigestSigner, signDigest } from './secp256k1.js';
import type { TypedDataDomain } from './typed-data.js';

/*
 * The enclave's proof of possession for the Registry (docs/contracts.md, "Registry"): the enclave
 * identity key signs the EIP-712 `EnclaveRegistration` of the provider that registers it, with the
 * evidence hash and endpoint it registers. The domain ("defaas Registry", version "1", chain id, the
 * Registry's address) binds the proof to one chain and one registry, so it cannot be replayed to
 * register the enclave elsewhere or for another provider.
 */

export const REGISTRY_DOMAIN_NAME = 'defaas Registry';
export const REGISTRY_DOMAIN_VERSION = '1';

export const REGISTRATION_TYPES = {
  EnclaveRegistration: [
    { name: 'provider', type: 'address' },
    { name: 'evidenceHash', type: 'bytes32' },
    { name: 'endpoint', type: 'string' },
  ],
} as const;

export interface EnclaveRegistration {
  /** The provider account that sends the registration transaction. */
  readonly provider: string;
  /** 0x 32-byte hash of the attestation evidence registered with the executor. */
  readonly evidenceHash: string;
  readonly endpoint: string;
}

export function registrationDigest(domain: TypedDataDomain, reg: EnclaveRegistration): string {
  return TypedDataEncoder.hash(
    {
      name: REGISTRY_DOMAIN_NAME,
      version: REGISTRY_DOMAIN_VERSION,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract,
    },
    { EnclaveRegistration: [...REGISTRATION_TYPES.EnclaveRegistration] },
    reg,
  );
}

/** The 65-byte signature (r ‖ s ‖ v) by the enclave identity key `priv`. */
export function signRegistration(
  domain: TypedDataDomain,
  reg: EnclaveRegistration,
  priv: Uint8Array,
): Uint8Array {
  return signDigest(priv, getBytes(registrationDigest(domain, reg)));
}

/** Lower-case signer address, or null when the signature is invalid. */
export function recoverRegistrationSigner(
  domain: TypedDataDomain,
  reg: EnclaveRegistration,
  signature: Uint8Array,
): string | null {
  return recoverDigestSigner(getBytes(registrationDigest(domain, reg)), signature);
}
