// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

/// @notice Calls the contract-to-contract functions directly as their authorised caller, so that
/// `forge test --gas-report` (docs/gas.md) shows what each costs on its own.
contract GasProbesTest is Fixture {
    function setUp() public {
        setUpChain(1, 3);
    }

    function test_probe_internalCalls() public {
        uint256 e = executorIds[0];
        vm.startPrank(address(market));
        registry.lockCollateral(9, e, 1e18);
        settlement.openLease(9, customer, providers[0], e, vm.addr(enclaveKey(0)), 0);
        settlement.closeLease(9);
        vm.stopPrank();
        token.transfer(address(pool), 3 * UNIT); // the round's fee, as the market sends it
        vm.prank(address(market));
        pool.requestRound(9, 0, uint64(block.timestamp + 100), e, customer, 3, 2);
        vm.startPrank(address(pool));
        registry.penalizeWitness(registry.witnessIdOf(witnesses[1]), UNIT, 1);
        registry.slashCollateral(9, 1e17);
        vm.stopPrank();
        vm.prank(address(settlement));
        registry.releaseCollateral(9);
        uint256 id = leaseThrough(3, 2, 5e14);
        vm.warp(market.order(id).startedAt);
        vm.prank(address(pool));
        vm.expectRevert(); // no round pending: the call is refused, its cost still shows
        market.onRoundSettled(id, 0, IWitnessPool.Verdict.Ok, 0);
    }
}
