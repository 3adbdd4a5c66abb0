import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Verdict } from './state-store.js';

/*
 * What the agent asks of a check: given a round (the lease, its epoch window, its SLA terms and the
 * executor as the chain knows it), a verdict with the hash of the evidence behind it. Checks compose:
 * `allOf` runs several (challenges, probes, an attestation) and reports the most severe verdict, so
 * the CLI's default and the capacity challenge plug in side by side.
 */

export type { Verdict } from './state-store.js';

/** The lease's SLA terms (Market.order; docs/contracts.md, "SLA terms and epochs"). */
export interface SlaTerms {
  readonly availabilityBps: number;
  readonly p95LatencyMs: number;
  readonly epochLength: bigint;
  /** The confirmed bid's claimed GFLOP/s: the capacity target. */
  readonly capacityGflops: number;
  readonly committeeSize: number;
  readonly majority: number;
}

/** The executor serving the lease, as the chain knows it (Registry.executor, Settlement.lease). */
export interface ExecutorOnChain {
  readonly executorId: bigint;
  /** host:port registered in the Registry. */
  readonly endpoint: string;
  /** The enclave identity address the lease was opened with (Settlement's snapshot). */
  readonly enclave: string;
  /** 0x-hex: the hash of the executor's attestation evidence registered in the Registry. */
  readonly evidenceHash: string;
  /** RegistryTeeType: 0 simulated, 1 TDX, 2 SEV-SNP. */
  readonly teeType: number;
  readonly provider: string;
}

export interface EvaluationInput {
  readonly leaseId: bigint;
  readonly epoch: number;
  readonly roundId: bigint;
  /** This witness's address. */
  readonly witness: string;
  readonly sla: SlaTerms;
  readonly executor: ExecutorOnChain;
  /** Chain times in seconds: the epoch's window and the round's deadlines. */
  readonly epochStart: bigint;
  readonly epochEnd: bigint;
  readonly commitDeadline: bigint;
  readonly revealDeadline: bigint;
  /** The chain time when the evaluation started. */
  readonly now: bigint;
  /** Aborted when the verdict must be sealed (the commit window is closing). */
  readonly signal: AbortSignal;
}

export interface Evaluation {
  readonly verdict: Verdict;
  /** 32 bytes: the hash of the evidence bundle (revealed on chain with the verdict). */
  readonly evidenceHash: Uint8Array;
  /** Where the bundle is kept, if the check wrote one. */
  readonly evidencePath?: string;
  /** For Fraud / Unavailable: when the violation was seen (chain seconds); default the evaluation's start. */
  readonly violationTime?: bigint;
  /** One line for logs and status. */
  readonly detail?: string;
  /** The verdicts of the parts of a composed evaluation. */
  readonly checks?: readonly { name: string; verdict: Verdict; detail?: string }[];
  /** Set by `evaluateSafely` when the evaluator failed and the verdict is the rules' Unavailable. */
  readonly evaluatorError?: string;
}

export interface Evaluator {
  /** A short name for logs and status (`reachability`, `attest+reachability`, `always-ok`). */
  readonly name: string;
  evaluate(input: EvaluationInput): Promise<Evaluation>;
  /**
   * Called once per round (per agent process) as soon as the agent knows it was drawn, before
   * `evaluate`: checks that watch the whole epoch (probes) start here. Must not throw or block.
   */
  observe?(input: EvaluationInput): void;
}

/** Most severe first: one failed check decides the verdict of a composition. */
const SEVERITY: Readonly<Record<Verdict, number>> = { Fraud: 3, Unavailable: 2, Stale: 1, Ok: 0 };

/** An evidence record as JSON (bigints as decimal strings): the bytes its evidence hash is over. */
function evidenceJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** SHA-256 of a JSON value: the evidence hash of a small, self-describing evidence record. */
export function evidenceDigest(value: unknown): Uint8Array {
  return new Uint8Array(createHash('sha256').update(evidenceJson(value)).digest());
}

/**
 * The evidence of a check: its hash, and the file `name` in `dir` (when given) holding exactly the
 * bytes hashed, so SHA-256(file) is the evidence hash revealed on chain. `evidence` is a record
 * (written as JSON) or a document already serialised (e.g. a challenge's fraud bundle).
 */
export async function keepEvidence(
  evidence: { readonly record: unknown } | { readonly text: string },
  dir: string | undefined,
  name: string,
): Promise<{ evidenceHash: Uint8Array; evidencePath?: string }> {
  const text = 'text' in evidence ? evidence.text : evidenceJson(evidence.record);
  const evidenceHash = new Uint8Array(createHash('sha256').update(text).digest());
  if (dir === undefined) return { evidenceHash };
  const evidencePath = join(dir, name);
  await writeFile(evidencePath, text);
  return { evidenceHash, evidencePath };
}

const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

/**
 * Runs every evaluator (in order; each sees the same input) and reports the most severe verdict. Its
 * evidence is the decisive part's (hash, path and violation time) when that part reported a
 * violation or Stale. For an Ok it is one record of the round and its parts in order, each with its
 * evidence hash and, where the part kept a file, that file's text (so the record alone shows what
 * every check saw, and each part's hash can be checked against its text); the record is written to
 * `evidenceDir` as `<round>-all.json` when given.
 */
export function allOf(name: string, parts: readonly Evaluator[], evidenceDir?: string): Evaluator {
  if (parts.length === 0) throw new Error('allOf: at least one evaluator');
  return {
    name,
    observe(input) {
      for (const p of parts) {
        try {
          p.observe?.(input);
        } catch {
          // An evaluator that cannot watch the epoch is judged by its evaluate() alone.
        }
      }
    },
    async evaluate(input) {
      const results: { name: string; e: Evaluation }[] = [];
      for (const p of parts) results.push({ name: p.name, e: await evaluateSafely(p, input) });
      const worst = results.reduce((a, b) => (SEVERITY[b.e.verdict] > SEVERITY[a.e.verdict] ? b : a));
      const checks = results.map((r) => ({
        name: r.name,
        verdict: r.e.verdict,
        ...(r.e.detail !== undefined && { detail: r.e.detail }),
      }));
      if (worst.e.verdict !== 'Ok')
        return { ...worst.e, checks, detail: `${worst.name}: ${worst.e.detail ?? worst.e.verdict}` };
      const record = {
        kind: 'defaas/witness/all-of/v1',
        roundId: input.roundId,
        leaseId: input.leaseId,
        epoch: input.epoch,
        witness: input.witness,
        parts: await Promise.all(
          results.map(async (r) => ({
            name: r.name,
            evidenceHash: hex(r.e.evidenceHash),
            ...(r.e.evidencePath !== undefined && { text: await readFile(r.e.evidencePath, 'utf8') }),
          })),
        ),
      };
      const kept = await keepEvidence({ record }, evidenceDir, `${input.roundId}-all.json`);
      return {
        verdict: 'Ok',
        ...kept,
        checks,
        detail: results.map((r) => `${r.name}: ${r.e.detail ?? 'ok'}`).join('; '),
      };
    },
  };
}

/**
 * Runs an evaluator and never throws: a failure or an answer that is not a well-formed evaluation
 * becomes Unavailable (the executor could not be shown to serve the lease), with the error in the
 * evidence record and in `detail`.
 */
export async function evaluateSafely(ev: Evaluator, input: EvaluationInput): Promise<Evaluation> {
  try {
    const out = await ev.evaluate(input);
    if (
      !['Ok', 'Fraud', 'Unavailable', 'Stale'].includes(out?.verdict) ||
      !(out.evidenceHash instanceof Uint8Array) ||
      out.evidenceHash.length !== 32
    )
      throw new Error(`evaluator ${ev.name} returned a malformed evaluation`);
    return out;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return {
      verdict: 'Unavailable',
      evidenceHash: evidenceDigest({
        kind: 'defaas/witness/evaluator-error/v1',
        evaluator: ev.name,
        roundId: input.roundId,
        error: message,
      }),
      detail: `evaluator error: ${message}`,
      evaluatorError: message,
    };
  }
}

/**
 * An evaluator that checks nothing and reports Ok: for demonstrations only (`--evaluator always-ok`).
 * A witness running it earns rewards without doing the work (docs/contracts.md, "Lazy witnesses").
 */
export const dangerouslyAlwaysOk: Evaluator = {
  name: 'always-ok',
  async evaluate(input) {
    return {
      verdict: 'Ok',
      evidenceHash: evidenceDigest({ kind: 'defaas/witness/unchecked/v1', roundId: input.roundId }),
      detail: 'nothing checked (always-ok)',
    };
  },
};
