// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {Fixture} from "./Fixture.sol";

contract RegistryTest is Fixture {
    function setUp() public {
        setUpChain(2, 3);
    }

    function _spec(address enclave) internal pure returns (IRegistry.ExecutorSpec memory) {
        return IRegistry.ExecutorSpec(enclave, 1, 512, 0, 5, IRegistry.TeeType.Tdx, bytes32("ev"), "ep");
    }

    function test_registerExecutor_storesSpecAndStake() public view {
        IRegistry.Executor memory e = registry.executor(executorIds[0]);
        assertEq(e.provider, providers[0], "provider");
        assertEq(e.stake, PROVIDER_STAKE, "stake");
        assertEq(e.enclave, vm.addr(enclaveKey(0)), "enclave");
        assertEq(registry.executorOfEnclave(e.enclave), executorIds[0], "enclave index");
        assertEq(registry.executorCount(), 2, "count");
    }

    function test_registerExecutor_rejectsZeroOrTakenEnclave() public {
        vm.startPrank(providers[0]);
        vm.expectRevert(IRegistry.RegistryZeroEnclave.selector);
        registry.registerExecutor(_spec(address(0)), 0);
        address taken = vm.addr(enclaveKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryEnclaveTaken.selector, taken, executorIds[1]));
        registry.registerExecutor(_spec(taken), 0);
        vm.stopPrank();
    }

    function test_updateExecutor_onlyProviderWhenIdle() public {
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNotProvider.selector, executorIds[0], address(this)));
        registry.updateExecutor(executorIds[0], address(0x1234), bytes32(0), "");
        vm.startPrank(providers[0]);
        vm.expectRevert(IRegistry.RegistryZeroEnclave.selector);
        registry.updateExecutor(executorIds[0], address(0), bytes32(0), "");
        address taken = vm.addr(enclaveKey(1));
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryEnclaveTaken.selector, taken, executorIds[1]));
        registry.updateExecutor(executorIds[0], taken, bytes32(0), "");
        registry.updateExecutor(executorIds[0], address(0x1234), bytes32("new"), "new-ep");
        vm.stopPrank();
        assertEq(registry.executorOfEnclave(address(0x1234)), executorIds[0], "moved");
        assertEq(registry.executorOfEnclave(vm.addr(enclaveKey(0))), 0, "old freed");
        vm.prank(address(market));
        registry.lockExecutor(executorIds[0]);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryExecutorLeased.selector, executorIds[0], 1));
        registry.updateExecutor(executorIds[0], address(0x1234), bytes32(0), "");
    }

    function test_unknownExecutor_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownExecutor.selector, 99));
        registry.executor(99);
    }

    function test_executorStake_thawThenWithdraw() public {
        vm.startPrank(providers[0]);
        vm.expectRevert(IRegistry.RegistryZeroAmount.selector);
        registry.addExecutorStake(executorIds[0], 0);
        registry.addExecutorStake(executorIds[0], 10);
        vm.expectRevert(IRegistry.RegistryZeroAmount.selector);
        registry.requestExecutorUnstake(executorIds[0], 0);
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryInsufficientStake.selector, PROVIDER_STAKE + 10, PROVIDER_STAKE + 11)
        );
        registry.requestExecutorUnstake(executorIds[0], PROVIDER_STAKE + 11);
        vm.expectRevert(IRegistry.RegistryNothingThawing.selector);
        registry.withdrawExecutorStake(executorIds[0]);
        registry.requestExecutorUnstake(executorIds[0], 100);
        uint64 thawEnd = registry.executor(executorIds[0]).thawEnd;
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryStillThawing.selector, thawEnd, uint64(block.timestamp)));
        registry.withdrawExecutorStake(executorIds[0]);
        vm.warp(thawEnd);
        uint256 before = token.balanceOf(providers[0]);
        registry.withdrawExecutorStake(executorIds[0]);
        vm.stopPrank();
        assertEq(token.balanceOf(providers[0]) - before, 100, "withdrawn");
    }

    function test_withdrawExecutorStake_blockedWhileLeased() public {
        vm.prank(providers[0]);
        registry.requestExecutorUnstake(executorIds[0], 100);
        vm.prank(address(market));
        registry.lockExecutor(executorIds[0]);
        vm.warp(block.timestamp + 1000);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryExecutorLeased.selector, executorIds[0], 1));
        registry.withdrawExecutorStake(executorIds[0]);
        vm.prank(address(market));
        registry.unlockExecutor(executorIds[0]);
        vm.prank(address(market));
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNoActiveLease.selector, executorIds[0]));
        registry.unlockExecutor(executorIds[0]);
    }

    function test_slashExecutor_reachesThawingStake() public {
        vm.prank(providers[0]);
        registry.requestExecutorUnstake(executorIds[0], PROVIDER_STAKE - 100);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, address(this)));
        registry.slashExecutor(executorIds[0], 1);
        vm.prank(address(settlement));
        uint256 slashed = registry.slashExecutor(executorIds[0], 500);
        assertEq(slashed, 500, "slashed");
        IRegistry.Executor memory e = registry.executor(executorIds[0]);
        assertEq(e.stake, 0, "active gone first");
        assertEq(e.thawing, PROVIDER_STAKE - 500, "rest from thawing");
        assertEq(token.balanceOf(address(settlement)), 500, "to the slasher");
        vm.prank(address(settlement));
        assertEq(registry.slashExecutor(executorIds[0], type(uint128).max), PROVIDER_STAKE - 500, "capped");
    }

    function test_authorization_onlyOwner() public {
        vm.prank(address(0xBAD));
        vm.expectRevert();
        registry.setAuthorized(address(0xBAD), true);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, address(this)));
        registry.lockExecutor(executorIds[0]);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, address(this)));
        registry.unlockExecutor(executorIds[0]);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, address(this)));
        registry.penalizeWitness(1, 1, 1);
    }

    function test_registerWitness_onceAndEligibleFromThisBlock() public {
        address w = witnesses[0];
        vm.prank(w);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryWitnessExists.selector, w));
        registry.registerWitness(1);
        uint256 id = registry.witnessIdOf(w);
        assertTrue(registry.isWitnessEligibleAt(id, block.number), "eligible now");
        assertTrue(!registry.isWitnessEligibleAt(id, block.number - 1), "not before");
        assertEq(registry.witnessAccount(id), w, "account");
        assertEq(registry.witnessAccount(99), address(0), "unknown");
        assertTrue(!registry.isWitnessEligibleAt(0, block.number), "id zero");
        assertEq(registry.witnessCount(), 3, "count");
    }

    function test_witnessUnderMinimum_isNotEligible() public {
        address w = address(0xCAFE);
        _fund(w, 1e21);
        vm.prank(w);
        uint256 id = registry.registerWitness(50e18);
        assertTrue(!registry.isWitnessEligibleAt(id, block.number), "below min");
        vm.prank(w);
        registry.addWitnessStake(50e18);
        assertTrue(registry.isWitnessEligibleAt(id, block.number), "at min");
    }

    function test_witnessUnstake_leavesEligibleSetThenWithdraws() public {
        address w = witnesses[1];
        uint256 id = registry.witnessIdOf(w);
        vm.roll(block.number + 5);
        uint256 eligibleBlock = block.number;
        vm.roll(block.number + 1);
        vm.startPrank(w);
        vm.expectRevert(IRegistry.RegistryZeroAmount.selector);
        registry.requestWitnessUnstake(0);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryInsufficientStake.selector, WITNESS_STAKE, WITNESS_STAKE + 1));
        registry.requestWitnessUnstake(WITNESS_STAKE + 1);
        vm.expectRevert(IRegistry.RegistryNothingThawing.selector);
        registry.withdrawWitnessStake();
        registry.requestWitnessUnstake(150e18);
        assertTrue(!registry.isWitnessEligibleAt(id, block.number), "left");
        assertTrue(registry.isWitnessEligibleAt(id, eligibleBlock), "history kept");
        vm.expectRevert();
        registry.withdrawWitnessStake();
        vm.warp(block.timestamp + 1000);
        registry.withdrawWitnessStake();
        vm.stopPrank();
        vm.prank(address(0xD00D));
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownWitness.selector, address(0xD00D)));
        registry.addWitnessStake(1);
    }

    function test_penalizeWitness_reputationZeroExcludes() public {
        uint256 id = registry.witnessIdOf(witnesses[2]);
        vm.startPrank(address(pool));
        registry.penalizeWitness(id, 1e18, 2);
        assertTrue(registry.isWitnessEligibleAt(id, block.number), "still eligible");
        uint256 slashed = registry.penalizeWitness(id, 1e18, 5);
        vm.stopPrank();
        assertEq(slashed, 1e18, "slashed");
        assertEq(registry.witness(id).reputation, 0, "reputation floor");
        assertTrue(!registry.isWitnessEligibleAt(id, block.number), "excluded");
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownWitness.selector, address(0)));
        registry.witness(0);
    }

    function test_registerWitness_capBoundsTheFrozenList() public {
        uint256 n = registry.witnessCount();
        for (uint256 i = n; i < 1024; ++i) {
            vm.prank(address(uint160(0x100000 + i)));
            registry.registerWitness(0);
        }
        vm.prank(address(0xF00D));
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryTooManyWitnesses.selector, 1024));
        registry.registerWitness(0);
    }

    function test_wiring_onlyDeployer() public {
        vm.prank(address(0xBAD));
        vm.expectRevert();
        settlement.setMarket(address(0xBAD));
        vm.prank(address(0xBAD));
        vm.expectRevert();
        pool.setMarket(market);
    }
}
