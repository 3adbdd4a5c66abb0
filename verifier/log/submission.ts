import { createHash } from 'node:crypto';
import { decodeEvidenceBundle, MAX_BUNDLE_BYTES } from '../../attestation/bundle.js';
import { toHex } from '../../attestation/bytes.js';
import { verifyEvidence } from '../../attestation/check.js';
import { isAttestationError } from '../../attestation/errors.js';
import type { VerifiedEvidence } from '../../attestation/evidence.js';
import type { TrustRoots } from '../../attestation/roots.js';
import {
  LOG_CLAIM_KEYS,
  LOG_ENTRY_KINDS,
  type LogClaims,
  type LogEntryKind,
  type LogSubmission,
} from '../../protocol/log-submission.js';
import { cidOf } from './cid.js';
import { encodeEntry, type LogEntry } from './entry.js';
import { LogError, logFail } from './errors.js';

/*
 * What a writer submits to the log (`POST /add`, docs/log.md "Submitting") and how the log admits it.
 * The log verifies before it appends: the evidence of an attestation event is verified by the log
 * itself (attestation/check.ts `verifyEvidence`: genuine, collateral fresh now, TCB known), and the
 * fields that come from the evidence (TEE, TCB status, measurements, REPORTDATA, hashes) are the
 * log's own reading, never the submitter's. Evidence that does not verify is refused, not logged as
 * rejected: a stranger could otherwise fill the log with garbage it cannot tell from an attack.
 * What only the submitter knows (chain position, lease, executor, policy, its own verdict) is taken
 * as claimed and cross-checked by auditors against the chain. A revealed verdict can only be checked
 * against the chain, so the log admits one only when it was given a chain checker.
 *
 * Body: UTF-8 JSON {v: 1, kind, evidence: base64, chain, enclave, provider, executorId, leaseId,
 * roundId, policyHash, verdict, code} — the claim fields as in entry.ts, null where unknown.
 */

/** A submission's body is at most this (a base64 evidence bundle of 1 MiB and the claims). */
export const MAX_SUBMISSION_BYTES = Math.ceil((MAX_BUNDLE_BYTES * 4) / 3) + 4096;

export interface AdmitOptions {
  /** The verification time (the entry's `time`). */
  readonly now: Date;
  readonly roots?: TrustRoots;
  /**
   * Simulated evidence is admitted only when signed by one of these software roots (SHA-256 of the
   * root's public key): anyone can make a simulated root.
   */
  readonly simulatedRoots?: readonly Uint8Array[];
  /** Checks a revealed verdict against the chain; without it revealed verdicts are refused. */
  readonly checkVerdict?: (s: LogSubmission, evidenceSha256: string) => Promise<void>;
  /**
   * Checks a registration against the chain (the Registry names that evidence for that executor);
   * without it registrations are taken as claimed.
   */
  readonly checkRegistration?: (s: LogSubmission, evidenceSha256: string) => Promise<void>;
}

export interface Admitted {
  readonly entry: LogEntry;
  readonly bytes: Uint8Array;
  /** The blob to store under `entry.evidence.cid`. */
  readonly blob: Uint8Array;
  /**
   * Whose share of the log the entry takes, for per-party quotas: the kind and the platform that
   * produced the evidence, or the round of a verdict. The kind is part of it because evidence is
   * public: a stranger's session claims on an executor's evidence must not use up the quota its
   * registration needs.
   */
  readonly party: string;
}

/** Parses a submission body; LOG_SUBMISSION_MALFORMED says what is wrong. */
export function parseSubmission(body: Uint8Array): LogSubmission {
  const bad = (why: string): never => logFail('LOG_SUBMISSION_MALFORMED', `submission ${why}`);
  if (body.length > MAX_SUBMISSION_BYTES) bad(`is ${body.length} bytes, more than ${MAX_SUBMISSION_BYTES}`);
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return bad('is not UTF-8 JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return bad('is not a JSON object');
  const r = o as Record<string, unknown>;
  const allowed = new Set<string>(['v', 'kind', 'evidence', ...LOG_CLAIM_KEYS]);
  for (const k of Object.keys(r))
    if (!allowed.has(k)) bad(`has an unknown field ${JSON.stringify(k.slice(0, 40))}`);
  if (r.v !== 1) bad('version must be 1');
  if (typeof r.kind !== 'string' || !(LOG_ENTRY_KINDS as readonly string[]).includes(r.kind))
    bad(`kind must be one of ${LOG_ENTRY_KINDS.join(', ')}`);
  if (
    typeof r.evidence !== 'string' ||
    !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(r.evidence)
  )
    bad('evidence must be standard padded base64');
  const evidence = new Uint8Array(Buffer.from(r.evidence as string, 'base64'));
  if (evidence.length === 0) bad('evidence is empty');
  const claims = Object.fromEntries(LOG_CLAIM_KEYS.map((k) => [k, r[k] ?? null])) as unknown as LogClaims;
  return { kind: r.kind as LogEntryKind, evidence, ...claims };
}

/**
 * Verifies a submission and builds its entry. Refusals: the evidence's own attestation error code
 * (its kind says why: malformed, verification), LOG_SIMULATED_ROOT_UNKNOWN, LOG_CLAIM_UNCHECKABLE,
 * LOG_ENTRY_MALFORMED (a claim field that is not what entry.ts allows).
 */
export async function admitSubmission(s: LogSubmission, o: AdmitOptions): Promise<Admitted> {
  const time = Math.floor(o.now.getTime() / 1000);
  const evidenceBlob = s.evidence;
  const claims = Object.fromEntries(LOG_CLAIM_KEYS.map((k) => [k, s[k]])) as unknown as LogClaims;
  if (s.kind === 'verdict-revealed') {
    const sha256 = createHash('sha256').update(evidenceBlob).digest('hex');
    if (o.checkVerdict === undefined)
      logFail(
        'LOG_CLAIM_UNCHECKABLE',
        'this log admits revealed verdicts only with a chain to check them against',
      );
    const entry: LogEntry = {
      v: 1,
      kind: s.kind,
      time,
      evidence: { sha256, cid: cidOf(evidenceBlob) },
      tee: null,
      tcbStatus: null,
      measurements: null,
      reportData: null,
      ...claims,
    };
    const bytes = encodeEntry(entry);
    await o.checkVerdict(s, sha256);
    return { entry, bytes, blob: evidenceBlob, party: `round:${s.roundId}` };
  }
  const bundle = decodeEvidenceBundle(evidenceBlob);
  const v = verifyEvidence(bundle, { now: o.now, ...(o.roots && { roots: o.roots }) });
  if (
    v.tee === 'simulated' &&
    !(o.simulatedRoots ?? []).some((k) => Buffer.from(k).equals(Buffer.from(v.rootKeyHash)))
  )
    logFail('LOG_SIMULATED_ROOT_UNKNOWN', 'simulated evidence from a software root this log does not admit', {
      rootKeyHash: toHex(v.rootKeyHash),
    });
  const entry: LogEntry = {
    v: 1,
    kind: s.kind,
    time,
    evidence: { sha256: toHex(v.evidenceHash), cid: cidOf(evidenceBlob) },
    tee: v.tee,
    tcbStatus: v.tee === 'tdx' || v.tee === 'sgx' ? v.tcbStatus : null,
    measurements: Object.fromEntries(Object.entries(v.measurements).map(([k, m]) => [k, toHex(m)])),
    reportData: toHex(v.reportData),
    ...claims,
  };
  const bytes = encodeEntry(entry);
  if (s.kind === 'executor-registered' && o.checkRegistration)
    await o.checkRegistration(s, entry.evidence.sha256);
  return { entry, bytes, blob: evidenceBlob, party: `${s.kind}:${platformOf(v)}` };
}

/** The hardware (or software root) that produced the evidence. */
function platformOf(v: VerifiedEvidence): string {
  switch (v.tee) {
    case 'tdx':
    case 'sgx':
      return `intel:${toHex(v.ppid)}`;
    case 'sev-snp':
      return `amd:${toHex(v.chipId)}`;
    case 'simulated':
      return `simulated:${toHex(v.rootKeyHash)}`;
  }
}

/** A refusal's HTTP status and body: 422 for evidence or claims that do not hold, 400 for a bad body. */
export function refusal(e: unknown): { status: number; code: string; message: string } {
  if (e instanceof LogError)
    return { status: e.code === 'LOG_SUBMISSION_MALFORMED' ? 400 : 422, code: e.code, message: e.message };
  if (isAttestationError(e)) return { status: 422, code: e.code, message: e.message };
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}
