/**
 * Who may challenge the executor, and with what budget (docs/witness.md, "Capacity challenges"):
 * for a witness in the current round of the lease's witness pool, the epoch and the lease's claimed
 * capacity; undefined when the witness is not a member (refused: CHALLENGE_NOT_MEMBER). A throw is
 * taken as "not known now" and refused the same way (fail closed).
 */
export interface ChallengeMembership {
  readonly epoch: bigint;
  /** Unix milliseconds at which the epoch ends. */
  readonly epochEndsAt: number;
  readonly epochSeconds: number;
  readonly committeeSize: number;
  readonly claimedGflops: number;
}

export type ChallengeAuthority = (q: {
  leaseId: bigint;
  witness: string;
}) => Promise<ChallengeMembership | undefined>;

/** The authority that admits nobody: an executor with neither chain nor allow-list. */
export const NO_CHALLENGES: ChallengeAuthority = async () => undefined;

export interface AllowListOptions {
  /** Witness addresses admitted (any case). */
  readonly witnesses: readonly string[];
  /** Epoch length (default 3,600 s); epochs count from the Unix epoch. */
  readonly epochSeconds?: number;
  readonly claimedGflops: number;
  readonly now?: () => number;
}

/**
 * A standalone executor's authority: the listed witnesses, on lease id 0 only, form the committee;
 * epochs are fixed windows of `epochSeconds`.
 */
export function allowListAuthority(o: AllowListOptions): ChallengeAuthority {
  const allowed = new Set(o.witnesses.map((w) => w.toLowerCase()));
  const epochSeconds = o.epochSeconds ?? 3600;
  if (!(epochSeconds > 0) || !Number.isFinite(epochSeconds))
    throw new RangeError('epoch seconds must be > 0');
  if (!(o.claimedGflops > 0) || !Number.isFinite(o.claimedGflops))
    throw new RangeError('claimed GFLOP/s must be > 0');
  if (allowed.size === 0) throw new RangeError('the allow-list is empty');
  const now = o.now ?? Date.now;
  return async ({ leaseId, witness }) => {
    if (leaseId !== 0n || !allowed.has(witness.toLowerCase())) return undefined;
    const ms = epochSeconds * 1000;
    const epoch = Math.floor(now() / ms);
    return {
      epoch: BigInt(epoch),
      epochEndsAt: (epoch + 1) * ms,
      epochSeconds,
      committeeSize: allowed.size,
      claimedGflops: o.claimedGflops,
    };
  };
}
