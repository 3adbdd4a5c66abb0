import { logFail } from './errors.js';
import { EMPTY_ROOT, HASH_SIZE, type Hash, hashEqual, nodeHash, nodeHashInto } from './hash.js';

/*
 * The Merkle tree of RFC 9162 §2.1: its root, inclusion and consistency proofs (generation from stored
 * hashes, and verification exactly as the algorithms of §2.1.3.2 and §2.1.4.2), and the right edge
 * a log keeps while it appends (`MerkleFrontier`).
 *
 * Tree sizes and indexes are JavaScript numbers and must be safe integers (≤ 2^53 − 1); parsers
 * refuse larger values with LOG_TOO_LARGE.
 */

/**
 * A perfect subtree: the 2^level leaves starting at index · 2^level. Level 0 nodes are leaf hashes.
 * These are the hashes a log stores (c2sp.org/tlog-tiles puts levels 0, 8, 16, … into tiles).
 */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** A node together with its hash. */
export interface StoredNode extends NodeId {
  readonly hash: Hash;
}

/**
 * Where proof generation reads stored hashes from: one hash per requested node, in request order.
 * Every requested node is a perfect subtree that lies inside the tree being proven. The store backs
 * this with its tiles; `tileHashReader` (tiles.ts) backs it with tiles fetched from a server and
 * verified against a checkpoint.
 */
export interface HashReader {
  readHashes(nodes: readonly NodeId[]): Promise<readonly Hash[]> | readonly Hash[];
}

function assertSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    logFail('LOG_INVALID_ARGUMENT', `${name} must be a non-negative safe integer`, { [name]: n });
}

/** log2(n) when n is a power of two, else −1 (exact for all safe integers). */
export function exactLog2(n: number): number {
  let level = 0;
  let p = 1;
  while (p < n) {
    p *= 2;
    level++;
  }
  return p === n ? level : -1;
}

/** The largest power of two strictly less than n, for n ≥ 2 (the k of RFC 9162 §2.1.1). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The perfect subtrees whose hashes make MTH(D[lo:hi]) of RFC 9162 §2.1.1, left to right, for a range
 * that is a subtree of the RFC tree (lo aligned to the largest power of two ≤ hi − lo). The range's
 * hash is these folded from the right: H(n0, H(n1, … H(n_{k−2}, n_{k−1}))).
 */
export function rangeNodes(lo: number, hi: number): NodeId[] {
  const out: NodeId[] = [];
  while (hi > lo) {
    const n = hi - lo;
    const level = exactLog2(n);
    if (level >= 0) {
      out.push({ level, index: lo / n });
      break;
    }
    const k = splitPoint(n);
    out.push({ level: exactLog2(k), index: lo / k });
    lo += k;
  }
  return out;
}

/** Folds the hashes of `rangeNodes` from the right into the range's Merkle tree hash. */
export function foldRight(hashes: readonly Hash[]): Hash {
  if (hashes.length === 0) return EMPTY_ROOT;
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h);
  return h;
}

/** MTH(D[0:n]) from all n leaf hashes (RFC 9162 §2.1.1), in O(n) hashes. */
export function rootFromLeafHashes(leaves: readonly Hash[]): Hash {
  const f = new MerkleFrontier();
  for (const l of leaves) f.append(l);
  return f.root();
}

/**
 * The subtrees whose hashes an inclusion proof for `index` in a tree of `size` consists of, leaf's
 * sibling first: PATH(m, D[n]) of RFC 9162 §2.1.3.1 unrolled (each step keeps the half holding m and
 * emits the other half).
 */
export function inclusionRanges(index: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
    }
  }
  return out.reverse();
}

/**
 * The subtrees of a consistency proof from `oldSize` to `newSize` (0 < oldSize < newSize):
 * SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1 unrolled, in the RFC's output order.
 */
export function consistencyRanges(oldSize: number, newSize: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let lo = 0;
  let hi = newSize;
  let whole = true; // the RFC's flag b: m is still the whole of the tree it started from
  while (oldSize !== hi) {
    const k = splitPoint(hi - lo);
    if (oldSize <= lo + k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
      whole = false;
    }
  }
  if (!whole) out.push([lo, hi]);
  return out.reverse();
}

/** Reads the hashes of the given ranges through `reader` (one batched read) and folds each. */
async function hashRanges(ranges: ReadonlyArray<[number, number]>, reader: HashReader): Promise<Hash[]> {
  const perRange = ranges.map(([lo, hi]) => rangeNodes(lo, hi));
  const key = (n: NodeId) => `${n.level}/${n.index}`;
  const unique = new Map<string, NodeId>();
  for (const nodes of perRange) for (const n of nodes) unique.set(key(n), n);
  const wanted = [...unique.values()];
  const got = await reader.readHashes(wanted);
  if (got.length !== wanted.length)
    logFail('LOG_INVALID_ARGUMENT', 'hash reader returned a different number of hashes than requested', {
      requested: wanted.length,
      returned: got.length,
    });
  const byKey = new Map<string, Hash>();
  wanted.forEach((n, i) => {
    const h = got[i]!;
    if (h.length !== HASH_SIZE)
      logFail('LOG_INVALID_ARGUMENT', 'hash reader returned a hash of the wrong length', { node: key(n) });
    byKey.set(key(n), h);
  });
  return perRange.map((nodes) => foldRight(nodes.map((n) => byKey.get(key(n))!)));
}

/** MTH(D[0:size]) from stored hashes. */
export async function treeHash(size: number, reader: HashReader): Promise<Hash> {
  assertSize('size', size);
  if (size === 0) return EMPTY_ROOT;
  const [root] = await hashRanges([[0, size]], reader);
  return root!;
}

/** The RFC 9162 §2.1.3.1 inclusion proof for the leaf at `index` in the tree of `size` leaves. */
export async function inclusionProof(index: number, size: number, reader: HashReader): Promise<Hash[]> {
  assertSize('index', index);
  assertSize('size', size);
  if (index >= size) logFail('LOG_INVALID_ARGUMENT', 'index is not in the tree', { index, size });
  return hashRanges(inclusionRanges(index, size), reader);
}

/**
 * The RFC 9162 §2.1.4.1 consistency proof from `oldSize` to `newSize`. Empty when oldSize is 0 or
 * equals newSize (nothing to prove; see `verifyConsistency` for how those cases verify).
 */
export async function consistencyProof(
  oldSize: number,
  newSize: number,
  reader: HashReader,
): Promise<Hash[]> {
  assertSize('oldSize', oldSize);
  assertSize('newSize', newSize);
  if (oldSize > newSize)
    logFail('LOG_INVALID_ARGUMENT', 'old size is larger than new size', { oldSize, newSize });
  if (oldSize === 0 || oldSize === newSize) return [];
  return hashRanges(consistencyRanges(oldSize, newSize), reader);
}

const half = (x: number): number => Math.floor(x / 2);
const lsb = (x: number): boolean => x % 2 === 1;

/**
 * The root an inclusion proof leads to, by RFC 9162 §2.1.3.2 steps 1–4, or why the proof fails
 * before the root comparison of step 5.
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Hash,
  proof: readonly Hash[],
): { root: Hash } | { failure: string } {
  assertSize('index', index);
  assertSize('size', size);
  if (index >= size) return { failure: `index ${index} is not below tree size ${size}` }; // step 1
  if (leaf.length !== HASH_SIZE) return { failure: `leaf hash has ${leaf.length} bytes, not ${HASH_SIZE}` };
  let fn = index; // step 2
  let sn = size - 1;
  const r = leaf.slice(); // step 3 (r is updated in place)
  for (let i = 0; i < proof.length; i++) {
    // step 4
    const p = proof[i]!;
    if (p.length !== HASH_SIZE) return { failure: `proof hash ${i} has ${p.length} bytes, not ${HASH_SIZE}` };
    if (sn === 0) return { failure: `proof has ${proof.length} hashes, more than the path to the root` };
    if (lsb(fn) || fn === sn) {
      nodeHashInto(p, r, r);
      if (!lsb(fn))
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
    } else {
      nodeHashInto(r, p, r);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return { failure: `proof has ${proof.length} hashes, fewer than the path to the root` };
  return { root: r };
}

/** RFC 9162 §2.1.3.2: does `proof` prove `leaf` at `index` in the tree of `size` with `root`? */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Hash,
  proof: readonly Hash[],
  root: Hash,
): boolean {
  const r = rootFromInclusionProof(index, size, leaf, proof);
  return 'root' in r && hashEqual(r.root, root); // step 5
}

/** As `verifyInclusion`, but throws LOG_PROOF_INVALID saying why, with both roots on a mismatch. */
export function checkInclusion(
  index: number,
  size: number,
  leaf: Hash,
  proof: readonly Hash[],
  root: Hash,
): void {
  const r = rootFromInclusionProof(index, size, leaf, proof);
  if ('failure' in r) logFail('LOG_PROOF_INVALID', `inclusion proof invalid: ${r.failure}`, { index, size });
  if (!hashEqual(r.root, root))
    logFail('LOG_PROOF_INVALID', 'inclusion proof leads to a different root than the tree head', {
      index,
      size,
      expectedRoot: b64(root),
      computedRoot: b64(r.root),
    });
}

/**
 * Why a consistency proof fails, or undefined when it proves that the tree of `oldSize` with
 * `oldRoot` is a prefix of the tree of `newSize` with `newRoot`.
 *
 * RFC 9162 §2.1.4.2 states its algorithm for 0 < first < second. The cases outside it are decided as
 * transparency-dev/merkle `proof.VerifyConsistency` decides them: old > new fails; old = 0 fails (the
 * empty tree is a prefix of every tree, so there is nothing to verify: a caller starting from nothing
 * trusts the new head on its own terms, as c2sp.org/tlog-witness does for "old 0"); old = new holds
 * iff the proof is empty and the roots are equal.
 */
export function consistencyFailure(
  oldSize: number,
  newSize: number,
  proof: readonly Hash[],
  oldRoot: Hash,
  newRoot: Hash,
): string | undefined {
  assertSize('oldSize', oldSize);
  assertSize('newSize', newSize);
  if (oldSize > newSize) return `old size ${oldSize} is larger than new size ${newSize}`;
  if (oldSize === 0) return 'a consistency proof from the empty tree proves nothing';
  if (oldSize === newSize) {
    if (proof.length !== 0) return 'equal sizes need an empty proof';
    return hashEqual(oldRoot, newRoot) ? undefined : 'equal sizes with different roots';
  }
  if (oldRoot.length !== HASH_SIZE || newRoot.length !== HASH_SIZE) return 'a root hash is not 32 bytes';
  // §2.1.4.2 step 1.
  if (proof.length === 0) return 'empty consistency proof';
  for (let i = 0; i < proof.length; i++)
    if (proof[i]!.length !== HASH_SIZE)
      return `proof hash ${i} has ${proof[i]!.length} bytes, not ${HASH_SIZE}`;
  // Step 2: an old tree that is a perfect subtree is the first node of the path; prepend it.
  const path = exactLog2(oldSize) >= 0 ? [oldRoot, ...proof] : proof;
  // Step 3.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  // Step 4.
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  const fr = path[0]!.slice(); // updated in place
  const sr = path[0]!.slice();
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return `proof has ${proof.length} hashes, more than the path to the new root`;
    if (lsb(fn) || fn === sn) {
      nodeHashInto(c, fr, fr);
      nodeHashInto(c, sr, sr);
      if (!lsb(fn))
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
    } else {
      nodeHashInto(sr, c, sr);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 7.
  if (sn !== 0) return `proof has ${proof.length} hashes, fewer than the path to the new root`;
  if (!hashEqual(fr, oldRoot)) return 'proof does not lead to the old root';
  if (!hashEqual(sr, newRoot)) return 'proof does not lead to the new root';
  return undefined;
}

/** RFC 9162 §2.1.4.2 (with the edge cases of `consistencyFailure`). */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Hash[],
  oldRoot: Hash,
  newRoot: Hash,
): boolean {
  return consistencyFailure(oldSize, newSize, proof, oldRoot, newRoot) === undefined;
}

/** As `verifyConsistency`, but throws LOG_INCONSISTENT saying why, with both tree heads. */
export function checkConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Hash[],
  oldRoot: Hash,
  newRoot: Hash,
): void {
  const why = consistencyFailure(oldSize, newSize, proof, oldRoot, newRoot);
  if (why !== undefined)
    logFail('LOG_INCONSISTENT', `tree heads are not consistent: ${why}`, {
      oldSize,
      newSize,
      oldRoot: b64(oldRoot),
      newRoot: b64(newRoot),
    });
}

function b64(h: Uint8Array): string {
  return Buffer.from(h).toString('base64');
}

/**
 * The right edge of a growing tree: the perfect subtrees that make its root (one per set bit of the
 * size, largest first). `append` returns every node the new leaf completes, leaf first, which is
 * exactly what a store must write (levels 0, 8, 16, … go into tiles).
 */
export class MerkleFrontier {
  #size = 0;
  readonly #nodes: StoredNode[] = [];

  /** A frontier for a tree of `size` leaves from its `rangeNodes(0, size)` hashes, left to right. */
  static fromHashes(size: number, hashes: readonly Hash[]): MerkleFrontier {
    assertSize('size', size);
    const ids = rangeNodes(0, size);
    if (ids.length !== hashes.length)
      logFail('LOG_INVALID_ARGUMENT', 'frontier needs one hash per set bit of the size', {
        size,
        expected: ids.length,
        got: hashes.length,
      });
    const f = new MerkleFrontier();
    f.#size = size;
    ids.forEach((id, i) => {
      f.#nodes.push({ ...id, hash: hashes[i]! });
    });
    return f;
  }

  get size(): number {
    return this.#size;
  }

  /** The nodes of the right edge, left to right (the ids of `rangeNodes(0, size)`). */
  get nodes(): readonly StoredNode[] {
    return this.#nodes;
  }

  append(leaf: Hash): StoredNode[] {
    if (leaf.length !== HASH_SIZE) logFail('LOG_INVALID_ARGUMENT', 'leaf hash must be 32 bytes');
    const created: StoredNode[] = [{ level: 0, index: this.#size, hash: leaf }];
    let node: StoredNode = created[0]!;
    for (;;) {
      const top = this.#nodes[this.#nodes.length - 1];
      if (top === undefined || top.level !== node.level) break;
      this.#nodes.pop();
      node = { level: node.level + 1, index: top.index / 2, hash: nodeHash(top.hash, node.hash) };
      created.push(node);
    }
    this.#nodes.push(node);
    this.#size++;
    return created;
  }

  root(): Hash {
    return foldRight(this.#nodes.map((n) => n.hash));
  }
}
