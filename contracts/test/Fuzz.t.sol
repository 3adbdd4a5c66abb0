// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IMarket} from "../src/interfaces/IMarket.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {Fixture} from "./Fixture.sol";

contract AuctionFuzzTest is Fixture {
    function setUp() public {
        setUpChain(8, 3);
    }

    /// Random bid sets: the winner is always the lowest revealed price, ties to the earliest commit.
    function testFuzz_auction_lowestRevealedWinsTiesToEarliest(uint256 seed, uint8 nBids, uint8 revealMask) public {
        uint256 n = bound(nBids, 1, 8);
        uint256 id = postOrder(3, 2);
        uint128[] memory prices = new uint128[](n);
        for (uint256 i = 0; i < n; ++i) {
            // few distinct prices so that ties are common
            prices[i] = uint128(bound(uint256(keccak256(abi.encode(seed, i))), 1, 4)) * (MAX_PRICE / 4);
            commitBid(id, i, prices[i], bytes32(i));
        }
        toRevealPhase(id);
        uint256 best = type(uint256).max;
        uint256 winner;
        uint256 revealed;
        for (uint256 i = 0; i < n; ++i) {
            if ((revealMask >> i) & 1 == 0) continue;
            revealBid(id, i, i, prices[i], bytes32(i));
            revealed++;
            if (prices[i] < best) {
                best = prices[i];
                winner = i;
            }
        }
        toClose(id);
        IMarket.Order memory o = market.order(id);
        if (revealed == 0) {
            assertEq(uint256(o.state), uint256(IMarket.State.Failed), "no reveal fails");
        } else {
            assertEq(uint256(o.state), uint256(IMarket.State.Confirming), "confirming");
            assertEq(o.winner, winner, "winner");
            assertEq(o.price, best, "price");
        }
        assertEq(token.balanceOf(address(market)), market.totalHeld(), "market holds what it accounts");
    }
}

contract VoucherFuzzTest is Fixture {
    uint256 internal leaseId;

    function setUp() public {
        setUpChain(1, 3);
        leaseId = leaseThrough(3, 2, 5e14);
    }

    /// Random voucher streams (overlapping ranges, decreasing amounts, replays): the provider is never
    /// paid beyond the latest accepted signature and no nonce is paid twice.
    function testFuzz_voucher_neverBeyondLatestSignatureNorTwice(uint256 seed) public {
        uint256 budget = uint256(MAX_PRICE) * DURATION;
        uint64 next;
        uint256 paid;
        uint256 maxSigned;
        for (uint256 k = 0; k < 12; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint64 first = uint64(bound(r, next > 3 ? next - 3 : 0, next + 3));
            uint64 last = first + uint64(bound(r >> 64, 0, 4));
            uint256 amount = bound(r >> 128, paid > 1e15 ? paid - 1e15 : 0, paid + 2e15);
            if (k % 5 == 4) amount = budget + 1;
            ISettlement.Voucher memory v =
                ISettlement.Voucher(leaseId, first, last, keccak256(abi.encode(k)), amount, uint64(block.timestamp + 10));
            if (amount > maxSigned && amount <= budget) maxSigned = amount;
            bytes memory sig = signVoucher(CUSTOMER_KEY, v);
            bool ok;
            try settlement.redeem(v, sig) {
                ok = true;
            } catch {}
            bool shouldPass = first >= next && amount >= paid && amount <= budget;
            assertTrue(ok == shouldPass, "accepted exactly the valid vouchers");
            if (ok) {
                next = last + 1;
                paid = amount;
                // replaying the same voucher always fails
                try settlement.redeem(v, sig) {
                    assertTrue(false, "replay accepted");
                } catch {}
            }
            ISettlement.Lease memory l = settlement.lease(leaseId);
            assertEq(l.paid, paid, "paid = latest accepted cumulative amount");
            assertLe(l.paid, maxSigned, "never beyond a signature");
            assertEq(l.nextNonce, next, "nonces strictly increase");
        }
    }
}

contract CommitteeFuzzTest is Fixture {
    function setUp() public {
        setUpChain(1, 0);
    }

    /// Random pools with some ineligible witnesses: a drawn committee is always N distinct witnesses
    /// eligible at the request block; with fewer than N eligible the draw reverts.
    function testFuzz_committee_distinctAndEligible(uint256 seed, uint8 nWitnesses, uint8 sizeSeed, uint32 outMask)
        public
    {
        uint256 nw = bound(nWitnesses, 3, 24);
        for (uint256 i = 0; i < nw; ++i) addWitness();
        vm.roll(block.number + 1);
        uint256 eligible = nw;
        for (uint256 i = 0; i < nw; ++i) {
            if ((outMask >> i) & 1 == 1) {
                vm.prank(witnesses[i]);
                registry.requestWitnessUnstake(WITNESS_STAKE);
                eligible--;
            }
        }
        vm.roll(block.number + 1);
        uint256 size = bound(sizeSeed, 3, 7) | 1; // 3, 5 or 7
        uint256 id = leaseThrough(uint8(size), uint8(size / 2 + 1), 5e14);
        uint256 roundId = pool.latestRoundOf(id);
        for (uint256 i = 0; i < 4; ++i) addWitness(); // joined after the request: never drawn
        vm.roll(block.number + 2);
        vm.setBlockhash(pool.round(roundId).seedBlock, keccak256(abi.encode(seed)));
        if (eligible < size) {
            vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitteeUnfilled.selector, eligible, size));
            pool.drawCommittee(roundId);
            return;
        }
        address[] memory m = pool.drawCommittee(roundId);
        assertEq(m.length, size, "N members");
        uint256 frozen = pool.round(roundId).frozenBlock;
        for (uint256 i = 0; i < m.length; ++i) {
            uint256 wid = registry.witnessIdOf(m[i]);
            assertTrue(registry.isWitnessEligibleAt(wid, frozen), "eligible at request");
            assertTrue(wid <= nw, "in the frozen list");
            for (uint256 j = 0; j < i; ++j) assertTrue(m[i] != m[j], "distinct");
        }
    }
}
