import { CodedError, type ErrorInfo } from '../../attestation/errors.js';

/*
 * The one error class of the witness agent. Kinds follow the CLI's table (cli/exit-codes.ts):
 * `malformed` state on disk (fail closed: never reset silently), `usage` (a wrong option or a state
 * directory of another witness, chain or pool), `transient` (the chain cannot be reached now),
 * `rejected` (a transaction the contracts refused; its decoded custom error is in `info`).
 */
export type AgentErrorKind = 'malformed' | 'usage' | 'transient' | 'rejected' | 'internal';

/** Stable codes. Add new ones, never rename one: scripts match on them. */
export const AGENT_ERROR_KINDS = {
  /** A state file exists but is not valid JSON of the expected shape and version. */
  STATE_CORRUPT: 'malformed',
  /** A state file or directory cannot be read or written. */
  STATE_IO: 'usage',
  /** The state directory belongs to another witness, chain or pool. */
  STATE_MISMATCH: 'usage',
  /** Another live agent holds the state directory. */
  STATE_LOCKED: 'usage',
  /** The deployment file or the chain behind --rpc is not what the agent needs. */
  DEPLOYMENT_INVALID: 'usage',
  /** A probe kit file (known answers or grant) is there but malformed or for another lease, epoch or witness. */
  PROBE_KIT_INVALID: 'malformed',
  /** The chain's JSON-RPC endpoint does not answer (after retries). */
  CHAIN_UNAVAILABLE: 'transient',
  /** A transaction the contracts refused; `info.error` is the decoded custom error. */
  TX_REVERTED: 'rejected',
  /** A transaction that could not be sent or confirmed after every retry. */
  TX_FAILED: 'transient',
  /** Registration needs more tokens (or allowance) than the wallet has. */
  INSUFFICIENT_FUNDS: 'rejected',
} as const satisfies Record<string, AgentErrorKind>;

export type AgentErrorCode = keyof typeof AGENT_ERROR_KINDS;

export class AgentError extends CodedError<AgentErrorCode, AgentErrorKind> {
  override readonly name = 'AgentError';

  constructor(code: AgentErrorCode, message: string, info?: ErrorInfo, cause?: unknown) {
    super(code, AGENT_ERROR_KINDS[code], message, info, cause);
  }
}

export function isAgentError(e: unknown, code?: AgentErrorCode): e is AgentError {
  return e instanceof AgentError && (code === undefined || e.code === code);
}

/** A state file that is there but damaged (not JSON, another shape or version): never reset. */
export function stateCorrupt(path: string, why: string, cause?: unknown): AgentError {
  return new AgentError('STATE_CORRUPT', `${path}: ${why}`, { path }, cause);
}

/** A state file or directory that cannot be read or written, with the errno. */
export function stateIo(path: string, e: unknown): AgentError {
  const errno = (e as NodeJS.ErrnoException).code ?? 'error';
  return new AgentError('STATE_IO', `${path}: ${errno}`, { path, errno }, e);
}
