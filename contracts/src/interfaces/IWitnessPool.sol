// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Witness committees with commit-reveal verdicts, one round per lease epoch
/// (ARCHITECTURE.md, "Witness checks")
/// @notice The market requests a round for an epoch of a lease and pays its witness fee
/// (`size * rewardUnit`) with the request. After `seedDelay` blocks anyone draws a committee of `size`
/// distinct witnesses from those eligible at the request block, seeded by a block hash that did not
/// exist at request time (pivot-block method past 256 blocks; docs/contracts.md). Members probe the
/// lease during the epoch, then commit
/// `keccak256(abi.encode(chainId, pool, leaseId, roundId, witness, verdict, violationTime, evidenceHash, salt))`
/// until `commitDeadline = max(draw time, epoch end) + commitWindow`, and reveal in the following
/// `revealWindow`; a reveal carries the hash of the witness's evidence bundle.
/// Outcome: `Fraud` when at least `majority` reported Fraud; else `Unavailable` when at least
/// `majority` reported Fraud or Unavailable; else `Stale` when at least `majority` reported Stale;
/// else `Ok`. The outcome is reported to the market first: a Fraud or Unavailable outcome the market
/// counts (it settled an epoch of a running lease) slashes `providerSlashBps` of the lease's collateral
/// (split between the customer, the members that reported a violation and a burn), so a lease is
/// slashed by the pool at most once, by the outcome that failed it; an outcome reported after the lease
/// ended (the other open round of a lease that failed) slashes nothing. Stale never slashes.
/// Rewards come only from the round's fee (no token is minted): every member whose report agrees with
/// the outcome is paid `rewardUnit` (a violation report agrees with Fraud and Unavailable); what is
/// left of the fee goes back to the customer. A member that reported a violation against an Ok or
/// Stale outcome loses `rewardUnit` of stake; a member that did not reveal loses `2 * rewardUnit` and
/// `reputationLoss` reputation; penalties are burned. A round that cannot be drawn within
/// `drawTimeout` is cancelled and its fee refunded; the market does not pay the provider for it.
/// A lease's rounds share its terms (customer, executor, size, majority), recorded at its first
/// request. A lease's rounds are stored by epoch parity: the next request of the same parity (normally
/// two epochs later; the market makes it only after this round ended) overwrites a round, and from then
/// on the old id names an unknown round (views report nothing, calls revert `WitnessPoolUnknownRound`);
/// its history is in its events.
interface IWitnessPool {
    enum Phase {
        None,
        Requested,
        Drawn,
        Finalized,
        Cancelled
    }

    /// @notice A member's report, and a round's outcome (`None` until finalized).
    enum Verdict {
        None,
        Ok,
        Fraud,
        Unavailable,
        Stale
    }

    /// @dev Packed; member ids are 8 uint32 witness ids per word.
    struct Round {
        uint256 leaseId;
        address customer;
        uint64 executorId;
        uint32 epoch;
        uint40 frozenBlock;
        uint40 seedBlock;
        uint32 frozenCount;
        uint64 requestedAt;
        uint64 epochEnd;
        uint64 commitDeadline;
        uint96 fee;
        uint8 size;
        uint8 majority;
        Phase phase;
        Verdict verdict;
        uint16 revealedMask;
        uint16 violatedMask;
        uint8 revealedCount;
        uint8 fraudCount;
        uint8 unavailableCount;
        uint8 staleCount;
        uint256[2] members;
    }

    error WitnessPoolUnauthorized(address caller);
    error WitnessPoolAlreadyWired();
    error WitnessPoolBadParams();
    error WitnessPoolBadCommittee(uint256 size, uint256 majority);
    error WitnessPoolUnknownRound(uint256 roundId);
    error WitnessPoolWrongPhase(uint256 roundId, Phase phase);
    error WitnessPoolSeedNotReady(uint256 roundId, uint64 seedBlock);
    error WitnessPoolCommitteeUnfilled(uint256 found, uint256 size);
    error WitnessPoolCommitClosed(uint256 roundId, uint64 deadline);
    error WitnessPoolRevealNotOpen(uint256 roundId, uint64 opensAt);
    error WitnessPoolRevealClosed(uint256 roundId, uint64 deadline);
    error WitnessPoolZeroCommitment();
    error WitnessPoolNotMember(uint256 roundId, address caller);
    error WitnessPoolAlreadyRevealed(uint256 roundId, address witness);
    error WitnessPoolBadVerdict(Verdict verdict);
    error WitnessPoolCommitmentMismatch(uint256 roundId, address witness);
    error WitnessPoolNotFinalizable(uint256 roundId, uint64 notBefore);
    error WitnessPoolRoundExists(uint256 roundId);
    error WitnessPoolLeaseIdTooLarge(uint256 leaseId);
    error WitnessPoolEpochTooLarge(uint256 epoch);
    /// @notice The lease's round of the same epoch parity (same storage) is still open.
    error WitnessPoolRoundOpen(uint256 openRoundId);
    /// @notice A later epoch of the same parity was requested already.
    error WitnessPoolEpochOutOfOrder(uint256 roundId, uint256 laterRoundId);
    error WitnessPoolLeaseTermsChanged(uint256 leaseId);

    event RoundRequested(uint256 indexed roundId, uint256 indexed leaseId, uint32 epoch, uint64 seedBlock, uint32 frozenCount, uint8 size, uint8 majority, uint256 fee);
    event CommitteeDrawn(uint256 indexed roundId, uint256 indexed leaseId, address[] members, bytes32 seed, uint64 commitDeadline, uint64 revealDeadline);
    event VerdictCommitted(uint256 indexed roundId, address indexed witness, bytes32 commitment);
    event VerdictRevealed(uint256 indexed roundId, address indexed witness, Verdict verdict, uint64 violationTime, bytes32 evidenceHash);
    event WitnessPaid(uint256 indexed roundId, address indexed witness, int256 amount);
    event ProviderSlashed(uint256 indexed roundId, uint256 indexed executorId, uint256 slashed, uint256 toCustomer, uint256 toWitnesses, uint256 burned);
    event RoundFinalized(uint256 indexed roundId, uint256 indexed leaseId, uint32 epoch, Verdict verdict, uint8 revealedCount, uint64 violationTime, uint256 refunded);
    event RoundCancelled(uint256 indexed roundId, uint256 indexed leaseId, uint32 epoch, uint256 refunded);

    /// @notice Fixes the market once (deployer only).
    function setMarket(address market) external;

    /// @notice Reverts unless 3 <= size <= 15 and size/2 < majority <= size-1.
    function validateCommittee(uint256 size, uint256 majority) external pure;

    /// @notice Token units paid per agreeing member; a round's fee is `size * rewardUnit`.
    function rewardUnit() external view returns (uint128);

    /// @notice Seconds from `max(draw time, epoch end)` to the commit deadline.
    function commitWindow() external view returns (uint64);

    /// @notice Seconds from the commit deadline to the end of the reveal window.
    function revealWindow() external view returns (uint64);

    /// @notice Opens the round of `epoch` (at most `MAX_EPOCH`) of a lease (market only); the market has
    /// transferred `size * rewardUnit` here. Freezes the eligible set at this block. The lease's first
    /// request records its terms; later ones must repeat them (`WitnessPoolLeaseTermsChanged`). Reverts
    /// `WitnessPoolRoundExists` for an epoch requested already (while its storage holds it),
    /// `WitnessPoolRoundOpen` while the lease's round of the same epoch parity is open,
    /// `WitnessPoolEpochOutOfOrder` when a later epoch of the same parity was requested.
    function requestRound(
        uint256 leaseId,
        uint32 epoch,
        uint64 epochEnd,
        uint256 executorId,
        address customer,
        uint256 size,
        uint256 majority
    ) external returns (uint256 roundId);

    /// @notice Draws the committee once the seed block is final; anyone may call.
    function drawCommittee(uint256 roundId) external returns (address[] memory members);

    /// @notice Stores the caller's commitment (membership is checked at reveal); may be replaced until the deadline.
    function commitVerdict(uint256 roundId, bytes32 commitment) external;

    /// @notice Opens the caller's commitment; only committee members, only in the reveal window.
    function revealVerdict(uint256 roundId, Verdict verdict, uint64 violationTime, bytes32 evidenceHash, bytes32 salt)
        external;

    /// @notice Settles a round after its reveal window (or when all revealed), or cancels a round that
    /// could not be drawn within `drawTimeout`; anyone may call. The outcome goes to the market
    /// (`IMarket.onRoundSettled`) before any payment; the collateral is slashed only for a Fraud or
    /// Unavailable outcome the market counted. Members are paid and penalised by the table whether or
    /// not it counted.
    function finalize(uint256 roundId) external returns (Verdict verdict);

    /// @notice The commitment a witness must post (clients compute it locally: `bindings/commitments.ts`).
    function verdictCommitment(
        uint256 roundId,
        address witness,
        Verdict verdict,
        uint64 violationTime,
        bytes32 evidenceHash,
        bytes32 salt
    ) external view returns (bytes32);

    /// @return The round (all zero when unknown: never requested, or its storage now holds a later
    /// round); `verdict` is the outcome once Finalized, `members` are set once drawn.
    function round(uint256 roundId) external view returns (Round memory);
    /// @return The end of the reveal window (zero before the draw and for an unknown round).
    function revealDeadline(uint256 roundId) external view returns (uint64);
    /// @return The members once drawn (empty before, and for an unknown round).
    function committee(uint256 roundId) external view returns (address[] memory);
    /// @return The round of `epoch` of a lease (zero when none was requested, or when its storage now
    /// holds a later epoch's round).
    function roundOf(uint256 leaseId, uint32 epoch) external view returns (uint256);
}
