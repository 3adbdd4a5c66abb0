import { createHash } from 'node:crypto';
import { decodeEvidenceBundle } from '../../attestation/bundle.js';
import { toHex } from '../../attestation/bytes.js';
import type { VerifyCache } from '../../attestation/cache.js';
import { verifyEvidence } from '../../attestation/check.js';
import type { CodedError } from '../../attestation/errors.js';
import type { TrustRoots } from '../../attestation/roots.js';
import { type Checkpoint, openCheckpoint } from './checkpoint.js';
import { checkBlob } from './cid.js';
import { countCosignatures, quorumRuleOf, type WitnessPolicy } from './cosignature.js';
import { type LogEntry, parseEntry } from './entry.js';
import { LogError } from './errors.js';
import { hashEqual } from './hash.js';
import { checkConsistency, consistencyProof } from './merkle.js';
import type { NoteVerifier } from './note.js';
import { describeQuorum } from './quorum.js';
import {
  checkEntryBundle,
  entryBundlePath,
  parseEntryBundle,
  TILE_WIDTH,
  type TileHashReader,
  tileHashReader,
} from './tiles.js';

/*
 * The auditor's check of one log (docs/log.md, "Auditing"). In order:
 * 1. the checkpoint: signed by the log's key, for the expected origin, and (with a witness policy)
 *    cosigned by a quorum;
 * 2. history: against the checkpoint the auditor trusted before, the tree may only have grown, and
 *    only through a consistency proof built from the served tiles — a shrink is LOG_SHRANK, another
 *    root for the same size LOG_FORKED, a rewritten past LOG_INCONSISTENT;
 * 3. the tiles: every level-0 tile is read through `tileHashReader`, which verifies each tile
 *    against its parent and the partial tiles against the root, so every leaf hash is proven to be
 *    in the tree (its inclusion); each entry bundle must hash to its level-0 tile;
 * 4. the entries: each parses; its blob is fetched by CID and must hash to it; attestation evidence
 *    is verified again at the entry's own time with the auditor's trust roots, and what the evidence
 *    says (TEE, TCB status, measurements, REPORTDATA, evidence hash) must be what the entry says.
 * Every problem is a finding with a code; checks go on past a finding wherever they still can. The
 * checkpoint may become the new trusted one only when 1–3 found nothing.
 */

/** Reads a log resource by path relative to the log's prefix (`checkpoint`, `tile/…`, `ipfs/<cid>`). */
export type LogReader = (path: string) => Promise<Uint8Array | undefined>;

export interface Finding {
  /** A LOG_* code (log/errors.ts) or an attestation code (attestation/errors.ts). */
  readonly code: string;
  readonly message: string;
  readonly index?: number;
  readonly path?: string;
}

export interface AuditOptions {
  readonly read: LogReader;
  readonly origin: string;
  readonly logKeys: readonly NoteVerifier[];
  /** The signed checkpoint trusted before (its note text), if any. */
  readonly trusted?: string;
  readonly witnesses?: WitnessPolicy;
  readonly roots?: TrustRoots;
  /** Software roots whose simulated evidence counts (SHA-256 of the root public key); others are findings. */
  readonly simulatedRoots?: readonly Uint8Array[];
  readonly cache?: VerifyCache;
  /** Skip re-verifying evidence (steps 1–3 and blob hashes only). */
  readonly skipEvidence?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
  /** Wall clock for cosignature timestamps (seconds). */
  readonly now?: number;
}

export interface AuditReport {
  readonly origin: string;
  readonly checkpoint?: { readonly size: number; readonly root: string; readonly text: string };
  readonly trusted?: { readonly size: number; readonly root: string };
  /** The checkpoint may replace the trusted one (steps 1–3 found nothing). */
  readonly treeVerified: boolean;
  readonly entries: {
    readonly total: number;
    readonly parsed: number;
    readonly evidenceVerified: number;
    readonly byKind: Record<string, number>;
  };
  readonly cosigners?: readonly string[];
  readonly findings: Finding[];
  /** The parsed entries by index (for chain cross-checks). */
  readonly logged: readonly (LogEntry | undefined)[];
  /** The reader bound to the checkpoint, for checks against other tree sizes (anchors). */
  readonly hashes?: TileHashReader;
}

const b64 = (h: Uint8Array) => Buffer.from(h).toString('base64');

function finding(e: unknown, extra: { index?: number; path?: string } = {}): Finding {
  const c = e as Partial<CodedError<string, string>>;
  const code = typeof c?.code === 'string' ? c.code : 'INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  return { code, message, ...extra };
}

export class LogUnreachableError extends Error {
  override readonly name = 'LogUnreachableError';
}

export async function auditLog(o: AuditOptions): Promise<AuditReport> {
  const findings: Finding[] = [];
  const byKind: Record<string, number> = {};
  const logged: (LogEntry | undefined)[] = [];
  const base = { origin: o.origin, findings, logged };
  const empty = { total: 0, parsed: 0, evidenceVerified: 0, byKind };

  let text: Uint8Array | undefined;
  try {
    text = await o.read('checkpoint');
  } catch (e) {
    throw new LogUnreachableError(`the log cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (text === undefined) throw new LogUnreachableError('the log serves no checkpoint');

  // 1. The checkpoint.
  let cp: Checkpoint;
  try {
    cp = openCheckpoint(text, o.logKeys, { origin: o.origin }).checkpoint;
  } catch (e) {
    findings.push(finding(e, { path: 'checkpoint' }));
    return { ...base, treeVerified: false, entries: empty };
  }
  const checkpointText = new TextDecoder().decode(text);
  const checkpoint = { size: cp.size, root: b64(cp.root), text: checkpointText };
  let treeOk = true;
  let cosigners: string[] | undefined;
  if (o.witnesses) {
    const q = countCosignatures(text, o.logKeys, o.witnesses, {
      origin: o.origin,
      ...(o.now !== undefined && { now: o.now }),
    });
    cosigners = q.cosigners.map((c) => c.name);
    if (!q.met) {
      treeOk = false;
      findings.push({
        code: 'LOG_QUORUM_NOT_MET',
        message: `cosigned by ${q.cosigners.length === 0 ? 'no witness' : cosigners.join(', ')}; the policy needs ${describeQuorum(quorumRuleOf(o.witnesses))}`,
        path: 'checkpoint',
      });
    }
  }

  const reader = tileHashReader(cp.size, cp.root, async (path) => {
    const bytes = await o.read(path);
    if (bytes === undefined) throw new LogError('LOG_HASH_UNAVAILABLE', `${path} is not served`, { path });
    return bytes;
  });

  // 2. History against the trusted checkpoint.
  let trusted: { size: number; root: string } | undefined;
  if (o.trusted !== undefined) {
    const t = openCheckpoint(o.trusted, o.logKeys, { origin: o.origin }).checkpoint;
    trusted = { size: t.size, root: b64(t.root) };
    try {
      if (t.size > cp.size)
        throw new LogError('LOG_SHRANK', `the log shrank from ${t.size} to ${cp.size} entries`, {
          oldSize: t.size,
          newSize: cp.size,
        });
      if (t.size === cp.size) {
        if (!hashEqual(t.root, cp.root))
          throw new LogError('LOG_FORKED', `two different trees of size ${t.size}: a fork`, {
            size: t.size,
            trustedRoot: b64(t.root),
            root: b64(cp.root),
          });
      } else if (t.size > 0) {
        checkConsistency(t.size, cp.size, await consistencyProof(t.size, cp.size, reader), t.root, cp.root);
      }
    } catch (e) {
      treeOk = false;
      findings.push(finding(e, { path: 'checkpoint' }));
    }
  }

  // 3 and 4. Tiles, bundles and entries.
  let parsed = 0;
  let evidenceVerified = 0;
  const bundles = Math.ceil(cp.size / TILE_WIDTH);
  for (let b = 0; b < bundles; b++) {
    const width = Math.min(TILE_WIDTH, cp.size - b * TILE_WIDTH);
    const path = entryBundlePath(b, width);
    let entries: Uint8Array[];
    try {
      const leaves = await reader.readTile({ level: 0, index: b, width });
      entries = await readBundle(o.read, b, width);
      checkEntryBundle(entries, b, leaves);
    } catch (e) {
      treeOk = false;
      findings.push(finding(e, { path }));
      o.onProgress?.(Math.min(cp.size, (b + 1) * TILE_WIDTH), cp.size);
      continue;
    }
    for (let i = 0; i < entries.length; i++) {
      const index = b * TILE_WIDTH + i;
      let entry: LogEntry;
      try {
        entry = parseEntry(entries[i]!);
      } catch (e) {
        findings.push(finding(e, { index }));
        continue;
      }
      logged[index] = entry;
      parsed++;
      byKind[entry.kind] = (byKind[entry.kind] ?? 0) + 1;
      const problem = await checkEvidence(entry, o);
      if (problem) findings.push({ ...problem, index });
      else if (entry.kind !== 'verdict-revealed' && !o.skipEvidence) evidenceVerified++;
    }
    o.onProgress?.(Math.min(cp.size, (b + 1) * TILE_WIDTH), cp.size);
  }

  return {
    ...base,
    checkpoint,
    ...(trusted && { trusted }),
    treeVerified: treeOk,
    entries: { total: cp.size, parsed, evidenceVerified, byKind },
    ...(cosigners && { cosigners }),
    hashes: reader,
  };
}

/** Entry bundle `index` of `width` entries; a partial one no longer served is cut from the full bundle. */
export async function readBundle(read: LogReader, index: number, width: number): Promise<Uint8Array[]> {
  const bytes = await read(entryBundlePath(index, width));
  if (bytes !== undefined) return parseEntryBundle(bytes, width);
  const full = width < TILE_WIDTH ? await read(entryBundlePath(index, TILE_WIDTH)) : undefined;
  if (full !== undefined) return parseEntryBundle(full, TILE_WIDTH).slice(0, width);
  throw new LogError('LOG_HASH_UNAVAILABLE', `entry bundle ${entryBundlePath(index, width)} is not served`, {
    bundle: entryBundlePath(index, width),
  });
}

/** Step 4 for one entry: its blob, and its evidence verified again at the entry's time. */
async function checkEvidence(entry: LogEntry, o: AuditOptions): Promise<Omit<Finding, 'index'> | undefined> {
  const path = `ipfs/${entry.evidence.cid}`;
  let blob: Uint8Array | undefined;
  try {
    blob = await o.read(path);
  } catch (e) {
    return finding(e, { path });
  }
  if (blob === undefined)
    return { code: 'LOG_BLOB_MISSING', message: `blob ${entry.evidence.cid} is not served`, path };
  try {
    checkBlob(entry.evidence.cid, blob);
  } catch (e) {
    return finding(e, { path });
  }
  if (entry.kind === 'verdict-revealed') {
    const sha = createHash('sha256').update(blob).digest('hex');
    return sha === entry.evidence.sha256
      ? undefined
      : {
          code: 'LOG_ENTRY_CLAIM_MISMATCH',
          message: "the evidence record does not hash to the entry's evidence hash",
          path,
        };
  }
  if (o.skipEvidence) return undefined;
  try {
    const v = verifyEvidence(decodeEvidenceBundle(blob), {
      now: new Date(entry.time * 1000),
      ...(o.roots && { roots: o.roots }),
      ...(o.cache && { cache: o.cache }),
    });
    const said: [string, unknown, unknown][] = [
      ['evidence.sha256', entry.evidence.sha256, toHex(v.evidenceHash)],
      ['tee', entry.tee, v.tee],
      ['tcbStatus', entry.tcbStatus, v.tee === 'tdx' || v.tee === 'sgx' ? v.tcbStatus : null],
      ['reportData', entry.reportData, toHex(v.reportData)],
      [
        'measurements',
        JSON.stringify(entry.measurements),
        JSON.stringify(
          Object.fromEntries(
            Object.keys(v.measurements)
              .sort()
              .map((k) => [k, toHex(v.measurements[k]!)]),
          ),
        ),
      ],
    ];
    if (v.tee === 'simulated' && !(o.simulatedRoots ?? []).some((k) => hashEqual(k, v.rootKeyHash)))
      return {
        code: 'LOG_SIMULATED_ROOT_UNKNOWN',
        message: `simulated evidence from a software root the auditor does not admit (${toHex(v.rootKeyHash)})`,
        path,
      };
    const wrong = said.filter(([, a, b]) => a !== b).map(([f]) => f);
    if (wrong.length > 0)
      return {
        code: 'LOG_ENTRY_CLAIM_MISMATCH',
        message: `the entry says other than its evidence about ${wrong.join(', ')}`,
        path,
      };
    return undefined;
  } catch (e) {
    return finding(e, { path });
  }
}
