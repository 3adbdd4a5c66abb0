// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Market} from "../src/Market.sol";
import {IMarket} from "../src/interfaces/IMarket.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {TestBase} from "./Vm.sol";

// ---------------------------------------------------------------- test doubles

contract MarketTestToken is ERC20 {
    constructor() ERC20("Test", "TST") {
        _mint(msg.sender, 1e30);
    }
}

/// @notice Implements the registry calls the market makes: `executor` and `lockCollateral` (market
/// only, from free stake, reverting when short, one collateral per lease), recording each lock.
contract RegistryDouble {
    address public market;
    uint256 public executorCount;
    mapping(uint256 executorId => IRegistry.Executor) private _executors;
    mapping(uint256 leaseId => uint256) public collateralOf;
    uint256 public lockCalls;
    uint256 public lastLease;
    uint256 public lastExecutor;
    uint256 public lastAmount;

    function setMarket(address m) external {
        market = m;
    }

    function addExecutor(address provider, uint128 stake, uint32 gflops) external returns (uint256 id) {
        id = ++executorCount;
        IRegistry.Executor storage e = _executors[id];
        e.provider = provider;
        e.cpuCores = 4;
        e.memoryMiB = 2048;
        e.gflops = gflops;
        e.enclave = address(uint160(0xE000 + id));
        e.teeType = IRegistry.TeeType.Simulated;
        e.stake = stake;
    }

    function setExecutor(uint256 id, uint32 cpuCores, uint32 memoryMiB, uint32 gpuMemoryMiB, IRegistry.TeeType tee)
        external
    {
        IRegistry.Executor storage e = _executors[id];
        e.cpuCores = cpuCores;
        e.memoryMiB = memoryMiB;
        e.gpuMemoryMiB = gpuMemoryMiB;
        e.teeType = tee;
    }

    function setStake(uint256 id, uint128 stake) external {
        _executors[id].stake = stake;
    }

    function executor(uint256 id) external view returns (IRegistry.Executor memory) {
        return _executors[id];
    }

    function lockCollateral(uint256 leaseId, uint256 executorId, uint256 amount) external {
        if (msg.sender != market) revert IRegistry.RegistryUnauthorized(msg.sender);
        if (collateralOf[leaseId] != 0) revert IRegistry.RegistryCollateralExists(leaseId);
        IRegistry.Executor storage e = _executors[executorId];
        if (e.stake < amount) revert IRegistry.RegistryInsufficientStake(e.stake, amount);
        e.stake -= uint128(amount);
        e.locked += uint128(amount);
        collateralOf[leaseId] = amount;
        lockCalls += 1;
        lastLease = leaseId;
        lastExecutor = executorId;
        lastAmount = amount;
    }
}

/// @notice Implements `openLease` (market only, once, after the budget arrived) and `closeLease`
/// (market only, open leases only), recording both.
contract SettlementDouble {
    IERC20 public immutable token;
    address public market;
    uint256 public budgets;
    uint256 public closeCalls;
    mapping(uint256 leaseId => ISettlement.LeaseStatus) public status;
    mapping(uint256 leaseId => ISettlement.Lease) private _leases;

    constructor(IERC20 t) {
        token = t;
    }

    function setMarket(address m) external {
        market = m;
    }

    function openLease(uint256 leaseId, address customer, address provider, uint256 executorId, address enclave, uint256 budget)
        external
    {
        if (msg.sender != market) revert ISettlement.SettlementUnauthorized(msg.sender);
        if (status[leaseId] != ISettlement.LeaseStatus.None) revert ISettlement.SettlementLeaseExists(leaseId);
        budgets += budget;
        require(token.balanceOf(address(this)) >= budgets, "budget not received");
        status[leaseId] = ISettlement.LeaseStatus.Open;
        ISettlement.Lease storage l = _leases[leaseId];
        l.customer = customer;
        l.provider = provider;
        l.executorId = uint64(executorId);
        l.enclave = enclave;
        l.budget = uint96(budget);
        l.status = ISettlement.LeaseStatus.Open;
    }

    function closeLease(uint256 leaseId) external {
        if (msg.sender != market) revert ISettlement.SettlementUnauthorized(msg.sender);
        if (status[leaseId] != ISettlement.LeaseStatus.Open) {
            revert ISettlement.SettlementLeaseNotOpen(leaseId, status[leaseId]);
        }
        status[leaseId] = ISettlement.LeaseStatus.Closed;
        _leases[leaseId].status = ISettlement.LeaseStatus.Closed;
        _leases[leaseId].closedAt = uint64(block.timestamp);
        closeCalls += 1;
    }

    function lease(uint256 leaseId) external view returns (ISettlement.Lease memory) {
        return _leases[leaseId];
    }
}

/// @notice Implements `validateCommittee` as the real pool, `rewardUnit`, `commitWindow`,
/// `revealWindow`, and `requestRound` (market only, after the fee arrived, one round per lease epoch)
/// recording its arguments and time; `report` calls the market as the pool. It keeps the fees.
contract PoolDouble {
    struct Request {
        uint256 leaseId;
        uint32 epoch;
        uint64 epochEnd;
        uint256 executorId;
        address customer;
        uint256 size;
        uint256 majority;
        uint64 requestedAt;
    }

    IERC20 public immutable token;
    address public market;
    uint128 public rewardUnit;
    uint64 public commitWindow = 50;
    uint64 public revealWindow = 50;
    uint256 public roundCount;
    uint256 public feesExpected;
    mapping(uint256 roundId => Request) private _requests;
    mapping(uint256 leaseId => mapping(uint32 epoch => uint256)) public roundOf;

    constructor(IERC20 t, uint128 unit) {
        token = t;
        rewardUnit = unit;
    }

    function setMarket(address m) external {
        market = m;
    }

    function setRewardUnit(uint128 unit) external {
        rewardUnit = unit;
    }

    function setWindows(uint64 commit, uint64 reveal) external {
        commitWindow = commit;
        revealWindow = reveal;
    }

    function validateCommittee(uint256 size, uint256 majority) external pure {
        if (size < 3 || size > 15 || majority <= size / 2 || majority > size - 1) {
            revert IWitnessPool.WitnessPoolBadCommittee(size, majority);
        }
    }

    function requestRound(
        uint256 leaseId,
        uint32 epoch,
        uint64 epochEnd,
        uint256 executorId,
        address customer,
        uint256 size,
        uint256 majority
    ) external returns (uint256 roundId) {
        if (msg.sender != market) revert IWitnessPool.WitnessPoolUnauthorized(msg.sender);
        feesExpected += size * rewardUnit;
        require(token.balanceOf(address(this)) >= feesExpected, "fee not received");
        require(roundOf[leaseId][epoch] == 0, "round exists");
        roundId = ++roundCount;
        roundOf[leaseId][epoch] = roundId;
        _requests[roundId] =
            Request(leaseId, epoch, epochEnd, executorId, customer, size, majority, uint64(block.timestamp));
    }

    function request(uint256 roundId) external view returns (Request memory) {
        return _requests[roundId];
    }

    /// @dev Reports as the pool; reverts unless the market counts the report exactly when the lease
    /// was Fulfilling (an unknown lease reverts in `order` as in `onRoundSettled`).
    function report(uint256 leaseId, uint32 epoch, IWitnessPool.Verdict verdict, uint64 violationTime)
        external
        returns (bool counted)
    {
        bool running = IMarket(market).order(leaseId).state == IMarket.State.Fulfilling;
        counted = IMarket(market).onRoundSettled(leaseId, epoch, verdict, violationTime);
        require(counted == running, "counted exactly while the lease runs");
    }
}

// ---------------------------------------------------------------- tests

contract MarketTest is TestBase {
    MarketTestToken internal token;
    RegistryDouble internal registry;
    SettlementDouble internal settlement;
    PoolDouble internal pool;
    Market internal market;

    address internal customer = address(0xC0FFEE);
    address[] internal providers;
    uint256[] internal executorIds;

    uint256 internal constant MIN_BOND = 1e18;
    uint128 internal constant MIN_PROVIDER_STAKE = 1000e18;
    uint128 internal constant EXECUTOR_STAKE = 5000e18;
    uint128 internal constant UNIT = 0.1e18;
    uint64 internal constant DURATION = 1000;
    uint64 internal constant EPOCH = 200; // 5 epochs
    uint128 internal constant MAX_PRICE = 1e15; // maxFee = 1e18
    uint32 internal constant GFLOPS = 50;
    uint64 internal constant WINDOW = 100;
    uint64 internal constant STALE_GRACE = 300;
    uint256 internal constant LEVEL = 1;
    uint256 internal constant T0 = 1_700_000_000;

    function setUp() public {
        vm.warp(T0);
        token = new MarketTestToken();
        registry = new RegistryDouble();
        settlement = new SettlementDouble(IERC20(address(token)));
        pool = new PoolDouble(IERC20(address(token)), UNIT);
        market = new Market(IERC20(address(token)), IRegistry(address(registry)), ISettlement(address(settlement)), IWitnessPool(address(pool)), _marketParams());
        registry.setMarket(address(market));
        settlement.setMarket(address(market));
        pool.setMarket(address(market));
        market.addLevel(IMarket.Level(2, 1024, 0, 1, 0, "basic"));
        _fund(customer, 1e27);
        for (uint256 i = 0; i < 3; ++i) {
            address p = address(uint160(0xA000 + i));
            providers.push(p);
            executorIds.push(registry.addExecutor(p, EXECUTOR_STAKE, GFLOPS));
            _fund(p, 1e24);
        }
    }

    // ------------------------------------------------------------ helpers

    function _marketParams() internal pure returns (Market.Params memory) {
        return Market.Params({
            minBidBond: uint128(MIN_BOND),
            bidBondBps: 500,
            minProviderStake: MIN_PROVIDER_STAKE,
            revealWindow: WINDOW,
            confirmWindow: WINDOW,
            deployWindow: WINDOW,
            minBiddingWindow: 10,
            maxBiddingWindow: 7 days,
            maxDuration: 365 days,
            minEpochLength: 100,
            staleGrace: STALE_GRACE,
            deployFeeBps: 500
        });
    }

    function _fund(address who, uint256 amount) internal {
        token.transfer(who, amount);
        vm.prank(who);
        token.approve(address(market), type(uint256).max);
    }

    function _params() internal pure returns (IMarket.OrderParams memory) {
        return IMarket.OrderParams({
            levelId: uint32(LEVEL),
            duration: DURATION,
            maxUnitPrice: MAX_PRICE,
            biddingWindow: 50,
            committeeSize: 3,
            majority: 2,
            availabilityBps: 9900,
            p95LatencyMs: 250,
            epochLength: EPOCH
        });
    }

    function _post(IMarket.OrderParams memory p) internal returns (uint256) {
        vm.prank(customer);
        return market.postOrder(p);
    }

    function _post() internal returns (uint256) {
        return _post(_params());
    }

    function _escrowAtPost(IMarket.OrderParams memory p) internal view returns (uint256) {
        uint256 epochs = (uint256(p.duration) + p.epochLength - 1) / p.epochLength;
        return 2 * uint256(p.maxUnitPrice) * p.duration + epochs * p.committeeSize * pool.rewardUnit();
    }

    function _commitAs(uint256 id, address bidder, uint256 executorId, uint128 price, bytes32 salt)
        internal
        returns (uint256 bidIndex)
    {
        bytes32 c = market.bidCommitment(id, bidder, price, GFLOPS, salt);
        vm.prank(bidder);
        return market.commitBid(id, executorId, c);
    }

    function _commit(uint256 id, uint256 who, uint128 price) internal returns (uint256) {
        return _commitAs(id, providers[who], executorIds[who], price, bytes32(who));
    }

    function _reveal(uint256 id, uint256 bidIndex, uint256 who, uint128 price) internal {
        vm.prank(providers[who]);
        market.revealBid(id, bidIndex, price, GFLOPS, bytes32(who));
    }

    function _toReveal(uint256 id) internal {
        vm.warp(market.order(id).bidDeadline);
    }

    function _close(uint256 id) internal {
        vm.warp(market.order(id).revealDeadline);
        market.closeBidding(id);
    }

    /// @dev Posts, lets provider 0 win at `price` (provider 1 runner-up at `runnerUp` when non-zero)
    /// and closes the bidding.
    function _auction(IMarket.OrderParams memory p, uint128 price, uint128 runnerUp) internal returns (uint256 id) {
        id = _post(p);
        _commit(id, 0, price);
        if (runnerUp != 0) _commit(id, 1, runnerUp);
        _toReveal(id);
        _reveal(id, 0, 0, price);
        if (runnerUp != 0) _reveal(id, 1, 1, runnerUp);
        _close(id);
    }

    function _confirmed(IMarket.OrderParams memory p, uint128 price) internal returns (uint256 id) {
        id = _auction(p, price, 0);
        vm.prank(providers[0]);
        market.confirmLease(id, "deployment");
    }

    function _lease(IMarket.OrderParams memory p, uint128 price) internal returns (uint256 id) {
        id = _confirmed(p, price);
        vm.prank(customer);
        market.startLease(id);
    }

    function _lease() internal returns (uint256) {
        return _lease(_params(), 5e14);
    }

    function _report(uint256 id, uint32 epoch, IWitnessPool.Verdict v, uint64 t) internal {
        pool.report(id, epoch, v, t);
    }

    function _fee(uint256 id) internal view returns (uint256) {
        IMarket.Order memory o = market.order(id);
        return uint256(o.price) * o.duration;
    }

    function _roundFee(uint256 id) internal view returns (uint256) {
        IMarket.Order memory o = market.order(id);
        return o.witnessFee / o.epochs;
    }

    function _epochStart(uint256 id, uint32 e) internal view returns (uint64 s) {
        (s,) = market.epochWindow(id, e);
    }

    function _held() internal view {
        assertEq(market.totalHeld(), token.balanceOf(address(market)), "totalHeld == balance");
    }

    // ------------------------------------------------------------ constructor, levels

    function test_constructor_rejectsBadParams() public {
        Market.Params memory p = _marketParams();
        p.bidBondBps = 10_001;
        vm.expectRevert(IMarket.MarketBadParams.selector);
        new Market(IERC20(address(token)), IRegistry(address(registry)), ISettlement(address(settlement)), IWitnessPool(address(pool)), p);
        p = _marketParams();
        p.deployFeeBps = 10_001;
        vm.expectRevert(IMarket.MarketBadParams.selector);
        new Market(IERC20(address(token)), IRegistry(address(registry)), ISettlement(address(settlement)), IWitnessPool(address(pool)), p);
        p = _marketParams();
        p.minEpochLength = 0;
        vm.expectRevert(IMarket.MarketBadParams.selector);
        new Market(IERC20(address(token)), IRegistry(address(registry)), ISettlement(address(settlement)), IWitnessPool(address(pool)), p);
        p = _marketParams();
        p.minBiddingWindow = p.maxBiddingWindow + 1;
        vm.expectRevert(IMarket.MarketBadParams.selector);
        new Market(IERC20(address(token)), IRegistry(address(registry)), ISettlement(address(settlement)), IWitnessPool(address(pool)), p);
        // an epoch shorter than the pool's commit + reveal windows: a round would outlive two epochs
        pool.setWindows(50, 51);
        vm.expectRevert(IMarket.MarketBadParams.selector);
        new Market(IERC20(address(token)), IRegistry(address(registry)), ISettlement(address(settlement)), IWitnessPool(address(pool)), _marketParams());
        pool.setWindows(100, 0); // exactly minEpochLength is enough
        new Market(IERC20(address(token)), IRegistry(address(registry)), ISettlement(address(settlement)), IWitnessPool(address(pool)), _marketParams());
        pool.setWindows(50, 50);
        Market m = new Market(IERC20(address(token)), IRegistry(address(registry)), ISettlement(address(settlement)), IWitnessPool(address(pool)), _marketParams());
        assertEq(m.params().staleGrace, STALE_GRACE, "stored");
        assertEq(m.owner(), address(this), "owner");
    }

    function test_addLevel_ownerOnlyAppendOnly() public {
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, customer));
        market.addLevel(IMarket.Level(1, 1, 0, 1, 0, "x"));
        uint256 id = market.addLevel(IMarket.Level(8, 16384, 24576, 1000, 1, "tdx-gpu"));
        assertEq(id, 2, "id");
        assertEq(market.levelCount(), 2, "count");
        assertEq(market.level(2).gpuMemoryMiB, 24576, "stored");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownLevel.selector, 3));
        market.level(3);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownLevel.selector, 0));
        market.level(0);
    }

    // ------------------------------------------------------------ postOrder, cancelOrder

    function test_postOrder_locksFeeBudgetAndWitnessFees() public {
        uint256 before = token.balanceOf(customer);
        uint256 id = _post();
        uint256 escrow = 2 * uint256(MAX_PRICE) * DURATION + 5 * 3 * uint256(UNIT);
        assertEq(before - token.balanceOf(customer), escrow, "pulled");
        IMarket.Order memory o = market.order(id);
        assertEq(uint256(o.state), uint256(IMarket.State.Bidding), "bidding");
        assertEq(o.customer, customer, "customer");
        assertEq(o.escrow, escrow, "escrow");
        assertEq(o.epochs, 5, "epochs");
        assertEq(o.epochLength, EPOCH, "epoch length");
        assertEq(o.witnessFee, 5 * 3 * uint256(UNIT), "witness fee");
        assertEq(o.bidBond, MIN_BOND, "5 % of 1e18 is below the minimum bond");
        assertEq(o.availabilityBps, 9900, "availability");
        assertEq(o.p95LatencyMs, 250, "latency");
        assertEq(o.bidDeadline, T0 + 50, "bid deadline");
        assertEq(o.revealDeadline, T0 + 50 + WINDOW, "reveal deadline");
        assertEq(market.totalHeld(), escrow, "held");
        assertEq(market.orderCount(), 1, "count");
        _held();
    }

    function test_postOrder_epochsRoundUpAndBondIsProportional() public {
        IMarket.OrderParams memory p = _params();
        p.epochLength = 300; // 1000 / 300 -> 4 epochs, the last one 100 s
        p.maxUnitPrice = 1e18; // maxFee = 1000e18 -> bond 50e18
        uint256 id = _post(p);
        IMarket.Order memory o = market.order(id);
        assertEq(o.epochs, 4, "ceil");
        assertEq(o.bidBond, 50e18, "bond = maxFee * 500 / 10000");
        assertEq(o.escrow, 2000e18 + 4 * 3 * uint256(UNIT), "escrow");
        p.epochLength = 5000; // longer than the lease: one epoch
        assertEq(market.order(_post(p)).epochs, 1, "one epoch");
    }

    function test_postOrder_revertPaths() public {
        IMarket.OrderParams memory p = _params();
        p.levelId = 9;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownLevel.selector, 9));
        _post(p);
        p.levelId = 0;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownLevel.selector, 0));
        _post(p);

        IMarket.OrderParams[] memory bad = new IMarket.OrderParams[](12);
        for (uint256 i = 0; i < bad.length; ++i) {
            bad[i] = _params();
        }
        bad[0].duration = 0;
        bad[1].duration = 365 days + 1;
        bad[2].maxUnitPrice = 0;
        bad[3].biddingWindow = 9;
        bad[4].biddingWindow = 7 days + 1;
        bad[5].availabilityBps = 0;
        bad[6].availabilityBps = 10_001;
        bad[7].p95LatencyMs = 0;
        bad[8].epochLength = 99;
        bad[9].duration = 10_001 * 100; // 10,001 epochs
        bad[9].epochLength = 100;
        bad[10].maxUnitPrice = uint128(uint256(type(uint96).max) / DURATION + 1); // maxFee > uint96
        bad[11].epochLength = 0;
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(IMarket.MarketBadOrder.selector);
            _post(bad[i]);
        }
        // exactly MAX_EPOCHS is accepted
        p = _params();
        p.duration = 10_000 * 100;
        p.epochLength = 100;
        assertEq(market.order(_post(p)).epochs, 10_000, "max epochs");

        p = _params();
        p.committeeSize = 4;
        p.majority = 2;
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolBadCommittee.selector, 4, 2));
        _post(p);

        // witness fee above uint96 (the market reads the pool's reward unit at deployment)
        pool.setRewardUnit(uint128(type(uint96).max / 15 + 1));
        Market big = new Market(
            IERC20(address(token)),
            IRegistry(address(registry)),
            ISettlement(address(settlement)),
            IWitnessPool(address(pool)),
            _marketParams()
        );
        pool.setRewardUnit(UNIT);
        big.addLevel(IMarket.Level(2, 1024, 0, 1, 0, "basic"));
        vm.prank(customer);
        vm.expectRevert(IMarket.MarketBadOrder.selector);
        big.postOrder(_params());

        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownOrder.selector, 5));
        market.order(5);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownOrder.selector, 0));
        market.order(0);
    }

    /// @notice `maxUnitPrice` and `runnerUpPrice` are stored in 96 bits: the largest accepted unit
    /// price (`maxUnitPrice * duration` at the uint96 limit with a one-second lease) round-trips.
    function test_postOrder_largestPricesFitThePackedOrder() public {
        uint128 top = type(uint96).max;
        IMarket.OrderParams memory p = _params();
        p.duration = 1;
        p.maxUnitPrice = top;
        _fund(customer, 3 * uint256(top));
        _fund(providers[0], uint256(top) / 10); // bonds are 5 % of the maximum fee
        _fund(providers[1], uint256(top) / 10);
        uint256 id = _post(p);
        assertEq(market.order(id).maxUnitPrice, top, "max unit price");
        _commit(id, 0, top - 1);
        _commit(id, 1, top);
        _toReveal(id);
        _reveal(id, 1, 1, top);
        _reveal(id, 0, 0, top - 1);
        IMarket.Order memory o = market.order(id);
        assertEq(o.price, top - 1, "winner price");
        assertEq(o.runnerUpPrice, top, "runner-up price");
        assertEq(o.winner, 0, "winner");
        assertEq(o.runnerUp, 1, "runner-up");
        p.maxUnitPrice = uint128(top) + 1;
        vm.expectRevert(IMarket.MarketBadOrder.selector);
        _post(p);
    }

    function test_cancelOrder_onlyCustomerWithoutBids() public {
        uint256 id = _post();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotCustomer.selector, address(this)));
        market.cancelOrder(id);
        uint256 before = token.balanceOf(customer);
        vm.prank(customer);
        market.cancelOrder(id);
        assertEq(token.balanceOf(customer) - before, _escrowAtPost(_params()), "whole escrow back");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Cancelled), "cancelled");
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Cancelled));
        market.cancelOrder(id);
        id = _post();
        _commit(id, 0, 1);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketHasBids.selector, id));
        market.cancelOrder(id);
        _held();
    }

    // ------------------------------------------------------------ commitBid

    function test_commitBid_postsTheOrderBond() public {
        IMarket.OrderParams memory p = _params();
        p.maxUnitPrice = 1e18;
        uint256 id = _post(p);
        uint256 before = token.balanceOf(providers[0]);
        uint256 idx = _commit(id, 0, 5e17);
        assertEq(idx, 0, "index");
        assertEq(before - token.balanceOf(providers[0]), 50e18, "proportional bond");
        IMarket.Bid memory b = market.bid(id, 0);
        assertEq(b.bidder, providers[0], "bidder");
        assertEq(b.executorId, executorIds[0], "executor");
        assertEq(b.commitment, market.bidCommitment(id, providers[0], 5e17, GFLOPS, bytes32(uint256(0))), "commitment");
        assertEq(_commit(id, 1, 5e17), 1, "second index");
        assertEq(market.order(id).bidCount, 2, "count");
        _held();
    }

    function test_commitBid_revertPaths() public {
        uint256 id = _post();
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotExecutorProvider.selector, executorIds[0], providers[1]));
        market.commitBid(id, executorIds[0], bytes32("c"));
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotExecutorProvider.selector, 99, providers[1]));
        market.commitBid(id, 99, bytes32("c"));
        _commit(id, 0, 1);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDuplicateBid.selector, id, executorIds[0]));
        market.commitBid(id, executorIds[0], bytes32("c"));

        // below the level: each resource, and the TEE type
        uint256 big = market.addLevel(IMarket.Level(8, 4096, 1024, 100, 1, "big"));
        IMarket.OrderParams memory p = _params();
        p.levelId = uint32(big);
        uint256 bigOrder = _post(p);
        uint256 e = registry.addExecutor(providers[1], EXECUTOR_STAKE, 100);
        registry.setExecutor(e, 8, 4096, 1024, IRegistry.TeeType.Tdx);
        _commitAs(bigOrder, providers[1], e, 1, "fits");
        uint32[5][5] memory shapes = [
            [uint32(7), 4096, 1024, 100, 1],
            [uint32(8), 4095, 1024, 100, 1],
            [uint32(8), 4096, 1023, 100, 1],
            [uint32(8), 4096, 1024, 99, 1],
            [uint32(8), 4096, 1024, 100, 2]
        ];
        for (uint256 i = 0; i < shapes.length; ++i) {
            uint256 x = registry.addExecutor(providers[2], EXECUTOR_STAKE, shapes[i][3]);
            registry.setExecutor(x, shapes[i][0], shapes[i][1], shapes[i][2], IRegistry.TeeType(shapes[i][4]));
            vm.prank(providers[2]);
            vm.expectRevert(abi.encodeWithSelector(IMarket.MarketExecutorBelowLevel.selector, x, big));
            market.commitBid(bigOrder, x, bytes32("c"));
        }

        registry.setStake(executorIds[2], MIN_PROVIDER_STAKE - 1);
        vm.prank(providers[2]);
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.MarketExecutorUnderstaked.selector, executorIds[2], MIN_PROVIDER_STAKE - 1, MIN_PROVIDER_STAKE)
        );
        market.commitBid(id, executorIds[2], bytes32("c"));

        _toReveal(id);
        uint64 bidDeadline = market.order(id).bidDeadline;
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBiddingClosed.selector, id, bidDeadline));
        market.commitBid(id, executorIds[1], bytes32("c"));
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownOrder.selector, 7));
        market.commitBid(7, executorIds[1], bytes32("c"));
        _close(id);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Failed));
        market.commitBid(id, executorIds[1], bytes32("c"));
    }

    function test_commitBid_atMostFourPerProviderPerOrder() public {
        uint256 id = _post();
        uint256 other = _post();
        for (uint256 i = 0; i < 5; ++i) {
            uint256 e = registry.addExecutor(providers[0], EXECUTOR_STAKE, GFLOPS);
            if (i == 4) {
                vm.prank(providers[0]);
                vm.expectRevert(
                    abi.encodeWithSelector(IMarket.MarketTooManyBidsFromProvider.selector, providers[0], 4)
                );
                market.commitBid(id, e, bytes32(i));
            } else {
                _commitAs(id, providers[0], e, 1, bytes32(i));
                _commitAs(other, providers[0], e, 1, bytes32(i)); // the cap is per order
            }
        }
        assertEq(market.order(other).bidCount, 4, "other order");
        assertEq(market.order(id).bidCount, 4, "capped");
    }

    // ------------------------------------------------------------ revealBid

    function test_revealBid_revertPaths() public {
        uint256 id = _post();
        _commit(id, 0, 5e14);
        _commit(id, 1, 2e15);
        _commit(id, 2, 5e14);
        uint64 bidDeadline = market.order(id).bidDeadline;
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRevealNotOpen.selector, id, bidDeadline));
        market.revealBid(id, 0, 5e14, GFLOPS, bytes32(uint256(0)));
        _toReveal(id);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownBid.selector, id, 3));
        market.revealBid(id, 3, 5e14, GFLOPS, bytes32(uint256(0)));
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotBidder.selector, providers[1], providers[0]));
        market.revealBid(id, 0, 5e14, GFLOPS, bytes32(uint256(0)));
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketCommitmentMismatch.selector, id, 0));
        market.revealBid(id, 0, 4e14, GFLOPS, bytes32(uint256(0)));
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBidTooHigh.selector, 2e15, MAX_PRICE));
        market.revealBid(id, 1, 2e15, GFLOPS, bytes32(uint256(1)));
        _reveal(id, 0, 0, 5e14);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketAlreadyRevealed.selector, id, 0));
        market.revealBid(id, 0, 5e14, GFLOPS, bytes32(uint256(0)));
        uint64 revealDeadline = market.order(id).revealDeadline;
        vm.warp(revealDeadline);
        vm.prank(providers[2]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRevealClosed.selector, id, revealDeadline));
        market.revealBid(id, 2, 5e14, GFLOPS, bytes32(uint256(2)));
        market.closeBidding(id);
        vm.prank(providers[2]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Confirming));
        market.revealBid(id, 2, 5e14, GFLOPS, bytes32(uint256(2)));
    }

    function test_revealBid_gflopsBelowLevel() public {
        uint256 id = _post();
        bytes32 c = market.bidCommitment(id, providers[0], 5e14, 0, "s");
        vm.prank(providers[0]);
        market.commitBid(id, executorIds[0], c);
        _toReveal(id);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketGflopsTooLow.selector, 0, 1));
        market.revealBid(id, 0, 5e14, 0, "s");
    }

    function test_revealBid_tracksWinnerAndRunnerUp() public {
        uint256 id = _post();
        uint256 e3 = registry.addExecutor(providers[0], EXECUTOR_STAKE, GFLOPS);
        _commit(id, 0, 6e14); // 0
        _commit(id, 1, 5e14); // 1
        _commit(id, 2, 5e14); // 2: ties with 1, committed later
        _commitAs(id, providers[0], e3, 4e14, "x"); // 3
        _toReveal(id);
        _reveal(id, 2, 2, 5e14);
        IMarket.Order memory o = market.order(id);
        assertEq(o.winner, 2, "first reveal leads");
        _reveal(id, 0, 0, 6e14);
        o = market.order(id);
        assertEq(o.winner, 2, "higher price does not lead");
        assertEq(o.runnerUp, 0, "but is second");
        assertEq(o.runnerUpPrice, 6e14, "second price");
        _reveal(id, 1, 1, 5e14);
        o = market.order(id);
        assertEq(o.winner, 1, "tie goes to the earlier commit");
        assertEq(o.runnerUp, 2, "the displaced winner is second");
        assertEq(o.runnerUpPrice, 5e14, "second price");
        vm.prank(providers[0]);
        market.revealBid(id, 3, 4e14, GFLOPS, "x");
        o = market.order(id);
        assertEq(o.winner, 3, "lowest wins");
        assertEq(o.price, 4e14, "price");
        assertEq(o.runnerUp, 1, "runner-up");
        assertEq(o.runnerUpPrice, 5e14, "runner-up price");
        assertEq(o.revealedCount, 4, "revealed");
        assertTrue(market.bid(id, 3).revealed, "flag");
        assertEq(market.bid(id, 3).gflops, GFLOPS, "gflops");
    }

    /// @notice The O(1) tracking equals a sort of the revealed bids by (price, commit order).
    function testFuzz_revealTracksBestTwo(uint256 seed, uint8 n) public {
        n = uint8(bound(n, 2, 8));
        uint256 id = _post();
        uint128[] memory prices = new uint128[](n);
        address[] memory bidders = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            prices[i] = uint128(uint256(keccak256(abi.encode(seed, i))) % 4); // many ties
            bidders[i] = address(uint160(0xB000 + i));
            _fund(bidders[i], 1e20);
            uint256 e = registry.addExecutor(bidders[i], EXECUTOR_STAKE, GFLOPS);
            _commitAs(id, bidders[i], e, prices[i], "s");
        }
        _toReveal(id);
        uint256 best = type(uint256).max;
        uint256 second = type(uint256).max;
        for (uint256 k = 0; k < n; ++k) {
            uint256 i = (k * (n == 5 ? 3 : 5) + seed % n) % n; // a permutation: 3 and 5 are coprime with n
            if ((seed >> k) & 1 == 1 && k > 1) continue; // some bids stay sealed
            vm.prank(bidders[i]);
            market.revealBid(id, i, prices[i], GFLOPS, "s");
            uint256 key = uint256(prices[i]) << 16 | i;
            if (key < best) {
                second = best;
                best = key;
            } else if (key < second) {
                second = key;
            }
            IMarket.Order memory o = market.order(id);
            assertEq(o.winner, best & 0xffff, "winner");
            assertEq(o.price, best >> 16, "price");
            if (second != type(uint256).max) {
                assertEq(o.runnerUp, second & 0xffff, "runner-up");
                assertEq(o.runnerUpPrice, second >> 16, "runner-up price");
            }
        }
    }

    // ------------------------------------------------------------ closeBidding, claimBond

    function test_closeBidding_noRevealFailsAndForfeitsBonds() public {
        uint256 id = _post();
        _commit(id, 0, 5e14);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlineNotReached.selector, id, market.order(id).revealDeadline));
        market.closeBidding(id);
        uint256 before = token.balanceOf(customer);
        _close(id);
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Failed), "failed");
        assertEq(token.balanceOf(customer) - before, _escrowAtPost(_params()) + MIN_BOND, "escrow + forfeited bond");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 0));
        market.claimBond(id, 0);
        assertEq(market.totalHeld(), 0, "nothing held");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Failed));
        market.closeBidding(id);
        _held();
    }

    function test_closeBidding_keepsTheRunnerUpPrice() public {
        uint256 id = _post();
        _commit(id, 0, 2e14);
        _commit(id, 1, 7e14);
        _commit(id, 2, 9e14); // stays sealed
        _toReveal(id);
        _reveal(id, 0, 0, 2e14);
        _reveal(id, 1, 1, 7e14);
        uint256 before = token.balanceOf(customer);
        _close(id);
        // refund: reservation above the runner-up's 7e14, plus the sealed bid's bond
        assertEq(token.balanceOf(customer) - before, (uint256(MAX_PRICE) - 7e14) * DURATION + MIN_BOND, "refund");
        IMarket.Order memory o = market.order(id);
        assertEq(uint256(o.state), uint256(IMarket.State.Confirming), "confirming");
        assertEq(o.stepDeadline, block.timestamp + WINDOW, "confirm deadline");
        assertEq(o.escrow, 7e14 * uint256(DURATION) + uint256(MAX_PRICE) * DURATION + o.witnessFee, "kept");
        _held();
    }

    function test_closeBidding_aloneKeepsTheWinnerPrice() public {
        uint256 before = token.balanceOf(customer);
        uint256 id = _auction(_params(), 4e14, 0);
        IMarket.Order memory o = market.order(id);
        assertEq(o.escrow, 4e14 * uint256(DURATION) + uint256(MAX_PRICE) * DURATION + o.witnessFee, "kept");
        assertEq(before - token.balanceOf(customer), o.escrow, "the rest went back");
    }

    function test_claimBond_rules() public {
        uint256 id = _post();
        _commit(id, 0, 5e14);
        _commit(id, 1, 6e14);
        _commit(id, 2, 7e14);
        _toReveal(id);
        _reveal(id, 0, 0, 5e14);
        _reveal(id, 1, 1, 6e14);
        _reveal(id, 2, 2, 7e14);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 2));
        market.claimBond(id, 2); // still bidding
        _close(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 0));
        market.claimBond(id, 0); // offered
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 1));
        market.claimBond(id, 1); // may still be offered
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownBid.selector, id, 5));
        market.claimBond(id, 5);
        uint256 before = token.balanceOf(providers[2]);
        market.claimBond(id, 2);
        assertEq(token.balanceOf(providers[2]) - before, MIN_BOND, "loser's bond back");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 2));
        market.claimBond(id, 2);
        vm.prank(providers[0]);
        market.confirmLease(id, "d");
        before = token.balanceOf(providers[1]);
        market.claimBond(id, 1); // no offer left for the runner-up
        assertEq(token.balanceOf(providers[1]) - before, MIN_BOND, "runner-up's bond back");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 0));
        market.claimBond(id, 0); // returned at confirmation
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownOrder.selector, 9));
        market.claimBond(9, 0);
        assertEq(market.totalHeld(), market.order(id).escrow, "only the escrow is left");
        _held();
    }

    // ------------------------------------------------------------ confirmLease, startLease

    function test_confirmLease_locksCollateralMovesBudgetRefundsAbovePrice() public {
        uint256 id = _auction(_params(), 4e14, 6e14);
        uint256 custBefore = token.balanceOf(customer);
        uint256 provBefore = token.balanceOf(providers[0]);
        vm.warp(block.timestamp + 10);
        vm.prank(providers[0]);
        market.confirmLease(id, "deployment");
        IMarket.Order memory o = market.order(id);
        uint256 fee = 4e14 * uint256(DURATION);
        uint256 budget = uint256(MAX_PRICE) * DURATION;
        assertEq(uint256(o.state), uint256(IMarket.State.Deploying), "deploying");
        assertEq(o.stepDeadline, block.timestamp + WINDOW, "deploy deadline");
        assertEq(o.capacityGflops, GFLOPS, "capacity target");
        assertEq(o.collateral, MIN_PROVIDER_STAKE, "min stake above fee + budget");
        assertEq(o.escrow, fee + o.witnessFee, "fee and witness fees stay");
        assertEq(registry.lockCalls(), 1, "locked once");
        assertEq(registry.lastLease(), id, "lease");
        assertEq(registry.lastExecutor(), executorIds[0], "executor");
        assertEq(registry.lastAmount(), MIN_PROVIDER_STAKE, "amount");
        assertEq(token.balanceOf(address(settlement)), budget, "budget moved");
        ISettlement.Lease memory l = settlement.lease(id);
        assertEq(l.customer, customer, "lease customer");
        assertEq(l.provider, providers[0], "lease provider");
        assertEq(l.executorId, executorIds[0], "lease executor");
        assertEq(l.enclave, registry.executor(executorIds[0]).enclave, "lease enclave");
        assertEq(l.budget, budget, "lease budget");
        assertEq(token.balanceOf(customer) - custBefore, 2e14 * uint256(DURATION), "runner-up reserve above the price");
        assertEq(token.balanceOf(providers[0]) - provBefore, MIN_BOND, "bond back");
        assertTrue(market.bid(id, 0).bondClaimed, "bond flag");
        _held();
    }

    function test_confirmLease_collateralCoversFeeAndBudget() public {
        IMarket.OrderParams memory p = _params();
        p.maxUnitPrice = 1e18; // budget 1000e18
        registry.setStake(executorIds[0], 1800e18);
        uint256 id = _auction(p, 8e17, 0); // fee 800e18 -> collateral 1800e18
        vm.prank(providers[0]);
        market.confirmLease(id, "d");
        assertEq(market.order(id).collateral, 1800e18, "fee + budget");
        assertEq(registry.collateralOf(id), 1800e18, "locked");
        assertEq(registry.executor(executorIds[0]).stake, 0, "free stake used up");
    }

    function test_confirmLease_revertPaths() public {
        IMarket.OrderParams memory p = _params();
        p.maxUnitPrice = 1e18;
        uint256 id = _auction(p, 8e17, 0);
        vm.prank(providers[1]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotWinner.selector, providers[1]));
        market.confirmLease(id, "d");
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Confirming));
        market.startLease(id);
        registry.setStake(executorIds[0], 1800e18 - 1);
        vm.prank(providers[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.MarketExecutorUnderstaked.selector, executorIds[0], 1800e18 - 1, 1800e18)
        );
        market.confirmLease(id, "d");
        uint64 deadline = market.order(id).stepDeadline;
        registry.setStake(executorIds[0], 1800e18);
        vm.warp(deadline);
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlinePassed.selector, id, deadline));
        market.confirmLease(id, "d");
        vm.warp(deadline - 1);
        vm.prank(providers[0]);
        market.confirmLease(id, "d");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Deploying));
        market.confirmLease(id, "d");
    }

    function test_startLease_startsTheClock() public {
        uint256 id = _confirmed(_params(), 5e14);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotCustomer.selector, address(this)));
        market.startLease(id);
        vm.warp(block.timestamp + 7);
        vm.prank(customer);
        market.startLease(id);
        IMarket.Order memory o = market.order(id);
        assertEq(uint256(o.state), uint256(IMarket.State.Fulfilling), "fulfilling");
        assertEq(o.startedAt, block.timestamp, "started");
        assertEq(o.stepDeadline, block.timestamp + DURATION, "ends");
        assertEq(o.nextEpoch, 0, "epoch 0 next");
        (uint64 s, uint64 e) = market.epochWindow(id, 4);
        assertEq(s, block.timestamp + 800, "last epoch start");
        assertEq(e, block.timestamp + 1000, "last epoch end");
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Fulfilling));
        market.startLease(id);
    }

    function test_startLease_deadline() public {
        uint256 id = _confirmed(_params(), 5e14);
        uint64 deadline = market.order(id).stepDeadline;
        vm.warp(deadline);
        vm.prank(customer);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlinePassed.selector, id, deadline));
        market.startLease(id);
    }

    // ------------------------------------------------------------ requestRound

    function test_requestRound_paysThePoolAndOpensTheEpoch() public {
        uint256 id = _lease();
        uint256 escrowBefore = market.order(id).escrow;
        uint256 roundId = market.requestRound(id);
        assertEq(roundId, 1, "round id");
        PoolDouble.Request memory r = pool.request(roundId);
        assertEq(r.leaseId, id, "lease");
        assertEq(r.epoch, 0, "epoch");
        assertEq(r.epochEnd, block.timestamp + EPOCH, "epoch end");
        assertEq(r.executorId, executorIds[0], "executor");
        assertEq(r.customer, customer, "customer");
        assertEq(r.size, 3, "size");
        assertEq(r.majority, 2, "majority");
        assertEq(r.requestedAt, market.order(id).startedAt, "at the start of the epoch");
        assertEq(token.balanceOf(address(pool)), 3 * uint256(UNIT), "size * rewardUnit");
        IMarket.Order memory o = market.order(id);
        assertEq(o.pendingRounds, 1, "one pending");
        assertEq(o.firstPending, 0, "oldest pending");
        assertEq(o.nextRequest, 1, "next request");
        assertEq(o.nextEpoch, 0, "nothing settled");
        assertEq(escrowBefore - o.escrow, 3 * uint256(UNIT), "escrow paid the fee");
        _held();
    }

    function test_requestRound_oncePerEpoch() public {
        uint256 id = _lease();
        market.requestRound(id);
        vm.warp(block.timestamp + EPOCH - 1); // still epoch 0
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketEpochAlreadyRequested.selector, id, 0));
        market.requestRound(id);
        _report(id, 0, IWitnessPool.Verdict.None, 0); // settled (cancelled) while epoch 0 runs
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketEpochAlreadyRequested.selector, id, 0));
        market.requestRound(id);
        vm.warp(_epochStart(id, 1));
        uint256 roundId = market.requestRound(id);
        assertEq(pool.request(roundId).epoch, 1, "epoch 1 requested as it starts");
        assertEq(pool.roundCount(), 2, "two rounds");
    }

    function test_requestRound_onlyTheCurrentEpoch() public {
        uint256 id = _lease();
        uint256 cust = token.balanceOf(customer);
        uint256 escrow = market.order(id).escrow;
        vm.warp(_epochStart(id, 3) + 5); // epochs 0, 1, 2 ended without a round
        uint256 roundId = market.requestRound(id);
        assertEq(pool.request(roundId).epoch, 3, "the current epoch");
        assertEq(pool.request(roundId).epochEnd, _epochStart(id, 4), "its end");
        IMarket.Order memory o = market.order(id);
        assertEq(o.firstPending, 3, "pending");
        assertEq(o.nextRequest, 4, "next request");
        assertEq(o.nextEpoch, 0, "skipped epochs are settled with the next round");
        assertEq(token.balanceOf(customer), cust, "nothing refunded by a request");
        assertEq(escrow - o.escrow, _roundFee(id), "only the round fee left");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketEpochAlreadyRequested.selector, id, 3));
        market.requestRound(id);
        // the last epoch is 200 s long; the lease ends with it
        vm.warp(o.startedAt + DURATION - 1);
        roundId = market.requestRound(id);
        assertEq(pool.request(roundId).epoch, 4, "last epoch");
        _held();
    }

    function test_requestRound_lastShortEpochEndsWithTheLease() public {
        IMarket.OrderParams memory p = _params();
        p.epochLength = 300; // epochs of 300, 300, 300 and 100 s
        uint256 id = _lease(p, 5e14);
        uint64 start = market.order(id).startedAt;
        vm.warp(start + 950);
        uint256 roundId = market.requestRound(id);
        assertEq(pool.request(roundId).epoch, 3, "last epoch");
        assertEq(pool.request(roundId).epochEnd, start + DURATION, "ends with the lease");
        vm.warp(start + DURATION); // epoch 3 would run to start + 1200 without the lease's end
        _report(id, 3, IWitnessPool.Verdict.Ok, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Finished));
        market.requestRound(id);
    }

    function test_requestRound_twoPendingAtMost() public {
        uint256 id = _lease();
        market.requestRound(id);
        vm.warp(_epochStart(id, 1));
        market.requestRound(id);
        IMarket.Order memory o = market.order(id);
        assertEq(o.pendingRounds, 2, "two pending");
        assertEq(o.firstPending, 0, "oldest");
        assertEq(o.nextRequest, 2, "newest + 1");
        vm.warp(_epochStart(id, 2));
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTooManyPendingRounds.selector, id));
        market.requestRound(id);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0); // epoch 0's round finalized first
        o = market.order(id);
        assertEq(o.pendingRounds, 1, "one left");
        assertEq(o.firstPending, 1, "epoch 1 is the oldest");
        uint256 roundId = market.requestRound(id);
        assertEq(pool.request(roundId).epoch, 2, "epoch 2");
        o = market.order(id);
        assertEq(o.pendingRounds, 2, "two again");
        assertEq(o.firstPending, 1, "oldest");
        assertEq(o.nextRequest, 3, "next");
        assertEq(market.MAX_PENDING_ROUNDS(), 2, "constant");
        _held();
    }

    function test_requestRound_revertPaths() public {
        uint256 id = _confirmed(_params(), 5e14);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Deploying));
        market.requestRound(id);
        vm.prank(customer);
        market.startLease(id);
        market.requestRound(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketEpochAlreadyRequested.selector, id, 0));
        market.requestRound(id);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        vm.warp(market.order(id).startedAt + DURATION);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNoEpochLeft.selector, id));
        market.requestRound(id);
        market.finish(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Finished));
        market.requestRound(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownOrder.selector, 9));
        market.requestRound(9);
    }

    // ------------------------------------------------------------ onRoundSettled

    function test_onRoundSettled_revertPaths() public {
        uint256 id = _lease();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnauthorized.selector, address(this)));
        market.onRoundSettled(id, 0, IWitnessPool.Verdict.Ok, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNoRoundPending.selector, id));
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        market.requestRound(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongEpoch.selector, id, 1, 0));
        _report(id, 1, IWitnessPool.Verdict.Ok, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownOrder.selector, 9));
        _report(9, 0, IWitnessPool.Verdict.Ok, 0);
        uint256 other = _post();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, other, IMarket.State.Bidding));
        _report(other, 0, IWitnessPool.Verdict.Ok, 0);
        vm.warp(market.order(id).startedAt + DURATION);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        market.finish(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Finished));
        _report(id, 1, IWitnessPool.Verdict.Ok, 0);
    }

    /// @notice With two rounds open, the newer one cannot be settled first: the pool's finalize of
    /// epoch k + 1 reverts until epoch k's round is finalized.
    function test_onRoundSettled_outOfOrderReverts() public {
        uint256 id = _lease();
        market.requestRound(id);
        vm.warp(_epochStart(id, 1));
        market.requestRound(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongEpoch.selector, id, 1, 0));
        _report(id, 1, IWitnessPool.Verdict.Ok, 0);
        uint256 prov = token.balanceOf(providers[0]);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongEpoch.selector, id, 0, 1));
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        _report(id, 1, IWitnessPool.Verdict.Ok, 0);
        uint256 both = market.epochFee(id, 0) + market.epochFee(id, 1);
        assertEq(token.balanceOf(providers[0]) - prov, both, "both paid once");
        IMarket.Order memory o = market.order(id);
        assertEq(o.nextEpoch, 2, "next");
        assertEq(o.pendingRounds, 0, "none pending");
        _held();
    }

    function test_onRoundSettled_okPaysTheEpochShare() public {
        uint256 id = _lease();
        market.requestRound(id);
        uint256 before = token.balanceOf(providers[0]);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(providers[0]) - before, market.epochFee(id, 0), "paid");
        assertEq(market.epochFee(id, 0), _fee(id) / 5, "a fifth");
        IMarket.Order memory o = market.order(id);
        assertEq(o.nextEpoch, 1, "next");
        assertEq(o.pendingRounds, 0, "not pending");
        _held();
    }

    /// @notice Epochs 1 and 2 get no round while epochs 0 and 3 have theirs open together: they are
    /// refunded, with their witness fees, in one step when epoch 3's round settles.
    function test_onRoundSettled_refundsSkippedEpochs() public {
        uint256 id = _lease();
        uint256 share = market.epochFee(id, 0);
        uint256 rf = _roundFee(id);
        market.requestRound(id);
        vm.warp(_epochStart(id, 3) + 10);
        market.requestRound(id); // epochs 0 and 3 pending, 1 and 2 skipped between them
        uint256 cust = token.balanceOf(customer);
        uint256 prov = token.balanceOf(providers[0]);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(customer), cust, "nothing skipped before epoch 0");
        assertEq(token.balanceOf(providers[0]) - prov, share, "epoch 0 paid");
        IMarket.Order memory o = market.order(id);
        assertEq(o.nextEpoch, 1, "next");
        assertEq(o.firstPending, 3, "epoch 3 pending");
        assertEq(o.pendingRounds, 1, "one pending");
        _report(id, 3, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(customer) - cust, 2 * (share + rf), "epochs 1 and 2 refunded");
        assertEq(token.balanceOf(providers[0]) - prov, 2 * share, "epoch 3 paid");
        o = market.order(id);
        assertEq(o.nextEpoch, 4, "next");
        assertEq(o.escrow, share + rf, "epoch 4 left");
        assertEq(uint256(o.state), uint256(IMarket.State.Fulfilling), "goes on");
        _held();
    }

    /// @notice The pool keeps a lease's rounds by epoch parity: with epoch 1's round still open and
    /// epoch 2 never requested, epoch 3's request waits until epoch 1's round is finalized (a round
    /// drawn in its epoch can be by then); epoch 0 is refunded with epoch 1's settlement, epoch 2 with
    /// epoch 3's.
    function test_requestRound_sameParityWaitsForTheOlderRound() public {
        uint256 id = _lease();
        uint256 share = market.epochFee(id, 0);
        uint256 rf = _roundFee(id);
        vm.warp(_epochStart(id, 1) + 10);
        market.requestRound(id);
        vm.warp(_epochStart(id, 3) + 10);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketSameParityRoundPending.selector, id, 1));
        market.requestRound(id);
        uint256 cust = token.balanceOf(customer);
        _report(id, 1, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(customer) - cust, share + rf, "epoch 0 refunded");
        uint256 roundId = market.requestRound(id);
        assertEq(pool.request(roundId).epoch, 3, "epoch 3 requested once epoch 1 settled");
        cust = token.balanceOf(customer);
        _report(id, 3, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(customer) - cust, share + rf, "epoch 2 refunded");
        // nothing open: the next epoch is requested as usual
        vm.warp(_epochStart(id, 4));
        market.requestRound(id);
        assertEq(market.order(id).pendingRounds, 1, "epoch 4 pending");
        _held();
    }

    function test_onRoundSettled_staleWithinGraceThenRefunded() public {
        uint256 id = _lease(); // epochs of 200 s, grace 300 s
        uint256 share = market.epochFee(id, 0);
        uint256 prov = token.balanceOf(providers[0]);
        uint256 cust = token.balanceOf(customer);
        // epoch 0 Stale (starts the clock), 1 Stale (200 < 300: paid), 2 Stale (400: refunded),
        // 3 Ok (paid, clears), 4 Stale (a new clock: paid)
        IWitnessPool.Verdict[5] memory vs = [
            IWitnessPool.Verdict.Stale,
            IWitnessPool.Verdict.Stale,
            IWitnessPool.Verdict.Stale,
            IWitnessPool.Verdict.Ok,
            IWitnessPool.Verdict.Stale
        ];
        for (uint32 e = 0; e < 5; ++e) {
            vm.warp(_epochStart(id, e));
            market.requestRound(id);
            _report(id, e, vs[e], 0);
            if (e == 0) assertEq(market.order(id).staleSince, _epochStart(id, 0), "clock started");
            if (e == 3) assertEq(market.order(id).staleSince, 0, "Ok clears");
        }
        assertEq(token.balanceOf(providers[0]) - prov, 4 * share, "four epochs paid");
        assertEq(token.balanceOf(customer) - cust, share, "one epoch refunded");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Finished), "finished");
        assertEq(uint256(settlement.status(id)), uint256(ISettlement.LeaseStatus.Closed), "lease closed");
        _held();
    }

    function test_onRoundSettled_violationPaysProRataAndFails() public {
        uint256 id = _lease();
        uint256 fee = _fee(id);
        uint256 rf = _roundFee(id);
        vm.warp(_epochStart(id, 1));
        market.requestRound(id); // epoch 0 had no round: refunded when epoch 1 settles
        uint256 prov = token.balanceOf(providers[0]);
        uint256 cust = token.balanceOf(customer);
        uint64 t = _epochStart(id, 1) + 50; // a quarter into epoch 1
        _report(id, 1, IWitnessPool.Verdict.Unavailable, t);
        uint256 share = market.epochFee(id, 1);
        assertEq(token.balanceOf(providers[0]) - prov, share / 4, "quarter of the epoch");
        uint256 rest = fee / 5 + rf + share - share / 4 + fee * 3 / 5 + 3 * rf; // epoch 0, rest of 1, 2-4
        assertEq(token.balanceOf(customer) - cust, rest, "rest of the lease");
        IMarket.Order memory o = market.order(id);
        assertEq(uint256(o.state), uint256(IMarket.State.Failed), "failed");
        assertEq(o.escrow, 0, "escrow empty");
        assertEq(uint256(settlement.status(id)), uint256(ISettlement.LeaseStatus.Closed), "lease closed");
        assertEq(settlement.closeCalls(), 1, "closed once");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Failed));
        market.requestRound(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Failed));
        market.finish(id);
        _held();
    }

    /// @notice Epoch 0's round reports Fraud while epoch 1's round is open: the market refunds the
    /// rest of the lease but not epoch 1's witness fee (the pool holds it and refunds its leftovers);
    /// epoch 1's later report changes nothing and does not revert.
    function test_onRoundSettled_reportAfterFailureIsANoOp() public {
        uint256 id = _lease();
        uint256 fee = _fee(id);
        uint256 rf = _roundFee(id);
        market.requestRound(id);
        vm.warp(_epochStart(id, 1));
        market.requestRound(id);
        uint256 cust = token.balanceOf(customer);
        uint256 prov = token.balanceOf(providers[0]);
        uint256 poolBalance = token.balanceOf(address(pool));
        assertEq(poolBalance, 2 * rf, "two round fees in the pool");
        _report(id, 0, IWitnessPool.Verdict.Fraud, _epochStart(id, 0) + 100); // half of epoch 0
        uint256 share = market.epochFee(id, 0);
        assertEq(token.balanceOf(providers[0]) - prov, share / 2, "half of epoch 0");
        // epochs 1-4's fee shares, epochs 2-4's witness fees (epoch 1's is in the pool)
        assertEq(token.balanceOf(customer) - cust, share - share / 2 + fee * 4 / 5 + 3 * rf, "refund");
        assertEq(market.totalHeld(), 0, "nothing held");
        IMarket.Order memory o = market.order(id);
        assertEq(o.pendingRounds, 1, "epoch 1's round still open in the pool");
        assertEq(o.firstPending, 1, "epoch 1");

        cust = token.balanceOf(customer);
        prov = token.balanceOf(providers[0]);
        assertTrue(!pool.report(id, 1, IWitnessPool.Verdict.Unavailable, 0), "not counted: the pool must not slash");
        assertEq(token.balanceOf(customer), cust, "customer: nothing more");
        assertEq(token.balanceOf(providers[0]), prov, "provider: nothing more");
        assertEq(token.balanceOf(address(pool)), poolBalance, "pool keeps epoch 1's fee");
        assertEq(settlement.closeCalls(), 1, "closed once");
        IMarket.Order memory after_ = market.order(id);
        assertEq(uint256(after_.state), uint256(IMarket.State.Failed), "still failed");
        assertEq(after_.nextEpoch, o.nextEpoch, "unchanged");
        assertEq(after_.pendingRounds, o.pendingRounds, "unchanged");
        _report(id, 1, IWitnessPool.Verdict.Fraud, 0); // any number of times
        assertEq(token.balanceOf(customer), cust, "still nothing");
        _held();
    }

    function test_onRoundSettled_violationTimeIsClampedIntoTheEpoch() public {
        uint256 id = _lease();
        market.requestRound(id);
        uint256 prov = token.balanceOf(providers[0]);
        _report(id, 0, IWitnessPool.Verdict.Fraud, 1); // before the epoch: nothing paid
        assertEq(token.balanceOf(providers[0]), prov, "nothing");
        id = _lease();
        market.requestRound(id);
        prov = token.balanceOf(providers[0]);
        _report(id, 0, IWitnessPool.Verdict.Fraud, type(uint64).max); // after it: the whole epoch
        assertEq(token.balanceOf(providers[0]) - prov, market.epochFee(id, 0), "whole epoch");
        _held();
    }

    function test_onRoundSettled_lastEpochFinishesTheLease() public {
        IMarket.OrderParams memory p = _params();
        p.epochLength = 1000; // one epoch
        uint256 id = _lease(p, 5e14);
        market.requestRound(id);
        vm.warp(block.timestamp + 2000);
        uint256 prov = token.balanceOf(providers[0]);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(providers[0]) - prov, 5e14 * uint256(DURATION), "whole fee");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Finished), "finished");
        assertEq(uint256(settlement.status(id)), uint256(ISettlement.LeaseStatus.Closed), "closed");
        assertEq(market.totalHeld(), 0, "nothing held");
        _held();
    }

    /// @notice The last two epochs' rounds are open together: the lease finishes when the last one
    /// settles, not before.
    function test_onRoundSettled_finishesOnlyWhenTheLastRoundSettles() public {
        uint256 id = _lease();
        vm.warp(_epochStart(id, 3));
        market.requestRound(id);
        vm.warp(_epochStart(id, 4));
        market.requestRound(id);
        vm.warp(market.order(id).startedAt + DURATION + 100);
        uint256 cust = token.balanceOf(customer);
        _report(id, 3, IWitnessPool.Verdict.Ok, 0);
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Fulfilling), "epoch 4 still open");
        assertEq(token.balanceOf(customer) - cust, _fee(id) * 3 / 5 + 3 * _roundFee(id), "epochs 0-2 refunded");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRoundPending.selector, id));
        market.finish(id);
        uint256 prov = token.balanceOf(providers[0]);
        _report(id, 4, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(providers[0]) - prov, market.epochFee(id, 4), "epoch 4 paid");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Finished), "finished");
        assertEq(settlement.closeCalls(), 1, "closed once");
        assertEq(market.totalHeld(), 0, "nothing held");
        _held();
    }

    // ------------------------------------------------------------ finish

    function test_finish_refundsTrailingEpochsAfterTheEnd() public {
        uint256 id = _lease();
        market.requestRound(id);
        uint64 endsAt = market.order(id).startedAt + DURATION;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlineNotReached.selector, id, endsAt));
        market.finish(id);
        vm.warp(endsAt);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRoundPending.selector, id));
        market.finish(id);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        uint256 cust = token.balanceOf(customer);
        market.finish(id);
        assertEq(token.balanceOf(customer) - cust, _fee(id) * 4 / 5 + 4 * _roundFee(id), "epochs 1-4 refunded");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Finished), "finished");
        assertEq(market.order(id).nextEpoch, 5, "all epochs done");
        assertEq(uint256(settlement.status(id)), uint256(ISettlement.LeaseStatus.Closed), "closed");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Finished));
        market.finish(id);
        assertEq(market.totalHeld(), 0, "nothing held");
        _held();
    }

    function test_finish_withoutAnyRound() public {
        uint256 id = _lease();
        vm.warp(market.order(id).startedAt + DURATION);
        uint256 cust = token.balanceOf(customer);
        uint256 escrow = market.order(id).escrow;
        market.finish(id);
        assertEq(escrow, _fee(id) + 5 * _roundFee(id), "fee and witness fees");
        assertEq(token.balanceOf(customer) - cust, escrow, "all refunded");
        assertEq(market.totalHeld(), 0, "nothing held");
        _held();
    }

    // ------------------------------------------------------------ expire

    function test_expire_revertPaths() public {
        uint256 id = _post();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Bidding));
        market.expire(id);
        _commit(id, 0, 5e14);
        _toReveal(id);
        _reveal(id, 0, 0, 5e14);
        _close(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlineNotReached.selector, id, market.order(id).stepDeadline));
        market.expire(id);
        vm.prank(providers[0]);
        market.confirmLease(id, "d");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketDeadlineNotReached.selector, id, market.order(id).stepDeadline));
        market.expire(id);
        vm.prank(customer);
        market.startLease(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Fulfilling));
        market.expire(id);
    }

    function test_expire_confirmingWithoutRunnerUpFails() public {
        uint256 id = _auction(_params(), 5e14, 0);
        uint64 deadline = market.order(id).stepDeadline;
        vm.warp(deadline);
        uint256 before = token.balanceOf(customer);
        uint256 escrow = market.order(id).escrow;
        market.expire(id);
        assertEq(token.balanceOf(customer) - before, escrow + MIN_BOND, "escrow + winner's bond");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Failed), "failed");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 0));
        market.claimBond(id, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongState.selector, id, IMarket.State.Failed));
        market.expire(id);
        assertEq(market.totalHeld(), 0, "nothing held");
        assertEq(registry.lockCalls(), 0, "nothing locked");
        _held();
    }

    function test_expire_runnerUpOfferedOnceThenFails() public {
        uint256 id = _auction(_params(), 3e14, 6e14);
        vm.warp(market.order(id).stepDeadline);
        uint256 before = token.balanceOf(customer);
        market.expire(id);
        IMarket.Order memory o = market.order(id);
        assertEq(token.balanceOf(customer) - before, MIN_BOND, "winner's bond");
        assertEq(uint256(o.state), uint256(IMarket.State.Confirming), "still confirming");
        assertTrue(o.runnerUpOffered, "offered");
        assertEq(o.winner, 1, "runner-up offered");
        assertEq(o.price, 6e14, "at its price");
        assertEq(o.stepDeadline, block.timestamp + WINDOW, "new window");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotWinner.selector, providers[0]));
        market.confirmLease(id, "d");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 1));
        market.claimBond(id, 1);
        vm.warp(o.stepDeadline);
        before = token.balanceOf(customer);
        market.expire(id);
        assertEq(token.balanceOf(customer) - before, o.escrow + MIN_BOND, "escrow + runner-up's bond");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Failed), "failed");
        assertEq(market.totalHeld(), 0, "nothing held");
        _held();
    }

    function test_expire_deployingPaysTheDeploymentFee() public {
        uint256 id = _confirmed(_params(), 5e14);
        vm.warp(market.order(id).stepDeadline);
        uint256 cust = token.balanceOf(customer);
        uint256 prov = token.balanceOf(providers[0]);
        uint256 escrow = market.order(id).escrow;
        market.expire(id);
        uint256 deployFee = 5e14 * uint256(DURATION) * 500 / 10_000;
        assertEq(token.balanceOf(providers[0]) - prov, deployFee, "5 % of the fee");
        assertEq(token.balanceOf(customer) - cust, escrow - deployFee, "rest back");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Failed), "failed");
        assertEq(uint256(settlement.status(id)), uint256(ISettlement.LeaseStatus.Closed), "lease closed");
        assertEq(market.totalHeld(), 0, "nothing held");
        _held();
    }

    // ------------------------------------------------------------ views

    function test_epochFee_sharesAddUpToTheFee() public {
        IMarket.OrderParams memory p = _params();
        p.duration = 997;
        p.epochLength = 100; // 10 epochs, the fee not divisible by 10
        uint256 id = _lease(p, 333_333_333_333);
        uint256 sum;
        for (uint32 e = 0; e < 10; ++e) {
            sum += market.epochFee(id, e);
        }
        assertEq(sum, 333_333_333_333 * uint256(997), "no dust");
        assertEq(market.epochFee(id, 10), 0, "past the last epoch");
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongEpoch.selector, id, 10, 0));
        market.epochWindow(id, 10);
        (uint64 s, uint64 e9) = market.epochWindow(id, 9);
        assertEq(e9 - s, 97, "the last epoch is short");
        uint256 unstarted = _post();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongEpoch.selector, unstarted, 0, 0));
        market.epochWindow(unstarted, 0);
    }

    // ------------------------------------------------------------ regressions

    /// @notice Attack: one actor registers many executors and commits a bid with each, filling every
    /// seat of an order so no other provider can bid (old rules: 32 seats, no cap per provider; 32
    /// executors sufficed). Now one address holds at most 4 of 256 seats, so taking every seat needs 64
    /// addresses, 256 executors at the minimum stake and 256 bonds.
    function test_attack_oneActorCannotTakeAllSeats() public {
        uint256 id = _post();
        address attacker = address(0xBAD);
        _fund(attacker, 1e24);
        for (uint256 i = 0; i < 4; ++i) {
            _commitAs(id, attacker, registry.addExecutor(attacker, EXECUTOR_STAKE, GFLOPS), 0, bytes32(i));
        }
        uint256 fifth = registry.addExecutor(attacker, EXECUTOR_STAKE, GFLOPS);
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTooManyBidsFromProvider.selector, attacker, 4));
        market.commitBid(id, fifth, bytes32("5"));
        _commit(id, 0, 5e14); // an honest provider still gets a seat
        assertEq(market.order(id).bidCount, 5, "4 + 1");
    }

    /// @notice 256 seats: filling them takes 64 distinct bidders; the 257th bid is refused.
    function test_attack_allSeatsNeedSixtyFourBidders() public {
        uint256 id = _post();
        for (uint256 a = 0; a < 64; ++a) {
            address bidder = address(uint160(0x10000 + a));
            _fund(bidder, 10e18);
            for (uint256 k = 0; k < 4; ++k) {
                uint256 e = registry.addExecutor(bidder, MIN_PROVIDER_STAKE, GFLOPS);
                vm.prank(bidder);
                market.commitBid(id, e, bytes32(k + 1));
            }
        }
        assertEq(market.order(id).bidCount, 256, "full");
        assertEq(market.totalHeld() - _escrowAtPost(_params()), 256 * MIN_BOND, "256 bonds");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTooManyBids.selector, 256));
        market.commitBid(id, executorIds[0], bytes32("late"));
        _held();
    }

    /// @notice Attack: a provider commits a ladder of sealed bids at several prices and, once the
    /// competitors revealed, reveals only the rung just below the best competitor (old rules: each
    /// unrevealed rung cost a fixed 1-token bond whatever the order's value). Now each rung costs
    /// `bidBondBps` of the maximum fee, forfeited to the customer.
    function test_attack_bidLadderCostsProportionalBonds() public {
        IMarket.OrderParams memory p = _params();
        p.maxUnitPrice = 1e18; // maxFee 1000e18, bond 50e18
        uint256 id = _post(p);
        address laddered = address(0x1ADD);
        _fund(laddered, 1e24);
        uint128[4] memory rungs = [uint128(9e17), 8e17, 7e17, 6e17];
        for (uint256 i = 0; i < 4; ++i) {
            uint256 e = registry.addExecutor(laddered, EXECUTOR_STAKE, GFLOPS);
            _commitAs(id, laddered, e, rungs[i], bytes32(i));
        }
        _commit(id, 0, 85e16); // the competitor
        _toReveal(id);
        _reveal(id, 4, 0, 85e16);
        vm.prank(laddered);
        market.revealBid(id, 1, 8e17, GFLOPS, bytes32(uint256(1))); // just below the competitor
        uint256 before = token.balanceOf(customer);
        _close(id);
        uint256 bond = uint256(p.maxUnitPrice) * p.duration * 500 / 10_000;
        assertEq(bond, 50e18, "proportional");
        assertTrue(bond > MIN_BOND, "above the minimum");
        // three sealed rungs forfeited, plus the reservation above the runner-up (the competitor)
        assertEq(token.balanceOf(customer) - before, 3 * bond + (1e18 - 85e16) * uint256(p.duration), "customer");
        // the ladder's extra margin over bidding 6e17 outright is 200e18 of fee; the sealed rungs cost
        // 150e18, and a deeper ladder is capped at 4 rungs
        assertEq(market.order(id).winner, 1, "rung won");
        _held();
    }

    /// @notice Attack: the winner bids 0 (or far below anyone) and never confirms, so the order dies
    /// (old rules: the runner-up was never offered and the escrow kept only the winner's price). Now
    /// the runner-up is offered the lease once with a new window, the escrow still covers its price,
    /// and the winner's bond goes to the customer.
    function test_attack_zeroBidWinnerNeverConfirms() public {
        uint256 id = _auction(_params(), 0, 6e14);
        assertEq(market.order(id).price, 0, "winner at 0");
        vm.warp(market.order(id).stepDeadline);
        uint256 cust = token.balanceOf(customer);
        market.expire(id);
        assertEq(token.balanceOf(customer) - cust, MIN_BOND, "winner's bond to the customer");
        uint256 prov = token.balanceOf(providers[1]);
        vm.prank(providers[1]);
        market.confirmLease(id, "runner-up deployment");
        IMarket.Order memory o = market.order(id);
        assertEq(uint256(o.state), uint256(IMarket.State.Deploying), "deploying");
        assertEq(o.escrow, 6e14 * uint256(DURATION) + o.witnessFee, "runner-up's fee is escrowed");
        assertEq(registry.lastExecutor(), executorIds[1], "runner-up's executor locked");
        assertEq(settlement.lease(id).provider, providers[1], "lease to the runner-up");
        assertEq(token.balanceOf(providers[1]) - prov, MIN_BOND, "runner-up's bond back");
        vm.prank(providers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBondNotClaimable.selector, id, 0));
        market.claimBond(id, 0);
        _held();
    }

    /// @notice Attack: the customer lets a provider confirm (collateral locked, deployment done) and
    /// never starts the lease (old rules: full refund, the provider got nothing). Now the provider is
    /// paid `deployFeeBps` of the fee.
    function test_attack_customerNeverStarts() public {
        uint256 id = _confirmed(_params(), 8e14);
        vm.warp(market.order(id).stepDeadline);
        uint256 prov = token.balanceOf(providers[0]);
        market.expire(id);
        assertEq(token.balanceOf(providers[0]) - prov, 8e14 * uint256(DURATION) / 20, "deployment fee");
        assertTrue(token.balanceOf(providers[0]) > prov, "paid");
    }

    /// @notice Attack: the pool (or a buggy round) reports an epoch out of order to skip an epoch, or
    /// reports an epoch twice to pay it twice. Only the oldest pending round can be settled, once.
    function test_attack_noEpochSkippedOrSettledTwice() public {
        uint256 id = _lease();
        market.requestRound(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongEpoch.selector, id, 2, 0));
        _report(id, 2, IWitnessPool.Verdict.Ok, 0);
        uint256 prov = token.balanceOf(providers[0]);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNoRoundPending.selector, id));
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        vm.warp(_epochStart(id, 1));
        market.requestRound(id);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketWrongEpoch.selector, id, 0, 1));
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(providers[0]) - prov, market.epochFee(id, 0), "paid once");
    }

    /// @notice Attack: the provider (or anyone) gets a round cancelled, e.g. by emptying the committee,
    /// hoping the epoch is paid anyway. A cancelled round (`None`) refunds the epoch.
    function test_attack_cancelledRoundDoesNotPay() public {
        uint256 id = _lease();
        market.requestRound(id);
        uint256 prov = token.balanceOf(providers[0]);
        uint256 cust = token.balanceOf(customer);
        _report(id, 0, IWitnessPool.Verdict.None, 0);
        assertEq(token.balanceOf(providers[0]), prov, "provider not paid");
        assertEq(token.balanceOf(customer) - cust, market.epochFee(id, 0), "customer refunded");
        assertEq(market.order(id).nextEpoch, 1, "epoch settled");
    }

    /// @notice Attack: the provider behaves during the only round of the lease and goes dark after it
    /// (old rules: one round per lease). Each epoch gets its own round: epoch 1 is checked after
    /// epoch 0 settled, and a violation there fails the lease.
    function test_attack_providerDarkAfterFirstRoundIsChecked() public {
        uint256 id = _lease();
        market.requestRound(id);
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        vm.warp(_epochStart(id, 1) + 1);
        uint256 roundId = market.requestRound(id);
        assertEq(pool.request(roundId).epoch, 1, "epoch 1 round");
        uint256 prov = token.balanceOf(providers[0]);
        _report(id, 1, IWitnessPool.Verdict.Unavailable, _epochStart(id, 1));
        assertEq(token.balanceOf(providers[0]), prov, "dark from the start of epoch 1: unpaid");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Failed), "failed");
    }

    /// @notice Attack: nobody requests the round of an epoch (the provider hopes an unchecked epoch is
    /// paid at the end). An epoch that ended without a round is refunded, when a later round settles or
    /// by `finish`, never paid.
    function test_attack_unrequestedEpochIsRefunded() public {
        uint256 id = _lease();
        uint256 prov = token.balanceOf(providers[0]);
        uint256 cust = token.balanceOf(customer);
        vm.warp(_epochStart(id, 1)); // epoch 0 ended unchecked
        market.requestRound(id);
        _report(id, 1, IWitnessPool.Verdict.Ok, 0);
        assertEq(token.balanceOf(customer) - cust, market.epochFee(id, 0) + _roundFee(id), "epoch 0 refunded");
        vm.warp(market.order(id).startedAt + DURATION + 1);
        cust = token.balanceOf(customer);
        market.finish(id);
        assertEq(token.balanceOf(customer) - cust, _fee(id) * 3 / 5 + 3 * _roundFee(id), "epochs 2-4 refunded");
        assertEq(token.balanceOf(providers[0]) - prov, market.epochFee(id, 1), "only the checked epoch paid");
        _held();
    }

    /// @notice Attack: the provider goes dark for the first `commitWindow + revealWindow` seconds of
    /// every epoch and serves the rest. Old rules: epoch k + 1's round could be requested only after
    /// epoch k's round settled, `commitWindow + revealWindow` after epoch k ended, so no committee ever
    /// probed the start of an epoch and every epoch was paid. Now epoch k's round is requested (and its
    /// committee drawn) as epoch k starts, while epoch k - 1's round is still in its reveal window; the
    /// outage at the start of an epoch is observed and the lease fails without paying that epoch.
    function test_attack_darkAtEveryEpochStartIsObserved() public {
        uint256 id = _lease();
        uint64 dark = pool.commitWindow() + pool.revealWindow();
        uint256 prov = token.balanceOf(providers[0]);
        // epoch 0: honest round (the provider is dark at its start too, but take the worst case
        // for the customer: the committee reports Ok)
        market.requestRound(id);
        vm.warp(_epochStart(id, 1)); // epoch 0's round is in its commit window
        uint256 roundId = market.requestRound(id);
        PoolDouble.Request memory r = pool.request(roundId);
        assertEq(r.epoch, 1, "epoch 1's round");
        assertEq(r.requestedAt, _epochStart(id, 1), "requested as epoch 1 starts");
        assertEq(market.order(id).pendingRounds, 2, "epoch 0's round still open");
        vm.warp(_epochStart(id, 1) + dark); // epoch 0's reveal window closed
        _report(id, 0, IWitnessPool.Verdict.Ok, 0);
        // epoch 1's committee probed from its start and saw the provider dark then
        _report(id, 1, IWitnessPool.Verdict.Unavailable, _epochStart(id, 1));
        assertEq(token.balanceOf(providers[0]) - prov, market.epochFee(id, 0), "epoch 1 unpaid");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Failed), "failed");
    }

    /// @notice Attack: with epochs of `minEpochLength`, a provider misbehaves only in the epochs that
    /// old rules left unchecked (every other one: a round settled `commitWindow + revealWindow` after
    /// its epoch, when the next epoch had ended, so that epoch was refunded unchecked and the one after
    /// was checked). Now every epoch's round is requested as it starts and every epoch is checked.
    function test_attack_shortEpochsAreNotSkipped() public {
        IMarket.OrderParams memory p = _params();
        p.epochLength = 100; // minEpochLength == commitWindow + revealWindow
        uint256 id = _lease(p, 5e14);
        uint256 prov = token.balanceOf(providers[0]);
        for (uint32 e = 0; e < 10; ++e) {
            vm.warp(_epochStart(id, e));
            // epoch e - 2's reveal window closes as epoch e starts: finalized, then e is requested
            if (e >= 2) _report(id, e - 2, IWitnessPool.Verdict.Ok, 0);
            uint256 roundId = market.requestRound(id);
            assertEq(pool.request(roundId).epoch, e, "every epoch requested");
            assertEq(pool.request(roundId).requestedAt, _epochStart(id, e), "at its start");
        }
        vm.warp(market.order(id).startedAt + DURATION + 100);
        _report(id, 8, IWitnessPool.Verdict.Ok, 0);
        _report(id, 9, IWitnessPool.Verdict.Ok, 0);
        assertEq(pool.roundCount(), 10, "ten rounds for ten epochs");
        assertEq(token.balanceOf(providers[0]) - prov, _fee(id), "every epoch checked and paid");
        assertEq(uint256(market.order(id).state), uint256(IMarket.State.Finished), "finished");
        _held();
    }

    // ------------------------------------------------------------ money properties

    struct Balances {
        uint256 customer;
        uint256 p0;
        uint256 p1;
        uint256 settlement;
        uint256 pool;
    }

    function _balances() internal view returns (Balances memory b) {
        b.customer = token.balanceOf(customer);
        b.p0 = token.balanceOf(providers[0]);
        b.p1 = token.balanceOf(providers[1]);
        b.settlement = token.balanceOf(address(settlement));
        b.pool = token.balanceOf(address(pool));
    }

    /// @notice Random lifecycles (winner confirms; winner lets its window pass and the runner-up
    /// confirms; the customer never starts), then random round requests (up to two open at once),
    /// verdicts in order, out-of-order reports, reports after a failure, time jumps and `finish`
    /// calls (see `_drive`). Properties: `totalHeld` equals the market's balance after every step; the
    /// customer never pays out more than it locked; what the providers were paid (net of bonds) never
    /// exceeds the confirmed fee; the pool gets at most the witness fees; the settlement gets exactly
    /// the budget; provider paid + customer refunded + settlement + pool == the posted escrow.
    function testFuzz_moneyIsConserved(uint256 seed, uint128 price, uint64 duration, uint64 epochLength, uint8 mode)
        public
    {
        IMarket.OrderParams memory p = _params();
        p.duration = uint64(bound(duration, 100, 3000));
        p.epochLength = uint64(bound(epochLength, 100, uint256(p.duration) + 100));
        price = uint128(bound(price, 0, MAX_PRICE - 1));
        mode = mode % 3;
        Balances memory b0 = _balances();
        uint256 id = _post(p);
        uint256 escrow = market.order(id).escrow;
        _commit(id, 0, price);
        _commit(id, 1, price + 1);
        _toReveal(id);
        _reveal(id, 0, 0, price);
        _reveal(id, 1, 1, price + 1);
        _close(id);
        _held();
        uint256 forfeited;
        uint256 provider = 0;
        if (mode == 1) {
            vm.warp(market.order(id).stepDeadline);
            market.expire(id);
            forfeited = MIN_BOND;
            provider = 1;
        }
        vm.prank(providers[provider]);
        market.confirmLease(id, "d");
        _held();
        if (mode == 2) {
            vm.warp(market.order(id).stepDeadline);
            market.expire(id);
        } else {
            vm.prank(customer);
            market.startLease(id);
            _drive(id, seed, p.epochLength);
        }
        if (mode != 1) market.claimBond(id, 1);
        _held();

        IMarket.Order memory o = market.order(id);
        assertTrue(o.state == IMarket.State.Finished || o.state == IMarket.State.Failed, "ended");
        assertEq(o.escrow, 0, "escrow spent");
        assertEq(market.totalHeld(), 0, "nothing held");
        assertEq(uint256(settlement.status(id)), uint256(ISettlement.LeaseStatus.Closed), "lease closed");

        Balances memory b1 = _balances();
        uint256 customerOut = b0.customer + forfeited - b1.customer; // not counting the bond it received
        uint256 providerPaid = b1.p0 + b1.p1 + forfeited - b0.p0 - b0.p1;
        uint256 toSettlement = b1.settlement - b0.settlement;
        uint256 toPool = b1.pool - b0.pool;
        uint256 refunded = escrow - customerOut;
        assertLe(customerOut, escrow, "customer outflow within what it locked");
        assertLe(providerPaid, uint256(o.price) * o.duration, "provider paid within the fee");
        assertEq(toSettlement, uint256(p.maxUnitPrice) * p.duration, "budget");
        assertLe(toPool, o.witnessFee, "witness fees");
        assertEq(providerPaid + refunded + toSettlement + toPool, escrow, "conservation");
    }

    /// @dev Random steps on a started lease: time jumps, round requests (checked to be for the current
    /// epoch), reports of the oldest pending round, out-of-order reports of the newest (must revert),
    /// reports after failure (must move nothing), `finish`. After every step: `totalHeld` equals the
    /// market's balance, at most two rounds are pending, and while the lease runs its escrow is exactly
    /// the fee shares of the unsettled epochs plus the witness fees of the epochs not requested.
    function _drive(uint256 id, uint256 seed, uint64 epochLength) internal {
        for (uint256 step = 0; step < 64; ++step) {
            IMarket.Order memory o = market.order(id);
            if (o.state == IMarket.State.Finished) return;
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 action = r % 5;
            r >>= 8;
            if (o.state == IMarket.State.Failed) {
                if (o.pendingRounds == 0) return;
                uint256 held = token.balanceOf(address(market));
                _report(id, o.firstPending, _verdict(r % 16), 0); // the other open round finalizes
                assertEq(token.balanceOf(address(market)), held, "no-op after failure");
                return;
            }
            if (action == 0) {
                vm.warp(block.timestamp + r % (uint256(epochLength) * 3 / 2));
            } else if (action == 1) {
                uint256 count = pool.roundCount();
                try market.requestRound(id) returns (uint256 roundId) {
                    assertEq(pool.roundCount(), count + 1, "one round");
                    assertEq(pool.request(roundId).epoch, (block.timestamp - o.startedAt) / o.epochLength, "current");
                    assertLe(block.timestamp - o.startedAt + 1, o.duration, "while the lease runs");
                } catch {}
            } else if (action == 2 && o.pendingRounds > 0) {
                (uint64 s, uint64 e) = market.epochWindow(id, o.firstPending);
                uint64 t = uint64(s + (r >> 8) % (uint256(e - s) + 20)) - 10;
                _report(id, o.firstPending, _verdict(r % 16), t);
            } else if (action == 3 && o.pendingRounds == 2) {
                bytes memory wrong =
                    abi.encodeWithSelector(IMarket.MarketWrongEpoch.selector, id, o.nextRequest - 1, o.firstPending);
                vm.expectRevert(wrong);
                _report(id, o.nextRequest - 1, IWitnessPool.Verdict.Ok, 0);
            } else if (action == 4) {
                try market.finish(id) {} catch {}
            }
            _held();
            _checkEpochs(id);
        }
        IMarket.Order memory last = market.order(id);
        if (last.state == IMarket.State.Failed && last.pendingRounds > 0) {
            _report(id, last.firstPending, IWitnessPool.Verdict.Ok, 0);
        }
        if (last.state != IMarket.State.Fulfilling) return;
        for (uint256 k = 0; k < last.pendingRounds; ++k) {
            _report(id, market.order(id).firstPending, IWitnessPool.Verdict.Ok, 0);
        }
        if (market.order(id).state != IMarket.State.Fulfilling) return;
        if (block.timestamp < last.startedAt + last.duration) vm.warp(last.startedAt + last.duration);
        market.finish(id);
    }

    function _checkEpochs(uint256 id) internal view {
        IMarket.Order memory o = market.order(id);
        assertLe(o.pendingRounds, 2, "two pending at most");
        if (o.state != IMarket.State.Fulfilling) return;
        if (o.pendingRounds > 0) {
            assertLe(o.nextEpoch, o.firstPending, "oldest pending not settled");
            assertLe(o.firstPending + 1, o.nextRequest, "oldest pending requested");
            assertLe(o.nextRequest, o.epochs, "requested epochs exist");
            assertTrue(o.pendingRounds == 1 || o.firstPending + 1 < o.nextRequest, "two distinct epochs");
            // the pool stores a lease's rounds by epoch parity: two open ones never share it
            assertTrue(o.pendingRounds == 1 || (o.nextRequest - 1 - o.firstPending) % 2 == 1, "two parities");
        } else {
            assertLe(o.nextRequest, o.nextEpoch, "every requested epoch settled");
        }
        uint256 fee = uint256(o.price) * o.duration;
        uint256 unsettled = fee - fee * o.nextEpoch / o.epochs;
        uint256 unrequested = o.epochs - o.nextEpoch - o.pendingRounds;
        assertEq(o.escrow, unsettled + unrequested * (o.witnessFee / o.epochs), "escrow");
    }

    function _verdict(uint256 r) internal pure returns (IWitnessPool.Verdict) {
        if (r < 6 || r == 15) return IWitnessPool.Verdict.Ok;
        if (r < 10) return IWitnessPool.Verdict.Stale;
        if (r < 13) return IWitnessPool.Verdict.None;
        return r == 13 ? IWitnessPool.Verdict.Fraud : IWitnessPool.Verdict.Unavailable;
    }
}
