import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../durable-file.js';
import { abandonDir, lockDir, unlockDir } from './dir-lock.js';
import { AgentError, stateCorrupt, stateIo } from './errors.js';

/*
 * The agent's state directory: what it must not forget across a crash.
 *
 *   <dir>/agent.json           which witness, chain and pool; the block cursor; failures outside rounds
 *   <dir>/rounds/<roundId>.json one file per round it was drawn into (phase, sealed verdict and salt,
 *                               transactions, failures, outcome)
 *   <dir>/agent.lock           the pid of the agent using the directory
 *
 * Every write is atomic and durable: the bytes go to a fresh temporary file in the same directory,
 * which is fsync'd, renamed over the target, and the directory is fsync'd, so after a crash a file
 * holds either its old or its new content. A leftover temporary file (`*.tmp-*`, a write torn by a
 * crash) is ignored and removed. A state file that exists but does not parse, or has another
 * version or shape, is a STATE_CORRUPT error: the agent stops rather than start over (a reset would
 * forget a sealed salt and turn a pending reveal into a missed one).
 */

export const STATE_VERSION = 1;

export type Verdict = 'Ok' | 'Fraud' | 'Unavailable' | 'Stale';
export const VERDICTS: readonly Verdict[] = ['Ok', 'Fraud', 'Unavailable', 'Stale'];

/**
 * Where a round is for this witness:
 * - `drawn`: a member; not evaluated yet (or the evaluation was interrupted: it runs again);
 * - `sealed`: verdict and salt persisted; the commitment may or may not be on chain (checked by view);
 * - `committed`: the commitment is on chain; the reveal is due in the reveal window;
 * - `settling`: this witness is done (revealed, or missed a window); waiting for `finalize`;
 * - `finalized`: the outcome and this witness's payment are recorded (terminal);
 * - `lost`: the pool no longer knows the round (its storage was reused) before the agent saw it
 *   finalized; its events are the record (terminal).
 */
export type RoundPhase = 'drawn' | 'sealed' | 'committed' | 'settling' | 'finalized' | 'lost';

export interface Failure {
  /** ISO time (wall clock) it was recorded. */
  readonly at: string;
  /** `commit`, `reveal`, `finalize`, `evaluate`, `register`, `poll`. */
  readonly step: string;
  /** AgentError code (TX_REVERTED, TX_FAILED, …) or WINDOW_MISSED / EVALUATOR_ERROR. */
  readonly code: string;
  readonly message: string;
  /** The decoded custom error of a revert (`WitnessPoolCommitClosed`), when there is one. */
  readonly error?: string;
  readonly args?: readonly string[];
}

export interface Evaluated {
  readonly verdict: Verdict;
  /** 0x-hex, 32 bytes. */
  readonly evidenceHash: string;
  readonly evidencePath?: string;
  /** Decimal seconds; 0 for Ok and Stale. */
  readonly violationTime: string;
  /** Set when the evaluator failed and the verdict is the rules' default for that (Unavailable). */
  readonly evaluatorError?: string;
  readonly checks?: readonly { name: string; verdict: Verdict; detail?: string }[];
  readonly at: string;
  readonly ms: number;
}

/** What is sealed in the commitment: persisted (fsync) before the commitment is sent. */
export interface Sealed {
  readonly verdict: Verdict;
  readonly violationTime: string;
  readonly evidenceHash: string;
  readonly salt: string;
  readonly commitment: string;
}

export interface RoundRecord {
  readonly v: 1;
  readonly roundId: string;
  readonly leaseId: string;
  readonly epoch: number;
  phase: RoundPhase;
  /** Block of the CommitteeDrawn event (where the round's payments are looked for). */
  readonly drawnBlock: number;
  /** Chain times, seconds. */
  readonly epochEnd: number;
  readonly commitDeadline: number;
  readonly revealDeadline: number;
  evaluation?: Evaluated;
  sealed?: Sealed;
  commitTx?: string;
  revealTx?: string;
  finalizeTx?: string;
  /** The window this witness missed, if any. */
  missed?: 'commit' | 'reveal';
  outcome?: {
    readonly verdict: Verdict | 'None';
    /** This witness's WitnessPaid amounts summed (token base units, decimal, negative = penalty). */
    readonly paid: string;
    /** Whether this witness's transaction finalized the round. */
    readonly finalizedByUs: boolean;
  };
  failures: Failure[];
}

export interface AgentRecord {
  readonly v: 1;
  readonly witness: string;
  readonly chainId: string;
  readonly pool: string;
  /** Last block whose CommitteeDrawn events were read; null before the first poll. */
  cursor: number | null;
  witnessId?: string;
  registeredTx?: string;
  failures: Failure[];
}

export interface Identity {
  readonly witness: string;
  readonly chainId: bigint;
  readonly pool: string;
}

const isTemp = (name: string) => name.includes('.tmp-');

/** The parsed JSON object in `path`, undefined when the file does not exist. */
async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw stateIo(path, e);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw stateCorrupt(path, 'not JSON (a torn or edited file)', e);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw stateCorrupt(path, 'not a JSON object');
  if ((v as { v?: unknown }).v !== STATE_VERSION)
    throw stateCorrupt(path, `state version ${String((v as { v?: unknown }).v)}, expected ${STATE_VERSION}`);
  return v as Record<string, unknown>;
}

const HEX32 = /^0x[0-9a-f]{64}$/;
const DEC = /^-?[0-9]+$/;

function need(ok: boolean, path: string, field: string): void {
  if (!ok) throw stateCorrupt(path, `field ${field} missing or of the wrong type`);
}

function checkSealed(s: unknown, path: string): void {
  need(typeof s === 'object' && s !== null, path, 'sealed');
  const x = s as Record<string, unknown>;
  need(VERDICTS.includes(x.verdict as Verdict), path, 'sealed.verdict');
  need(typeof x.violationTime === 'string' && DEC.test(x.violationTime), path, 'sealed.violationTime');
  for (const f of ['evidenceHash', 'salt', 'commitment'])
    need(typeof x[f] === 'string' && HEX32.test(x[f] as string), path, `sealed.${f}`);
}

const PHASES: readonly RoundPhase[] = ['drawn', 'sealed', 'committed', 'settling', 'finalized', 'lost'];

function checkRound(v: Record<string, unknown>, path: string): RoundRecord {
  need(typeof v.roundId === 'string' && /^[0-9]+$/.test(v.roundId), path, 'roundId');
  need(typeof v.leaseId === 'string' && /^[0-9]+$/.test(v.leaseId), path, 'leaseId');
  for (const f of ['epoch', 'drawnBlock', 'epochEnd', 'commitDeadline', 'revealDeadline'])
    need(Number.isSafeInteger(v[f]), path, f);
  need(PHASES.includes(v.phase as RoundPhase), path, 'phase');
  need(Array.isArray(v.failures), path, 'failures');
  if (v.sealed !== undefined) checkSealed(v.sealed, path);
  // A round past `drawn` has its verdict and salt: without them it can never be revealed.
  if (v.phase === 'sealed' || v.phase === 'committed') need(v.sealed !== undefined, path, 'sealed');
  return v as unknown as RoundRecord;
}

function checkAgent(v: Record<string, unknown>, path: string): AgentRecord {
  need(typeof v.witness === 'string', path, 'witness');
  need(typeof v.chainId === 'string', path, 'chainId');
  need(typeof v.pool === 'string', path, 'pool');
  need(v.cursor === null || Number.isSafeInteger(v.cursor), path, 'cursor');
  need(Array.isArray(v.failures), path, 'failures');
  return v as unknown as AgentRecord;
}

export interface StateSnapshot {
  readonly agent: AgentRecord;
  readonly rounds: RoundRecord[];
}

/** Reads a state directory without taking it (for `status`); STATE_IO when it holds no agent state. */
export async function readState(dir: string): Promise<StateSnapshot> {
  const agentPath = join(dir, 'agent.json');
  const a = await readJson(agentPath);
  if (a === undefined)
    throw new AgentError('STATE_IO', `${dir} holds no witness agent state (no agent.json)`, { path: dir });
  const agent = checkAgent(a, agentPath);
  const rounds: RoundRecord[] = [];
  const roundsDir = join(dir, 'rounds');
  let names: string[] = [];
  try {
    names = await readdir(roundsDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw stateIo(roundsDir, e);
  }
  for (const name of names.sort()) {
    if (isTemp(name) || !name.endsWith('.json')) continue;
    const path = join(roundsDir, name);
    const r = await readJson(path);
    if (r !== undefined) rounds.push(checkRound(r, path));
  }
  rounds.sort((x, y) => (BigInt(x.roundId) < BigInt(y.roundId) ? -1 : 1));
  return { agent, rounds };
}

export class StateStore {
  private constructor(
    readonly dir: string,
    readonly agent: AgentRecord,
    readonly rounds: Map<string, RoundRecord>,
  ) {}

  /**
   * Takes the directory (creating it), removes torn temporary files, loads (or creates) the state and
   * checks it belongs to `id`. Refuses a directory held by another live agent, or of another witness,
   * chain or pool.
   */
  static async open(dir: string, id: Identity): Promise<StateStore> {
    try {
      await mkdir(join(dir, 'rounds'), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw stateIo(dir, e);
    }
    await lockDir(dir, 'agent.lock', 'agent');
    try {
      for (const sub of [dir, join(dir, 'rounds')])
        for (const name of await readdir(sub)) if (isTemp(name)) await rm(join(sub, name), { force: true });
      const agentPath = join(dir, 'agent.json');
      const existing = await readJson(agentPath);
      let snapshot: StateSnapshot;
      if (existing === undefined) {
        const agent: AgentRecord = {
          v: 1,
          witness: id.witness,
          chainId: id.chainId.toString(),
          pool: id.pool,
          cursor: null,
          failures: [],
        };
        await writeFileAtomic(agentPath, `${JSON.stringify(agent, null, 2)}\n`);
        snapshot = await readState(dir);
      } else {
        snapshot = await readState(dir);
        const a = snapshot.agent;
        const same =
          a.witness.toLowerCase() === id.witness.toLowerCase() &&
          a.chainId === id.chainId.toString() &&
          a.pool.toLowerCase() === id.pool.toLowerCase();
        if (!same)
          throw new AgentError(
            'STATE_MISMATCH',
            `${dir} is the state of witness ${a.witness} on chain ${a.chainId}, pool ${a.pool}; this agent is ${id.witness} on chain ${id.chainId}, pool ${id.pool}`,
            { path: dir },
          );
      }
      return new StateStore(dir, snapshot.agent, new Map(snapshot.rounds.map((r) => [r.roundId, r])));
    } catch (e) {
      await unlockDir(dir, 'agent.lock');
      throw e;
    }
  }

  /** Gives the directory back (the lock file is removed). */
  async close(): Promise<void> {
    await unlockDir(this.dir, 'agent.lock');
  }

  /**
   * Lets go of the directory as a crash would: the lock file stays (a later agent of another process
   * takes it once this pid is gone; one of this process, at once).
   */
  abandon(): void {
    abandonDir(this.dir);
  }

  async saveAgent(): Promise<void> {
    const path = join(this.dir, 'agent.json');
    try {
      await writeFileAtomic(path, `${JSON.stringify(this.agent, null, 2)}\n`);
    } catch (e) {
      throw stateIo(path, e);
    }
  }

  async saveRound(r: RoundRecord): Promise<void> {
    this.rounds.set(r.roundId, r);
    const path = join(this.dir, 'rounds', `${r.roundId}.json`);
    try {
      await writeFileAtomic(path, `${JSON.stringify(r, null, 2)}\n`);
    } catch (e) {
      throw stateIo(path, e);
    }
  }
}
