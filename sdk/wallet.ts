import { fromHex } from '../attestation/bytes.js';
import { addressOfPrivateKey, isPrivateKey } from '../protocol/secp256k1.js';
import { DefaasError } from './errors.js';

/**
 * The customer wallet that signs vouchers. Anything with a hex `privateKey` works, an ethers
 * `Wallet` included; signing itself goes through libsecp256k1 (tiny-secp256k1), not ethers.
 */
export interface WalletLike {
  readonly privateKey: string;
}

export interface SigningKey {
  readonly privateKey: Uint8Array;
  /** Lower-case 0x address. */
  readonly address: string;
}

const cache = new WeakMap<object, SigningKey>();

export function signingKey(w: WalletLike): SigningKey {
  const hit = cache.get(w);
  if (hit) return hit;
  let priv: Uint8Array;
  try {
    priv = fromHex(w.privateKey, 'wallet private key');
  } catch (e) {
    throw new DefaasError('SDK_INVALID_ARGUMENT', 'wallet private key is not hex', {}, e);
  }
  if (!isPrivateKey(priv))
    throw new DefaasError('SDK_INVALID_ARGUMENT', 'wallet private key is not a secp256k1 key');
  const k = { privateKey: priv, address: addressOfPrivateKey(priv) };
  cache.set(w, k);
  return k;
}
