import { keccak_256 } from '@noble/hashes/sha3.js';
import { recoverDigestSigner, signDigest } from './secp256k1.js';

/*
 * Client binding: the customer's wallet signs, once per session, that this session may act for it
 * on a lease. Batched calls carry no signature of their own until their batch's voucher, so without
 * this any session could name any wallet as its client: spend that wallet's nonces and its
 * uncovered-call allowance (making its own calls wait for VOUCHER_REQUIRED), and get a batch served
 * per made-up address. The signature is over
 *   keccak256("defaas/client-binding/v1" ‖ session id ‖ lease id as uint256, big-endian)
 * (a raw 32-byte digest; the ASCII prefix keeps it apart from EIP-712 digests, which start 0x1901,
 * and from transactions). The session id is fresh per session (16 random bytes from the executor),
 * so a binding cannot be replayed into another session.
 */

const PREFIX = new TextEncoder().encode('defaas/client-binding/v1');

export function clientBindingDigest(sessionId: Uint8Array, leaseId: bigint): Uint8Array {
  if (leaseId < 0n || leaseId >= 1n << 256n) throw new RangeError('lease id must be a uint256');
  const lease = new Uint8Array(32);
  let x = leaseId;
  for (let i = 31; i >= 0 && x > 0n; i--, x >>= 8n) lease[i] = Number(x & 0xffn);
  const msg = new Uint8Array(PREFIX.length + sessionId.length + 32);
  msg.set(PREFIX, 0);
  msg.set(sessionId, PREFIX.length);
  msg.set(lease, PREFIX.length + sessionId.length);
  return keccak_256(msg);
}

/** The 65-byte proof (r ‖ s ‖ v) the wallet key `priv` gives for this session and lease. */
export function signClientBinding(priv: Uint8Array, sessionId: Uint8Array, leaseId: bigint): Uint8Array {
  return signDigest(priv, clientBindingDigest(sessionId, leaseId));
}

/** The lower-case address that signed the proof, or null when it is malformed or invalid. */
export function clientBindingSigner(
  proof: Uint8Array,
  sessionId: Uint8Array,
  leaseId: bigint,
): string | null {
  return recoverDigestSigner(clientBindingDigest(sessionId, leaseId), proof);
}
