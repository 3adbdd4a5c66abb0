import type { Logger } from 'pino';
import type { CallOutcome } from '../../proto/gen/defaas/executor/v1/CallOutcome.js';
import type { SessionResponse } from '../../proto/load.js';
import { errorDetail, logRefusal, toWireError } from '../rpc-errors.js';

/**
 * The sealed answer to an authenticated request that was refused: SessionResponse{error}. For an
 * Invoke, `callOutcome` tells what became of its nonce (NOT_ADMITTED: still free; NOT_RUN: spent,
 * nothing ran, nothing charged).
 */
export function refusal(log: Logger, rpc: string, e: unknown, callOutcome?: CallOutcome): SessionResponse {
  const w = toWireError(e);
  logRefusal(log, w, e, rpc);
  return { error: errorDetail(w, callOutcome) };
}
