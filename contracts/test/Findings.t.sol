// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IAttestationLog} from "../src/interfaces/IAttestationLog.sol";
import {IMarket} from "../src/interfaces/IMarket.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

/// @notice One test per finding of the contracts review, through the whole wired system: each states
/// the attack as it worked against the earlier rules and asserts that it is refused or no longer pays.
contract FindingsTest is Fixture {
    function setUp() public {
        setUpChain(3, 6);
    }

    // ------------------------------------------------------------------ helpers

    function voucher(uint256 leaseId, uint64 first, uint64 last, bytes32 head, uint256 amount)
        internal
        view
        returns (ISettlement.Voucher memory)
    {
        return ISettlement.Voucher(leaseId, first, last, head, amount, uint64(block.timestamp + 1000));
    }

    /// @dev A batch of `n` calls from `first`, its voucher head and the enclave-signed receipt.
    function batchOf(uint256 leaseId, uint64 first, uint256 n)
        internal
        view
        returns (ISettlement.CallRecord[] memory recs, bytes32 requestHead, ISettlement.Receipt memory r, bytes memory sig)
    {
        recs = new ISettlement.CallRecord[](n);
        for (uint256 i = 0; i < n; ++i) {
            recs[i] = ISettlement.CallRecord(
                first + uint64(i), keccak256("fn"), keccak256(abi.encode("in", first + i)), keccak256("out"), 1, 10
            );
        }
        bytes32 recordHead;
        (requestHead, recordHead) = settlement.chainHeads(recs);
        r = ISettlement.Receipt(leaseId, first, first + uint64(n) - 1, recordHead, keccak256("evidence"), 1, 2);
        sig = signReceipt(enclaveKey(0), r);
    }

    function redeemBatch(uint256 leaseId, uint64 first, uint256 n, uint256 cumulative)
        internal
        returns (ISettlement.CallRecord[] memory recs, bytes32 head, ISettlement.Receipt memory r, bytes memory sig)
    {
        (recs, head, r, sig) = batchOf(leaseId, first, n);
        ISettlement.Voucher memory v = voucher(leaseId, first, first + uint64(n) - 1, head, cumulative);
        bytes memory vs = signVoucher(CUSTOMER_KEY, v);
        vm.prank(providers[0]);
        settlement.redeem(v, vs);
    }

    function collateralOf(uint256 leaseId) internal view returns (uint256 amount) {
        (, amount) = registry.leaseCollateral(leaseId);
    }

    // ------------------------------------------------------------------ critical

    /// Critical: the customer redeemed its own zero-amount voucher over nonces 0..2^64-2, the nonce floor
    /// jumped to the top, every real voucher reverted and `settle` refunded the whole budget.
    /// Only the lease's provider redeems, ranges are bounded, and there is no nonce floor to move.
    function test_attack_customerVoidsEveryVoucher() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        ISettlement.Voucher memory voidAll = voucher(id, 0, type(uint64).max - 1, bytes32("x"), 0);
        bytes memory sig = signVoucher(CUSTOMER_KEY, voidAll);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotProvider.selector, customer, providers[0]));
        settlement.redeem(voidAll, sig);
        vm.prank(providers[0]);
        vm.expectRevert(); // a range longer than a receipt can cover is never redeemable
        settlement.redeem(voidAll, sig);
        // the provider's real vouchers still pay, in any nonce order
        redeemBatch(id, 10, 3, 100);
        redeemBatch(id, 7, 3, 120);
        assertEq(settlement.lease(id).paid, 120, "both batches paid, cumulatively");
    }

    /// Critical: claims on vouchers the provider never saw (an invented request head, or a range no
    /// receipt can cover) could not be answered, and each upheld claim took `claimSlash` of stake.
    /// Claims exist only on batches the provider redeemed, and the honest provider answers each one.
    function test_attack_madeUpClaimsDrainStake() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        (ISettlement.CallRecord[] memory recs, bytes32 head, ISettlement.Receipt memory r, bytes memory rs) =
            redeemBatch(id, 0, 4, 40);
        uint256 before = collateralOf(id);

        vm.startPrank(customer);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBatchNotRedeemed.selector, id, 0, 3, bytes32("invented"))
        );
        settlement.openClaim(id, 0, 3, bytes32("invented"), 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBatchNotRedeemed.selector, id, 100, 100_000, head)
        );
        settlement.openClaim(id, 100, 100_000, head, 200);
        uint256 claimId = settlement.openClaim(id, 0, 3, head, 2);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchAlreadyClaimed.selector, id, 0, 3));
        settlement.openClaim(id, 0, 3, head, 1);
        vm.stopPrank();

        assertLe(settlement.claim(claimId).compensation, 40, "compensation capped by what the batch paid");
        settlement.answerClaim(claimId, r, rs, recs);
        assertEq(collateralOf(id), before, "the honest provider lost nothing");
    }

    // ------------------------------------------------------------------ high

    /// High: the Violated slash counted only active stake, so a provider moved everything to thawing
    /// after confirming and was slashed nothing. The lease's collateral is locked at confirmation and
    /// the slash takes its share of that collateral.
    function test_attack_violatedSlashEscapedByUnstaking() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        uint256 collateral = collateralOf(id);
        assertTrue(collateral >= MIN_PROVIDER_STAKE, "collateral locked at confirmation");
        IRegistry.Executor memory e = registry.executor(executorIds[0]);
        vm.prank(providers[0]);
        registry.requestExecutorUnstake(executorIds[0], e.stake); // everything that is free
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryInsufficientStake.selector, 0, 1));
        registry.requestExecutorUnstake(executorIds[0], 1); // the collateral is not free

        (uint256 roundId, address[] memory m) = requestAndDraw(id);
        uint64 t = uint64(block.timestamp);
        IWitnessPool.Verdict v = playRound(roundId, m, allSay(m.length, IWitnessPool.Verdict.Unavailable), t, m.length);
        assertTrue(v == IWitnessPool.Verdict.Unavailable, "violation found");
        assertEq(collateralOf(id), collateral - collateral * 5000 / 10_000, "half the collateral slashed");
        assertTrue(market.order(id).state == IMarket.State.Failed, "lease failed");
    }

    /// High: about 1,021 zero-stake registrations filled the witness list; no real witness could join
    /// and the draw's scan cost 3.36M gas. Registration needs the minimum stake.
    function test_attack_zeroStakeWitnessesFillTheList() public {
        address sybil = address(0x5151);
        _fund(sybil, 1e20);
        vm.prank(sybil);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryWitnessUnderstaked.selector, 0, 100e18));
        registry.registerWitness(0);
        vm.prank(sybil);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryWitnessUnderstaked.selector, 99e18, 100e18));
        registry.registerWitness(99e18);
        assertEq(registry.eligibleCount(), witnesses.length, "only staked witnesses are listed");
    }

    // ------------------------------------------------------------------ medium

    /// Medium: the executor was unlocked (stake withdrawable) before claims on its last lease could be
    /// upheld. The collateral stays locked until Settlement settles the lease, after every claim.
    function test_attack_unstakeBeforeClaimsUpheld() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        (, bytes32 head,,) = redeemBatch(id, 0, 2, 20);
        runAllEpochsOk(id);
        assertTrue(market.order(id).state == IMarket.State.Finished, "lease over");
        uint256 collateral = collateralOf(id);
        assertTrue(collateral > 0, "still locked after the lease ended");
        vm.prank(customer);
        uint256 claimId = settlement.openClaim(id, 0, 1, head, 0);
        vm.warp(block.timestamp + WINDOW + 1);
        uint256 customerBefore = token.balanceOf(customer);
        settlement.upholdClaim(claimId);
        assertEq(token.balanceOf(customer) - customerBefore, 1e18 + 20, "bond back plus what the batch paid");
        settlement.settle(id);
        assertEq(collateralOf(id), 0, "released at settlement");
    }

    /// Medium: anyone could register under another provider's enclave address. Registration needs the
    /// enclave's signature over the registering provider, evidence hash and endpoint.
    function test_attack_registerSomeoneElsesEnclave() public {
        address thief = address(0x7E1F);
        _fund(thief, 1e22);
        IRegistry.ExecutorSpec memory spec = IRegistry.ExecutorSpec({
            enclave: vm.addr(enclaveKey(77)),
            cpuCores: 2,
            memoryMiB: 1024,
            gpuMemoryMiB: 0,
            gflops: 50,
            teeType: IRegistry.TeeType.Simulated,
            evidenceHash: keccak256("e"),
            endpoint: "x:1"
        });
        // a proof the enclave gave to another provider does not register it for the thief
        bytes memory proofForOther = registrationProof(enclaveKey(77), providers[1], spec.evidenceHash, spec.endpoint);
        vm.prank(thief);
        vm.expectRevert();
        registry.registerExecutor(spec, PROVIDER_STAKE, proofForOther);
        // nor does the thief's own key
        bytes memory ownKey = registrationProof(0xBAD, thief, spec.evidenceHash, spec.endpoint);
        vm.prank(thief);
        vm.expectRevert();
        registry.registerExecutor(spec, PROVIDER_STAKE, ownKey);
    }

    /// Medium: a frozen witness left and re-joined after the request for 1 wei and two transactions,
    /// which rewrote its eligibility interval, so provider-controlled witnesses could make a committee
    /// unfillable; the cancelled round still paid the provider in full. History is kept per block,
    /// and an unchecked epoch is not paid.
    function test_attack_witnessDropsOutOfFrozenSet() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        vm.warp(market.order(id).startedAt);
        uint256 roundId = market.requestRound(id);
        uint256 frozen = pool.round(roundId).frozenBlock;
        vm.roll(block.number + 1);
        address w = witnesses[0];
        vm.startPrank(w);
        registry.requestWitnessUnstake(WITNESS_STAKE - 99e18); // below the minimum: leaves
        token.approve(address(registry), type(uint256).max);
        registry.addWitnessStake(WITNESS_STAKE); // and comes back
        vm.stopPrank();
        assertTrue(registry.wasEligibleAt(registry.witnessIdOf(w), frozen), "the past is not rewritten");

        // a round that cannot be drawn is cancelled and its epoch is not paid
        uint256 id2 = leaseThroughWith(1, 5e14);
        vm.warp(market.order(id2).startedAt);
        // every witness leaves before the draw: nobody eligible is left in the list
        for (uint256 i = 0; i < witnesses.length; ++i) {
            uint256 stake = registry.witness(registry.witnessIdOf(witnesses[i])).stake;
            vm.prank(witnesses[i]);
            registry.requestWitnessUnstake(stake);
        }
        uint256 r2 = market.requestRound(id2);
        vm.roll(block.number + 2);
        vm.expectRevert();
        pool.drawCommittee(r2);
        vm.warp(block.timestamp + 1001);
        uint256 providerBefore = token.balanceOf(providers[1]);
        pool.finalize(r2);
        assertEq(token.balanceOf(providers[1]), providerBefore, "a cancelled round pays the provider nothing");
        assertEq(market.order(id2).nextEpoch, 1, "the epoch is settled, as refunded");
    }

    function leaseThroughWith(uint256 providerIdx, uint128 price) internal returns (uint256 orderId) {
        orderId = postOrder(3, 2);
        commitBid(orderId, providerIdx, price, bytes32("p"));
        toRevealPhase(orderId);
        revealBid(orderId, providerIdx, 0, price, bytes32("p"));
        toClose(orderId);
        vm.prank(providers[providerIdx]);
        market.confirmLease(orderId, "d");
        vm.prank(customer);
        market.startLease(orderId);
    }

    /// Medium: one party acting as customer, provider and witnesses minted rewards without bound.
    /// Nothing is minted: witness rewards come out of the fee the customer paid with the order.
    function test_attack_selfDealingMintsRewards() public {
        uint256 supply = token.totalSupply();
        uint256 witnessesBefore = sumOf(witnesses);
        uint256 id = leaseThrough(3, 2, 5e14);
        uint256 witnessFee = market.order(id).witnessFee;
        runAllEpochsOk(id);
        vm.warp(block.timestamp + WINDOW);
        settlement.settle(id);
        assertEq(token.totalSupply(), supply, "nothing minted");
        assertLe(sumOf(witnesses) - witnessesBefore, witnessFee, "witnesses earn at most the fee paid");
    }

    function sumOf(address[] memory as_) internal view returns (uint256 s) {
        for (uint256 i = 0; i < as_.length; ++i) s += token.balanceOf(as_[i]);
    }

    /// Medium: one actor with 32 executors took every bid seat and won at the maximum price. Seats are
    /// 256 and one provider may hold at most 4 of an order's bids.
    function test_attack_oneActorTakesAllSeats() public {
        uint256 id = postOrder(3, 2);
        address p = providers[0];
        _fund(p, 1e22);
        for (uint256 i = 0; i < 4; ++i) {
            uint256 e = extraExecutor(p, 100 + i);
            bytes32 c = market.bidCommitment(id, p, MAX_PRICE, 50, bytes32(i));
            vm.prank(p);
            market.commitBid(id, e, c);
        }
        uint256 fifth = extraExecutor(p, 200);
        bytes32 c5 = market.bidCommitment(id, p, MAX_PRICE, 50, bytes32(uint256(5)));
        vm.prank(p);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTooManyBidsFromProvider.selector, p, 4));
        market.commitBid(id, fifth, c5);
        commitBid(id, 1, 1e14, "honest"); // seats remain for others
    }

    function extraExecutor(address p, uint256 k) internal returns (uint256 id) {
        bytes32 ev = keccak256(abi.encode("ev", k));
        bytes memory proof = registrationProof(enclaveKey(k), p, ev, "h:1");
        vm.prank(p);
        id = registry.registerExecutor(
            IRegistry.ExecutorSpec(vm.addr(enclaveKey(k)), 2, 1024, 0, 50, IRegistry.TeeType.Simulated, ev, "h:1"),
            MIN_PROVIDER_STAKE,
            proof
        );
    }

    /// Medium: one operator key anchoring tree size 2^64-1 bricked the attestation log for everyone.
    /// Each operator has its own chain; a revoked key anchors nothing.
    function test_attack_operatorBricksTheLog() public {
        address bad = address(0xBAD1);
        address good = address(0x600D);
        log_.setOperator(bad, true);
        log_.setOperator(good, true);
        vm.prank(bad);
        log_.anchor(type(uint64).max, bytes32("poison"), "");
        vm.prank(good);
        log_.anchor(10, bytes32("root10"), "");
        log_.setOperator(bad, false);
        vm.prank(bad);
        vm.expectRevert(abi.encodeWithSelector(IAttestationLog.AttestationLogNotOperator.selector, bad));
        log_.anchor(type(uint64).max, bytes32("poison"), "");
        assertEq(log_.latestOf(good).treeSize, 10, "the honest operator's chain is intact");
    }

    /// Medium: the Registry owner could authorise any address to take every stake. The slashing
    /// contracts are wired once by the deployer and nobody can change them.
    function test_attack_ownerSeizesStakes() public {
        vm.expectRevert(IRegistry.RegistryAlreadyWired.selector);
        registry.wire(address(this), address(this), address(this));
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, address(this)));
        registry.slashCollateral(1, 1);
    }

    // ------------------------------------------------------------------ low / info

    /// Low: a ladder of sealed bids worked as a last-mover option for a fixed small bond. Each rung
    /// now costs a bond proportional to the order value, forfeited when left unrevealed.
    function test_attack_ladderOfSealedBids() public {
        uint256 id = postOrder(3, 2);
        uint256 bond = market.order(id).bidBond;
        uint256 maxFee = uint256(MAX_PRICE) * DURATION;
        assertEq(bond, maxFee * 500 / 10_000 > MIN_BOND ? maxFee * 500 / 10_000 : MIN_BOND, "proportional bond");
        uint256 before = token.balanceOf(providers[0]);
        commitBid(id, 0, 9e14, "rung0");
        assertEq(before - token.balanceOf(providers[0]), bond, "each rung pays the order's bond");
    }

    /// Low: a winner that bid 0 and never confirmed killed the order; the runner-up was never offered it.
    function test_attack_zeroBidWinnerNeverConfirms() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 0, "zero");
        commitBid(id, 1, 5e14, "real");
        toRevealPhase(id);
        revealBid(id, 0, 0, 0, "zero");
        revealBid(id, 1, 1, 5e14, "real");
        toClose(id);
        vm.warp(market.order(id).stepDeadline);
        market.expire(id);
        IMarket.Order memory o = market.order(id);
        assertTrue(o.state == IMarket.State.Confirming && o.runnerUpOffered, "runner-up offered");
        vm.prank(providers[1]);
        market.confirmLease(id, "runner-up");
        assertEq(market.order(id).price, 5e14, "at the runner-up's price");
    }

    /// Low: a customer who never started the lease left the provider unpaid for deploying.
    function test_attack_customerNeverStarts() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s");
        toRevealPhase(id);
        revealBid(id, 0, 0, 5e14, "s");
        toClose(id);
        vm.prank(providers[0]);
        market.confirmLease(id, "d");
        vm.warp(market.order(id).stepDeadline);
        uint256 before = token.balanceOf(providers[0]);
        market.expire(id);
        uint256 fee = uint256(5e14) * DURATION;
        assertEq(token.balanceOf(providers[0]) - before, fee * 500 / 10_000, "deployment fee paid");
    }

    /// Low: one witness round per lease, so a provider could go dark right after it and be paid in full.
    /// Every epoch has its own round; an outage in a later epoch is caught and slashed.
    function test_attack_goDarkAfterTheFirstRound() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        (uint256 r0, address[] memory m0) = requestAndDraw(id);
        playRound(r0, m0, allSay(m0.length, IWitnessPool.Verdict.Ok), uint64(block.timestamp), m0.length);
        uint256 collateral = collateralOf(id);
        (uint256 r1, address[] memory m1) = requestAndDraw(id);
        assertEq(pool.round(r1).epoch, 1, "second epoch checked by a fresh committee");
        playRound(r1, m1, allSay(m1.length, IWitnessPool.Verdict.Unavailable), uint64(block.timestamp), m1.length);
        assertTrue(collateralOf(id) < collateral, "slashed for the dark epoch");
        assertTrue(market.order(id).state == IMarket.State.Failed, "lease failed");
    }

    /// High: a lease has two rounds open (epoch 0's in its commit window, epoch 1's probing). Epoch 0's
    /// round ends Unavailable: the collateral is slashed once, the lease fails and the market closes it
    /// in the settlement, after which its executor refuses calls. Epoch 1's honest witnesses then report
    /// Unavailable, and `finalize` slashed the collateral a second time (500 -> 250 DFS on anvil) for an
    /// outage the market itself caused, or nothing when `Settlement.settle` had released the collateral
    /// first: the customer and the reporters gained a second slash by timing alone. The pool now slashes
    /// only for an outcome the market counts as settling an epoch of a running lease; epoch 1's witnesses
    /// are still paid from its fee.
    function test_attack_secondRoundSlashesAfterFailure() public {
        uint256 id = leaseThrough(3, 2, 5e14);
        (uint256 r0, address[] memory m0) = requestAndDraw(id);
        (uint256 r1, address[] memory m1) = requestAndDraw(id); // epoch 1 starts while round 0 is open
        assertEq(market.order(id).pendingRounds, 2, "two rounds open");
        uint256 collateral = collateralOf(id);

        uint64 t0 = market.order(id).startedAt + 100;
        playRound(r0, m0, allSay(m0.length, IWitnessPool.Verdict.Unavailable), t0, m0.length);
        uint256 afterFirst = collateralOf(id);
        assertEq(afterFirst, collateral / 2, "the failing outcome slashes half");
        assertTrue(market.order(id).state == IMarket.State.Failed, "lease failed");

        uint256[] memory paid = new uint256[](m1.length);
        for (uint256 i = 0; i < m1.length; ++i) paid[i] = token.balanceOf(m1[i]);
        uint256 customerBefore = token.balanceOf(customer);
        uint256 providerBefore = token.balanceOf(providers[0]);
        (, uint64 epoch1End) = market.epochWindow(id, 1);
        IWitnessPool.Verdict v =
            playRound(r1, m1, allSay(m1.length, IWitnessPool.Verdict.Unavailable), epoch1End - 1, m1.length);
        assertEq(uint256(v), uint256(IWitnessPool.Verdict.Unavailable), "second round: Unavailable too");
        assertEq(collateralOf(id), afterFirst, "no second slash");
        for (uint256 i = 0; i < m1.length; ++i) {
            assertEq(token.balanceOf(m1[i]) - paid[i], UNIT, "second round's witnesses paid from its fee");
        }
        assertEq(token.balanceOf(customer), customerBefore, "no slash share for the customer");
        assertEq(token.balanceOf(providers[0]), providerBefore, "nothing more for the provider");
        assertEq(token.balanceOf(address(pool)), 0, "both fees spent");
    }
}
