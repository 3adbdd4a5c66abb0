import { hkdfSync } from 'node:crypto';
import { concatBytes } from '../attestation/bytes.js';

const INFO = new TextEncoder().encode('defaas/session/v1/keys');

export interface DirectionalKeys {
  /** Client → server AEAD key (32 bytes). */
  readonly c2s: Uint8Array;
  /** Server → client AEAD key (32 bytes). */
  readonly s2c: Uint8Array;
}

/**
 * HKDF-SHA256 (RFC 5869) over DH(client eph, server eph) ‖ DH(client eph, enclave static), salted with
 * the transcript hash: the NK pattern's "ee" and "es" tokens. Only a holder of the enclave's static
 * key (inside the TEE) and of the server ephemeral key that the identity key signed can derive them.
 */
export function deriveSessionKeys(
  transcript: Uint8Array,
  dhEphemeral: Uint8Array,
  dhStatic: Uint8Array,
): DirectionalKeys {
  const okm = new Uint8Array(hkdfSync('sha256', concatBytes(dhEphemeral, dhStatic), transcript, INFO, 64));
  return { c2s: okm.slice(0, 32), s2c: okm.slice(32, 64) };
}
