import { createHash } from 'node:crypto';
import { logFail } from './errors.js';

/*
 * Content addresses of the blobs stored beside the log (evidence bundles, witness records), in the one
 * form IPFS tooling can fetch and check without us: CIDv1 (multiformats CID spec), codec `raw` (0x55,
 * multicodec table), multihash sha2-256 (code 0x12, digest length 0x20), written in multibase base32
 * lower case without padding (prefix "b"). The binary CID is the 36 bytes
 * 0x01 ‖ 0x55 ‖ 0x12 ‖ 0x20 ‖ SHA-256(blob); every varint here is one byte, so the prefix is fixed.
 * The block behind a raw CID is the blob itself, so a Trustless Gateway response
 * (application/vnd.ipld.raw) is the stored bytes.
 */

const PREFIX = Uint8Array.of(0x01, 0x55, 0x12, 0x20);
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** "b" + base32 of 36 bytes (288 bits → 58 characters, the last carrying 3 bits). */
const CID_LENGTH = 59;

/** The CID string of `blob`. */
export function cidOf(blob: Uint8Array): string {
  return cidFromDigest(createHash('sha256').update(blob).digest());
}

/** The CID string for a SHA-256 digest of a raw blob. */
export function cidFromDigest(digest: Uint8Array): string {
  if (digest.length !== 32) logFail('LOG_INVALID_ARGUMENT', 'a sha2-256 digest is 32 bytes');
  const bytes = new Uint8Array(36);
  bytes.set(PREFIX, 0);
  bytes.set(digest, 4);
  let out = 'b';
  let acc = 0;
  let bits = 0;
  for (const x of bytes) {
    acc = ((acc << 8) | x) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * The SHA-256 digest a CID string names. Only the form `cidOf` writes is accepted: CIDv1, raw,
 * sha2-256, base32 lower case, canonical (the unused low bits of the last character zero); anything
 * else — CIDv0, other codecs or hashes, other multibases, upper case — is LOG_CID_MALFORMED.
 */
export function parseCid(text: string): Uint8Array {
  const bad = (why: string): never => logFail('LOG_CID_MALFORMED', `CID ${why}`, { cid: text.slice(0, 80) });
  if (text.length !== CID_LENGTH || text[0] !== 'b')
    bad('is not a base32 CIDv1 of a raw sha2-256 block (b + 58 characters)');
  const bytes = new Uint8Array(36);
  let acc = 0;
  let bits = 0;
  let k = 0;
  for (let i = 1; i < text.length; i++) {
    const v = ALPHABET.indexOf(text[i]!);
    if (v < 0) bad(`has a character outside lower-case base32 at ${i}`);
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bytes[k++] = (acc >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) bad('is not canonical (non-zero padding bits)');
  for (let i = 0; i < PREFIX.length; i++)
    if (bytes[i] !== PREFIX[i])
      bad('is not CIDv1 with codec raw (0x55) and multihash sha2-256 (0x12, 32 bytes)');
  return bytes.subarray(4);
}

/** Checks that `blob` is the block `cid` names; LOG_BLOB_MISMATCH otherwise. */
export function checkBlob(cid: string, blob: Uint8Array): void {
  const want = parseCid(cid);
  const got = createHash('sha256').update(blob).digest();
  if (!got.equals(want))
    logFail('LOG_BLOB_MISMATCH', 'blob does not hash to its CID', { cid, bytes: blob.length });
}
