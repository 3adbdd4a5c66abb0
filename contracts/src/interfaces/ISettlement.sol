// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Per-call settlement of a lease (ARCHITECTURE.md, "Requests, receipts, vouchers")
/// @notice The market moves a lease's call budget here when the lease is confirmed. The provider
/// redeems the latest customer-signed cumulative EIP-712 `Voucher`; nonce ranges strictly increase and
/// amounts are cumulative, so no amount beyond the latest signature is ever paid and no voucher twice.
/// A customer can claim non-delivery of a nonce it signed; the provider answers with the enclave-signed
/// `Receipt` for that batch plus its call records (this contract recomputes both hash chains), or is
/// slashed and the customer compensated. Typed data and chains equal `attestation/typed-data.ts`.
interface ISettlement {
    /// @notice EIP-712 `Voucher`, signed by the customer's wallet.
    struct Voucher {
        uint256 leaseId;
        uint64 firstNonce;
        uint64 lastNonce;
        bytes32 requestHead;
        uint256 cumulativeAmount;
        uint64 deadline;
    }

    /// @notice EIP-712 `Receipt`, signed by the enclave identity key registered for the lease.
    struct Receipt {
        uint256 leaseId;
        uint64 firstNonce;
        uint64 lastNonce;
        bytes32 recordHead;
        bytes32 evidenceHash;
        uint64 startedAt;
        uint64 finishedAt;
    }

    /// @notice One invocation as both sides record it.
    struct CallRecord {
        uint64 nonce;
        bytes32 functionHash;
        bytes32 inputHash;
        bytes32 outputHash;
        uint64 usage;
        uint256 price;
    }

    enum LeaseStatus {
        None,
        Open,
        Closed,
        Settled
    }

    /// @dev Packed so that a redemption reads two slots and writes one. `paid` is what vouchers
    /// released to the provider, `collected` what it has withdrawn so far.
    struct Lease {
        address customer;
        uint64 closedAt;
        LeaseStatus status;
        uint16 openClaims;
        address provider;
        uint96 collected;
        address enclave;
        uint64 executorId;
        uint96 budget;
        uint96 paid;
        uint64 nextNonce;
    }

    enum ClaimStatus {
        None,
        Open,
        Answered,
        Upheld
    }

    struct Claim {
        uint256 leaseId;
        uint64 firstNonce;
        uint64 lastNonce;
        uint64 nonce;
        uint64 deadline;
        bytes32 requestHead;
        ClaimStatus status;
    }

    error SettlementUnauthorized(address caller);
    error SettlementAlreadyWired();
    error SettlementLeaseExists(uint256 leaseId);
    error SettlementUnknownLease(uint256 leaseId);
    error SettlementLeaseNotOpen(uint256 leaseId, LeaseStatus status);
    error SettlementRedeemWindowClosed(uint256 leaseId, uint64 until);
    error SettlementRedeemWindowOpen(uint256 leaseId, uint64 until);
    error SettlementBadRange(uint64 firstNonce, uint64 lastNonce);
    error SettlementNonceReused(uint64 firstNonce, uint64 nextNonce);
    error SettlementVoucherExpired(uint64 deadline);
    error SettlementAmountDecreased(uint256 cumulativeAmount, uint256 paid);
    error SettlementOverBudget(uint256 cumulativeAmount, uint256 budget);
    error SettlementBadSigner(address recovered, address expected);
    error SettlementNonceOutsideBatch(uint64 nonce, uint64 firstNonce, uint64 lastNonce);
    error SettlementNotCustomer(address caller, address customer);
    error SettlementUnknownClaim(uint256 claimId);
    error SettlementClaimNotOpen(uint256 claimId, ClaimStatus status);
    error SettlementClaimExpired(uint256 claimId, uint64 deadline);
    error SettlementClaimPending(uint256 claimId, uint64 deadline);
    error SettlementClaimsOpen(uint256 leaseId, uint32 openClaims);
    error SettlementReceiptMismatch(uint256 claimId);
    error SettlementBatchTooLarge(uint256 length, uint256 max);
    error SettlementRecordMismatch(uint256 index, uint64 nonce);
    error SettlementRequestHeadMismatch(bytes32 computed, bytes32 expected);
    error SettlementRecordHeadMismatch(bytes32 computed, bytes32 expected);

    event LeaseOpened(uint256 indexed leaseId, address indexed customer, address indexed provider, address enclave, uint256 budget);
    event LeaseClosed(uint256 indexed leaseId, uint64 redeemUntil);
    event PaymentCollected(uint256 indexed leaseId, address indexed provider, uint256 amount);
    event VoucherRedeemed(uint256 indexed leaseId, uint64 firstNonce, uint64 lastNonce, uint256 cumulativeAmount, uint256 paidNow);
    event LeaseSettled(uint256 indexed leaseId, uint256 paid, uint256 refunded);
    event ClaimOpened(uint256 indexed claimId, uint256 indexed leaseId, uint64 nonce, uint64 deadline);
    event ClaimAnswered(uint256 indexed claimId, uint256 indexed leaseId, bytes32 recordHead);
    event ClaimUpheld(uint256 indexed claimId, uint256 indexed leaseId, uint256 slashed, uint256 compensation);

    /// @notice Records the lease; the market has already transferred `budget` tokens here.
    function openLease(uint256 leaseId, address customer, address provider, uint256 executorId, address enclave, uint256 budget)
        external;

    /// @notice Ends the lease; the provider may still redeem for `redeemWindow`.
    function closeLease(uint256 leaseId) external;

    /// @notice Releases `cumulativeAmount - paid` to the provider against a customer-signed voucher.
    /// The amount is the provider's from then on; {collect} transfers it (pull payment keeps the
    /// per-batch redemption to one storage write).
    function redeem(Voucher calldata voucher, bytes calldata customerSignature) external returns (uint256 paidNow);

    /// @notice Transfers everything released and not yet collected to the lease's provider; anyone may call.
    function collect(uint256 leaseId) external returns (uint256 amount);

    /// @notice After the redeem window, with no open claim: refunds the unused budget to the customer and
    /// pays the provider what it has not collected.
    function settle(uint256 leaseId) external returns (uint256 refunded);

    /// @notice The customer claims non-delivery of `nonce`, inside the batch of a voucher it signed;
    /// posts `claimBond`.
    function openClaim(Voucher calldata voucher, bytes calldata customerSignature, uint64 nonce)
        external
        returns (uint256 claimId);

    /// @notice Answers a claim with the enclave-signed receipt of the same batch and its call records;
    /// the bond goes to the provider.
    function answerClaim(uint256 claimId, Receipt calldata receipt, bytes calldata enclaveSignature, CallRecord[] calldata records)
        external;

    /// @notice After an unanswered claim's deadline: slashes the provider and compensates the customer.
    function upholdClaim(uint256 claimId) external;

    function voucherDigest(Voucher calldata voucher) external view returns (bytes32);
    function receiptDigest(Receipt calldata receipt) external view returns (bytes32);
    function chainHeads(CallRecord[] calldata records) external pure returns (bytes32 requestHead, bytes32 recordHead);
    function lease(uint256 leaseId) external view returns (Lease memory);
    function claim(uint256 claimId) external view returns (Claim memory);
}
