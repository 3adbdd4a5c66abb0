import { randomBytes } from 'node:crypto';
import type { ChallengeCommitment__Output } from '../../proto/gen/defaas/executor/v1/ChallengeCommitment.js';
import type { ChallengeOpenRequest } from '../../proto/gen/defaas/executor/v1/ChallengeOpenRequest.js';
import type { ChallengeOpenResponse__Output } from '../../proto/gen/defaas/executor/v1/ChallengeOpenResponse.js';
import type { ChallengeRequest } from '../../proto/gen/defaas/executor/v1/ChallengeRequest.js';
import type { TypedDataDomain } from '../../protocol/typed-data.js';
import { DefaasError } from '../errors.js';
import type { Session } from './session.js';

/**
 * A witness's view of a Session for capacity challenges (the shape of verifier/challenge.ts's
 * ChallengeChannel, which this module does not import): `challenge` and `open` travel on the
 * Challenge RPC, sealed, sent once each.
 *
 * `rtt()` times one sealed `challenge_open` of a random id: the same RPC, the same frame path and the
 * same smallest padding bucket as the challenge request, no computation at the executor, and an
 * answer that is always the sealed refusal CHALLENGE_UNKNOWN. Any other answer (or none) rejects.
 */
export interface SessionChallengeChannel {
  readonly sessionId: Uint8Array;
  readonly enclaveAddress: string;
  readonly evidenceHash: Uint8Array;
  readonly domain: TypedDataDomain;
  readonly maxMessageBytes: number;
  rtt(): Promise<number>;
  challenge(req: ChallengeRequest): Promise<ChallengeCommitment__Output>;
  open(req: ChallengeOpenRequest): Promise<ChallengeOpenResponse__Output>;
}

export function sessionChallengeChannel(session: Session): SessionChallengeChannel {
  // Read from the session at each use: a re-opened session has another id (and the proof names it).
  return {
    get sessionId() {
      return session.accepted.sessionId;
    },
    get enclaveAddress() {
      return session.accepted.identityAddress;
    },
    get evidenceHash() {
      return session.accepted.verified.evidenceHash;
    },
    get domain() {
      return session.domain;
    },
    get maxMessageBytes() {
      return Number(session.accepted.terms.limits.maxMessageBytes);
    },
    async rtt() {
      const t0 = performance.now();
      try {
        const res = await session.challengeRequest({
          challengeOpen: { id: randomBytes(32), firstRow: 0, rowCount: 1 },
        });
        throw new DefaasError('RECEIPT_MISMATCH', `an opening of a random id was answered with ${res.body}`);
      } catch (e) {
        if (e instanceof DefaasError && e.origin === 'sealed' && e.code === 'CHALLENGE_UNKNOWN')
          return performance.now() - t0;
        throw e;
      }
    },
    async challenge(req) {
      const res = await session.challengeRequest({ challenge: req });
      if (!res.challenge)
        throw new DefaasError('RECEIPT_MISMATCH', `sealed answer to a challenge is a ${res.body}`);
      return res.challenge;
    },
    async open(req) {
      const res = await session.challengeRequest({ challengeOpen: req });
      if (!res.challengeOpen)
        throw new DefaasError('RECEIPT_MISMATCH', `sealed answer to a challenge opening is a ${res.body}`);
      return res.challengeOpen;
    },
  };
}
