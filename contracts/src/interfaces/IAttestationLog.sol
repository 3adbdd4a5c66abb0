// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Anchors of the attestation transparency log (ARCHITECTURE.md, "Auditor log")
/// @notice Log operators anchor signed checkpoints (tree size, RFC 6962/9162 root) of the off-chain
/// attestation log. Tree sizes never shrink and one size has one root, so a split view anchored here
/// is caught on-chain; consistency between anchored roots is checked off-chain by auditors. The
/// operator's signed note is carried in the event for auditors (not verified here).
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

    /// @notice Anchors a checkpoint; only operators. `signature` is the operator's signed note.
    function anchor(uint64 treeSize, bytes32 root, bytes calldata signature) external returns (uint256 index);

    /// @notice The most recent checkpoint; reverts when none.
    function latest() external view returns (Checkpoint memory);

    function checkpointCount() external view returns (uint256);
    function checkpointAt(uint256 index) external view returns (Checkpoint memory);
    /// @notice At most 100 checkpoints starting at `from`.
    function checkpoints(uint256 from, uint256 count) external view returns (Checkpoint[] memory);
}
