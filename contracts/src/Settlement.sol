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
/// leases of `budget - collected` plus the bonds of open claims (no aggregate is kept: it would cost a
/// storage write on every redemption; the property tests sum it). EIP-712 domain: name "defaas
/// Settlement", version "1", this chain, this contract — the same as `eip712Domain` in
/// `protocol/typed-data.ts`.
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
    /// @dev probe-grant.ts PROBE_GRANT_TYPES.
    bytes32 public constant PROBE_GRANT_TYPEHASH = keccak256(
        "ProbeGrant(uint256 leaseId,address witness,uint32 epoch,uint32 maxCalls,uint256 maxAmount,uint64 expiry)"
    );
    /// @notice Most nonces one voucher (and so one receipt and one claim) may span.
    uint256 public constant MAX_BATCH = 256;
    /// @notice Largest budget a lease may carry: the top bit of the stored budget marks an open lease.
    /// The market escrows the budget twice from the customer, so a larger budget would need more than
    /// 2^96 tokens.
    uint256 public constant MAX_BUDGET = (1 << 95) - 1;

    /// @dev Lease ids are below this.
    uint256 private constant LEASE_IDS = 1 << 64;
    /// @dev Set in `LeaseData.budget` while the lease is open.
    uint96 private constant OPEN = uint96(1 << 95);
    /// @dev The batch (leaseId, firstNonce, lastNonce, requestHead) is stored at
    /// keccak256(abi.encode(leaseId, firstNonce, lastNonce, requestHead, BATCH_SEED)): one hash per
    /// redemption, where a mapping would hash the key and then the key with the mapping's slot. The seed
    /// is keccak256("defaas.Settlement.batch"); a 160-byte preimage never meets a mapping's 64-byte one.
    uint256 private constant BATCH_SEED = 0xb47d3fb2e17af0622cdf2314db8c7b112aa9433186c8486b8892b5303c481ee7;

    IERC20 public immutable token;
    IRegistry public immutable registry;
    /// @notice Seconds after a lease closes during which vouchers can still be redeemed and claims opened.
    uint64 public immutable redeemWindow;
    /// @notice Seconds the provider has to answer a claim.
    uint64 public immutable answerWindow;
    /// @notice Bond the customer posts with a claim; paid to the provider when the claim is answered.
    uint256 public immutable claimBond;
    /// @notice Most collateral an unanswered claim slashes for the customer (also capped by what the
    /// claimed batch paid).
    uint256 public immutable claimSlash;

    address private immutable _deployer;
    /// @dev The EIP-712 domain separator at deployment and the chain it holds for.
    bytes32 private immutable _fastDomain;
    uint256 private immutable _fastChainId;
    address public market;
    uint256 public claimCount;

    /// @dev A lease as stored; {lease} returns it as a {Lease}. `redeem` on an open lease reads only the
    /// first two slots (provider and paid; customer, budget and the open bit) and writes the first.
    struct LeaseData {
        address provider;
        uint96 paid;
        address customer;
        uint96 budget;
        address enclave;
        uint64 closedAt;
        LeaseStatus status;
        uint16 openClaims;
        uint64 executorId;
        uint96 collected;
    }

    /// @dev One redeemed batch: what its redemptions released and whether it was claimed (one slot).
    struct Batch {
        uint96 paid;
        bool claimed;
    }

    /// @dev Indexed by lease id (the market's order ids, which count up from zero): a lease sits at the
    /// fixed slot `_leases.slot + 4 * leaseId`, with no hash to compute. No lease has an id of 2^64 or
    /// more.
    LeaseData[LEASE_IDS] private _leases;
    mapping(uint256 claimId => Claim) private _claims;
    /// @dev Cumulative amount of the witness's vouchers {redeemProbes} has paid on the lease.
    mapping(uint256 leaseId => mapping(address witness => uint256)) private _probePaid;

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
        _fastDomain = _domainSeparatorV4();
        _fastChainId = block.chainid;
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
        if (leaseId >= LEASE_IDS) revert SettlementLeaseIdTooLarge(leaseId);
        LeaseData storage l = _leases[leaseId];
        if (l.status != LeaseStatus.None) revert SettlementLeaseExists(leaseId);
        if (budget > MAX_BUDGET) revert SettlementBudgetTooLarge(budget, MAX_BUDGET);
        if (customer == address(0)) revert SettlementZeroCustomer();
        l.provider = provider;
        l.customer = customer;
        l.budget = uint96(budget) | OPEN;
        l.enclave = enclave;
        l.status = LeaseStatus.Open;
        l.executorId = executorId.toUint64();
        emit LeaseOpened(leaseId, customer, provider, enclave, budget);
    }

    /// @inheritdoc ISettlement
    function closeLease(uint256 leaseId) external onlyMarket {
        LeaseData storage l = _lease(leaseId);
        if (l.status != LeaseStatus.Open) revert SettlementLeaseNotOpen(leaseId, l.status);
        l.status = LeaseStatus.Closed;
        l.closedAt = uint64(block.timestamp);
        l.budget &= ~OPEN;
        emit LeaseClosed(leaseId, uint64(block.timestamp) + redeemWindow);
    }

    /// @inheritdoc ISettlement
    /// @dev Moves no tokens and calls no contract (ecrecover is a precompile), so it takes no reentrancy
    /// lock. The common case (an open lease, a valid voucher, this chain) runs in one assembly block on
    /// the two lease slots it reads and returns from there; it accepts only what {_redeemChecked}
    /// accepts, with the same effects. Anything else (a closed lease inside its redeem window, or a
    /// voucher that fails a check) goes through {_redeemChecked}, which reverts with the reason or
    /// redeems.
    function redeem(Voucher calldata v, bytes calldata customerSignature) external returns (uint256) {
        bytes32 domain = _fastDomain;
        uint256 chainId = _fastChainId;
        // The voucher is a static struct, so it sits at calldata offset 4 (leaseId 0x04, firstNonce 0x24,
        // lastNonce 0x44, requestHead 0x64, cumulativeAmount 0x84, deadline 0xa4). Memory from 0 is
        // scratch; the free memory pointer and the zero slot are restored before falling through.
        assembly {
            let slot := add(_leases.slot, shl(2, calldataload(0x04))) // checked below: leaseId < 2^64
            let word0 := sload(slot) // provider | paid << 160
            let word1 := sload(add(slot, 1)) // customer | budget << 160, bit 255 = open
            let cumulative := calldataload(0x84)
            let deadline := calldataload(0xa4)
            if and(
                and(
                    // Open, and paid < cumulative <= budget.
                    and(
                        shr(255, word1),
                        and(
                            gt(cumulative, shr(160, word0)),
                            iszero(gt(cumulative, and(shr(160, word1), 0x7fffffffffffffffffffffff)))
                        )
                    ),
                    // The provider calls, on the chain of the cached domain, with a 65-byte signature.
                    and(
                        iszero(shl(96, xor(caller(), word0))),
                        and(eq(chainid(), chainId), eq(customerSignature.length, 65))
                    )
                ),
                // A lease id below 2^64, clean uint64 fields, 0 <= last - first < MAX_BATCH (a reversed
                // range wraps around), deadline not passed.
                and(
                    and(
                        iszero(
                            shr(64, or(or(calldataload(0x04), calldataload(0x24)), or(calldataload(0x44), deadline)))
                        ),
                        lt(sub(calldataload(0x44), calldataload(0x24)), MAX_BATCH)
                    ),
                    iszero(gt(timestamp(), deadline))
                )
            ) {
                let fmp := mload(0x40)
                // Digest: keccak256("\x19\x01" . domain . keccak256(abi.encode(VOUCHER_TYPEHASH, v))).
                mstore(0x00, 0x4a737e92bb312be74a1e35b3552d32fdb6371d71641eeffb82014711d5127c95)
                calldatacopy(0x20, 0x04, 0xc0)
                mstore(0x22, keccak256(0x00, 0xe0))
                mstore(0x00, shl(240, 0x1901))
                mstore(0x02, domain)
                mstore(0x00, keccak256(0x00, 0x42))
                // ecrecover(digest, v, r, s) writes the signer to 0x80; it writes nothing for an
                // invalid v or signature, so 0x80 is cleared first. The customer is never zero
                // (openLease), so a failed recovery never matches.
                mstore(0x20, byte(0, calldataload(add(customerSignature.offset, 0x40))))
                calldatacopy(0x40, customerSignature.offset, 0x40)
                mstore(0x80, 0)
                pop(staticcall(gas(), 0x01, 0x00, 0x80, 0x80, 0x20))
                if iszero(shl(96, xor(mload(0x80), word1))) {
                    // The effects of _redeemChecked; cumulative <= budget < 2^95, so paid stays in its bits.
                    let paidNow := sub(cumulative, shr(160, word0))
                    sstore(slot, add(word0, shl(160, paidNow)))
                    // The batch's slot: keccak256(abi.encode(leaseId, first, last, requestHead, BATCH_SEED)).
                    calldatacopy(0x00, 0x04, 0x80)
                    mstore(0x80, BATCH_SEED)
                    let b := keccak256(0x00, 0xa0)
                    sstore(b, add(sload(b), paidNow))
                    // VoucherRedeemed(uint256,uint64,uint64,bytes32,uint256,uint256): first, last and
                    // requestHead are in place at 0x20.
                    mstore(0x80, cumulative)
                    mstore(0xa0, paidNow)
                    log2(
                        0x20,
                        0xa0,
                        0x566f8222ba64552147478845d0614bb1d866c31af3760273169bafc936c845e4,
                        calldataload(0x04)
                    )
                    mstore(0x00, paidNow)
                    return(0x00, 0x20)
                }
                mstore(0x40, fmp)
                mstore(0x60, 0)
            }
        }
        return _redeemChecked(v, customerSignature);
    }

    /// @dev {redeem} in plain Solidity: every check with its error, then the effects. cumulative <=
    /// budget <= MAX_BUDGET, so it fits the 96 bits of `paid`, and a batch's amount (at most the lease's
    /// paid) fits the 96 bits of its slot.
    function _redeemChecked(Voucher calldata v, bytes calldata customerSignature) private returns (uint256 paidNow) {
        LeaseData storage l = _lease(v.leaseId);
        uint256 paid = _checkVoucher(v, customerSignature, l);
        paidNow = v.cumulativeAmount - paid;
        l.paid = uint96(v.cumulativeAmount);
        _batch(v.leaseId, v.firstNonce, v.lastNonce, v.requestHead).paid += uint96(paidNow);
        emit VoucherRedeemed(v.leaseId, v.firstNonce, v.lastNonce, v.requestHead, v.cumulativeAmount, paidNow);
    }

    /// @inheritdoc ISettlement
    /// @dev The amount leaves the budget (so the customer's vouchers can release at most the rest, and
    /// `settle` refunds `budget - paid` with no term for probes) and goes to the provider in the same
    /// call, so the balance still equals the sum of `budget - collected` over unsettled leases. The
    /// grant's `expiry` is not checked: it bounds when the executor serves probes, and the provider
    /// redeems what it served later (the witness's voucher has its own deadline); `maxAmount` bounds
    /// what a grant can ever cost the customer, before or after expiry.
    function redeemProbes(
        ProbeGrant calldata g,
        bytes calldata customerSignature,
        Voucher calldata v,
        bytes calldata witnessSignature
    ) external nonReentrant returns (uint256 paidNow) {
        uint256 leaseId = v.leaseId;
        LeaseData storage l = _lease(leaseId);
        uint256 budget = l.budget;
        if (budget & OPEN == 0) _requireRedeemable(leaseId, l);
        address provider = l.provider;
        if (msg.sender != provider) revert SettlementNotProvider(msg.sender, provider);
        if (g.leaseId != leaseId) revert SettlementProbeLeaseMismatch(g.leaseId, leaseId);
        address witness = g.witness;
        uint256 cumulative = v.cumulativeAmount;
        paidNow = cumulative - _checkProbe(g, customerSignature, v, witnessSignature, l.customer);
        // The rest of the budget the customer's vouchers have not released; budget & ~OPEN >= paid.
        uint256 available = (budget & ~uint256(OPEN)) - l.paid;
        if (paidNow > available) revert SettlementProbeOverBudget(paidNow, available);
        _probePaid[leaseId][witness] = cumulative;
        // paidNow <= budget & ~OPEN, so the open bit is kept.
        l.budget = uint96(budget - paidNow);
        emit ProbesRedeemed(leaseId, witness, v.firstNonce, v.lastNonce, v.requestHead, cumulative, paidNow);
        token.safeTransfer(provider, paidNow);
    }

    /// @inheritdoc ISettlement
    function collect(uint256 leaseId) external nonReentrant returns (uint256 amount) {
        LeaseData storage l = _lease(leaseId);
        if (l.status == LeaseStatus.None) revert SettlementUnknownLease(leaseId);
        amount = uint256(l.paid) - l.collected;
        l.collected = l.paid;
        address provider = l.provider;
        emit PaymentCollected(leaseId, provider, amount);
        if (amount > 0) token.safeTransfer(provider, amount);
    }

    /// @inheritdoc ISettlement
    function settle(uint256 leaseId) external nonReentrant returns (uint256 refunded) {
        LeaseData storage l = _lease(leaseId);
        if (l.status != LeaseStatus.Closed) revert SettlementLeaseNotOpen(leaseId, l.status);
        uint64 until = l.closedAt + redeemWindow;
        if (block.timestamp < until) revert SettlementRedeemWindowOpen(leaseId, until);
        if (l.openClaims != 0) revert SettlementClaimsOpen(leaseId, l.openClaims);
        l.status = LeaseStatus.Settled;
        uint256 paid = l.paid;
        refunded = uint256(l.budget) - paid;
        uint256 owed = paid - l.collected;
        l.collected = uint96(paid);
        address provider = l.provider;
        emit LeaseSettled(leaseId, paid, refunded);
        if (owed > 0) {
            emit PaymentCollected(leaseId, provider, owed);
            token.safeTransfer(provider, owed);
        }
        if (refunded > 0) token.safeTransfer(l.customer, refunded);
        registry.releaseCollateral(leaseId);
    }

    /// @inheritdoc ISettlement
    function openClaim(uint256 leaseId, uint64 firstNonce, uint64 lastNonce, bytes32 requestHead, uint64 nonce)
        external
        nonReentrant
        returns (uint256 claimId)
    {
        LeaseData storage l = _lease(leaseId);
        if (l.budget & OPEN == 0) _requireRedeemable(leaseId, l);
        if (msg.sender != l.customer) revert SettlementNotCustomer(msg.sender, l.customer);
        if (nonce < firstNonce || nonce > lastNonce) {
            revert SettlementNonceOutsideBatch(nonce, firstNonce, lastNonce);
        }
        Batch storage b = _batch(leaseId, firstNonce, lastNonce, requestHead);
        uint96 batchPaid = b.paid;
        if (batchPaid == 0) revert SettlementBatchNotRedeemed(leaseId, firstNonce, lastNonce, requestHead);
        if (b.claimed) revert SettlementBatchAlreadyClaimed(leaseId, firstNonce, lastNonce);
        b.claimed = true;

        uint96 compensation = claimSlash < batchPaid ? uint96(claimSlash) : batchPaid;
        claimId = ++claimCount;
        uint64 deadline = uint64(block.timestamp) + answerWindow;
        _claims[claimId] = Claim({
            leaseId: leaseId,
            firstNonce: firstNonce,
            lastNonce: lastNonce,
            nonce: nonce,
            deadline: deadline,
            requestHead: requestHead,
            compensation: compensation,
            status: ClaimStatus.Open
        });
        l.openClaims += 1;
        emit ClaimOpened(claimId, leaseId, nonce, deadline, compensation);
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
        LeaseData storage l = _lease(c.leaseId);
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
        uint256 leaseId = c.leaseId;
        LeaseData storage l = _lease(leaseId);
        c.status = ClaimStatus.Upheld;
        l.openClaims -= 1;
        address customer = l.customer;
        uint256 compensation = c.compensation;
        // Interaction: the registry sends what it slashed here, then it goes on to the customer.
        uint256 slashed = compensation > 0 ? registry.slashCollateral(leaseId, compensation) : 0;
        emit ClaimUpheld(claimId, leaseId, slashed, compensation);
        uint256 payout = claimBond + slashed;
        if (payout > 0) token.safeTransfer(customer, payout);
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
    function probeGrantDigest(ProbeGrant calldata g) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(PROBE_GRANT_TYPEHASH, g)));
    }

    /// @inheritdoc ISettlement
    function probePaid(uint256 leaseId, address witness) external view returns (uint256) {
        return _probePaid[leaseId][witness];
    }

    /// @inheritdoc ISettlement
    function chainHeads(CallRecord[] calldata records) external pure returns (bytes32 requestHead, bytes32 recordHead) {
        if (records.length == 0) return (bytes32(0), bytes32(0));
        return _chainHeads(records, records[0].nonce);
    }

    /// @inheritdoc ISettlement
    function lease(uint256 leaseId) external view returns (Lease memory) {
        if (leaseId >= LEASE_IDS) return Lease(address(0), 0, LeaseStatus.None, 0, address(0), 0, address(0), 0, 0, 0);
        LeaseData storage l = _leases[leaseId];
        return Lease({
            customer: l.customer,
            closedAt: l.closedAt,
            status: l.status,
            openClaims: l.openClaims,
            provider: l.provider,
            collected: l.collected,
            enclave: l.enclave,
            executorId: l.executorId,
            budget: l.budget & ~OPEN,
            paid: l.paid
        });
    }

    /// @inheritdoc ISettlement
    function claim(uint256 claimId) external view returns (Claim memory) {
        return _claims[claimId];
    }

    /// @inheritdoc ISettlement
    function batch(uint256 leaseId, uint64 firstNonce, uint64 lastNonce, bytes32 requestHead)
        external
        view
        returns (uint256 paid, bool claimed)
    {
        Batch storage b = _batch(leaseId, firstNonce, lastNonce, requestHead);
        return (b.paid, b.claimed);
    }

    /// @notice The EIP-712 domain separator (for off-chain cross-checks).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internals

    /// @dev No lease has an id of 2^64 or more.
    function _lease(uint256 leaseId) private view returns (LeaseData storage) {
        if (leaseId >= LEASE_IDS) revert SettlementUnknownLease(leaseId);
        return _leases[leaseId];
    }

    function _batch(uint256 leaseId, uint64 firstNonce, uint64 lastNonce, bytes32 requestHead)
        private
        pure
        returns (Batch storage b)
    {
        bytes32 slot = keccak256(abi.encode(leaseId, firstNonce, lastNonce, requestHead, BATCH_SEED));
        assembly ("memory-safe") {
            b.slot := slot
        }
    }

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
            recordHead =
                keccak256(abi.encode(recordHead, c.nonce, c.functionHash, c.inputHash, c.outputHash, c.usage, c.price));
        }
    }

    /// @dev Every check of {redeem}; returns what the lease has paid so far.
    function _checkVoucher(Voucher calldata v, bytes calldata signature, LeaseData storage l)
        private
        view
        returns (uint256 paid)
    {
        address provider = l.provider;
        paid = l.paid;
        address customer = l.customer;
        uint256 budget = l.budget;
        if (budget & OPEN == 0) _requireRedeemable(v.leaseId, l);
        else budget ^= OPEN;
        if (msg.sender != provider) revert SettlementNotProvider(msg.sender, provider);
        uint64 first = v.firstNonce;
        uint64 last = v.lastNonce;
        if (last < first) revert SettlementBadRange(first, last);
        if (last - first >= MAX_BATCH) revert SettlementBatchTooLarge(uint256(last - first) + 1, MAX_BATCH);
        if (block.timestamp > v.deadline) revert SettlementVoucherExpired(v.deadline);
        uint256 cumulative = v.cumulativeAmount;
        if (cumulative <= paid) revert SettlementNothingToRedeem(cumulative, paid);
        if (cumulative > budget) revert SettlementOverBudget(cumulative, budget);
        _requireVoucherSigner(voucherDigest(v), signature, customer);
    }

    /// @dev The checks of {redeemProbes} on the grant and the witness's voucher (the lease, its state and
    /// the caller are checked before); returns what the witness's vouchers have been paid so far.
    function _checkProbe(
        ProbeGrant calldata g,
        bytes calldata customerSignature,
        Voucher calldata v,
        bytes calldata witnessSignature,
        address customer
    ) private view returns (uint256 before) {
        address witness = g.witness;
        // A customer-signed voucher would otherwise pay once through `redeem` and once here.
        if (witness == customer) revert SettlementWitnessIsCustomer(witness);
        _requireVoucherSigner(probeGrantDigest(g), customerSignature, customer);
        uint64 first = v.firstNonce;
        uint64 last = v.lastNonce;
        if (last < first) revert SettlementBadRange(first, last);
        if (last - first >= MAX_BATCH) revert SettlementBatchTooLarge(uint256(last - first) + 1, MAX_BATCH);
        if (block.timestamp > v.deadline) revert SettlementVoucherExpired(v.deadline);
        uint256 cumulative = v.cumulativeAmount;
        before = _probePaid[v.leaseId][witness];
        if (cumulative <= before) revert SettlementNothingToRedeem(cumulative, before);
        if (cumulative > g.maxAmount) revert SettlementProbeOverCap(cumulative, g.maxAmount);
        _requireVoucherSigner(voucherDigest(v), witnessSignature, witness);
    }

    /// @dev For a lease whose open bit is clear: passes only while it is closed and inside the redeem window.
    function _requireRedeemable(uint256 leaseId, LeaseData storage l) private view {
        LeaseStatus s = l.status;
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

    /// @dev A voucher's (or a probe grant's) signature: 65 bytes (r, s, v) and the recovered signer must
    /// be `expected`.
    /// Unlike {_requireSigner} it accepts either s of a signature (both halves recover the same
    /// signer): a voucher is identified by its contents, never by its signature, and what it pays is
    /// bounded by the cumulative amount, so a second form of the same signature gains nothing.
    function _requireVoucherSigner(bytes32 digest, bytes calldata signature, address expected) private pure {
        address recovered;
        if (signature.length == 65) {
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly ("memory-safe") {
                r := calldataload(signature.offset)
                s := calldataload(add(signature.offset, 0x20))
                v := byte(0, calldataload(add(signature.offset, 0x40)))
            }
            recovered = ecrecover(digest, v, r, s);
        }
        if (recovered != expected || expected == address(0)) revert SettlementBadSigner(recovered, expected);
    }

    function _openClaim(uint256 claimId) private view returns (Claim storage c) {
        c = _claims[claimId];
        if (c.status == ClaimStatus.None) revert SettlementUnknownClaim(claimId);
        if (c.status != ClaimStatus.Open) revert SettlementClaimNotOpen(claimId, c.status);
    }
}
