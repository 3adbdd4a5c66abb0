// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IWitnessPool} from "./IWitnessPool.sol";

/// @title FaaS market: levels, orders with SLA terms, sealed-bid reverse auctions, leases in epochs
/// @notice A customer posts an order for a level with its SLA (availability target in basis points,
/// p95 latency target, epoch length; the winning bid's claimed GFLOP/s is the capacity target) and
/// locks twice the maximum fee (reservation fee plus an equal per-call budget) plus the witness fee of
/// every epoch (`epochs * committeeSize * rewardUnit`). Providers commit sealed bids
/// `keccak256(abi.encode(chainId, market, orderId, bidder, unitPrice, claimedGflops, salt))` with a
/// bond proportional to the order value (`max(minBidBond, maxFee * bidBondBps / 10000)`), at most
/// `MAX_BIDS_PER_PROVIDER` per provider, then reveal; the lowest revealed unit price wins, ties to the
/// earlier commit; the runner-up is kept and offered the lease when the winner does not confirm. An
/// unrevealed bid forfeits its bond to the customer.
/// Confirmation locks the lease's collateral (`max(minProviderStake, fee + budget)`) from the
/// executor's free stake. The lease runs in `epochs` epochs of `epochLength` seconds. Anyone requests
/// the witness round of the current epoch while it runs, once per epoch, so the committee is drawn as
/// the epoch starts and probes all of it; up to two rounds of a lease are open at once, of epochs of
/// different parity (the previous epoch's in its commit and reveal windows while the current epoch's
/// probes; the pool stores a lease's rounds by epoch parity). Since `minEpochLength`
/// is at least the pool's `commitWindow + revealWindow`, a round drawn during its epoch can be
/// finalized when the epoch after next starts, in time for that epoch's request. Round outcomes settle
/// epochs strictly in order: Ok pays the provider the epoch's share of the fee; Stale pays it within
/// `staleGrace` of the first consecutive Stale epoch and refunds it after; a cancelled round refunds
/// it; Fraud or Unavailable pays the epoch pro rata up to the violation time, refunds the rest of the
/// lease and fails it. An epoch whose round was never requested is refunded with its witness fee when
/// a later epoch's round settles, or by `finish` after the lease's end. When the customer never starts
/// a deployed lease, the provider is paid `deployFeeBps` of the fee. The lease id equals the order id.
interface IMarket {
    enum State {
        None,
        Bidding,
        Confirming,
        Deploying,
        Fulfilling,
        Finished,
        Failed,
        Cancelled
    }

    /// @notice A FaaS level (resource specs and labels); the table is append-only.
    struct Level {
        uint32 cpuCores;
        uint32 memoryMiB;
        uint32 gpuMemoryMiB;
        uint32 minGflops;
        uint8 teeType;
        string labels;
    }

    /// @notice What the customer asks for; the SLA part is carried by the lease and read by witnesses.
    struct OrderParams {
        uint32 levelId;
        uint64 duration;
        uint128 maxUnitPrice;
        uint64 biddingWindow;
        uint8 committeeSize;
        uint8 majority;
        uint16 availabilityBps;
        uint32 p95LatencyMs;
        uint64 epochLength;
    }

    /// @notice An order and its lease, packed in seven slots. `winner` is the bid offered the lease
    /// (the runner-up once it was offered); `price` is that bid's unit price; `escrow` is what the
    /// market holds for this order (bonds excluded). Epochs: `nextEpoch` is the first epoch not settled
    /// yet; `nextRequest` is one past the last epoch whose round was requested (requests only go
    /// forward); `pendingRounds` (at most 2) rounds are open in the pool, the oldest for epoch
    /// `firstPending` (meaningful while `pendingRounds > 0`) and the newest for `nextRequest - 1`.
    /// Once the lease Failed these fields keep the state at failure.
    struct Order {
        // slot 0
        address customer;
        uint32 levelId;
        State state;
        uint8 committeeSize;
        uint8 majority;
        uint16 bidCount;
        uint16 revealedCount;
        bool runnerUpOffered;
        // slot 1
        uint16 winner;
        uint16 runnerUp;
        uint64 duration;
        uint64 bidDeadline;
        uint64 revealDeadline;
        uint32 capacityGflops;
        // slot 2: the epochs, read by every round request, written by every settlement
        uint64 startedAt;
        uint64 epochLength;
        uint32 epochs;
        uint32 nextEpoch;
        uint64 staleSince;
        // slot 3: written by every round request and settlement
        uint128 escrow;
        uint8 pendingRounds;
        uint32 firstPending;
        uint32 nextRequest;
        uint16 availabilityBps;
        uint32 p95LatencyMs;
        // slot 4
        uint128 price;
        uint128 witnessFee;
        // slot 5: the auction and confirmation steps (`maxUnitPrice * duration` fits in 96 bits)
        uint96 maxUnitPrice;
        uint96 runnerUpPrice;
        uint64 stepDeadline;
        // slot 6
        uint128 bidBond;
        uint128 collateral;
    }

    struct Bid {
        address bidder;
        uint32 gflops;
        bool revealed;
        bool bondClaimed;
        uint64 executorId;
        uint128 price;
        bytes32 commitment;
    }

    error MarketUnauthorized(address caller);
    error MarketUnknownLevel(uint256 levelId);
    error MarketUnknownOrder(uint256 orderId);
    error MarketBadOrder();
    error MarketWrongState(uint256 orderId, State state);
    error MarketNotCustomer(address caller);
    error MarketNotWinner(address caller);
    error MarketBiddingClosed(uint256 orderId, uint64 deadline);
    error MarketRevealNotOpen(uint256 orderId, uint64 opensAt);
    error MarketRevealClosed(uint256 orderId, uint64 deadline);
    error MarketTooManyBids(uint256 max);
    error MarketTooManyBidsFromProvider(address provider, uint256 max);
    error MarketNotExecutorProvider(uint256 executorId, address caller);
    error MarketExecutorBelowLevel(uint256 executorId, uint256 levelId);
    error MarketExecutorUnderstaked(uint256 executorId, uint256 stake, uint256 min);
    error MarketDuplicateBid(uint256 orderId, uint256 executorId);
    error MarketUnknownBid(uint256 orderId, uint256 bidIndex);
    error MarketNotBidder(address caller, address bidder);
    error MarketAlreadyRevealed(uint256 orderId, uint256 bidIndex);
    error MarketCommitmentMismatch(uint256 orderId, uint256 bidIndex);
    error MarketBidTooHigh(uint256 price, uint256 max);
    error MarketGflopsTooLow(uint256 gflops, uint256 min);
    error MarketBondNotClaimable(uint256 orderId, uint256 bidIndex);
    error MarketDeadlineNotReached(uint256 orderId, uint64 deadline);
    error MarketDeadlinePassed(uint256 orderId, uint64 deadline);
    error MarketRoundPending(uint256 orderId);
    error MarketEpochAlreadyRequested(uint256 orderId, uint32 epoch);
    error MarketTooManyPendingRounds(uint256 orderId);
    /// @notice The open round is of an epoch of the same parity (two or more epochs back): finalize it first.
    error MarketSameParityRoundPending(uint256 orderId, uint32 pendingEpoch);
    error MarketNoEpochLeft(uint256 orderId);
    error MarketWrongEpoch(uint256 orderId, uint32 epoch, uint32 expected);
    error MarketHasBids(uint256 orderId);
    error MarketNoRoundPending(uint256 orderId);
    error MarketBadParams();

    event LevelAdded(uint256 indexed levelId, uint32 cpuCores, uint32 memoryMiB, uint32 gpuMemoryMiB, uint32 minGflops, uint8 teeType, string labels);
    event OrderPosted(uint256 indexed orderId, address indexed customer, uint256 indexed levelId, uint64 duration, uint128 maxUnitPrice, uint64 bidDeadline, uint64 revealDeadline, uint256 escrow);
    event OrderSla(uint256 indexed orderId, uint16 availabilityBps, uint32 p95LatencyMs, uint64 epochLength, uint32 epochs, uint256 witnessFee, uint256 bidBond);
    event OrderCancelled(uint256 indexed orderId);
    event BidCommitted(uint256 indexed orderId, uint256 indexed bidIndex, address indexed bidder, uint256 executorId, bytes32 commitment);
    event BidRevealed(uint256 indexed orderId, uint256 indexed bidIndex, uint128 price, uint32 gflops, bool leading);
    event BondClaimed(uint256 indexed orderId, uint256 indexed bidIndex, address indexed bidder, uint256 amount);
    event BiddingClosed(uint256 indexed orderId, uint256 winner, uint128 price, uint256 forfeitedBonds);
    event RunnerUpOffered(uint256 indexed orderId, uint256 bidIndex, uint128 price, uint64 confirmDeadline);
    event LeaseConfirmed(uint256 indexed orderId, uint256 indexed executorId, address indexed enclave, string deployment, uint64 deployDeadline, uint256 collateral);
    event LeaseStarted(uint256 indexed orderId, uint64 startedAt, uint64 endsAt, uint32 epochs);
    event EpochRoundRequested(uint256 indexed orderId, uint32 indexed epoch, uint256 roundId);
    event EpochSettled(uint256 indexed orderId, uint32 indexed epoch, IWitnessPool.Verdict verdict, uint256 providerPaid, uint256 customerRefunded);
    event EpochsUnchecked(uint256 indexed orderId, uint32 fromEpoch, uint32 count, uint256 customerRefunded);
    /// @dev `OrderFinished` and `OrderFailed` carry what the ending transaction paid and refunded;
    /// earlier epochs are in `EpochSettled` and `EpochsUnchecked`.
    event OrderFinished(uint256 indexed orderId, uint256 providerPaid, uint256 customerRefunded);
    event OrderFailed(uint256 indexed orderId, State from, uint256 providerPaid, uint256 customerRefunded);

    /// @notice Appends a level (owner only; levels hold no funds).
    function addLevel(Level calldata level) external returns (uint256 levelId);

    /// @notice Posts an order and locks `2 * maxUnitPrice * duration + epochs * committeeSize * rewardUnit`.
    function postOrder(OrderParams calldata p) external returns (uint256 orderId);

    /// @notice Cancels an order that has no bid yet (customer only).
    function cancelOrder(uint256 orderId) external;

    /// @notice Commits a sealed bid for one of the caller's executors and posts the order's bid bond.
    function commitBid(uint256 orderId, uint256 executorId, bytes32 commitment) external returns (uint256 bidIndex);

    /// @notice Reveals the caller's bid between the bid and the reveal deadline.
    function revealBid(uint256 orderId, uint256 bidIndex, uint128 unitPrice, uint32 claimedGflops, bytes32 salt) external;

    /// @notice After the reveal deadline: picks the winner and the runner-up (-> Confirming) or fails the order.
    function closeBidding(uint256 orderId) external;

    /// @notice Withdraws a revealed bond that no longer backs an offer.
    function claimBond(uint256 orderId, uint256 bidIndex) external;

    /// @notice The offered bidder (winner, or runner-up after the winner let its window pass) records
    /// the deployment, locks the collateral and creates the lease (-> Deploying).
    function confirmLease(uint256 orderId, string calldata deployment) external;

    /// @notice The customer confirms the function is deployed; the lease clock starts (-> Fulfilling).
    function startLease(uint256 orderId) external;

    /// @notice Requests the witness round of the current epoch `(now - startedAt) / epochLength` while
    /// the lease runs, and sends its witness fee (`committeeSize * rewardUnit`) to the pool. Reverts
    /// `MarketNoEpochLeft` after the lease's end, `MarketEpochAlreadyRequested` when this epoch's round
    /// was requested already, `MarketTooManyPendingRounds` while two rounds are open (finalize the
    /// older one first), `MarketSameParityRoundPending` while the one open round is of an epoch of the
    /// same parity (the previous epoch had no round; the pool reuses that round's storage, so finalize
    /// it first: a round drawn during its epoch can be finalized by the time this one starts). Anyone
    /// may call.
    function requestRound(uint256 orderId) external returns (uint256 roundId);

    /// @notice The pool reports a round's outcome (a cancelled round reports `None`). The round must be
    /// the lease's oldest open one (`MarketWrongEpoch` otherwise, so rounds are finalized in order).
    /// The epochs between the last settled one and `epoch` had no round and are refunded first
    /// (`EpochsUnchecked`); then `epoch` is settled; settling the last epoch finishes the lease, and a
    /// Fraud or Unavailable outcome fails it and refunds everything still escrowed. A report for a
    /// lease that already Failed (its other open round) has no effect.
    /// @return counted True when the lease was Fulfilling and this report settled `epoch`; false for a
    /// report after the lease Failed. The pool slashes the collateral only for a counted Fraud or
    /// Unavailable outcome, so the outage a failed lease causes (its executor refuses calls once the
    /// lease is closed) is never slashed again.
    function onRoundSettled(uint256 leaseId, uint32 epoch, IWitnessPool.Verdict verdict, uint64 violationTime)
        external
        returns (bool counted);

    /// @notice After the lease's end, with no round open: refunds the epochs not settled (none of them
    /// had a round) and finishes the lease. Anyone may call.
    function finish(uint256 orderId) external;

    /// @notice Confirming past its deadline: offers the runner-up once, else fails the order.
    /// Deploying past its deadline: pays the provider the deployment fee and refunds the rest.
    function expire(uint256 orderId) external;

    function bidCommitment(uint256 orderId, address bidder, uint128 unitPrice, uint32 claimedGflops, bytes32 salt)
        external
        view
        returns (bytes32);
    function level(uint256 levelId) external view returns (Level memory);
    function levelCount() external view returns (uint256);
    function order(uint256 orderId) external view returns (Order memory);
    function orderCount() external view returns (uint256);
    function bid(uint256 orderId, uint256 bidIndex) external view returns (Bid memory);
    /// @return The fee share of `epoch` (the fee split into `epochs` parts without dust).
    function epochFee(uint256 orderId, uint32 epoch) external view returns (uint256);
    /// @return startsAt Start of `epoch` of a started lease.
    /// @return endsAt Its end: `startsAt + epochLength`, or the end of the lease for the last epoch.
    function epochWindow(uint256 orderId, uint32 epoch) external view returns (uint64 startsAt, uint64 endsAt);
    /// @return Tokens held as order escrow (fees, budgets before confirmation, witness fees) plus bid bonds.
    function totalHeld() external view returns (uint256);
}
