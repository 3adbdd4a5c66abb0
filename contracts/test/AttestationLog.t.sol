// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AttestationLog} from "../src/AttestationLog.sol";
import {IAttestationLog} from "../src/interfaces/IAttestationLog.sol";
import {TestBase} from "./Vm.sol";

contract AttestationLogTest is TestBase {
    AttestationLog internal log_;
    address internal constant OP = address(0x0AA);

    function setUp() public {
        log_ = new AttestationLog();
        log_.setOperator(OP, true);
    }

    function test_anchor_onlyOperator() public {
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogNotOperator.selector, address(this)));
        log_.anchor(1, bytes32("r1"), "");
        vm.prank(address(0xBAD));
        vm.expectRevert();
        log_.setOperator(address(0xBAD), true);
    }

    function test_anchor_appendsAndReadsBack() public {
        vm.expectRevert(IAttestationLog.AttestationLogEmpty.selector);
        log_.latest();
        vm.startPrank(OP);
        log_.anchor(1, bytes32("r1"), "sig");
        log_.anchor(5, bytes32("r5"), "sig");
        log_.anchor(5, bytes32("r5"), "sig"); // re-anchoring the same checkpoint is allowed
        vm.stopPrank();
        assertEq(log_.checkpointCount(), 3, "count");
        assertEq(log_.latest().treeSize, 5, "latest size");
        assertEq(log_.checkpointAt(0).root, bytes32("r1"), "first root");
        assertEq(log_.checkpoints(1, 500).length, 2, "page");
        assertEq(log_.checkpoints(9, 5).length, 0, "empty page");
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogUnknownCheckpoint.selector, 3));
        log_.checkpointAt(3);
    }

    function test_anchor_rejectsShrinkAndSplitView() public {
        vm.startPrank(OP);
        log_.anchor(5, bytes32("r5"), "");
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogTreeShrank.selector, 5, 4));
        log_.anchor(4, bytes32("r4"), "");
        vm.expectRevert(
            abi.encodeWithSelector(IAttestationLog.AttestationLogRootMismatch.selector, 5, bytes32("r5"), bytes32("x"))
        );
        log_.anchor(5, bytes32("x"), "");
        vm.stopPrank();
    }

    function test_setOperator_revokes() public {
        log_.setOperator(OP, false);
        vm.prank(OP);
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogNotOperator.selector, OP));
        log_.anchor(1, bytes32("r1"), "");
    }
}
