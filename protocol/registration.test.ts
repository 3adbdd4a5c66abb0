import { getAddress, getBytes, keccak256, toUtf8Bytes } from 'ethers';
import { describe, expect, it } from 'vitest';
import {
  type EnclaveRegistration,
  recoverRegistrationSigner,
  registrationDigest,
  signRegistration,
} from './registration.js';
import { addressOfPrivateKey } from './secp256k1.js';

const registry = {
  chainId: 31337n,
  verifyingContract: getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
};
const reg: EnclaveRegistration = {
  provider: getAddress('0x70997970c51812dc3a010c7d01b50e0d17dc79c8'),
  evidenceHash: keccak256(toUtf8Bytes('evidence')),
  endpoint: '127.0.0.1:7000',
};

describe('enclave registration proof', () => {
  it('recovers to the enclave identity for exactly the signed provider, evidence, endpoint, chain and registry', () => {
    const key = getBytes(keccak256(toUtf8Bytes('enclave key')));
    const enclave = addressOfPrivateKey(key);
    const sig = signRegistration(registry, reg, key);
    expect(recoverRegistrationSigner(registry, reg, sig)).toBe(enclave);
    const others: [typeof registry, EnclaveRegistration][] = [
      [registry, { ...reg, provider: getAddress('0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc') }],
      [registry, { ...reg, evidenceHash: keccak256(toUtf8Bytes('other')) }],
      [registry, { ...reg, endpoint: '127.0.0.1:7001' }],
      [{ ...registry, chainId: 1n }, reg],
      [{ ...registry, verifyingContract: getAddress('0x00000000000000000000000000000000000d3fa5') }, reg],
    ];
    for (const [d, r] of others) {
      expect(registrationDigest(d, r)).not.toBe(registrationDigest(registry, reg));
      expect(recoverRegistrationSigner(d, r, sig)).not.toBe(enclave);
    }
  });

  it('returns null for a malformed signature', () => {
    expect(recoverRegistrationSigner(registry, reg, new Uint8Array(64))).toBeNull();
  });
});
