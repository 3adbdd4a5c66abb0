// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IMarket} from "../src/interfaces/IMarket.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

contract LifecycleTest is Fixture {
    function setUp() public {
        setUpChain(5, 7);
    }

    /// Five bids, the lowest (earliest of a tie) wins; two epochs, each checked by its own committee and
    /// paid; calls redeemed; the lease settled and the collateral back; every token accounted for.
    function test_lifecycle_fiveBidsToSettled() public {
        uint256 supply = token.totalSupply();
        uint256 orderId = postOrder(3, 2);
        uint128[5] memory prices = [uint128(9e14), 5e14, 7e14, 5e14, 8e14];
        for (uint256 i = 0; i < 5; ++i) commitBid(orderId, i, prices[i], bytes32(i));
        toRevealPhase(orderId);
        for (uint256 i = 0; i < 5; ++i) revealBid(orderId, i, i, prices[i], bytes32(i));
        toClose(orderId);
        IMarket.Order memory o = market.order(orderId);
        assertEq(uint256(o.state), uint256(IMarket.State.Confirming), "state");
        assertEq(o.winner, 1, "tie goes to the earlier commit");
        assertEq(o.price, 5e14, "price");
        assertEq(o.epochs, 2, "two epochs");

        uint256 freeBefore = registry.executor(executorIds[1]).stake;
        vm.prank(providers[1]);
        market.confirmLease(orderId, "dep");
        (, uint256 collateral) = registry.leaseCollateral(orderId);
        assertEq(freeBefore - registry.executor(executorIds[1]).stake, collateral, "collateral locked");
        vm.prank(customer);
        market.startLease(orderId);

        // calls: the provider redeems the latest cumulative voucher
        ISettlement.Voucher memory v =
            ISettlement.Voucher(orderId, 0, 9, bytes32("head"), 1e15, uint64(block.timestamp + 1000));
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        vm.prank(providers[1]);
        settlement.redeem(v, sig);

        uint256 before = token.balanceOf(providers[1]);
        for (uint32 e = 0; e < 2; ++e) {
            (uint256 roundId, address[] memory members) = requestAndDraw(orderId);
            assertEq(members.length, 3, "committee size");
            assertEq(pool.round(roundId).epoch, e, "one round per epoch");
            IWitnessPool.Verdict verdict =
                playRound(roundId, members, allSay(3, IWitnessPool.Verdict.Ok), uint64(block.timestamp), 3);
            assertTrue(verdict == IWitnessPool.Verdict.Ok, "ok");
        }
        assertEq(token.balanceOf(providers[1]) - before, 5e14 * uint256(DURATION), "fee paid over the epochs");
        assertEq(uint256(market.order(orderId).state), uint256(IMarket.State.Finished), "finished");

        vm.warp(block.timestamp + WINDOW);
        settlement.settle(orderId);
        assertEq(registry.executor(executorIds[1]).stake, freeBefore, "collateral released");
        settlement.collect(orderId);
        assertEq(token.totalSupply(), supply, "nothing minted");
        assertEq(token.totalSupply(), _sumBalances() + heldByContracts(), "conservation");
    }

    function _sumBalances() internal view returns (uint256 s) {
        s = token.balanceOf(address(this)) + token.balanceOf(customer);
        for (uint256 i = 0; i < providers.length; ++i) s += token.balanceOf(providers[i]);
        for (uint256 i = 0; i < witnesses.length; ++i) s += token.balanceOf(witnesses[i]);
    }
}
