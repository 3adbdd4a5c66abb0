import { decodeEvidenceBundle, encodeEvidenceBundle } from '../attestation/bundle.js';
import { VerifyCache } from '../attestation/cache.js';
import { verifyEvidence } from '../attestation/check.js';
import { parseCollateralJson } from '../attestation/intel/index.js';
import { generateSimulatedRoot } from '../attestation/simulated.js';
import { readVector, readVectorText, VECTORS, vectorIndex } from '../test/vectors.js';
import { benchLog } from '../verifier/log/bench.js';
import {
  type AuditBenchResult,
  benchAudit,
  benchHttpSubmit,
  benchStoreAppend,
  sessionSubmission,
  simulatedBundle,
} from '../verifier/log/bench-store.js';
import { finishMachineInfo, machineInfo } from './machine.js';
import type { Section } from './section.js';

/*
 * The attestation log against its targets: appends (≥ 5,000 entries/s, batched and fsync'd),
 * inclusion proof verification (≥ 50,000/s) and an audit of 10,000 entries with their evidence
 * verified again, warm cache (< 15 s). Appends are measured through LogStore and through the HTTP
 * server (evidence verified and blob stored per submission); audits over logs of simulated evidence,
 * one piece per entry and a few pieces shared by all entries, and, when the attestation vectors are
 * present, 10,000 entries of one real TDX quote with its collateral.
 */

const TDX_VECTOR = 'v4-phala-b0c06f-uptodate';
const AUDIT_ENTRIES = 10_000;

interface TdxReverify {
  readonly vector: string;
  readonly bundleBytes: number;
  readonly calls: number;
  /** decodeEvidenceBundle + verifyEvidence at the vector's verify_at, one warm VerifyCache. */
  readonly warmMsPerCall: number;
  readonly audit: AuditBenchResult;
}

/** Re-verification of one real TDX quote bundle, alone and as the evidence of every entry of a log. */
async function tdxReverify(): Promise<TdxReverify | undefined> {
  if (!VECTORS) return undefined;
  const v = vectorIndex().tdx.find((e) => e.id === TDX_VECTOR);
  if (!v) throw new Error(`vector ${TDX_VECTOR} is not in index.json`);
  const bundle = encodeEvidenceBundle({
    evidence: readVector(v.quote as string),
    intel: parseCollateralJson(readVectorText(v.collateral_json as string)),
  });
  const now = new Date(v.verify_at);
  const cache = new VerifyCache();
  const once = () => verifyEvidence(decodeEvidenceBundle(bundle), { now, cache });
  for (let i = 0; i < 20; i++) once();
  const calls = 500;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) once();
  const warmMsPerCall = (performance.now() - t0) / calls;
  const audit = await benchAudit({
    entries: AUDIT_ENTRIES,
    submission: (i) => sessionSubmission(i, bundle),
    now,
  });
  return { vector: v.id, bundleBytes: bundle.length, calls, warmMsPerCall, audit };
}

export async function benchLogSection(): Promise<Section> {
  const machine = machineInfo();
  const proofs = await benchLog({ treeSize: 1_000_000 });
  const store = await benchStoreAppend({ entries: 20_000 });
  const http = [
    await benchHttpSubmit({ submissions: 3_000, clients: 256 }),
    await benchHttpSubmit({ submissions: 3_000, clients: 32, batchDelayMs: 10 }),
  ];

  const root = generateSimulatedRoot();
  const simulatedRoots = [root.keyHash];
  const auditDistinct = await benchAudit({
    entries: AUDIT_ENTRIES,
    submission: (i) => sessionSubmission(i, simulatedBundle(root, i)),
    now: new Date(),
    simulatedRoots,
  });
  const shared = Array.from({ length: 16 }, (_, n) => simulatedBundle(root, n));
  const auditShared = await benchAudit({
    entries: AUDIT_ENTRIES,
    submission: (i) => sessionSubmission(i, shared[i % shared.length]!),
    now: new Date(),
    simulatedRoots,
  });
  const tdx = await tdxReverify();
  finishMachineInfo(machine);

  const k = (x: number) => Math.round(x).toLocaleString('en-US');
  const s = (x: number) => x.toFixed(1);
  const ratio = (x: number, target: number) => `${(x / target).toFixed(2)}×`;
  const auditRow = (what: string, a: AuditBenchResult) =>
    `| audit of ${k(a.entries)} entries, evidence verified again: ${what} (${k(a.distinctEvidence)} distinct) | ${s(a.coldSeconds)} s cold, **${s(a.warmSeconds)} s warm** | < 15 s | ${ratio(15, a.warmSeconds)} under |`;
  const markdown = [
    `Load average (1/5/15 min) ${machine.loadStart.join(' / ')} at the start, ${machine.loadEnd.join(' / ')} at the end, on ${machine.cores} cores shared with other work (${machine.cpuModel}, Node ${machine.node}).`,
    '',
    '| measure | result | target | ratio |',
    '|---|---|---|---|',
    `| appends through LogStore: ${k(store.entries)} entries (mean ${k(store.meanEntryBytes)} bytes) added at once, batches of 256, fsync'd, wall clock to the last acknowledgement | **${k(store.perSecond)} entries/s** (${s(store.seconds)} s) | ≥ 5,000/s | ${ratio(store.perSecond, 5000)} |`,
    ...http.map(
      (h) =>
        `| submissions through the HTTP server (POST /add: evidence verified, blob stored and fsync'd, entry appended): ${k(h.submissions)} by ${h.clients} concurrent clients in the same process, batch delay ${h.batchDelayMs} ms | ${k(h.perSecond)} submissions/s (${s(h.seconds)} s) | — (the target is the store's) | — |`,
    ),
    `| inclusion proof verifications, tree of ${k(proofs.treeSize)} (mean ${proofs.inclusion.meanProofHashes.toFixed(1)} hashes), per CPU second | **${k(proofs.inclusion.perSecond)}/s** | ≥ 50,000/s | ${ratio(proofs.inclusion.perSecond, 50_000)} |`,
    `| consistency proof verifications (mean ${proofs.consistency.meanProofHashes.toFixed(1)} hashes), per CPU second | ${k(proofs.consistency.perSecond)}/s | — | — |`,
    `| inclusion proofs generated from stored hashes (wall clock) | ${k(proofs.inclusion.generatePerSecond)}/s | — | — |`,
    auditRow('simulated evidence, one piece per entry', auditDistinct),
    auditRow('simulated evidence, 16 pieces shared', auditShared),
    ...(tdx
      ? [
          auditRow(`real TDX quote \`${tdx.vector}\` with its collateral in every entry`, tdx.audit),
          `| one TDX evidence bundle (${k(tdx.bundleBytes)} bytes) decoded and verified again at its verify_at, warm cache, ${tdx.calls} calls | ${tdx.warmMsPerCall.toFixed(2)} ms each (${k(1000 / tdx.warmMsPerCall)}/s) | — | — |`,
        ]
      : [
          '| audit with real TDX evidence | not run: attestation vectors not found (DEFAAS_VECTORS) | < 15 s | — |',
        ]),
    `| node hashes, two-block SHA-256 / node:crypto \`hash()\` / @noble/hashes, per CPU second | ${k(proofs.nodeHashesPerSecond.twoBlock)} / ${k(proofs.nodeHashesPerSecond.nodeCrypto)} / ${k(proofs.nodeHashesPerSecond.noble)} | — | — |`,
    '',
    `- The 5,000/s target is for the store's appends. Through HTTP each submission also costs its evidence verification, a durable blob write (its own fsync'd file and directory) and a request; clients run in the benchmark's process, on the same 2 cores. With the default batch delay (1 s) a batch closes early only when 256 entries wait, so fewer concurrent writers mean 1-s batches; \`--batch-ms\` trades that latency for more, smaller batches.`,
    `- Building the audited logs took ${s(auditDistinct.buildSeconds)} s, ${s(auditShared.buildSeconds)} s${tdx ? ` and ${s(tdx.audit.buildSeconds)} s` : ''} (admission and blob writes included). Cold is the first audit with a new VerifyCache, warm the second with the cache it filled; both read a log directory (no HTTP). Simulated evidence has no collateral, so the cache does nothing for it, and each check imports the root's public key from the evidence again (\`createPublicKey\`, the largest cost in a profile), which makes it dearer than a warm real quote; a real quote's collateral and PCK chain are verified once and then only its own signature, time windows, revocation and TCB level are checked per entry. The audit reads each entry's blob in turn, so part of its time is waiting for file reads.`,
    `- Admission (\`admitSubmission\`, as the server calls it) verifies evidence without a VerifyCache: the TDX log's build is a cold quote verification per entry.`,
    `- The table's rates are from one run; \`bench/results/log.json\` has every number. Proof verification rates are per CPU second of this process (the machine is shared); everything else is wall clock.`,
  ].join('\n');
  return {
    name: 'log',
    results: { machine, proofs, store, http, audit: { distinct: auditDistinct, shared: auditShared, tdx } },
    markdown,
  };
}
