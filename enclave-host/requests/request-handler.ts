import type { SessionRequest__Output, SessionResponse } from '../../proto/load.js';
import { sessionFail } from '../../protocol/errors.js';
import type { ServerSession } from '../session/server-session.js';
import { challenge } from './challenge.js';
import type { RequestContext } from './context.js';
import { invoke } from './invoke.js';
import { refusal } from './refusal.js';
import { settle } from './settle.js';
import { sync } from './sync.js';

export type RequestKind = 'deploy' | 'invoke' | 'settle' | 'sync' | 'undeploy' | 'challenge';

/**
 * Answers one authenticated SessionRequest with the SessionResponse to seal: the response body, or
 * SessionResponse{error} for a refusal. It never throws: whatever happens after a frame authenticated
 * travels sealed, with status OK (docs/session.md, "Errors: sealed after authentication").
 */
export class RequestHandler {
  constructor(private readonly c: RequestContext) {}

  /** `expected`: the request kind of the unary RPC it came on (InvokeStream takes any). */
  async handle(
    session: ServerSession,
    req: SessionRequest__Output,
    expected: RequestKind | undefined,
  ): Promise<SessionResponse> {
    // Both challenge bodies travel on the Challenge RPC, and only there (not on InvokeStream).
    const kind = req.body === 'challengeOpen' ? 'challenge' : req.body;
    try {
      if (kind === 'challenge' && expected !== 'challenge')
        sessionFail('REQUEST_MALFORMED', 'challenges travel on the Challenge RPC only');
      if (!kind || (expected && kind !== expected))
        sessionFail(
          'REQUEST_MALFORMED',
          `expected a ${expected ?? 'session'} request, got ${kind ?? 'none'}`,
        );
      switch (kind) {
        case 'deploy': {
          const wasm = req.deploy?.wasm ?? Buffer.alloc(0);
          // The deploying party is the session's peer address: its quota of functions is shared by
          // all its sessions, which it could otherwise open to deploy without bound.
          const fnId = await this.c.runtime.register(wasm, session.peer);
          this.c.log.info({ fnId, bytes: wasm.length }, 'function deployed');
          return { deploy: { functionId: Buffer.from(fnId, 'hex') } };
        }
        case 'undeploy': {
          const id = req.undeploy?.functionId ?? Buffer.alloc(0);
          if (id.length !== 32) sessionFail('REQUEST_MALFORMED', 'function id must be 32 bytes');
          return { undeploy: { removed: this.c.runtime.unregister(id.toString('hex'), session.peer) } };
        }
        case 'invoke':
          return await invoke(this.c, session, req.invoke!);
        case 'settle':
          return await settle(this.c, session, req.settle!);
        case 'sync':
          return await sync(this.c, session, req.sync!);
        case 'challenge':
          if (!this.c.challenges) sessionFail('CHALLENGE_NOT_MEMBER', 'this executor takes no challenges');
          return await challenge(this.c.challenges, session, req);
      }
    } catch (e) {
      return refusal(this.c.log, kind ?? 'unknown', e);
    }
  }
}
