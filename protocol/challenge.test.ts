import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { TypedDataEncoder, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../attestation/bytes.js';
import {
  CHALLENGE_COMMITMENT_TYPES,
  type ChallengeCommitmentFields,
  challengeCommitmentDigest,
  challengeCommitmentSigner,
  challengeCommitmentValue,
  challengeRequestDigest,
  challengeRequestSigner,
  challengeResultHash,
  commitmentFromWire,
  commitmentToWire,
  fromInt32LE,
  int32LE,
  merklePath,
  merkleRoot,
  rowLeafHash,
  rowLeaves,
  signChallengeCommitment,
  signChallengeRequest,
  verifyMerklePath,
} from './challenge.js';
import { isSessionError } from './errors.js';
import { addressOfPrivateKey } from './secp256k1.js';
import { eip712Domain } from './typed-data.js';

const ENC = new TextEncoder();
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const domain = { chainId: 31337n, verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3' };
const priv = fromHex('4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318');

describe('challenge request digest', () => {
  const req = { leaseId: 7n, id: bytes(32, 1), seed: bytes(32, 2), n: 128, cls: 1 };
  const sid = bytes(16, 9);

  it('is keccak256 over the documented layout (vector)', () => {
    const lease = new Uint8Array(32);
    lease[31] = 7;
    const msg = new Uint8Array([
      ...ENC.encode('defaas/challenge-request/v1'),
      ...sid,
      ...lease,
      ...req.id,
      ...req.seed,
      0,
      0,
      0,
      128,
      1,
    ]);
    expect(toHex(challengeRequestDigest(sid, req))).toBe(toHex(keccak_256(msg)));
  });

  it('recovers the witness, and no one else for any changed field or session', () => {
    const proof = signChallengeRequest(priv, sid, req);
    const me = addressOfPrivateKey(priv);
    expect(challengeRequestSigner(proof, sid, req)).toBe(me);
    expect(challengeRequestSigner(proof, bytes(16, 8), req)).not.toBe(me);
    for (const changed of [
      { ...req, leaseId: 8n },
      { ...req, id: bytes(32, 3) },
      { ...req, seed: bytes(32, 3) },
      { ...req, n: 129 },
      { ...req, cls: 0 },
    ])
      expect(challengeRequestSigner(proof, sid, changed)).not.toBe(me);
  });
});

describe('H_C', () => {
  it('is SHA-256 over prefix ‖ id ‖ n BE ‖ C int32 LE (vector)', () => {
    const c = Int32Array.of(1, -2, 3, 0x01020304);
    const id = bytes(32, 5);
    const msg = new Uint8Array([
      ...ENC.encode('defaas/challenge/result/v1'),
      ...id,
      0,
      0,
      0,
      2,
      1,
      0,
      0,
      0,
      0xfe,
      0xff,
      0xff,
      0xff,
      3,
      0,
      0,
      0,
      4,
      3,
      2,
      1,
    ]);
    expect(toHex(challengeResultHash(id, 2, c))).toBe(toHex(sha256(msg)));
    expect(fromInt32LE(int32LE(c))).toEqual(c);
  });

  it('changes with any entry, the id or n', () => {
    const c = Int32Array.of(1, 2, 3, 4);
    const h = toHex(challengeResultHash(bytes(32, 5), 2, c));
    expect(toHex(challengeResultHash(bytes(32, 6), 2, c))).not.toBe(h);
    expect(toHex(challengeResultHash(bytes(32, 5), 2, Int32Array.of(1, 2, 3, 5)))).not.toBe(h);
    expect(toHex(challengeResultHash(bytes(32, 5), 1, Int32Array.of(1)))).not.toBe(h);
  });
});

describe('row Merkle tree', () => {
  it('has the RFC 9162 shape (vectors for 1, 2, 3 leaves)', () => {
    const l = [0, 1, 2].map((i) => rowLeafHash(Uint8Array.of(i)));
    const node = (a: Uint8Array, b: Uint8Array) => sha256(new Uint8Array([1, ...a, ...b]));
    expect(toHex(l[0]!)).toBe(toHex(sha256(Uint8Array.of(0, 0))));
    expect(toHex(merkleRoot(l.slice(0, 1)))).toBe(toHex(l[0]!));
    expect(toHex(merkleRoot(l.slice(0, 2)))).toBe(toHex(node(l[0]!, l[1]!)));
    expect(toHex(merkleRoot(l))).toBe(toHex(node(node(l[0]!, l[1]!), l[2]!)));
  });

  it('a path verifies only its own row at its own index under its root', () => {
    for (const size of [1, 2, 3, 5, 7, 8, 13, 33]) {
      const n = size;
      const c = new Int32Array(n * n).map((_, i) => i * 7919);
      const leaves = rowLeaves(n, c);
      const root = merkleRoot(leaves);
      const otherRoot = merkleRoot(
        rowLeaves(
          n,
          c.map((x) => x + 1),
        ),
      );
      for (let i = 0; i < size; i++) {
        const path = merklePath(leaves, i);
        expect(verifyMerklePath(i, size, leaves[i]!, path, root)).toBe(true);
        expect(verifyMerklePath(i, size, leaves[i]!, path, otherRoot)).toBe(false);
        if (size > 1) {
          const j = (i + 1) % size;
          expect(verifyMerklePath(i, size, leaves[j]!, path, root)).toBe(false);
          expect(verifyMerklePath(j, size, leaves[i]!, path, root)).toBe(false);
          const bad = int32LE(c.slice(i * n, (i + 1) * n)).slice();
          bad[0]! ^= 1;
          expect(verifyMerklePath(i, size, rowLeafHash(bad), path, root)).toBe(false);
          expect(verifyMerklePath(i, size, leaves[i]!, path.slice(1), root)).toBe(false);
        }
      }
    }
  });
});

describe('ChallengeCommitment (EIP-712)', () => {
  const c: ChallengeCommitmentFields = {
    leaseId: 123n,
    witness: '0x00000000000000000000000000000000000000aa',
    id: bytes(32, 1),
    seed: bytes(32, 2),
    n: 2048,
    cls: 1,
    resultHash: bytes(32, 3),
    rowsRoot: bytes(32, 4),
  };

  it('the digest equals ethers TypedDataEncoder and the signature recovers the enclave', async () => {
    const expected = TypedDataEncoder.hash(
      eip712Domain(domain),
      { ChallengeCommitment: [...CHALLENGE_COMMITMENT_TYPES.ChallengeCommitment] },
      challengeCommitmentValue(c),
    );
    expect(`0x${toHex(challengeCommitmentDigest(domain, c))}`).toBe(expected);
    const sig = signChallengeCommitment(domain, c, priv);
    expect(challengeCommitmentSigner(domain, c, sig)).toBe(addressOfPrivateKey(priv));
    const w = new Wallet(`0x${toHex(priv)}`);
    const ethersSig = await w.signTypedData(
      eip712Domain(domain),
      { ChallengeCommitment: [...CHALLENGE_COMMITMENT_TYPES.ChallengeCommitment] },
      challengeCommitmentValue(c),
    );
    expect(challengeCommitmentSigner(domain, c, fromHex(ethersSig.slice(2)))).toBe(addressOfPrivateKey(priv));
  });

  it('a signature does not verify for another seed, n, id, witness, lease, hash or domain', () => {
    const sig = signChallengeCommitment(domain, c, priv);
    const me = addressOfPrivateKey(priv);
    for (const other of [
      { ...c, seed: bytes(32, 9) },
      { ...c, n: 2047 },
      { ...c, id: bytes(32, 9) },
      { ...c, witness: '0x00000000000000000000000000000000000000ab' },
      { ...c, leaseId: 124n },
      { ...c, resultHash: bytes(32, 9) },
      { ...c, rowsRoot: bytes(32, 9) },
    ])
      expect(challengeCommitmentSigner(domain, other, sig)).not.toBe(me);
    expect(challengeCommitmentSigner({ ...domain, chainId: 1n }, c, sig)).not.toBe(me);
  });

  it('round-trips through the wire and parses strictly', () => {
    const signed = { ...c, computedMs: 12, signature: signChallengeCommitment(domain, c, priv) };
    const w = commitmentToWire(signed);
    const back = commitmentFromWire(w as never);
    expect(back.n).toBe(2048);
    expect(toHex(back.rowsRoot)).toBe(toHex(c.rowsRoot));
    const bad = (patch: object) => {
      try {
        commitmentFromWire({ ...w, ...patch } as never);
        return 'parsed';
      } catch (e) {
        return isSessionError(e) ? e.code : String(e);
      }
    };
    expect(bad({ rowsRoot: Buffer.alloc(32) })).toBe('CHALLENGE_MALFORMED');
    expect(bad({ n: 0 })).toBe('CHALLENGE_MALFORMED');
    expect(bad({ n: 5000 })).toBe('CHALLENGE_MALFORMED');
    expect(bad({ class: 'CHALLENGE_CLASS_UNSPECIFIED' })).toBe('CHALLENGE_MALFORMED');
    expect(bad({ id: randomBytes(31) })).toBe('CHALLENGE_MALFORMED');
    expect(bad({ n: 64 })).toBe('CHALLENGE_MALFORMED'); // nonzero root below rows mode
  });
});
