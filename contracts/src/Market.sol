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
/// @notice See {IMarket}. The escrow of an order moves as follows (`d` = duration):
/// - posting: `2 * maxUnitPrice * d + witnessFee`;
/// - closing the bidding: the part of the reservation above the runner-up's price (the winner's when
///   it is alone) goes back to the customer, so either bidder can still be confirmed;
/// - confirmation: the call budget `maxUnitPrice * d` moves to the settlement and the reservation
///   above the confirmed `price * d` goes back; what stays is the fee `price * d` and the witness fees;
/// - each epoch: its witness fee goes to the pool with the round request, its fee share to the
///   provider or back to the customer when the round settles; epochs without a round are refunded in
///   one step when a later round settles or at `finish`;
/// - a Fraud or Unavailable outcome: whatever is still escrowed goes back to the customer (the fee of
///   a round still pending is already in the pool, so it is never refunded twice).
/// `totalHeld` is the sum of every order's escrow plus the bid bonds not yet paid out.
contract Market is IMarket, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_BIDS = 256;
    uint256 public constant MAX_BIDS_PER_PROVIDER = 4;
    uint256 public constant MAX_EPOCHS = 10_000;
    /// @notice Rounds a lease can have open at once: the previous epoch's, in its commit and reveal
    /// windows, and the current epoch's.
    uint256 public constant MAX_PENDING_ROUNDS = 2;
    uint256 private constant BPS = 10_000;

    struct Params {
        uint128 minBidBond;
        uint16 bidBondBps;
        uint128 minProviderStake;
        uint64 revealWindow;
        uint64 confirmWindow;
        uint64 deployWindow;
        uint64 minBiddingWindow;
        uint64 maxBiddingWindow;
        uint64 maxDuration;
        uint64 minEpochLength;
        uint64 staleGrace;
        uint16 deployFeeBps;
    }

    IERC20 public immutable token;
    IRegistry public immutable registry;
    ISettlement public immutable settlement;
    IWitnessPool public immutable pool;
    uint128 private immutable minBidBond;
    uint16 private immutable bidBondBps;
    uint128 private immutable minProviderStake;
    uint64 private immutable revealWindow;
    uint64 private immutable confirmWindow;
    uint64 private immutable deployWindow;
    uint64 private immutable minBiddingWindow;
    uint64 private immutable maxBiddingWindow;
    uint64 private immutable maxDuration;
    uint64 private immutable minEpochLength;
    uint64 private immutable staleGrace;
    uint16 private immutable deployFeeBps;
    /// @dev The pool's (immutable) reward unit: a round's witness fee is `committeeSize * rewardUnit`.
    uint128 private immutable rewardUnit;

    /// @inheritdoc IMarket
    uint256 public totalHeld;
    Level[] private _levels;
    /// @dev Orders by id (1, 2, ...); an id with state None was never posted.
    mapping(uint256 orderId => Order) private _orders;
    uint256 private _orderCount;
    mapping(uint256 orderId => mapping(uint256 bidIndex => Bid)) private _bids;
    mapping(uint256 orderId => mapping(uint256 executorId => bool)) private _hasBid;
    mapping(uint256 orderId => mapping(address bidder => uint256)) private _bidsBy;

    /// @dev `minEpochLength >= commitWindow + revealWindow` of the pool: the round of epoch k, requested
    /// and drawn while epoch k runs, closes its reveal window at most `commitWindow + revealWindow` after
    /// the end of epoch k, so no later than the start of epoch k + 2 (epoch k + 1 is at least
    /// `minEpochLength` long). It can then be finalized before epoch k + 2's round is requested, and
    /// `MAX_PENDING_ROUNDS = 2` open rounds (epochs k and k + 1) are enough to check every epoch.
    constructor(IERC20 token_, IRegistry registry_, ISettlement settlement_, IWitnessPool pool_, Params memory p)
        Ownable(msg.sender)
    {
        if (
            p.bidBondBps > BPS || p.deployFeeBps > BPS || p.minEpochLength == 0
                || p.minBiddingWindow > p.maxBiddingWindow
                || uint256(pool_.commitWindow()) + pool_.revealWindow() > p.minEpochLength
        ) revert MarketBadParams();
        token = token_;
        registry = registry_;
        settlement = settlement_;
        pool = pool_;
        minBidBond = p.minBidBond;
        bidBondBps = p.bidBondBps;
        minProviderStake = p.minProviderStake;
        revealWindow = p.revealWindow;
        confirmWindow = p.confirmWindow;
        deployWindow = p.deployWindow;
        minBiddingWindow = p.minBiddingWindow;
        maxBiddingWindow = p.maxBiddingWindow;
        maxDuration = p.maxDuration;
        minEpochLength = p.minEpochLength;
        staleGrace = p.staleGrace;
        deployFeeBps = p.deployFeeBps;
        rewardUnit = pool_.rewardUnit();
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
        pool.validateCommittee(p.committeeSize, p.majority);
        (uint256 maxFee, uint256 epochs) = _checkTerms(p);
        uint256 witnessFee = epochs * p.committeeSize * rewardUnit;
        if (witnessFee > type(uint96).max) revert MarketBadOrder();
        uint256 bond = maxFee * bidBondBps / BPS;
        if (bond < minBidBond) bond = minBidBond;
        uint256 escrow = 2 * maxFee + witnessFee;

        orderId = ++_orderCount;
        Order storage o = _orders[orderId];
        uint64 revealDeadline = _storeOrder(o, p, epochs, witnessFee, bond, escrow);
        totalHeld += escrow;
        emit OrderPosted(orderId, msg.sender, p.levelId, p.duration, p.maxUnitPrice, o.bidDeadline, revealDeadline, escrow);
        emit OrderSla(orderId, p.availabilityBps, p.p95LatencyMs, p.epochLength, uint32(epochs), witnessFee, bond);
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
        uint256 mine = _bidsBy[orderId][msg.sender];
        if (mine >= MAX_BIDS_PER_PROVIDER) revert MarketTooManyBidsFromProvider(msg.sender, MAX_BIDS_PER_PROVIDER);
        if (_hasBid[orderId][executorId]) revert MarketDuplicateBid(orderId, executorId);
        _checkExecutor(o.levelId, executorId);

        _hasBid[orderId][executorId] = true;
        _bidsBy[orderId][msg.sender] = mine + 1;
        _bids[orderId][bidIndex] = Bid({
            bidder: msg.sender,
            gflops: 0,
            revealed: false,
            bondClaimed: false,
            executorId: uint64(executorId),
            price: 0,
            commitment: commitment
        });
        o.bidCount = uint16(bidIndex + 1);
        uint256 bond = o.bidBond;
        totalHeld += bond;
        emit BidCommitted(orderId, bidIndex, msg.sender, executorId, commitment);
        if (bond > 0) token.safeTransferFrom(msg.sender, address(this), bond);
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
        // Best two by (price, commit order), kept as each bid is revealed.
        uint256 revealed = o.revealedCount;
        bool leading = revealed == 0 || _ranksBefore(unitPrice, bidIndex, o.price, o.winner);
        if (leading) {
            if (revealed != 0) {
                o.runnerUp = o.winner;
                o.runnerUpPrice = uint96(o.price);
            }
            o.winner = uint16(bidIndex);
            o.price = unitPrice;
        } else if (revealed == 1 || _ranksBefore(unitPrice, bidIndex, o.runnerUpPrice, o.runnerUp)) {
            o.runnerUp = uint16(bidIndex);
            o.runnerUpPrice = uint96(unitPrice);
        }
        o.revealedCount = uint16(revealed + 1);
        emit BidRevealed(orderId, bidIndex, unitPrice, claimedGflops, leading);
    }

    /// @inheritdoc IMarket
    function closeBidding(uint256 orderId) external nonReentrant {
        Order storage o = _inState(orderId, State.Bidding);
        if (block.timestamp < o.revealDeadline) revert MarketDeadlineNotReached(orderId, o.revealDeadline);
        uint256 revealed = o.revealedCount;
        uint256 forfeited = (o.bidCount - revealed) * uint256(o.bidBond);
        uint256 released;
        if (revealed == 0) {
            released = o.escrow;
            o.escrow = 0;
            o.state = State.Failed;
            emit OrderFailed(orderId, State.Bidding, 0, released + forfeited);
        } else {
            released = (uint256(o.maxUnitPrice) - _keptPrice(o)) * o.duration;
            o.escrow -= uint128(released);
            o.state = State.Confirming;
            o.stepDeadline = uint64(block.timestamp) + confirmWindow;
        }
        uint256 refund = released + forfeited;
        totalHeld -= refund;
        emit BiddingClosed(orderId, o.winner, o.price, forfeited);
        if (refund > 0) token.safeTransfer(o.customer, refund);
    }

    /// @inheritdoc IMarket
    function claimBond(uint256 orderId, uint256 bidIndex) external nonReentrant {
        Order storage o = _order(orderId);
        if (bidIndex >= o.bidCount) revert MarketUnknownBid(orderId, bidIndex);
        Bid storage b = _bids[orderId][bidIndex];
        State s = o.state;
        // In Confirming the offered bid and the runner-up (which may still be offered) stay bonded.
        bool backsOffer = s == State.Confirming
            && (bidIndex == o.winner || (bidIndex == o.runnerUp && o.revealedCount > 1));
        if (s == State.Bidding || !b.revealed || b.bondClaimed || backsOffer) {
            revert MarketBondNotClaimable(orderId, bidIndex);
        }
        uint256 bond = o.bidBond;
        b.bondClaimed = true;
        totalHeld -= bond;
        emit BondClaimed(orderId, bidIndex, b.bidder, bond);
        if (bond > 0) token.safeTransfer(b.bidder, bond);
    }

    // ---------------------------------------------------------------- lease

    /// @inheritdoc IMarket
    function confirmLease(uint256 orderId, string calldata deployment) external nonReentrant {
        Order storage o = _inState(orderId, State.Confirming);
        if (block.timestamp >= o.stepDeadline) revert MarketDeadlinePassed(orderId, o.stepDeadline);
        Bid storage b = _bids[orderId][o.winner];
        if (msg.sender != b.bidder) revert MarketNotWinner(msg.sender);
        uint256 executorId = b.executorId;
        IRegistry.Executor memory e = registry.executor(executorId);
        (uint256 collateral, uint256 budget, uint256 refund) = _confirmAmounts(o);
        if (e.stake < collateral) revert MarketExecutorUnderstaked(executorId, e.stake, collateral);

        o.state = State.Deploying;
        o.stepDeadline = uint64(block.timestamp) + deployWindow;
        o.capacityGflops = b.gflops;
        o.collateral = uint128(collateral);
        o.escrow -= uint128(budget + refund);
        b.bondClaimed = true;
        totalHeld -= budget + refund + o.bidBond;
        emit LeaseConfirmed(orderId, executorId, e.enclave, deployment, o.stepDeadline, collateral);

        registry.lockCollateral(orderId, executorId, collateral);
        token.safeTransfer(address(settlement), budget);
        settlement.openLease(orderId, o.customer, msg.sender, executorId, e.enclave, budget);
        if (refund > 0) token.safeTransfer(o.customer, refund);
        if (o.bidBond > 0) token.safeTransfer(msg.sender, o.bidBond);
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
        emit LeaseStarted(orderId, uint64(block.timestamp), endsAt, o.epochs);
    }

    /// @inheritdoc IMarket
    function requestRound(uint256 orderId) external nonReentrant returns (uint256 roundId) {
        Order storage o = _inState(orderId, State.Fulfilling);
        uint256 epoch;
        uint64 endsAt;
        {
            (uint256 start, uint256 length, uint256 duration) = (o.startedAt, o.epochLength, o.duration);
            uint256 elapsed = block.timestamp - start;
            if (elapsed >= duration) revert MarketNoEpochLeft(orderId);
            epoch = elapsed / length;
            (, endsAt) = _window(start, length, duration, epoch);
        }
        if (epoch < o.nextRequest) revert MarketEpochAlreadyRequested(orderId, uint32(epoch));
        uint256 pending = o.pendingRounds;
        if (pending == MAX_PENDING_ROUNDS) revert MarketTooManyPendingRounds(orderId);
        // The pool keeps a lease's rounds in two places, by epoch parity: epoch k + 2 (k + 1 never
        // requested) waits until epoch k's round is finalized.
        if (pending == 1 && ((epoch - o.firstPending) & 1) == 0) {
            revert MarketSameParityRoundPending(orderId, o.firstPending);
        }

        uint256 size = o.committeeSize;
        uint256 roundFee = size * rewardUnit;
        if (pending == 0) o.firstPending = uint32(epoch);
        o.pendingRounds = uint8(pending + 1);
        o.nextRequest = uint32(epoch + 1);
        o.escrow -= uint128(roundFee);
        totalHeld -= roundFee;
        if (roundFee > 0) token.safeTransfer(address(pool), roundFee);
        roundId = pool.requestRound(
            orderId, uint32(epoch), endsAt, _bids[orderId][o.winner].executorId, o.customer, size, o.majority
        );
        emit EpochRoundRequested(orderId, uint32(epoch), roundId);
    }

    /// @inheritdoc IMarket
    function onRoundSettled(uint256 leaseId, uint32 epoch, IWitnessPool.Verdict verdict, uint64 violationTime)
        external
        nonReentrant
        returns (bool)
    {
        if (msg.sender != address(pool)) revert MarketUnauthorized(msg.sender);
        Order storage o = _order(leaseId);
        {
            State s = o.state;
            if (s != State.Fulfilling) {
                // The other open round of a lease that failed: the market already refunded the lease and
                // closed it in the settlement (its executor refuses calls since), so the report settles
                // nothing and the pool does not slash for it; it pays the witnesses from the round's fee.
                if (s == State.Failed) return false;
                revert MarketWrongState(leaseId, s);
            }
        }
        uint256 pending = o.pendingRounds;
        if (pending == 0) revert MarketNoRoundPending(leaseId);
        if (epoch != o.firstPending) revert MarketWrongEpoch(leaseId, epoch, o.firstPending);

        uint256 paid;
        uint256 refund = _refundSkipped(leaseId, o, epoch);
        {
            uint256 refunded;
            (paid, refunded) = _settleEpoch(o, epoch, verdict, violationTime);
            emit EpochSettled(leaseId, epoch, verdict, paid, refunded);
            refund += refunded;
        }
        o.nextEpoch = epoch + 1;
        if (pending == 2) o.firstPending = o.nextRequest - 1;
        o.pendingRounds = uint8(pending - 1);

        bool violated = verdict == IWitnessPool.Verdict.Fraud || verdict == IWitnessPool.Verdict.Unavailable;
        bool ends = violated || (pending == 1 && epoch + 1 == o.epochs);
        if (ends) {
            // Everything still escrowed goes back: later epochs' fee shares and the witness fees of
            // the epochs not requested (the fee of a round still open is already in the pool).
            refund = o.escrow - paid;
            if (violated) {
                o.state = State.Failed;
                emit OrderFailed(leaseId, State.Fulfilling, paid, refund);
            } else {
                o.state = State.Finished;
                emit OrderFinished(leaseId, paid, refund);
            }
        }
        o.escrow -= uint128(paid + refund);
        totalHeld -= paid + refund;
        if (ends) settlement.closeLease(leaseId);
        if (paid > 0) token.safeTransfer(_bids[leaseId][o.winner].bidder, paid);
        if (refund > 0) token.safeTransfer(o.customer, refund);
        return true;
    }

    /// @inheritdoc IMarket
    function finish(uint256 orderId) external nonReentrant {
        Order storage o = _inState(orderId, State.Fulfilling);
        uint64 endsAt = o.startedAt + o.duration;
        if (block.timestamp < endsAt) revert MarketDeadlineNotReached(orderId, endsAt);
        if (o.pendingRounds != 0) revert MarketRoundPending(orderId);
        uint32 epoch = o.nextEpoch;
        uint32 epochs = o.epochs;
        // The last epoch's settlement finishes the lease, so at least one epoch is left here, and with
        // no round pending none of them was requested: the escrow is their fee shares and witness fees.
        uint256 refund = o.escrow;
        o.nextEpoch = epochs;
        o.state = State.Finished;
        o.escrow = 0;
        totalHeld -= refund;
        emit EpochsUnchecked(orderId, epoch, epochs - epoch, refund);
        emit OrderFinished(orderId, 0, refund);
        settlement.closeLease(orderId);
        if (refund > 0) token.safeTransfer(o.customer, refund);
    }

    /// @inheritdoc IMarket
    function expire(uint256 orderId) external nonReentrant {
        Order storage o = _order(orderId);
        State s = o.state;
        if (s != State.Confirming && s != State.Deploying) revert MarketWrongState(orderId, s);
        if (block.timestamp < o.stepDeadline) revert MarketDeadlineNotReached(orderId, o.stepDeadline);
        if (s == State.Confirming) _expireOffer(orderId, o);
        else _expireDeployment(orderId, o);
    }

    // ---------------------------------------------------------------- views

    /// @notice The constructor parameters.
    function params() external view returns (Params memory) {
        return Params({
            minBidBond: minBidBond,
            bidBondBps: bidBondBps,
            minProviderStake: minProviderStake,
            revealWindow: revealWindow,
            confirmWindow: confirmWindow,
            deployWindow: deployWindow,
            minBiddingWindow: minBiddingWindow,
            maxBiddingWindow: maxBiddingWindow,
            maxDuration: maxDuration,
            minEpochLength: minEpochLength,
            staleGrace: staleGrace,
            deployFeeBps: deployFeeBps
        });
    }

    /// @inheritdoc IMarket
    function bidCommitment(uint256 orderId, address bidder, uint128 unitPrice, uint32 claimedGflops, bytes32 salt)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), orderId, bidder, unitPrice, claimedGflops, salt));
    }

    /// @inheritdoc IMarket
    function level(uint256 levelId) external view returns (Level memory) {
        if (levelId == 0 || levelId > _levels.length) revert MarketUnknownLevel(levelId);
        return _levels[levelId - 1];
    }

    /// @inheritdoc IMarket
    function levelCount() external view returns (uint256) {
        return _levels.length;
    }

    /// @inheritdoc IMarket
    function order(uint256 orderId) external view returns (Order memory) {
        return _order(orderId);
    }

    /// @inheritdoc IMarket
    function orderCount() external view returns (uint256) {
        return _orderCount;
    }

    /// @inheritdoc IMarket
    function bid(uint256 orderId, uint256 bidIndex) external view returns (Bid memory) {
        return _bids[orderId][bidIndex];
    }

    /// @inheritdoc IMarket
    function epochFee(uint256 orderId, uint32 epoch) external view returns (uint256) {
        Order storage o = _order(orderId);
        if (epoch >= o.epochs) return 0;
        return _feeShares(o, epoch, uint256(epoch) + 1);
    }

    /// @inheritdoc IMarket
    function epochWindow(uint256 orderId, uint32 epoch) external view returns (uint64 startsAt, uint64 endsAt) {
        Order storage o = _order(orderId);
        if (o.startedAt == 0 || epoch >= o.epochs) revert MarketWrongEpoch(orderId, epoch, o.nextEpoch);
        return _epochWindow(o, epoch);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Validates the order's terms; returns the maximum fee and the number of epochs.
    function _checkTerms(OrderParams calldata p) private view returns (uint256 maxFee, uint256 epochs) {
        if (
            p.duration == 0 || p.duration > maxDuration || p.maxUnitPrice == 0 || p.biddingWindow < minBiddingWindow
                || p.biddingWindow > maxBiddingWindow || p.availabilityBps == 0 || p.availabilityBps > BPS
                || p.p95LatencyMs == 0 || p.epochLength < minEpochLength
        ) revert MarketBadOrder();
        maxFee = uint256(p.maxUnitPrice) * p.duration;
        epochs = (uint256(p.duration) + p.epochLength - 1) / p.epochLength;
        if (maxFee > type(uint96).max || epochs > MAX_EPOCHS) revert MarketBadOrder();
    }

    /// @dev Writes a new order in Bidding; returns its reveal deadline.
    function _storeOrder(
        Order storage o,
        OrderParams calldata p,
        uint256 epochs,
        uint256 witnessFee,
        uint256 bond,
        uint256 escrow
    ) private returns (uint64 revealDeadline) {
        uint64 bidDeadline = uint64(block.timestamp) + p.biddingWindow;
        revealDeadline = bidDeadline + revealWindow;
        o.customer = msg.sender;
        o.levelId = p.levelId;
        o.state = State.Bidding;
        o.committeeSize = p.committeeSize;
        o.majority = p.majority;
        o.duration = p.duration;
        o.bidDeadline = bidDeadline;
        o.revealDeadline = revealDeadline;
        o.epochLength = p.epochLength;
        o.epochs = uint32(epochs);
        o.stepDeadline = revealDeadline;
        o.escrow = uint128(escrow);
        o.availabilityBps = p.availabilityBps;
        o.p95LatencyMs = p.p95LatencyMs;
        o.witnessFee = uint128(witnessFee);
        o.maxUnitPrice = uint96(p.maxUnitPrice); // maxUnitPrice * duration fits in 96 bits
        o.bidBond = uint128(bond);
    }

    /// @dev Reverts unless the caller provides the executor, it meets the level and has the minimum free stake.
    function _checkExecutor(uint256 levelId, uint256 executorId) private view {
        IRegistry.Executor memory e = registry.executor(executorId);
        if (e.provider != msg.sender) revert MarketNotExecutorProvider(executorId, msg.sender);
        Level storage l = _levels[levelId - 1];
        if (
            e.cpuCores < l.cpuCores || e.memoryMiB < l.memoryMiB || e.gpuMemoryMiB < l.gpuMemoryMiB
                || uint8(e.teeType) != l.teeType || e.gflops < l.minGflops
        ) revert MarketExecutorBelowLevel(executorId, levelId);
        if (e.stake < minProviderStake) revert MarketExecutorUnderstaked(executorId, e.stake, minProviderStake);
    }

    /// @dev Confirming past its deadline: the offered bidder's bond goes to the customer; the runner-up
    /// is offered the lease once, else the order fails and its escrow is refunded.
    function _expireOffer(uint256 orderId, Order storage o) private {
        uint256 bond = o.bidBond;
        _bids[orderId][o.winner].bondClaimed = true;
        uint256 refund = bond;
        if (!o.runnerUpOffered && o.revealedCount > 1) {
            uint64 deadline = uint64(block.timestamp) + confirmWindow;
            o.runnerUpOffered = true;
            o.winner = o.runnerUp;
            o.price = o.runnerUpPrice;
            o.stepDeadline = deadline;
            emit RunnerUpOffered(orderId, o.runnerUp, o.runnerUpPrice, deadline);
        } else {
            refund += o.escrow;
            o.escrow = 0;
            o.state = State.Failed;
            emit OrderFailed(orderId, State.Confirming, 0, refund);
        }
        totalHeld -= refund;
        if (refund > 0) token.safeTransfer(o.customer, refund);
    }

    /// @dev Deploying past its deadline: the provider is paid `deployFeeBps` of the fee, the rest of
    /// the escrow goes back, the settlement lease is closed.
    function _expireDeployment(uint256 orderId, Order storage o) private {
        uint256 held = o.escrow;
        uint256 paid = uint256(o.price) * o.duration * deployFeeBps / BPS;
        uint256 refund = held - paid;
        o.escrow = 0;
        o.state = State.Failed;
        totalHeld -= held;
        emit OrderFailed(orderId, State.Deploying, paid, refund);
        settlement.closeLease(orderId);
        if (paid > 0) token.safeTransfer(_bids[orderId][o.winner].bidder, paid);
        if (refund > 0) token.safeTransfer(o.customer, refund);
    }

    /// @dev What settling `epoch` with `verdict` pays the provider and refunds of the epoch's fee share;
    /// updates the Stale clock.
    function _settleEpoch(Order storage o, uint256 epoch, IWitnessPool.Verdict verdict, uint64 violationTime)
        private
        returns (uint256 paid, uint256 refund)
    {
        (uint64 startsAt, uint64 endsAt) = _epochWindow(o, epoch);
        uint256 share = _feeShares(o, epoch, epoch + 1);
        if (verdict == IWitnessPool.Verdict.Ok) {
            paid = share;
            if (o.staleSince != 0) o.staleSince = 0;
        } else if (verdict == IWitnessPool.Verdict.Stale) {
            uint64 since = o.staleSince;
            if (since == 0) o.staleSince = since = startsAt;
            if (startsAt < uint256(since) + staleGrace) paid = share;
            else refund = share;
        } else if (verdict == IWitnessPool.Verdict.None) {
            refund = share;
        } else {
            // Fraud or Unavailable: the epoch is paid up to the violation time, clamped into the epoch.
            uint64 t = violationTime < startsAt ? startsAt : (violationTime > endsAt ? endsAt : violationTime);
            paid = share * (t - startsAt) / (endsAt - startsAt);
            refund = share - paid;
        }
    }

    /// @dev Fee shares and witness fees of the epochs from `nextEpoch` to `epoch` (exclusive), which had
    /// no round: rounds are requested in increasing epochs and settle in order.
    function _refundSkipped(uint256 leaseId, Order storage o, uint32 epoch) private returns (uint256 refund) {
        uint32 next = o.nextEpoch;
        if (epoch > next) {
            refund = _epochsValue(o, next, epoch);
            emit EpochsUnchecked(leaseId, next, epoch - next, refund);
        }
    }

    /// @dev Fee shares plus witness fees of epochs `[from, to)`.
    function _epochsValue(Order storage o, uint256 from, uint256 to) private view returns (uint256) {
        return _feeShares(o, from, to) + (to - from) * o.committeeSize * rewardUnit;
    }

    /// @dev Fee shares of epochs `[from, to)`: differences of `fee * k / epochs`, so any split of the
    /// epochs adds up to the fee exactly.
    function _feeShares(Order storage o, uint256 from, uint256 to) private view returns (uint256) {
        uint256 epochs = o.epochs;
        uint256 fee = uint256(o.price) * o.duration;
        return fee * to / epochs - fee * from / epochs;
    }

    function _epochWindow(Order storage o, uint256 epoch) private view returns (uint64 startsAt, uint64 endsAt) {
        return _window(o.startedAt, o.epochLength, o.duration, epoch);
    }

    /// @dev Epoch `epoch` of a lease started at `start`: `[start + epoch * length, min(start + (epoch + 1) *
    /// length, start + duration))`.
    function _window(uint256 start, uint256 length, uint256 duration, uint256 epoch)
        private
        pure
        returns (uint64 startsAt, uint64 endsAt)
    {
        uint256 leaseEnd = start + duration;
        uint256 end = start + (epoch + 1) * length;
        startsAt = uint64(start + epoch * length);
        endsAt = uint64(end < leaseEnd ? end : leaseEnd);
    }

    /// @dev At confirmation: the collateral to lock, the call budget for the settlement and the
    /// reservation above the confirmed fee that goes back to the customer.
    function _confirmAmounts(Order storage o)
        private
        view
        returns (uint256 collateral, uint256 budget, uint256 refund)
    {
        uint256 d = o.duration;
        uint256 fee = uint256(o.price) * d;
        budget = uint256(o.maxUnitPrice) * d;
        collateral = fee + budget;
        if (collateral < minProviderStake) collateral = minProviderStake;
        refund = _keptPrice(o) * d - fee;
    }

    /// @dev The unit price the escrow is kept at from closing the bidding to confirmation.
    function _keptPrice(Order storage o) private view returns (uint256) {
        return o.revealedCount > 1 ? o.runnerUpPrice : o.price;
    }

    /// @dev Whether bid (priceA, indexA) ranks before (priceB, indexB): lower price, then earlier commit.
    function _ranksBefore(uint256 priceA, uint256 indexA, uint256 priceB, uint256 indexB)
        private
        pure
        returns (bool)
    {
        return priceA < priceB || (priceA == priceB && indexA < indexB);
    }

    function _order(uint256 orderId) private view returns (Order storage) {
        Order storage o = _orders[orderId];
        if (o.state == State.None) revert MarketUnknownOrder(orderId);
        return o;
    }

    function _inState(uint256 orderId, State s) private view returns (Order storage o) {
        o = _order(orderId);
        if (o.state != s) revert MarketWrongState(orderId, o.state);
    }
}
