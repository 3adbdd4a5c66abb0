import type { SessionRequest__Output, SessionResponse } from '../../proto/load.js';
import { sessionFail } from '../../protocol/errors.js';
import type { ChallengeService } from '../challenge/service.js';
import type { ServerSession } from '../session/server-session.js';

/**
 * A sealed request on the Challenge RPC: `challenge` (answered with the signed commitment) or
 * `challenge_open` (rows of a kept product). Neither touches the customers' books.
 */
export async function challenge(
  service: ChallengeService,
  session: ServerSession,
  req: SessionRequest__Output,
): Promise<SessionResponse> {
  if (req.body === 'challenge') return { challenge: await service.challenge(session, req.challenge!) };
  if (req.body === 'challengeOpen') return { challengeOpen: service.open(session.id, req.challengeOpen!) };
  return sessionFail('REQUEST_MALFORMED', `expected a challenge request, got ${req.body ?? 'none'}`);
}
