// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IAttestationLog} from "./interfaces/IAttestationLog.sol";

/// @title AttestationLog
/// @notice See {IAttestationLog}.
contract AttestationLog is IAttestationLog, Ownable {
    /// @notice Largest page {checkpoints} returns.
    uint256 public constant MAX_PAGE = 100;

    /// @dev One slot per operator. `latest` is the index of its most recent checkpoint plus one (zero
    /// when it has none), `treeSize` that checkpoint's tree size, `revokedAt` the checkpoint count when
    /// it was last revoked.
    struct Operator {
        bool allowed;
        uint64 latest;
        uint64 treeSize;
        uint64 revokedAt;
    }

    mapping(address => Operator) private _operators;
    Checkpoint[] private _checkpoints;

    constructor() Ownable(msg.sender) {}

    /// @inheritdoc IAttestationLog
    function setOperator(address operator, bool allowed) external onlyOwner {
        Operator storage op = _operators[operator];
        if (!allowed && op.allowed) op.revokedAt = uint64(_checkpoints.length);
        op.allowed = allowed;
        emit OperatorUpdated(operator, allowed);
    }

    /// @inheritdoc IAttestationLog
    function anchor(uint64 treeSize, bytes32 root, bytes calldata signature) external returns (uint256 index) {
        Operator storage op = _operators[msg.sender];
        if (!op.allowed) revert AttestationLogNotOperator(msg.sender);
        uint64 latest = op.latest;
        if (latest != 0) {
            uint64 latestSize = op.treeSize;
            if (treeSize < latestSize) revert AttestationLogTreeShrank(latestSize, treeSize);
            if (treeSize == latestSize) {
                bytes32 anchored = _checkpoints[latest - 1].root;
                if (root != anchored) revert AttestationLogRootMismatch(treeSize, anchored, root);
            }
        }
        index = _checkpoints.length;
        _checkpoints.push(
            Checkpoint({root: root, treeSize: treeSize, timestamp: uint64(block.timestamp), operator: msg.sender})
        );
        op.latest = uint64(index + 1);
        op.treeSize = treeSize;
        emit CheckpointAnchored(index, msg.sender, treeSize, root, signature);
    }

    /// @inheritdoc IAttestationLog
    function latestOf(address operator) external view returns (Checkpoint memory) {
        return _checkpoints[latestIndexOf(operator)];
    }

    /// @inheritdoc IAttestationLog
    function latestIndexOf(address operator) public view returns (uint256) {
        uint64 latest = _operators[operator].latest;
        if (latest == 0) revert AttestationLogEmpty();
        return latest - 1;
    }

    /// @inheritdoc IAttestationLog
    function revokedAt(address operator) external view returns (uint256) {
        return _operators[operator].revokedAt;
    }

    /// @inheritdoc IAttestationLog
    function isOperator(address operator) external view returns (bool) {
        return _operators[operator].allowed;
    }

    /// @inheritdoc IAttestationLog
    function checkpointCount() external view returns (uint256) {
        return _checkpoints.length;
    }

    /// @inheritdoc IAttestationLog
    function checkpointAt(uint256 index) external view returns (Checkpoint memory) {
        if (index >= _checkpoints.length) revert AttestationLogUnknownCheckpoint(index);
        return _checkpoints[index];
    }

    /// @inheritdoc IAttestationLog
    function checkpoints(uint256 from, uint256 count) external view returns (Checkpoint[] memory page) {
        uint256 n = _checkpoints.length;
        if (from > n) from = n;
        if (count > MAX_PAGE) count = MAX_PAGE;
        if (count > n - from) count = n - from;
        page = new Checkpoint[](count);
        for (uint256 i = 0; i < count; ++i) {
            page[i] = _checkpoints[from + i];
        }
    }
}
