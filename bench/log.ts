import { benchLog } from '../verifier/log/bench.js';
import type { Section } from './section.js';

/*
 * The transparency-log library on one core: SHA-256 node hashes by three implementations, and
 * RFC 9162 inclusion and consistency proof verification on a tree of 10^6 leaves (target: ≥ 50,000
 * inclusion verifications/s).
 */
export async function benchLogSection(): Promise<Section> {
  const r = await benchLog({ treeSize: 1_000_000 });
  const k = (x: number) => Math.round(x).toLocaleString('en-US');
  const markdown = [
    `One core (rates per CPU second of this process: the machine is shared), tree of ${r.treeSize.toLocaleString('en-US')} leaves (built in ${r.treeBuildSeconds.toFixed(1)} s).`,
    '',
    '| measure | per CPU second |',
    '|---|---|',
    `| inclusion proof verifications (mean ${r.inclusion.meanProofHashes.toFixed(1)} hashes) | ${k(r.inclusion.perSecond)} |`,
    `| consistency proof verifications (mean ${r.consistency.meanProofHashes.toFixed(1)} hashes) | ${k(r.consistency.perSecond)} |`,
    `| inclusion proofs generated from stored hashes (wall clock) | ${k(r.inclusion.generatePerSecond)} |`,
    `| node hashes, two-block SHA-256 (verifier/log/hash.ts) | ${k(r.nodeHashesPerSecond.twoBlock)} |`,
    `| node hashes, node:crypto \`hash()\` | ${k(r.nodeHashesPerSecond.nodeCrypto)} |`,
    `| node hashes, @noble/hashes \`sha256\` | ${k(r.nodeHashesPerSecond.noble)} |`,
  ].join('\n');
  return { name: 'log', results: r, markdown };
}
