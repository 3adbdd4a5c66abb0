// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IMarket} from "../src/interfaces/IMarket.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

contract MarketTest is Fixture {
    function setUp() public {
        setUpChain(3, 3);
    }

    function _params() internal pure returns (IMarket.OrderParams memory) {
        return IMarket.OrderParams(uint32(LEVEL), DURATION, MAX_PRICE, 50, 3, 2);
    }

    function _post(IMarket.OrderParams memory p) internal returns (uint256) {
        vm.prank(customer);
        return market.postOrder(p);
    }

    function test_addLevel_ownerOnlyAppendOnly() public {
        vm.prank(customer);
        vm.expectRevert();
        market.addLevel(IMarket.Level(1, 1, 0, 1, 0, "x"));
        uint256 id = market.addLevel(IMarket.Level(8, 16384, 24576, 1000, 1, "tdx-gpu"));
        assertEq(id, 2, "id");
        assertEq(market.levelCount(), 2, "count");
        assertEq(market.level(2).gpuMemoryMiB, 24576, "stored");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownLevel.selector, 3));
        market.level(3);
    }

    function test_postOrder_locksTwiceTheMaxFee() public {
        uint256 before = token.balanceOf(customer);
        uint256 id = postOrder(3, 2);
        assertEq(before - token.balanceOf(customer), 2 * uint256(MAX_PRICE) * DURATION, "escrow");
        IMarket.Order memory o = market.order(id);
        assertEq(uint256(o.state), uint256(IMarket.State.Bidding), "bidding");
        assertEq(market.totalHeld(), 2 * uint256(MAX_PRICE) * DURATION, "held");
        assertEq(market.orderCount(), 1, "count");
    }

    function test_postOrder_revertPaths() public {
        IMarket.OrderParams memory p = _params();
        p.levelId = 9;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownLevel.selector, 9));
        _post(p);
        p = _params();
        p.duration = 0;
        vm.expectRevert(IMarket.MarketBadOrder.selector);
        _post(p);
        p = _params();
        p.maxUnitPrice = 0;
        vm.expectRevert(IMarket.MarketBadOrder.selector);
        _post(p);
        p = _params();
        p.biddingWindow = 1;
        vm.expectRevert(IMarket.MarketBadOrder.selector);
        _post(p);
        p = _params();
        p.maxUnitPrice = type(uint128).max;
        vm.expectRevert(IMarket.MarketBadOrder.selector);
        _post(p);
        p = _params();
        p.committeeSize = 4;
        p.majority = 2;
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolBadCommittee.selector, 4, 2));
        _post(p);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownOrder.selector, 5));
        market.order(5);
    }

    function test_cancelOrder_onlyCustomerWithoutBids() public {
        uint256 id = postOrder(3, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotCustomer.selector, address(this)));
        market.cancelOrder(id);
        uint256 before = token.balanceOf(customer);
        vm.prank(customer);
        market.cancelOrder(id);
        assertEq(token.balanceOf(customer) - before, 2 * uint256(MAX_PRICE) * DURATION, "refund");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Cancelled), "cancelled");
        id = postOrder(3, 2);
        commitBid(id, 0, 1, "s");
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketHasBids.selector, id));
        market.cancelOrder(id);
    }

    function test_commitBid_revertPaths() public {
        uint256 id = postOrder(3, 2);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotExecutorProvider.selector, executorIds[0], providers[1]));
        market.commitBid(id, executorIds[0], bytes32("c"));
        commitBid(id, 0, 1, "s");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDuplicateBid.selector, id, executorIds[0]));
        market.commitBid(id, executorIds[0], bytes32("c"));

        // an executor below the level (needs a TDX level)
        market.addLevel(IMarket.Level(64, 1, 0, 1, 1, "big"));
        vm.prank(customer);
        uint256 big = market.postOrder(IMarket.OrderParams(2, DURATION, MAX_PRICE, 50, 3, 2));
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketExecutorBelowLevel.selector, executorIds[1], 2));
        market.commitBid(big, executorIds[1], bytes32("c"));

        // understaked
        vm.prank(providers[2]);
        registry.requestExecutorUnstake(executorIds[2], PROVIDER_STAKE - 1);
        vm.prank(providers[2]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketExecutorUnderstaked.selector, executorIds[2], 1, 1000e18));
        market.commitBid(id, executorIds[2], bytes32("c"));

        toRevealPhase(id);
        uint64 bidDeadline = market.order(id).bidDeadline;
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBiddingClosed.selector, id, bidDeadline));
        market.commitBid(id, executorIds[1], bytes32("c"));
    }

    function test_commitBid_atMost32() public {
        uint256 id = postOrder(3, 2);
        address p = providers[0];
        _fund(p, 1e23);
        vm.startPrank(p);
        for (uint256 i = 0; i < 33; ++i) {
            uint256 e = registry.registerExecutor(
                IRegistry.ExecutorSpec(address(uint160(0xE000 + i)), 2, 1024, 0, 50, IRegistry.TeeType.Simulated, 0, ""),
                1000e18
            );
            if (i == 32) vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTooManyBids.selector, 32));
            market.commitBid(id, e, bytes32(i + 1));
        }
        vm.stopPrank();
        assertEq(market.order(id).bidCount, 32, "capped");
    }

    function test_revealBid_revertPaths() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s0");
        commitBid(id, 1, 2e15, "s1");
        commitBid(id, 2, 5e14, "s2");
        uint64 bidDeadline = market.order(id).bidDeadline;
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRevealNotOpen.selector, id, bidDeadline));
        market.revealBid(id, 0, 5e14, 50, "s0");
        toRevealPhase(id);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownBid.selector, id, 3));
        market.revealBid(id, 3, 5e14, 50, "s0");
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotBidder.selector, providers[1], providers[0]));
        market.revealBid(id, 0, 5e14, 50, "s0");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketCommitmentMismatch.selector, id, 0));
        market.revealBid(id, 0, 4e14, 50, "s0");
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBidTooHigh.selector, 2e15, MAX_PRICE));
        market.revealBid(id, 1, 2e15, 50, "s1");
        revealBid(id, 0, 0, 5e14, "s0");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketAlreadyRevealed.selector, id, 0));
        market.revealBid(id, 0, 5e14, 50, "s0");
        uint64 revealDeadline = market.order(id).revealDeadline;
        vm.warp(revealDeadline);
        vm.prank(providers[2]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRevealClosed.selector, id, revealDeadline));
        market.revealBid(id, 2, 5e14, 50, "s2");
    }

    function test_revealBid_gflopsBelowLevel() public {
        uint256 id = postOrder(3, 2);
        bytes32 c = market.bidCommitment(id, providers[0], 5e14, 0, "s");
        vm.prank(providers[0]);
        market.commitBid(id, executorIds[0], c);
        toRevealPhase(id);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketGflopsTooLow.selector, 0, 1));
        market.revealBid(id, 0, 5e14, 0, "s");
    }

    function test_closeBidding_noRevealFailsAndForfeitsBonds() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s0");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlineNotReached.selector, id, market.order(id).revealDeadline));
        market.closeBidding(id);
        uint256 before = token.balanceOf(customer);
        toClose(id);
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Failed), "failed");
        assertEq(token.balanceOf(customer) - before, 2 * uint256(MAX_PRICE) * DURATION + BOND, "escrow + forfeited bond");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 0));
        market.claimBond(id, 0);
        assertEq(market.totalHeld(), 0, "nothing held");
    }

    function test_claimBond_losersOnlyAfterBidding() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s0");
        commitBid(id, 1, 6e14, "s1");
        toRevealPhase(id);
        revealBid(id, 0, 0, 5e14, "s0");
        revealBid(id, 1, 1, 6e14, "s1");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 1));
        market.claimBond(id, 1);
        toClose(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 0));
        market.claimBond(id, 0); // the winner's bond is held until it confirms
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownBid.selector, id, 5));
        market.claimBond(id, 5);
        uint256 before = token.balanceOf(providers[1]);
        market.claimBond(id, 1);
        assertEq(token.balanceOf(providers[1]) - before, BOND, "bond back");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 1));
        market.claimBond(id, 1);
    }

    function test_confirmAndStart_revertPaths() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s0");
        toRevealPhase(id);
        revealBid(id, 0, 0, 5e14, "s0");
        toClose(id);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotWinner.selector, providers[1]));
        market.confirmLease(id, "d");
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Confirming));
        market.startLease(id);
        vm.prank(address(settlement));
        registry.slashExecutor(executorIds[0], PROVIDER_STAKE - 1);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketExecutorUnderstaked.selector, executorIds[0], 1, 1000e18));
        market.confirmLease(id, "d");
        vm.prank(providers[0]);
        registry.addExecutorStake(executorIds[0], PROVIDER_STAKE);
        vm.prank(providers[0]);
        market.confirmLease(id, "d");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotCustomer.selector, address(this)));
        market.startLease(id);
        uint64 deadline = market.order(id).stepDeadline;
        vm.warp(deadline);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlinePassed.selector, id, deadline));
        market.startLease(id);
    }

    function test_expire_confirmingForfeitsWinnerBond() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s0");
        toRevealPhase(id);
        revealBid(id, 0, 0, 5e14, "s0");
        toClose(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlineNotReached.selector, id, market.order(id).stepDeadline));
        market.expire(id);
        uint64 deadline = market.order(id).stepDeadline;
        vm.warp(deadline);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlinePassed.selector, id, deadline));
        market.confirmLease(id, "d");
        uint256 before = token.balanceOf(customer);
        market.expire(id);
        assertEq(token.balanceOf(customer) - before, (uint256(MAX_PRICE) + 5e14) * DURATION + BOND, "refund + bond");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Failed));
        market.expire(id);
        assertEq(market.totalHeld(), 0, "nothing held");
    }

    function test_expire_deployingRefundsAndClosesLease() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s0");
        toRevealPhase(id);
        revealBid(id, 0, 0, 5e14, "s0");
        toClose(id);
        vm.prank(providers[0]);
        market.confirmLease(id, "d");
        assertEq(registry.executor(executorIds[0]).activeLeases, 1, "locked");
        vm.warp(market.order(id).stepDeadline);
        market.expire(id);
        assertEq(registry.executor(executorIds[0]).activeLeases, 0, "unlocked");
        assertEq(settlement.lease(id).closedAt, block.timestamp, "lease closed");
    }

    function test_finish_waitsForLeaseEndAndRound() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlineNotReached.selector, id, market.order(id).stepDeadline));
        market.finish(id);
        vm.warp(market.order(id).stepDeadline);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRoundPending.selector, id));
        market.finish(id);
        pool.finalize(pool.latestRoundOf(id)); // drawTimeout (1000) == DURATION: cancels the undrawn round
        market.finish(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Finished));
        market.finish(id);
    }

    function test_onViolation_onlyPool() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnauthorized.selector, address(this)));
        market.onViolation(id, 0);
        vm.prank(address(pool));
        market.onViolation(id, uint64(block.timestamp + DURATION / 2));
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Failed), "ended");
        vm.prank(address(pool));
        market.onViolation(id, 0); // already ended: no-op
    }
}
