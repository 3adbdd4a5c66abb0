// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IMarket} from "../src/interfaces/IMarket.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

/// @notice Drives random sequences across all contracts. Every action picks its inputs from the seed,
/// swallows expected reverts and records ghost facts the invariants check. The provider is honest: it
/// redeems only batches its enclave signed a receipt for and answers every claim it can. The customer
/// is hostile: it signs vouchers nobody accepted, opens claims on made-up batches and tries to redeem.
contract Handler is Fixture {
    uint256 public orders;
    uint256 public initialSupply;
    uint256 public skippedState; // ghost: an order moved along a transition the state machine does not allow
    uint256 public settledTwice; // ghost: an order reached a terminal state twice
    uint256 public epochBackwards; // ghost: an order's next epoch moved backwards or jumped past the end
    uint256 public customerRedeemed; // ghost: a redemption not sent by the lease's provider succeeded
    mapping(uint256 => uint8) public lastState;
    mapping(uint256 => uint256) public terminalHits;
    mapping(uint256 => uint32) public lastEpoch;
    mapping(uint256 => uint256) public maxSigned; // per lease: the highest cumulative amount the customer signed
    mapping(uint256 => uint256) public deposited; // per executor
    mapping(uint256 => uint256) public withdrawn; // per executor
    mapping(uint8 => uint256) public reached; // how often each order state was entered
    uint256 public claimsOpened;
    uint256 public claimsAnswered;
    uint256 public roundsFinalized;
    uint256 public leasesSettled;

    struct Batch {
        uint256 leaseId;
        uint64 first;
        uint64 last;
        bytes32 head;
    }

    Batch[] internal _redeemed;
    mapping(uint256 => uint64) internal _nextNonce;
    mapping(uint256 => uint256) internal _cumulative;

    constructor() {
        setUpChain(4, 7);
        for (uint256 i = 0; i < executorIds.length; ++i) deposited[executorIds[i]] = PROVIDER_STAKE;
        initialSupply = token.totalSupply();
    }

    function actors() external view returns (address[] memory a) {
        a = new address[](2 + providers.length + witnesses.length);
        a[0] = address(this);
        a[1] = customer;
        for (uint256 i = 0; i < providers.length; ++i) a[2 + i] = providers[i];
        for (uint256 i = 0; i < witnesses.length; ++i) a[2 + providers.length + i] = witnesses[i];
    }

    function _order(uint256 seed) internal view returns (uint256) {
        return orders == 0 ? 0 : 1 + seed % orders;
    }

    /// A lease Settlement still redeems for (open, or closed within the window), starting the search at
    /// the seed's order; zero when there is none.
    function _liveLease(uint256 seed) internal view returns (uint256) {
        for (uint256 k = 0; k < orders; ++k) {
            uint256 id = 1 + (seed + k) % orders;
            ISettlement.Lease memory l = settlement.lease(id);
            if (l.status == ISettlement.LeaseStatus.Open) return id;
            if (l.status == ISettlement.LeaseStatus.Closed && block.timestamp < l.closedAt + WINDOW) return id;
        }
        return 0;
    }

    function _observe(uint256 id) internal {
        IMarket.Order memory o = market.order(id);
        uint8 s = uint8(o.state);
        uint8 prev = lastState[id];
        if (o.nextEpoch < lastEpoch[id] || o.nextEpoch > o.epochs) epochBackwards++;
        lastEpoch[id] = o.nextEpoch;
        if (s == prev) return;
        bool ok = prev == 0 || (prev == 1 && (s == 2 || s == 6 || s == 7)) || (prev == 2 && (s == 3 || s == 6))
            || (prev == 3 && (s == 4 || s == 6)) || (prev == 4 && (s == 5 || s == 6));
        if (!ok) skippedState++;
        if (s >= 5) {
            terminalHits[id]++;
            if (terminalHits[id] > 1) settledTwice++;
        }
        lastState[id] = s;
        reached[s]++;
    }

    // ---------------------------------------------------------------- market

    function post(uint8 size) external {
        uint8 n = size % 2 == 0 ? 3 : 5;
        postOrder(n, n / 2 + 1);
        orders++;
        _observe(orders);
    }

    mapping(bytes32 => uint128) internal _committed;

    function bidTracked(uint256 seed, uint128 price) public {
        uint256 id = _order(seed);
        if (id == 0) return;
        uint256 p = seed % providers.length;
        price = uint128(bound(price, 0, MAX_PRICE));
        bytes32 c = market.bidCommitment(id, providers[p], price, 50, bytes32(uint256(price)));
        _committed[c] = price;
        vm.prank(providers[p]);
        try market.commitBid(id, executorIds[p], c) {} catch {}
    }

    function reveal(uint256 seed, uint256 idx) public {
        uint256 id = _order(seed);
        if (id == 0) return;
        IMarket.Order memory o = market.order(id);
        if (o.bidCount == 0) return;
        idx = idx % o.bidCount;
        IMarket.Bid memory b = market.bid(id, idx);
        uint128 price = _committed[b.commitment];
        vm.prank(b.bidder);
        try market.revealBid(id, idx, price, 50, bytes32(uint256(price))) {} catch {}
        _observe(id);
    }

    /// Pushes one order up to `steps` steps along the happy path so that random walks reach every state.
    function advance(uint256 seed, uint128 price, uint8 steps, uint8 verdicts) external {
        for (uint256 k = 0; k < steps % 12; ++k) _step(seed, price, verdicts);
    }

    function _step(uint256 seed, uint128 price, uint8 verdicts) internal {
        uint256 id = _order(seed);
        if (id == 0) return;
        IMarket.Order memory o = market.order(id);
        if (o.state == IMarket.State.Bidding) {
            if (block.timestamp < o.bidDeadline) {
                bidTracked(id - 1 + orders * (seed % providers.length), price);
                vm.warp(o.bidDeadline);
            } else if (block.timestamp < o.revealDeadline) {
                for (uint256 b = 0; b < o.bidCount; ++b) reveal(id - 1, b);
                vm.warp(o.revealDeadline);
            } else {
                try market.closeBidding(id) {} catch {}
            }
        } else if (o.state == IMarket.State.Confirming) {
            _confirm(id);
        } else if (o.state == IMarket.State.Deploying) {
            vm.prank(customer);
            try market.startLease(id) {} catch {}
        } else if (o.state == IMarket.State.Fulfilling) {
            if (o.pendingRounds > 0) {
                _playRound(id, verdicts);
            } else {
                uint64 epochStart = o.startedAt + uint64(o.nextRequest) * o.epochLength;
                if (block.timestamp < epochStart) vm.warp(epochStart);
                try market.requestRound(id) {} catch {
                    try market.finish(id) {} catch {}
                }
            }
        }
        _observe(id);
    }

    function _confirm(uint256 id) internal {
        IMarket.Order memory o = market.order(id);
        uint256 idx = o.runnerUpOffered ? o.runnerUp : o.winner;
        vm.prank(market.bid(id, idx).bidder);
        try market.confirmLease(id, "d") {} catch {}
    }

    function confirm(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        if (market.order(id).bidCount == 0) return;
        _confirm(id);
        _observe(id);
    }

    function start(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        vm.prank(customer);
        try market.startLease(id) {} catch {}
        _observe(id);
    }

    function requestRound(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        try market.requestRound(id) {} catch {}
        _observe(id);
    }

    function playRound(uint256 seed, uint8 verdicts) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        _playRound(id, verdicts);
        _observe(id);
    }

    /// Members report from the low bits of `verdicts` (Ok, Fraud, Unavailable, Stale); the last one never reveals.
    function _playRound(uint256 id, uint8 verdicts) internal {
        IMarket.Order memory o = market.order(id);
        if (o.pendingRounds == 0) return;
        uint256 r = pool.roundOf(id, o.firstPending);
        if (pool.round(r).phase != IWitnessPool.Phase.Requested) return;
        vm.roll(block.number + 2);
        try pool.drawCommittee(r) returns (address[] memory m) {
            uint64 t = uint64(block.timestamp);
            IWitnessPool.Verdict[] memory vs = new IWitnessPool.Verdict[](m.length);
            for (uint256 i = 0; i < m.length; ++i) {
                vs[i] = IWitnessPool.Verdict(1 + ((verdicts >> (2 * (i % 4))) & 3));
                bytes32 c = commitOf(r, m[i], vs[i], t);
                vm.prank(m[i]);
                pool.commitVerdict(r, c);
            }
            vm.warp(pool.round(r).commitDeadline);
            for (uint256 i = 0; i + 1 < m.length; ++i) {
                vm.prank(m[i]);
                pool.revealVerdict(r, vs[i], t, evidenceOf(m[i]), saltOf(m[i]));
            }
            vm.warp(pool.revealDeadline(r));
            pool.finalize(r);
            roundsFinalized++;
        } catch {
            vm.warp(block.timestamp + 1001);
            try pool.finalize(r) {} catch {}
        }
    }

    function finishOrExpire(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        try market.finish(id) {} catch {}
        try market.expire(id) {} catch {}
        _observe(id);
    }

    function bond(uint256 seed, uint256 idx) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        try market.claimBond(id, idx % 8) {} catch {}
    }

    // ---------------------------------------------------------------- settlement

    /// The honest provider redeems a batch its enclave ran (it keeps the receipt and records).
    function redeem(uint256 seed, uint8 n, uint96 amount) external {
        uint256 id = _liveLease(seed);
        if (id == 0) return;
        ISettlement.Lease memory l = settlement.lease(id);
        uint64 first = _nextNonce[id];
        uint256 count = 1 + n % 8;
        (, bytes32 head,) = _records(first, count);
        uint256 cumulative = _cumulative[id] + 1 + amount % 1e15;
        ISettlement.Voucher memory v =
            ISettlement.Voucher(id, first, first + uint64(count) - 1, head, cumulative, uint64(block.timestamp + 1000));
        if (cumulative > maxSigned[id]) maxSigned[id] = cumulative;
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        vm.prank(l.provider);
        try settlement.redeem(v, sig) {
            _nextNonce[id] = first + uint64(count);
            _cumulative[id] = cumulative;
            _redeemed.push(Batch(id, first, first + uint64(count) - 1, head));
        } catch {}
        try settlement.collect(id) {} catch {}
    }

    /// The hostile customer signs a voucher over everything and tries to redeem it itself.
    function customerRedeems(uint256 seed, uint64 last) external {
        uint256 id = _liveLease(seed);
        if (id == 0) return;
        ISettlement.Voucher memory v =
            ISettlement.Voucher(id, 0, last, bytes32(seed), 0, uint64(block.timestamp + 1000));
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        vm.prank(customer);
        try settlement.redeem(v, sig) {
            customerRedeemed++;
        } catch {}
    }

    /// The customer claims against a redeemed batch (`made` false) or a made-up one; the honest
    /// provider answers whatever it can, then anyone upholds after the window.
    function claim(uint256 seed, bool madeUp, uint64 nonceOffset) external {
        uint256 claimId;
        Batch memory b;
        if (madeUp || _redeemed.length == 0) {
            uint256 id = _liveLease(seed);
            if (id == 0) return;
            b = Batch(id, uint64(seed % 100), uint64(seed % 100) + nonceOffset % 300, bytes32(seed));
        } else {
            b = _redeemed[seed % _redeemed.length];
        }
        uint64 nonce = b.first + (b.last > b.first ? nonceOffset % (b.last - b.first + 1) : 0);
        vm.prank(customer);
        try settlement.openClaim(b.leaseId, b.first, b.last, b.head, nonce) returns (uint256 id_) {
            claimId = id_;
            claimsOpened++;
        } catch {
            return;
        }
        _answer(claimId, b);
        vm.warp(block.timestamp + WINDOW + 1);
        try settlement.upholdClaim(claimId) {} catch {}
    }

    function _answer(uint256 claimId, Batch memory b) internal {
        (ISettlement.CallRecord[] memory recs, bytes32 head, bytes32 recordHead) =
            _records(b.first, uint256(b.last - b.first) + 1);
        if (head != b.head) return; // not a batch this provider's enclave ran
        ISettlement.Lease memory l = settlement.lease(b.leaseId);
        uint256 key = _enclaveKeyOf(l.enclave);
        ISettlement.Receipt memory r = ISettlement.Receipt(b.leaseId, b.first, b.last, recordHead, bytes32(0), 1, 2);
        try settlement.answerClaim(claimId, r, signReceipt(key, r), recs) {
            claimsAnswered++;
        } catch {}
    }

    function _enclaveKeyOf(address enclave) internal view returns (uint256) {
        for (uint256 i = 0; i < providers.length; ++i) {
            if (vm.addr(enclaveKey(i)) == enclave) return enclaveKey(i);
        }
        return 1;
    }

    function _records(uint64 first, uint256 n)
        internal
        view
        returns (ISettlement.CallRecord[] memory recs, bytes32 requestHead, bytes32 recordHead)
    {
        recs = new ISettlement.CallRecord[](n);
        for (uint256 i = 0; i < n; ++i) {
            recs[i] = ISettlement.CallRecord(first + uint64(i), keccak256("fn"), keccak256(abi.encode(first + i)), 0, 1, 1);
        }
        (requestHead, recordHead) = settlement.chainHeads(recs);
    }

    function settle(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        try settlement.settle(id) {
            leasesSettled++;
        } catch {}
    }

    function redeemedBatches() external view returns (uint256) {
        return _redeemed.length;
    }

    // ---------------------------------------------------------------- stakes

    function providerUnstake(uint256 seed, uint128 amount) external {
        uint256 p = seed % providers.length;
        uint256 e = executorIds[p];
        vm.startPrank(providers[p]);
        try registry.requestExecutorUnstake(e, bound(amount, 1, PROVIDER_STAKE)) {} catch {}
        uint256 before = token.balanceOf(providers[p]);
        try registry.withdrawExecutorStake(e) {
            withdrawn[e] += token.balanceOf(providers[p]) - before;
        } catch {}
        vm.stopPrank();
    }

    function witnessUnstake(uint256 seed, uint128 amount, bool rejoin) external {
        address w = witnesses[seed % witnesses.length];
        vm.startPrank(w);
        try registry.requestWitnessUnstake(bound(amount, 1, WITNESS_STAKE)) {} catch {}
        if (rejoin) try registry.addWitnessStake(WITNESS_STAKE) {} catch {}
        try registry.withdrawWitnessStake() {} catch {}
        vm.stopPrank();
    }

    function warp(uint16 secs) external {
        vm.warp(block.timestamp + secs);
        vm.roll(block.number + 1);
    }

    // ---------------------------------------------------------------- views for the invariants

    /// Withdrawn plus still held never exceeds what was deposited; locked equals the collateral of the
    /// executor's unsettled leases.
    function checkStakes() external view returns (bool) {
        for (uint256 i = 0; i < executorIds.length; ++i) {
            uint256 e = executorIds[i];
            uint256 held = registry.executor(e).stake + registry.executor(e).thawing + registry.executor(e).locked;
            if (withdrawn[e] + held > deposited[e]) return false;
            uint256 backing;
            for (uint256 id = 1; id <= orders; ++id) {
                (uint256 ex, uint256 amount) = registry.leaseCollateral(id);
                if (ex == e) backing += amount;
            }
            if (backing != registry.executor(e).locked) return false;
        }
        return true;
    }

    /// No claim against the honest provider was ever upheld.
    function upheldClaims() external view returns (uint256 n) {
        for (uint256 c = 1; c <= settlement.claimCount(); ++c) {
            if (settlement.claim(c).status == ISettlement.ClaimStatus.Upheld) n++;
        }
    }

    function overcharged() external view returns (bool) {
        for (uint256 id = 1; id <= orders; ++id) {
            if (settlement.lease(id).paid > maxSigned[id]) return true;
        }
        return false;
    }

    function settlementOwed() external view returns (uint256 owed) {
        for (uint256 id = 1; id <= orders; ++id) {
            ISettlement.Lease memory l = settlement.lease(id);
            if (l.status == ISettlement.LeaseStatus.Open || l.status == ISettlement.LeaseStatus.Closed) {
                owed += uint256(l.budget) - l.collected;
            }
        }
        for (uint256 c = 1; c <= settlement.claimCount(); ++c) {
            if (settlement.claim(c).status == ISettlement.ClaimStatus.Open) owed += settlement.claimBond();
        }
    }

    function marketOwed() external view returns (uint256 owed) {
        for (uint256 id = 1; id <= orders; ++id) {
            IMarket.Order memory o = market.order(id);
            owed += o.escrow;
            for (uint256 b = 0; b < o.bidCount; ++b) {
                IMarket.Bid memory x = market.bid(id, b);
                // unrevealed bonds are forfeited once bidding closes
                if (!x.bondClaimed && (o.state == IMarket.State.Bidding || x.revealed)) owed += o.bidBond;
            }
        }
    }

    function poolOwed() external view returns (uint256 owed) {
        for (uint256 id = 1; id <= orders; ++id) {
            IMarket.Order memory o = market.order(id);
            for (uint32 e = 0; e < o.nextRequest; ++e) {
                uint256 r = pool.roundOf(id, e);
                if (r == 0) continue;
                IWitnessPool.Phase ph = pool.round(r).phase;
                if (ph == IWitnessPool.Phase.Requested || ph == IWitnessPool.Phase.Drawn) owed += pool.round(r).fee;
            }
        }
    }

    /// Rounds exist only for requested epochs, at most two are pending, the oldest pending one is not
    /// behind the next epoch to settle, and nothing is requested beyond the lease.
    function epochsInOrder() external view returns (bool) {
        for (uint256 id = 1; id <= orders; ++id) {
            IMarket.Order memory o = market.order(id);
            if (o.nextRequest > o.epochs || o.pendingRounds > 2) return false;
            if (o.nextRequest < o.epochs && pool.roundOf(id, o.nextRequest) != 0) return false;
            if (o.state == IMarket.State.Fulfilling && o.pendingRounds > 0) {
                if (o.firstPending < o.nextEpoch || pool.roundOf(id, o.firstPending) == 0) return false;
            }
        }
        return true;
    }

    function sumBalances() external view returns (uint256 s) {
        address[] memory a = this.actors();
        for (uint256 i = 0; i < a.length; ++i) s += token.balanceOf(a[i]);
    }

    function contracts() external view returns (address, address, address, address, address) {
        return (address(token), address(market), address(settlement), address(registry), address(pool));
    }
}

contract InvariantTest {
    Handler internal handler;

    constructor() {
        handler = new Handler();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// Total supply = balances + what the contracts hold; nothing is minted, only burned.
    function invariant_tokenConservation() public view {
        (address t, address m, address s, address r, address p) = handler.contracts();
        uint256 held = IERC20Like(t).balanceOf(m) + IERC20Like(t).balanceOf(s) + IERC20Like(t).balanceOf(r)
            + IERC20Like(t).balanceOf(p);
        require(IERC20Like(t).totalSupply() == handler.sumBalances() + held, "supply != balances + held");
        require(IERC20Like(t).totalSupply() <= handler.initialSupply(), "minted");
    }

    /// Every contract holds exactly what its books say.
    function invariant_escrowMatchesBooks() public view {
        (address t, address m, address s, address r, address p) = handler.contracts();
        require(IERC20Like(t).balanceOf(m) == IMarketLike(m).totalHeld(), "market books");
        require(IMarketLike(m).totalHeld() == handler.marketOwed(), "market escrow + bonds");
        require(IERC20Like(t).balanceOf(s) == handler.settlementOwed(), "settlement budgets + bonds");
        require(IERC20Like(t).balanceOf(r) == IRegistryLike(r).totalStaked(), "registry books");
        require(IERC20Like(t).balanceOf(p) == handler.poolOwed(), "pool holds the fees of open rounds");
    }

    function invariant_ordersNeverSkipOrSettleTwice() public view {
        require(handler.skippedState() == 0, "skipped a state");
        require(handler.settledTwice() == 0, "settled twice");
    }

    /// No epoch is skipped or settled twice: the next epoch only moves forward, one round per epoch.
    function invariant_epochsInOrder() public view {
        require(handler.epochBackwards() == 0, "epoch moved backwards or past the end");
        require(handler.epochsInOrder(), "a round ahead of its epoch");
    }

    /// A provider cannot withdraw stake that backs an unsettled lease, nor more than it deposited.
    function invariant_collateralStaysLocked() public view {
        require(handler.checkStakes(), "collateral withdrawn or books off");
    }

    /// Fairness: the honest provider (a receipt for every batch it was paid for) never loses collateral
    /// through Settlement, and only it can redeem.
    function invariant_honestProviderNeverLosesToClaims() public view {
        require(handler.upheldClaims() == 0, "a claim against the honest provider was upheld");
        require(handler.customerRedeemed() == 0, "someone else redeemed");
    }

    /// The customer is never charged more than its vouchers authorise.
    function invariant_neverChargedBeyondVouchers() public view {
        require(!handler.overcharged(), "paid above the highest signed cumulative amount");
    }
}

/// @notice The handler's actions do what they are meant to (the invariants would be vacuous if, say,
/// every redemption reverted inside its try/catch): a scripted walk reaches every path.
contract HandlerCoverageTest {
    function test_handlerReachesEveryPath() public {
        Handler h = new Handler();
        for (uint8 v = 0; v < 3; ++v) {
            h.post(v);
            uint256 seed = v; // the order just posted
            h.advance(seed, 5e14, 5, 0); // bid, reveal, close, confirm, start
            h.redeem(seed, 3, 1e12);
            h.redeem(seed, 1, 1e12);
            h.claim(2 * seed, false, 1); // on this order's first redeemed batch: answered
            h.claim(seed, true, 2); // made up: refused
            // Ok rounds for the first two orders, violations for the third
            h.advance(seed, 5e14, 11, v == 2 ? 0x55 : 0);
            h.warp(200);
            h.settle(seed);
        }
        require(h.redeemedBatches() >= 6, "redemptions");
        require(h.claimsOpened() >= 3 && h.claimsAnswered() == h.claimsOpened(), "claims opened and answered");
        require(h.roundsFinalized() >= 3, "rounds");
        require(h.reached(5) >= 1, "a lease finished");
        require(h.reached(6) >= 1, "a lease failed");
        require(h.upheldClaims() == 0 && h.customerRedeemed() == 0, "fair");
    }
}

interface IERC20Like {
    function balanceOf(address) external view returns (uint256);
    function totalSupply() external view returns (uint256);
}

interface IMarketLike {
    function totalHeld() external view returns (uint256);
}

interface IRegistryLike {
    function totalStaked() external view returns (uint256);
}
