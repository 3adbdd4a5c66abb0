// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IMarket} from "../src/interfaces/IMarket.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

contract WitnessPoolTest is Fixture {
    uint256 internal leaseId;
    uint256 internal roundId;

    function setUp() public {
        setUpChain(1, 7);
        leaseId = leaseThrough(5, 3, 5e14);
        roundId = pool.latestRoundOf(leaseId);
    }

    function _commitAll(address[] memory m, IWitnessPool.Verdict[] memory v, uint64 t) internal {
        for (uint256 i = 0; i < m.length; ++i) {
            bytes32 c = commitOf(roundId, m[i], v[i], t);
            vm.prank(m[i]);
            pool.commitVerdict(roundId, c);
        }
        vm.warp(pool.round(roundId).commitDeadline);
    }

    function _reveal(address w, IWitnessPool.Verdict v, uint64 t) internal {
        vm.prank(w);
        pool.revealVerdict(roundId, v, t, keccak256(abi.encode(w)));
    }

    function _verdicts(uint256 violated, uint256 n) internal pure returns (IWitnessPool.Verdict[] memory v) {
        v = new IWitnessPool.Verdict[](n);
        for (uint256 i = 0; i < n; ++i) {
            v[i] = i < violated ? IWitnessPool.Verdict.Violated : IWitnessPool.Verdict.NotViolated;
        }
    }

    function test_validateCommittee_bounds() public {
        pool.validateCommittee(3, 2);
        pool.validateCommittee(5, 3);
        pool.validateCommittee(5, 4);
        pool.validateCommittee(15, 14);
        uint8[2][6] memory bad = [[uint8(2), 2], [3, 1], [3, 3], [4, 2], [16, 9], [5, 5]];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolBadCommittee.selector, bad[i][0], bad[i][1]));
            pool.validateCommittee(bad[i][0], bad[i][1]);
        }
    }

    function test_requestCommittee_onlyMarketAndFreezes() public {
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnauthorized.selector, address(this)));
        pool.requestCommittee(1, 1, customer, 3, 2);
        IWitnessPool.Round memory r = pool.round(roundId);
        assertEq(uint256(r.phase), uint256(IWitnessPool.Phase.Requested), "requested");
        assertEq(r.frozenCount, 7, "frozen count");
        assertEq(r.seedBlock, r.frozenBlock + 1, "seed block");
        assertTrue(pool.roundPending(leaseId), "pending");
        vm.expectRevert(IWitnessPool.WitnessPoolAlreadyWired.selector);
        pool.setMarket(IMarket(address(this)));
    }

    function test_drawCommittee_waitsForSeedBlockAndDrawsOnce() public {
        IWitnessPool.Round memory r = pool.round(roundId);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolSeedNotReady.selector, roundId, r.seedBlock));
        pool.drawCommittee(roundId);
        address[] memory m = draw(roundId);
        assertEq(m.length, 5, "size");
        address[] memory again = pool.committee(roundId);
        for (uint256 i = 0; i < 5; ++i) assertEq(again[i], m[i], "stored committee");
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolWrongPhase.selector, roundId, IWitnessPool.Phase.Drawn));
        pool.drawCommittee(roundId);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnknownRound.selector, 99));
        pool.drawCommittee(99);
    }

    function test_drawCommittee_excludesWitnessesThatJoinedLater() public {
        for (uint256 i = 0; i < 5; ++i) addWitness(); // after the request: not in the frozen set
        address[] memory m = draw(roundId);
        for (uint256 i = 0; i < m.length; ++i) {
            assertTrue(uint160(m[i]) < 0xB000 + 7, "only frozen witnesses");
        }
    }

    function test_drawCommittee_unfilledWhenTooFewEligible() public {
        vm.roll(block.number + 1);
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(witnesses[i]);
            registry.requestWitnessUnstake(WITNESS_STAKE);
        }
        // they left after the request: still in the frozen set
        draw(roundId);
        uint256 lease2 = leaseThrough(5, 3, 5e14);
        uint256 round2 = pool.latestRoundOf(lease2);
        vm.roll(block.number + 2);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitteeUnfilled.selector, 4, 5));
        pool.drawCommittee(round2);
        vm.warp(block.timestamp + 999);
        vm.expectRevert(
            abi.encodeWithSelector(IWitnessPool.WitnessPoolNotFinalizable.selector, round2, pool.round(round2).requestedAt + 1000)
        );
        pool.finalize(round2);
        vm.warp(block.timestamp + 1);
        assertEq(uint256(pool.finalize(round2)), uint256(IWitnessPool.Verdict.None), "cancelled");
        assertEq(uint256(pool.round(round2).phase), uint256(IWitnessPool.Phase.Cancelled), "phase");
        assertEq(pool.committee(round2).length, 0, "no committee");
    }

    function test_drawCommittee_pivotBlockPast256() public {
        IWitnessPool.Round memory r = pool.round(roundId);
        vm.roll(uint256(r.seedBlock) + 600);
        // pivot = seedBlock + 512: the youngest block congruent to the seed block mod 256
        vm.setBlockhash(uint256(r.seedBlock) + 512, keccak256("pivot"));
        address[] memory a = pool.drawCommittee(roundId);
        assertEq(a.length, 5, "drawn");
    }

    function test_commitVerdict_revertPaths() public {
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolWrongPhase.selector, roundId, IWitnessPool.Phase.Requested));
        pool.commitVerdict(roundId, bytes32("c"));
        draw(roundId);
        vm.expectRevert(IWitnessPool.WitnessPoolZeroCommitment.selector);
        pool.commitVerdict(roundId, 0);
        uint64 deadline = pool.round(roundId).commitDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitClosed.selector, roundId, deadline));
        pool.commitVerdict(roundId, bytes32("c"));
    }

    function test_revealVerdict_revertPaths() public {
        address[] memory m = draw(roundId);
        bytes32 c = commitOf(roundId, m[0], IWitnessPool.Verdict.Violated, 7);
        vm.prank(m[0]);
        pool.commitVerdict(roundId, c);
        uint64 commitDeadline = pool.round(roundId).commitDeadline;
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRevealNotOpen.selector, roundId, commitDeadline));
        pool.revealVerdict(roundId, IWitnessPool.Verdict.Violated, 7, keccak256(abi.encode(m[0])));
        vm.warp(commitDeadline);
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolBadVerdict.selector, IWitnessPool.Verdict.None));
        pool.revealVerdict(roundId, IWitnessPool.Verdict.None, 7, keccak256(abi.encode(m[0])));
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolNotMember.selector, roundId, customer));
        pool.revealVerdict(roundId, IWitnessPool.Verdict.Violated, 7, keccak256(abi.encode(m[0])));
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitmentMismatch.selector, roundId, m[0]));
        pool.revealVerdict(roundId, IWitnessPool.Verdict.NotViolated, 7, keccak256(abi.encode(m[0])));
        _reveal(m[0], IWitnessPool.Verdict.Violated, 7);
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolAlreadyRevealed.selector, roundId, m[0]));
        pool.revealVerdict(roundId, IWitnessPool.Verdict.Violated, 7, keccak256(abi.encode(m[0])));
        uint64 revealEnd = pool.revealDeadline(roundId);
        vm.warp(revealEnd);
        vm.prank(m[1]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRevealClosed.selector, roundId, revealEnd));
        pool.revealVerdict(roundId, IWitnessPool.Verdict.Violated, 7, keccak256(abi.encode(m[1])));
    }

    function test_finalize_notViolatedPaysSilentAndPenalizesFalseReports() public {
        address[] memory m = draw(roundId);
        _commitAll(m, _verdicts(2, 5), 0);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolNotFinalizable.selector, roundId, pool.revealDeadline(roundId)));
        pool.finalize(roundId);
        uint256[5] memory before;
        uint256[5] memory stakes;
        for (uint256 i = 0; i < 5; ++i) {
            before[i] = token.balanceOf(m[i]);
            stakes[i] = registry.witness(registry.witnessIdOf(m[i])).stake;
        }
        for (uint256 i = 0; i < 4; ++i) _reveal(m[i], i < 2 ? IWitnessPool.Verdict.Violated : IWitnessPool.Verdict.NotViolated, 0);
        vm.warp(pool.revealDeadline(roundId));
        assertEq(uint256(pool.finalize(roundId)), uint256(IWitnessPool.Verdict.NotViolated), "verdict");
        // reported but no violation: -1 (stake); silent and no violation: +1 (minted); no reveal: -2 and reputation
        for (uint256 i = 0; i < 2; ++i) {
            assertEq(stakes[i] - registry.witness(registry.witnessIdOf(m[i])).stake, UNIT, "-1");
        }
        for (uint256 i = 2; i < 4; ++i) assertEq(token.balanceOf(m[i]) - before[i], UNIT, "+1");
        uint256 id4 = registry.witnessIdOf(m[4]);
        assertEq(stakes[4] - registry.witness(id4).stake, 2 * UNIT, "-2");
        assertEq(registry.witness(id4).reputation, 2, "reputation lost");
        assertTrue(!pool.roundPending(leaseId), "settled");
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolWrongPhase.selector, roundId, IWitnessPool.Phase.Finalized));
        pool.finalize(roundId);
    }

    function test_finalize_violatedSlashesProviderAndEndsLease() public {
        address[] memory m = draw(roundId);
        uint64 started = market.order(leaseId).startedAt;
        uint64 t = started + DURATION / 2;
        _commitAll(m, _verdicts(3, 5), t);
        uint256[5] memory before;
        for (uint256 i = 0; i < 5; ++i) before[i] = token.balanceOf(m[i]);
        uint256 stake = registry.executor(executorIds[0]).stake;
        uint256 c0 = token.balanceOf(customer);
        uint256 p0 = token.balanceOf(providers[0]);
        uint256 supply0 = token.totalSupply();
        for (uint256 i = 0; i < 5; ++i) _reveal(m[i], i < 3 ? IWitnessPool.Verdict.Violated : IWitnessPool.Verdict.NotViolated, t);
        assertEq(uint256(pool.finalize(roundId)), uint256(IWitnessPool.Verdict.Violated), "all revealed: early finalize");
        uint256 slashed = stake / 2;
        uint256 perWitness = slashed / 4 / 3;
        for (uint256 i = 0; i < 3; ++i) assertEq(token.balanceOf(m[i]) - before[i], 10 * UNIT + perWitness, "+10 and share");
        for (uint256 i = 3; i < 5; ++i) assertEq(token.balanceOf(m[i]), before[i], "violated & silent: 0");
        uint256 fee = 5e14 * uint256(DURATION);
        assertEq(token.balanceOf(customer) - c0, slashed / 2 + fee / 2, "share + pro-rata refund");
        assertEq(token.balanceOf(providers[0]) - p0, fee / 2, "pro-rata pay");
        assertEq(uint256(market.order(leaseId).state), uint256(IMarket.State.Failed), "lease ended");
        uint256 burned = slashed - slashed / 2 - perWitness * 3;
        assertEq(token.totalSupply(), supply0 + 30 * UNIT - burned, "minted rewards, burned remainder");
    }
}
