// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Anchors of the attestation transparency log (ARCHITECTURE.md, "Auditor log")
/// @notice Log operators anchor signed checkpoints (tree size, RFC 6962/9162 root) of the off-chain
/// attestation log. Each operator has its own chain of anchors: within it tree sizes never shrink and
/// one size has one root, so a split view anchored here is caught on-chain; consistency between
/// anchored roots is checked off-chain by auditors. One operator's anchors never constrain another's,
/// so a compromised or revoked key (which may have anchored any size) cannot block the log: the owner
/// revokes it and allows a new key, whose chain starts fresh. A revoked operator cannot anchor, and
/// `revokedAt` tells readers from which checkpoint index on its chain ended. The operator's signed note
/// is carried in the event for auditors (not verified here).
interface IAttestationLog {
    struct Checkpoint {
        bytes32 root;
        uint64 treeSize;
        uint64 timestamp;
        address operator;
    }

    error AttestationLogNotOperator(address caller);
    error AttestationLogTreeShrank(uint64 latest, uint64 given);
    error AttestationLogRootMismatch(uint64 treeSize, bytes32 anchored, bytes32 given);
    error AttestationLogEmpty();
    error AttestationLogUnknownCheckpoint(uint256 index);

    event OperatorUpdated(address indexed operator, bool allowed);
    event CheckpointAnchored(uint256 indexed index, address indexed operator, uint64 treeSize, bytes32 root, bytes signature);

    /// @notice Allows or revokes a log operator (owner only).
    function setOperator(address operator, bool allowed) external;

    /// @notice Anchors a checkpoint on the caller's chain; only operators. `signature` is the
    /// operator's signed note.
    function anchor(uint64 treeSize, bytes32 root, bytes calldata signature) external returns (uint256 index);

    /// @notice The most recent checkpoint of `operator`; reverts when it has none.
    function latestOf(address operator) external view returns (Checkpoint memory);

    /// @notice The index of the most recent checkpoint of `operator`; reverts when it has none.
    function latestIndexOf(address operator) external view returns (uint256);

    /// @notice The number of checkpoints anchored (all operators) when `operator` was last revoked
    /// (zero if never revoked).
    function revokedAt(address operator) external view returns (uint256);

    function isOperator(address operator) external view returns (bool);
    function checkpointCount() external view returns (uint256);
    function checkpointAt(uint256 index) external view returns (Checkpoint memory);
    /// @notice At most 100 checkpoints starting at `from`.
    function checkpoints(uint256 from, uint256 count) external view returns (Checkpoint[] memory);
}
