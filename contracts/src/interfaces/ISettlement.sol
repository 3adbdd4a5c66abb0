// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Per-call settlement of a lease (ARCHITECTURE.md, "Requests, receipts, vouchers")
/// @notice The market moves a lease's call budget here when the lease is confirmed. Only the lease's
/// provider redeems customer-signed cumulative EIP-712 `Voucher`s: amounts are cumulative and must
/// strictly increase, so no amount beyond the latest signature is ever paid and nothing twice, in
/// whatever nonce order the vouchers were accepted. A batch spans at most `MAX_BATCH` nonces. Each
/// redemption records its batch (lease, range, request head) with the amount it released.
/// A customer can claim non-delivery of a nonce in a batch the provider redeemed (and only there: a
/// batch the provider never accepted cannot be claimed); the provider answers with the enclave-signed
/// `Receipt` for that batch plus its call records (this contract recomputes both hash chains), or the
/// lease's collateral is slashed by at most what that batch paid (and `claimSlash`) for the customer.
/// `settle` ends the lease after the redeem window and every claim, and releases the collateral.
/// Hidden probes: the customer signs a `ProbeGrant` per witness; the provider redeems the witness's
/// own vouchers for its probe calls against the lease budget, within the grant's cumulative cap
/// ({redeemProbes}).
/// Typed data and chains equal `protocol/typed-data.ts`.
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

    /// @notice EIP-712 `ProbeGrant`, signed by the lease's customer: `witness` may send hidden probes
    /// on lease `leaseId`, paid from the lease budget. `maxAmount` caps what the witness's own vouchers
    /// may release on this lease in total (cumulative over every grant to that witness; a later grant
    /// states a larger total). `epoch`, `maxCalls` and `expiry` bind the executor, which accepts probes
    /// under the grant only in that epoch, before expiry and at most `maxCalls` of them; the contract
    /// does not check them.
    struct ProbeGrant {
        uint256 leaseId;
        address witness;
        uint32 epoch;
        uint32 maxCalls;
        uint256 maxAmount;
        uint64 expiry;
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

    /// @dev `paid` is what vouchers released to the provider, `collected` what it has withdrawn so far.
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
        uint96 compensation;
        ClaimStatus status;
    }

    error SettlementUnauthorized(address caller);
    error SettlementAlreadyWired();
    error SettlementLeaseExists(uint256 leaseId);
    error SettlementUnknownLease(uint256 leaseId);
    error SettlementLeaseNotOpen(uint256 leaseId, LeaseStatus status);
    error SettlementRedeemWindowClosed(uint256 leaseId, uint64 until);
    error SettlementRedeemWindowOpen(uint256 leaseId, uint64 until);
    error SettlementNotProvider(address caller, address provider);
    error SettlementBadRange(uint64 firstNonce, uint64 lastNonce);
    error SettlementVoucherExpired(uint64 deadline);
    error SettlementNothingToRedeem(uint256 cumulativeAmount, uint256 paid);
    error SettlementOverBudget(uint256 cumulativeAmount, uint256 budget);
    error SettlementBadSigner(address recovered, address expected);
    error SettlementNonceOutsideBatch(uint64 nonce, uint64 firstNonce, uint64 lastNonce);
    error SettlementNotCustomer(address caller, address customer);
    error SettlementBatchNotRedeemed(uint256 leaseId, uint64 firstNonce, uint64 lastNonce, bytes32 requestHead);
    error SettlementBatchAlreadyClaimed(uint256 leaseId, uint64 firstNonce, uint64 lastNonce);
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
    error SettlementBudgetTooLarge(uint256 budget, uint256 max);
    error SettlementZeroCustomer();
    error SettlementLeaseIdTooLarge(uint256 leaseId);
    error SettlementProbeLeaseMismatch(uint256 grantLeaseId, uint256 voucherLeaseId);
    error SettlementWitnessIsCustomer(address witness);
    error SettlementProbeOverCap(uint256 cumulativeAmount, uint256 maxAmount);
    /// @dev `available` is the lease budget less what the customer's vouchers have released.
    error SettlementProbeOverBudget(uint256 amount, uint256 available);

    event LeaseOpened(uint256 indexed leaseId, address indexed customer, address indexed provider, address enclave, uint256 budget);
    event LeaseClosed(uint256 indexed leaseId, uint64 redeemUntil);
    event PaymentCollected(uint256 indexed leaseId, address indexed provider, uint256 amount);
    event VoucherRedeemed(uint256 indexed leaseId, uint64 firstNonce, uint64 lastNonce, bytes32 requestHead, uint256 cumulativeAmount, uint256 paidNow);
    /// @dev `cumulativeAmount` is the witness's voucher total on this lease; `paidNow` went to the provider.
    event ProbesRedeemed(
        uint256 indexed leaseId,
        address indexed witness,
        uint64 firstNonce,
        uint64 lastNonce,
        bytes32 requestHead,
        uint256 cumulativeAmount,
        uint256 paidNow
    );
    event LeaseSettled(uint256 indexed leaseId, uint256 paid, uint256 refunded);
    event ClaimOpened(uint256 indexed claimId, uint256 indexed leaseId, uint64 nonce, uint64 deadline, uint256 compensation);
    event ClaimAnswered(uint256 indexed claimId, uint256 indexed leaseId, bytes32 recordHead);
    /// @dev `compensation` is what the claim asked to slash, `slashed` what the collateral still held of
    /// it; the customer receives `slashed` plus its bond.
    event ClaimUpheld(uint256 indexed claimId, uint256 indexed leaseId, uint256 slashed, uint256 compensation);

    /// @notice Records the lease; the market has already transferred `budget` tokens here and locked
    /// the executor's collateral in the registry under the same lease id.
    /// @dev Reverts for a lease id of 2^64 or more, a zero customer, or a budget of 2^95 or more.
    function openLease(uint256 leaseId, address customer, address provider, uint256 executorId, address enclave, uint256 budget)
        external;

    /// @notice Ends the lease; the provider may still redeem, and the customer claim, for `redeemWindow`.
    function closeLease(uint256 leaseId) external;

    /// @notice The lease's provider releases `cumulativeAmount - paid` (> 0) to itself against a
    /// customer-signed voucher and records the batch; {collect} transfers it.
    function redeem(Voucher calldata voucher, bytes calldata customerSignature) external returns (uint256 paidNow);

    /// @notice The lease's provider is paid for a witness's hidden probes: `voucher` is signed by
    /// `grant.witness` (in its own cumulative amounts on this lease), `grant` by the lease's customer,
    /// who must not be the witness. Pays `cumulativeAmount - probePaid(lease, witness)` (> 0, with
    /// `cumulativeAmount <= grant.maxAmount`) out of the lease budget: the budget shrinks by that
    /// amount, which must leave it at least what the customer's vouchers have released, and the amount
    /// is transferred to the provider at once. Same lease, range, deadline and redeem-window rules as
    /// {redeem}; no batch is recorded (probe batches cannot be claimed).
    function redeemProbes(
        ProbeGrant calldata grant,
        bytes calldata customerSignature,
        Voucher calldata voucher,
        bytes calldata witnessSignature
    ) external returns (uint256 paidNow);

    /// @notice Transfers everything released and not yet collected to the lease's provider; anyone may call.
    function collect(uint256 leaseId) external returns (uint256 amount);

    /// @notice After the redeem window, with no open claim: refunds the unused budget to the customer,
    /// pays the provider what it has not collected and releases the executor's collateral; anyone may call.
    function settle(uint256 leaseId) external returns (uint256 refunded);

    /// @notice The customer claims non-delivery of `nonce` inside a batch the provider redeemed
    /// (identified by its range and request head); posts `claimBond`. One claim per batch.
    function openClaim(uint256 leaseId, uint64 firstNonce, uint64 lastNonce, bytes32 requestHead, uint64 nonce)
        external
        returns (uint256 claimId);

    /// @notice Answers a claim with the enclave-signed receipt of the same batch and its call records;
    /// the bond goes to the provider.
    function answerClaim(uint256 claimId, Receipt calldata receipt, bytes calldata enclaveSignature, CallRecord[] calldata records)
        external;

    /// @notice After an unanswered claim's deadline: slashes the lease's collateral by the claim's
    /// compensation and pays it with the bond back to the customer; anyone may call.
    function upholdClaim(uint256 claimId) external;

    function voucherDigest(Voucher calldata voucher) external view returns (bytes32);
    function receiptDigest(Receipt calldata receipt) external view returns (bytes32);
    function probeGrantDigest(ProbeGrant calldata grant) external view returns (bytes32);
    /// @notice What {redeemProbes} has paid on `leaseId` for `witness`'s vouchers (their cumulative amount).
    function probePaid(uint256 leaseId, address witness) external view returns (uint256);
    function chainHeads(CallRecord[] calldata records) external pure returns (bytes32 requestHead, bytes32 recordHead);
    function lease(uint256 leaseId) external view returns (Lease memory);
    function claim(uint256 claimId) external view returns (Claim memory);
    /// @return paid What redemptions of this batch released (zero: never redeemed).
    /// @return claimed Whether a claim was opened on it.
    function batch(uint256 leaseId, uint64 firstNonce, uint64 lastNonce, bytes32 requestHead)
        external
        view
        returns (uint256 paid, bool claimed);
}
