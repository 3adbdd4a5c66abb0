// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

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
        registry.lockExecutor(e);
        registry.unlockExecutor(e);
        uint256 roundId = pool.requestCommittee(1, e, customer, 3, 2);
        settlement.openLease(9, customer, providers[0], e, vm.addr(enclaveKey(0)), 0);
        settlement.closeLease(9);
        vm.stopPrank();
        assertEq(roundId, 1, "round");
        vm.startPrank(address(pool));
        token.mint(witnesses[0], UNIT);
        registry.penalizeWitness(registry.witnessIdOf(witnesses[1]), UNIT, 1);
        registry.slashExecutor(e, 1e18);
        vm.stopPrank();
        uint256 id = leaseThrough(3, 2, 5e14);
        vm.prank(address(pool));
        market.onViolation(id, uint64(block.timestamp + 10));
    }
}
