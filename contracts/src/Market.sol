// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IMarket} from "./interfaces/IMarket.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {IWitnessPool} from "./interfaces/IWitnessPool.sol";

/// @title Market
/// @notice See {IMarket}. Escrow of an order: `2 * maxUnitPrice * duration` at posting; at close the
/// part above `price * duration + maxUnitPrice * duration` is refunded; at confirmation the per-call
/// budget `maxUnitPrice * duration` moves to Settlement; the reservation fee `price * duration` stays
/// here until the lease ends (paid pro rata after a Violated verdict).
contract Market is IMarket, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_BIDS = 32;

    struct Params {
        uint128 bidBond;
        uint128 minProviderStake;
        uint64 revealWindow;
        uint64 confirmWindow;
        uint64 deployWindow;
        uint64 minBiddingWindow;
        uint64 maxBiddingWindow;
        uint64 maxDuration;
    }

    IERC20 public immutable token;
    IRegistry public immutable registry;
    ISettlement public immutable settlement;
    IWitnessPool public immutable pool;
    uint128 public immutable bidBond;
    uint128 public immutable minProviderStake;
    uint64 public immutable revealWindow;
    uint64 public immutable confirmWindow;
    uint64 public immutable deployWindow;
    uint64 public immutable minBiddingWindow;
    uint64 public immutable maxBiddingWindow;
    uint64 public immutable maxDuration;

    uint256 public totalHeld;
    Level[] private _levels;
    Order[] private _orders; // index = id - 1
    mapping(uint256 orderId => mapping(uint256 bidIndex => Bid)) private _bids;
    mapping(uint256 orderId => mapping(uint256 executorId => bool)) private _hasBid;

    constructor(IERC20 token_, IRegistry registry_, ISettlement settlement_, IWitnessPool pool_, Params memory p)
        Ownable(msg.sender)
    {
        token = token_;
        registry = registry_;
        settlement = settlement_;
        pool = pool_;
        bidBond = p.bidBond;
        minProviderStake = p.minProviderStake;
        revealWindow = p.revealWindow;
        confirmWindow = p.confirmWindow;
        deployWindow = p.deployWindow;
        minBiddingWindow = p.minBiddingWindow;
        maxBiddingWindow = p.maxBiddingWindow;
        maxDuration = p.maxDuration;
    }

    // ---------------------------------------------------------------- levels and orders

    /// @inheritdoc IMarket
    function addLevel(Level calldata l) external onlyOwner returns (uint256 levelId) {
        _levels.push(l);
        levelId = _levels.length;
        emit LevelAdded(levelId, l.cpuCores, l.memoryMiB, l.gpuMemoryMiB, l.minGflops, l.teeType, l.labels);
    }

    /// @inheritdoc IMarket
    function postOrder(OrderParams calldata p) external nonReentrant returns (uint256 orderId) {
        if (p.levelId == 0 || p.levelId > _levels.length) revert MarketUnknownLevel(p.levelId);
        if (
            p.duration == 0 || p.duration > maxDuration || p.maxUnitPrice == 0 || p.biddingWindow < minBiddingWindow
                || p.biddingWindow > maxBiddingWindow
        ) revert MarketBadOrder();
        pool.validateCommittee(p.committeeSize, p.majority);
        uint256 maxFee = uint256(p.maxUnitPrice) * p.duration;
        if (maxFee > type(uint96).max) revert MarketBadOrder();
        uint256 escrow = 2 * maxFee;
        uint64 bidDeadline = uint64(block.timestamp) + p.biddingWindow;
        uint64 revealDeadline = bidDeadline + revealWindow;
        _orders.push(
            Order({
                customer: msg.sender,
                levelId: p.levelId,
                state: State.Bidding,
                committeeSize: p.committeeSize,
                majority: p.majority,
                bidCount: 0,
                revealedCount: 0,
                winner: 0,
                duration: p.duration,
                bidDeadline: bidDeadline,
                revealDeadline: revealDeadline,
                stepDeadline: revealDeadline,
                maxUnitPrice: p.maxUnitPrice,
                escrow: uint128(escrow),
                price: 0,
                startedAt: 0
            })
        );
        orderId = _orders.length;
        totalHeld += escrow;
        emit OrderPosted(orderId, msg.sender, p.levelId, p.duration, p.maxUnitPrice, bidDeadline, revealDeadline, escrow);
        token.safeTransferFrom(msg.sender, address(this), escrow);
    }

    /// @inheritdoc IMarket
    function cancelOrder(uint256 orderId) external nonReentrant {
        Order storage o = _inState(orderId, State.Bidding);
        if (msg.sender != o.customer) revert MarketNotCustomer(msg.sender);
        if (o.bidCount != 0) revert MarketHasBids(orderId);
        uint256 refund = o.escrow;
        o.state = State.Cancelled;
        o.escrow = 0;
        totalHeld -= refund;
        emit OrderCancelled(orderId);
        token.safeTransfer(msg.sender, refund);
    }

    // ---------------------------------------------------------------- sealed-bid reverse auction

    /// @inheritdoc IMarket
    function commitBid(uint256 orderId, uint256 executorId, bytes32 commitment)
        external
        nonReentrant
        returns (uint256 bidIndex)
    {
        Order storage o = _inState(orderId, State.Bidding);
        if (block.timestamp >= o.bidDeadline) revert MarketBiddingClosed(orderId, o.bidDeadline);
        bidIndex = o.bidCount;
        if (bidIndex >= MAX_BIDS) revert MarketTooManyBids(MAX_BIDS);
        if (_hasBid[orderId][executorId]) revert MarketDuplicateBid(orderId, executorId);
        IRegistry.Executor memory e = registry.executor(executorId);
        if (e.provider != msg.sender) revert MarketNotExecutorProvider(executorId, msg.sender);
        Level storage l = _levels[o.levelId - 1];
        if (
            e.cpuCores < l.cpuCores || e.memoryMiB < l.memoryMiB || e.gpuMemoryMiB < l.gpuMemoryMiB
                || uint8(e.teeType) != l.teeType || e.gflops < l.minGflops
        ) revert MarketExecutorBelowLevel(executorId, o.levelId);
        if (e.stake < minProviderStake) revert MarketExecutorUnderstaked(executorId, e.stake, minProviderStake);

        _hasBid[orderId][executorId] = true;
        _bids[orderId][bidIndex] = Bid({
            bidder: msg.sender,
            gflops: 0,
            revealed: false,
            bondClaimed: false,
            executorId: uint64(executorId),
            price: 0,
            commitment: commitment
        });
        o.bidCount = uint8(bidIndex + 1);
        totalHeld += bidBond;
        emit BidCommitted(orderId, bidIndex, msg.sender, executorId, commitment);
        if (bidBond > 0) token.safeTransferFrom(msg.sender, address(this), bidBond);
    }

    /// @inheritdoc IMarket
    function revealBid(uint256 orderId, uint256 bidIndex, uint128 unitPrice, uint32 claimedGflops, bytes32 salt)
        external
    {
        Order storage o = _inState(orderId, State.Bidding);
        if (block.timestamp < o.bidDeadline) revert MarketRevealNotOpen(orderId, o.bidDeadline);
        if (block.timestamp >= o.revealDeadline) revert MarketRevealClosed(orderId, o.revealDeadline);
        if (bidIndex >= o.bidCount) revert MarketUnknownBid(orderId, bidIndex);
        Bid storage b = _bids[orderId][bidIndex];
        if (msg.sender != b.bidder) revert MarketNotBidder(msg.sender, b.bidder);
        if (b.revealed) revert MarketAlreadyRevealed(orderId, bidIndex);
        if (b.commitment != bidCommitment(orderId, msg.sender, unitPrice, claimedGflops, salt)) {
            revert MarketCommitmentMismatch(orderId, bidIndex);
        }
        if (unitPrice > o.maxUnitPrice) revert MarketBidTooHigh(unitPrice, o.maxUnitPrice);
        uint32 minGflops = _levels[o.levelId - 1].minGflops;
        if (claimedGflops < minGflops) revert MarketGflopsTooLow(claimedGflops, minGflops);

        b.revealed = true;
        b.price = unitPrice;
        b.gflops = claimedGflops;
        bool leading = o.revealedCount == 0 || unitPrice < o.price || (unitPrice == o.price && bidIndex < o.winner);
        if (leading) {
            o.winner = uint8(bidIndex);
            o.price = unitPrice;
        }
        o.revealedCount += 1;
        emit BidRevealed(orderId, bidIndex, unitPrice, claimedGflops, leading);
    }

    /// @inheritdoc IMarket
    function closeBidding(uint256 orderId) external nonReentrant {
        Order storage o = _inState(orderId, State.Bidding);
        if (block.timestamp < o.revealDeadline) revert MarketDeadlineNotReached(orderId, o.revealDeadline);
        uint256 forfeited = uint256(o.bidCount - o.revealedCount) * bidBond;
        uint256 refund = forfeited;
        if (o.revealedCount == 0) {
            refund += o.escrow;
            o.escrow = 0;
            o.state = State.Failed;
            emit OrderFailed(orderId, State.Bidding, 0, refund);
        } else {
            uint256 maxFee = uint256(o.maxUnitPrice) * o.duration;
            uint256 excess = maxFee - uint256(o.price) * o.duration;
            refund += excess;
            o.escrow -= uint128(excess);
            o.state = State.Confirming;
            o.stepDeadline = uint64(block.timestamp) + confirmWindow;
        }
        totalHeld -= refund;
        emit BiddingClosed(orderId, o.winner, o.price, forfeited);
        if (refund > 0) token.safeTransfer(o.customer, refund);
    }

    /// @inheritdoc IMarket
    function claimBond(uint256 orderId, uint256 bidIndex) external nonReentrant {
        Order storage o = _order(orderId);
        if (bidIndex >= o.bidCount) revert MarketUnknownBid(orderId, bidIndex);
        Bid storage b = _bids[orderId][bidIndex];
        bool heldForWinner = bidIndex == o.winner && o.state == State.Confirming;
        if (o.state == State.Bidding || !b.revealed || b.bondClaimed || heldForWinner) {
            revert MarketBondNotClaimable(orderId, bidIndex);
        }
        b.bondClaimed = true;
        totalHeld -= bidBond;
        emit BondClaimed(orderId, bidIndex, b.bidder, bidBond);
        if (bidBond > 0) token.safeTransfer(b.bidder, bidBond);
    }

    // ---------------------------------------------------------------- lease

    /// @inheritdoc IMarket
    function confirmLease(uint256 orderId, string calldata deployment) external nonReentrant {
        Order storage o = _inState(orderId, State.Confirming);
        Bid storage b = _bids[orderId][o.winner];
        if (msg.sender != b.bidder) revert MarketNotWinner(msg.sender);
        if (block.timestamp >= o.stepDeadline) revert MarketDeadlinePassed(orderId, o.stepDeadline);
        uint256 executorId = b.executorId;
        IRegistry.Executor memory e = registry.executor(executorId);
        if (e.stake < minProviderStake) revert MarketExecutorUnderstaked(executorId, e.stake, minProviderStake);

        uint256 budget = uint256(o.maxUnitPrice) * o.duration;
        uint64 deployDeadline = uint64(block.timestamp) + deployWindow;
        o.state = State.Deploying;
        o.stepDeadline = deployDeadline;
        o.escrow -= uint128(budget);
        b.bondClaimed = true;
        totalHeld -= budget + bidBond;
        emit LeaseConfirmed(orderId, executorId, e.enclave, deployment, deployDeadline);
        registry.lockExecutor(executorId);
        token.safeTransfer(address(settlement), budget);
        settlement.openLease(orderId, o.customer, msg.sender, executorId, e.enclave, budget);
        if (bidBond > 0) token.safeTransfer(msg.sender, bidBond);
    }

    /// @inheritdoc IMarket
    function startLease(uint256 orderId) external {
        Order storage o = _inState(orderId, State.Deploying);
        if (msg.sender != o.customer) revert MarketNotCustomer(msg.sender);
        if (block.timestamp >= o.stepDeadline) revert MarketDeadlinePassed(orderId, o.stepDeadline);
        uint64 endsAt = uint64(block.timestamp) + o.duration;
        o.state = State.Fulfilling;
        o.startedAt = uint64(block.timestamp);
        o.stepDeadline = endsAt;
        uint256 executorId = _bids[orderId][o.winner].executorId;
        uint256 roundId = pool.requestCommittee(orderId, executorId, o.customer, o.committeeSize, o.majority);
        emit LeaseStarted(orderId, roundId, uint64(block.timestamp), endsAt);
    }

    /// @inheritdoc IMarket
    function finish(uint256 orderId) external nonReentrant {
        Order storage o = _inState(orderId, State.Fulfilling);
        if (block.timestamp < o.stepDeadline) revert MarketDeadlineNotReached(orderId, o.stepDeadline);
        if (pool.roundPending(orderId)) revert MarketRoundPending(orderId);
        uint256 fee = o.escrow;
        o.state = State.Finished;
        o.escrow = 0;
        totalHeld -= fee;
        emit OrderFinished(orderId, fee, 0);
        _endLease(orderId, o);
        if (fee > 0) token.safeTransfer(_bids[orderId][o.winner].bidder, fee);
    }

    /// @inheritdoc IMarket
    function expire(uint256 orderId) external nonReentrant {
        Order storage o = _order(orderId);
        State s = o.state;
        if (s != State.Confirming && s != State.Deploying) revert MarketWrongState(orderId, s);
        if (block.timestamp < o.stepDeadline) revert MarketDeadlineNotReached(orderId, o.stepDeadline);
        uint256 refund = o.escrow;
        o.state = State.Failed;
        o.escrow = 0;
        if (s == State.Confirming) {
            // The winner never confirmed: its bond goes to the customer.
            _bids[orderId][o.winner].bondClaimed = true;
            refund += bidBond;
        }
        totalHeld -= refund;
        emit OrderFailed(orderId, s, 0, refund);
        if (s == State.Deploying) _endLease(orderId, o);
        if (refund > 0) token.safeTransfer(o.customer, refund);
    }

    /// @inheritdoc IMarket
    function onViolation(uint256 leaseId, uint64 violationTime) external nonReentrant {
        if (msg.sender != address(pool)) revert MarketUnauthorized(msg.sender);
        Order storage o = _order(leaseId);
        if (o.state != State.Fulfilling) return; // already ended; the slash stands
        uint64 start = o.startedAt;
        uint64 end = start + o.duration;
        uint64 t = violationTime < start ? start : (violationTime > end ? end : violationTime);
        uint256 fee = o.escrow;
        uint256 providerPaid = fee * (t - start) / o.duration;
        uint256 refund = fee - providerPaid;
        o.state = State.Failed;
        o.escrow = 0;
        totalHeld -= fee;
        emit OrderFailed(leaseId, State.Fulfilling, providerPaid, refund);
        _endLease(leaseId, o);
        if (providerPaid > 0) token.safeTransfer(_bids[leaseId][o.winner].bidder, providerPaid);
        if (refund > 0) token.safeTransfer(o.customer, refund);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IMarket
    function bidCommitment(uint256 orderId, address bidder, uint128 unitPrice, uint32 claimedGflops, bytes32 salt)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), orderId, bidder, unitPrice, claimedGflops, salt));
    }

    function level(uint256 levelId) external view returns (Level memory) {
        if (levelId == 0 || levelId > _levels.length) revert MarketUnknownLevel(levelId);
        return _levels[levelId - 1];
    }

    function levelCount() external view returns (uint256) {
        return _levels.length;
    }

    function order(uint256 orderId) external view returns (Order memory) {
        return _order(orderId);
    }

    function orderCount() external view returns (uint256) {
        return _orders.length;
    }

    function bid(uint256 orderId, uint256 bidIndex) external view returns (Bid memory) {
        return _bids[orderId][bidIndex];
    }

    // ---------------------------------------------------------------- internals

    function _endLease(uint256 orderId, Order storage o) private {
        registry.unlockExecutor(_bids[orderId][o.winner].executorId);
        settlement.closeLease(orderId);
    }

    function _order(uint256 orderId) private view returns (Order storage) {
        if (orderId == 0 || orderId > _orders.length) revert MarketUnknownOrder(orderId);
        return _orders[orderId - 1];
    }

    function _inState(uint256 orderId, State s) private view returns (Order storage o) {
        o = _order(orderId);
        if (o.state != s) revert MarketWrongState(orderId, o.state);
    }
}
