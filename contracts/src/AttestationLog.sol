// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IAttestationLog} from "./interfaces/IAttestationLog.sol";

/// @title AttestationLog
/// @notice See {IAttestationLog}.
contract AttestationLog is IAttestationLog, Ownable {
    /// @notice Largest page {checkpoints} returns.
    uint256 public constant MAX_PAGE = 100;

    mapping(address => bool) public isOperator;
    Checkpoint[] private _checkpoints;

    constructor() Ownable(msg.sender) {}

    /// @inheritdoc IAttestationLog
    function setOperator(address operator, bool allowed) external onlyOwner {
        isOperator[operator] = allowed;
        emit OperatorUpdated(operator, allowed);
    }

    /// @inheritdoc IAttestationLog
    function anchor(uint64 treeSize, bytes32 root, bytes calldata signature) external returns (uint256 index) {
        if (!isOperator[msg.sender]) revert AttestationLogNotOperator(msg.sender);
        uint256 n = _checkpoints.length;
        if (n > 0) {
            Checkpoint storage last = _checkpoints[n - 1];
            if (treeSize < last.treeSize) revert AttestationLogTreeShrank(last.treeSize, treeSize);
            if (treeSize == last.treeSize && root != last.root) {
                revert AttestationLogRootMismatch(treeSize, last.root, root);
            }
        }
        _checkpoints.push(
            Checkpoint({root: root, treeSize: treeSize, timestamp: uint64(block.timestamp), operator: msg.sender})
        );
        index = n;
        emit CheckpointAnchored(index, msg.sender, treeSize, root, signature);
    }

    /// @inheritdoc IAttestationLog
    function latest() external view returns (Checkpoint memory) {
        uint256 n = _checkpoints.length;
        if (n == 0) revert AttestationLogEmpty();
        return _checkpoints[n - 1];
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
