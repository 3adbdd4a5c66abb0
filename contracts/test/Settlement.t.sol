// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {Fixture} from "./Fixture.sol";

contract SettlementTest is Fixture {
    uint256 internal leaseId;
    uint256 internal budget;

    function setUp() public {
        setUpChain(2, 3);
        leaseId = leaseThrough(3, 2, 5e14);
        budget = uint256(MAX_PRICE) * DURATION;
    }

    function _records(uint64 first, uint256 n) internal pure returns (ISettlement.CallRecord[] memory rs) {
        rs = new ISettlement.CallRecord[](n);
        for (uint256 k = 0; k < n; ++k) {
            rs[k] = ISettlement.CallRecord(
                first + uint64(k), keccak256("fn"), keccak256(abi.encode("in", k)), keccak256(abi.encode("out", k)), 7, 1e12
            );
        }
    }

    function _voucher(uint64 first, uint64 last, uint256 amount) internal view returns (ISettlement.Voucher memory v) {
        (bytes32 requestHead,) = settlement.chainHeads(_records(first, last - first + 1));
        v = ISettlement.Voucher(leaseId, first, last, requestHead, amount, uint64(block.timestamp + 1000));
    }

    function _receipt(uint64 first, uint64 last) internal view returns (ISettlement.Receipt memory r) {
        (, bytes32 recordHead) = settlement.chainHeads(_records(first, last - first + 1));
        r = ISettlement.Receipt(leaseId, first, last, recordHead, bytes32("ev"), 1, 2);
    }

    function _claim(ISettlement.Voucher memory v, uint64 nonce) internal returns (uint256 id) {
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        vm.prank(customer);
        id = settlement.openClaim(v, sig, nonce);
    }

    function test_openLease_recordsTheLease() public view {
        ISettlement.Lease memory l = settlement.lease(leaseId);
        assertEq(uint256(l.status), uint256(ISettlement.LeaseStatus.Open), "open");
        assertEq(l.customer, customer, "customer");
        assertEq(l.provider, providers[0], "provider");
        assertEq(l.enclave, vm.addr(enclaveKey(0)), "enclave");
        assertEq(l.budget, budget, "budget");
        assertEq(token.balanceOf(address(settlement)), budget, "funded");
    }

    function test_marketOnly_functions() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnauthorized.selector, address(this)));
        settlement.openLease(9, customer, customer, 1, customer, 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnauthorized.selector, address(this)));
        settlement.closeLease(leaseId);
        vm.expectRevert(ISettlement.SettlementAlreadyWired.selector);
        settlement.setMarket(address(this));
        vm.prank(address(market));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementLeaseExists.selector, leaseId));
        settlement.openLease(leaseId, customer, customer, 1, customer, 1);
    }

    function test_redeem_paysTheDeltaOfCumulativeVouchers() public {
        ISettlement.Voucher memory v1 = _voucher(0, 2, 100);
        ISettlement.Voucher memory v2 = _voucher(3, 3, 250);
        settlement.redeem(v1, signVoucher(CUSTOMER_KEY, v1));
        assertEq(settlement.redeem(v2, signVoucher(CUSTOMER_KEY, v2)), 150, "delta");
        uint256 before = token.balanceOf(providers[0]);
        assertEq(settlement.collect(leaseId), 250, "collected");
        assertEq(token.balanceOf(providers[0]) - before, 250, "paid");
        assertEq(settlement.collect(leaseId), 0, "nothing twice");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownLease.selector, 77));
        settlement.collect(77);
    }

    function test_redeem_revertPaths() public {
        ISettlement.Voucher memory v = _voucher(5, 6, 100);
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        settlement.redeem(v, sig);

        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNonceReused.selector, 5, 7));
        settlement.redeem(v, sig);
        ISettlement.Voucher memory bad = _voucher(8, 8, 100);
        bad.lastNonce = 7;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadRange.selector, 8, 7));
        settlement.redeem(bad, sig);
        bad = _voucher(8, 8, 99);
        sig = signVoucher(CUSTOMER_KEY, bad);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAmountDecreased.selector, 99, 100));
        settlement.redeem(bad, sig);
        bad = _voucher(8, 8, budget + 1);
        sig = signVoucher(CUSTOMER_KEY, bad);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementOverBudget.selector, budget + 1, budget));
        settlement.redeem(bad, sig);
        bad = _voucher(8, 8, 200);
        bad.deadline = uint64(block.timestamp - 1);
        sig = signVoucher(CUSTOMER_KEY, bad);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementVoucherExpired.selector, bad.deadline));
        settlement.redeem(bad, sig);
        bad = _voucher(8, 8, 200);
        bytes memory forged = signVoucher(enclaveKey(0), bad);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, vm.addr(enclaveKey(0)), customer)
        );
        settlement.redeem(bad, forged);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, address(0), customer));
        settlement.redeem(bad, hex"1234");
        bad.leaseId = 42;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, 42, ISettlement.LeaseStatus.None));
        settlement.redeem(bad, sig);
    }

    function test_redeem_windowAfterClose() public {
        vm.warp(market.order(leaseId).stepDeadline);
        _finishRound();
        market.finish(leaseId);
        ISettlement.Voucher memory v = _voucher(0, 0, 10);
        settlement.redeem(v, signVoucher(CUSTOMER_KEY, v)); // still inside the redeem window
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementRedeemWindowOpen.selector, leaseId, uint64(block.timestamp + 100)));
        settlement.settle(leaseId);
        vm.warp(block.timestamp + 100);
        v = _voucher(1, 1, 20);
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementRedeemWindowClosed.selector, leaseId, uint64(block.timestamp)));
        settlement.redeem(v, sig);
        uint256 c0 = token.balanceOf(customer);
        uint256 p0 = token.balanceOf(providers[0]);
        assertEq(settlement.settle(leaseId), budget - 10, "refund");
        assertEq(token.balanceOf(customer) - c0, budget - 10, "customer refunded");
        assertEq(token.balanceOf(providers[0]) - p0, 10, "provider paid what it did not collect");
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, leaseId, ISettlement.LeaseStatus.Settled)
        );
        settlement.settle(leaseId);
    }

    function test_settle_waitsForOpenClaims() public {
        uint256 id = _claim(_voucher(0, 0, 10), 0);
        vm.warp(market.order(leaseId).stepDeadline);
        _finishRound();
        market.finish(leaseId);
        vm.warp(block.timestamp + 100);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementClaimsOpen.selector, leaseId, 1));
        settlement.settle(leaseId);
        settlement.upholdClaim(id);
        settlement.settle(leaseId);
    }

    function test_settle_revertsWhileOpen() public {
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, leaseId, ISettlement.LeaseStatus.Open)
        );
        settlement.settle(leaseId);
    }

    function test_openClaim_revertPaths() public {
        ISettlement.Voucher memory v = _voucher(0, 3, 10);
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotCustomer.selector, address(this), customer));
        settlement.openClaim(v, sig, 1);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNonceOutsideBatch.selector, 4, 0, 3));
        settlement.openClaim(v, sig, 4);
        ISettlement.Voucher memory bad = _voucher(3, 3, 10);
        bad.firstNonce = 4;
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadRange.selector, 4, 3));
        settlement.openClaim(bad, sig, 3);
        bytes memory forged = signVoucher(enclaveKey(0), v);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, vm.addr(enclaveKey(0)), customer));
        settlement.openClaim(v, forged, 1);
    }

    function test_answerClaim_withReceiptAndRecords() public {
        uint256 id = _claim(_voucher(10, 12, 10), 11);
        ISettlement.Receipt memory r = _receipt(10, 12);
        uint256 before = token.balanceOf(providers[0]);
        settlement.answerClaim(id, r, signReceipt(enclaveKey(0), r), _records(10, 3));
        assertEq(uint256(settlement.claim(id).status), uint256(ISettlement.ClaimStatus.Answered), "answered");
        assertEq(token.balanceOf(providers[0]) - before, 1e18, "bond to provider");
        bytes memory sig = signReceipt(enclaveKey(0), r);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementClaimNotOpen.selector, id, ISettlement.ClaimStatus.Answered));
        settlement.answerClaim(id, r, sig, _records(10, 3));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownClaim.selector, 99));
        settlement.upholdClaim(99);
    }

    function test_answerClaim_revertPaths() public {
        uint256 id = _claim(_voucher(10, 12, 10), 11);
        ISettlement.Receipt memory r = _receipt(10, 12);
        bytes memory sig = signReceipt(enclaveKey(0), r);
        ISettlement.CallRecord[] memory rs = _records(10, 3);

        ISettlement.Receipt memory other = _receipt(10, 11);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementReceiptMismatch.selector, id));
        settlement.answerClaim(id, other, sig, _records(10, 2));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementReceiptMismatch.selector, id));
        settlement.answerClaim(id, r, sig, _records(10, 2));
        ISettlement.CallRecord[] memory shuffled = _records(10, 3);
        shuffled[1].nonce = 99;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementRecordMismatch.selector, 1, 99));
        settlement.answerClaim(id, r, sig, shuffled);
        ISettlement.CallRecord[] memory otherInput = _records(10, 3);
        otherInput[2].inputHash = bytes32("tampered");
        (bytes32 reqHead,) = settlement.chainHeads(otherInput);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementRequestHeadMismatch.selector, reqHead, settlement.claim(id).requestHead)
        );
        settlement.answerClaim(id, r, sig, otherInput);
        ISettlement.CallRecord[] memory otherOutput = _records(10, 3);
        otherOutput[0].outputHash = bytes32("tampered");
        (, bytes32 recHead) = settlement.chainHeads(otherOutput);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementRecordHeadMismatch.selector, recHead, r.recordHead));
        settlement.answerClaim(id, r, sig, otherOutput);
        bytes memory byCustomer = signReceipt(CUSTOMER_KEY, r);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, customer, vm.addr(enclaveKey(0))));
        settlement.answerClaim(id, r, byCustomer, rs);
        _expired(id, r, sig, rs);
    }

    function _expired(uint256 id, ISettlement.Receipt memory r, bytes memory sig, ISettlement.CallRecord[] memory rs)
        internal
    {
        uint64 deadline = settlement.claim(id).deadline;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementClaimPending.selector, id, deadline));
        settlement.upholdClaim(id);
        vm.warp(block.timestamp + 101);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementClaimExpired.selector, id, deadline));
        settlement.answerClaim(id, r, sig, rs);
    }

    function test_answerClaim_batchTooLarge() public {
        uint256 id = _claim(_voucher(0, 0, 10), 0);
        ISettlement.Receipt memory r = _receipt(0, 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchTooLarge.selector, 257, 256));
        settlement.answerClaim(id, r, "", new ISettlement.CallRecord[](257));
    }

    function test_upholdClaim_slashesAndCompensates() public {
        uint256 id = _claim(_voucher(0, 0, 10), 0);
        vm.warp(block.timestamp + 101);
        uint256 before = token.balanceOf(customer);
        uint256 stake = registry.executor(executorIds[0]).stake;
        settlement.upholdClaim(id);
        assertEq(token.balanceOf(customer) - before, 1e18 + 10e18, "bond back + slash");
        assertEq(stake - registry.executor(executorIds[0]).stake, 10e18, "slashed");
        assertEq(uint256(settlement.claim(id).status), uint256(ISettlement.ClaimStatus.Upheld), "upheld");
    }

    function test_chainHeads_emptyIsZero() public view {
        (bytes32 a, bytes32 b) = settlement.chainHeads(new ISettlement.CallRecord[](0));
        assertEq(a, bytes32(0), "request");
        assertEq(b, bytes32(0), "record");
        assertTrue(settlement.domainSeparator() != bytes32(0), "domain");
    }

    function _finishRound() internal {
        uint256 roundId = pool.latestRoundOf(leaseId);
        vm.warp(block.timestamp + 1000);
        pool.finalize(roundId); // never drawn: cancelled after the draw timeout
    }
}
