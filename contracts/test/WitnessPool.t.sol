// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {WitnessPool} from "../src/WitnessPool.sol";
import {TestBase} from "./Vm.sol";

/// @notice ERC-20 with a fixed supply and `burn` (the shape of IToken); nothing mints after deployment.
contract PoolTestToken is ERC20 {
    constructor(uint256 supply) ERC20("pool test", "PT") {
        _mint(msg.sender, supply);
    }

    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }
}

/// @notice The registry calls the pool makes: a compact eligible list (swap-and-pop) with each
/// witness's eligibility history per block, witness stakes and lease collateral held in tokens.
/// `eligibleWitnessAt` reads the history only when the witness changed after the block asked about
/// (a listed witness that has not changed since was eligible then), so a lookup costs two cold slots.
contract RegistryDouble {
    using Checkpoints for Checkpoints.Trace208;

    struct W {
        address account;
        uint16 reputation;
        uint32 listPosition; // index + 1, zero when not listed
        uint48 changedAt; // block of the last eligibility change
        uint128 stake;
    }

    IERC20 public immutable token;
    uint128 public immutable minStake;
    address public pool;
    uint256 public witnessCount;
    mapping(uint256 id => W) public witnesses;
    mapping(address account => uint256) public witnessIdOf;
    uint256[] internal _list;
    mapping(uint256 id => Checkpoints.Trace208) internal _history;
    mapping(uint256 leaseId => uint256) public collateral;
    mapping(uint256 leaseId => uint256) public executorOf;

    constructor(IERC20 token_, uint128 minStake_) {
        token = token_;
        minStake = minStake_;
    }

    function setPool(address pool_) external {
        pool = pool_;
    }

    // ------------------------------------------------------------ test set-up

    function register(address account, uint128 stake) external returns (uint256 id) {
        token.transferFrom(msg.sender, address(this), stake);
        id = ++witnessCount;
        witnesses[id] = W(account, 3, 0, 0, stake);
        witnessIdOf[account] = id;
        _update(id);
    }

    /// @dev Unstakes everything (the witness leaves the list); `rejoin` stakes it again.
    function unlist(uint256 id) external {
        W storage w = witnesses[id];
        token.transfer(w.account, w.stake);
        w.stake = 0;
        _update(id);
    }

    function rejoin(uint256 id, uint128 stake) external {
        token.transferFrom(msg.sender, address(this), stake);
        witnesses[id].stake += stake;
        _update(id);
    }

    function lockCollateral(uint256 leaseId, uint256 executorId, uint256 amount) external {
        token.transferFrom(msg.sender, address(this), amount);
        collateral[leaseId] += amount;
        executorOf[leaseId] = executorId;
    }

    // ------------------------------------------------------------ IRegistry subset

    function eligibleCount() external view returns (uint256) {
        return _list.length;
    }

    function eligibleWitnessAt(uint256 index, uint256 blockNumber) external view returns (uint256 id, address account) {
        if (index >= _list.length) return (0, address(0));
        id = _list[index];
        W storage w = witnesses[id];
        if (w.changedAt <= blockNumber || _history[id].upperLookup(SafeCast.toUint48(blockNumber)) == 1) {
            account = w.account;
        }
    }

    function wasEligibleAt(uint256 id, uint256 blockNumber) external view returns (bool) {
        return _history[id].upperLookup(SafeCast.toUint48(blockNumber)) == 1;
    }

    function witnessAccount(uint256 id) external view returns (address) {
        return witnesses[id].account;
    }

    function penalizeWitness(uint256 id, uint256 amount, uint16 reputationLoss) external returns (uint256 slashed) {
        require(msg.sender == pool, "pool only");
        W storage w = witnesses[id];
        slashed = amount < w.stake ? amount : w.stake;
        w.stake -= uint128(slashed);
        w.reputation = reputationLoss >= w.reputation ? 0 : w.reputation - reputationLoss;
        _update(id);
        token.transfer(msg.sender, slashed);
    }

    function leaseCollateral(uint256 leaseId) external view returns (uint256, uint256) {
        return (executorOf[leaseId], collateral[leaseId]);
    }

    function slashCollateral(uint256 leaseId, uint256 amount) external returns (uint256 slashed) {
        require(msg.sender == pool, "pool only");
        slashed = amount < collateral[leaseId] ? amount : collateral[leaseId];
        collateral[leaseId] -= slashed;
        token.transfer(msg.sender, slashed);
    }

    // ------------------------------------------------------------ internals

    function _update(uint256 id) internal {
        W storage w = witnesses[id];
        bool eligible = w.stake >= minStake && w.reputation > 0;
        if (eligible && w.listPosition == 0) {
            _list.push(id);
            w.listPosition = uint32(_list.length);
            w.changedAt = uint48(block.number);
            _history[id].push(uint48(block.number), 1);
        } else if (!eligible && w.listPosition != 0) {
            uint256 index = w.listPosition - 1;
            uint256 last = _list[_list.length - 1];
            _list[index] = last;
            witnesses[last].listPosition = uint32(index + 1);
            _list.pop();
            w.listPosition = 0;
            w.changedAt = uint48(block.number);
            _history[id].push(uint48(block.number), 0);
        }
    }
}

/// @notice The market side of a round: pays the fee and requests; records the last settlement and
/// counts them (two words, so its share of `finalize` gas stays small).
contract MarketDouble {
    struct Settled {
        uint256 leaseId;
        uint32 epoch;
        IWitnessPool.Verdict verdict;
        uint64 violationTime;
        uint64 count;
    }

    WitnessPool public immutable pool;
    IERC20 public immutable token;
    Settled internal _last;
    uint256 public reenterRound;
    /// @notice What `onRoundSettled` answers: false plays a lease that already ended.
    bool public counts = true;

    constructor(WitnessPool pool_, IERC20 token_) {
        pool = pool_;
        token = token_;
    }

    function setReenter(uint256 roundId) external {
        reenterRound = roundId;
    }

    function setCounts(bool counts_) external {
        counts = counts_;
    }

    function request(
        uint256 leaseId,
        uint32 epoch,
        uint64 epochEnd,
        uint256 executorId,
        address customer,
        uint256 size,
        uint256 majority
    ) external returns (uint256) {
        token.transfer(address(pool), size * pool.rewardUnit());
        return pool.requestRound(leaseId, epoch, epochEnd, executorId, customer, size, majority);
    }

    function onRoundSettled(uint256 leaseId, uint32 epoch, IWitnessPool.Verdict verdict, uint64 violationTime)
        external
        returns (bool)
    {
        require(msg.sender == address(pool), "pool only");
        _last = Settled(leaseId, epoch, verdict, violationTime, _last.count + 1);
        if (reenterRound != 0) pool.finalize(reenterRound);
        return counts;
    }

    function last() external view returns (Settled memory) {
        return _last;
    }
}

contract WitnessPoolTest is TestBase {
    uint256 internal constant UNIT = 0.1e18;
    uint128 internal constant MIN_STAKE = 100e18;
    uint256 internal constant COLLATERAL = 1000e18;
    uint256 internal constant LEASE = 1;
    uint256 internal constant EXECUTOR = 4;
    address internal constant CUSTOMER = address(0xC0FFEE);

    PoolTestToken internal token;
    RegistryDouble internal registry;
    WitnessPool internal pool;
    MarketDouble internal market;
    address[] internal accounts;
    uint256[] internal opened;

    IWitnessPool.Verdict internal constant NONE = IWitnessPool.Verdict.None;
    IWitnessPool.Verdict internal constant OK = IWitnessPool.Verdict.Ok;
    IWitnessPool.Verdict internal constant FRAUD = IWitnessPool.Verdict.Fraud;
    IWitnessPool.Verdict internal constant UNAVAILABLE = IWitnessPool.Verdict.Unavailable;
    IWitnessPool.Verdict internal constant STALE = IWitnessPool.Verdict.Stale;

    function setUp() public {
        vm.warp(1_000_000);
        vm.roll(100);
        token = new PoolTestToken(1e27);
        _deploy(_params(), 7);
    }

    /// @dev A registry with `witnesses` listed witnesses, a pool with `p` and its market; lease LEASE
    /// has COLLATERAL locked.
    function _deploy(WitnessPool.Params memory p, uint256 witnesses) internal {
        delete accounts;
        delete opened;
        registry = new RegistryDouble(token, MIN_STAKE);
        pool = new WitnessPool(token, IRegistry(address(registry)), p);
        registry.setPool(address(pool));
        market = new MarketDouble(pool, token);
        pool.setMarket(address(market));
        token.transfer(address(market), 1000e18);
        token.approve(address(registry), type(uint256).max);
        registry.lockCollateral(LEASE, EXECUTOR, COLLATERAL);
        for (uint256 i = 0; i < witnesses; ++i) _addWitness();
        vm.roll(block.number + 1);
    }

    // ================================================================ helpers

    function _params() internal pure returns (WitnessPool.Params memory) {
        return WitnessPool.Params({
            seedDelay: 1,
            commitWindow: 100,
            revealWindow: 100,
            drawTimeout: 1000,
            rewardUnit: uint128(UNIT),
            reputationLoss: 1,
            providerSlashBps: 5000,
            customerShareBps: 5000,
            witnessShareBps: 2500
        });
    }

    function _addWitness() internal returns (address account) {
        account = address(uint160(0xB000 + registry.witnessCount()));
        accounts.push(account);
        token.transfer(account, 1e18); // a witness's wallet is not empty
        registry.register(account, MIN_STAKE);
    }

    function _request(uint256 leaseId, uint32 epoch, uint256 size, uint256 majority) internal returns (uint256 roundId) {
        roundId = market.request(leaseId, epoch, uint64(block.timestamp + 50), EXECUTOR, CUSTOMER, size, majority);
        opened.push(roundId);
    }

    function _roundId(uint256 leaseId, uint32 epoch) internal pure returns (uint256) {
        return ((leaseId << 32) | epoch) + 1;
    }

    function _draw(uint256 roundId) internal returns (address[] memory) {
        vm.roll(uint256(pool.round(roundId).seedBlock) + 1);
        return pool.drawCommittee(roundId);
    }

    function _evidence(address w) internal pure returns (bytes32) {
        return keccak256(abi.encode("evidence", w));
    }

    function _salt(address w) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", w));
    }

    function _commit(uint256 roundId, address w, IWitnessPool.Verdict v, uint64 t) internal {
        bytes32 c = pool.verdictCommitment(roundId, w, v, t, _evidence(w), _salt(w));
        vm.prank(w);
        pool.commitVerdict(roundId, c);
    }

    function _reveal(uint256 roundId, address w, IWitnessPool.Verdict v, uint64 t) internal {
        vm.prank(w);
        pool.revealVerdict(roundId, v, t, _evidence(w), _salt(w));
    }

    /// @dev Every member commits (a `None` entry commits Ok and never reveals), then the others reveal.
    function _play(uint256 roundId, address[] memory m, IWitnessPool.Verdict[] memory v, uint64[] memory t) internal {
        for (uint256 i = 0; i < m.length; ++i) _commit(roundId, m[i], v[i] == NONE ? OK : v[i], t[i]);
        vm.warp(pool.round(roundId).commitDeadline);
        for (uint256 i = 0; i < m.length; ++i) {
            if (v[i] != NONE) _reveal(roundId, m[i], v[i], t[i]);
        }
    }

    function _finalizeAfterReveals(uint256 roundId) internal returns (IWitnessPool.Verdict) {
        vm.warp(pool.revealDeadline(roundId));
        return pool.finalize(roundId);
    }

    function _v(IWitnessPool.Verdict a, IWitnessPool.Verdict b, IWitnessPool.Verdict c, IWitnessPool.Verdict d, IWitnessPool.Verdict e)
        internal
        pure
        returns (IWitnessPool.Verdict[] memory v)
    {
        v = new IWitnessPool.Verdict[](5);
        (v[0], v[1], v[2], v[3], v[4]) = (a, b, c, d, e);
    }

    function _times(uint64 a, uint64 b, uint64 c, uint64 d, uint64 e) internal pure returns (uint64[] memory t) {
        t = new uint64[](5);
        (t[0], t[1], t[2], t[3], t[4]) = (a, b, c, d, e);
    }

    function _zeroTimes(uint256 n) internal pure returns (uint64[] memory) {
        return new uint64[](n);
    }

    function _stake(address w) internal view returns (uint256 stake) {
        (,,,, stake) = registry.witnesses(registry.witnessIdOf(w));
    }

    function _reputation(address w) internal view returns (uint256 rep) {
        (, rep,,,) = registry.witnesses(registry.witnessIdOf(w));
    }

    function _balances(address[] memory m) internal view returns (uint256[] memory b) {
        b = new uint256[](m.length);
        for (uint256 i = 0; i < m.length; ++i) b[i] = token.balanceOf(m[i]);
    }

    /// @dev The pool holds exactly the fees of its open rounds.
    function _assertHoldsOpenFees() internal view {
        uint256 open;
        for (uint256 i = 0; i < opened.length; ++i) {
            IWitnessPool.Round memory r = pool.round(opened[i]);
            if (r.phase == IWitnessPool.Phase.Requested || r.phase == IWitnessPool.Phase.Drawn) open += r.fee;
        }
        assertEq(token.balanceOf(address(pool)), open, "pool holds the fees of open rounds only");
    }

    function _assertSettled(uint256 leaseId, uint32 epoch, IWitnessPool.Verdict verdict, uint64 t) internal view {
        MarketDouble.Settled memory s = market.last();
        assertEq(s.leaseId, leaseId, "settled lease");
        assertEq(s.epoch, epoch, "settled epoch");
        assertEq(uint256(s.verdict), uint256(verdict), "settled verdict");
        assertEq(s.violationTime, t, "settled violation time");
    }

    function _expectWrongPhase(uint256 roundId, IWitnessPool.Phase phase) internal {
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolWrongPhase.selector, roundId, phase));
    }

    // ================================================================ deployment and wiring

    function test_constructor_rejectsBadParams() public {
        for (uint256 k = 0; k < 8; ++k) {
            WitnessPool.Params memory p = _params();
            if (k == 0) p.rewardUnit = 0;
            if (k == 1) p.rewardUnit = uint128(type(uint96).max / 15 + 1);
            if (k == 2) p.providerSlashBps = 10_001;
            if (k == 3) (p.customerShareBps, p.witnessShareBps) = (5001, 5000);
            if (k == 4) p.commitWindow = uint64(type(uint32).max) + 1;
            if (k == 5) p.revealWindow = uint64(type(uint32).max) + 1;
            if (k == 6) p.drawTimeout = uint64(type(uint32).max) + 1;
            if (k == 7) p.seedDelay = uint64(type(uint32).max) + 1;
            vm.expectRevert(IWitnessPool.WitnessPoolBadParams.selector);
            new WitnessPool(token, IRegistry(address(registry)), p);
        }
        WitnessPool.Params memory q = _params();
        q.seedDelay = 0;
        q.rewardUnit = uint128(type(uint96).max / 15);
        (q.providerSlashBps, q.customerShareBps, q.witnessShareBps) = (10_000, 4000, 6000);
        WitnessPool ok = new WitnessPool(token, IRegistry(address(registry)), q);
        assertEq(ok.seedDelay(), 1, "seed delay at least one block");
        assertEq(ok.rewardUnit(), type(uint96).max / 15, "largest reward unit");
    }

    function test_setMarket_deployerOnlyOnce() public {
        WitnessPool fresh = new WitnessPool(token, IRegistry(address(registry)), _params());
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnauthorized.selector, address(0xBAD)));
        fresh.setMarket(address(0xBAD));
        fresh.setMarket(address(market));
        assertEq(address(fresh.market()), address(market), "market");
        vm.expectRevert(IWitnessPool.WitnessPoolAlreadyWired.selector);
        fresh.setMarket(address(this));
    }

    function test_validateCommittee_bounds() public view {
        pool.validateCommittee(3, 2);
        pool.validateCommittee(5, 3);
        pool.validateCommittee(5, 4);
        pool.validateCommittee(15, 14);
    }

    function test_validateCommittee_rejects() public {
        uint8[2][7] memory bad = [[uint8(2), 2], [3, 1], [3, 3], [4, 2], [16, 9], [5, 5], [0, 0]];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolBadCommittee.selector, bad[i][0], bad[i][1]));
            pool.validateCommittee(bad[i][0], bad[i][1]);
        }
    }

    // ================================================================ requestRound

    function test_requestRound_recordsTheRound() public {
        uint256 supply = token.totalSupply();
        uint256 roundId = _request(LEASE, 7, 5, 3);
        IWitnessPool.Round memory r = pool.round(roundId);
        assertEq(roundId, (LEASE << 32 | 7) + 1, "round id from lease and epoch");
        assertEq(pool.roundOf(LEASE, 7), roundId, "roundOf");
        assertEq(pool.roundOf(LEASE, 8), 0, "no round for another epoch");
        assertEq(r.leaseId, LEASE, "lease");
        assertEq(r.epoch, 7, "epoch");
        assertEq(r.customer, CUSTOMER, "customer");
        assertEq(r.executorId, EXECUTOR, "executor");
        assertEq(r.frozenBlock, block.number, "frozen block");
        assertEq(r.seedBlock, block.number + 1, "seed block");
        assertEq(r.frozenCount, 7, "frozen count");
        assertEq(r.requestedAt, block.timestamp, "requested at");
        assertEq(r.epochEnd, block.timestamp + 50, "epoch end");
        assertEq(r.commitDeadline, 0, "no deadline before the draw");
        assertEq(r.fee, 5 * UNIT, "fee = size * rewardUnit");
        assertEq(r.size, 5, "size");
        assertEq(r.majority, 3, "majority");
        assertEq(uint256(r.phase), uint256(IWitnessPool.Phase.Requested), "phase");
        assertEq(uint256(r.verdict), 0, "no verdict");
        assertEq(pool.revealDeadline(roundId), 0, "no reveal deadline");
        assertEq(pool.committee(roundId).length, 0, "no committee");
        assertEq(token.totalSupply(), supply, "nothing minted");
        _assertHoldsOpenFees();
    }

    function test_requestRound_marketOnly() public {
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnauthorized.selector, address(this)));
        pool.requestRound(LEASE, 0, uint64(block.timestamp), EXECUTOR, CUSTOMER, 5, 3);
    }

    function test_requestRound_rejectsBadCommittee() public {
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolBadCommittee.selector, 5, 2));
        market.request(LEASE, 0, uint64(block.timestamp), EXECUTOR, CUSTOMER, 5, 2);
    }

    function test_requestRound_oncePerEpoch() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRoundExists.selector, roundId));
        market.request(LEASE, 0, uint64(block.timestamp), EXECUTOR, CUSTOMER, 5, 3);
        // another epoch, and the same epoch of another lease (with its own terms), are separate rounds
        uint256 next = _request(LEASE, 1, 5, 3);
        uint256 other = _request(LEASE + 1, 0, 3, 2);
        assertTrue(next != roundId && other != roundId && other != next, "distinct ids");
        assertEq(pool.roundOf(LEASE + 1, 0), other, "other lease");
        assertEq(pool.round(other).size, 3, "its own size");
        assertEq(pool.round(other).majority, 2, "its own majority");
        // a finalized round still counts as requested until a later epoch takes its storage
        vm.warp(block.timestamp + 1000);
        pool.finalize(roundId); // cancelled: never drawn
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRoundExists.selector, roundId));
        market.request(LEASE, 0, uint64(block.timestamp), EXECUTOR, CUSTOMER, 5, 3);
        _assertHoldsOpenFees();
    }

    /// @notice Every round of a lease repeats the terms of its first request (they share one word).
    function test_requestRound_leaseTermsAreFixedByTheFirstRequest() public {
        _request(LEASE, 0, 5, 3);
        uint64 end = uint64(block.timestamp + 50);
        for (uint256 k = 0; k < 4; ++k) {
            vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolLeaseTermsChanged.selector, LEASE));
            market.request(
                LEASE,
                1,
                end,
                k == 0 ? EXECUTOR + 1 : EXECUTOR,
                k == 1 ? address(0xBEEF) : CUSTOMER,
                k == 2 ? 4 : 5,
                k == 3 ? 4 : 3
            );
        }
        uint256 roundId = _request(LEASE, 1, 5, 3);
        IWitnessPool.Round memory r = pool.round(roundId);
        assertEq(r.customer, CUSTOMER, "customer");
        assertEq(r.executorId, EXECUTOR, "executor");
        assertEq(r.size, 5, "size");
        assertEq(r.majority, 3, "majority");
    }

    /// @notice A round's storage is taken over two epochs later only once its round ended; epochs of a
    /// parity are requested in increasing order.
    function test_requestRound_storageOfTheSameParity() public {
        uint256 r0 = _request(LEASE, 0, 3, 2);
        uint256 r1 = _request(LEASE, 1, 3, 2);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRoundOpen.selector, r0));
        market.request(LEASE, 2, uint64(block.timestamp + 50), EXECUTOR, CUSTOMER, 3, 2);
        _draw(r0);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRoundOpen.selector, r0));
        market.request(LEASE, 4, uint64(block.timestamp + 50), EXECUTOR, CUSTOMER, 3, 2);
        _finalizeAfterReveals(r0);
        uint256 r4 = _request(LEASE, 4, 3, 2); // epoch 2 never requested: epoch 4 takes the storage
        assertEq(pool.roundOf(LEASE, 0), 0, "epoch 0's id names no round any more");
        assertEq(pool.roundOf(LEASE, 4), r4, "epoch 4");
        assertEq(pool.roundOf(LEASE, 1), r1, "the other parity untouched");
        vm.warp(block.timestamp + 1000);
        pool.finalize(r4); // cancelled
        uint256 r2 = _roundId(LEASE, 2);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolEpochOutOfOrder.selector, r2, r4));
        market.request(LEASE, 2, uint64(block.timestamp + 50), EXECUTOR, CUSTOMER, 3, 2);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRoundExists.selector, r4));
        market.request(LEASE, 4, uint64(block.timestamp + 50), EXECUTOR, CUSTOMER, 3, 2);
        _request(LEASE, 6, 3, 2);
        _assertHoldsOpenFees();
    }

    function test_requestRound_rejectsOutOfRangeValues() public {
        uint256 maxLease = pool.MAX_LEASE_ID();
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolLeaseIdTooLarge.selector, maxLease + 1));
        market.request(maxLease + 1, 0, uint64(block.timestamp), EXECUTOR, CUSTOMER, 3, 2);
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 64, uint256(1) << 64));
        market.request(LEASE, 0, uint64(block.timestamp), uint256(1) << 64, CUSTOMER, 3, 2);
        uint64 late = uint64(type(uint40).max) - 200 + 1;
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 40, uint256(late) + 200));
        market.request(LEASE, 0, late, EXECUTOR, CUSTOMER, 3, 2);
        uint256 maxEpoch = pool.MAX_EPOCH();
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolEpochTooLarge.selector, maxEpoch + 1));
        market.request(LEASE, uint32(maxEpoch + 1), uint64(block.timestamp), EXECUTOR, CUSTOMER, 3, 2);
        // the largest values are accepted
        uint256 roundId = market.request(maxLease, uint32(maxEpoch), late - 1, type(uint64).max, CUSTOMER, 3, 2);
        opened.push(roundId);
        assertEq(pool.roundOf(maxLease, uint32(maxEpoch)), roundId, "largest round");
        assertEq(pool.round(roundId).leaseId, maxLease, "lease decoded");
        assertEq(pool.round(roundId).epoch, maxEpoch, "epoch decoded");
        assertEq(pool.round(roundId).executorId, type(uint64).max, "executor");
        assertEq(pool.roundOf(maxLease + 1, 0), 0, "out of range lease has no round");
        // ids past the epoch range, of the largest lease or past it, name no round (and do not overflow)
        assertEq(pool.roundOf(maxLease, type(uint32).max), 0, "epoch 2^32 - 1");
        assertEq(pool.round(_roundId(maxLease, type(uint32).max)).leaseId, 0, "unknown");
        assertEq(uint256(pool.round(type(uint256).max).phase), 0, "largest id");
        assertEq(uint256(pool.round(0).phase), 0, "id zero");
        _assertHoldsOpenFees();
    }

    // ================================================================ drawCommittee

    function test_drawCommittee_waitsForTheSeedBlockAndDrawsOnce() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        uint64 seedBlock = pool.round(roundId).seedBlock;
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolSeedNotReady.selector, roundId, seedBlock));
        pool.drawCommittee(roundId);
        vm.roll(seedBlock);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolSeedNotReady.selector, roundId, seedBlock));
        pool.drawCommittee(roundId);
        address[] memory m = _draw(roundId);
        assertEq(m.length, 5, "size");
        address[] memory stored = pool.committee(roundId);
        for (uint256 i = 0; i < 5; ++i) {
            assertEq(stored[i], m[i], "stored committee");
            for (uint256 j = 0; j < i; ++j) assertTrue(m[i] != m[j], "distinct members");
        }
        assertEq(uint256(pool.round(roundId).phase), uint256(IWitnessPool.Phase.Drawn), "drawn");
        _expectWrongPhase(roundId, IWitnessPool.Phase.Drawn);
        pool.drawCommittee(roundId);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnknownRound.selector, 99));
        pool.drawCommittee(99);
    }

    function test_drawCommittee_commitDeadlineAfterEpochEndAndDrawTime() public {
        uint256 early = _request(LEASE, 0, 3, 2); // epoch ends in 50 s; drawn right away
        _draw(early);
        assertEq(pool.round(early).commitDeadline, pool.round(early).epochEnd + 100, "epoch end + commit window");
        assertEq(pool.revealDeadline(early), pool.round(early).epochEnd + 200, "reveal deadline");
        uint256 late = _request(LEASE, 1, 3, 2);
        vm.warp(block.timestamp + 500); // drawn after its epoch ended
        _draw(late);
        assertEq(pool.round(late).commitDeadline, block.timestamp + 100, "draw time + commit window");
    }

    function test_drawCommittee_fifteenMembersUseTwoWords() public {
        for (uint256 i = 0; i < 10; ++i) _addWitness();
        vm.roll(block.number + 1);
        uint256 roundId = _request(LEASE, 0, 15, 8);
        address[] memory m = _draw(roundId);
        IWitnessPool.Round memory r = pool.round(roundId);
        assertTrue(r.members[1] != 0, "second word used");
        address[] memory stored = pool.committee(roundId);
        for (uint256 i = 0; i < 15; ++i) {
            assertEq(stored[i], m[i], "stored committee");
            for (uint256 j = 0; j < i; ++j) assertTrue(m[i] != m[j], "distinct members");
        }
        // the 10th member (second word) can reveal
        _commit(roundId, m[9], OK, 0);
        vm.warp(r.commitDeadline > block.timestamp ? pool.round(roundId).commitDeadline : block.timestamp);
        vm.warp(pool.round(roundId).commitDeadline);
        _reveal(roundId, m[9], OK, 0);
        assertEq(pool.round(roundId).revealedMask, 1 << 9, "bit of the tenth member");
    }

    function test_drawCommittee_pivotBlockPast256() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        uint256 seedBlock = pool.round(roundId).seedBlock;
        vm.roll(seedBlock + 600);
        // pivot = seedBlock + 512: the youngest block congruent to the seed block mod 256
        vm.setBlockhash(seedBlock + 512, keccak256("pivot"));
        address[] memory a = pool.drawCommittee(roundId);
        assertEq(a.length, 5, "drawn from the pivot block");
    }

    function test_drawCommittee_unfilledThenCancelled() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        vm.roll(block.number + 1);
        for (uint256 i = 0; i < 3; ++i) registry.unlist(i + 1); // leave after the freeze: not drawable
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitteeUnfilled.selector, 4, 5));
        pool.drawCommittee(roundId);
        uint64 notBefore = pool.round(roundId).requestedAt + 1000;
        vm.warp(notBefore - 1);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolNotFinalizable.selector, roundId, notBefore));
        pool.finalize(roundId);
        vm.warp(notBefore);
        uint256 c0 = token.balanceOf(CUSTOMER);
        assertEq(uint256(pool.finalize(roundId)), uint256(NONE), "cancelled");
        assertEq(token.balanceOf(CUSTOMER) - c0, 5 * UNIT, "whole fee refunded");
        assertEq(uint256(pool.round(roundId).phase), uint256(IWitnessPool.Phase.Cancelled), "phase");
        _assertSettled(LEASE, 0, NONE, 0);
        _assertHoldsOpenFees();
        _expectWrongPhase(roundId, IWitnessPool.Phase.Cancelled);
        pool.drawCommittee(roundId);
        _expectWrongPhase(roundId, IWitnessPool.Phase.Cancelled);
        pool.commitVerdict(roundId, bytes32("c"));
        _expectWrongPhase(roundId, IWitnessPool.Phase.Cancelled);
        pool.finalize(roundId);
    }

    function test_drawCommittee_emptyListUnfilled() public {
        for (uint256 i = 1; i <= 7; ++i) registry.unlist(i);
        vm.roll(block.number + 1);
        uint256 roundId = _request(LEASE, 0, 3, 2);
        assertEq(pool.round(roundId).frozenCount, 0, "nobody eligible");
        vm.roll(block.number + 2);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitteeUnfilled.selector, 0, 3));
        pool.drawCommittee(roundId);
    }

    /// @notice Whatever the seed and whatever joins and leaves after the request, every member was
    /// eligible at the frozen block, is still listed, and appears once.
    function testFuzz_drawCommittee_onlyWitnessesEligibleAtTheFreeze(bytes32 seedHash, uint256 ops) public {
        for (uint256 i = 0; i < 5; ++i) _addWitness(); // 12 listed
        vm.roll(block.number + 1);
        uint256 roundId = _request(LEASE, 0, 5, 3);
        uint256 frozenBlock = block.number;
        vm.roll(block.number + 1);
        for (uint256 k = 0; k < 6; ++k) {
            uint256 op = (ops >> (k * 8)) & 0xff;
            if (op % 3 == 0) _addWitness();
            else registry.unlist(op % registry.witnessCount() + 1);
        }
        uint256 seedBlock = pool.round(roundId).seedBlock;
        vm.roll(seedBlock + 1);
        vm.setBlockhash(seedBlock, seedHash);
        address[] memory m;
        try pool.drawCommittee(roundId) returns (address[] memory drawn) {
            m = drawn;
        } catch {
            return; // too few of the frozen set still listed
        }
        for (uint256 i = 0; i < m.length; ++i) {
            uint256 id = registry.witnessIdOf(m[i]);
            assertTrue(registry.wasEligibleAt(id, frozenBlock), "eligible at the freeze");
            (,, uint32 listPosition,,) = registry.witnesses(id);
            assertTrue(listPosition != 0, "still listed");
            for (uint256 j = 0; j < i; ++j) assertTrue(m[i] != m[j], "distinct");
        }
    }

    // ================================================================ commitVerdict

    function test_commitVerdict_revertPaths() public {
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnknownRound.selector, 5));
        pool.commitVerdict(5, bytes32("c"));
        uint256 roundId = _request(LEASE, 0, 5, 3);
        _expectWrongPhase(roundId, IWitnessPool.Phase.Requested);
        pool.commitVerdict(roundId, bytes32("c"));
        _draw(roundId);
        vm.expectRevert(IWitnessPool.WitnessPoolZeroCommitment.selector);
        pool.commitVerdict(roundId, 0);
        uint64 deadline = pool.round(roundId).commitDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitClosed.selector, roundId, deadline));
        pool.commitVerdict(roundId, bytes32("c"));
        _finalizeAfterReveals(roundId);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitClosed.selector, roundId, deadline));
        pool.commitVerdict(roundId, bytes32("c")); // a finalized round's deadline has passed
        // another lease's id with the same epoch, and an epoch this lease never requested
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnknownRound.selector, _roundId(LEASE + 1, 0)));
        pool.commitVerdict(_roundId(LEASE + 1, 0), bytes32("c"));
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnknownRound.selector, _roundId(LEASE, 2)));
        pool.commitVerdict(_roundId(LEASE, 2), bytes32("c"));
    }

    function test_commitVerdict_replaceableUntilTheDeadline() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        _commit(roundId, m[0], FRAUD, 5);
        assertEq(pool.commitments(roundId, m[0]), pool.verdictCommitment(roundId, m[0], FRAUD, 5, _evidence(m[0]), _salt(m[0])), "stored");
        _commit(roundId, m[0], OK, 0);
        vm.warp(pool.round(roundId).commitDeadline);
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitmentMismatch.selector, roundId, m[0]));
        pool.revealVerdict(roundId, FRAUD, 5, _evidence(m[0]), _salt(m[0]));
        _reveal(roundId, m[0], OK, 0);
    }

    function test_verdictCommitment_matchesTheDocumentedEncoding() public {
        uint256 roundId = _request(LEASE, 3, 5, 3);
        bytes32 expected = keccak256(
            abi.encode(block.chainid, address(pool), LEASE, roundId, address(0xAB), STALE, uint64(9), bytes32("ev"), bytes32("s"))
        );
        assertEq(pool.verdictCommitment(roundId, address(0xAB), STALE, 9, bytes32("ev"), bytes32("s")), expected, "encoding");
        vm.chainId(999);
        assertTrue(
            pool.verdictCommitment(roundId, address(0xAB), STALE, 9, bytes32("ev"), bytes32("s")) != expected, "bound to the chain"
        );
    }

    // ================================================================ revealVerdict

    function test_revealVerdict_revertPaths() public {
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnknownRound.selector, 5));
        pool.revealVerdict(5, OK, 0, 0, 0);
        uint256 roundId = _request(LEASE, 0, 5, 3);
        _expectWrongPhase(roundId, IWitnessPool.Phase.Requested);
        pool.revealVerdict(roundId, OK, 0, 0, 0);
        address[] memory m = _draw(roundId);
        _commit(roundId, m[0], FRAUD, 7);
        uint64 commitDeadline = pool.round(roundId).commitDeadline;
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRevealNotOpen.selector, roundId, commitDeadline));
        pool.revealVerdict(roundId, FRAUD, 7, _evidence(m[0]), _salt(m[0]));
        vm.warp(commitDeadline);
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolBadVerdict.selector, NONE));
        pool.revealVerdict(roundId, NONE, 7, _evidence(m[0]), _salt(m[0]));
        // neither a stranger nor a listed witness outside the committee
        address outsider;
        for (uint256 i = 0; i < accounts.length; ++i) {
            bool member;
            for (uint256 j = 0; j < m.length; ++j) member = member || accounts[i] == m[j];
            if (!member) outsider = accounts[i];
        }
        address[2] memory strangers = [CUSTOMER, outsider];
        for (uint256 k = 0; k < 2; ++k) {
            vm.prank(strangers[k]);
            vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolNotMember.selector, roundId, strangers[k]));
            pool.revealVerdict(roundId, FRAUD, 7, _evidence(m[0]), _salt(m[0]));
        }
        // the evidence hash, verdict and time are bound by the commitment
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitmentMismatch.selector, roundId, m[0]));
        pool.revealVerdict(roundId, FRAUD, 7, keccak256("other evidence"), _salt(m[0]));
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitmentMismatch.selector, roundId, m[0]));
        pool.revealVerdict(roundId, UNAVAILABLE, 7, _evidence(m[0]), _salt(m[0]));
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitmentMismatch.selector, roundId, m[0]));
        pool.revealVerdict(roundId, FRAUD, 8, _evidence(m[0]), _salt(m[0]));
        vm.prank(m[1]); // never committed
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitmentMismatch.selector, roundId, m[1]));
        pool.revealVerdict(roundId, OK, 0, _evidence(m[1]), _salt(m[1]));
        _reveal(roundId, m[0], FRAUD, 7);
        vm.prank(m[0]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolAlreadyRevealed.selector, roundId, m[0]));
        pool.revealVerdict(roundId, FRAUD, 7, _evidence(m[0]), _salt(m[0]));
        uint64 revealEnd = pool.revealDeadline(roundId);
        vm.warp(revealEnd);
        vm.prank(m[1]);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolRevealClosed.selector, roundId, revealEnd));
        pool.revealVerdict(roundId, OK, 0, _evidence(m[1]), _salt(m[1]));
        pool.finalize(roundId);
        vm.prank(m[1]);
        _expectWrongPhase(roundId, IWitnessPool.Phase.Finalized);
        pool.revealVerdict(roundId, OK, 0, _evidence(m[1]), _salt(m[1]));
    }

    function test_revealVerdict_countsAndSlots() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        _play(roundId, m, _v(FRAUD, UNAVAILABLE, STALE, OK, NONE), _times(11, 12, 13, 14, 15));
        IWitnessPool.Round memory r = pool.round(roundId);
        assertEq(r.revealedCount, 4, "revealed");
        assertEq(r.revealedMask, 0x0f, "revealed mask");
        assertEq(r.violatedMask, 0x03, "violated mask");
        assertEq(r.fraudCount, 1, "fraud");
        assertEq(r.unavailableCount, 1, "unavailable");
        assertEq(r.staleCount, 1, "stale");
        assertEq(pool.commitments(roundId, m[0]), bytes32(uint256(11)), "violation time kept");
        assertEq(pool.commitments(roundId, m[1]), bytes32(uint256(12)), "violation time kept");
        assertTrue(pool.commitments(roundId, m[2]) != 0, "stale marker");
        assertEq(pool.commitments(roundId, m[3]), 0, "ok clears");
    }

    // ================================================================ finalize

    function test_finalize_revertPaths() public {
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolUnknownRound.selector, 5));
        pool.finalize(5);
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        _play(roundId, m, _v(OK, OK, OK, OK, NONE), _zeroTimes(5));
        uint64 revealEnd = pool.revealDeadline(roundId);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolNotFinalizable.selector, roundId, revealEnd));
        pool.finalize(roundId);
        vm.warp(revealEnd);
        pool.finalize(roundId);
        _expectWrongPhase(roundId, IWitnessPool.Phase.Finalized);
        pool.finalize(roundId);
    }

    function test_finalize_okPaysEveryAgreeingMemberFromTheFee() public {
        uint256 roundId = _request(LEASE, 2, 5, 3);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        uint256 supply = token.totalSupply();
        uint256 c0 = token.balanceOf(CUSTOMER);
        _play(roundId, m, _v(OK, OK, OK, OK, OK), _zeroTimes(5));
        assertEq(uint256(pool.finalize(roundId)), uint256(OK), "all revealed: finalize early");
        for (uint256 i = 0; i < 5; ++i) assertEq(token.balanceOf(m[i]) - b0[i], UNIT, "+1 unit");
        assertEq(token.balanceOf(CUSTOMER), c0, "nothing left of the fee");
        assertEq(token.totalSupply(), supply, "nothing minted or burned");
        assertEq(registry.collateral(LEASE), COLLATERAL, "no slash");
        IWitnessPool.Round memory r = pool.round(roundId);
        assertEq(uint256(r.phase), uint256(IWitnessPool.Phase.Finalized), "phase");
        assertEq(uint256(r.verdict), uint256(OK), "verdict");
        _assertSettled(LEASE, 2, OK, 0);
        _assertHoldsOpenFees();
    }

    function test_finalize_okWithMixedReports() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        uint256 s3 = _stake(m[3]);
        uint256 s4 = _stake(m[4]);
        uint256 supply = token.totalSupply();
        uint256 c0 = token.balanceOf(CUSTOMER);
        _play(roundId, m, _v(OK, OK, OK, STALE, FRAUD), _times(0, 0, 0, 0, 42));
        assertEq(uint256(pool.finalize(roundId)), uint256(OK), "ok");
        for (uint256 i = 0; i < 3; ++i) assertEq(token.balanceOf(m[i]) - b0[i], UNIT, "ok reporters paid");
        assertEq(token.balanceOf(m[3]), b0[3], "stale reporter: nothing");
        assertEq(_stake(m[3]), s3, "stale reporter keeps its stake");
        assertEq(s4 - _stake(m[4]), UNIT, "false violation: -1 unit of stake");
        assertEq(token.balanceOf(CUSTOMER) - c0, 2 * UNIT, "rest of the fee back");
        assertEq(supply - token.totalSupply(), UNIT, "penalty burned");
        assertEq(registry.collateral(LEASE), COLLATERAL, "no slash");
        assertEq(pool.commitments(roundId, m[3]), 0, "stale slot cleared");
        assertEq(pool.commitments(roundId, m[4]), bytes32(uint256(42)), "violation time kept (read only on a violation)");
        _assertSettled(LEASE, 0, OK, 0);
        _assertHoldsOpenFees();
    }

    function test_finalize_stalePaysStaleReportersAndNeverSlashes() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        uint256 s4 = _stake(m[4]);
        uint256 supply = token.totalSupply();
        uint256 c0 = token.balanceOf(CUSTOMER);
        _play(roundId, m, _v(STALE, STALE, STALE, OK, NONE), _zeroTimes(5));
        assertEq(uint256(_finalizeAfterReveals(roundId)), uint256(STALE), "stale");
        for (uint256 i = 0; i < 3; ++i) assertEq(token.balanceOf(m[i]) - b0[i], UNIT, "stale reporters paid");
        assertEq(token.balanceOf(m[3]), b0[3], "ok reporter: nothing");
        assertEq(s4 - _stake(m[4]), 2 * UNIT, "no reveal: -2 units");
        assertEq(_reputation(m[4]), 2, "no reveal: reputation");
        assertEq(token.balanceOf(CUSTOMER) - c0, 2 * UNIT, "rest of the fee back");
        assertEq(supply - token.totalSupply(), 2 * UNIT, "penalty burned");
        assertEq(registry.collateral(LEASE), COLLATERAL, "stale never slashes");
        _assertSettled(LEASE, 0, STALE, 0);
        _assertHoldsOpenFees();
    }

    function test_finalize_allStaleWithoutReadingSlots() public {
        uint256 roundId = _request(LEASE, 0, 3, 2);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        IWitnessPool.Verdict[] memory v = new IWitnessPool.Verdict[](3);
        (v[0], v[1], v[2]) = (STALE, STALE, FRAUD);
        _play(roundId, m, v, _zeroTimes(3));
        assertEq(uint256(pool.finalize(roundId)), uint256(STALE), "stale");
        for (uint256 i = 0; i < 2; ++i) assertEq(token.balanceOf(m[i]) - b0[i], UNIT, "stale reporters paid");
        assertEq(token.balanceOf(m[2]), b0[2], "violation reporter: nothing");
        _assertHoldsOpenFees();
    }

    function test_finalize_okPaysNothingToAStaleMinority() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        uint256 c0 = token.balanceOf(CUSTOMER);
        _play(roundId, m, _v(STALE, STALE, FRAUD, NONE, NONE), _times(0, 0, 8, 0, 0));
        assertEq(uint256(_finalizeAfterReveals(roundId)), uint256(OK), "ok: no majority for anything");
        for (uint256 i = 0; i < 5; ++i) assertEq(token.balanceOf(m[i]), b0[i], "nobody agrees with Ok");
        assertEq(token.balanceOf(CUSTOMER) - c0, 5 * UNIT, "whole fee back");
        _assertSettled(LEASE, 0, OK, 0);
        _assertHoldsOpenFees();
    }

    function test_finalize_nobodyRevealsIsOkAndRefundsTheFee() public {
        uint256 roundId = _request(LEASE, 0, 3, 2);
        address[] memory m = _draw(roundId);
        uint256 c0 = token.balanceOf(CUSTOMER);
        uint256 supply = token.totalSupply();
        vm.warp(pool.revealDeadline(roundId));
        assertEq(uint256(pool.finalize(roundId)), uint256(OK), "ok by default");
        for (uint256 i = 0; i < 3; ++i) {
            assertEq(_stake(m[i]), MIN_STAKE - 2 * UNIT, "-2 units");
            assertEq(_reputation(m[i]), 2, "reputation");
        }
        assertEq(token.balanceOf(CUSTOMER) - c0, 3 * UNIT, "whole fee back");
        assertEq(supply - token.totalSupply(), 6 * UNIT, "penalties burned");
        _assertHoldsOpenFees();
    }

    function test_finalize_fraudSlashesAndSplits() public {
        uint256 roundId = _request(LEASE, 1, 5, 3);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        uint256 supply = token.totalSupply();
        uint256 c0 = token.balanceOf(CUSTOMER);
        _play(roundId, m, _v(FRAUD, OK, FRAUD, FRAUD, OK), _times(300, 0, 100, 200, 0));
        assertEq(uint256(pool.finalize(roundId)), uint256(FRAUD), "fraud");
        uint256 slashed = COLLATERAL / 2;
        uint256 perReporter = slashed / 4 / 3;
        uint256 burned = slashed - slashed / 2 - 3 * perReporter;
        for (uint256 i = 0; i < 5; ++i) {
            uint256 expected = i == 1 || i == 4 ? 0 : UNIT + perReporter;
            assertEq(token.balanceOf(m[i]) - b0[i], expected, "reporters: unit + share; others nothing");
        }
        assertEq(registry.collateral(LEASE), COLLATERAL - slashed, "collateral slashed");
        assertEq(token.balanceOf(CUSTOMER) - c0, slashed / 2 + 2 * UNIT, "customer share + rest of the fee");
        assertEq(supply - token.totalSupply(), burned, "rest of the slash burned");
        assertEq(pool.round(roundId).fraudCount, 3, "count");
        _assertSettled(LEASE, 1, FRAUD, 300); // 3rd smallest of {300, 100, 200}
        _assertHoldsOpenFees();
    }

    function test_finalize_unavailableWhenViolationsMixed() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        _play(roundId, m, _v(UNAVAILABLE, FRAUD, FRAUD, UNAVAILABLE, STALE), _times(50, 10, 40, 20, 0));
        assertEq(uint256(pool.finalize(roundId)), uint256(UNAVAILABLE), "unavailable");
        uint256 slashed = COLLATERAL / 2;
        uint256 perReporter = slashed / 4 / 4;
        for (uint256 i = 0; i < 4; ++i) assertEq(token.balanceOf(m[i]) - b0[i], UNIT + perReporter, "every violation report agrees");
        assertEq(token.balanceOf(m[4]), b0[4], "stale reporter: nothing");
        _assertSettled(LEASE, 0, UNAVAILABLE, 40); // 3rd smallest of {50, 10, 40, 20}
        _assertHoldsOpenFees();
    }

    function test_finalize_fraudBeforeUnavailable() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        _play(roundId, m, _v(FRAUD, FRAUD, FRAUD, UNAVAILABLE, UNAVAILABLE), _times(1, 2, 3, 4, 5));
        assertEq(uint256(pool.finalize(roundId)), uint256(FRAUD), "fraud majority wins");
        _assertSettled(LEASE, 0, FRAUD, 3);
    }

    function test_finalize_violationWithoutCollateralLeft() public {
        uint256 roundId = _request(LEASE + 5, 0, 3, 2); // no collateral locked for this lease
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        IWitnessPool.Verdict[] memory v = new IWitnessPool.Verdict[](3);
        (v[0], v[1], v[2]) = (FRAUD, FRAUD, OK);
        uint64[] memory t = new uint64[](3);
        (t[0], t[1]) = (9, 7);
        _play(roundId, m, v, t);
        assertEq(uint256(pool.finalize(roundId)), uint256(FRAUD), "fraud");
        for (uint256 i = 0; i < 2; ++i) assertEq(token.balanceOf(m[i]) - b0[i], UNIT, "unit, no share");
        _assertSettled(LEASE + 5, 0, FRAUD, 9);
        _assertHoldsOpenFees();
    }

    /// @notice A violation the market does not count (its lease ended before this round did) slashes
    /// nothing: the members are paid from the fee as for a counted violation, without a slash share, the
    /// customer gets the rest of the fee, and the market still hears the outcome and violation time.
    function test_finalize_uncountedViolationDoesNotSlash() public {
        market.setCounts(false);
        uint256 roundId = _request(LEASE, 1, 5, 3);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        uint256 s4 = _stake(m[4]);
        uint256 supply = token.totalSupply();
        uint256 c0 = token.balanceOf(CUSTOMER);
        _play(roundId, m, _v(UNAVAILABLE, UNAVAILABLE, FRAUD, OK, NONE), _times(30, 10, 20, 0, 0));
        assertEq(uint256(_finalizeAfterReveals(roundId)), uint256(UNAVAILABLE), "unavailable");
        assertEq(registry.collateral(LEASE), COLLATERAL, "collateral untouched");
        for (uint256 i = 0; i < 3; ++i) assertEq(token.balanceOf(m[i]) - b0[i], UNIT, "reporters: the unit, no share");
        assertEq(token.balanceOf(m[3]), b0[3], "ok reporter: nothing");
        assertEq(s4 - _stake(m[4]), 2 * UNIT, "no reveal: -2 units");
        assertEq(token.balanceOf(CUSTOMER) - c0, 2 * UNIT, "rest of the fee back, no slash share");
        assertEq(supply - token.totalSupply(), 2 * UNIT, "only the penalty burned");
        _assertSettled(LEASE, 1, UNAVAILABLE, 30);
        _assertHoldsOpenFees();
    }

    function test_finalize_cannotBeReenteredFromTheMarket() public {
        uint256 first = _request(LEASE, 0, 3, 2);
        uint256 second = _request(LEASE, 1, 3, 2);
        _draw(first);
        _draw(second);
        vm.warp(pool.revealDeadline(second));
        market.setReenter(second);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        pool.finalize(first);
    }

    /// @notice Payoffs for any mix of reports in a committee of 5: the outcome follows the rules, the
    /// pool keeps only open fees, nothing is minted, witness payouts stay within the fee plus their
    /// share of the slash, and every token is accounted for (paid, refunded or burned).
    struct Snapshot {
        uint256[] balances;
        uint256[] stakes;
        uint256 supply;
        uint256 customer;
        uint256 held; // pool + registry
    }

    function _snapshot(address[] memory m) internal view returns (Snapshot memory snap) {
        snap.balances = _balances(m);
        snap.stakes = new uint256[](m.length);
        for (uint256 i = 0; i < m.length; ++i) snap.stakes[i] = _stake(m[i]);
        snap.supply = token.totalSupply();
        snap.customer = token.balanceOf(CUSTOMER);
        snap.held = token.balanceOf(address(pool)) + token.balanceOf(address(registry));
    }

    /// @dev One member's reward and penalty for its report `v` against the outcome; returns the reward.
    function _checkMember(address w, IWitnessPool.Verdict v, IWitnessPool.Verdict outcome, uint256 share, Snapshot memory before, uint256 i)
        internal
        view
        returns (uint256 reward)
    {
        bool reportedViolation = v == FRAUD || v == UNAVAILABLE;
        bool violation = outcome == FRAUD || outcome == UNAVAILABLE;
        reward = (reportedViolation && violation) ? UNIT + share : (v == outcome && v != NONE) ? UNIT : 0;
        uint256 penalty = v == NONE ? 2 * UNIT : (reportedViolation && !violation) ? UNIT : 0;
        assertEq(token.balanceOf(w) - before.balances[i], reward, "member reward");
        assertEq(before.stakes[i] - _stake(w), penalty, "member penalty");
        assertEq(_reputation(w), v == NONE ? 2 : 3, "reputation lost only without a reveal");
    }

    function testFuzz_finalize_conservesTokens(uint256 pattern, uint256 timeSeed, bool withOpenRound) public {
        if (withOpenRound) _request(LEASE, 9, 5, 3); // another round's fee stays in the pool
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        IWitnessPool.Verdict[] memory v = new IWitnessPool.Verdict[](5);
        uint64[] memory t = new uint64[](5);
        for (uint256 i = 0; i < 5; ++i) {
            v[i] = IWitnessPool.Verdict((pattern >> (i * 8)) % 5);
            t[i] = uint64(uint256(keccak256(abi.encode(timeSeed, i))) % 1e9);
        }
        Snapshot memory before = _snapshot(m);
        _play(roundId, m, v, t);
        IWitnessPool.Verdict out = _finalizeAfterReveals(roundId);
        _checkPayoffs(m, v, out, before);
        _assertHoldsOpenFees();
    }

    /// @dev Checks the outcome rule, every member's reward and penalty, and token conservation.
    function _checkPayoffs(address[] memory m, IWitnessPool.Verdict[] memory v, IWitnessPool.Verdict out, Snapshot memory before)
        internal
        view
    {
        uint256[5] memory counts; // none, ok, fraud, unavailable, stale
        for (uint256 i = 0; i < 5; ++i) counts[uint256(v[i])] += 1;
        IWitnessPool.Verdict expected = counts[2] >= 3
            ? FRAUD
            : counts[2] + counts[3] >= 3 ? UNAVAILABLE : counts[4] >= 3 ? STALE : OK;
        assertEq(uint256(out), uint256(expected), "outcome rule");
        bool violation = expected == FRAUD || expected == UNAVAILABLE;
        uint256 slashed = COLLATERAL - registry.collateral(LEASE);
        assertEq(slashed, violation ? COLLATERAL / 2 : 0, "slash only on a violation");
        uint256 share = violation ? slashed / 4 / (counts[2] + counts[3]) : 0;
        uint256 paidToWitnesses;
        for (uint256 i = 0; i < 5; ++i) paidToWitnesses += _checkMember(m[i], v[i], expected, share, before, i);
        assertLe(paidToWitnesses, 5 * UNIT + share * (counts[2] + counts[3]), "witnesses paid within the fee and their share");
        assertLe(token.totalSupply(), before.supply, "nothing minted");
        // everything that left the pool and registry is what witnesses and the customer got, plus the burn
        assertEq(
            before.held - token.balanceOf(address(pool)) - token.balanceOf(address(registry)),
            paidToWitnesses + (token.balanceOf(CUSTOMER) - before.customer) + (before.supply - token.totalSupply()),
            "conservation"
        );
    }

    function test_views_unknownRound() public view {
        IWitnessPool.Round memory r = pool.round(12345);
        assertEq(uint256(r.phase), 0, "no phase");
        assertEq(r.leaseId, 0, "no lease");
        assertEq(r.fee, 0, "no fee");
        assertEq(pool.revealDeadline(12345), 0, "no deadline");
        assertEq(pool.committee(12345).length, 0, "no committee");
        assertEq(pool.roundOf(LEASE, 0), 0, "no round requested");
        assertEq(pool.verdictCommitment(0, address(1), OK, 0, 0, 0) != 0 ? 1 : 0, 1, "defined for any id");
    }

    /// @notice The slash split for any collateral, shares and number of reporters: the customer gets
    /// exactly its share, every reporter the same share, the rest is burned, nothing is created.
    function testFuzz_finalize_slashSplit(uint256 collateral, uint16 slashBps, uint16 customerBps, uint16 witnessBps, uint8 reporters)
        public
    {
        WitnessPool.Params memory p = _params();
        p.providerSlashBps = uint16(bound(slashBps, 0, 10_000));
        p.customerShareBps = uint16(bound(customerBps, 0, 10_000));
        p.witnessShareBps = uint16(bound(witnessBps, 0, 10_000 - p.customerShareBps));
        _deploy(p, 7);
        collateral = bound(collateral, 0, 1e26);
        registry.lockCollateral(LEASE + 1, EXECUTOR, collateral);
        _checkSlashSplit(p, collateral, bound(reporters, 3, 5));
    }

    function _checkSlashSplit(WitnessPool.Params memory p, uint256 collateral, uint256 n) internal {
        uint256 roundId = _request(LEASE + 1, 0, 5, 3);
        address[] memory m = _draw(roundId);
        IWitnessPool.Verdict[] memory v = new IWitnessPool.Verdict[](5);
        for (uint256 i = 0; i < 5; ++i) v[i] = i < n ? UNAVAILABLE : OK;
        uint256[] memory b0 = _balances(m);
        uint256 supply = token.totalSupply();
        uint256 c0 = token.balanceOf(CUSTOMER);
        _play(roundId, m, v, _times(5, 4, 3, 2, 1));
        assertEq(uint256(pool.finalize(roundId)), uint256(UNAVAILABLE), "unavailable");
        uint256 slashed = collateral * p.providerSlashBps / 10_000;
        uint256 toCustomer = slashed * p.customerShareBps / 10_000;
        uint256 perReporter = slashed * p.witnessShareBps / 10_000 / n;
        assertEq(registry.collateral(LEASE + 1), collateral - slashed, "slashed from the lease collateral");
        assertEq(token.balanceOf(CUSTOMER) - c0, toCustomer + (5 - n) * UNIT, "customer share + rest of the fee");
        for (uint256 i = 0; i < 5; ++i) {
            assertEq(token.balanceOf(m[i]) - b0[i], i < n ? UNIT + perReporter : 0, "equal reporter shares");
        }
        assertEq(supply - token.totalSupply(), slashed - toCustomer - perReporter * n, "rest burned");
        _assertSettled(LEASE + 1, 0, UNAVAILABLE, n == 3 ? 5 : n == 4 ? 4 : 3); // 3rd smallest of the first n of {5, 4, 3, 2, 1}
        _assertHoldsOpenFees();
    }

    /// @notice Rounds of several leases open at once, settled in any order, some cancelled: after every
    /// step the pool holds exactly the fees of the rounds still open and the supply never rises.
    function testFuzz_interleavedRoundsHoldOnlyOpenFees(uint256 seed) public {
        for (uint256 i = 0; i < 5; ++i) _addWitness(); // 12 listed: four committees of 3 never deplete it
        vm.roll(block.number + 1);
        uint256[4] memory ids;
        for (uint256 k = 0; k < 4; ++k) ids[k] = _request(LEASE + k, uint32(k), 3, 2);
        _assertHoldsOpenFees();
        uint256 supply = token.totalSupply();
        uint256 cancelled = seed % 4; // this one is never drawn
        for (uint256 k = 0; k < 4; ++k) {
            if (k != cancelled) _draw(ids[k]);
        }
        _assertHoldsOpenFees();
        for (uint256 step = 0; step < 4; ++step) {
            uint256 k = (seed >> 8) % 4 + step;
            uint256 roundId = ids[k % 4];
            if (k % 4 == cancelled) {
                vm.warp(uint256(pool.round(roundId).requestedAt) + 1000 > block.timestamp
                    ? uint256(pool.round(roundId).requestedAt) + 1000
                    : block.timestamp);
                pool.finalize(roundId);
            } else {
                address[] memory m = pool.committee(roundId);
                IWitnessPool.Verdict[] memory v = new IWitnessPool.Verdict[](3);
                for (uint256 i = 0; i < 3; ++i) v[i] = IWitnessPool.Verdict((seed >> (16 + step * 8 + i * 2)) % 5);
                if (block.timestamp < pool.round(roundId).commitDeadline) {
                    _play(roundId, m, v, _zeroTimes(3));
                }
                if (block.timestamp < pool.revealDeadline(roundId)) vm.warp(pool.revealDeadline(roundId));
                pool.finalize(roundId);
            }
            assertLe(token.totalSupply(), supply, "supply never rises");
            supply = token.totalSupply();
            _assertHoldsOpenFees();
        }
    }

    // ================================================================ storage reuse

    /// @dev The outcome rule applied to one round's reports (`None` = no reveal).
    function _expectedOutcome(IWitnessPool.Verdict[] memory v, uint256 majority) internal pure returns (IWitnessPool.Verdict) {
        uint256[5] memory counts;
        for (uint256 i = 0; i < v.length; ++i) counts[uint256(v[i])] += 1;
        if (counts[2] >= majority) return FRAUD;
        if (counts[2] + counts[3] >= majority) return UNAVAILABLE;
        if (counts[4] >= majority) return STALE;
        return OK;
    }

    /// @dev A round just requested: nothing of the round that used its storage before shows.
    function _assertFresh(uint256 roundId) internal view {
        IWitnessPool.Round memory r = pool.round(roundId);
        assertEq(uint256(r.phase), uint256(IWitnessPool.Phase.Requested), "requested");
        assertEq(uint256(r.verdict), 0, "no verdict");
        assertEq(r.commitDeadline, 0, "no deadline");
        assertEq(r.revealedMask, 0, "no reveal");
        assertEq(r.violatedMask, 0, "no violation");
        assertEq(r.revealedCount + r.fraudCount + r.unavailableCount + r.staleCount, 0, "no count");
        assertEq(r.members[0], 0, "no members");
        assertEq(r.members[1], 0, "no members (second word)");
        assertEq(r.frozenBlock, block.number, "frozen now");
        assertEq(r.requestedAt, block.timestamp, "requested now");
        assertEq(pool.committee(roundId).length, 0, "no committee");
        assertEq(pool.revealDeadline(roundId), 0, "no reveal deadline");
    }

    /// @dev `roundId`'s storage now holds a later round: views report nothing and every call refuses it.
    function _assertGone(uint256 roundId, uint256 leaseId, uint32 epoch) internal {
        assertEq(pool.roundOf(leaseId, epoch), 0, "roundOf: none");
        IWitnessPool.Round memory r = pool.round(roundId);
        assertEq(uint256(r.phase), 0, "round: unknown");
        assertEq(r.leaseId + r.epoch + r.fee + r.commitDeadline, 0, "round: empty");
        assertEq(pool.committee(roundId).length, 0, "committee: none");
        assertEq(pool.revealDeadline(roundId), 0, "revealDeadline: none");
        bytes memory unknown = abi.encodeWithSelector(IWitnessPool.WitnessPoolUnknownRound.selector, roundId);
        vm.expectRevert(unknown);
        pool.drawCommittee(roundId);
        vm.expectRevert(unknown);
        pool.commitVerdict(roundId, bytes32("c"));
        vm.prank(accounts[0]);
        vm.expectRevert(unknown);
        pool.revealVerdict(roundId, OK, 0, 0, 0);
        vm.expectRevert(unknown);
        pool.finalize(roundId);
    }

    function _pattern(uint256 e) internal pure returns (IWitnessPool.Verdict[] memory) {
        uint256 k = e % 5;
        if (k == 0) return _v(FRAUD, FRAUD, FRAUD, OK, NONE);
        if (k == 1) return _v(OK, OK, OK, OK, OK);
        if (k == 2) return _v(STALE, STALE, STALE, OK, UNAVAILABLE);
        if (k == 3) return _v(UNAVAILABLE, NONE, OK, OK, STALE);
        return _v(UNAVAILABLE, UNAVAILABLE, FRAUD, STALE, OK);
    }

    /// @notice Twelve epochs of one lease played as the market runs them (epoch e requested and drawn
    /// while epoch e - 1 is in its commit window, which is finalized before epoch e + 1 is requested),
    /// with committees of 5 out of 7 witnesses so the same witnesses sit in the same storage again.
    /// Every request starts from a clean round, every outcome follows that round's reports only, every
    /// member can reveal again, and the id of epoch e - 2 names no round any more.
    function test_reuse_manyEpochsLeaveNothingBehind() public {
        for (uint256 i = 1; i <= 7; ++i) registry.rejoin(i, 10 * MIN_STAKE); // penalties never unlist
        uint256 previous;
        address[] memory previousMembers;
        for (uint32 e = 0; e < 12; ++e) {
            if (e >= 1) vm.warp(pool.round(previous).commitDeadline); // epoch e starts
            uint256 roundId = _request(LEASE, e, 5, 3);
            assertEq(roundId, _roundId(LEASE, e), "id from lease and epoch");
            assertEq(pool.roundOf(LEASE, e), roundId, "roundOf");
            _assertFresh(roundId);
            if (e >= 2) _assertGone(_roundId(LEASE, e - 2), LEASE, e - 2);
            address[] memory m = _draw(roundId);
            address[] memory stored = pool.committee(roundId);
            for (uint256 i = 0; i < 5; ++i) assertEq(stored[i], m[i], "this round's committee");
            if (e >= 1) {
                // the previous round committed while this epoch began: reveal and finalize it
                IWitnessPool.Verdict[] memory v = _pattern(e - 1);
                uint256 revealed;
                for (uint256 i = 0; i < 5; ++i) {
                    if (v[i] == NONE) continue;
                    _reveal(previous, previousMembers[i], v[i], uint64(1000 + i));
                    ++revealed;
                }
                vm.warp(pool.revealDeadline(previous));
                IWitnessPool.Verdict expected = _expectedOutcome(v, 3);
                assertEq(uint256(pool.finalize(previous)), uint256(expected), "outcome of this round's reports");
                IWitnessPool.Round memory r = pool.round(previous);
                assertEq(uint256(r.verdict), uint256(expected), "verdict view");
                assertEq(r.revealedCount, revealed, "this round's reveals only");
                // the reporters' times are 1000 + their index, so the 3rd smallest is the 3rd reporter's
                uint64 t;
                if (expected == FRAUD || expected == UNAVAILABLE) {
                    for ((uint256 i, uint256 n) = (0, 0); n < 3; ++i) {
                        if (v[i] == FRAUD || v[i] == UNAVAILABLE) (n, t) = (n + 1, uint64(1000 + i));
                    }
                }
                _assertSettled(LEASE, e - 1, expected, t);
            }
            IWitnessPool.Verdict[] memory mine = _pattern(e);
            for (uint256 i = 0; i < 5; ++i) _commit(roundId, m[i], mine[i] == NONE ? OK : mine[i], uint64(1000 + i));
            _assertHoldsOpenFees();
            (previous, previousMembers) = (roundId, m);
        }
        assertEq(market.last().count, 11, "eleven rounds settled");
    }

    /// @notice A round cancelled before its draw, then the next round of its parity drawn and played;
    /// then a round requested over a drawn one and cancelled: a cancelled round never shows the
    /// committee left in its storage, and the drawn one shows only its own.
    function test_reuse_cancelledThenDrawnThenCancelled() public {
        uint256 r0 = _request(LEASE, 0, 5, 3);
        vm.warp(block.timestamp + 1000);
        assertEq(uint256(pool.finalize(r0)), uint256(NONE), "cancelled");
        _assertSettled(LEASE, 0, NONE, 0);
        uint256 r2 = _request(LEASE, 2, 5, 3);
        _assertFresh(r2);
        _assertGone(r0, LEASE, 0);
        address[] memory m = _draw(r2);
        _play(r2, m, _v(FRAUD, FRAUD, FRAUD, OK, OK), _times(7, 8, 9, 0, 0));
        assertEq(uint256(pool.finalize(r2)), uint256(FRAUD), "fraud");
        IWitnessPool.Round memory drawn = pool.round(r2);
        assertTrue(drawn.members[0] != 0, "drawn members kept for the view");
        uint256 r4 = _request(LEASE, 4, 5, 3);
        _assertFresh(r4); // the words still hold round 2's members, the view does not show them
        _assertGone(r2, LEASE, 2);
        vm.warp(block.timestamp + 1000);
        uint256 c0 = token.balanceOf(CUSTOMER);
        assertEq(uint256(pool.finalize(r4)), uint256(NONE), "cancelled");
        assertEq(token.balanceOf(CUSTOMER) - c0, 5 * UNIT, "fee back");
        IWitnessPool.Round memory cancelled = pool.round(r4);
        assertEq(uint256(cancelled.phase), uint256(IWitnessPool.Phase.Cancelled), "phase");
        assertEq(uint256(cancelled.verdict), 0, "no verdict");
        assertEq(cancelled.members[0], 0, "no members");
        assertEq(pool.committee(r4).length, 0, "no committee");
        // a member of round 2 cannot use the cancelled round
        vm.prank(m[0]);
        _expectWrongPhase(r4, IWitnessPool.Phase.Cancelled);
        pool.revealVerdict(r4, FRAUD, 7, _evidence(m[0]), _salt(m[0]));
        uint256 r6 = _request(LEASE, 6, 5, 3);
        _assertFresh(r6);
        address[] memory m6 = _draw(r6);
        _play(r6, m6, _v(OK, OK, OK, OK, OK), _zeroTimes(5));
        assertEq(uint256(pool.finalize(r6)), uint256(OK), "ok: nothing of round 2's fraud");
        _assertHoldsOpenFees();
    }

    /// @notice Committees of 15 (two member words) in the same storage three times: each committee is
    /// exactly the one drawn, and each member of the latest can reveal.
    function test_reuse_fifteenMembersRewriteBothWords() public {
        for (uint256 i = 0; i < 10; ++i) _addWitness();
        vm.roll(block.number + 1);
        for (uint32 e = 0; e < 6; e += 2) {
            uint256 roundId = _request(LEASE, e, 15, 8);
            _assertFresh(roundId);
            address[] memory m = _draw(roundId);
            address[] memory stored = pool.committee(roundId);
            for (uint256 i = 0; i < 15; ++i) assertEq(stored[i], m[i], "this round's committee");
            IWitnessPool.Round memory r = pool.round(roundId);
            for (uint256 i = 0; i < 15; ++i) {
                uint256 id = (r.members[i >> 3] >> ((i & 7) * 32)) & type(uint32).max;
                assertEq(id, registry.witnessIdOf(m[i]), "packed id");
            }
            IWitnessPool.Verdict[] memory v = new IWitnessPool.Verdict[](15);
            for (uint256 i = 0; i < 15; ++i) v[i] = OK;
            _play(roundId, m, v, _zeroTimes(15));
            assertEq(uint256(pool.finalize(roundId)), uint256(OK), "all revealed");
            assertEq(pool.round(roundId).revealedCount, 15, "fifteen");
        }
    }

    // model of testFuzz_reuse_interleavedLeases: what every requested (lease, epoch) should show
    mapping(uint256 leaseId => mapping(uint32 epoch => IWitnessPool.Phase)) internal _modelPhase;
    mapping(uint256 leaseId => mapping(uint32 epoch => uint256)) internal _modelReveals;
    mapping(uint256 leaseId => mapping(uint256 parity => uint32)) internal _modelLatest; // epoch + 1
    mapping(uint256 leaseId => uint32) internal _modelNext;

    /// @notice Three leases whose rounds are requested (sometimes skipping an epoch), drawn, played,
    /// finalized and cancelled in any interleaving. Against a model: a request over an open round of the
    /// same storage is refused; every id is known exactly while its storage holds it, with that round's
    /// own phase, reveals and committee; the pool holds exactly the fees of the open rounds.
    function testFuzz_reuse_interleavedLeases(uint256 seed) public {
        for (uint256 i = 0; i < 5; ++i) _addWitness();
        for (uint256 i = 1; i <= 12; ++i) registry.rejoin(i, 10 * MIN_STAKE);
        vm.roll(block.number + 1);
        for (uint256 step = 0; step < 40; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            uint256 leaseId = LEASE + r % 3;
            uint256 op = (r >> 8) % 4;
            if (op == 0) _fuzzRequest(leaseId, r >> 16);
            else _fuzzAdvance(leaseId, op, r >> 16);
            _checkModel();
        }
    }

    function _fuzzRequest(uint256 leaseId, uint256 r) internal {
        uint32 epoch = _modelNext[leaseId] + uint32(r % 2); // sometimes an epoch is skipped
        uint32 latest = _modelLatest[leaseId][epoch & 1];
        if (latest != 0) {
            IWitnessPool.Phase ph = _modelPhase[leaseId][latest - 1];
            if (ph == IWitnessPool.Phase.Requested || ph == IWitnessPool.Phase.Drawn) {
                vm.expectRevert(
                    abi.encodeWithSelector(IWitnessPool.WitnessPoolRoundOpen.selector, _roundId(leaseId, latest - 1))
                );
                market.request(leaseId, epoch, uint64(block.timestamp + 50), EXECUTOR, CUSTOMER, 3, 2);
                return;
            }
        }
        _request(leaseId, epoch, 3, 2);
        _modelPhase[leaseId][epoch] = IWitnessPool.Phase.Requested;
        _modelLatest[leaseId][epoch & 1] = epoch + 1;
        _modelNext[leaseId] = epoch + 1;
    }

    /// @dev op 1: draw, op 2: play and finalize, op 3: cancel, on one of the lease's open rounds.
    function _fuzzAdvance(uint256 leaseId, uint256 op, uint256 r) internal {
        for (uint256 k = 0; k < 2; ++k) {
            uint32 latest = _modelLatest[leaseId][(r + k) & 1];
            if (latest == 0) continue;
            uint32 epoch = latest - 1;
            uint256 roundId = _roundId(leaseId, epoch);
            IWitnessPool.Phase ph = _modelPhase[leaseId][epoch];
            if (op == 1 && ph == IWitnessPool.Phase.Requested) {
                vm.roll(uint256(pool.round(roundId).seedBlock) + 1);
                try pool.drawCommittee(roundId) {
                    _modelPhase[leaseId][epoch] = IWitnessPool.Phase.Drawn;
                } catch {}
                return;
            }
            if (op == 2 && ph == IWitnessPool.Phase.Drawn) {
                _fuzzPlay(roundId, r >> 8);
                _modelPhase[leaseId][epoch] = IWitnessPool.Phase.Finalized;
                return;
            }
            if (op == 3 && ph == IWitnessPool.Phase.Requested) {
                uint256 notBefore = uint256(pool.round(roundId).requestedAt) + 1000;
                if (block.timestamp < notBefore) vm.warp(notBefore);
                assertEq(uint256(pool.finalize(roundId)), uint256(NONE), "cancelled");
                _modelPhase[leaseId][epoch] = IWitnessPool.Phase.Cancelled;
                return;
            }
        }
    }

    /// @dev Every member reports (any verdict but None) while the commit window is open; then finalize.
    function _fuzzPlay(uint256 roundId, uint256 r) internal {
        address[] memory m = pool.committee(roundId);
        uint256 reveals;
        if (block.timestamp < pool.round(roundId).commitDeadline) {
            IWitnessPool.Verdict[] memory v = new IWitnessPool.Verdict[](m.length);
            for (uint256 i = 0; i < m.length; ++i) v[i] = IWitnessPool.Verdict(1 + (r >> (2 * i)) % 4);
            _play(roundId, m, v, _zeroTimes(m.length));
            reveals = m.length;
        }
        uint64 end = pool.revealDeadline(roundId);
        if (reveals < m.length && block.timestamp < end) vm.warp(end);
        pool.finalize(roundId);
        _modelReveals[_leaseOfId(roundId)][uint32(roundId - 1)] = reveals;
    }

    function _leaseOfId(uint256 roundId) internal pure returns (uint256) {
        return (roundId - 1) >> 32;
    }

    function _checkModel() internal view {
        uint256 open;
        for (uint256 leaseId = LEASE; leaseId < LEASE + 3; ++leaseId) {
            for (uint32 e = 0; e < _modelNext[leaseId]; ++e) {
                IWitnessPool.Phase ph = _modelPhase[leaseId][e];
                if (ph == IWitnessPool.Phase.None) continue; // skipped epoch
                uint256 roundId = _roundId(leaseId, e);
                IWitnessPool.Round memory r = pool.round(roundId);
                if (_modelLatest[leaseId][e & 1] != e + 1) {
                    assertEq(uint256(r.phase), 0, "overwritten: unknown");
                    assertEq(pool.roundOf(leaseId, e), 0, "overwritten: no roundOf");
                    assertEq(pool.committee(roundId).length, 0, "overwritten: no committee");
                    continue;
                }
                assertEq(pool.roundOf(leaseId, e), roundId, "known");
                assertEq(uint256(r.phase), uint256(ph), "phase");
                assertEq(r.epoch, e, "epoch");
                bool drawn = ph == IWitnessPool.Phase.Drawn || ph == IWitnessPool.Phase.Finalized;
                assertEq(pool.committee(roundId).length, drawn ? 3 : 0, "committee only once drawn");
                assertEq(r.members[0] == 0 ? 0 : 1, drawn ? 1 : 0, "members only once drawn");
                uint256 expectedReveals = ph == IWitnessPool.Phase.Finalized ? _modelReveals[leaseId][e] : 0;
                assertEq(r.revealedCount, expectedReveals, "this round's reveals");
                if (ph != IWitnessPool.Phase.Finalized) assertEq(uint256(r.verdict), 0, "no verdict before finalize");
                if (ph == IWitnessPool.Phase.Requested || ph == IWitnessPool.Phase.Drawn) open += 3 * UNIT;
            }
        }
        assertEq(token.balanceOf(address(pool)), open, "pool holds the open rounds' fees");
    }

    // ================================================================ attacks

    /// @notice Attack: one party is the customer and every witness of its own lease. Under minted
    /// rewards each Ok round paid it `size * rewardUnit` of new tokens, without bound. Now rewards come
    /// from the fee it paid itself: over rounds with any reports (all agreeing, mixed, or with silent
    /// members) it never ends with more than it started, nothing is minted, and total supply never rises.
    function test_attack_selfDealingRoundsGainNothing(uint256 patterns) public {
        // only the party's 5 witnesses are listed
        registry.unlist(6);
        registry.unlist(7);
        vm.roll(block.number + 1);
        address[] memory party = new address[](5);
        for (uint256 i = 0; i < 5; ++i) {
            party[i] = accounts[i];
            registry.rejoin(i + 1, MIN_STAKE); // room for penalties without dropping out
        }
        uint256 wealth0 = _partyWealth(party);
        uint256 supply = token.totalSupply();
        for (uint32 epoch = 0; epoch < 4; ++epoch) {
            uint256 roundId = _request(LEASE, epoch, 5, 3);
            address[] memory m = _draw(roundId);
            IWitnessPool.Verdict[] memory v = new IWitnessPool.Verdict[](5);
            for (uint256 i = 0; i < 5; ++i) {
                uint256 x = (patterns >> (epoch * 40 + i * 8)) & 0xff;
                v[i] = x % 3 == 0 ? NONE : x % 3 == 1 ? OK : STALE; // no violation: nothing to slash
            }
            if (epoch == 0) v = _v(OK, OK, OK, OK, OK);
            _play(roundId, m, v, _zeroTimes(5));
            _finalizeAfterReveals(roundId);
            assertLe(token.totalSupply(), supply, "supply never increases");
            supply = token.totalSupply();
            assertLe(_partyWealth(party), wealth0, "no gain from rounds");
            _assertHoldsOpenFees();
        }
        assertEq(market.last().count, 4, "every round settled");
    }

    /// @dev What the party holds: the customer's balance, the escrow it funded at the market, its
    /// witnesses' balances and stakes.
    function _partyWealth(address[] memory party) internal view returns (uint256 w) {
        w = token.balanceOf(CUSTOMER) + token.balanceOf(address(market));
        for (uint256 i = 0; i < party.length; ++i) w += token.balanceOf(party[i]) + _stake(party[i]);
    }

    /// @notice Attack: the same party, with its witnesses all reporting Fraud against an honest
    /// provider. What its witnesses are paid is bounded by the fee plus the witness share of the slash;
    /// nothing is minted and the customer's gain is bounded by its share of the slash.
    function test_attack_selfDealingViolationBoundedBySlashShares() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        uint256[] memory b0 = _balances(m);
        uint256 supply = token.totalSupply();
        uint256 c0 = token.balanceOf(CUSTOMER);
        _play(roundId, m, _v(FRAUD, FRAUD, FRAUD, FRAUD, FRAUD), _times(1, 1, 1, 1, 1));
        pool.finalize(roundId);
        uint256 slashed = COLLATERAL / 2;
        uint256 paid;
        for (uint256 i = 0; i < 5; ++i) paid += token.balanceOf(m[i]) - b0[i];
        assertLe(paid, 5 * UNIT + slashed * 2500 / 10_000, "witnesses: fee + witness share");
        assertLe(token.balanceOf(CUSTOMER) - c0, slashed * 5000 / 10_000, "customer: its share");
        assertLe(token.totalSupply(), supply, "nothing minted");
    }

    /// @notice Attack: a witness of the frozen set leaves after the request and re-joins before the
    /// draw. When leaving rewrote its eligibility interval it dropped out of the frozen set (and with
    /// exactly `size` eligible witnesses the round could not be drawn). Its history per block keeps it
    /// eligible at the frozen block, so it is drawn.
    function test_attack_leaveAndRejoinStaysDrawable() public {
        registry.unlist(6);
        registry.unlist(7);
        vm.roll(block.number + 1);
        uint256 roundId = _request(LEASE, 0, 5, 3); // exactly 5 eligible: every one must be drawn
        vm.roll(block.number + 1);
        registry.unlist(2);
        vm.roll(block.number + 1);
        registry.rejoin(2, MIN_STAKE);
        address[] memory m = _draw(roundId);
        bool drawn;
        for (uint256 i = 0; i < 5; ++i) drawn = drawn || m[i] == accounts[1];
        assertTrue(drawn, "the re-joined witness is drawn");
    }

    /// @notice Attack: a witness (say the provider's) joins after the request, once it can predict
    /// nothing yet but hopes to fill a seat. It is never drawn, not by the random draws nor by the
    /// fallback scan, even when a leave swaps it into a low position of the list.
    function test_attack_lateJoinerNeverDrawn(bytes32 seedHash) public {
        uint256 roundId = _request(LEASE, 0, 5, 3); // 7 eligible
        vm.roll(block.number + 1);
        address late1 = _addWitness(); // position 7
        address late2 = _addWitness(); // position 8
        registry.unlist(1); // late2 moves to position 0
        registry.unlist(3); // late1 moves to position 2
        registry.unlist(5);
        // 4 of the frozen 7 remain: the scan must run and still skip the late joiners
        uint256 seedBlock = pool.round(roundId).seedBlock;
        vm.roll(seedBlock + 1);
        vm.setBlockhash(seedBlock, seedHash);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitteeUnfilled.selector, 4, 5));
        pool.drawCommittee(roundId);
        registry.rejoin(5, MIN_STAKE); // back: eligible at the frozen block by its history
        address[] memory m = pool.drawCommittee(roundId);
        for (uint256 i = 0; i < 5; ++i) assertTrue(m[i] != late1 && m[i] != late2, "late joiner drawn");
    }

    /// @notice Attack: the provider empties the committee (its witnesses leave after the request) so
    /// the round cannot be drawn, hoping the epoch passes unchecked and is paid. The cancelled round
    /// reports `None`, on which the market refunds the epoch to the customer, and the fee goes back.
    function test_attack_cancelledRoundReportsNone() public {
        uint256 roundId = _request(LEASE, 4, 5, 3);
        vm.roll(block.number + 1);
        for (uint256 i = 1; i <= 5; ++i) registry.unlist(i);
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(IWitnessPool.WitnessPoolCommitteeUnfilled.selector, 2, 5));
        pool.drawCommittee(roundId);
        vm.warp(block.timestamp + 1000);
        uint256 c0 = token.balanceOf(CUSTOMER);
        assertEq(uint256(pool.finalize(roundId)), uint256(NONE), "cancelled");
        _assertSettled(LEASE, 4, NONE, 0);
        assertEq(token.balanceOf(CUSTOMER) - c0, 5 * UNIT, "fee back to the customer");
        assertEq(registry.collateral(LEASE), COLLATERAL, "no slash");
        _assertHoldsOpenFees();
    }

    /// @notice Attack: the customer's witnesses report Stale (a lease that only lags) hoping to slash
    /// the provider's collateral as for a violation. Stale never slashes, whatever the minority reports.
    function test_attack_staleNeverSlashes() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        _play(roundId, m, _v(STALE, STALE, STALE, FRAUD, UNAVAILABLE), _times(0, 0, 0, 5, 6));
        assertEq(uint256(pool.finalize(roundId)), uint256(STALE), "stale");
        assertEq(registry.collateral(LEASE), COLLATERAL, "collateral untouched");
        _assertSettled(LEASE, 0, STALE, 0);
    }

    /// @notice Attack: a witness reports a violation that the committee does not confirm, to grief the
    /// provider at no cost. It loses `rewardUnit` of stake (burned), gains nothing, and the provider's
    /// collateral is untouched.
    function test_attack_falseViolationLosesStake() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        uint256 b0 = token.balanceOf(m[0]);
        uint256 s0 = _stake(m[0]);
        uint256 supply = token.totalSupply();
        _play(roundId, m, _v(FRAUD, FRAUD, OK, OK, OK), _times(3, 3, 0, 0, 0));
        assertEq(uint256(pool.finalize(roundId)), uint256(OK), "ok");
        assertEq(s0 - _stake(m[0]), UNIT, "false report: -1 unit of stake");
        assertEq(token.balanceOf(m[0]), b0, "no reward");
        assertEq(supply - token.totalSupply(), 2 * UNIT, "both penalties burned");
        assertEq(registry.collateral(LEASE), COLLATERAL, "collateral untouched");
    }

    // ================================================================ gas (use --isolate for per-transaction numbers)

    /// @notice One N = 5 round, every call a separate transaction under `forge test --isolate`.
    function test_gas_roundN5() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        _play(roundId, m, _v(OK, OK, OK, OK, OK), _zeroTimes(5));
        pool.finalize(roundId);
    }

    function test_gas_roundN5Fraud() public {
        uint256 roundId = _request(LEASE, 0, 5, 3);
        address[] memory m = _draw(roundId);
        _play(roundId, m, _v(FRAUD, FRAUD, FRAUD, OK, NONE), _times(4, 5, 6, 0, 0));
        _finalizeAfterReveals(roundId);
    }
}
