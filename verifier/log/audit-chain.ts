import type { AttestationLogContract } from '../../contracts/bindings/attestation-log.js';
import type { MarketContract } from '../../contracts/bindings/market.js';
import type { RegistryContract } from '../../contracts/bindings/registry.js';
import type { WitnessPoolContract } from '../../contracts/bindings/witness-pool.js';
import type { Finding } from './audit.js';
import { openCheckpoint } from './checkpoint.js';
import type { LogEntry } from './entry.js';
import { isLogError } from './errors.js';
import { hashEqual } from './hash.js';
import { treeHash } from './merkle.js';
import type { NoteVerifier } from './note.js';
import type { TileHashReader } from './tiles.js';

/*
 * The auditor's cross-checks of a log against the chain (docs/log.md, "Auditing"):
 * - anchors: every AttestationLog anchor whose note is this log's signed checkpoint (its origin, its
 *   key) must be a prefix of the tree served — the root of the served tree's first `size` entries —
 *   and two such anchors of one size must agree. An anchor larger than the served tree means the log
 *   now shows less than it once signed. Anchors of other logs are counted and left alone;
 * - executors: every executor in the Registry has its evidence hash in the log;
 * - leases: every lease's executor (its enclave) has logged evidence;
 * - verdicts: every VerdictRevealed evidence hash is in the log as a revealed verdict.
 * Each missing link is a finding; what could not be read is said in `unchecked`.
 */

export interface ChainContracts {
  readonly attestationLog: AttestationLogContract;
  readonly registry: RegistryContract;
  readonly market: MarketContract;
  readonly witnessPool: WitnessPoolContract;
}

export interface ChainAudit {
  readonly anchors: { readonly ours: number; readonly others: number; readonly checked: number };
  readonly executors: { readonly total: number; readonly logged: number };
  readonly leases: { readonly total: number; readonly logged: number };
  readonly verdicts: { readonly total: number; readonly logged: number };
  readonly findings: Finding[];
}

const PAGE = 100;

export async function auditChain(o: {
  readonly contracts: ChainContracts;
  readonly origin: string;
  readonly logKeys: readonly NoteVerifier[];
  readonly size: number;
  readonly hashes: TileHashReader;
  readonly entries: readonly (LogEntry | undefined)[];
}): Promise<ChainAudit> {
  const findings: Finding[] = [];
  const c = o.contracts;

  // Anchors.
  let ours = 0;
  let others = 0;
  let checked = 0;
  const bySize = new Map<number, string>();
  const count = Number(await c.attestationLog.checkpointCount());
  // The signed notes travel only in the events (CheckpointAnchored: index, operator, size, root, note).
  const notes = new Map<number, string>();
  for (const e of await c.attestationLog.queryFilter(c.attestationLog.filters.CheckpointAnchored!(), 0)) {
    const args = (e as unknown as { args: [bigint, string, bigint, string, string] }).args;
    notes.set(Number(args[0]), args[4]);
  }
  for (let from = 0; from < count; from += PAGE) {
    const page = await c.attestationLog.checkpoints(from, Math.min(PAGE, count - from));
    for (let i = 0; i < page.length; i++) {
      const index = from + i;
      const a = page[i]!;
      const note = notes.get(index);
      let signedByLog = false;
      try {
        const cp = openCheckpoint(Buffer.from((note ?? '0x').slice(2), 'hex'), o.logKeys, {
          origin: o.origin,
        }).checkpoint;
        signedByLog =
          cp.size === Number(a.treeSize) && `0x${Buffer.from(cp.root).toString('hex')}` === a.root;
      } catch {
        signedByLog = false;
      }
      if (!signedByLog) {
        others++;
        continue;
      }
      ours++;
      const size = Number(a.treeSize);
      const seen = bySize.get(size);
      if (seen !== undefined && seen !== a.root)
        findings.push({
          code: 'LOG_ANCHOR_MISMATCH',
          message: `two anchors of size ${size} signed by the log with different roots: the log signed a fork`,
          path: `anchor/${index}`,
        });
      bySize.set(size, a.root);
      if (size > o.size) {
        findings.push({
          code: 'LOG_ANCHOR_MISMATCH',
          message: `anchor ${index} holds ${size} entries; the log now serves ${o.size}`,
          path: `anchor/${index}`,
        });
        continue;
      }
      let root: Uint8Array;
      try {
        root = await treeHash(size, o.hashes);
      } catch (e) {
        // The served tiles fail (the log audit names which): this anchor cannot be checked.
        if (!isLogError(e)) throw e;
        findings.push({
          code: e.code,
          message: `anchor ${index} cannot be checked: ${e.message}`,
          path: `anchor/${index}`,
        });
        continue;
      }
      checked++;
      if (!hashEqual(root, Buffer.from(a.root.slice(2), 'hex')))
        findings.push({
          code: 'LOG_ANCHOR_MISMATCH',
          message: `anchor ${index} (size ${size}) is not a prefix of the log served: its history was rewritten`,
          path: `anchor/${index}`,
        });
    }
  }

  // What the log holds.
  const evidence = new Set<string>();
  const verdictEvidence = new Set<string>();
  const enclaves = new Set<string>();
  for (const e of o.entries) {
    if (e === undefined) continue;
    if (e.kind === 'verdict-revealed') verdictEvidence.add(e.evidence.sha256);
    else {
      evidence.add(e.evidence.sha256);
      if (e.enclave !== null) enclaves.add(e.enclave);
    }
  }

  // Executors.
  const executorCount = Number(await c.registry.executorCount());
  let executorsLogged = 0;
  const enclaveOf = new Map<bigint, { enclave: string; evidence: string }>();
  for (let id = 1; id <= executorCount; id++) {
    const x = await c.registry.executor(id);
    const sha = x.evidenceHash.slice(2).toLowerCase();
    enclaveOf.set(BigInt(id), { enclave: x.enclave.toLowerCase(), evidence: sha });
    if (evidence.has(sha)) executorsLogged++;
    else
      findings.push({
        code: 'LOG_NOT_LOGGED',
        message: `executor ${id} (enclave ${x.enclave}) registered evidence ${x.evidenceHash} that the log does not hold`,
        path: `executor/${id}`,
      });
  }

  // Leases.
  const orders = Number(await c.market.orderCount());
  let leases = 0;
  let leasesLogged = 0;
  for (let id = 1; id <= orders; id++) {
    const order = await c.market.order(id);
    if (order.startedAt === 0n) continue;
    leases++;
    const [executorId] = await c.registry.leaseCollateral(id);
    const x = enclaveOf.get(executorId);
    if (x !== undefined && (evidence.has(x.evidence) || enclaves.has(x.enclave))) leasesLogged++;
    else
      findings.push({
        code: 'LOG_NOT_LOGGED',
        message: `lease ${id} runs on executor ${executorId}, whose enclave has no evidence in the log`,
        path: `lease/${id}`,
      });
  }

  // Revealed verdicts.
  const revealed = await c.witnessPool.queryFilter(c.witnessPool.filters.VerdictRevealed!());
  let verdictsLogged = 0;
  for (const ev of revealed) {
    const args = (ev as unknown as { args: [bigint, string, bigint, bigint, string] }).args;
    const sha = args[4].slice(2).toLowerCase();
    if (verdictEvidence.has(sha)) verdictsLogged++;
    else
      findings.push({
        code: 'LOG_NOT_LOGGED',
        message: `round ${args[0]}: witness ${args[1]} revealed evidence ${args[4]} that the log does not hold`,
        path: `round/${args[0]}`,
      });
  }

  return {
    anchors: { ours, others, checked },
    executors: { total: executorCount, logged: executorsLogged },
    leases: { total: leases, logged: leasesLogged },
    verdicts: { total: revealed.length, logged: verdictsLogged },
    findings,
  };
}
