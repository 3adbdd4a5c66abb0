import { createHash } from 'node:crypto';
import { logFail } from './errors.js';

/**
 * RFC 9162 §2.1.1 hashing with SHA-256 (the hash c2sp.org/tlog-tiles fixes): a leaf is
 * SHA-256(0x00 ‖ entry), an interior node SHA-256(0x01 ‖ left ‖ right), the empty tree SHA-256("").
 *
 * Node hashes dominate proof verification (one per proof step), so `nodeHash` runs SHA-256 on its
 * fixed 65-byte message with a compression function written for exactly two blocks (the second
 * block's schedule precomputed) and no allocation but the result. `npm run bench -- log` measures it
 * against node:crypto `hash()` and @noble/hashes `sha256` on the same 65-byte messages.
 * hash.test.ts checks it against node:crypto on random inputs. Leaf hashes have any length and go
 * through node:crypto.
 */

export const HASH_SIZE = 32;

/** A SHA-256 Merkle tree hash: 32 bytes. */
export type Hash = Uint8Array;

/** MTH({}) = SHA-256() (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Hash = new Uint8Array(createHash('sha256').digest());

const LEAF_PREFIX = new Uint8Array([0x00]);

/** MTH({d}) = SHA-256(0x00 ‖ d) (RFC 9162 §2.1.1). */
export function leafHash(entry: Uint8Array): Hash {
  return new Uint8Array(createHash('sha256').update(LEAF_PREFIX).update(entry).digest());
}

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
// FIPS 180-4 §5.3.3: the initial hash value H(0).
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const W = new Int32Array(64);
const H = new Int32Array(8);

/** The message schedule W[16..63] from W[0..15] (FIPS 180-4 §6.2.2 step 1). */
function schedule(): void {
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (s1 + W[i - 7]! + s0 + W[i - 16]!) | 0;
  }
}

/**
 * The second block of a node message depends only on the last byte of `right` (FIPS 180-4 §5.1.1:
 * that byte, 0x80, zeros, the length 520), so its whole message schedule is precomputed, added to
 * the round constants: KW2[b · 64 + t] = K[t] + W[t] for last byte b.
 */
const KW2 = new Int32Array(256 * 64);
for (let b = 0; b < 256; b++) {
  W[0] = (b << 24) | 0x800000;
  W.fill(0, 1, 15);
  W[15] = 65 * 8;
  schedule();
  for (let t = 0; t < 64; t++) KW2[b * 64 + t] = (K[t]! + W[t]!) | 0;
}

/**
 * The 64 rounds of FIPS 180-4 §6.2.2 steps 2–4 over H, with K[t] + W[t] taken from `kw` at `at`.
 * Unrolled by eight so that the working variables rotate by renaming instead of by moves (each
 * block of eight is the round T1/T2 update with a..h relabelled); measured ≈30 % faster than the
 * plain loop here.
 */
function rounds(kw: Int32Array, at: number): void {
  let a = H[0]!;
  let b = H[1]!;
  let c = H[2]!;
  let d = H[3]!;
  let e = H[4]!;
  let f = H[5]!;
  let g = H[6]!;
  let h = H[7]!;
  for (let i = 0; i < 64; i += 8) {
    h =
      (h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) +
        kw[at + i + 0]!) |
      0;
    d = (d + h) | 0;
    h =
      (h +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) |
      0;
    g =
      (g +
        (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) +
        ((d & e) ^ (~d & f)) +
        kw[at + i + 1]!) |
      0;
    c = (c + g) | 0;
    g =
      (g +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) +
        ((h & a) ^ (h & b) ^ (a & b))) |
      0;
    f =
      (f +
        (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) +
        ((c & d) ^ (~c & e)) +
        kw[at + i + 2]!) |
      0;
    b = (b + f) | 0;
    f =
      (f +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) +
        ((g & h) ^ (g & a) ^ (h & a))) |
      0;
    e =
      (e +
        (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) +
        ((b & c) ^ (~b & d)) +
        kw[at + i + 3]!) |
      0;
    a = (a + e) | 0;
    e =
      (e +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
        ((f & g) ^ (f & h) ^ (g & h))) |
      0;
    d =
      (d +
        (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) +
        ((a & b) ^ (~a & c)) +
        kw[at + i + 4]!) |
      0;
    h = (h + d) | 0;
    d =
      (d +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) +
        ((e & f) ^ (e & g) ^ (f & g))) |
      0;
    c =
      (c +
        (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) +
        ((h & a) ^ (~h & b)) +
        kw[at + i + 5]!) |
      0;
    g = (g + c) | 0;
    c =
      (c +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) +
        ((d & e) ^ (d & f) ^ (e & f))) |
      0;
    b =
      (b +
        (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) +
        ((g & h) ^ (~g & a)) +
        kw[at + i + 6]!) |
      0;
    f = (f + b) | 0;
    b =
      (b +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) +
        ((c & d) ^ (c & e) ^ (d & e))) |
      0;
    a =
      (a +
        (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) +
        ((f & g) ^ (~f & h)) +
        kw[at + i + 7]!) |
      0;
    e = (e + a) | 0;
    a =
      (a +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) +
        ((b & c) ^ (b & d) ^ (c & d))) |
      0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

const KW1 = new Int32Array(64);

function word(x: Uint8Array, j: number): number {
  return (x[j]! << 24) | (x[j + 1]! << 16) | (x[j + 2]! << 8) | x[j + 3]!;
}

/**
 * SHA-256(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1). The 65-byte message fills two blocks (FIPS 180-4
 * §5.1.1): block 1 is 0x01, left, and the first 31 bytes of right; block 2 is the last byte of right,
 * the 0x80 padding byte, zeros, and the bit length 520 in the last word.
 */
export function nodeHash(left: Hash, right: Hash): Hash {
  return nodeHashInto(left, right, new Uint8Array(HASH_SIZE));
}

/**
 * `nodeHash` written into `out` (which may be `left` or `right`: both are read before `out` is
 * written), so that proof verification allocates nothing per step.
 */
export function nodeHashInto(left: Hash, right: Hash, out: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE || out.length !== HASH_SIZE)
    logFail('LOG_INVALID_ARGUMENT', `node hash children must be ${HASH_SIZE} bytes`, {
      left: left.length,
      right: right.length,
    });
  H.set(IV);
  W[0] = 0x01000000 | (left[0]! << 16) | (left[1]! << 8) | left[2]!;
  for (let i = 1; i < 8; i++) W[i] = word(left, 4 * i - 1);
  W[8] = (left[31]! << 24) | (right[0]! << 16) | (right[1]! << 8) | right[2]!;
  for (let i = 9; i < 16; i++) W[i] = word(right, 4 * (i - 8) - 1);
  schedule();
  for (let t = 0; t < 64; t++) KW1[t] = (K[t]! + W[t]!) | 0;
  rounds(KW1, 0);
  rounds(KW2, right[31]! * 64);
  for (let i = 0; i < 8; i++) {
    const v = H[i]!;
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = v >>> 16;
    out[4 * i + 2] = v >>> 8;
    out[4 * i + 3] = v;
  }
  return out;
}

/** Byte equality of two hashes (not constant-time: hashes here are public). */
export function hashEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
