import { keccak_256 } from '@noble/hashes/sha3.js';
import * as ecc from 'tiny-secp256k1';
import { fromHex, toHex } from '../attestation/bytes.js';

/*
 * secp256k1 on the hot path (transcript signatures, vouchers, receipts) through tiny-secp256k1
 * (libsecp256k1 compiled to WASM: sign ≈0.12–0.34 ms, recover ≈0.26–0.53 ms here). Signatures are
 * Ethereum-style 65 bytes r ‖ s ‖ v with v = 27 + recovery id, low-s (libsecp256k1 always signs
 * low-s), so `ecrecover` and ethers accept them unchanged. Predicates return null / false on a bad
 * signature and throw only on misuse.
 */

/** Checksum-free lower-case Ethereum address of an uncompressed public key (65 bytes, 0x04 ‖ X ‖ Y). */
export function addressOfPublicKey(pub: Uint8Array): string {
  if (pub.length !== 65 || pub[0] !== 4) throw new TypeError('expected a 65-byte uncompressed public key');
  return `0x${toHex(keccak_256(pub.subarray(1)).subarray(12))}`;
}

export function addressOfPrivateKey(priv: Uint8Array): string {
  const pub = ecc.pointFromScalar(priv, false);
  if (!pub) throw new TypeError('invalid secp256k1 private key');
  return addressOfPublicKey(pub);
}

export function isPrivateKey(priv: Uint8Array): boolean {
  return priv.length === 32 && ecc.isPrivate(priv);
}

/** Signs a 32-byte digest; returns r ‖ s ‖ v (v = 27/28). */
export function signDigest(priv: Uint8Array, digest: Uint8Array): Uint8Array {
  if (digest.length !== 32) throw new TypeError('digest must be 32 bytes');
  const { signature, recoveryId } = ecc.signRecoverable(digest, priv);
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = 27 + recoveryId;
  return out;
}

/** The lower-case address that signed `digest`, or null when the signature is malformed or invalid. */
export function recoverDigestSigner(digest: Uint8Array, sig: Uint8Array): string | null {
  if (digest.length !== 32 || sig.length !== 65) return null;
  const v = sig[64]!;
  const recId = v >= 27 ? v - 27 : v;
  if (recId !== 0 && recId !== 1) return null;
  const rs = sig.subarray(0, 64);
  // Reject high-s (malleable) signatures, as ecrecover-based contracts (OpenZeppelin ECDSA) do.
  if (compareBytes(sig.subarray(32, 64), HALF_ORDER) > 0) return null;
  try {
    const pub = ecc.recover(digest, rs, recId as 0 | 1, false);
    return pub ? addressOfPublicKey(pub) : null;
  } catch {
    return null;
  }
}

// floor(n / 2) for the secp256k1 group order n (SEC 2, §2.4.1).
const HALF_ORDER = fromHex('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0');

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
