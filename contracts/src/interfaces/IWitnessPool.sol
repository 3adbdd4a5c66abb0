// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Witness committees with commit-reveal verdicts (ARCHITECTURE.md, "Witness checks")
/// @notice The market requests a round when a lease starts. After `seedDelay` blocks anyone draws a
/// committee of `size` distinct witnesses from the set eligible at the request block, seeded by a
/// block hash that did not exist at request time (pivot-block method past 256 blocks; see
/// docs/contracts.md for the bias that remains). Members commit
/// `keccak256(abi.encode(chainId, pool, sla, round, witness, verdict, violationTime, salt))` (sla = the
/// lease id), then reveal. The verdict is Violated when at least `majority` reveal Violated.
/// Payoffs in units of `rewardUnit`: violated & reported +10, no violation & silent +1, no violation &
/// reported -1, violated & silent 0, no reveal -2 and reputation loss. Rewards are minted; penalties
/// are slashed from witness stakes and burned. A Violated verdict slashes the provider's stake (split
/// between the customer, the reporting witnesses and a burn) and ends the lease with a pro-rata refund.
interface IWitnessPool {
    enum Phase {
        None,
        Requested,
        Drawn,
        Finalized,
        Cancelled
    }

    enum Verdict {
        None,
        NotViolated,
        Violated
    }

    /// @dev Packed: slot 1 (customer, executor), slot 2 (frozen set, seed, request time, commit deadline;
    /// the reveal deadline is `commitDeadline + revealWindow`), slot 3 (shape, phase and tallies, written
    /// at request time so later updates are cheap), then the member ids, 8 uint32 witness ids per word.
    struct Round {
        uint256 leaseId;
        address customer;
        uint64 executorId;
        uint40 frozenBlock;
        uint40 seedBlock;
        uint32 frozenCount;
        uint64 requestedAt;
        uint64 commitDeadline;
        uint8 size;
        uint8 majority;
        Phase phase;
        uint16 revealedMask;
        uint16 violatedMask;
        uint8 revealedCount;
        uint8 violatedCount;
        Verdict verdict;
        uint256[2] members;
    }

    error WitnessPoolUnauthorized(address caller);
    error WitnessPoolAlreadyWired();
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

    event CommitteeRequested(uint256 indexed roundId, uint256 indexed leaseId, uint64 seedBlock, uint32 frozenCount, uint8 size, uint8 majority);
    event CommitteeDrawn(uint256 indexed roundId, uint256 indexed leaseId, address[] members, bytes32 seed, uint64 commitDeadline, uint64 revealDeadline);
    event VerdictCommitted(uint256 indexed roundId, address indexed witness, bytes32 commitment);
    event VerdictRevealed(uint256 indexed roundId, address indexed witness, Verdict verdict, uint64 violationTime);
    event WitnessPaid(uint256 indexed roundId, address indexed witness, int256 units);
    event ProviderSlashed(uint256 indexed roundId, uint256 indexed executorId, uint256 slashed, uint256 toCustomer, uint256 toWitnesses, uint256 burned);
    event RoundFinalized(uint256 indexed roundId, uint256 indexed leaseId, Verdict verdict, uint8 violatedCount, uint8 revealedCount, uint64 violationTime);
    event RoundCancelled(uint256 indexed roundId, uint256 indexed leaseId);

    /// @notice Reverts unless 3 <= size <= 15 and size/2 < majority <= size-1.
    function validateCommittee(uint256 size, uint256 majority) external pure;

    /// @notice Opens a round for a lease (market only); freezes the eligible set at this block.
    function requestCommittee(uint256 leaseId, uint256 executorId, address customer, uint256 size, uint256 majority)
        external
        returns (uint256 roundId);

    /// @notice Draws the committee once the seed block is final; anyone may call.
    function drawCommittee(uint256 roundId) external returns (address[] memory members);

    /// @notice Stores the caller's commitment (membership is checked at reveal); may be replaced until the deadline.
    function commitVerdict(uint256 roundId, bytes32 commitment) external;

    /// @notice Opens the caller's commitment; only committee members, only in the reveal window.
    function revealVerdict(uint256 roundId, Verdict verdict, uint64 violationTime, bytes32 salt) external;

    /// @notice Settles a round after its reveal window (or when all revealed), or cancels a round that
    /// could not be drawn within `drawTimeout`; anyone may call.
    function finalize(uint256 roundId) external returns (Verdict verdict);

    /// @notice The commitment a witness must post (for clients and tests).
    function verdictCommitment(uint256 roundId, address witness, Verdict verdict, uint64 violationTime, bytes32 salt)
        external
        view
        returns (bytes32);

    function round(uint256 roundId) external view returns (Round memory);
    /// @return The end of the reveal window (zero before the draw).
    function revealDeadline(uint256 roundId) external view returns (uint64);
    function committee(uint256 roundId) external view returns (address[] memory);
    function latestRoundOf(uint256 leaseId) external view returns (uint256);
    /// @return True while the latest round of the lease is requested or drawn.
    function roundPending(uint256 leaseId) external view returns (bool);
}
