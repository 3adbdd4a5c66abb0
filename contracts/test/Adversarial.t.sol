// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Market} from "../src/Market.sol";
import {Registry} from "../src/Registry.sol";
import {Settlement} from "../src/Settlement.sol";
import {WitnessPool} from "../src/WitnessPool.sol";
import {IMarket} from "../src/interfaces/IMarket.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

contract AdversarialTest is Fixture {
    function setUp() public {
        setUpChain(3, 5);
    }

    /// A watcher copies a sealed commitment, then replays the victim's revealed opening: the commitment
    /// binds the bidder, so the copy never opens, and nobody can commit after seeing a reveal.
    function test_frontRunReveal_copiedCommitmentNeverOpens() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "victim");
        IMarket.Bid memory victim = market.bid(id, 0);
        vm.prank(providers[1]);
        uint256 copy = market.commitBid(id, executorIds[1], victim.commitment);
        toRevealPhase(id);
        revealBid(id, 0, 0, 5e14, "victim");
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketCommitmentMismatch.selector, id, copy));
        market.revealBid(id, copy, 5e14, 50, "victim");
        // undercutting after seeing the price is too late
        bytes32 lower = market.bidCommitment(id, providers[2], 4e14, 50, "late");
        uint64 bidDeadline = market.order(id).bidDeadline;
        vm.prank(providers[2]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBiddingClosed.selector, id, bidDeadline));
        market.commitBid(id, executorIds[2], lower);
    }

    /// Opening somebody else's bid is refused even with the right salt and price.
    function test_revealSomeoneElsesCommitment_refused() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s");
        toRevealPhase(id);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotBidder.selector, providers[1], providers[0]));
        market.revealBid(id, 0, 5e14, 50, "s");
    }

    /// A voucher signed for one lease or chain is worthless on another.
    function test_voucherReplay_otherLeaseAndOtherChain() public {
        uint256 a = leaseThrough(3, 2, 5e14);
        uint256 b = postOrder(3, 2);
        commitBid(b, 1, 5e14, "b");
        toRevealPhase(b);
        revealBid(b, 1, 0, 5e14, "b");
        toClose(b);
        vm.prank(providers[1]);
        market.confirmLease(b, "d");
        ISettlement.Voucher memory v = ISettlement.Voucher(a, 0, 0, bytes32("h"), 100, uint64(block.timestamp + 10));
        bytes memory sig = signVoucher(CUSTOMER_KEY, v);
        ISettlement.Voucher memory onB = ISettlement.Voucher(b, 0, 0, bytes32("h"), 100, v.deadline);
        address recovered = _recover(onB, sig);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, recovered, customer));
        settlement.redeem(onB, sig);
        uint256 chain = block.chainid;
        vm.chainId(chain + 1);
        recovered = _recover(v, sig);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, recovered, customer));
        settlement.redeem(v, sig);
        vm.chainId(chain);
        vm.prank(providers[0]);
        settlement.redeem(v, sig);
    }

    function _recover(ISettlement.Voucher memory v, bytes memory sig) internal view returns (address) {
        bytes32 d = settlement.voucherDigest(v);
        (bytes32 r, bytes32 s) = abi.decode(sig, (bytes32, bytes32));
        return ecrecover(d, uint8(sig[64]), r, s);
    }

    /// Griefing by never revealing: the bid bond goes to the customer and the auction proceeds; a
    /// witness that never reveals loses its bond and reputation; a winner that never confirms loses
    /// its bond and the customer gets everything back.
    function test_griefingByNeverRevealing_costsTheGriefer() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "honest");
        commitBid(id, 1, 1e14, "griefer");
        toRevealPhase(id);
        revealBid(id, 0, 0, 5e14, "honest");
        uint256 c0 = token.balanceOf(customer);
        uint256 bond = market.order(id).bidBond;
        toClose(id);
        assertEq(market.order(id).winner, 0, "honest bid wins");
        assertEq(token.balanceOf(customer) - c0, bond + (uint256(MAX_PRICE) - 5e14) * DURATION, "bond + excess");
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 1));
        market.claimBond(id, 1);

        vm.prank(providers[0]);
        market.confirmLease(id, "d");
        vm.prank(customer);
        market.startLease(id);
        (uint256 roundId, address[] memory m) = requestAndDraw(id);
        for (uint256 i = 0; i < 3; ++i) {
            bytes32 c = commitOf(roundId, m[i], IWitnessPool.Verdict.Ok, 0);
            vm.prank(m[i]);
            pool.commitVerdict(roundId, c);
        }
        vm.warp(pool.revealDeadline(roundId));
        uint256 wid = registry.witnessIdOf(m[0]);
        uint256 stake = registry.witness(wid).stake;
        pool.finalize(roundId);
        assertEq(stake - registry.witness(wid).stake, 2 * UNIT, "no reveal: -2");
        assertEq(registry.witness(wid).reputation, 2, "reputation loss");
    }

    function test_griefingWinnerNeverConfirms_refundsCustomer() public {
        uint256 id = postOrder(3, 2);
        commitBid(id, 0, 5e14, "s");
        toRevealPhase(id);
        revealBid(id, 0, 0, 5e14, "s");
        uint256 c0 = token.balanceOf(customer);
        IMarket.Order memory o = market.order(id);
        toClose(id);
        vm.warp(market.order(id).stepDeadline);
        market.expire(id);
        assertEq(
            token.balanceOf(customer) - c0, 2 * uint256(MAX_PRICE) * DURATION + o.witnessFee + o.bidBond, "all back + bond"
        );
    }

    /// Reentrancy through a token whose transfer calls back into the receiver: every transfer path is
    /// guarded, so a nested call into the market fails and the refund happens once.
    function test_reentrancy_maliciousTokenReceiver() public {
        HookToken evil = new HookToken();
        Registry reg = new Registry(IERC20(address(evil)), 1000, 100e18, 3);
        Settlement set = new Settlement(IERC20(address(evil)), reg, 100, 100, 1e18, 10e18);
        WitnessPool wp = new WitnessPool(
            IERC20(address(evil)), reg, WitnessPool.Params(1, 100, 100, 1000, uint128(UNIT), 1, 5000, 5000, 2500)
        );
        Market mkt = new Market(
            IERC20(address(evil)),
            reg,
            set,
            wp,
            marketParams()
        );
        reg.wire(address(mkt), address(set), address(wp));
        set.setMarket(address(mkt));
        wp.setMarket(address(mkt));
        mkt.addLevel(IMarket.Level(1, 512, 0, 1, 0, "sim"));
        Attacker attacker = new Attacker(mkt);
        evil.mintTo(address(attacker), 1e24);
        attacker.approveAll(IERC20(address(evil)));
        uint256 orderId = attacker.post();
        evil.setHook(address(attacker));
        uint256 before = evil.balanceOf(address(attacker));
        uint256 escrow = mkt.order(orderId).escrow;
        attacker.cancel(orderId);
        assertEq(evil.balanceOf(address(attacker)) - before, escrow, "refunded once");
        assertTrue(attacker.reentered(), "the hook ran");
        assertEq(attacker.reentryError(), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector, "guarded");
        assertEq(mkt.totalHeld(), 0, "books");
    }
}

/// ERC-20 that calls `onTokenReceived` on a chosen receiver after every transfer (like ERC-777 hooks).
contract HookToken is ERC20 {
    address public hooked;

    constructor() ERC20("evil", "EVL") {}

    function mintTo(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setHook(address who) external {
        hooked = who;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (to == hooked && to != address(0)) Attacker(to).onTokenReceived();
    }
}

contract Attacker {
    IMarket internal immutable market;
    uint256 internal orderId;
    bool public reentered;
    bytes4 public reentryError;

    constructor(IMarket m) {
        market = m;
    }

    function approveAll(IERC20 t) external {
        t.approve(address(market), type(uint256).max);
    }

    function post() external returns (uint256) {
        orderId = market.postOrder(IMarket.OrderParams(1, 1000, 1e15, 50, 3, 2, 9900, 500, 500));
        return orderId;
    }

    function cancel(uint256 id) external {
        market.cancelOrder(id);
    }

    function onTokenReceived() external {
        if (reentered) return;
        reentered = true;
        try market.cancelOrder(orderId) {} catch (bytes memory err) {
            reentryError = bytes4(err);
        }
    }
}
