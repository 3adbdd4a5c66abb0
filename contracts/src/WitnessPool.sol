// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IMarket} from "./interfaces/IMarket.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {IToken} from "./interfaces/IToken.sol";
import {IWitnessPool} from "./interfaces/IWitnessPool.sol";

/// @title WitnessPool
/// @notice See {IWitnessPool}.
contract WitnessPool is IWitnessPool, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_COMMITTEE = 15;
    /// @notice Random draws per seat before the bounded fallback scan of the frozen list.
    uint256 public constant ATTEMPTS_PER_SEAT = 4;
    uint256 private constant BPS = 10_000;

    /// @notice Wiring and parameters, fixed at deployment.
    struct Params {
        uint64 seedDelay; // blocks between request and the seed block
        uint64 commitWindow; // seconds
        uint64 revealWindow; // seconds
        uint64 drawTimeout; // seconds after request before an undrawn round can be cancelled
        uint128 rewardUnit; // token units per payoff unit
        uint16 reputationLoss; // reputation lost by a member that does not reveal
        uint16 providerSlashBps; // share of the executor's active stake slashed on Violated
        uint16 customerShareBps; // share of the slashed stake paid to the customer
        uint16 witnessShareBps; // share split between the members that reported Violated
    }

    IToken public immutable token;
    IRegistry public immutable registry;
    uint64 public immutable seedDelay;
    uint64 public immutable commitWindow;
    uint64 public immutable revealWindow;
    uint64 public immutable drawTimeout;
    uint128 public immutable rewardUnit;
    uint16 public immutable reputationLoss;
    uint16 public immutable providerSlashBps;
    uint16 public immutable customerShareBps;
    uint16 public immutable witnessShareBps;

    address private immutable _deployer;
    IMarket public market;
    uint256 public roundCount;

    mapping(uint256 roundId => Round) private _rounds;
    mapping(uint256 leaseId => uint256) public latestRoundOf;
    /// @dev Before reveal: the member's commitment. After: the violation time if it reported Violated, else zero.
    mapping(uint256 roundId => mapping(address witness => bytes32)) public commitments;

    constructor(IToken token_, IRegistry registry_, Params memory p) {
        if (uint256(p.customerShareBps) + p.witnessShareBps > BPS || p.providerSlashBps > BPS) {
            revert WitnessPoolBadCommittee(0, 0);
        }
        token = token_;
        registry = registry_;
        seedDelay = p.seedDelay == 0 ? 1 : p.seedDelay;
        commitWindow = p.commitWindow;
        revealWindow = p.revealWindow;
        drawTimeout = p.drawTimeout;
        rewardUnit = p.rewardUnit;
        reputationLoss = p.reputationLoss;
        providerSlashBps = p.providerSlashBps;
        customerShareBps = p.customerShareBps;
        witnessShareBps = p.witnessShareBps;
        _deployer = msg.sender;
    }

    /// @notice Fixes the market once (deployer only).
    function setMarket(IMarket market_) external {
        if (msg.sender != _deployer) revert WitnessPoolUnauthorized(msg.sender);
        if (address(market) != address(0)) revert WitnessPoolAlreadyWired();
        market = market_;
    }

    /// @inheritdoc IWitnessPool
    function validateCommittee(uint256 size, uint256 majority) public pure {
        if (size < 3 || size > MAX_COMMITTEE || majority * 2 <= size || majority > size - 1) {
            revert WitnessPoolBadCommittee(size, majority);
        }
    }

    /// @inheritdoc IWitnessPool
    function requestCommittee(uint256 leaseId, uint256 executorId, address customer, uint256 size, uint256 majority)
        external
        returns (uint256 roundId)
    {
        if (msg.sender != address(market)) revert WitnessPoolUnauthorized(msg.sender);
        validateCommittee(size, majority);
        roundId = ++roundCount;
        Round storage r = _rounds[roundId];
        r.leaseId = leaseId;
        r.customer = customer;
        r.executorId = uint64(executorId);
        r.size = uint8(size);
        r.majority = uint8(majority);
        r.phase = Phase.Requested;
        r.frozenBlock = uint40(block.number);
        r.seedBlock = uint40(block.number + seedDelay);
        r.frozenCount = uint32(registry.witnessCount());
        r.requestedAt = uint64(block.timestamp);
        latestRoundOf[leaseId] = roundId;
        emit CommitteeRequested(roundId, leaseId, r.seedBlock, r.frozenCount, uint8(size), uint8(majority));
    }

    /// @inheritdoc IWitnessPool
    function drawCommittee(uint256 roundId) external returns (address[] memory members) {
        Round storage r = _round(roundId);
        if (r.phase != Phase.Requested) revert WitnessPoolWrongPhase(roundId, r.phase);
        bytes32 seed = keccak256(abi.encode(_seedHash(roundId, r.seedBlock), block.chainid, address(this), roundId));
        uint256 size = r.size;
        uint256[2] memory packed;
        uint32[] memory ids;
        (ids, members) = _select(seed, size, r.frozenCount, r.frozenBlock);
        for (uint256 i = 0; i < size; ++i) {
            packed[i >> 3] |= uint256(ids[i]) << ((i & 7) * 32);
        }
        r.members[0] = packed[0];
        if (size > 8) r.members[1] = packed[1];
        r.phase = Phase.Drawn;
        uint64 commitDeadline = uint64(block.timestamp) + commitWindow;
        r.commitDeadline = commitDeadline;
        emit CommitteeDrawn(roundId, r.leaseId, members, seed, commitDeadline, commitDeadline + revealWindow);
    }

    /// @inheritdoc IWitnessPool
    function commitVerdict(uint256 roundId, bytes32 commitment) external {
        // commitDeadline is zero until the draw and in the past once a round can be finalized, so the
        // window check alone pins the phase (one cold slot less per commit).
        uint64 deadline = _rounds[roundId].commitDeadline;
        if (deadline == 0) revert WitnessPoolWrongPhase(roundId, _rounds[roundId].phase);
        if (block.timestamp >= deadline) revert WitnessPoolCommitClosed(roundId, deadline);
        if (commitment == bytes32(0)) revert WitnessPoolZeroCommitment();
        commitments[roundId][msg.sender] = commitment;
        emit VerdictCommitted(roundId, msg.sender, commitment);
    }

    /// @inheritdoc IWitnessPool
    function revealVerdict(uint256 roundId, Verdict verdict, uint64 violationTime, bytes32 salt) external {
        Round storage r = _rounds[roundId];
        if (r.phase != Phase.Drawn) revert WitnessPoolWrongPhase(roundId, r.phase);
        uint64 commitDeadline = r.commitDeadline;
        if (block.timestamp < commitDeadline) revert WitnessPoolRevealNotOpen(roundId, commitDeadline);
        if (block.timestamp >= commitDeadline + revealWindow) {
            revert WitnessPoolRevealClosed(roundId, commitDeadline + revealWindow);
        }
        if (verdict == Verdict.None) revert WitnessPoolBadVerdict(verdict);
        uint256 index = _memberIndex(r, roundId, registry.witnessIdOf(msg.sender));
        uint16 bit = uint16(1 << index);
        if (r.revealedMask & bit != 0) revert WitnessPoolAlreadyRevealed(roundId, msg.sender);
        bytes32 expected = verdictCommitment(roundId, msg.sender, verdict, violationTime, salt);
        if (commitments[roundId][msg.sender] != expected) revert WitnessPoolCommitmentMismatch(roundId, msg.sender);

        r.revealedMask |= bit;
        r.revealedCount += 1;
        if (verdict == Verdict.Violated) {
            // Only reported violations need their time later; other reveals clear the slot (refund).
            commitments[roundId][msg.sender] = bytes32(uint256(violationTime));
            r.violatedMask |= bit;
            r.violatedCount += 1;
        } else {
            delete commitments[roundId][msg.sender];
        }
        emit VerdictRevealed(roundId, msg.sender, verdict, violationTime);
    }

    /// @inheritdoc IWitnessPool
    function finalize(uint256 roundId) external nonReentrant returns (Verdict verdict) {
        Round storage r = _round(roundId);
        if (r.phase == Phase.Requested) {
            uint64 notBefore = r.requestedAt + drawTimeout;
            if (block.timestamp < notBefore) revert WitnessPoolNotFinalizable(roundId, notBefore);
            r.phase = Phase.Cancelled;
            emit RoundCancelled(roundId, r.leaseId);
            return Verdict.None;
        }
        if (r.phase != Phase.Drawn) revert WitnessPoolWrongPhase(roundId, r.phase);
        uint64 revealEnd = r.commitDeadline + revealWindow;
        if (block.timestamp < revealEnd && r.revealedCount < r.size) revert WitnessPoolNotFinalizable(roundId, revealEnd);
        verdict = r.violatedCount >= r.majority ? Verdict.Violated : Verdict.NotViolated;
        r.phase = Phase.Finalized;
        r.verdict = verdict;

        (address[] memory accounts, uint64[] memory times, uint256 burn) = _payMembers(r, roundId, verdict);
        uint64 violationTime;
        if (verdict == Verdict.Violated) {
            violationTime = _kthSmallest(times, r.majority);
            burn += _slashProvider(r, roundId, accounts, r.violatedMask);
        }
        emit RoundFinalized(roundId, r.leaseId, verdict, r.violatedCount, r.revealedCount, violationTime);
        if (burn > 0) token.burn(burn);
        if (verdict == Verdict.Violated) market.onViolation(r.leaseId, violationTime);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IWitnessPool
    function verdictCommitment(uint256 roundId, address witness, Verdict verdict, uint64 violationTime, bytes32 salt)
        public
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(block.chainid, address(this), _rounds[roundId].leaseId, roundId, witness, verdict, violationTime, salt)
        );
    }

    /// @inheritdoc IWitnessPool
    function round(uint256 roundId) external view returns (Round memory) {
        return _rounds[roundId];
    }

    /// @inheritdoc IWitnessPool
    function revealDeadline(uint256 roundId) external view returns (uint64) {
        uint64 c = _rounds[roundId].commitDeadline;
        return c == 0 ? 0 : c + revealWindow;
    }

    /// @inheritdoc IWitnessPool
    function committee(uint256 roundId) external view returns (address[] memory accounts) {
        Round storage r = _rounds[roundId];
        if (r.phase < Phase.Drawn || r.phase == Phase.Cancelled) return accounts;
        accounts = new address[](r.size);
        for (uint256 i = 0; i < r.size; ++i) {
            uint256 id = (r.members[i >> 3] >> ((i & 7) * 32)) & type(uint32).max;
            accounts[i] = registry.witnessAccount(id);
        }
    }

    /// @inheritdoc IWitnessPool
    function roundPending(uint256 leaseId) external view returns (bool) {
        uint256 id = latestRoundOf[leaseId];
        if (id == 0) return false;
        Phase p = _rounds[id].phase;
        return p == Phase.Requested || p == Phase.Drawn;
    }

    // ---------------------------------------------------------------- internals

    /// @dev The hash of the seed block while it is among the last 256; later, the hash of the pivot
    /// block `seedBlock + 256k` for the largest k that is still available. See docs/contracts.md.
    function _seedHash(uint256 roundId, uint40 seedBlock) private view returns (bytes32) {
        if (block.number <= seedBlock) revert WitnessPoolSeedNotReady(roundId, seedBlock);
        uint256 age = block.number - seedBlock;
        uint256 pivot = age <= 256 ? seedBlock : seedBlock + ((age - 1) / 256) * 256;
        return blockhash(pivot);
    }

    /// @dev Rejection sampling over the frozen list, then a scan bounded by Registry.MAX_WITNESSES.
    function _select(bytes32 seed, uint256 size, uint256 count, uint40 frozenBlock)
        private
        view
        returns (uint32[] memory ids, address[] memory accounts)
    {
        ids = new uint32[](size);
        accounts = new address[](size);
        uint256 found;
        if (count == 0) revert WitnessPoolCommitteeUnfilled(0, size);
        uint256 attempts = size * ATTEMPTS_PER_SEAT;
        for (uint256 a = 0; a < attempts && found < size; ++a) {
            uint256 id = uint256(keccak256(abi.encode(seed, a))) % count + 1;
            found = _tryAdd(ids, accounts, found, id, frozenBlock);
        }
        uint256 start = uint256(seed) % count;
        for (uint256 j = 0; j < count && found < size; ++j) {
            found = _tryAdd(ids, accounts, found, (start + j) % count + 1, frozenBlock);
        }
        if (found < size) revert WitnessPoolCommitteeUnfilled(found, size);
    }

    function _tryAdd(uint32[] memory ids, address[] memory accounts, uint256 found, uint256 id, uint40 frozenBlock)
        private
        view
        returns (uint256)
    {
        for (uint256 k = 0; k < found; ++k) {
            if (ids[k] == id) return found;
        }
        address account = registry.witnessAccountIfEligibleAt(id, frozenBlock);
        if (account == address(0)) return found;
        ids[found] = uint32(id);
        accounts[found] = account;
        return found + 1;
    }

    function _memberIndex(Round storage r, uint256 roundId, uint256 id) private view returns (uint256) {
        if (id != 0) {
            uint256 size = r.size;
            uint256 word = r.members[0];
            for (uint256 i = 0; i < size; ++i) {
                if (i == 8) word = r.members[1];
                if ((word >> ((i & 7) * 32)) & type(uint32).max == id) return i;
            }
        }
        revert WitnessPoolNotMember(roundId, msg.sender);
    }

    /// @dev Applies the payoff table to every member (at most MAX_COMMITTEE).
    function _payMembers(Round storage r, uint256 roundId, Verdict verdict)
        private
        returns (address[] memory accounts, uint64[] memory times, uint256 burn)
    {
        uint256 size = r.size;
        uint16 revealed = r.revealedMask;
        uint16 violated = r.violatedMask;
        accounts = new address[](size);
        times = new uint64[](r.violatedCount);
        uint256 nTimes;
        for (uint256 i = 0; i < size; ++i) {
            uint256 id = (r.members[i >> 3] >> ((i & 7) * 32)) & type(uint32).max;
            address account = registry.witnessAccount(id);
            accounts[i] = account;
            uint16 bit = uint16(1 << i);
            int256 units;
            if (revealed & bit == 0) {
                units = -2;
                burn += registry.penalizeWitness(id, 2 * uint256(rewardUnit), reputationLoss);
            } else if (violated & bit != 0) {
                times[nTimes++] = uint64(uint256(commitments[roundId][account]));
                if (verdict == Verdict.Violated) {
                    units = 10;
                } else {
                    units = -1;
                    burn += registry.penalizeWitness(id, uint256(rewardUnit), 0);
                }
            } else if (verdict == Verdict.NotViolated) {
                units = 1;
            }
            if (units > 0) token.mint(account, uint256(units) * rewardUnit);
            emit WitnessPaid(roundId, account, units);
        }
    }

    function _slashProvider(Round storage r, uint256 roundId, address[] memory accounts, uint16 violated)
        private
        returns (uint256 burned)
    {
        uint256 executorId = r.executorId;
        uint256 amount = uint256(registry.executor(executorId).stake) * providerSlashBps / BPS;
        uint256 slashed = registry.slashExecutor(executorId, amount);
        uint256 toCustomer = slashed * customerShareBps / BPS;
        uint256 perWitness = slashed * witnessShareBps / BPS / r.violatedCount;
        uint256 toWitnesses = perWitness * r.violatedCount;
        burned = slashed - toCustomer - toWitnesses;
        emit ProviderSlashed(roundId, executorId, slashed, toCustomer, toWitnesses, burned);
        if (toCustomer > 0) IERC20(address(token)).safeTransfer(r.customer, toCustomer);
        if (perWitness > 0) {
            for (uint256 i = 0; i < accounts.length; ++i) {
                if (violated & uint16(1 << i) != 0) IERC20(address(token)).safeTransfer(accounts[i], perWitness);
            }
        }
    }

    /// @dev The k-th smallest (1-based) reported violation time: with at least k reporters, no
    /// minority can move it earlier than some honest report.
    function _kthSmallest(uint64[] memory xs, uint256 k) private pure returns (uint64) {
        uint256 n = xs.length;
        for (uint256 i = 1; i < n; ++i) {
            uint64 x = xs[i];
            uint256 j = i;
            while (j > 0 && xs[j - 1] > x) {
                xs[j] = xs[j - 1];
                --j;
            }
            xs[j] = x;
        }
        return xs[k - 1];
    }

    function _round(uint256 roundId) private view returns (Round storage r) {
        r = _rounds[roundId];
        if (r.phase == Phase.None) revert WitnessPoolUnknownRound(roundId);
    }
}
