// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title FaaS market: levels, orders, sealed-bid reverse auctions, leases
/// @notice Customers post orders for a level, locking twice the maximum fee (reservation fee plus an
/// equal per-call budget). Providers commit sealed bids
/// `keccak256(abi.encode(chainId, market, orderId, bidder, unitPrice, claimedGflops, salt))` with a
/// fixed bond, then reveal; the lowest revealed unit price wins, ties to the earlier commit; an
/// unrevealed bid forfeits its bond to the customer. States:
/// Bidding -> Confirming -> Deploying -> Fulfilling -> Finished, with Failed and Cancelled exits and a
/// timeout at every step. The lease id equals the order id.
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

    struct OrderParams {
        uint32 levelId;
        uint64 duration;
        uint128 maxUnitPrice;
        uint64 biddingWindow;
        uint8 committeeSize;
        uint8 majority;
    }

    struct Order {
        address customer;
        uint32 levelId;
        State state;
        uint8 committeeSize;
        uint8 majority;
        uint8 bidCount;
        uint8 revealedCount;
        uint8 winner;
        uint64 duration;
        uint64 bidDeadline;
        uint64 revealDeadline;
        uint64 stepDeadline;
        uint128 maxUnitPrice;
        uint128 escrow;
        uint128 price;
        uint64 startedAt;
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
    error MarketHasBids(uint256 orderId);

    event LevelAdded(uint256 indexed levelId, uint32 cpuCores, uint32 memoryMiB, uint32 gpuMemoryMiB, uint32 minGflops, uint8 teeType, string labels);
    event OrderPosted(uint256 indexed orderId, address indexed customer, uint256 indexed levelId, uint64 duration, uint128 maxUnitPrice, uint64 bidDeadline, uint64 revealDeadline, uint256 escrow);
    event OrderCancelled(uint256 indexed orderId);
    event BidCommitted(uint256 indexed orderId, uint256 indexed bidIndex, address indexed bidder, uint256 executorId, bytes32 commitment);
    event BidRevealed(uint256 indexed orderId, uint256 indexed bidIndex, uint128 price, uint32 gflops, bool leading);
    event BondClaimed(uint256 indexed orderId, uint256 indexed bidIndex, address indexed bidder, uint256 amount);
    event BiddingClosed(uint256 indexed orderId, uint256 winner, uint128 price, uint256 forfeitedBonds);
    event LeaseConfirmed(uint256 indexed orderId, uint256 indexed executorId, address indexed enclave, string deployment, uint64 deployDeadline);
    event LeaseStarted(uint256 indexed orderId, uint256 roundId, uint64 startedAt, uint64 endsAt);
    event OrderFinished(uint256 indexed orderId, uint256 providerPaid, uint256 customerRefunded);
    event OrderFailed(uint256 indexed orderId, State from, uint256 providerPaid, uint256 customerRefunded);

    /// @notice Appends a level (owner only).
    function addLevel(Level calldata level) external returns (uint256 levelId);

    /// @notice Posts an order and locks `2 * maxUnitPrice * duration` from the caller.
    function postOrder(OrderParams calldata p) external returns (uint256 orderId);

    /// @notice Cancels an order that has no bid yet (customer only).
    function cancelOrder(uint256 orderId) external;

    /// @notice Commits a sealed bid for one of the caller's executors and posts `bidBond`.
    function commitBid(uint256 orderId, uint256 executorId, bytes32 commitment) external returns (uint256 bidIndex);

    /// @notice Reveals the caller's bid between the bid and the reveal deadline.
    function revealBid(uint256 orderId, uint256 bidIndex, uint128 unitPrice, uint32 claimedGflops, bytes32 salt) external;

    /// @notice After the reveal deadline: picks the winner (-> Confirming) or fails the order.
    function closeBidding(uint256 orderId) external;

    /// @notice Withdraws a revealed losing bid's bond (or any revealed bond of a cancelled order).
    function claimBond(uint256 orderId, uint256 bidIndex) external;

    /// @notice The winner records the deployment details and creates the lease (-> Deploying).
    function confirmLease(uint256 orderId, string calldata deployment) external;

    /// @notice The customer confirms the function is deployed; the lease clock starts and a committee is
    /// requested (-> Fulfilling).
    function startLease(uint256 orderId) external;

    /// @notice After the lease ends and its witness round settled: pays the provider and refunds the rest.
    function finish(uint256 orderId) external;

    /// @notice Fails an order whose Confirming or Deploying deadline passed.
    function expire(uint256 orderId) external;

    /// @notice Ends a lease after a Violated verdict with a pro-rata refund (witness pool only).
    function onViolation(uint256 leaseId, uint64 violationTime) external;

    function bidCommitment(uint256 orderId, address bidder, uint128 unitPrice, uint32 claimedGflops, bytes32 salt)
        external
        view
        returns (bytes32);
    function level(uint256 levelId) external view returns (Level memory);
    function levelCount() external view returns (uint256);
    function order(uint256 orderId) external view returns (Order memory);
    function orderCount() external view returns (uint256);
    function bid(uint256 orderId, uint256 bidIndex) external view returns (Bid memory);
    /// @return Tokens held as order escrow plus bid bonds.
    function totalHeld() external view returns (uint256);
}
