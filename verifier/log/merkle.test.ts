import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLogError } from './errors.js';
import { EMPTY_ROOT, type Hash, leafHash } from './hash.js';
import {
  checkConsistency,
  checkInclusion,
  consistencyProof,
  type HashReader,
  inclusionProof,
  MerkleFrontier,
  type NodeId,
  rootFromLeafHashes,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

// --- the reference: RFC 9162 §2.1.1–2.1.4 written as directly as possible, on node:crypto ---

const sha = (...parts: Uint8Array[]): Hash => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const refNode = (l: Hash, r: Hash) => sha(Uint8Array.of(1), l, r);
const kOf = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

/** MTH(D[n]) over leaf hashes (§2.1.1). */
function refMth(d: readonly Hash[]): Hash {
  if (d.length === 0) return sha();
  if (d.length === 1) return d[0]!;
  const k = kOf(d.length);
  return refNode(refMth(d.slice(0, k)), refMth(d.slice(k)));
}

/** PATH(m, D[n]) (§2.1.3.1). */
function refPath(m: number, d: readonly Hash[]): Hash[] {
  if (d.length === 1) return [];
  const k = kOf(d.length);
  return m < k
    ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}

/** For each element of PATH(m, D[n]), leaf up: is the sibling on the left? */
function refSides(m: number, n: number): boolean[] {
  if (n === 1) return [];
  const k = kOf(n);
  return m < k ? [...refSides(m, k), false] : [...refSides(m - k, n - k), true];
}

/** SUBPROOF(m, D[n], b) (§2.1.4.1). */
function refSubproof(m: number, d: readonly Hash[], b: boolean): Hash[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const k = kOf(d.length);
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}

/** A store of every perfect subtree hash, filled through MerkleFrontier as a log would. */
function memoryTree(leaves: readonly Hash[]): HashReader & { nodes: Map<string, Hash> } {
  const nodes = new Map<string, Hash>();
  const f = new MerkleFrontier();
  for (const l of leaves) for (const n of f.append(l)) nodes.set(`${n.level}/${n.index}`, n.hash);
  return {
    nodes,
    readHashes: (ids: readonly NodeId[]) =>
      ids.map((id) => {
        const h = nodes.get(`${id.level}/${id.index}`);
        if (h === undefined) throw new Error(`not stored: ${id.level}/${id.index}`);
        return h;
      }),
  };
}

const leavesOf = (n: number, salt: number): Hash[] =>
  Array.from({ length: n }, (_, i) => leafHash(new TextEncoder().encode(`${salt}:${i}`)));

const flip = (h: Hash, bit = 0): Hash => {
  const c = h.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};

// --- published vectors ---

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

describe('RFC 9162 hashing: transparency-dev/merkle testonly vectors', () => {
  const inputs = [
    '',
    '00',
    '10',
    '2021',
    '3031',
    '40414243',
    '5051525354555657',
    '606162636465666768696a6b6c6d6e6f',
  ];
  const roots = [
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];
  const leaves = inputs.map((h) => leafHash(hex(h)));

  it('roots of the trees of sizes 0 to 8', () => {
    expect(Buffer.from(EMPTY_ROOT).toString('hex')).toBe(roots[0]);
    for (let n = 0; n <= 8; n++)
      expect(Buffer.from(rootFromLeafHashes(leaves.slice(0, n))).toString('hex')).toBe(roots[n]);
  });

  it('the stored tree hash from a hash reader', async () => {
    const store = memoryTree(leaves);
    for (let n = 0; n <= 8; n++) expect(Buffer.from(await treeHash(n, store)).toString('hex')).toBe(roots[n]);
  });

  it('sumdb tlog: the leaf hash of "hello world" (golang.org/x/mod sumdb/tlog note_test.go)', () => {
    expect(Buffer.from(leafHash(new TextEncoder().encode('hello world'))).toString('base64')).toBe(
      'TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=',
    );
  });
});

describe('RFC 9162 verification: transparency-dev/merkle testdata (inclusion and consistency)', () => {
  const vectors = JSON.parse(
    readFileSync(new URL('./testdata/merkle-vectors.json', import.meta.url), 'utf8'),
  ) as {
    inclusion: Array<{
      file: string;
      leafIdx: number | string;
      treeSize: number | string;
      root: string;
      leafHash: string;
      proof: string[] | null;
      wantErr: boolean;
    }>;
    consistency: Array<{
      file: string;
      size1: number | string;
      size2: number | string;
      root1: string;
      root2: string;
      proof: string[] | null;
      wantErr: boolean;
    }>;
  };
  /** A verification that throws on an out-of-range argument counts as a refusal. */
  const accepts = (f: () => boolean) => {
    try {
      return f();
    } catch (e) {
      if (isLogError(e, 'LOG_INVALID_ARGUMENT')) return false;
      throw e;
    }
  };

  it(`all ${vectors.inclusion.length} inclusion vectors`, () => {
    for (const v of vectors.inclusion) {
      const ok = accepts(() =>
        verifyInclusion(
          Number(v.leafIdx),
          Number(v.treeSize),
          b64(v.leafHash),
          (v.proof ?? []).map(b64),
          b64(v.root),
        ),
      );
      expect({ file: v.file, ok }).toEqual({ file: v.file, ok: !v.wantErr });
    }
  });

  it(`all ${vectors.consistency.length} consistency vectors`, () => {
    for (const v of vectors.consistency) {
      const ok = accepts(() =>
        verifyConsistency(
          Number(v.size1),
          Number(v.size2),
          (v.proof ?? []).map(b64),
          b64(v.root1),
          b64(v.root2),
        ),
      );
      expect({ file: v.file, ok }).toEqual({ file: v.file, ok: !v.wantErr });
    }
  });
});

// --- properties against the reference ---

const treeArb = fc.record({ n: fc.integer({ min: 1, max: 300 }), salt: fc.nat() });

describe('Merkle tree against the naive RFC 9162 reference', () => {
  it('roots, inclusion proofs and consistency proofs equal the reference', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb, fc.nat(), fc.nat(), async ({ n, salt }, a, b) => {
        const leaves = leavesOf(n, salt);
        const store = memoryTree(leaves);
        const size = 1 + (a % n);
        const index = b % size;
        expect(await treeHash(size, store)).toEqual(refMth(leaves.slice(0, size)));
        expect(await inclusionProof(index, size, store)).toEqual(refPath(index, leaves.slice(0, size)));
        const oldSize = 1 + (b % size);
        const want = oldSize === size ? [] : refSubproof(oldSize, leaves.slice(0, size), true);
        expect(await consistencyProof(oldSize, size, store)).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });

  it('every inclusion proof verifies; an altered hash, index, size or root fails', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb, fc.nat(), fc.nat(), fc.nat(), async ({ n, salt }, a, b, bit) => {
        const leaves = leavesOf(n, salt);
        const store = memoryTree(leaves);
        const size = 1 + (a % n);
        const index = b % size;
        const root = refMth(leaves.slice(0, size));
        const leaf = leaves[index]!;
        const proof = await inclusionProof(index, size, store);
        expect(verifyInclusion(index, size, leaf, proof, root)).toBe(true);
        expect(() => checkInclusion(index, size, leaf, proof, root)).not.toThrow();
        expect(verifyInclusion(index, size, flip(leaf, bit % 256), proof, root)).toBe(false);
        expect(verifyInclusion(index, size, leaf, proof, flip(root, bit % 256))).toBe(false);
        for (let i = 0; i < proof.length; i++) {
          const bad = proof.slice();
          bad[i] = flip(bad[i]!, bit % 256);
          expect(verifyInclusion(index, size, leaf, bad, root)).toBe(false);
        }
        expect(verifyInclusion(index, size, leaf, [...proof, leaf], root)).toBe(false);
        if (proof.length > 0) expect(verifyInclusion(index, size, leaf, proof.slice(1), root)).toBe(false);
        for (const other of [index + 1, index - 1, index ^ 1, size])
          if (other >= 0 && other !== index && leaves[other] !== undefined)
            expect(verifyInclusion(other, size, leaf, proof, root)).toBe(false);
        // The algorithm sees the size only through the path's shape: under the same root, another
        // size passes exactly when its path has the same sides (the checkpoint signature binds the
        // root to the size). Under that size's own root, only that size's own proof passes.
        for (const otherSize of [size + 1, size - 1, size * 2])
          if (otherSize > index && otherSize !== size) {
            const sameShape =
              JSON.stringify(refSides(index, otherSize)) === JSON.stringify(refSides(index, size));
            expect(verifyInclusion(index, otherSize, leaf, proof, root)).toBe(sameShape);
            if (otherSize <= n) {
              const otherRoot = refMth(leaves.slice(0, otherSize));
              const same =
                JSON.stringify(refPath(index, leaves.slice(0, otherSize))) === JSON.stringify(proof);
              expect(verifyInclusion(index, otherSize, leaf, proof, otherRoot)).toBe(same);
            }
          }
        try {
          checkInclusion(index, size, leaf, proof, flip(root));
          expect.unreachable();
        } catch (e) {
          expect(isLogError(e, 'LOG_PROOF_INVALID')).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('every consistency proof verifies; an altered hash, size or root fails', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb, fc.nat(), fc.nat(), fc.nat(), async ({ n, salt }, a, b, bit) => {
        const leaves = leavesOf(n, salt);
        const store = memoryTree(leaves);
        const size = 1 + (a % n);
        const oldSize = 1 + (b % size);
        const root = refMth(leaves.slice(0, size));
        const oldRoot = refMth(leaves.slice(0, oldSize));
        const proof = await consistencyProof(oldSize, size, store);
        expect(verifyConsistency(oldSize, size, proof, oldRoot, root)).toBe(true);
        expect(verifyConsistency(oldSize, size, proof, flip(oldRoot, bit % 256), root)).toBe(false);
        expect(verifyConsistency(oldSize, size, proof, oldRoot, flip(root, bit % 256))).toBe(false);
        for (let i = 0; i < proof.length; i++) {
          const bad = proof.slice();
          bad[i] = flip(bad[i]!, bit % 256);
          expect(verifyConsistency(oldSize, size, bad, oldRoot, root)).toBe(false);
        }
        expect(verifyConsistency(oldSize, size, [...proof, root], oldRoot, root)).toBe(false);
        if (proof.length > 0)
          expect(verifyConsistency(oldSize, size, proof.slice(1), oldRoot, root)).toBe(false);
        // Under the altered sizes' own roots, only their own proof passes (see the inclusion case).
        for (const [o, s] of [
          [oldSize + 1, size],
          [oldSize - 1, size],
          [oldSize, size + 1],
          [oldSize, size - 1],
        ] as const)
          if (o >= 1 && o <= s && s <= n && (o !== oldSize || s !== size)) {
            const own = o === s ? [] : refSubproof(o, leaves.slice(0, s), true);
            const same = JSON.stringify(own) === JSON.stringify(proof);
            const [oRoot, sRoot] = [refMth(leaves.slice(0, o)), refMth(leaves.slice(0, s))];
            expect(verifyConsistency(o, s, proof, oRoot, sRoot)).toBe(same);
          }
        try {
          checkConsistency(oldSize, size, proof, oldRoot, flip(root));
          expect.unreachable();
        } catch (e) {
          expect(isLogError(e, 'LOG_INCONSISTENT')).toBe(true);
          expect((e as { info: Record<string, unknown> }).info).toHaveProperty('oldRoot');
          expect((e as { info: Record<string, unknown> }).info).toHaveProperty('newRoot');
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('MerkleFrontier', () => {
  it('restored from its nodes, it continues to the same roots', () => {
    const leaves = Array.from({ length: 100 }, () => new Uint8Array(randomBytes(32)));
    const a = new MerkleFrontier();
    for (const l of leaves.slice(0, 37)) a.append(l);
    const b = MerkleFrontier.fromHashes(
      37,
      a.nodes.map((n) => n.hash),
    );
    for (const l of leaves.slice(37)) {
      a.append(l);
      b.append(l);
      expect(b.root()).toEqual(a.root());
    }
    expect(b.root()).toEqual(refMth(leaves));
    expect(new MerkleFrontier().root()).toEqual(EMPTY_ROOT);
  });

  it('append returns the leaf and every node it completes', () => {
    const f = new MerkleFrontier();
    const leaves = leavesOf(8, 1);
    const counts = leaves.map((l) => f.append(l).map((n) => `${n.level}/${n.index}`));
    expect(counts[6]).toEqual(['0/6']);
    expect(counts[7]).toEqual(['0/7', '1/3', '2/1', '3/0']);
  });
});
