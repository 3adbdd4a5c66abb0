// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {SettlementSetup} from "./Settlement.t.sol";

/// @notice Settlement.redeemProbes: the provider is paid for a witness's hidden probes out of the lease
/// budget, against a customer-signed ProbeGrant and the witness's own cumulative vouchers.
///
/// Fairness for the customer: everything the lease pays (customer vouchers plus probes) stays within
/// the budget it escrowed, and the only way probe payments touch its own signed vouchers is by
/// shrinking the budget they can release, by at most the sum over witnesses of the largest
/// `maxAmount` the customer granted each of them on that lease. Its vouchers redeem exactly when
/// `paid < cumulativeAmount <= budget - probe payments`, and settle refunds the rest.
contract ProbeGrantsTest is SettlementSetup {
    event log_named_uint(string key, uint256 val);

    event ProbesRedeemed(
        uint256 indexed leaseId,
        address indexed witness,
        uint64 firstNonce,
        uint64 lastNonce,
        bytes32 requestHead,
        uint256 cumulativeAmount,
        uint256 paidNow
    );

    uint256 internal constant WITNESS_KEY = 0x717E55;
    uint256 internal constant WITNESS2_KEY = 0x717E56;
    address internal witness;
    address internal witness2;

    function setUp() public {
        _deploy();
        _open(LEASE, BUDGET);
        witness = vm.addr(WITNESS_KEY);
        witness2 = vm.addr(WITNESS2_KEY);
    }

    function _grant(uint256 leaseId, address w, uint256 maxAmount)
        internal
        view
        returns (ISettlement.ProbeGrant memory)
    {
        return ISettlement.ProbeGrant(leaseId, w, 3, 40, maxAmount, uint64(block.timestamp + 500));
    }

    function _signGrant(uint256 key, ISettlement.ProbeGrant memory g) internal view returns (bytes memory) {
        return _sign(key, settlement.probeGrantDigest(g));
    }

    /// The provider redeems witness `key`'s voucher under the customer's grant `g`.
    function _probe(ISettlement.ProbeGrant memory g, uint256 key, ISettlement.Voucher memory v)
        internal
        returns (uint256)
    {
        bytes memory gs = _signGrant(CUSTOMER_KEY, g);
        bytes memory vs = _signVoucher(key, v);
        vm.prank(provider);
        return settlement.redeemProbes(g, gs, v, vs);
    }

    function _expectProbeRevert(
        bytes memory err,
        address caller,
        ISettlement.ProbeGrant memory g,
        bytes memory gs,
        ISettlement.Voucher memory v,
        bytes memory vs
    ) internal {
        vm.prank(caller);
        vm.expectRevert(err);
        settlement.redeemProbes(g, gs, v, vs);
    }

    // ------------------------------------------------------------ typed data

    function test_probeGrantDigest_isEip712() public view {
        assertEq(
            settlement.PROBE_GRANT_TYPEHASH(),
            keccak256(
                "ProbeGrant(uint256 leaseId,address witness,uint32 epoch,uint32 maxCalls,uint256 maxAmount,uint64 expiry)"
            ),
            "typehash"
        );
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        bytes32 structHash = keccak256(
            abi.encode(
                settlement.PROBE_GRANT_TYPEHASH(), g.leaseId, g.witness, g.epoch, g.maxCalls, g.maxAmount, g.expiry
            )
        );
        assertEq(
            settlement.probeGrantDigest(g),
            keccak256(abi.encodePacked(hex"1901", settlement.domainSeparator(), structHash)),
            "digest"
        );
    }

    // ------------------------------------------------------------ happy path

    function test_redeemProbes_paysTheProviderOutOfTheBudget() public {
        _redeem(_voucher(LEASE, 0, 9, 10e18, 0));
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 1, 3e18, 77);
        uint256 before = token.balanceOf(provider);
        vm.expectEmit(true, true, false, true, address(settlement));
        emit ProbesRedeemed(LEASE, witness, 0, 1, v.requestHead, 3e18, 3e18);
        assertEq(_probe(g, WITNESS_KEY, v), 3e18, "first probes");
        assertEq(token.balanceOf(provider) - before, 3e18, "transferred at once");
        assertEq(settlement.probePaid(LEASE, witness), 3e18, "probePaid");
        ISettlement.Lease memory l = settlement.lease(LEASE);
        assertEq(l.budget, BUDGET - 3e18, "budget shrinks");
        assertEq(l.paid, 10e18, "customer paid untouched");
        assertEq(l.collected, 0, "collected untouched");
        assertEq(_probe(g, WITNESS_KEY, _voucher(LEASE, 2, 4, 5e18, 78)), 2e18, "the delta");
        assertEq(settlement.probePaid(LEASE, witness), 5e18, "cumulative");
        (uint256 batchPaid,) = settlement.batch(LEASE, 0, 1, v.requestHead);
        assertEq(batchPaid, 0, "no batch recorded");
        // The customer's later vouchers still redeem within the rest of the budget.
        _redeem(_voucher(LEASE, 10, 10, 20e18, 0));

        settlement.closeLease(LEASE);
        vm.warp(block.timestamp + WINDOW);
        uint256 customerBefore = token.balanceOf(customer);
        uint256 providerBefore = token.balanceOf(provider);
        assertEq(settlement.settle(LEASE), BUDGET - 5e18 - 20e18, "refund = budget - everything paid");
        assertEq(token.balanceOf(customer) - customerBefore, BUDGET - 25e18, "customer refunded");
        assertEq(token.balanceOf(provider) - providerBefore, 20e18, "provider gets its voucher pay");
        assertEq(token.balanceOf(address(settlement)), 0, "nothing left behind");
    }

    function test_redeemProbes_closedLeaseInsideItsWindow() public {
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        settlement.closeLease(LEASE);
        vm.warp(block.timestamp + WINDOW - 1);
        assertEq(_probe(g, WITNESS_KEY, _voucher(LEASE, 0, 0, 1e18, 1)), 1e18, "last second of the window");
        ISettlement.Lease memory l = settlement.lease(LEASE);
        assertEq(l.budget, BUDGET - 1e18, "closed lease budget");
        assertTrue(l.status == ISettlement.LeaseStatus.Closed, "still closed");
    }

    /// The grant's expiry bounds when the executor serves probes, not when they are redeemed.
    function test_redeemProbes_afterTheGrantExpired() public {
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 1e18, 1);
        v.deadline = g.expiry + 1000;
        vm.warp(g.expiry + 1);
        assertEq(_probe(g, WITNESS_KEY, v), 1e18, "redeemed after expiry");
    }

    function test_redeemProbes_laterGrantRaisesTheCumulativeCap() public {
        ISettlement.ProbeGrant memory g1 = _grant(LEASE, witness, 5e18);
        _probe(g1, WITNESS_KEY, _voucher(LEASE, 0, 0, 5e18, 1));
        ISettlement.ProbeGrant memory g2 = _grant(LEASE, witness, 8e18);
        g2.epoch = 4;
        // Under the first grant nothing more; under the second up to 8 in total.
        ISettlement.Voucher memory v = _voucher(LEASE, 1, 1, 6e18, 2);
        bytes memory vs = _signVoucher(WITNESS_KEY, v);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementProbeOverCap.selector, 6e18, 5e18),
            provider,
            g1,
            _signGrant(CUSTOMER_KEY, g1),
            v,
            vs
        );
        assertEq(_probe(g2, WITNESS_KEY, _voucher(LEASE, 1, 1, 8e18, 2)), 3e18, "the rest of the larger cap");
        assertEq(settlement.lease(LEASE).budget, BUDGET - 8e18, "budget");
    }

    function test_redeemProbes_witnessesAreSeparate() public {
        // Both witnesses use the same nonces and amounts in their own nonce spaces.
        _probe(_grant(LEASE, witness, 5e18), WITNESS_KEY, _voucher(LEASE, 0, 0, 4e18, 1));
        _probe(_grant(LEASE, witness2, 5e18), WITNESS2_KEY, _voucher(LEASE, 0, 0, 4e18, 1));
        assertEq(settlement.probePaid(LEASE, witness), 4e18, "w1");
        assertEq(settlement.probePaid(LEASE, witness2), 4e18, "w2");
        assertEq(settlement.lease(LEASE).budget, BUDGET - 8e18, "both from the budget");
    }

    /// The customer's vouchers see the smaller budget, on the assembly path and the checked one.
    function test_redeemProbes_customerVouchersSeeTheSmallerBudget() public {
        _probe(_grant(LEASE, witness, 30e18), WITNESS_KEY, _voucher(LEASE, 0, 0, 30e18, 1));
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, BUDGET - 30e18 + 1, 0);
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementOverBudget.selector, BUDGET - 30e18 + 1, BUDGET - 30e18)
        );
        settlement.redeem(v, sig);
        assertEq(_redeem(_voucher(LEASE, 0, 0, BUDGET - 30e18, 0)), BUDGET - 30e18, "the rest");
        // Now nothing is left for probes either.
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 31e18);
        ISettlement.Voucher memory p = _voucher(LEASE, 1, 1, 31e18, 2);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementProbeOverBudget.selector, 1e18, 0),
            provider,
            g,
            _signGrant(CUSTOMER_KEY, g),
            p,
            _signVoucher(WITNESS_KEY, p)
        );
    }

    // ------------------------------------------------------------ every revert

    function test_redeemProbes_revertPaths() public {
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        bytes memory gs = _signGrant(CUSTOMER_KEY, g);
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 1, 2e18, 1);
        bytes memory vs = _signVoucher(WITNESS_KEY, v);

        // Not the provider (the witness, the customer).
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementNotProvider.selector, witness, provider), witness, g, gs, v, vs
        );
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementNotProvider.selector, customer, provider),
            customer,
            g,
            gs,
            v,
            vs
        );
        // Grant for another lease.
        ISettlement.ProbeGrant memory other = _grant(LEASE + 1, witness, 5e18);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementProbeLeaseMismatch.selector, LEASE + 1, LEASE),
            provider,
            other,
            _signGrant(CUSTOMER_KEY, other),
            v,
            vs
        );
        // Grant signed by someone else: the stranger, the witness itself, the provider.
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, stranger, customer),
            provider,
            g,
            _signGrant(STRANGER_KEY, g),
            v,
            vs
        );
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, witness, customer),
            provider,
            g,
            _signGrant(WITNESS_KEY, g),
            v,
            vs
        );
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, provider, customer),
            provider,
            g,
            _signGrant(PROVIDER_KEY, g),
            v,
            vs
        );
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, address(0), customer),
            provider,
            g,
            hex"1234",
            v,
            vs
        );
        // The grant's fields as signed: a raised cap does not recover to the customer.
        ISettlement.ProbeGrant memory raised = _grant(LEASE, witness, 50e18);
        vm.prank(provider);
        vm.expectPartialRevert(ISettlement.SettlementBadSigner.selector);
        settlement.redeemProbes(raised, gs, v, vs);
        // The witness is the customer.
        ISettlement.ProbeGrant memory self = _grant(LEASE, customer, 5e18);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementWitnessIsCustomer.selector, customer),
            provider,
            self,
            _signGrant(CUSTOMER_KEY, self),
            v,
            _signVoucher(CUSTOMER_KEY, v)
        );
        // A zero witness never recovers.
        ISettlement.ProbeGrant memory zero = _grant(LEASE, address(0), 5e18);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, address(0), address(0)),
            provider,
            zero,
            _signGrant(CUSTOMER_KEY, zero),
            v,
            hex"1234"
        );
        // Voucher signed by someone else: the stranger, the customer, another witness.
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, stranger, witness),
            provider,
            g,
            gs,
            v,
            _signVoucher(STRANGER_KEY, v)
        );
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, customer, witness),
            provider,
            g,
            gs,
            v,
            _signVoucher(CUSTOMER_KEY, v)
        );
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, witness2, witness),
            provider,
            g,
            gs,
            v,
            _signVoucher(WITNESS2_KEY, v)
        );
        // Over the grant's cap.
        ISettlement.Voucher memory big = _voucher(LEASE, 0, 1, 5e18 + 1, 1);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementProbeOverCap.selector, 5e18 + 1, 5e18),
            provider,
            g,
            gs,
            big,
            _signVoucher(WITNESS_KEY, big)
        );
        // Range reversed, too long; deadline passed.
        ISettlement.Voucher memory bad = _voucher(LEASE, 8, 8, 1e18, 1);
        bad.lastNonce = 7;
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadRange.selector, 8, 7),
            provider,
            g,
            gs,
            bad,
            _signVoucher(WITNESS_KEY, bad)
        );
        bad.lastNonce = 8 + 256;
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBatchTooLarge.selector, 257, 256),
            provider,
            g,
            gs,
            bad,
            _signVoucher(WITNESS_KEY, bad)
        );
        bad = _voucher(LEASE, 8, 8, 1e18, 1);
        bad.deadline = uint64(block.timestamp - 1);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementVoucherExpired.selector, bad.deadline),
            provider,
            g,
            gs,
            bad,
            _signVoucher(WITNESS_KEY, bad)
        );
        // Unknown lease.
        ISettlement.ProbeGrant memory none = _grant(42, witness, 5e18);
        ISettlement.Voucher memory nv = _voucher(42, 0, 0, 1e18, 1);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, 42, ISettlement.LeaseStatus.None),
            provider,
            none,
            _signGrant(CUSTOMER_KEY, none),
            nv,
            _signVoucher(WITNESS_KEY, nv)
        );

        // The valid one pays; then the same and a smaller amount are not increasing.
        vm.prank(provider);
        assertEq(settlement.redeemProbes(g, gs, v, vs), 2e18, "valid");
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementNothingToRedeem.selector, 2e18, 2e18), provider, g, gs, v, vs
        );
        ISettlement.Voucher memory less = _voucher(LEASE, 2, 2, 1e18, 2);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementNothingToRedeem.selector, 1e18, 2e18),
            provider,
            g,
            gs,
            less,
            _signVoucher(WITNESS_KEY, less)
        );
        assertEq(settlement.probePaid(LEASE, witness), 2e18, "paid once");
        assertEq(settlement.lease(LEASE).budget, BUDGET - 2e18, "budget once");
    }

    /// Grant and voucher fields narrower than a word (witness, epoch, maxCalls, expiry; firstNonce,
    /// lastNonce, deadline) with high bits set are refused by the ABI decoder (empty revert data); the
    /// clean call, built the same way, redeems.
    function test_redeemProbes_dirtyFieldsRefused() public {
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 1e18, 1);
        bytes memory clean =
            abi.encodeCall(settlement.redeemProbes, (g, _signGrant(CUSTOMER_KEY, g), v, _signVoucher(WITNESS_KEY, v)));
        // Words after the selector: grant 0..5, its signature's offset 6, voucher 7..12.
        uint8[7] memory dirty = [1, 2, 3, 5, 8, 9, 12];
        for (uint256 k = 0; k < dirty.length; ++k) {
            bytes memory data = bytes.concat(clean);
            data[4 + uint256(dirty[k]) * 32] = 0x01; // the top byte of the word
            vm.prank(provider);
            (bool ok, bytes memory ret) = address(settlement).call(data);
            assertTrue(!ok && ret.length == 0, "dirty field refused by the decoder");
        }
        vm.prank(provider);
        (bool cleanOk,) = address(settlement).call(clean);
        assertTrue(cleanOk, "the clean call redeems");
        assertEq(settlement.probePaid(LEASE, witness), 1e18, "paid once");
    }

    function test_redeemProbes_budgetBelowTheCustomersPaid() public {
        _redeem(_voucher(LEASE, 0, 0, BUDGET - 1e18, 0));
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 1e18 + 1, 1);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementProbeOverBudget.selector, 1e18 + 1, 1e18),
            provider,
            g,
            _signGrant(CUSTOMER_KEY, g),
            v,
            _signVoucher(WITNESS_KEY, v)
        );
        // Exactly what is left is fine: the budget becomes the customer's paid.
        assertEq(_probe(g, WITNESS_KEY, _voucher(LEASE, 0, 0, 1e18, 1)), 1e18, "exactly the rest");
        ISettlement.Lease memory l = settlement.lease(LEASE);
        assertEq(l.budget, l.paid, "budget = paid");
    }

    function test_redeemProbes_closedBeyondTheWindow() public {
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 1e18, 1);
        v.deadline = uint64(block.timestamp + 10 * WINDOW);
        bytes memory gs = _signGrant(CUSTOMER_KEY, g);
        bytes memory vs = _signVoucher(WITNESS_KEY, v);
        settlement.closeLease(LEASE);
        vm.warp(block.timestamp + WINDOW);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementRedeemWindowClosed.selector, LEASE, uint64(block.timestamp)),
            provider,
            g,
            gs,
            v,
            vs
        );
        settlement.settle(LEASE);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, LEASE, ISettlement.LeaseStatus.Settled),
            provider,
            g,
            gs,
            v,
            vs
        );
    }

    // ------------------------------------------------------------ attacks

    /// If the customer were its own witness, one voucher it signed would pay twice: once through
    /// `redeem` and once through `redeemProbes` (the nonce spaces and cumulative amounts are separate).
    function test_attack_customerAsWitnessPaysOneVoucherTwice() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 3, 4e18, 1);
        bytes memory vs = _signVoucher(CUSTOMER_KEY, v);
        vm.prank(provider);
        settlement.redeem(v, vs);
        ISettlement.ProbeGrant memory self = _grant(LEASE, customer, 4e18);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementWitnessIsCustomer.selector, customer),
            provider,
            self,
            _signGrant(CUSTOMER_KEY, self),
            v,
            vs
        );
        assertEq(settlement.lease(LEASE).budget, BUDGET, "budget untouched");
        assertEq(settlement.lease(LEASE).paid, 4e18, "paid once");
    }

    /// A provider and a witness together sign whatever vouchers they like: they are paid at most the
    /// largest cap the customer granted that witness, whatever the ranges, amounts and order.
    function testFuzz_attack_cartelCannotRedeemMoreThanGranted(uint256 seed) public {
        uint256 cap = bound(seed, 1, BUDGET);
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, cap);
        bytes memory gs = _signGrant(CUSTOMER_KEY, g);
        uint256 received;
        uint256 before = token.balanceOf(provider);
        for (uint256 k = 0; k < 8; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            // Amounts up to twice the budget, any order, overlapping ranges.
            ISettlement.Voucher memory v =
                _voucher(LEASE, uint64(r % 4), uint64(r % 4) + 1, (r >> 64) % (2 * BUDGET), k);
            bytes memory vs = _signVoucher(WITNESS_KEY, v);
            vm.prank(provider);
            try settlement.redeemProbes(g, gs, v, vs) returns (uint256 p) {
                received += p;
            } catch {}
            // The witness forges a larger grant for itself.
            ISettlement.ProbeGrant memory forged = _grant(LEASE, witness, 2 * BUDGET);
            bytes memory fs = _signGrant(WITNESS_KEY, forged);
            vm.prank(provider);
            vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, witness, customer));
            settlement.redeemProbes(forged, fs, v, vs);
        }
        assertLe(received, cap, "never more than the cap");
        assertEq(token.balanceOf(provider) - before, received, "what was transferred");
        assertEq(settlement.probePaid(LEASE, witness), received, "probePaid");
        assertEq(settlement.lease(LEASE).budget, BUDGET - received, "budget");
        // A grant to another witness does not raise this witness's cap. Its own cap is above the
        // voucher's amount, so only the signer check can refuse it.
        ISettlement.ProbeGrant memory g2 = _grant(LEASE, witness2, 2 * BUDGET);
        ISettlement.Voucher memory more = _voucher(LEASE, 9, 9, cap + 1, 9);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, witness, witness2),
            provider,
            g2,
            _signGrant(CUSTOMER_KEY, g2),
            more,
            _signVoucher(WITNESS_KEY, more)
        );
    }

    /// A grant for lease A pays nothing on lease B, even with the same customer, provider and witness.
    function test_attack_grantForLeaseANeverPaysOnLeaseB() public {
        uint256 b = LEASE + 1;
        _open(b, BUDGET);
        ISettlement.ProbeGrant memory ga = _grant(LEASE, witness, 5e18);
        bytes memory gas_ = _signGrant(CUSTOMER_KEY, ga);
        ISettlement.Voucher memory vb = _voucher(b, 0, 0, 1e18, 1);
        bytes memory vbs = _signVoucher(WITNESS_KEY, vb);
        // As signed: the lease ids differ.
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementProbeLeaseMismatch.selector, LEASE, b),
            provider,
            ga,
            gas_,
            vb,
            vbs
        );
        // The grant's lease id rewritten to B: its signature no longer recovers to the customer.
        ISettlement.ProbeGrant memory rewritten = _grant(b, witness, 5e18);
        vm.prank(provider);
        vm.expectPartialRevert(ISettlement.SettlementBadSigner.selector);
        settlement.redeemProbes(rewritten, gas_, vb, vbs);
        // A witness voucher for A rewritten to B: its signature no longer recovers to the witness.
        ISettlement.ProbeGrant memory gb = _grant(b, witness, 5e18);
        ISettlement.Voucher memory va = _voucher(LEASE, 0, 0, 1e18, 1);
        bytes memory vas = _signVoucher(WITNESS_KEY, va);
        va.leaseId = b;
        bytes memory gbs = _signGrant(CUSTOMER_KEY, gb);
        vm.prank(provider);
        vm.expectPartialRevert(ISettlement.SettlementBadSigner.selector);
        settlement.redeemProbes(gb, gbs, va, vas);
        // Paid on A: B's books and A's customer books are untouched.
        va.leaseId = LEASE;
        assertEq(_probe(ga, WITNESS_KEY, va), 1e18, "A pays");
        assertEq(settlement.probePaid(b, witness), 0, "B untouched");
        assertEq(settlement.lease(b).budget, BUDGET, "B budget");
        // And B's own grant starts B's witness total from zero.
        assertEq(_probe(gb, WITNESS_KEY, vb), 1e18, "B pays under B's grant");
    }

    /// A witness-signed voucher cannot be redeemed through `redeem` (it is not the customer's), and a
    /// customer voucher cannot be redeemed through `redeemProbes`.
    function test_attack_witnessVoucherThroughRedeem() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 1e18, 1);
        bytes memory vs = _signVoucher(WITNESS_KEY, v);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, witness, customer));
        settlement.redeem(v, vs);
        // After a probe redemption too (the fast path sees a valid-looking voucher).
        _probe(_grant(LEASE, witness, 5e18), WITNESS_KEY, v);
        ISettlement.Voucher memory w = _voucher(LEASE, 1, 1, 2e18, 2);
        bytes memory ws = _signVoucher(WITNESS_KEY, w);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, witness, customer));
        settlement.redeem(w, ws);
        assertEq(settlement.lease(LEASE).paid, 0, "customer paid nothing");
        // The customer's voucher under a witness's grant.
        ISettlement.ProbeGrant memory g = _grant(LEASE, witness, 5e18);
        _expectProbeRevert(
            abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, customer, witness),
            provider,
            g,
            _signGrant(CUSTOMER_KEY, g),
            w,
            _signVoucher(CUSTOMER_KEY, w)
        );
    }

    // ------------------------------------------------------------ budget and fairness (property)

    /// Any sequence of customer redemptions and probe redemptions by two witnesses under rising
    /// grants: every step, customer paid + probe payments <= budget; a customer voucher redeems exactly
    /// when paid < amount <= budget - probe payments; probe payments per witness never exceed the
    /// largest cap granted it; settle refunds exactly budget - everything paid and the provider got
    /// everything paid.
    function testFuzz_probes_budgetAndRefundExact(uint256 seed) public {
        uint256 providerBefore = token.balanceOf(provider);
        uint256 customerBefore = token.balanceOf(customer);
        uint256[2] memory caps;
        uint256 customerPaid;
        uint256 probeTotal;
        for (uint256 k = 0; k < 16; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint256 amount = (r >> 8) % (BUDGET + BUDGET / 4);
            if (r % 3 == 0) {
                // A customer voucher.
                ISettlement.Voucher memory v = _voucher(LEASE, uint64(k), uint64(k), amount, k);
                bytes memory vs = _signVoucher(CUSTOMER_KEY, v);
                bool expected = amount > customerPaid && amount <= BUDGET - probeTotal;
                vm.prank(provider);
                try settlement.redeem(v, vs) returns (uint256 p) {
                    assertTrue(expected, "customer voucher redeemed only within the rest");
                    assertEq(p, amount - customerPaid, "delta");
                    customerPaid = amount;
                } catch {
                    assertTrue(!expected, "customer voucher within the rest always redeems");
                }
            } else {
                uint256 w = (r >> 4) & 1;
                // Sometimes the customer grants this witness a larger cumulative cap.
                uint256 cap = (r >> 128) % (BUDGET / 2);
                if (cap > caps[w]) caps[w] = cap;
                ISettlement.ProbeGrant memory g = _grant(LEASE, w == 0 ? witness : witness2, cap);
                ISettlement.Voucher memory v = _voucher(LEASE, uint64(k), uint64(k), amount % (BUDGET / 2), k);
                uint256 already = settlement.probePaid(LEASE, g.witness);
                bool expected = v.cumulativeAmount > already && v.cumulativeAmount <= cap
                    && v.cumulativeAmount - already <= BUDGET - probeTotal - customerPaid;
                bytes memory gs = _signGrant(CUSTOMER_KEY, g);
                bytes memory vs = _signVoucher(w == 0 ? WITNESS_KEY : WITNESS2_KEY, v);
                vm.prank(provider);
                try settlement.redeemProbes(g, gs, v, vs) returns (uint256 p) {
                    assertTrue(expected, "probe redeemed only within cap and budget");
                    assertEq(p, v.cumulativeAmount - already, "probe delta");
                    probeTotal += p;
                } catch {
                    assertTrue(!expected, "probe within cap and budget always redeems");
                }
                assertLe(settlement.probePaid(LEASE, g.witness), caps[w], "within the largest grant");
            }
            assertLe(customerPaid + probeTotal, BUDGET, "within the budget");
            ISettlement.Lease memory l = settlement.lease(LEASE);
            assertEq(l.budget, BUDGET - probeTotal, "budget = escrow - probes");
            assertEq(l.paid, customerPaid, "paid = customer vouchers");
            assertEq(probeTotal, settlement.probePaid(LEASE, witness) + settlement.probePaid(LEASE, witness2), "sum");
        }
        assertLe(probeTotal, caps[0] + caps[1], "probes within what the customer granted");
        settlement.closeLease(LEASE);
        vm.warp(block.timestamp + WINDOW);
        assertEq(settlement.settle(LEASE), BUDGET - customerPaid - probeTotal, "refund");
        assertEq(token.balanceOf(customer) - customerBefore, BUDGET - customerPaid - probeTotal, "customer");
        assertEq(token.balanceOf(provider) - providerBefore, customerPaid + probeTotal, "provider");
        assertEq(token.balanceOf(address(settlement)), 0, "settlement empty");
    }

    // ------------------------------------------------------------ gas

    /// Gas of `redeemProbes` as a transaction (call frame with cold storage + 21,000 + calldata): a
    /// witness's first redemption on the lease (its probePaid slot goes from zero) to a provider that
    /// holds no tokens yet (the transfer writes its first balance), a later one of that witness, and a
    /// second witness's first.
    function test_gas_redeemProbes() public {
        _redeem(_voucher(LEASE, 0, 0, 0.001e18, 0));
        string[3] memory what = [
            "redeemProbes first (provider holds no tokens)",
            "redeemProbes later",
            "redeemProbes first of another witness"
        ];
        for (uint256 k = 0; k < 3; ++k) {
            (address w, uint256 key) = k < 2 ? (witness, WITNESS_KEY) : (witness2, WITNESS2_KEY);
            ISettlement.ProbeGrant memory g = _grant(LEASE, w, 1e18);
            bytes memory gs = _signGrant(CUSTOMER_KEY, g);
            ISettlement.Voucher memory v = _voucher(LEASE, uint64(k), uint64(k), 0.001e18 * (k + 1), k);
            bytes memory vs = _signVoucher(key, v);
            bytes memory data = abi.encodeCall(settlement.redeemProbes, (g, gs, v, vs));
            vm.cool(address(settlement));
            vm.cool(address(token));
            vm.prank(provider);
            settlement.redeemProbes(g, gs, v, vs);
            uint256 frame = vm.lastCallGas().gasTotalUsed;
            (uint256 standard, uint256 floor) = _calldataGas(data);
            uint256 txGas = 21_000 + frame + standard;
            if (txGas < 21_000 + floor) txGas = 21_000 + floor;
            emit log_named_uint(string.concat(what[k], ": call frame"), frame);
            emit log_named_uint(string.concat(what[k], ": calldata"), standard);
            emit log_named_uint(string.concat(what[k], ": transaction"), txGas);
        }
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 standard, uint256 floor) {
        uint256 zeros;
        for (uint256 i = 0; i < data.length; ++i) {
            if (data[i] == 0) zeros++;
        }
        uint256 nonZeros = data.length - zeros;
        standard = 16 * nonZeros + 4 * zeros;
        floor = 10 * (zeros + 4 * nonZeros);
    }
}
