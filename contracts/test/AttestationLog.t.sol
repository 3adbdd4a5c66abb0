// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AttestationLog} from "../src/AttestationLog.sol";
import {IAttestationLog} from "../src/interfaces/IAttestationLog.sol";
import {TestBase} from "./Vm.sol";

contract AttestationLogTest is TestBase {
    AttestationLog internal log_;
    address internal constant OP = address(0x0AA);
    address internal constant OP2 = address(0x0BB);
    address internal constant NEW_OP = address(0x0CC);

    function setUp() public {
        vm.warp(1_700_000_000);
        log_ = new AttestationLog();
        log_.setOperator(OP, true);
        log_.setOperator(OP2, true);
    }

    function _anchor(address op, uint64 size, bytes32 root) internal returns (uint256) {
        vm.prank(op);
        return log_.anchor(size, root, "note");
    }

    function test_setOperator_onlyOwner() public {
        vm.prank(address(0xBAD));
        vm.expectRevert();
        log_.setOperator(address(0xBAD), true);
        assertTrue(log_.isOperator(OP), "operator");
        assertTrue(!log_.isOperator(address(0xBAD)), "not operator");
        assertEq(log_.owner(), address(this), "owner");
    }

    function test_anchor_onlyOperator() public {
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogNotOperator.selector, address(this)));
        log_.anchor(1, bytes32("r1"), "");
    }

    function test_anchor_appendsAndReadsBack() public {
        vm.expectRevert(IAttestationLog.AttestationLogEmpty.selector);
        log_.latestOf(OP);
        vm.expectRevert(IAttestationLog.AttestationLogEmpty.selector);
        log_.latestIndexOf(OP);
        assertEq(_anchor(OP, 1, bytes32("r1")), 0, "index 0");
        assertEq(_anchor(OP2, 3, bytes32("q3")), 1, "index 1");
        vm.warp(block.timestamp + 10);
        assertEq(_anchor(OP, 5, bytes32("r5")), 2, "index 2");
        assertEq(_anchor(OP, 5, bytes32("r5")), 3, "re-anchoring the same checkpoint");
        assertEq(log_.checkpointCount(), 4, "count");

        IAttestationLog.Checkpoint memory c = log_.latestOf(OP);
        assertEq(c.treeSize, 5, "latest size");
        assertEq(c.root, bytes32("r5"), "latest root");
        assertEq(c.operator, OP, "latest operator");
        assertEq(c.timestamp, block.timestamp, "timestamp");
        assertEq(log_.latestIndexOf(OP), 3, "latest index");
        assertEq(log_.latestOf(OP2).root, bytes32("q3"), "other chain");
        assertEq(log_.latestIndexOf(OP2), 1, "other latest index");
        c = log_.checkpointAt(1);
        assertEq(c.operator, OP2, "global order");
        assertEq(c.treeSize, 3, "size at 1");
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogUnknownCheckpoint.selector, 4));
        log_.checkpointAt(4);
    }

    function test_checkpoints_pagesOfAtMostMaxPage() public {
        for (uint64 i = 1; i <= 120; ++i) {
            _anchor(i % 2 == 0 ? OP : OP2, i, bytes32(uint256(i)));
        }
        assertEq(log_.MAX_PAGE(), 100, "max page");
        IAttestationLog.Checkpoint[] memory page = log_.checkpoints(0, 500);
        assertEq(page.length, 100, "capped");
        assertEq(page[99].treeSize, 100, "last of the page");
        page = log_.checkpoints(110, 20);
        assertEq(page.length, 10, "tail");
        assertEq(page[0].treeSize, 111, "tail start");
        assertEq(page[9].treeSize, 120, "tail end");
        assertEq(log_.checkpoints(120, 5).length, 0, "at the end");
        assertEq(log_.checkpoints(500, 5).length, 0, "past the end");
        assertEq(log_.checkpoints(3, 0).length, 0, "empty request");
    }

    function test_anchor_rejectsShrinkAndSplitViewWithinAChain() public {
        _anchor(OP, 5, bytes32("r5"));
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogTreeShrank.selector, 5, 4));
        log_.anchor(4, bytes32("r4"), "");
        vm.prank(OP);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationLog.AttestationLogRootMismatch.selector, 5, bytes32("r5"), bytes32("x"))
        );
        log_.anchor(5, bytes32("x"), "");
        // another operator's chain is not constrained by OP's
        _anchor(OP2, 4, bytes32("q4"));
        _anchor(OP2, 5, bytes32("x"));
        _anchor(OP, 6, bytes32("r6"));
        // the same size is checked against the operator's own root, not the latest global one
        vm.prank(OP2);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationLog.AttestationLogRootMismatch.selector, 5, bytes32("x"), bytes32("r5"))
        );
        log_.anchor(5, bytes32("r5"), "");
        assertEq(log_.checkpointCount(), 4, "count");
    }

    function test_setOperator_revokeRecordsTheCount() public {
        assertEq(log_.revokedAt(OP), 0, "never revoked");
        _anchor(OP, 1, bytes32("r1"));
        _anchor(OP2, 1, bytes32("q1"));
        log_.setOperator(OP, false);
        assertEq(log_.revokedAt(OP), 2, "revoked after two checkpoints");
        assertTrue(!log_.isOperator(OP), "revoked");
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogNotOperator.selector, OP));
        log_.anchor(2, bytes32("r2"), "");
        // revoking again, or revoking an address that never was an operator, records nothing new
        _anchor(OP2, 2, bytes32("q2"));
        log_.setOperator(OP, false);
        assertEq(log_.revokedAt(OP), 2, "second revoke is not a revocation");
        log_.setOperator(address(0xD00D), false);
        assertEq(log_.revokedAt(address(0xD00D)), 0, "never an operator");
        // its checkpoints stay readable
        assertEq(log_.latestOf(OP).root, bytes32("r1"), "history kept");
        // allowed again: its chain continues under the same rules
        log_.setOperator(OP, true);
        vm.prank(OP);
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationLog.AttestationLogRootMismatch.selector, 1, bytes32("r1"), bytes32("z"))
        );
        log_.anchor(1, bytes32("z"), "");
        _anchor(OP, 3, bytes32("r3"));
        assertEq(log_.revokedAt(OP), 2, "last revocation kept");
    }

    /// @notice Attack: a log operator (or whoever stole its key) anchors tree size 2^64-1; on the old
    /// rules every later anchor by anyone had to be at least that size, so the log was bricked for
    /// good. Now each operator has its own chain: the other operator keeps anchoring small trees, the
    /// owner revokes the key (which then cannot anchor, and `revokedAt` marks where its chain ended)
    /// and a new key starts a fresh chain.
    function test_attack_maxTreeSizeDoesNotBrickTheLog() public {
        _anchor(OP2, 10, bytes32("q10"));
        _anchor(OP, type(uint64).max, bytes32("evil"));
        assertEq(_anchor(OP2, 11, bytes32("q11")), 2, "another operator keeps anchoring");
        log_.setOperator(OP, false);
        assertEq(log_.revokedAt(OP), 3, "chain ended at 3");
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogNotOperator.selector, OP));
        log_.anchor(type(uint64).max, bytes32("evil"), "");
        log_.setOperator(NEW_OP, true);
        assertEq(_anchor(NEW_OP, 1, bytes32("n1")), 3, "a new key starts fresh");
        assertEq(log_.latestOf(NEW_OP).treeSize, 1, "fresh chain");
    }

    /// @notice Property: anchors by two operators are accepted exactly when the operator's own last
    /// size is not larger and an equal size repeats the operator's own root.
    function testFuzz_anchorsFollowAPerOperatorModel(uint256 seed) public {
        uint64[2] memory lastSize;
        bytes32[2] memory lastRoot;
        bool[2] memory has;
        address[2] memory ops = [OP, OP2];
        uint256 count;
        for (uint256 s = 0; s < 30; ++s) {
            seed = uint256(keccak256(abi.encode(seed, s)));
            uint256 k = seed & 1;
            uint64 size = uint64((seed >> 8) % 8);
            bytes32 root = bytes32((seed >> 16) % 2);
            bool ok = !has[k] || size > lastSize[k] || (size == lastSize[k] && root == lastRoot[k]);
            vm.prank(ops[k]);
            (bool success,) = address(log_).call(abi.encodeCall(log_.anchor, (size, root, "")));
            assertEq(success ? 1 : 0, ok ? 1 : 0, "accepted iff the model accepts");
            if (ok) {
                has[k] = true;
                lastSize[k] = size;
                lastRoot[k] = root;
                ++count;
                assertEq(log_.latestIndexOf(ops[k]), count - 1, "latest index");
            }
        }
        assertEq(log_.checkpointCount(), count, "count");
    }
}
