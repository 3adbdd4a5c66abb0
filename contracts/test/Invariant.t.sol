// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IMarket} from "../src/interfaces/IMarket.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

/// @notice Drives random sequences across all contracts. Every action picks its inputs from the seed,
/// swallows expected reverts and records ghost facts the invariants check.
contract Handler is Fixture {
    uint256 public orders;
    uint256 public settledTwice; // ghost: an order reached a terminal state twice
    uint256 public skippedState; // ghost: an observed transition that the state machine does not allow
    uint256 public slashedWithdrawn; // ghost: more withdrawn by a provider than its unslashed deposits
    mapping(uint256 => uint8) public lastState;
    mapping(uint256 => uint256) public terminalHits;
    mapping(uint256 => uint256) public deposited; // per executor
    mapping(uint256 => uint256) public withdrawn; // per executor
    uint64 internal nextNonce;

    constructor() {
        setUpChain(4, 7);
        for (uint256 i = 0; i < executorIds.length; ++i) deposited[executorIds[i]] = PROVIDER_STAKE;
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

    function _observe(uint256 id) internal {
        uint8 s = uint8(market.order(id).state);
        uint8 prev = lastState[id];
        if (s == prev) return;
        bool ok = (prev == 1 && (s == 2 || s == 6 || s == 7)) || (prev == 2 && (s == 3 || s == 6))
            || (prev == 3 && (s == 4 || s == 6)) || (prev == 4 && (s == 5 || s == 6)) || prev == 0;
        if (!ok) skippedState++;
        if (s >= 5) {
            terminalHits[id]++;
            if (terminalHits[id] > 1) settledTwice++;
        }
        lastState[id] = s;
        reached[s]++;
    }

    /// How often each order state was entered (coverage of the random walks).
    mapping(uint8 => uint256) public reached;

    function post(uint8 size) external {
        uint8 n = size % 2 == 0 ? 3 : 5;
        postOrder(n, n / 2 + 1);
        orders++;
        _observe(orders);
    }

    function reveal(uint256 seed, uint256 idx) external {
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

    mapping(bytes32 => uint128) internal _committed;

    function bidTracked(uint256 seed, uint128 price) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        uint256 p = seed % providers.length;
        price = uint128(bound(price, 1, MAX_PRICE));
        bytes32 c = market.bidCommitment(id, providers[p], price, 50, bytes32(uint256(price)));
        _committed[c] = price;
        vm.prank(providers[p]);
        try market.commitBid(id, executorIds[p], c) {} catch {}
    }

    /// Pushes one order up to `steps` steps along the happy path so that random walks reach every state.
    function advance(uint256 seed, uint128 price, uint8 steps) external {
        for (uint256 k = 0; k < steps % 10; ++k) this.step(seed, price);
    }

    function step(uint256 seed, uint128 price) external {
        if (msg.sender != address(this)) return;
        uint256 id = _order(seed);
        if (id == 0) return;
        IMarket.Order memory o = market.order(id);
        if (o.state == IMarket.State.Bidding) {
            if (block.timestamp < o.bidDeadline) {
                this.bidTracked(id - 1 + orders * (seed % providers.length), price);
                vm.warp(o.bidDeadline);
            } else if (block.timestamp < o.revealDeadline) {
                for (uint256 b = 0; b < o.bidCount; ++b) this.reveal(id - 1, b);
                vm.warp(o.revealDeadline);
            } else {
                try market.closeBidding(id) {} catch {}
            }
        } else if (o.state == IMarket.State.Confirming) {
            this.confirm(id - 1);
        } else if (o.state == IMarket.State.Deploying) {
            this.start(id - 1);
        } else if (o.state == IMarket.State.Fulfilling) {
            uint256 r = pool.latestRoundOf(id);
            if (pool.round(r).phase == IWitnessPool.Phase.Requested) {
                this.playRound(id - 1, uint8(seed));
            } else {
                if (block.timestamp < o.stepDeadline) vm.warp(o.stepDeadline);
                try market.finish(id) {} catch {}
            }
        }
        _observe(id);
    }

    function close(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        try market.closeBidding(id) {} catch {}
        _observe(id);
    }

    function confirm(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        IMarket.Order memory o = market.order(id);
        if (o.bidCount == 0) return;
        vm.prank(market.bid(id, o.winner).bidder);
        try market.confirmLease(id, "d") {} catch {}
        _observe(id);
    }

    function start(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        vm.prank(customer);
        try market.startLease(id) {} catch {}
        _observe(id);
    }

    function playRound(uint256 seed, uint8 violated) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        uint256 r = pool.latestRoundOf(id);
        if (r == 0 || pool.round(r).phase != IWitnessPool.Phase.Requested) return;
        vm.roll(block.number + 2);
        try pool.drawCommittee(r) returns (address[] memory m) {
            uint64 t = uint64(block.timestamp);
            for (uint256 i = 0; i < m.length; ++i) {
                IWitnessPool.Verdict v = i < violated % (m.length + 1) ? IWitnessPool.Verdict.Violated : IWitnessPool.Verdict.NotViolated;
                bytes32 c = pool.verdictCommitment(r, m[i], v, t, bytes32(i));
                vm.prank(m[i]);
                pool.commitVerdict(r, c);
            }
            vm.warp(pool.round(r).commitDeadline);
            for (uint256 i = 0; i + 1 < m.length; ++i) {
                IWitnessPool.Verdict v = i < violated % (m.length + 1) ? IWitnessPool.Verdict.Violated : IWitnessPool.Verdict.NotViolated;
                vm.prank(m[i]);
                pool.revealVerdict(r, v, t, bytes32(i));
            }
            vm.warp(pool.revealDeadline(r));
            pool.finalize(r);
        } catch {}
        _observe(id);
    }

    function finishOrExpire(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        uint256 r = pool.latestRoundOf(id);
        if (r != 0) try pool.finalize(r) {} catch {}
        try market.finish(id) {} catch {}
        try market.expire(id) {} catch {}
        _observe(id);
    }

    function redeem(uint256 seed, uint96 amount) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        ISettlement.Voucher memory v =
            ISettlement.Voucher(id, nextNonce, nextNonce, bytes32(seed), amount % 1e16, uint64(block.timestamp + 10));
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        try settlement.redeem(v, sig) {
            nextNonce++;
        } catch {}
        try settlement.collect(id) {} catch {}
    }

    function claimAndUphold(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        ISettlement.Voucher memory v =
            ISettlement.Voucher(id, 1000, 1000, bytes32(seed), 0, uint64(block.timestamp + 10));
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        vm.prank(customer);
        try settlement.openClaim(v, sig, 1000) returns (uint256 claimId) {
            vm.warp(block.timestamp + 101);
            settlement.upholdClaim(claimId);
        } catch {}
    }

    function settle(uint256 seed) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        try settlement.settle(id) {} catch {}
    }

    function bond(uint256 seed, uint256 idx) external {
        uint256 id = _order(seed);
        if (id == 0) return;
        try market.claimBond(id, idx % 8) {} catch {}
    }

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

    function witnessUnstake(uint256 seed, uint128 amount) external {
        address w = witnesses[seed % witnesses.length];
        vm.startPrank(w);
        try registry.requestWitnessUnstake(bound(amount, 1, WITNESS_STAKE)) {} catch {}
        try registry.withdrawWitnessStake() {} catch {}
        vm.stopPrank();
    }

    function warp(uint16 secs) external {
        vm.warp(block.timestamp + secs);
        vm.roll(block.number + 1);
    }

    function checkWithdrawals() external view returns (bool) {
        for (uint256 i = 0; i < executorIds.length; ++i) {
            uint256 e = executorIds[i];
            // what a provider withdrew plus what is still staked never exceeds what it deposited
            uint256 left = registry.executor(e).stake + registry.executor(e).thawing;
            if (withdrawn[e] + left > deposited[e]) return false;
        }
        return true;
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
                if (!x.bondClaimed && (o.state == IMarket.State.Bidding || x.revealed)) owed += BOND;
            }
        }
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

    /// Total supply = balances + market escrow and bonds + settlement budgets and claim bonds + stakes.
    function invariant_tokenConservation() public view {
        (address t, address m, address s, address r, address p) = handler.contracts();
        uint256 held = IERC20Like(t).balanceOf(m) + IERC20Like(t).balanceOf(s) + IERC20Like(t).balanceOf(r)
            + IERC20Like(t).balanceOf(p);
        require(IERC20Like(t).totalSupply() == handler.sumBalances() + held, "supply != balances + held");
        require(IERC20Like(t).balanceOf(p) == 0, "pool keeps nothing");
    }

    /// Every contract holds exactly what its books say (escrow never negative: books are unsigned and
    /// the tokens are there).
    function invariant_escrowMatchesBooks() public view {
        (address t, address m, address s, address r,) = handler.contracts();
        require(IERC20Like(t).balanceOf(m) == IMarketLike(m).totalHeld(), "market books");
        require(IMarketLike(m).totalHeld() == handler.marketOwed(), "market escrow + bonds");
        require(IERC20Like(t).balanceOf(s) == handler.settlementOwed(), "settlement budgets + bonds");
        require(IERC20Like(t).balanceOf(r) == IRegistryLike(r).totalStaked(), "registry books");
    }

    function invariant_ordersNeverSkipOrSettleTwice() public view {
        require(handler.skippedState() == 0, "skipped a state");
        require(handler.settledTwice() == 0, "settled twice");
    }

    function invariant_slashedStakeNeverWithdrawn() public view {
        require(handler.checkWithdrawals(), "withdrew slashed stake");
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
