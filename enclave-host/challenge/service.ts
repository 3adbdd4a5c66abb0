import type { Logger } from 'pino';
import { toHex } from '../../attestation/bytes.js';
import type { ChallengeCommitment } from '../../proto/gen/defaas/executor/v1/ChallengeCommitment.js';
import type { ChallengeOpenRequest__Output } from '../../proto/gen/defaas/executor/v1/ChallengeOpenRequest.js';
import type { ChallengeOpenResponse } from '../../proto/gen/defaas/executor/v1/ChallengeOpenResponse.js';
import type { ChallengeRequest__Output } from '../../proto/gen/defaas/executor/v1/ChallengeRequest.js';
import {
  CHALLENGE_CLASS_CPU,
  type ChallengeCommitmentFields,
  challengeRequestFromWire,
  challengeRequestSigner,
  challengeResultHash,
  commitmentToWire,
  int32LE,
  merklePath,
  merkleRoot,
  OPENED_ROWS,
  rowLeaves,
  rowsMode,
  signChallengeCommitment,
  ZERO_ROOT,
} from '../../protocol/challenge.js';
import { expandChallengeMatrices } from '../../protocol/challenge-matrices.js';
import { sessionFail } from '../../protocol/errors.js';
import type { TypedDataDomain } from '../../protocol/typed-data.js';
import type { EnclaveIdentity } from '../session/identity.js';
import type { ChallengeAuthority, ChallengeMembership } from './authority.js';
import { ChallengeBudget } from './budget.js';
import type { MatmulEngine } from './engine.js';
import { KeptResults } from './kept-results.js';

/** Authority answers cached at most (lease, witness pairs). */
const MEMBERSHIP_CACHE_SIZE = 4096;
/** How long a refusal by the authority is remembered. */
const NEGATIVE_TTL_MS = 5_000;

/** What an opening response carries besides the rows (id, first row, field tags and lengths). */
const OPEN_RESPONSE_OVERHEAD_BYTES = 256;

export interface ChallengeServiceOptions {
  readonly authority: ChallengeAuthority;
  /** The engine, or a promise of it (started lazily by the executor). */
  readonly engine: () => Promise<MatmulEngine>;
  readonly identity: EnclaveIdentity;
  readonly domain: TypedDataDomain;
  /** The largest body a sealed response may carry (frame padding: max message − 64 − 4). */
  readonly maxBodyBytes: number;
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * The executor's side of a capacity challenge (docs/witness.md, "Capacity challenges"): checks the
 * witness (proof, membership, fresh id, budget), multiplies, commits (H_C, rows root in rows mode,
 * EIP-712 signature by the enclave identity key), and keeps C for the witness to open. Challenges
 * never touch the customers' books and are not billed.
 */
export class ChallengeService {
  private readonly budget: ChallengeBudget;
  /** A product is being computed (see CHALLENGE_BUSY). */
  private computing = false;
  private readonly kept: KeptResults;
  private readonly now: () => number;
  private readonly memberships = new Map<
    string,
    { readonly m: ChallengeMembership | undefined; readonly until: number }
  >();

  constructor(private readonly o: ChallengeServiceOptions) {
    this.now = o.now ?? Date.now;
    this.budget = new ChallengeBudget({ now: this.now });
    this.kept = new KeptResults({ now: this.now });
  }

  /**
   * A challenge on a session: it names the session's lease, or 0 (no lease, on a standalone
   * executor); any other lease is refused (WRONG_LEASE).
   */
  async challenge(
    session: { readonly id: Uint8Array; readonly leaseId: bigint },
    w: ChallengeRequest__Output,
  ): Promise<ChallengeCommitment> {
    const sessionId = session.id;
    const req = challengeRequestFromWire(w);
    if (req.leaseId !== 0n && req.leaseId !== session.leaseId)
      sessionFail('WRONG_LEASE', `this session serves lease ${session.leaseId}, not ${req.leaseId}`, {
        leaseId: session.leaseId.toString(),
        requested: req.leaseId.toString(),
      });
    const signer = challengeRequestSigner(req.proof, sessionId, req);
    if (signer !== req.witness)
      sessionFail('CHALLENGE_NOT_MEMBER', 'the witness proof is not signed by the witness for this session', {
        witness: req.witness,
      });
    const m = await this.membership(req.leaseId, req.witness);
    if (!m)
      sessionFail('CHALLENGE_NOT_MEMBER', 'the witness is not a member of the current round', {
        witness: req.witness,
      });
    const idHex = toHex(req.id);
    // One product at a time (nothing awaits between this check and taking the slot): a second one
    // would share the engine's workers and make both late. A refused challenge spends no budget.
    if (this.computing)
      sessionFail('CHALLENGE_BUSY', 'another challenge is being computed; try again shortly', {
        witness: req.witness,
      });
    this.budget.admit(req.leaseId, req.witness, m, idHex, req.n);
    this.computing = true;
    let c: Int32Array;
    let computedMs: number;
    try {
      const { a, b } = expandChallengeMatrices(req.seed, req.n);
      const engine = await this.o.engine();
      const t0 = performance.now();
      c = await engine.multiply(req.n, a, b);
      computedMs = performance.now() - t0;
    } finally {
      this.computing = false;
    }
    if (c.length !== req.n * req.n)
      sessionFail('EXECUTOR_INTERNAL', 'the engine returned a product of the wrong size');
    const leaves = rowsMode(req.n) ? rowLeaves(req.n, c) : undefined;
    const fields: ChallengeCommitmentFields = {
      leaseId: req.leaseId,
      witness: req.witness,
      id: req.id,
      seed: req.seed,
      n: req.n,
      cls: req.cls,
      resultHash: challengeResultHash(req.id, req.n, c),
      rowsRoot: leaves ? merkleRoot(leaves) : ZERO_ROOT,
    };
    const signature = signChallengeCommitment(this.o.domain, fields, this.o.identity.identityPrivateKey);
    this.kept.keep(toHex(sessionId), req.witness, idHex, req.n, c, leaves);
    this.o.log.info(
      { witness: req.witness, n: req.n, computedMs: Math.round(computedMs) },
      'challenge committed',
    );
    return commitmentToWire({ ...fields, computedMs, signature });
  }

  /**
   * Runs the challenge path once on a small product (expansion, engine, hash, tree, signature), so
   * that a member's first challenge does not pay for loading and compiling it within its deadline.
   */
  async warmUp(): Promise<void> {
    const n = 16;
    const seed = new Uint8Array(32);
    const { a, b } = expandChallengeMatrices(seed, n);
    const c = await (await this.o.engine()).multiply(n, a, b);
    const leaves = rowLeaves(n, c);
    signChallengeCommitment(
      this.o.domain,
      {
        leaseId: 0n,
        witness: this.o.identity.identityAddress,
        id: seed,
        seed,
        n,
        cls: CHALLENGE_CLASS_CPU,
        resultHash: challengeResultHash(seed, n, c),
        rowsRoot: merkleRoot(leaves),
      },
      this.o.identity.identityPrivateKey,
    );
  }

  /**
   * The authority's answer, cached: a membership until its epoch ends (a round's committee does not
   * change within the epoch), a refusal for NEGATIVE_TTL_MS (a round may be drawn later). So only a
   * member's first challenge of an epoch waits for the chain; the cache is bounded (oldest dropped).
   */
  private async membership(leaseId: bigint, witness: string): Promise<ChallengeMembership | undefined> {
    const key = `${leaseId}/${witness}`;
    const t = this.now();
    const hit = this.memberships.get(key);
    if (hit && hit.until > t) return hit.m;
    let m: ChallengeMembership | undefined;
    try {
      m = await this.o.authority({ leaseId, witness });
    } catch (e) {
      this.o.log.warn({ err: e }, 'challenge authority failed; refusing');
      return undefined;
    }
    this.memberships.delete(key);
    if (this.memberships.size >= MEMBERSHIP_CACHE_SIZE) {
      const oldest = this.memberships.keys().next().value;
      if (oldest !== undefined) this.memberships.delete(oldest);
    }
    this.memberships.set(key, { m, until: m ? m.epochEndsAt : t + NEGATIVE_TTL_MS });
    return m;
  }

  open(sessionId: Uint8Array, w: ChallengeOpenRequest__Output): ChallengeOpenResponse {
    if (w.id.length !== 32) sessionFail('CHALLENGE_MALFORMED', 'id must be 32 bytes');
    const r = this.kept.get(toHex(sessionId), toHex(w.id));
    if (!r) sessionFail('CHALLENGE_UNKNOWN', 'no kept result for this challenge id on this session');
    const n = r.n;
    const bytes = int32LE(r.c);
    const rowBytes = n * 4;
    if (!r.leaves) {
      if (w.rows.length > 0) sessionFail('CHALLENGE_MALFORMED', 'n ≤ 1024 is opened by row ranges');
      const fit = Math.floor((this.o.maxBodyBytes - OPEN_RESPONSE_OVERHEAD_BYTES) / rowBytes);
      if (w.rowCount < 1 || w.firstRow >= n || fit < 1)
        sessionFail('CHALLENGE_MALFORMED', `rows [${w.firstRow}, +${w.rowCount}) are not in 0..${n}`);
      const k = Math.min(w.rowCount, n - w.firstRow, fit);
      return {
        id: w.id,
        firstRow: w.firstRow,
        rowsLe: Buffer.from(bytes.subarray(w.firstRow * rowBytes, (w.firstRow + k) * rowBytes)),
      };
    }
    const rows = w.rows;
    if (rows.length !== OPENED_ROWS || new Set(rows).size !== rows.length || rows.some((i) => i >= n))
      sessionFail('CHALLENGE_MALFORMED', `rows mode opens exactly ${OPENED_ROWS} distinct rows in 0..${n}`);
    const leaves = r.leaves;
    return {
      id: w.id,
      proofs: rows.map((i) => ({
        index: i,
        row: Buffer.from(bytes.subarray(i * rowBytes, (i + 1) * rowBytes)),
        path: merklePath(leaves, i).map((p) => Buffer.from(p)),
      })),
    };
  }
}
