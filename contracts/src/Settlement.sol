// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";

/// @title Settlement
/// @notice See {ISettlement}. The token balance of this contract always equals the sum over unsettled
/// leases of `budget - collected` plus the bonds of open claims (no aggregate is kept: it would cost a storage
/// write on every redemption; the invariant tests sum it). EIP-712 domain: name "defaas Settlement", version "1", this chain,
/// this contract — the same as `eip712Domain` in `attestation/typed-data.ts`.
contract Settlement is ISettlement, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @dev typed-data.ts VOUCHER_TYPES.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(uint256 leaseId,uint64 firstNonce,uint64 lastNonce,bytes32 requestHead,uint256 cumulativeAmount,uint64 deadline)"
    );
    /// @dev typed-data.ts RECEIPT_TYPES.
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(uint256 leaseId,uint64 firstNonce,uint64 lastNonce,bytes32 recordHead,bytes32 evidenceHash,uint64 startedAt,uint64 finishedAt)"
    );
    /// @notice Largest batch a receipt may cover (a batch closes after at most 64 calls; slack for
    /// other executors' batching).
    uint256 public constant MAX_BATCH = 256;

    IERC20 public immutable token;
    IRegistry public immutable registry;
    /// @notice Seconds after a lease closes during which vouchers can still be redeemed and claims opened.
    uint64 public immutable redeemWindow;
    /// @notice Seconds the provider has to answer a claim.
    uint64 public immutable answerWindow;
    /// @notice Bond the customer posts with a claim; paid to the provider when the claim is answered.
    uint256 public immutable claimBond;
    /// @notice Stake slashed from the executor for an unanswered claim, paid to the customer.
    uint256 public immutable claimSlash;

    address private immutable _deployer;
    address public market;
    uint256 public claimCount;

    mapping(uint256 leaseId => Lease) private _leases;
    mapping(uint256 claimId => Claim) private _claims;

    constructor(
        IERC20 token_,
        IRegistry registry_,
        uint64 redeemWindow_,
        uint64 answerWindow_,
        uint256 claimBond_,
        uint256 claimSlash_
    ) EIP712("defaas Settlement", "1") {
        token = token_;
        registry = registry_;
        redeemWindow = redeemWindow_;
        answerWindow = answerWindow_;
        claimBond = claimBond_;
        claimSlash = claimSlash_;
        _deployer = msg.sender;
    }

    /// @notice Fixes the market once (deployer only).
    function setMarket(address market_) external {
        if (msg.sender != _deployer) revert SettlementUnauthorized(msg.sender);
        if (market != address(0)) revert SettlementAlreadyWired();
        market = market_;
    }

    modifier onlyMarket() {
        if (msg.sender != market) revert SettlementUnauthorized(msg.sender);
        _;
    }

    /// @inheritdoc ISettlement
    function openLease(
        uint256 leaseId,
        address customer,
        address provider,
        uint256 executorId,
        address enclave,
        uint256 budget
    ) external onlyMarket {
        Lease storage l = _leases[leaseId];
        if (l.status != LeaseStatus.None) revert SettlementLeaseExists(leaseId);
        l.customer = customer;
        l.status = LeaseStatus.Open;
        l.provider = provider;
        l.executorId = executorId.toUint64();
        l.enclave = enclave;
        l.budget = budget.toUint96();
        emit LeaseOpened(leaseId, customer, provider, enclave, budget);
    }

    /// @inheritdoc ISettlement
    function closeLease(uint256 leaseId) external onlyMarket {
        Lease storage l = _leases[leaseId];
        if (l.status != LeaseStatus.Open) revert SettlementLeaseNotOpen(leaseId, l.status);
        l.status = LeaseStatus.Closed;
        l.closedAt = uint64(block.timestamp);
        emit LeaseClosed(leaseId, uint64(block.timestamp) + redeemWindow);
    }

    /// @inheritdoc ISettlement
    function redeem(Voucher calldata v, bytes calldata customerSignature)
        external
        nonReentrant
        returns (uint256 paidNow)
    {
        Lease storage l = _leases[v.leaseId];
        _requireRedeemable(v.leaseId, l);
        if (v.lastNonce < v.firstNonce) revert SettlementBadRange(v.firstNonce, v.lastNonce);
        if (v.firstNonce < l.nextNonce) revert SettlementNonceReused(v.firstNonce, l.nextNonce);
        if (block.timestamp > v.deadline) revert SettlementVoucherExpired(v.deadline);
        uint256 paid = l.paid;
        if (v.cumulativeAmount < paid) revert SettlementAmountDecreased(v.cumulativeAmount, paid);
        if (v.cumulativeAmount > l.budget) revert SettlementOverBudget(v.cumulativeAmount, l.budget);
        _requireSigner(voucherDigest(v), customerSignature, l.customer);

        paidNow = v.cumulativeAmount - paid;
        l.paid = uint96(v.cumulativeAmount);
        l.nextNonce = v.lastNonce + 1;
        emit VoucherRedeemed(v.leaseId, v.firstNonce, v.lastNonce, v.cumulativeAmount, paidNow);
    }

    /// @inheritdoc ISettlement
    function collect(uint256 leaseId) external nonReentrant returns (uint256 amount) {
        Lease storage l = _leases[leaseId];
        if (l.status == LeaseStatus.None) revert SettlementUnknownLease(leaseId);
        amount = uint256(l.paid) - l.collected;
        l.collected = l.paid;
        address provider = l.provider;
        emit PaymentCollected(leaseId, provider, amount);
        if (amount > 0) token.safeTransfer(provider, amount);
    }

    /// @inheritdoc ISettlement
    function settle(uint256 leaseId) external nonReentrant returns (uint256 refunded) {
        Lease storage l = _leases[leaseId];
        if (l.status != LeaseStatus.Closed) revert SettlementLeaseNotOpen(leaseId, l.status);
        uint64 until = l.closedAt + redeemWindow;
        if (block.timestamp < until) revert SettlementRedeemWindowOpen(leaseId, until);
        if (l.openClaims != 0) revert SettlementClaimsOpen(leaseId, l.openClaims);
        l.status = LeaseStatus.Settled;
        refunded = uint256(l.budget) - l.paid;
        uint256 owed = uint256(l.paid) - l.collected;
        l.collected = l.paid;
        emit LeaseSettled(leaseId, l.paid, refunded);
        if (owed > 0) {
            emit PaymentCollected(leaseId, l.provider, owed);
            token.safeTransfer(l.provider, owed);
        }
        if (refunded > 0) token.safeTransfer(l.customer, refunded);
    }

    /// @inheritdoc ISettlement
    function openClaim(Voucher calldata v, bytes calldata customerSignature, uint64 nonce)
        external
        nonReentrant
        returns (uint256 claimId)
    {
        Lease storage l = _leases[v.leaseId];
        _requireRedeemable(v.leaseId, l);
        if (msg.sender != l.customer) revert SettlementNotCustomer(msg.sender, l.customer);
        if (v.lastNonce < v.firstNonce) revert SettlementBadRange(v.firstNonce, v.lastNonce);
        if (nonce < v.firstNonce || nonce > v.lastNonce) {
            revert SettlementNonceOutsideBatch(nonce, v.firstNonce, v.lastNonce);
        }
        _requireSigner(voucherDigest(v), customerSignature, l.customer);

        claimId = ++claimCount;
        uint64 deadline = uint64(block.timestamp) + answerWindow;
        _claims[claimId] = Claim({
            leaseId: v.leaseId,
            firstNonce: v.firstNonce,
            lastNonce: v.lastNonce,
            nonce: nonce,
            deadline: deadline,
            requestHead: v.requestHead,
            status: ClaimStatus.Open
        });
        l.openClaims += 1;
        emit ClaimOpened(claimId, v.leaseId, nonce, deadline);
        if (claimBond > 0) token.safeTransferFrom(msg.sender, address(this), claimBond);
    }

    /// @inheritdoc ISettlement
    function answerClaim(
        uint256 claimId,
        Receipt calldata r,
        bytes calldata enclaveSignature,
        CallRecord[] calldata records
    ) external nonReentrant {
        Claim storage c = _openClaim(claimId);
        if (block.timestamp > c.deadline) revert SettlementClaimExpired(claimId, c.deadline);
        if (r.leaseId != c.leaseId || r.firstNonce != c.firstNonce || r.lastNonce != c.lastNonce) {
            revert SettlementReceiptMismatch(claimId);
        }
        uint256 n = records.length;
        if (n > MAX_BATCH) revert SettlementBatchTooLarge(n, MAX_BATCH);
        if (n != uint256(r.lastNonce - r.firstNonce) + 1) revert SettlementReceiptMismatch(claimId);
        (bytes32 requestHead, bytes32 recordHead) = _chainHeads(records, r.firstNonce);
        if (requestHead != c.requestHead) revert SettlementRequestHeadMismatch(requestHead, c.requestHead);
        if (recordHead != r.recordHead) revert SettlementRecordHeadMismatch(recordHead, r.recordHead);
        Lease storage l = _leases[c.leaseId];
        _requireSigner(receiptDigest(r), enclaveSignature, l.enclave);

        c.status = ClaimStatus.Answered;
        l.openClaims -= 1;
        emit ClaimAnswered(claimId, c.leaseId, recordHead);
        if (claimBond > 0) token.safeTransfer(l.provider, claimBond);
    }

    /// @inheritdoc ISettlement
    function upholdClaim(uint256 claimId) external nonReentrant {
        Claim storage c = _openClaim(claimId);
        if (block.timestamp <= c.deadline) revert SettlementClaimPending(claimId, c.deadline);
        Lease storage l = _leases[c.leaseId];
        c.status = ClaimStatus.Upheld;
        l.openClaims -= 1;
        address customer = l.customer;
        // Interaction: the registry sends the slashed stake here, then it goes on to the customer.
        uint256 slashed = registry.slashExecutor(l.executorId, claimSlash);
        uint256 compensation = claimBond + slashed;
        emit ClaimUpheld(claimId, c.leaseId, slashed, compensation);
        if (compensation > 0) token.safeTransfer(customer, compensation);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ISettlement
    function voucherDigest(Voucher calldata v) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, v)));
    }

    /// @inheritdoc ISettlement
    function receiptDigest(Receipt calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, r)));
    }

    /// @inheritdoc ISettlement
    function chainHeads(CallRecord[] calldata records) external pure returns (bytes32 requestHead, bytes32 recordHead) {
        if (records.length == 0) return (bytes32(0), bytes32(0));
        return _chainHeads(records, records[0].nonce);
    }

    /// @inheritdoc ISettlement
    function lease(uint256 leaseId) external view returns (Lease memory) {
        return _leases[leaseId];
    }

    /// @inheritdoc ISettlement
    function claim(uint256 claimId) external view returns (Claim memory) {
        return _claims[claimId];
    }

    /// @notice The EIP-712 domain separator (for off-chain cross-checks).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internals

    /// @dev typed-data.ts `chainHeads`: both chains start at zero and run over contiguous nonces.
    function _chainHeads(CallRecord[] calldata records, uint64 firstNonce)
        private
        pure
        returns (bytes32 requestHead, bytes32 recordHead)
    {
        for (uint256 i = 0; i < records.length; ++i) {
            CallRecord calldata c = records[i];
            if (c.nonce != firstNonce + i) revert SettlementRecordMismatch(i, c.nonce);
            requestHead = keccak256(abi.encode(requestHead, c.nonce, c.functionHash, c.inputHash));
            recordHead = keccak256(
                abi.encode(recordHead, c.nonce, c.functionHash, c.inputHash, c.outputHash, c.usage, c.price)
            );
        }
    }

    function _requireRedeemable(uint256 leaseId, Lease storage l) private view {
        LeaseStatus s = l.status;
        if (s == LeaseStatus.Open) return;
        if (s != LeaseStatus.Closed) revert SettlementLeaseNotOpen(leaseId, s);
        uint64 until = l.closedAt + redeemWindow;
        if (block.timestamp >= until) revert SettlementRedeemWindowClosed(leaseId, until);
    }

    function _requireSigner(bytes32 digest, bytes calldata signature, address expected) private pure {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != expected || expected == address(0)) {
            revert SettlementBadSigner(recovered, expected);
        }
    }

    function _openClaim(uint256 claimId) private view returns (Claim storage c) {
        c = _claims[claimId];
        if (c.status == ClaimStatus.None) revert SettlementUnknownClaim(claimId);
        if (c.status != ClaimStatus.Open) revert SettlementClaimNotOpen(claimId, c.status);
    }
}
