import type { Logger } from 'pino';
import type { LeaseTermsFields } from '../../protocol/transcript.js';
import type { ChallengeService } from '../challenge/service.js';
import type { Books } from '../ledger/books.js';
import type { FunctionRuntime } from '../runtime/function-runtime.js';
import type { SessionTable } from '../session/session-table.js';
import type { LeaseChecks } from './lease-checks.js';
import type { ProbeReservations } from './probe-reservations.js';

/** The slice of FunctionRuntime the executor uses (enclave-host/runtime/function-runtime.ts). */
export type Runtime = Pick<
  FunctionRuntime,
  'register' | 'unregister' | 'invoke' | 'close' | 'has' | 'effectiveLimits'
>;

/**
 * What the request handlers work with: the runtime, the books, the sessions' client bindings, the
 * lease checks, the caps reserved for probe grants and the terms served.
 */
export interface RequestContext {
  readonly runtime: Runtime;
  readonly books: Books;
  readonly sessions: Pick<SessionTable, 'checkBinding' | 'bindClient'>;
  readonly leaseChecks: LeaseChecks;
  readonly probes: ProbeReservations;
  readonly terms: LeaseTermsFields;
  readonly log: Logger;
  /** Capacity challenges (the Challenge RPC); without it every challenge is refused. */
  readonly challenges?: ChallengeService;
}
