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

    function test_lifecycle_fiveBidsToFinished() public {
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

        vm.prank(providers[1]);
        market.confirmLease(orderId, "dep");
        vm.prank(customer);
        market.startLease(orderId);
        uint256 roundId = pool.latestRoundOf(orderId);
        address[] memory members = draw(roundId);
        assertEq(members.length, 3, "committee size");
        for (uint256 i = 0; i < 3; ++i) {
            bytes32 c = commitOf(roundId, members[i], IWitnessPool.Verdict.NotViolated, 0);
            vm.prank(members[i]);
            pool.commitVerdict(roundId, c);
        }
        vm.warp(pool.round(roundId).commitDeadline);
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(members[i]);
            pool.revealVerdict(roundId, IWitnessPool.Verdict.NotViolated, 0, keccak256(abi.encode(members[i])));
        }
        pool.finalize(roundId);
        vm.warp(market.order(orderId).stepDeadline);
        uint256 before = token.balanceOf(providers[1]);
        market.finish(orderId);
        assertEq(token.balanceOf(providers[1]) - before, 5e14 * uint256(DURATION), "fee paid");
        assertEq(uint256(market.order(orderId).state), uint256(IMarket.State.Finished), "finished");
        assertEq(token.totalSupply(), _sumBalances() + heldByContracts(), "conservation");
    }

    function _sumBalances() internal view returns (uint256 s) {
        s = token.balanceOf(address(this)) + token.balanceOf(customer);
        for (uint256 i = 0; i < providers.length; ++i) s += token.balanceOf(providers[i]);
        for (uint256 i = 0; i < witnesses.length; ++i) s += token.balanceOf(witnesses[i]);
    }
}
