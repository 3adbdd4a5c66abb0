// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Settlement} from "../src/Settlement.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {TestBase, Vm} from "./Vm.sol";

contract SettlementTestToken is ERC20 {
    constructor(address holder, uint256 supply) ERC20("Settlement test token", "STT") {
        _mint(holder, supply);
    }
}

/// @notice Stands in for the registry: holds each lease's collateral, which the market locks and the
/// settlement alone slashes (to itself) and releases (to the executor's free stake).
contract RegistryDouble {
    IERC20 public immutable token;
    address public settlement;
    mapping(uint256 leaseId => uint256) public executorOf;
    mapping(uint256 leaseId => uint256) public collateral;
    mapping(uint256 leaseId => bool) public released;
    mapping(uint256 executorId => uint256) public freeStake;

    error RegistryDoubleUnauthorized(address caller);
    error RegistryDoubleNoCollateral(uint256 leaseId);

    constructor(IERC20 token_) {
        token = token_;
    }

    function setSettlement(address settlement_) external {
        settlement = settlement_;
    }

    /// The caller (the test, as the market) brings the collateral.
    function lockCollateral(uint256 leaseId, uint256 executorId, uint256 amount) external {
        token.transferFrom(msg.sender, address(this), amount);
        executorOf[leaseId] = executorId;
        collateral[leaseId] = amount;
    }

    function slashCollateral(uint256 leaseId, uint256 amount) external returns (uint256 slashed) {
        if (msg.sender != settlement) revert RegistryDoubleUnauthorized(msg.sender);
        if (executorOf[leaseId] == 0 || released[leaseId]) revert RegistryDoubleNoCollateral(leaseId);
        uint256 left = collateral[leaseId];
        slashed = amount < left ? amount : left;
        collateral[leaseId] = left - slashed;
        token.transfer(msg.sender, slashed);
    }

    function releaseCollateral(uint256 leaseId) external {
        if (msg.sender != settlement) revert RegistryDoubleUnauthorized(msg.sender);
        if (executorOf[leaseId] == 0 || released[leaseId]) revert RegistryDoubleNoCollateral(leaseId);
        released[leaseId] = true;
        freeStake[executorOf[leaseId]] += collateral[leaseId];
        collateral[leaseId] = 0;
    }

    function leaseCollateral(uint256 leaseId) external view returns (uint256 executorId, uint256 amount) {
        return (executorOf[leaseId], collateral[leaseId]);
    }
}

/// @notice Keys, deployment and voucher/receipt helpers shared by the unit, fuzz and invariant tests.
/// The deploying contract acts as the market.
abstract contract SettlementSetup is TestBase {
    uint256 internal constant CUSTOMER_KEY = 0xC0FFEE;
    uint256 internal constant PROVIDER_KEY = 0xB0B;
    uint256 internal constant ENCLAVE_KEY = 0xE7C1A7E;
    uint256 internal constant STRANGER_KEY = 0x5A5A;
    uint256 internal constant LEASE = 7;
    uint256 internal constant EXECUTOR = 3;
    uint256 internal constant BUDGET = 100e18;
    uint256 internal constant COLLATERAL = 1000e18;
    uint64 internal constant WINDOW = 100;
    uint256 internal constant BOND = 1e18;
    uint256 internal constant SLASH = 10e18;

    SettlementTestToken internal token;
    RegistryDouble internal registry;
    Settlement internal settlement;
    address internal customer;
    address internal provider;
    address internal enclave;
    address internal stranger;

    function _deploy() internal {
        vm.warp(1_000_000);
        customer = vm.addr(CUSTOMER_KEY);
        provider = vm.addr(PROVIDER_KEY);
        enclave = vm.addr(ENCLAVE_KEY);
        stranger = vm.addr(STRANGER_KEY);
        token = new SettlementTestToken(address(this), 1e27);
        registry = new RegistryDouble(token);
        settlement = new Settlement(token, IRegistry(address(registry)), WINDOW, WINDOW, BOND, SLASH);
        registry.setSettlement(address(settlement));
        settlement.setMarket(address(this));
        token.approve(address(registry), type(uint256).max);
        token.transfer(customer, 1000e18);
        vm.prank(customer);
        token.approve(address(settlement), type(uint256).max);
    }

    /// As the market: locks the collateral, moves the budget, opens the lease.
    function _open(uint256 leaseId, uint256 budget) internal {
        registry.lockCollateral(leaseId, EXECUTOR, COLLATERAL);
        token.transfer(address(settlement), budget);
        settlement.openLease(leaseId, customer, provider, EXECUTOR, enclave, budget);
    }

    function _records(uint64 first, uint256 n, uint256 salt)
        internal
        pure
        returns (ISettlement.CallRecord[] memory rs)
    {
        rs = new ISettlement.CallRecord[](n);
        for (uint256 k = 0; k < n; ++k) {
            rs[k] = ISettlement.CallRecord(
                first + uint64(k),
                keccak256(abi.encode("fn", salt)),
                keccak256(abi.encode("in", salt, k)),
                keccak256(abi.encode("out", salt, k)),
                7,
                1e12
            );
        }
    }

    function _requestHead(uint64 first, uint64 last, uint256 salt) internal view returns (bytes32 head) {
        (head,) = settlement.chainHeads(_records(first, uint256(last - first) + 1, salt));
    }

    function _voucher(uint256 leaseId, uint64 first, uint64 last, uint256 amount, uint256 salt)
        internal
        view
        returns (ISettlement.Voucher memory)
    {
        return ISettlement.Voucher(
            leaseId, first, last, _requestHead(first, last, salt), amount, uint64(block.timestamp + 1000)
        );
    }

    function _receipt(uint256 leaseId, uint64 first, uint64 last, uint256 salt)
        internal
        view
        returns (ISettlement.Receipt memory r)
    {
        (, bytes32 recordHead) = settlement.chainHeads(_records(first, uint256(last - first) + 1, salt));
        r = ISettlement.Receipt(leaseId, first, last, recordHead, bytes32("evidence"), 1, 2);
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _signVoucher(uint256 key, ISettlement.Voucher memory v) internal view returns (bytes memory) {
        return _sign(key, settlement.voucherDigest(v));
    }

    function _signReceipt(uint256 key, ISettlement.Receipt memory r) internal view returns (bytes memory) {
        return _sign(key, settlement.receiptDigest(r));
    }

    /// The provider redeems a customer-signed voucher.
    function _redeem(ISettlement.Voucher memory v) internal returns (uint256) {
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        vm.prank(provider);
        return settlement.redeem(v, sig);
    }

    function _claim(uint256 leaseId, uint64 first, uint64 last, bytes32 head, uint64 nonce) internal returns (uint256) {
        vm.prank(customer);
        return settlement.openClaim(leaseId, first, last, head, nonce);
    }

    /// The provider answers with the enclave's receipt and the batch's records.
    function _answer(uint256 claimId, uint256 salt) internal {
        ISettlement.Claim memory c = settlement.claim(claimId);
        ISettlement.Receipt memory r = _receipt(c.leaseId, c.firstNonce, c.lastNonce, salt);
        bytes memory sig = _signReceipt(ENCLAVE_KEY, r);
        ISettlement.CallRecord[] memory rs = _records(c.firstNonce, uint256(c.lastNonce - c.firstNonce) + 1, salt);
        vm.prank(provider);
        settlement.answerClaim(claimId, r, sig, rs);
    }
}

contract SettlementTest is SettlementSetup {
    event log_named_uint(string key, uint256 val);

    function setUp() public {
        _deploy();
        _open(LEASE, BUDGET);
    }

    function _close() internal {
        settlement.closeLease(LEASE);
    }

    // ------------------------------------------------------------ wiring, openLease, closeLease

    function test_setMarket_deployerOnlyOnce() public {
        vm.expectRevert(ISettlement.SettlementAlreadyWired.selector);
        settlement.setMarket(stranger);
        Settlement fresh = new Settlement(token, IRegistry(address(registry)), WINDOW, WINDOW, BOND, SLASH);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnauthorized.selector, stranger));
        fresh.setMarket(stranger);
        fresh.setMarket(stranger);
        assertEq(fresh.market(), stranger, "market");
    }

    function test_openLease_recordsTheLease() public view {
        ISettlement.Lease memory l = settlement.lease(LEASE);
        assertEq(uint256(l.status), uint256(ISettlement.LeaseStatus.Open), "open");
        assertEq(l.customer, customer, "customer");
        assertEq(l.provider, provider, "provider");
        assertEq(l.enclave, enclave, "enclave");
        assertEq(l.executorId, EXECUTOR, "executor");
        assertEq(l.budget, BUDGET, "budget");
        assertEq(l.paid, 0, "paid");
        assertEq(l.collected, 0, "collected");
        assertEq(l.closedAt, 0, "closedAt");
        assertEq(l.openClaims, 0, "claims");
        assertEq(token.balanceOf(address(settlement)), BUDGET, "funded");
        assertEq(uint256(settlement.lease(99).status), uint256(ISettlement.LeaseStatus.None), "unknown");
    }

    function test_openLease_revertPaths() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnauthorized.selector, stranger));
        settlement.openLease(9, customer, provider, 1, enclave, 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementLeaseExists.selector, LEASE));
        settlement.openLease(LEASE, customer, provider, 1, enclave, 1);
        uint256 max = settlement.MAX_BUDGET();
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBudgetTooLarge.selector, max + 1, max));
        settlement.openLease(9, customer, provider, 1, enclave, max + 1);
        vm.expectRevert(ISettlement.SettlementZeroCustomer.selector);
        settlement.openLease(9, address(0), provider, 1, enclave, 1);
        settlement.openLease(9, customer, provider, 1, enclave, max);
        assertEq(settlement.lease(9).budget, max, "largest budget");
    }

    function test_closeLease_marketOnlyOnce() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnauthorized.selector, stranger));
        settlement.closeLease(LEASE);
        _close();
        ISettlement.Lease memory l = settlement.lease(LEASE);
        assertEq(uint256(l.status), uint256(ISettlement.LeaseStatus.Closed), "closed");
        assertEq(l.closedAt, block.timestamp, "closedAt");
        assertEq(l.budget, BUDGET, "budget unchanged");
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, LEASE, ISettlement.LeaseStatus.Closed)
        );
        settlement.closeLease(LEASE);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, 99, ISettlement.LeaseStatus.None)
        );
        settlement.closeLease(99);
    }

    // ------------------------------------------------------------ redeem, collect

    function test_redeem_paysTheDeltaOfCumulativeVouchers() public {
        ISettlement.Voucher memory v1 = _voucher(LEASE, 0, 2, 100, 0);
        ISettlement.Voucher memory v2 = _voucher(LEASE, 3, 3, 250, 0);
        assertEq(_redeem(v1), 100, "first");
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v2);
        vm.expectEmit(true, false, false, true, address(settlement));
        emit ISettlement.VoucherRedeemed(LEASE, 3, 3, v2.requestHead, 250, 150);
        vm.prank(provider);
        assertEq(settlement.redeem(v2, sig), 150, "delta");
        assertEq(settlement.lease(LEASE).paid, 250, "paid");
        (uint256 paid1, bool claimed1) = settlement.batch(LEASE, 0, 2, v1.requestHead);
        (uint256 paid2,) = settlement.batch(LEASE, 3, 3, v2.requestHead);
        assertEq(paid1, 100, "first batch");
        assertEq(paid2, 150, "second batch");
        assertTrue(!claimed1, "unclaimed");
        (uint256 none,) = settlement.batch(LEASE, 0, 2, bytes32(0));
        assertEq(none, 0, "other head");
    }

    function test_redeem_sameBatchTwiceAddsUp() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 4, 9, 100, 0);
        _redeem(v);
        v.cumulativeAmount = 130;
        assertEq(_redeem(v), 30, "delta");
        (uint256 paid,) = settlement.batch(LEASE, 4, 9, v.requestHead);
        assertEq(paid, 130, "accumulated");
    }

    function test_redeem_revertPaths() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 5, 6, 100, 0);
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotProvider.selector, customer, provider));
        vm.prank(customer);
        settlement.redeem(v, sig);
        _redeem(v);

        vm.startPrank(provider);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNothingToRedeem.selector, 100, 100));
        settlement.redeem(v, sig);
        ISettlement.Voucher memory bad = _voucher(LEASE, 8, 8, 99, 0);
        sig = _signVoucher(CUSTOMER_KEY, bad);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNothingToRedeem.selector, 99, 100));
        settlement.redeem(bad, sig);
        bad = _voucher(LEASE, 8, 8, BUDGET + 1, 0);
        sig = _signVoucher(CUSTOMER_KEY, bad);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementOverBudget.selector, BUDGET + 1, BUDGET));
        settlement.redeem(bad, sig);
        bad.lastNonce = 7;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadRange.selector, 8, 7));
        settlement.redeem(bad, sig);
        bad.lastNonce = 8 + 256;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchTooLarge.selector, 257, 256));
        settlement.redeem(bad, sig);
        bad = _voucher(LEASE, 8, 8, 200, 0);
        bad.deadline = uint64(block.timestamp - 1);
        sig = _signVoucher(CUSTOMER_KEY, bad);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementVoucherExpired.selector, bad.deadline));
        settlement.redeem(bad, sig);
        bad = _voucher(LEASE, 8, 8, 200, 0);
        sig = _signVoucher(ENCLAVE_KEY, bad);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, enclave, customer));
        settlement.redeem(bad, sig);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, address(0), customer));
        settlement.redeem(bad, hex"1234");
        // A voucher signed for another lease does not redeem on this one.
        sig = _signVoucher(CUSTOMER_KEY, bad);
        bad.leaseId = 42;
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, 42, ISettlement.LeaseStatus.None)
        );
        settlement.redeem(bad, sig);
        vm.stopPrank();
        assertEq(settlement.lease(LEASE).paid, 100, "nothing else paid");
    }

    function test_redeem_boundaries() public {
        // The widest batch (256 nonces) and a voucher on its deadline second redeem.
        ISettlement.Voucher memory v = _voucher(LEASE, 1000, 1255, 10, 0);
        v.deadline = uint64(block.timestamp);
        _redeem(v);
        // The largest nonces are fine as long as the range is bounded.
        v = _voucher(LEASE, type(uint64).max - 255, type(uint64).max, 20, 0);
        _redeem(v);
        // The whole budget can be paid.
        _redeem(_voucher(LEASE, 0, 0, BUDGET, 0));
        assertEq(settlement.lease(LEASE).paid, BUDGET, "all");
    }

    function test_redeem_windowAfterClose() public {
        _close();
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 10, 0);
        vm.warp(block.timestamp + WINDOW - 1);
        _redeem(v); // last second of the window
        vm.warp(block.timestamp + 1);
        v = _voucher(LEASE, 1, 1, 20, 0);
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementRedeemWindowClosed.selector, LEASE, uint64(block.timestamp))
        );
        settlement.redeem(v, sig);
        settlement.settle(LEASE);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, LEASE, ISettlement.LeaseStatus.Settled)
        );
        settlement.redeem(v, sig);
    }

    function test_collect_paysTheProviderOnce() public {
        _redeem(_voucher(LEASE, 0, 2, 100, 0));
        _redeem(_voucher(LEASE, 3, 3, 250, 0));
        uint256 before = token.balanceOf(provider);
        vm.prank(stranger);
        assertEq(settlement.collect(LEASE), 250, "collected");
        assertEq(token.balanceOf(provider) - before, 250, "paid to the provider");
        assertEq(settlement.collect(LEASE), 0, "nothing twice");
        assertEq(settlement.lease(LEASE).collected, 250, "books");
        _redeem(_voucher(LEASE, 4, 4, 300, 0));
        assertEq(settlement.collect(LEASE), 50, "the rest");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownLease.selector, 77));
        settlement.collect(77);
    }

    // ------------------------------------------------------------ settle

    function test_settle_paysRefundsAndReleases() public {
        _redeem(_voucher(LEASE, 0, 0, 30, 0));
        settlement.collect(LEASE);
        _redeem(_voucher(LEASE, 1, 1, 40, 0));
        _close();
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementRedeemWindowOpen.selector, LEASE, uint64(block.timestamp + WINDOW)
            )
        );
        settlement.settle(LEASE);
        vm.warp(block.timestamp + WINDOW);
        uint256 c0 = token.balanceOf(customer);
        uint256 p0 = token.balanceOf(provider);
        vm.prank(stranger);
        assertEq(settlement.settle(LEASE), BUDGET - 40, "refund");
        assertEq(token.balanceOf(customer) - c0, BUDGET - 40, "customer refunded");
        assertEq(token.balanceOf(provider) - p0, 10, "provider paid what it had not collected");
        assertEq(token.balanceOf(address(settlement)), 0, "nothing left");
        assertTrue(registry.released(LEASE), "collateral released");
        assertEq(registry.freeStake(EXECUTOR), COLLATERAL, "back to free stake");
        ISettlement.Lease memory l = settlement.lease(LEASE);
        assertEq(uint256(l.status), uint256(ISettlement.LeaseStatus.Settled), "settled");
        assertEq(l.collected, 40, "collected");
        assertEq(settlement.collect(LEASE), 0, "nothing to collect");
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, LEASE, ISettlement.LeaseStatus.Settled)
        );
        settlement.settle(LEASE);
    }

    function test_settle_revertsWhileOpenOrUnknown() public {
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, LEASE, ISettlement.LeaseStatus.Open)
        );
        settlement.settle(LEASE);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, 99, ISettlement.LeaseStatus.None)
        );
        settlement.settle(99);
    }

    function test_settle_waitsForOpenClaims() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 10, 0);
        _redeem(v);
        _close();
        vm.warp(block.timestamp + WINDOW - 1);
        uint256 id = _claim(LEASE, 0, 0, v.requestHead, 0); // last second of the claim window
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementClaimsOpen.selector, LEASE, 1));
        settlement.settle(LEASE);
        vm.warp(block.timestamp + WINDOW);
        settlement.upholdClaim(id);
        settlement.settle(LEASE);
        assertEq(registry.freeStake(EXECUTOR), COLLATERAL - 10, "released what is left");
    }

    // ------------------------------------------------------------ openClaim

    function test_openClaim_recordsTheClaimAndTakesTheBond() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 10, 12, 5e18, 0);
        _redeem(v);
        uint256 c0 = token.balanceOf(customer);
        vm.expectEmit(true, true, false, true, address(settlement));
        emit ISettlement.ClaimOpened(1, LEASE, 11, uint64(block.timestamp + WINDOW), 5e18);
        uint256 id = _claim(LEASE, 10, 12, v.requestHead, 11);
        assertEq(id, 1, "first id");
        assertEq(settlement.claimCount(), 1, "count");
        assertEq(c0 - token.balanceOf(customer), BOND, "bond");
        ISettlement.Claim memory c = settlement.claim(id);
        assertEq(c.leaseId, LEASE, "lease");
        assertEq(c.firstNonce, 10, "first");
        assertEq(c.lastNonce, 12, "last");
        assertEq(c.nonce, 11, "nonce");
        assertEq(c.requestHead, v.requestHead, "head");
        assertEq(c.deadline, block.timestamp + WINDOW, "deadline");
        assertEq(c.compensation, 5e18, "what the batch paid (below claimSlash)");
        assertEq(uint256(c.status), uint256(ISettlement.ClaimStatus.Open), "open");
        assertEq(settlement.lease(LEASE).openClaims, 1, "counted");
        (, bool claimed) = settlement.batch(LEASE, 10, 12, v.requestHead);
        assertTrue(claimed, "claimed");
        // A batch that paid more than claimSlash is compensated with claimSlash.
        ISettlement.Voucher memory big = _voucher(LEASE, 13, 13, 50e18, 0);
        _redeem(big);
        id = _claim(LEASE, 13, 13, big.requestHead, 13);
        assertEq(settlement.claim(id).compensation, SLASH, "capped by claimSlash");
    }

    function test_openClaim_revertPaths() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 3, 10, 0);
        _redeem(v);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotCustomer.selector, provider, customer));
        settlement.openClaim(LEASE, 0, 3, v.requestHead, 1);
        vm.startPrank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNonceOutsideBatch.selector, 4, 0, 3));
        settlement.openClaim(LEASE, 0, 3, v.requestHead, 4);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNonceOutsideBatch.selector, 3, 4, 3));
        settlement.openClaim(LEASE, 4, 3, v.requestHead, 3);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBatchNotRedeemed.selector, LEASE, 0, 2, v.requestHead)
        );
        settlement.openClaim(LEASE, 0, 2, v.requestHead, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, 99, ISettlement.LeaseStatus.None)
        );
        settlement.openClaim(99, 0, 3, v.requestHead, 1);
        vm.stopPrank();
        // The bond must be there.
        vm.prank(customer);
        token.approve(address(settlement), 0);
        vm.prank(customer);
        vm.expectRevert();
        settlement.openClaim(LEASE, 0, 3, v.requestHead, 1);
        (, bool claimed) = settlement.batch(LEASE, 0, 3, v.requestHead);
        assertTrue(!claimed, "a failed claim marks nothing");
    }

    function test_openClaim_onlyWhileRedeemable() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 3, 10, 0);
        _redeem(v);
        _close();
        vm.warp(block.timestamp + WINDOW);
        vm.prank(customer);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementRedeemWindowClosed.selector, LEASE, uint64(block.timestamp))
        );
        settlement.openClaim(LEASE, 0, 3, v.requestHead, 1);
        settlement.settle(LEASE);
        vm.prank(customer);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, LEASE, ISettlement.LeaseStatus.Settled)
        );
        settlement.openClaim(LEASE, 0, 3, v.requestHead, 1);
    }

    // ------------------------------------------------------------ answerClaim

    function test_answerClaim_withReceiptAndRecords() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 10, 12, 10, 0);
        _redeem(v);
        uint256 id = _claim(LEASE, 10, 12, v.requestHead, 11);
        ISettlement.Receipt memory r = _receipt(LEASE, 10, 12, 0);
        bytes memory sig = _signReceipt(ENCLAVE_KEY, r);
        uint256 p0 = token.balanceOf(provider);
        vm.expectEmit(true, true, false, true, address(settlement));
        emit ISettlement.ClaimAnswered(id, LEASE, r.recordHead);
        vm.prank(stranger); // the receipt and records prove it; anyone may submit them
        settlement.answerClaim(id, r, sig, _records(10, 3, 0));
        assertEq(uint256(settlement.claim(id).status), uint256(ISettlement.ClaimStatus.Answered), "answered");
        assertEq(token.balanceOf(provider) - p0, BOND, "bond to the provider");
        assertEq(settlement.lease(LEASE).openClaims, 0, "closed");
        assertEq(registry.collateral(LEASE), COLLATERAL, "nothing slashed");
        ISettlement.CallRecord[] memory rs = _records(10, 3, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementClaimNotOpen.selector, id, ISettlement.ClaimStatus.Answered)
        );
        settlement.answerClaim(id, r, sig, rs);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementClaimNotOpen.selector, id, ISettlement.ClaimStatus.Answered)
        );
        settlement.upholdClaim(id);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownClaim.selector, 99));
        settlement.answerClaim(99, r, sig, rs);
    }

    function test_answerClaim_revertPaths() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 10, 12, 10, 0);
        _redeem(v);
        uint256 id = _claim(LEASE, 10, 12, v.requestHead, 11);
        ISettlement.Receipt memory r = _receipt(LEASE, 10, 12, 0);
        bytes memory sig = _signReceipt(ENCLAVE_KEY, r);
        ISettlement.CallRecord[] memory rs = _records(10, 3, 0);

        ISettlement.Receipt memory other = _receipt(LEASE, 10, 11, 0);
        bytes memory otherSig = _signReceipt(ENCLAVE_KEY, other);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementReceiptMismatch.selector, id));
        settlement.answerClaim(id, other, otherSig, _records(10, 2, 0));
        other = _receipt(LEASE, 9, 12, 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementReceiptMismatch.selector, id));
        settlement.answerClaim(id, other, sig, rs);
        other = _receipt(LEASE + 1, 10, 12, 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementReceiptMismatch.selector, id));
        settlement.answerClaim(id, other, sig, rs);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementReceiptMismatch.selector, id));
        settlement.answerClaim(id, r, sig, _records(10, 2, 0));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchTooLarge.selector, 257, 256));
        settlement.answerClaim(id, r, sig, new ISettlement.CallRecord[](257));

        ISettlement.CallRecord[] memory shuffled = _records(10, 3, 0);
        shuffled[1].nonce = 99;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementRecordMismatch.selector, 1, 99));
        settlement.answerClaim(id, r, sig, shuffled);
        ISettlement.CallRecord[] memory otherInput = _records(10, 3, 0);
        otherInput[2].inputHash = bytes32("tampered");
        (bytes32 reqHead,) = settlement.chainHeads(otherInput);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementRequestHeadMismatch.selector, reqHead, v.requestHead)
        );
        settlement.answerClaim(id, r, sig, otherInput);
        ISettlement.CallRecord[] memory otherOutput = _records(10, 3, 0);
        otherOutput[0].outputHash = bytes32("tampered");
        (, bytes32 recHead) = settlement.chainHeads(otherOutput);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementRecordHeadMismatch.selector, recHead, r.recordHead)
        );
        settlement.answerClaim(id, r, sig, otherOutput);
        bytes memory byCustomer = _signReceipt(CUSTOMER_KEY, r);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, customer, enclave));
        settlement.answerClaim(id, r, byCustomer, rs);

        uint64 deadline = settlement.claim(id).deadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementClaimPending.selector, id, deadline));
        settlement.upholdClaim(id);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementClaimExpired.selector, id, deadline));
        settlement.answerClaim(id, r, sig, rs);
    }

    function test_answerClaim_onItsDeadlineSecond() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 10, 0);
        _redeem(v);
        uint256 id = _claim(LEASE, 0, 0, v.requestHead, 0);
        vm.warp(settlement.claim(id).deadline);
        _answer(id, 0);
        assertEq(uint256(settlement.claim(id).status), uint256(ISettlement.ClaimStatus.Answered), "answered");
    }

    // ------------------------------------------------------------ upholdClaim

    function test_upholdClaim_slashesTheCollateral() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 20e18, 0);
        _redeem(v);
        uint256 id = _claim(LEASE, 0, 0, v.requestHead, 0);
        vm.warp(block.timestamp + WINDOW + 1);
        uint256 c0 = token.balanceOf(customer);
        vm.expectEmit(true, true, false, true, address(settlement));
        emit ISettlement.ClaimUpheld(id, LEASE, SLASH, SLASH);
        vm.prank(stranger);
        settlement.upholdClaim(id);
        assertEq(token.balanceOf(customer) - c0, BOND + SLASH, "bond back + slash");
        assertEq(registry.collateral(LEASE), COLLATERAL - SLASH, "slashed from the lease's collateral");
        assertEq(uint256(settlement.claim(id).status), uint256(ISettlement.ClaimStatus.Upheld), "upheld");
        assertEq(settlement.lease(LEASE).openClaims, 0, "closed");
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementClaimNotOpen.selector, id, ISettlement.ClaimStatus.Upheld)
        );
        settlement.upholdClaim(id);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownClaim.selector, 99));
        settlement.upholdClaim(99);
    }

    function test_upholdClaim_paysWhatTheCollateralStillHolds() public {
        // Another slasher (the witness pool) took most of the collateral first.
        vm.prank(address(settlement));
        registry.slashCollateral(LEASE, COLLATERAL - 3e18);
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 20e18, 0);
        _redeem(v);
        uint256 id = _claim(LEASE, 0, 0, v.requestHead, 0);
        vm.warp(block.timestamp + WINDOW + 1);
        uint256 c0 = token.balanceOf(customer);
        settlement.upholdClaim(id);
        assertEq(token.balanceOf(customer) - c0, BOND + 3e18, "bond + what was left");
        assertEq(registry.collateral(LEASE), 0, "empty");
    }

    function test_upholdClaim_withoutSlashOrBond() public {
        Settlement s = new Settlement(token, IRegistry(address(registry)), WINDOW, WINDOW, 0, 0);
        registry.setSettlement(address(s));
        s.setMarket(address(this));
        registry.lockCollateral(LEASE + 1, EXECUTOR, COLLATERAL);
        token.transfer(address(s), BUDGET);
        s.openLease(LEASE + 1, customer, provider, EXECUTOR, enclave, BUDGET);
        ISettlement.Voucher memory v = ISettlement.Voucher(LEASE + 1, 0, 0, bytes32("h"), 1, uint64(block.timestamp));
        bytes memory sig = _sign(CUSTOMER_KEY, s.voucherDigest(v));
        vm.prank(provider);
        s.redeem(v, sig);
        uint256 c0 = token.balanceOf(customer);
        vm.prank(customer);
        uint256 id = s.openClaim(LEASE + 1, 0, 0, bytes32("h"), 0);
        assertEq(s.claim(id).compensation, 0, "nothing to slash");
        vm.warp(block.timestamp + WINDOW + 1);
        s.upholdClaim(id);
        assertEq(token.balanceOf(customer), c0, "no bond moved");
        assertEq(registry.collateral(LEASE + 1), COLLATERAL, "nothing slashed");
    }

    // ------------------------------------------------------------ views

    function test_views() public view {
        (bytes32 a, bytes32 b) = settlement.chainHeads(new ISettlement.CallRecord[](0));
        assertEq(a, bytes32(0), "request");
        assertEq(b, bytes32(0), "record");
        assertTrue(settlement.domainSeparator() != bytes32(0), "domain");
        (bytes32 req, bytes32 rec) = settlement.chainHeads(_records(5, 2, 0));
        ISettlement.CallRecord[] memory rs = _records(5, 2, 0);
        bytes32 req0 = keccak256(abi.encode(bytes32(0), rs[0].nonce, rs[0].functionHash, rs[0].inputHash));
        assertEq(req, keccak256(abi.encode(req0, rs[1].nonce, rs[1].functionHash, rs[1].inputHash)), "request chain");
        bytes32 rec0 = keccak256(
            abi.encode(
                bytes32(0), rs[0].nonce, rs[0].functionHash, rs[0].inputHash, rs[0].outputHash, rs[0].usage, rs[0].price
            )
        );
        assertEq(
            rec,
            keccak256(
                abi.encode(
                    rec0, rs[1].nonce, rs[1].functionHash, rs[1].inputHash, rs[1].outputHash, rs[1].usage, rs[1].price
                )
            ),
            "record chain"
        );
    }

    // ------------------------------------------------------------ redeem: the assembly path and the Solidity path

    /// A closed lease inside its window redeems through the Solidity checks: same amounts, batch and event.
    function test_redeem_closedLeaseRecordsLikeAnOpenOne() public {
        _redeem(_voucher(LEASE, 0, 0, 10, 0));
        _close();
        ISettlement.Voucher memory v = _voucher(LEASE, 5, 9, 25, 3);
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        vm.expectEmit(true, false, false, true, address(settlement));
        emit ISettlement.VoucherRedeemed(LEASE, 5, 9, v.requestHead, 25, 15);
        vm.prank(provider);
        assertEq(settlement.redeem(v, sig), 15, "delta");
        (uint256 paid, bool claimed) = settlement.batch(LEASE, 5, 9, v.requestHead);
        assertEq(paid, 15, "batch");
        assertTrue(!claimed, "unclaimed");
        assertEq(settlement.lease(LEASE).paid, 25, "paid");
        v.cumulativeAmount = 31;
        assertEq(_redeem(v), 6, "same batch again");
        (paid,) = settlement.batch(LEASE, 5, 9, v.requestHead);
        assertEq(paid, 21, "accumulated");
    }

    /// On another chain (a fork) the cached domain does not hold: vouchers signed for that chain redeem
    /// through the Solidity path, and vouchers signed for the original chain do not.
    function test_redeem_onAnotherChain() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 10, 0);
        bytes memory original = _signVoucher(CUSTOMER_KEY, v);
        vm.chainId(block.chainid + 1);
        bytes memory forked = _signVoucher(CUSTOMER_KEY, v);
        vm.prank(provider);
        vm.expectRevert();
        settlement.redeem(v, original);
        vm.prank(provider);
        assertEq(settlement.redeem(v, forked), 10, "redeemed");
        (uint256 paid,) = settlement.batch(LEASE, 0, 0, v.requestHead);
        assertEq(paid, 10, "batch");
    }

    /// Lease ids of 2^64 and more never exist; an id that aliases an open lease's slot modulo 2^256
    /// (4 * id wraps around) redeems nothing.
    function test_leaseIds_below2To64() public {
        uint256 huge = 1 << 64;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementLeaseIdTooLarge.selector, huge));
        settlement.openLease(huge, customer, provider, 1, enclave, 1);
        uint256 alias_ = LEASE + (1 << 254);
        ISettlement.Voucher memory v = _voucher(alias_, 0, 0, 10, 0);
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownLease.selector, alias_));
        settlement.redeem(v, sig);
        assertEq(uint256(settlement.lease(huge).status), uint256(ISettlement.LeaseStatus.None), "none");
        assertEq(settlement.lease(alias_).customer, address(0), "not the aliased lease");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownLease.selector, huge));
        settlement.closeLease(huge);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownLease.selector, huge));
        settlement.collect(huge);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownLease.selector, huge));
        settlement.settle(huge);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementUnknownLease.selector, huge));
        settlement.openClaim(huge, 0, 0, bytes32(0), 0);
        assertEq(settlement.lease(LEASE).paid, 0, "nothing paid");
    }

    /// Both forms of an ECDSA signature (s and n - s) recover the customer; the second form of a
    /// redeemed voucher pays nothing more. A v other than 27/28 or another length recovers nobody.
    function test_redeem_signatureForms() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 10, 0);
        (uint8 rv, bytes32 r, bytes32 sv) = vm.sign(CUSTOMER_KEY, settlement.voucherDigest(v));
        bytes32 highS = bytes32(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(sv));
        bytes memory flipped = abi.encodePacked(r, highS, rv == 27 ? uint8(28) : uint8(27));
        vm.startPrank(provider);
        assertEq(settlement.redeem(v, flipped), 10, "the other form recovers the customer");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNothingToRedeem.selector, 10, 10));
        settlement.redeem(v, abi.encodePacked(r, sv, rv));
        v.cumulativeAmount = 20;
        (rv, r, sv) = vm.sign(CUSTOMER_KEY, settlement.voucherDigest(v));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, address(0), customer));
        settlement.redeem(v, abi.encodePacked(r, sv, uint8(29)));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, address(0), customer));
        settlement.redeem(v, abi.encodePacked(r, sv));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBadSigner.selector, address(0), customer));
        settlement.redeem(v, abi.encodePacked(r, sv, rv, uint8(0)));
        vm.stopPrank();
        assertEq(settlement.lease(LEASE).paid, 10, "paid once");
    }

    /// Voucher fields typed uint64 with high bits set are refused (as the ABI decoder refuses them),
    /// though the signature covers those exact words.
    function test_redeem_dirtyUint64Refused() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 10, 0);
        // Fields 1..3 dirty (firstNonce, lastNonce, deadline); then the clean voucher, built the same
        // way, as the control.
        for (uint256 field = 1; field <= 4; ++field) {
            bytes memory data = abi.encodeCall(settlement.redeem, (v, hex""));
            if (field < 4) data[4 + (field == 3 ? 5 : field) * 32] = 0x01; // the top byte of the word
            bytes32 structHash;
            assembly {
                // keccak256(abi.encode(VOUCHER_TYPEHASH, v)) over the words as sent
                let m := mload(0x40)
                mstore(m, 0x4a737e92bb312be74a1e35b3552d32fdb6371d71641eeffb82014711d5127c95)
                mcopy(add(m, 0x20), add(data, 0x24), 0xc0)
                structHash := keccak256(m, 0xe0)
            }
            bytes32 digest = keccak256(abi.encodePacked(hex"1901", settlement.domainSeparator(), structHash));
            bytes memory call = bytes.concat(
                _slice(data, 0, 4 + 7 * 32), bytes32(uint256(65)), _sign(CUSTOMER_KEY, digest), new bytes(31)
            );
            vm.prank(provider);
            (bool ok,) = address(settlement).call(call);
            assertTrue(ok == (field == 4), "only the clean voucher redeems");
        }
        assertEq(settlement.lease(LEASE).paid, 10, "the control paid");
        assertEq(
            settlement.VOUCHER_TYPEHASH(),
            0x4a737e92bb312be74a1e35b3552d32fdb6371d71641eeffb82014711d5127c95,
            "typehash"
        );
    }

    function _slice(bytes memory b, uint256 from, uint256 to) internal pure returns (bytes memory out) {
        out = new bytes(to - from);
        for (uint256 i = from; i < to; ++i) {
            out[i - from] = b[i];
        }
    }

    /// The same random voucher sequences on an open lease (assembly path) and on a closed lease inside
    /// its window (Solidity path) succeed and fail alike, pay alike and record the same batches.
    function testFuzz_redeem_pathsAgree(uint256 seed) public {
        _open(LEASE + 1, BUDGET);
        settlement.closeLease(LEASE + 1);
        for (uint256 k = 0; k < 10; ++k) {
            _agreeStep(uint256(keccak256(abi.encode(seed, k))), k);
        }
    }

    struct Attempt {
        uint64 first;
        uint64 last;
        uint256 amount;
        uint256 mode; // 0: a stranger calls, 1: expired, 2: forged, 3: short signature, else valid
        uint256 salt;
    }

    struct Outcome {
        bool ok;
        uint256 paidNow;
        bytes4 err;
    }

    function _agreeStep(uint256 r, uint256 salt) internal {
        Attempt memory t;
        t.first = 1 + uint64(r % 600);
        // Sometimes a reversed range, sometimes one longer than MAX_BATCH.
        t.last = (r >> 16) % 5 == 0 ? t.first - 1 : t.first + uint64((r >> 24) % 300);
        t.amount = (r >> 40) % (BUDGET + BUDGET / 5);
        t.mode = (r >> 120) % 8;
        t.salt = salt;
        Outcome memory a = _tryRedeem(LEASE, t);
        Outcome memory b = _tryRedeem(LEASE + 1, t);
        assertTrue(a.ok == b.ok, "both succeed or both fail");
        assertEq(a.paidNow, b.paidNow, "same amount");
        assertEq(uint32(a.err), uint32(b.err), "same error");
        if (a.ok) {
            bytes32 head = _requestHead(t.first, t.last, salt);
            (uint256 batchA,) = settlement.batch(LEASE, t.first, t.last, head);
            (uint256 batchB,) = settlement.batch(LEASE + 1, t.first, t.last, head);
            assertEq(batchA, batchB, "same batch");
            assertTrue(batchA >= a.paidNow, "recorded");
        }
        assertEq(settlement.lease(LEASE).paid, settlement.lease(LEASE + 1).paid, "same paid");
    }

    function _tryRedeem(uint256 leaseId, Attempt memory t) internal returns (Outcome memory o) {
        ISettlement.Voucher memory v = ISettlement.Voucher(
            leaseId,
            t.first,
            t.last,
            _requestHead(t.first, t.last >= t.first ? t.last : t.first, t.salt),
            t.amount,
            uint64(block.timestamp + 10)
        );
        if (t.mode == 1) v.deadline = uint64(block.timestamp - 1);
        bytes memory sig = _signVoucher(t.mode == 2 ? STRANGER_KEY : CUSTOMER_KEY, v);
        if (t.mode == 3) sig = _slice(sig, 0, 64);
        vm.prank(t.mode == 0 ? stranger : provider);
        try settlement.redeem(v, sig) returns (uint256 p) {
            o.ok = true;
            o.paidNow = p;
        } catch (bytes memory reason) {
            o.err = bytes4(reason);
        }
    }

    // ------------------------------------------------------------ regressions

    /// @notice Finding 1. Old rules: anyone could redeem and the nonce floor jumped past the voucher's
    /// last nonce, so the customer redeemed its own zero-amount voucher over 0..2^64-2 and voided every
    /// voucher the provider held (all its calls unpaid; the whole budget refunded to the customer).
    /// Now only the provider redeems, a voucher must pay something, a range spans at most 256 nonces and
    /// there is no floor: the provider's vouchers still redeem afterwards.
    function test_attack_customerVoidsVouchers() public {
        ISettlement.Voucher memory real = _voucher(LEASE, 0, 63, 40e18, 0);
        ISettlement.Voucher memory voiding =
            ISettlement.Voucher(LEASE, 0, type(uint64).max - 1, bytes32(0), 0, uint64(block.timestamp + 1000));
        bytes memory sig = _signVoucher(CUSTOMER_KEY, voiding);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotProvider.selector, customer, provider));
        settlement.redeem(voiding, sig);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotProvider.selector, stranger, provider));
        settlement.redeem(voiding, sig);
        // Not even the provider could push such a voucher through.
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBatchTooLarge.selector, uint256(type(uint64).max), 256)
        );
        settlement.redeem(voiding, sig);
        voiding.lastNonce = 255;
        sig = _signVoucher(CUSTOMER_KEY, voiding);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNothingToRedeem.selector, 0, 0));
        settlement.redeem(voiding, sig);

        // Nor can the customer (or anyone) redeem a well-formed voucher of its own, e.g. to record a
        // batch the provider never served and then claim on it.
        ISettlement.Voucher memory own = _voucher(LEASE, 0, 3, 1, 9);
        sig = _signVoucher(CUSTOMER_KEY, own);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotProvider.selector, customer, provider));
        settlement.redeem(own, sig);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotProvider.selector, stranger, provider));
        settlement.redeem(own, sig);
        assertEq(settlement.lease(LEASE).paid, 0, "nothing redeemed");

        assertEq(_redeem(real), 40e18, "the provider's voucher still pays");
        assertEq(_redeem(_voucher(LEASE, 64, 64, 41e18, 0)), 1e18, "and the next one");
    }

    /// @notice Finding 2. Old rules: the customer claimed any nonce of any voucher it signed itself (a
    /// batch the provider never saw, with an invented request head, or a range no receipt can cover),
    /// the provider could not answer and lost `claimSlash` of stake per claim. Now a claim needs a batch
    /// the provider redeemed, with the same range and request head.
    function test_attack_madeUpClaims() public {
        ISettlement.Voucher memory real = _voucher(LEASE, 0, 3, 10e18, 0);
        _redeem(real);
        ISettlement.Voucher memory unredeemed = _voucher(LEASE, 4, 7, 20e18, 0);
        vm.startPrank(customer);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBatchNotRedeemed.selector, LEASE, 4, 7, unredeemed.requestHead)
        );
        settlement.openClaim(LEASE, 4, 7, unredeemed.requestHead, 5);
        bytes32 invented = keccak256("invented");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchNotRedeemed.selector, LEASE, 0, 3, invented));
        settlement.openClaim(LEASE, 0, 3, invented, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBatchNotRedeemed.selector, LEASE, 0, 2, real.requestHead)
        );
        settlement.openClaim(LEASE, 0, 2, real.requestHead, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBatchNotRedeemed.selector, LEASE, 0, 300, real.requestHead)
        );
        settlement.openClaim(LEASE, 0, 300, real.requestHead, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementBatchNotRedeemed.selector, LEASE, 0, type(uint64).max, real.requestHead
            )
        );
        settlement.openClaim(LEASE, 0, type(uint64).max, real.requestHead, 1);
        vm.stopPrank();
        assertEq(settlement.claimCount(), 0, "no claim opened");
        assertEq(registry.collateral(LEASE), COLLATERAL, "collateral intact");
    }

    /// @notice Finding 2. Old rules: claims were unlimited per voucher, each slashing `claimSlash`. Now
    /// one claim per batch, whatever became of the first (open, answered, upheld) and even after the
    /// batch was redeemed again.
    function test_attack_claimTwiceOnABatch() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 3, 10e18, 0);
        _redeem(v);
        uint256 id = _claim(LEASE, 0, 3, v.requestHead, 0);
        vm.startPrank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchAlreadyClaimed.selector, LEASE, 0, 3));
        settlement.openClaim(LEASE, 0, 3, v.requestHead, 1);
        vm.stopPrank();
        v.cumulativeAmount = 12e18;
        _redeem(v);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchAlreadyClaimed.selector, LEASE, 0, 3));
        settlement.openClaim(LEASE, 0, 3, v.requestHead, 2);
        vm.warp(block.timestamp + WINDOW + 1);
        settlement.upholdClaim(id);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchAlreadyClaimed.selector, LEASE, 0, 3));
        settlement.openClaim(LEASE, 0, 3, v.requestHead, 3);
        assertEq(registry.collateral(LEASE), COLLATERAL - SLASH, "slashed once");
    }

    /// @notice Finding 2. Old rules: the compensation was the fixed `claimSlash`, whatever the claimed
    /// batch was worth, so a customer paying a few wei per batch won `claimSlash` per unanswered claim.
    /// Now the compensation is at most what the claimed batch paid.
    function testFuzz_attack_compensationNeverExceedsTheBatch(uint256 amount, uint256 before) public {
        amount = bound(amount, 1, BUDGET);
        before = bound(before, 0, amount - 1);
        if (before > 0) _redeem(_voucher(LEASE, 0, 0, before, 1));
        ISettlement.Voucher memory v = _voucher(LEASE, 1, 4, amount, 0);
        _redeem(v);
        uint256 batchPaid = amount - before;
        uint256 id = _claim(LEASE, 1, 4, v.requestHead, 2);
        uint256 c0 = token.balanceOf(customer);
        vm.warp(block.timestamp + WINDOW + 1);
        settlement.upholdClaim(id);
        uint256 slashed = COLLATERAL - registry.collateral(LEASE);
        assertLe(slashed, batchPaid, "at most the batch");
        assertEq(slashed, batchPaid < SLASH ? batchPaid : SLASH, "min(claimSlash, batch)");
        assertEq(token.balanceOf(customer) - c0, BOND + slashed, "customer gets bond + slashed");
    }

    /// @notice Finding 2. Old rules: an honest provider lost `claimSlash` per claim on vouchers it never
    /// accepted. Now a provider that redeemed only batches it holds receipts for answers every claim
    /// the customer can open, over random batches, claims and nonces, and never loses collateral; the
    /// customer cannot open any other claim and cannot uphold an answered one.
    function testFuzz_attack_honestProviderNeverLoses(uint256 seed) public {
        uint256 batches = 1 + seed % 6;
        uint64[] memory firsts = new uint64[](batches);
        uint64[] memory lasts = new uint64[](batches);
        bytes32[] memory heads = new bytes32[](batches);
        uint64 next = uint64(seed >> 8) % 1000;
        uint256 cumulative;
        for (uint256 i = 0; i < batches; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            firsts[i] = next;
            lasts[i] = next + uint64(r % 8);
            next = lasts[i] + 1;
            cumulative += 1 + (r >> 16) % 20e18;
            if (cumulative > BUDGET) cumulative = BUDGET;
            ISettlement.Voucher memory v = _voucher(LEASE, firsts[i], lasts[i], cumulative, i);
            heads[i] = v.requestHead;
            if (cumulative > settlement.lease(LEASE).paid) _redeem(v);
        }
        uint256 p0 = token.balanceOf(provider);
        uint256 answered;
        for (uint256 k = 0; k < 2 * batches; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, "claim", k)));
            uint256 i = r % batches;
            uint64 nonce = firsts[i] + uint64((r >> 8) % (uint256(lasts[i] - firsts[i]) + 1));
            // A made-up variant of a real batch is refused outright.
            vm.prank(customer);
            vm.expectRevert();
            settlement.openClaim(LEASE, firsts[i], lasts[i], keccak256(abi.encode(heads[i], k)), nonce);
            (uint256 batchPaid, bool claimed) = settlement.batch(LEASE, firsts[i], lasts[i], heads[i]);
            if (batchPaid == 0 || claimed) {
                vm.prank(customer);
                vm.expectRevert();
                settlement.openClaim(LEASE, firsts[i], lasts[i], heads[i], nonce);
                continue;
            }
            uint256 id = _claim(LEASE, firsts[i], lasts[i], heads[i], nonce);
            vm.warp(block.timestamp + (r >> 32) % (WINDOW + 1));
            _answer(id, i);
            answered++;
            vm.warp(block.timestamp + WINDOW + 1);
            vm.expectRevert(
                abi.encodeWithSelector(
                    ISettlement.SettlementClaimNotOpen.selector, id, ISettlement.ClaimStatus.Answered
                )
            );
            settlement.upholdClaim(id);
        }
        assertEq(registry.collateral(LEASE), COLLATERAL, "collateral never drops");
        assertEq(token.balanceOf(provider) - p0, answered * BOND, "the provider earns every bond");
        _close();
        vm.warp(block.timestamp + WINDOW);
        settlement.settle(LEASE);
        assertEq(registry.freeStake(EXECUTOR), COLLATERAL, "all collateral released");
    }

    /// @notice Finding 1. Old rules: a nonce floor forced vouchers to be redeemed in nonce order, so a
    /// provider that accepted batches out of order lost the earlier ones. Now only the cumulative amount
    /// orders vouchers: 10..12 at 100 then 7..9 at 120 both redeem (120 in total), and a voucher below
    /// what was paid is refused whatever its nonces.
    function test_attack_outOfOrderVouchersStillRedeem() public {
        assertEq(_redeem(_voucher(LEASE, 10, 12, 100, 0)), 100, "10..12");
        assertEq(_redeem(_voucher(LEASE, 7, 9, 120, 1)), 20, "7..9 after it");
        assertEq(settlement.lease(LEASE).paid, 120, "total");
        ISettlement.Voucher memory lower = _voucher(LEASE, 13, 13, 110, 2);
        bytes memory sig = _signVoucher(CUSTOMER_KEY, lower);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNothingToRedeem.selector, 110, 120));
        settlement.redeem(lower, sig);
    }

    /// @notice Finding 1 (property): over random vouchers in random nonce order, what the lease paid is
    /// exactly the largest cumulative amount redeemed, never above the budget, and the batches' amounts
    /// add up to it: nothing is paid twice.
    function testFuzz_attack_nothingPaidTwice(uint256 seed) public {
        uint256 maxAccepted;
        uint256 released;
        for (uint256 k = 0; k < 12; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint64 first = uint64(r) % 64;
            uint64 last = first + uint64((r >> 64) % 4);
            uint256 amount = (r >> 128) % (BUDGET + BUDGET / 4);
            ISettlement.Voucher memory v = _voucher(LEASE, first, last, amount, (r >> 200) % 3);
            bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
            (uint256 batchBefore,) = settlement.batch(LEASE, first, last, v.requestHead);
            vm.prank(provider);
            try settlement.redeem(v, sig) returns (uint256 paidNow) {
                assertTrue(amount > maxAccepted && amount <= BUDGET, "accepted only a larger amount within budget");
                assertEq(paidNow, amount - maxAccepted, "the delta");
                (uint256 batchAfter,) = settlement.batch(LEASE, first, last, v.requestHead);
                assertEq(batchAfter - batchBefore, paidNow, "recorded on the batch");
                maxAccepted = amount;
                released += paidNow;
            } catch {
                assertTrue(amount <= maxAccepted || amount > BUDGET, "refused only what must be");
            }
            assertEq(settlement.lease(LEASE).paid, maxAccepted, "paid = max cumulative redeemed");
            assertLe(settlement.lease(LEASE).paid, BUDGET, "within budget");
        }
        assertEq(released, maxAccepted, "sum of releases = max cumulative");
    }

    /// @notice Findings 3 and 5. Old rules: a provider could move stake out (or the executor was
    /// unlocked) before the claims on its last lease were decided. Now the lease's collateral is
    /// released only by `settle`, which waits for the redeem window and every open claim.
    function test_attack_collateralOutlivesClaims() public {
        ISettlement.Voucher memory v = _voucher(LEASE, 0, 0, 20e18, 0);
        _redeem(v);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementLeaseNotOpen.selector, LEASE, ISettlement.LeaseStatus.Open)
        );
        settlement.settle(LEASE);
        _close();
        vm.warp(block.timestamp + 50);
        uint256 id = _claim(LEASE, 0, 0, v.requestHead, 0);
        vm.warp(block.timestamp + 50);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementClaimsOpen.selector, LEASE, 1));
        settlement.settle(LEASE);
        assertTrue(!registry.released(LEASE), "still locked");
        vm.warp(block.timestamp + WINDOW);
        settlement.upholdClaim(id);
        assertEq(registry.collateral(LEASE), COLLATERAL - SLASH, "the claim was paid from the collateral");
        settlement.settle(LEASE);
        assertTrue(registry.released(LEASE), "released after the claim");
        assertEq(registry.freeStake(EXECUTOR), COLLATERAL - SLASH, "what is left");
    }

    // ------------------------------------------------------------ gas

    /// @notice Gas of a redemption as a transaction: the call frame (storage cold, as at the start of a
    /// transaction) plus the 21,000 intrinsic gas and the calldata (EIP-2028; the EIP-7623 floor is
    /// lower for this call). Target: 60,000.
    function test_gas_redeem() public {
        _redeem(_voucher(LEASE, 0, 0, 0.001e18, 0));
        ISettlement.Voucher memory v = _voucher(LEASE, 1, 1, 0.002e18, 1);
        v.leaseId = LEASE;
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        bytes memory data = abi.encodeCall(settlement.redeem, (v, sig));
        vm.cool(address(settlement));
        vm.prank(provider);
        settlement.redeem(v, sig);
        uint256 frame = vm.lastCallGas().gasTotalUsed;
        (uint256 standard, uint256 floor) = _calldataGas(data);
        uint256 txGas = 21_000 + frame + standard;
        if (txGas < 21_000 + floor) txGas = 21_000 + floor;
        emit log_named_uint("redeem call frame", frame);
        emit log_named_uint("redeem calldata", standard);
        emit log_named_uint("redeem transaction", txGas);
        assertLe(txGas, 60_000, "redeem <= 60k");
    }

    /// EIP-2028 calldata gas (16 per non-zero byte, 4 per zero byte) and the EIP-7623 floor (10 per token,
    /// a non-zero byte = 4 tokens).
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

/// @notice Random walks over two leases: redemptions (also by the wrong caller, over budget, of a batch
/// again), collections, claims (also made up), answers, upholds, time, closing and settling. Ghost
/// counters record anything the rules forbid; the invariants below read them and the books.
contract SettlementHandler is SettlementSetup {
    struct BatchRef {
        uint256 leaseId;
        uint64 first;
        uint64 last;
        bytes32 head;
        uint256 salt;
    }

    BatchRef[] internal _redeemed;
    uint256[] internal _claimIds;
    mapping(uint256 claimId => uint256) internal _claimBatch;
    uint256 public madeUpClaimsOpened;
    uint256 public overSlashed;
    uint256 public honestAnswerRefused;
    uint256 public notProviderRedeemed;
    uint256 public answered;
    uint256 public releasedEarly;
    mapping(uint256 leaseId => uint256) public slashedFrom;
    /// Hidden probes: what redeemProbes paid per lease, the largest cap granted per (lease, witness), and
    /// counts of payments beyond a grant and of refunds other than budget - everything paid.
    mapping(uint256 leaseId => uint256) public probesPaid;
    mapping(uint256 leaseId => mapping(address witness => uint256)) public maxGranted;
    uint256 public probesOverGranted;
    uint256 public refundWrong;
    uint256 internal constant PROBE_WITNESS_KEY = 0x717E55;

    constructor() {
        _deploy();
        _open(1, BUDGET);
        _open(2, BUDGET);
    }

    function _lease(uint256 seed) internal pure returns (uint256) {
        return 1 + seed % 2;
    }

    function redeem(uint256 seed) external {
        uint256 leaseId = _lease(seed);
        uint64 first = uint64(seed >> 8) % 1000;
        uint256 shape = (seed >> 24) % 10; // 0: reversed, 1: longer than MAX_BATCH, else 1..8 nonces
        uint64 last = shape == 0 ? (first == 0 ? 0 : first - 1) : first + (shape == 1 ? 256 : uint64((seed >> 32) % 8));
        uint256 amount = settlement.lease(leaseId).paid + (seed >> 40) % (BUDGET / 4);
        uint256 salt = _redeemed.length;
        // The request head of real records (a range no batch can have gets a placeholder).
        bytes32 head = shape > 1 ? _requestHead(first, last, salt) : bytes32(seed);
        ISettlement.Voucher memory v =
            ISettlement.Voucher(leaseId, first, last, head, amount, uint64(block.timestamp + 50));
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        bool byCustomer = (seed >> 100) % 10 == 0;
        vm.prank(byCustomer ? customer : provider);
        try settlement.redeem(v, sig) {
            if (byCustomer) notProviderRedeemed++;
            _redeemed.push(BatchRef(leaseId, first, last, head, salt));
        } catch {}
    }

    /// Redeems a recorded batch again with a higher amount.
    function redeemAgain(uint256 seed, uint256 extra) external {
        if (_redeemed.length == 0) return;
        BatchRef memory b = _redeemed[seed % _redeemed.length];
        uint256 amount = settlement.lease(b.leaseId).paid + 1 + extra % (BUDGET / 8);
        ISettlement.Voucher memory v =
            ISettlement.Voucher(b.leaseId, b.first, b.last, b.head, amount, uint64(block.timestamp + 50));
        bytes memory sig = _signVoucher(CUSTOMER_KEY, v);
        vm.prank(provider);
        try settlement.redeem(v, sig) {} catch {}
    }

    function collect(uint256 seed) external {
        try settlement.collect(_lease(seed)) {} catch {}
    }

    /// The provider redeems a witness's probe voucher under a customer grant (one of two witnesses,
    /// caps and amounts random; sometimes the witness forges the grant).
    function redeemProbes(uint256 seed) external {
        uint256 leaseId = _lease(seed);
        uint256 key = PROBE_WITNESS_KEY + (seed >> 8) % 2;
        address w = vm.addr(key);
        bool forged = (seed >> 16) % 8 == 0;
        ISettlement.ProbeGrant memory g =
            ISettlement.ProbeGrant(leaseId, w, 1, 10, (seed >> 24) % (BUDGET / 3), uint64(block.timestamp + 50));
        bytes memory gs = _sign(forged ? key : CUSTOMER_KEY, settlement.probeGrantDigest(g));
        uint256 amount = settlement.probePaid(leaseId, w) + (seed >> 128) % (BUDGET / 8);
        uint64 first = uint64(seed >> 64) % 1000;
        ISettlement.Voucher memory v =
            ISettlement.Voucher(leaseId, first, first, bytes32(seed), amount, uint64(block.timestamp + 50));
        bytes memory vs = _signVoucher(key, v);
        vm.prank(provider);
        try settlement.redeemProbes(g, gs, v, vs) returns (uint256 p) {
            probesPaid[leaseId] += p;
        } catch {}
        if (!forged && g.maxAmount > maxGranted[leaseId][w]) maxGranted[leaseId][w] = g.maxAmount;
        if (settlement.probePaid(leaseId, w) > maxGranted[leaseId][w]) probesOverGranted++;
    }

    function openClaim(uint256 seed) external {
        if (_redeemed.length == 0) return;
        uint256 i = seed % _redeemed.length;
        BatchRef memory b = _redeemed[i];
        uint64 nonce = b.first + uint64((seed >> 64) % (uint256(b.last - b.first) + 1));
        vm.prank(customer);
        try settlement.openClaim(b.leaseId, b.first, b.last, b.head, nonce) returns (uint256 id) {
            _claimIds.push(id);
            _claimBatch[id] = i;
            (uint256 batchPaid,) = settlement.batch(b.leaseId, b.first, b.last, b.head);
            if (settlement.claim(id).compensation > batchPaid) overSlashed++;
        } catch {}
    }

    /// A claim on something the provider never redeemed.
    function openMadeUpClaim(uint256 seed) external {
        uint64 first = uint64(seed) % 1000;
        vm.prank(customer);
        try settlement.openClaim(
            _lease(seed), first, first + uint64((seed >> 64) % 300), keccak256(abi.encode(seed)), first
        ) {
            madeUpClaimsOpened++;
        } catch {}
    }

    /// The provider answers with the enclave's receipt and the records of the batch (it holds them for
    /// every batch it redeemed); inside the answer window this must always succeed.
    function answer(uint256 seed) external {
        uint256 n = _claimIds.length;
        uint256 id;
        ISettlement.Claim memory c;
        for (uint256 k = 0; k < n; ++k) {
            id = _claimIds[(seed % n + k) % n];
            c = settlement.claim(id);
            if (c.status == ISettlement.ClaimStatus.Open && block.timestamp <= c.deadline) break;
        }
        if (c.status != ISettlement.ClaimStatus.Open || block.timestamp > c.deadline) return;
        ISettlement.CallRecord[] memory rs = _headRecords(_redeemed[_claimBatch[id]]);
        ISettlement.Receipt memory r = ISettlement.Receipt(c.leaseId, c.firstNonce, c.lastNonce, bytes32(0), "ev", 1, 2);
        (, r.recordHead) = settlement.chainHeads(rs);
        bytes memory sig = _signReceipt(ENCLAVE_KEY, r);
        vm.prank(provider);
        try settlement.answerClaim(id, r, sig, rs) {
            answered++;
        } catch {
            honestAnswerRefused++;
        }
    }

    function _headRecords(BatchRef memory b) internal pure returns (ISettlement.CallRecord[] memory) {
        return _records(b.first, uint256(b.last - b.first) + 1, b.salt);
    }

    function uphold(uint256 seed) external {
        if (_claimIds.length == 0) return;
        uint256 id = _claimIds[seed % _claimIds.length];
        ISettlement.Claim memory c = settlement.claim(id);
        uint256 before = registry.collateral(c.leaseId);
        try settlement.upholdClaim(id) {
            uint256 taken = before - registry.collateral(c.leaseId);
            slashedFrom[c.leaseId] += taken;
            if (taken > c.compensation) overSlashed++;
        } catch {}
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + seconds_ % 150);
    }

    function close(uint256 seed) external {
        try settlement.closeLease(_lease(seed)) {} catch {}
    }

    function settle(uint256 seed) external {
        uint256 leaseId = _lease(seed);
        uint256 before = token.balanceOf(customer);
        try settlement.settle(leaseId) returns (uint256 refunded) {
            ISettlement.Lease memory l = settlement.lease(leaseId);
            uint256 expected = BUDGET - l.paid - probesPaid[leaseId];
            if (refunded != expected || token.balanceOf(customer) - before != expected) refundWrong++;
        } catch {}
        if (registry.released(leaseId) && settlement.lease(leaseId).status != ISettlement.LeaseStatus.Settled) {
            releasedEarly++;
        }
    }

    // ---- views for the invariants

    /// Budgets not yet collected on unsettled leases plus the bonds of open claims.
    function owed() external view returns (uint256 sum) {
        for (uint256 id = 1; id <= 2; ++id) {
            ISettlement.Lease memory l = settlement.lease(id);
            if (l.status != ISettlement.LeaseStatus.Settled) sum += uint256(l.budget) - l.collected;
            sum += uint256(l.openClaims) * BOND;
        }
    }

    function batchSum(uint256 leaseId) external view returns (uint256 sum) {
        for (uint256 i = 0; i < _redeemed.length; ++i) {
            BatchRef memory b = _redeemed[i];
            if (b.leaseId != leaseId) continue;
            (uint256 p,) = settlement.batch(b.leaseId, b.first, b.last, b.head);
            sum += p;
        }
    }

    function books() external view returns (SettlementTestToken, Settlement, RegistryDouble) {
        return (token, settlement, registry);
    }
}

contract SettlementInvariantTest is TestBase {
    SettlementHandler internal handler;

    function setUp() public {
        handler = new SettlementHandler();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// The settlement holds exactly the uncollected budgets of unsettled leases and the open bonds.
    function invariant_balanceMatchesBooks() public view {
        (SettlementTestToken token, Settlement settlement,) = handler.books();
        assertEq(token.balanceOf(address(settlement)), handler.owed(), "balance = budgets left + bonds");
    }

    /// collected <= paid <= budget, and paid is exactly what the recorded batches released.
    function invariant_paidWithinBudgetAndByBatches() public view {
        (, Settlement settlement,) = handler.books();
        for (uint256 id = 1; id <= 2; ++id) {
            ISettlement.Lease memory l = settlement.lease(id);
            assertLe(l.collected, l.paid, "collected <= paid");
            assertLe(l.paid, l.budget, "paid <= budget");
            assertEq(handler.batchSum(id), l.paid, "sum of batches = paid");
        }
    }

    /// Probe payments come out of the budget (budget + probes = the escrow), never exceed the largest
    /// cap the customer granted the witness, and settle refunds exactly escrow - paid - probes.
    function invariant_probesWithinGrantsAndBudget() public view {
        (, Settlement settlement,) = handler.books();
        assertEq(handler.probesOverGranted(), 0, "probes paid beyond a grant");
        assertEq(handler.refundWrong(), 0, "refund other than budget - everything paid");
        for (uint256 id = 1; id <= 2; ++id) {
            ISettlement.Lease memory l = settlement.lease(id);
            assertEq(uint256(l.budget) + handler.probesPaid(id), 100e18, "budget + probes = escrow");
            assertLe(uint256(l.paid) + handler.probesPaid(id), 100e18, "everything paid within the escrow");
        }
    }

    /// Collateral only leaves by upheld claims (each at most its compensation, at most what the batch
    /// paid) and returns to the executor only at settlement; no made-up claim ever opens.
    function invariant_collateralOnlyForRealClaims() public view {
        (, Settlement settlement, RegistryDouble registry) = handler.books();
        assertEq(handler.madeUpClaimsOpened(), 0, "made-up claim opened");
        assertEq(handler.notProviderRedeemed(), 0, "someone else redeemed");
        assertEq(handler.overSlashed(), 0, "slashed beyond the compensation or the batch");
        assertEq(handler.honestAnswerRefused(), 0, "an honest answer was refused");
        assertEq(handler.releasedEarly(), 0, "released before settlement");
        for (uint256 id = 1; id <= 2; ++id) {
            if (registry.released(id)) continue;
            assertEq(registry.collateral(id) + handler.slashedFrom(id), 1000e18, "collateral - slashed");
            assertTrue(settlement.lease(id).status != ISettlement.LeaseStatus.Settled, "settled but locked");
        }
    }
}
