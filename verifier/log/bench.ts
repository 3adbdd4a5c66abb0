import { hash as cryptoHash } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { HASH_SIZE, type Hash, leafHash, nodeHash } from './hash.js';
import {
  consistencyProof,
  inclusionProof,
  type NodeId,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

/*
 * Measurements of the log library on one core, for `npm run bench -- log` (bench/log.ts): SHA-256
 * node hashes by three implementations, and inclusion and consistency proof verifications per second
 * on a tree of `treeSize` leaves. Everything runs in this thread.
 */

export interface LogBenchOptions {
  readonly treeSize?: number;
  /** Distinct proofs generated and then verified round-robin. */
  readonly proofs?: number;
  /** How long each timed loop runs. */
  readonly seconds?: number;
}

export interface LogBenchResult {
  readonly treeSize: number;
  readonly treeBuildSeconds: number;
  /** 65-byte node messages hashed per second by each implementation. */
  readonly nodeHashesPerSecond: {
    readonly twoBlock: number;
    readonly nodeCrypto: number;
    readonly noble: number;
  };
  readonly inclusion: {
    readonly perSecond: number;
    readonly meanProofHashes: number;
    readonly generatePerSecond: number;
  };
  readonly consistency: { readonly perSecond: number; readonly meanProofHashes: number };
}

/**
 * Calls `f` in batches until `seconds` of this process's CPU time have passed; returns calls per CPU
 * second. CPU time rather than wall time, so that other load on a shared machine does not count
 * against the one core measured (the process is single-threaded here; GC threads add a little).
 */
function rate(f: (i: number) => void, seconds: number): number {
  let calls = 0;
  const c0 = process.cpuUsage();
  let used = 0;
  while (used < seconds * 1e6) {
    for (let k = 0; k < 256; k++) f(calls++);
    const c = process.cpuUsage(c0);
    used = c.user + c.system;
  }
  return calls / (used / 1e6);
}

/** Every perfect subtree hash of a tree, one flat array per level (32 bytes per hash). */
function buildLevels(size: number): Uint8Array[] {
  const levels: Uint8Array[] = [new Uint8Array(size * HASH_SIZE)];
  const entry = new Uint8Array(8);
  const view = new DataView(entry.buffer);
  for (let i = 0; i < size; i++) {
    view.setFloat64(0, i);
    levels[0]!.set(leafHash(entry), i * HASH_SIZE);
  }
  for (let n = size; n > 1; n = Math.floor(n / 2)) {
    const below = levels[levels.length - 1]!;
    const up = new Uint8Array(Math.floor(n / 2) * HASH_SIZE);
    for (let i = 0; i < Math.floor(n / 2); i++)
      up.set(
        nodeHash(
          below.subarray(2 * i * HASH_SIZE, (2 * i + 1) * HASH_SIZE),
          below.subarray((2 * i + 1) * HASH_SIZE, (2 * i + 2) * HASH_SIZE),
        ),
        i * HASH_SIZE,
      );
    levels.push(up);
  }
  return levels;
}

export async function benchLog(options: LogBenchOptions = {}): Promise<LogBenchResult> {
  const size = options.treeSize ?? 1_000_000;
  const count = options.proofs ?? 2_000;
  const seconds = options.seconds ?? 2;

  const l = new Uint8Array(32).fill(1);
  const r = new Uint8Array(32).fill(2);
  const msg = Uint8Array.of(1, ...l, ...r);
  const nodeHashesPerSecond = {
    twoBlock: rate(() => nodeHash(l, r), seconds),
    nodeCrypto: rate(() => cryptoHash('sha256', msg, 'buffer'), seconds),
    noble: rate(() => sha256(msg), seconds),
  };

  const t0 = performance.now();
  const levels = buildLevels(size);
  const treeBuildSeconds = (performance.now() - t0) / 1000;
  const at = (id: NodeId): Hash =>
    levels[id.level]!.subarray(id.index * HASH_SIZE, (id.index + 1) * HASH_SIZE);
  const reader = { readHashes: (ids: readonly NodeId[]) => ids.map(at) };
  const root = await treeHash(size, reader);

  // Deterministic spread of indexes and old sizes.
  const pick = (i: number) => Math.floor((((i * 2654435761) % 4294967296) / 4294967296) * size);
  const incl: Array<{ index: number; proof: Hash[] }> = [];
  const g0 = performance.now();
  for (let i = 0; i < count; i++) {
    const index = pick(i);
    incl.push({ index, proof: await inclusionProof(index, size, reader) });
  }
  const generatePerSecond = count / ((performance.now() - g0) / 1000);
  for (const p of incl)
    if (!verifyInclusion(p.index, size, at({ level: 0, index: p.index }), p.proof, root))
      throw new Error(`bench: inclusion proof for ${p.index} does not verify`);
  const inclusionRate = rate((i) => {
    const p = incl[i % count]!;
    verifyInclusion(p.index, size, at({ level: 0, index: p.index }), p.proof, root);
  }, seconds);

  // Consistency proofs need the old roots; they are computed once here, outside the timed loop.
  const cons: Array<{ old: number; oldRoot: Hash; proof: Hash[] }> = [];
  for (let i = 0; i < Math.min(count, 500); i++) {
    const old = Math.max(1, pick(i + 1));
    cons.push({
      old,
      oldRoot: await treeHash(old, reader),
      proof: await consistencyProof(old, size, reader),
    });
  }
  for (const c of cons)
    if (!verifyConsistency(c.old, size, c.proof, c.oldRoot, root))
      throw new Error(`bench: consistency proof from ${c.old} does not verify`);
  const consistencyRate = rate((i) => {
    const c = cons[i % cons.length]!;
    verifyConsistency(c.old, size, c.proof, c.oldRoot, root);
  }, seconds);

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    treeSize: size,
    treeBuildSeconds,
    nodeHashesPerSecond,
    inclusion: {
      perSecond: inclusionRate,
      meanProofHashes: mean(incl.map((p) => p.proof.length)),
      generatePerSecond,
    },
    consistency: { perSecond: consistencyRate, meanProofHashes: mean(cons.map((c) => c.proof.length)) },
  };
}
