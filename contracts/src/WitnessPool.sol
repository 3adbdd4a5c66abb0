// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IMarket} from "./interfaces/IMarket.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {IToken} from "./interfaces/IToken.sol";
import {IWitnessPool} from "./interfaces/IWitnessPool.sol";

/// @title WitnessPool
/// @notice See {IWitnessPool}. A round's id is derived from its lease and epoch
/// (`(leaseId << 32 | epoch) + 1`), so no counter and no (lease, epoch) index are stored; a round's
/// fee is `size * rewardUnit` with `rewardUnit` immutable, so it is computed rather than stored.
/// Storage: what every round of a lease shares (customer, executor, committee size and majority) is
/// one word per lease, written at its first request; a round's own state is one word plus its member
/// list, kept per (lease, epoch parity). A lease has at most two rounds open, of epochs of different
/// parity (the market requests epoch k + 2 only after epoch k's round ended; the pool refuses otherwise),
/// so a request overwrites the words of a round that has ended, which are already non-zero, and the
/// old round's id then names an unknown round (its history is in its events). Between transactions
/// the pool holds exactly the fees of its open (requested or drawn) rounds.
contract WitnessPool is IWitnessPool, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_COMMITTEE = 15;
    /// @notice Random draws per seat before the bounded fallback scan of the eligible list.
    uint256 public constant ATTEMPTS_PER_SEAT = 4;
    /// @notice Largest lease id a round can be requested for (round ids pack the lease id and epoch).
    uint256 public constant MAX_LEASE_ID = type(uint192).max;
    /// @notice Largest epoch a round can be requested for (a round stores its epoch in 16 bits; the
    /// market's leases have at most 10,000 epochs).
    uint256 public constant MAX_EPOCH = type(uint16).max;
    uint256 private constant BPS = 10_000;
    /// @dev What a Stale reveal leaves in its commitment slot (Ok reveals clear it).
    bytes32 private constant STALE_MARK = bytes32(uint256(1) << 255);

    /// @notice Parameters, fixed at deployment.
    struct Params {
        uint64 seedDelay; // blocks between request and the seed block (at least 1)
        uint64 commitWindow; // seconds after max(draw time, epoch end)
        uint64 revealWindow; // seconds after the commit deadline
        uint64 drawTimeout; // seconds after the request before an undrawn round can be cancelled
        uint128 rewardUnit; // token units paid per agreeing member (the fee is size * rewardUnit)
        uint16 reputationLoss; // reputation lost by a member that does not reveal
        uint16 providerSlashBps; // share of the lease's remaining collateral slashed on Fraud / Unavailable
        uint16 customerShareBps; // share of the slash paid to the customer
        uint16 witnessShareBps; // share of the slash split between the members that reported a violation
    }

    /// @dev The terms every round of a lease shares (one word), set by its first request; later
    /// requests must repeat them.
    struct LeaseTerms {
        address customer;
        uint64 executorId;
        uint8 size;
        uint8 majority;
    }

    /// @dev A round's state: one word, read by the draw and by every commit and reveal, written whole by
    /// each request of its (lease, epoch parity), so no mask, count, deadline or phase of the previous
    /// round survives. `epoch` tells which round the storage holds. The revealed and Unavailable counts
    /// are derived from the masks, the outcome from the counts; `frozenCount` saturates at 2^16 - 1 (the
    /// registry lists at most 1024 witnesses).
    struct RoundData {
        uint16 epoch;
        uint40 frozenBlock;
        uint40 requestedAt;
        uint40 epochEnd;
        uint40 commitDeadline; // zero until the draw
        uint16 frozenCount;
        uint8 size;
        uint8 majority;
        Phase phase;
        uint16 revealedMask;
        uint16 violatedMask; // Fraud or Unavailable reports
        uint8 counts; // Fraud reports in the low 4 bits, Stale reports in the high 4 (at most 15 each)
    }

    /// @dev Working values of {finalize} (kept in memory: the legacy pipeline has a small stack).
    struct Settle {
        uint256 roundId;
        uint256[2] members; // the member words, read once
        uint256 leaseId;
        uint256 size;
        uint256 majority;
        uint256 revealed; // mask
        uint256 violated; // mask
        uint256 revealedCount;
        uint256 violatedCount;
        bool violation;
        bool readStale; // Ok and Stale reports are mixed: read each member's slot
        bool quietAreStale; // otherwise: every Ok-or-Stale report was Stale
        uint256 perReporter;
        uint256 rewards;
        uint256 burn;
    }

    IERC20 public immutable token;
    IRegistry public immutable registry;
    uint64 public immutable seedDelay;
    uint64 public immutable commitWindow;
    uint64 public immutable revealWindow;
    uint64 public immutable drawTimeout;
    /// @inheritdoc IWitnessPool
    uint128 public immutable rewardUnit;
    uint16 public immutable reputationLoss;
    uint16 public immutable providerSlashBps;
    uint16 public immutable customerShareBps;
    uint16 public immutable witnessShareBps;

    address private immutable _deployer;
    IMarket public market;

    mapping(uint256 leaseId => LeaseTerms) private _terms;
    /// @dev Keyed by `leaseId << 1 | epoch & 1` ({_slot}), as is `_members`.
    mapping(uint256 slot => RoundData) private _rounds;
    /// @dev Member witness ids, 8 uint32 per word; written by the draw.
    mapping(uint256 slot => uint256[2]) private _members;
    /// @notice Before its reveal: a member's commitment. After it: the violation time of a Fraud or
    /// Unavailable report, a marker for a Stale report, zero for an Ok report. Keyed by round id, so no
    /// round reads another's.
    mapping(uint256 roundId => mapping(address witness => bytes32)) public commitments;

    constructor(IERC20 token_, IRegistry registry_, Params memory p) {
        if (
            p.rewardUnit == 0 || uint256(p.rewardUnit) * MAX_COMMITTEE > type(uint96).max
                || p.providerSlashBps > BPS || uint256(p.customerShareBps) + p.witnessShareBps > BPS
                || p.seedDelay > type(uint32).max || p.commitWindow > type(uint32).max || p.revealWindow > type(uint32).max
                || p.drawTimeout > type(uint32).max
        ) revert WitnessPoolBadParams();
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

    /// @inheritdoc IWitnessPool
    function setMarket(address market_) external {
        if (msg.sender != _deployer) revert WitnessPoolUnauthorized(msg.sender);
        if (address(market) != address(0)) revert WitnessPoolAlreadyWired();
        market = IMarket(market_);
    }

    /// @inheritdoc IWitnessPool
    function validateCommittee(uint256 size, uint256 majority) public pure {
        if (size < 3 || size > MAX_COMMITTEE || majority * 2 <= size || majority > size - 1) {
            revert WitnessPoolBadCommittee(size, majority);
        }
    }

    /// @inheritdoc IWitnessPool
    function requestRound(
        uint256 leaseId,
        uint32 epoch,
        uint64 epochEnd,
        uint256 executorId,
        address customer,
        uint256 size,
        uint256 majority
    ) external returns (uint256 roundId) {
        if (msg.sender != address(market)) revert WitnessPoolUnauthorized(msg.sender);
        validateCommittee(size, majority);
        if (leaseId > MAX_LEASE_ID) revert WitnessPoolLeaseIdTooLarge(leaseId);
        if (epoch > MAX_EPOCH) revert WitnessPoolEpochTooLarge(epoch);
        roundId = _roundId(leaseId, epoch);
        uint256 slot = _slot(leaseId, epoch);
        {
            RoundData storage r = _rounds[slot];
            Phase phase = r.phase;
            if (phase != Phase.None) {
                // The storage holds an earlier round of this parity: it must have ended.
                uint32 held = r.epoch;
                if (held == epoch) revert WitnessPoolRoundExists(roundId);
                if (phase == Phase.Requested || phase == Phase.Drawn) {
                    revert WitnessPoolRoundOpen(_roundId(leaseId, held));
                }
                if (held > epoch) revert WitnessPoolEpochOutOfOrder(roundId, _roundId(leaseId, held));
            }
        }
        // Every deadline of the round stays within uint40 seconds.
        SafeCast.toUint40(uint256(epochEnd) + commitWindow + revealWindow);
        _setTerms(leaseId, customer, SafeCast.toUint64(executorId), size, majority);
        uint256 eligible = registry.eligibleCount();
        uint16 frozenCount = eligible > type(uint16).max ? type(uint16).max : uint16(eligible);
        _rounds[slot] = RoundData({
            epoch: uint16(epoch),
            frozenBlock: uint40(block.number),
            requestedAt: uint40(block.timestamp),
            epochEnd: uint40(epochEnd),
            commitDeadline: 0,
            frozenCount: frozenCount,
            size: uint8(size),
            majority: uint8(majority),
            phase: Phase.Requested,
            revealedMask: 0,
            violatedMask: 0,
            counts: 0
        });
        emit RoundRequested(
            roundId, leaseId, epoch, uint64(block.number + seedDelay), frozenCount, uint8(size), uint8(majority), size * rewardUnit
        );
    }

    /// @inheritdoc IWitnessPool
    function drawCommittee(uint256 roundId) external returns (address[] memory members) {
        uint256 slot = _slotOfRound(roundId);
        RoundData storage r = _rounds[slot];
        uint256 frozenBlock;
        {
            (uint256 epoch, Phase phase) = (r.epoch, r.phase);
            frozenBlock = r.frozenBlock;
            if (phase != Phase.Requested || epoch != _epochOf(roundId)) _refuse(roundId, phase, epoch);
        }
        bytes32 seed =
            keccak256(abi.encode(_seedHash(roundId, frozenBlock + seedDelay), block.chainid, address(this), roundId));
        uint256 size = r.size;
        uint256[] memory ids;
        (ids, members) = _select(seed, size, r.frozenCount, frozenBlock);
        uint256 word0;
        uint256 word1;
        for (uint256 i = 0; i < size; ++i) {
            if (i < 8) word0 |= ids[i] << (i * 32);
            else word1 |= ids[i] << ((i - 8) * 32);
        }
        // Every round of a lease has the same size (its terms) and the words it uses are written whole,
        // so no member of the round that used this storage before remains.
        uint256[2] storage m = _members[slot];
        m[0] = word0;
        if (size > 8) m[1] = word1;
        uint256 epochEnd = r.epochEnd;
        uint40 commitDeadline =
            SafeCast.toUint40((block.timestamp > epochEnd ? block.timestamp : epochEnd) + commitWindow);
        r.commitDeadline = commitDeadline;
        r.phase = Phase.Drawn;
        emit CommitteeDrawn(roundId, _leaseOf(roundId), members, seed, commitDeadline, commitDeadline + revealWindow);
    }

    /// @inheritdoc IWitnessPool
    function commitVerdict(uint256 roundId, bytes32 commitment) external {
        // One cold slot per commit: the round's word holds its epoch and deadline. The deadline is zero
        // until the draw (and for a cancelled round) and in the past once a round can be finalized, so
        // with the epoch it pins the phase.
        RoundData storage r = _rounds[_slotOfRound(roundId)];
        (uint256 epoch, uint40 deadline) = (r.epoch, r.commitDeadline);
        if (deadline == 0 || epoch != _epochOf(roundId)) _refuse(roundId, r.phase, epoch);
        if (block.timestamp >= deadline) revert WitnessPoolCommitClosed(roundId, deadline);
        if (commitment == bytes32(0)) revert WitnessPoolZeroCommitment();
        commitments[roundId][msg.sender] = commitment;
        emit VerdictCommitted(roundId, msg.sender, commitment);
    }

    /// @inheritdoc IWitnessPool
    function revealVerdict(uint256 roundId, Verdict verdict, uint64 violationTime, bytes32 evidenceHash, bytes32 salt)
        external
    {
        uint256 slot = _slotOfRound(roundId);
        RoundData storage r = _rounds[slot];
        (uint256 epoch, Phase phase, uint64 commitDeadline) = (r.epoch, r.phase, r.commitDeadline);
        if (phase != Phase.Drawn || epoch != _epochOf(roundId)) _refuse(roundId, phase, epoch);
        if (block.timestamp < commitDeadline) revert WitnessPoolRevealNotOpen(roundId, commitDeadline);
        if (block.timestamp >= commitDeadline + revealWindow) {
            revert WitnessPoolRevealClosed(roundId, commitDeadline + revealWindow);
        }
        if (verdict == Verdict.None) revert WitnessPoolBadVerdict(verdict);
        uint16 bit = uint16(1 << _memberIndex(slot, r.size, roundId, registry.witnessIdOf(msg.sender)));
        if (r.revealedMask & bit != 0) revert WitnessPoolAlreadyRevealed(roundId, msg.sender);
        bytes32 expected = verdictCommitment(roundId, msg.sender, verdict, violationTime, evidenceHash, salt);
        if (commitments[roundId][msg.sender] != expected) revert WitnessPoolCommitmentMismatch(roundId, msg.sender);

        r.revealedMask |= bit;
        if (verdict == Verdict.Fraud || verdict == Verdict.Unavailable) {
            r.violatedMask |= bit;
            if (verdict == Verdict.Fraud) r.counts += 1;
            commitments[roundId][msg.sender] = bytes32(uint256(violationTime));
        } else if (verdict == Verdict.Stale) {
            r.counts += 16;
            commitments[roundId][msg.sender] = STALE_MARK;
        } else {
            delete commitments[roundId][msg.sender];
        }
        emit VerdictRevealed(roundId, msg.sender, verdict, violationTime, evidenceHash);
    }

    /// @inheritdoc IWitnessPool
    /// @dev The round's state is final (phase Finalized, violation slots read and cleared) before the
    /// market is called, and the market's answer decides the slash: the collateral answers for this
    /// round only when its report settled an epoch of a running lease. The market and the registry are
    /// the contracts wired at deployment; this function is nonReentrant and the round's phase keeps
    /// every other entry point away from it.
    function finalize(uint256 roundId) external nonReentrant returns (Verdict verdict) {
        uint256 slot = _slotOfRound(roundId);
        RoundData memory d = _rounds[slot]; // one read for every field below
        if (d.phase != Phase.Drawn || d.epoch != _epochOf(roundId)) {
            if (d.phase == Phase.Requested && d.epoch == _epochOf(roundId)) {
                _cancel(d, slot, roundId);
                return Verdict.None;
            }
            _refuse(roundId, d.phase, d.epoch);
        }
        uint64 revealEnd = d.commitDeadline + revealWindow;
        Settle memory s;
        s.roundId = roundId;
        s.leaseId = _leaseOf(roundId);
        s.size = d.size;
        s.revealed = d.revealedMask;
        s.violated = d.violatedMask;
        s.revealedCount = _popcount(s.revealed);
        s.violatedCount = _popcount(s.violated);
        if (block.timestamp < revealEnd && s.revealedCount < s.size) revert WitnessPoolNotFinalizable(roundId, revealEnd);
        s.majority = d.majority;
        s.members[0] = _members[slot][0];
        if (s.size > 8) s.members[1] = _members[slot][1];
        {
            uint256 staleCount = d.counts >> 4;
            verdict = _outcome(d.counts & 15, s.violatedCount, staleCount, s.majority);
            _rounds[slot].phase = Phase.Finalized;
            s.violation = verdict == Verdict.Fraud || verdict == Verdict.Unavailable;
            if (!s.violation) {
                // Only a mix of Ok and Stale reports needs each member's slot to tell them apart.
                s.readStale = staleCount != 0 && staleCount != s.revealedCount - s.violatedCount;
                s.quietAreStale = staleCount != 0;
            }
        }
        uint64 violationTime;
        if (s.violation) violationTime = _violationTime(s);
        LeaseTerms storage t = _terms[s.leaseId];
        uint256 toCustomer;
        if (market.onRoundSettled(s.leaseId, _epochOf(roundId), verdict, violationTime) && s.violation) {
            toCustomer = _slash(s, t.executorId);
        }
        _payMembers(s, verdict);
        uint256 refunded = s.size * rewardUnit - s.rewards;
        toCustomer += refunded;
        emit RoundFinalized(roundId, s.leaseId, _epochOf(roundId), verdict, uint8(s.revealedCount), violationTime, refunded);
        if (toCustomer > 0) token.safeTransfer(t.customer, toCustomer);
        if (s.burn > 0) IToken(address(token)).burn(s.burn);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IWitnessPool
    function verdictCommitment(
        uint256 roundId,
        address witness,
        Verdict verdict,
        uint64 violationTime,
        bytes32 evidenceHash,
        bytes32 salt
    ) public view returns (bytes32) {
        return keccak256(
            abi.encode(
                block.chainid, address(this), _leaseOf(roundId), roundId, witness, verdict, violationTime, evidenceHash, salt
            )
        );
    }

    /// @inheritdoc IWitnessPool
    function round(uint256 roundId) external view returns (Round memory out) {
        (RoundData storage r, uint256 slot, bool known) = _find(roundId);
        if (!known) return out;
        out.leaseId = _leaseOf(roundId);
        LeaseTerms storage t = _terms[out.leaseId];
        out.customer = t.customer;
        out.executorId = t.executorId;
        out.epoch = _epochOf(roundId);
        out.frozenBlock = r.frozenBlock;
        out.seedBlock = uint40(r.frozenBlock + seedDelay);
        out.frozenCount = r.frozenCount;
        out.requestedAt = r.requestedAt;
        out.epochEnd = r.epochEnd;
        out.commitDeadline = r.commitDeadline;
        out.fee = uint96(uint256(r.size) * rewardUnit);
        out.size = r.size;
        out.majority = r.majority;
        out.phase = r.phase;
        out.revealedMask = r.revealedMask;
        out.violatedMask = r.violatedMask;
        out.revealedCount = uint8(_popcount(r.revealedMask));
        out.fraudCount = r.counts & 15;
        out.unavailableCount = uint8(_popcount(r.violatedMask) - out.fraudCount);
        out.staleCount = r.counts >> 4;
        if (out.phase == Phase.Finalized) {
            out.verdict = _outcome(out.fraudCount, _popcount(r.violatedMask), out.staleCount, out.majority);
        }
        if (out.commitDeadline != 0) {
            // Drawn: the words hold this round's committee (before the draw, an earlier round's).
            uint256[2] storage m = _members[slot];
            out.members[0] = m[0];
            if (out.size > 8) out.members[1] = m[1];
        }
    }

    /// @inheritdoc IWitnessPool
    function revealDeadline(uint256 roundId) external view returns (uint64) {
        (RoundData storage r,, bool known) = _find(roundId);
        uint64 c = r.commitDeadline;
        return !known || c == 0 ? 0 : c + revealWindow;
    }

    /// @inheritdoc IWitnessPool
    function committee(uint256 roundId) external view returns (address[] memory accounts) {
        (RoundData storage r, uint256 slot, bool known) = _find(roundId);
        if (!known || r.commitDeadline == 0) return accounts;
        uint256 size = r.size;
        uint256[2] memory m = _members[slot];
        accounts = new address[](size);
        for (uint256 i = 0; i < size; ++i) {
            accounts[i] = registry.witnessAccount(_idAt(m, i));
        }
    }

    /// @inheritdoc IWitnessPool
    function roundOf(uint256 leaseId, uint32 epoch) external view returns (uint256) {
        if (leaseId > MAX_LEASE_ID) return 0;
        uint256 roundId = _roundId(leaseId, epoch);
        (,, bool known) = _find(roundId);
        return known ? roundId : 0;
    }

    // ---------------------------------------------------------------- internals

    function _roundId(uint256 leaseId, uint32 epoch) private pure returns (uint256) {
        return ((leaseId << 32) | epoch) + 1;
    }

    function _leaseOf(uint256 roundId) private pure returns (uint256) {
        unchecked {
            return (roundId - 1) >> 32;
        }
    }

    function _epochOf(uint256 roundId) private pure returns (uint32) {
        unchecked {
            return uint32(roundId - 1);
        }
    }

    /// @dev The storage of a lease's rounds of one epoch parity (lease ids are below 2^224, so the key
    /// never wraps).
    function _slot(uint256 leaseId, uint256 epoch) private pure returns (uint256) {
        return (leaseId << 1) | (epoch & 1);
    }

    /// @dev The storage `roundId` maps to, and whether it holds that round: it was requested and its
    /// storage has not been taken by a later epoch of the same parity.
    function _find(uint256 roundId) private view returns (RoundData storage r, uint256 slot, bool known) {
        slot = _slotOfRound(roundId);
        r = _rounds[slot];
        known = r.phase != Phase.None && r.epoch == _epochOf(roundId);
    }

    function _slotOfRound(uint256 roundId) private pure returns (uint256) {
        return _slot(_leaseOf(roundId), _epochOf(roundId));
    }

    /// @dev Reverts for a round whose storage holds `epoch` in `phase`: `WitnessPoolUnknownRound` when
    /// that is not `roundId`'s, else `WitnessPoolWrongPhase`.
    function _refuse(uint256 roundId, Phase phase, uint256 epoch) private pure {
        if (phase == Phase.None || epoch != _epochOf(roundId)) revert WitnessPoolUnknownRound(roundId);
        revert WitnessPoolWrongPhase(roundId, phase);
    }

    /// @dev Records a lease's terms at its first request; later requests must repeat them (the rounds
    /// of a lease share one word, and two of them can be open at once).
    function _setTerms(uint256 leaseId, address customer, uint64 executorId, uint256 size, uint256 majority) private {
        LeaseTerms storage t = _terms[leaseId];
        uint8 knownSize = t.size;
        if (knownSize == 0) {
            _terms[leaseId] = LeaseTerms(customer, executorId, uint8(size), uint8(majority));
        } else if (
            t.customer != customer || t.executorId != executorId || knownSize != size || t.majority != majority
        ) {
            revert WitnessPoolLeaseTermsChanged(leaseId);
        }
    }

    function _popcount(uint256 x) private pure returns (uint256 n) {
        while (x != 0) {
            x &= x - 1;
            ++n;
        }
    }

    /// @dev The hash of the seed block while it is among the last 256; later, the hash of the pivot
    /// block `seedBlock + 256k` for the largest k that is still available. See docs/contracts.md.
    function _seedHash(uint256 roundId, uint256 seedBlock) private view returns (bytes32) {
        if (block.number <= seedBlock) revert WitnessPoolSeedNotReady(roundId, uint64(seedBlock));
        uint256 age = block.number - seedBlock;
        uint256 pivot = age <= 256 ? seedBlock : seedBlock + ((age - 1) / 256) * 256;
        return blockhash(pivot);
    }

    /// @dev Rejection sampling over the first `frozenCount` positions of the eligible list, accepting
    /// witnesses eligible at the frozen block; then a scan of the current list (at most
    /// Registry.MAX_ELIGIBLE positions). The list is a set, so distinct positions are distinct witnesses.
    function _select(bytes32 seed, uint256 size, uint256 frozenCount, uint256 frozenBlock)
        private
        view
        returns (uint256[] memory ids, address[] memory accounts)
    {
        ids = new uint256[](size);
        accounts = new address[](size);
        uint256[] memory positions = new uint256[](size);
        uint256 found;
        if (frozenCount > 0) {
            uint256 attempts = size * ATTEMPTS_PER_SEAT;
            for (uint256 a = 0; a < attempts && found < size; ++a) {
                uint256 pos = _attemptHash(seed, a) % frozenCount;
                found = _tryAdd(ids, accounts, positions, found, pos, frozenBlock);
            }
        }
        if (found < size) {
            uint256 count = registry.eligibleCount();
            if (count > 0) {
                uint256 start = uint256(seed) % count;
                for (uint256 j = 0; j < count && found < size; ++j) {
                    found = _tryAdd(ids, accounts, positions, found, (start + j) % count, frozenBlock);
                }
            }
        }
        if (found < size) revert WitnessPoolCommitteeUnfilled(found, size);
    }

    /// @dev `uint256(keccak256(abi.encode(seed, attempt)))`, hashed in the scratch space.
    function _attemptHash(bytes32 seed, uint256 attempt) private pure returns (uint256 h) {
        assembly ("memory-safe") {
            mstore(0x00, seed)
            mstore(0x20, attempt)
            h := keccak256(0x00, 0x40)
        }
    }

    function _tryAdd(
        uint256[] memory ids,
        address[] memory accounts,
        uint256[] memory positions,
        uint256 found,
        uint256 pos,
        uint256 frozenBlock
    ) private view returns (uint256) {
        for (uint256 k = 0; k < found; ++k) {
            if (positions[k] == pos) return found;
        }
        (uint256 id, address account) = registry.eligibleWitnessAt(pos, frozenBlock);
        if (account == address(0)) return found;
        ids[found] = id;
        accounts[found] = account;
        positions[found] = pos;
        return found + 1;
    }

    /// @dev Member `i`'s witness id in the member words.
    function _idAt(uint256[2] memory words, uint256 i) private pure returns (uint256) {
        return uint32(words[i >> 3] >> ((i & 7) << 5));
    }

    function _memberIndex(uint256 slot, uint256 size, uint256 roundId, uint256 id) private view returns (uint256) {
        if (id != 0) {
            uint256[2] storage m = _members[slot];
            uint256 word = m[0];
            unchecked {
                for (uint256 i = 0; i < size; ++i) {
                    if (i == 8) word = m[1];
                    if (uint32(word >> ((i & 7) << 5)) == id) return i;
                }
            }
        }
        revert WitnessPoolNotMember(roundId, msg.sender);
    }

    function _outcome(uint256 fraudCount, uint256 violatedCount, uint256 staleCount, uint256 majority)
        private
        pure
        returns (Verdict)
    {
        if (fraudCount >= majority) return Verdict.Fraud;
        if (violatedCount >= majority) return Verdict.Unavailable;
        if (staleCount >= majority) return Verdict.Stale;
        return Verdict.Ok;
    }

    /// @dev The `majority`-th smallest violation time among the violation reports (at least `majority`
    /// of them exist on a violation outcome), so no minority of reporters can move it earlier than an
    /// honest report. Clears the slots it reads.
    function _violationTime(Settle memory s) private returns (uint64) {
        uint64[] memory times = new uint64[](s.violatedCount);
        uint256 filled;
        for (uint256 i = 0; i < s.size; ++i) {
            if (s.violated & (1 << i) == 0) continue;
            address account = registry.witnessAccount(_idAt(s.members, i));
            uint64 t = uint64(uint256(commitments[s.roundId][account]));
            delete commitments[s.roundId][account];
            uint256 j = filled++;
            while (j > 0 && times[j - 1] > t) {
                times[j] = times[j - 1];
                --j;
            }
            times[j] = t;
        }
        return times[s.majority - 1];
    }

    /// @dev Slashes the lease's collateral; returns the customer's share and sets the share of each
    /// violation reporter; the rest is added to the burn.
    function _slash(Settle memory s, uint256 executorId) private returns (uint256 toCustomer) {
        (, uint256 left) = registry.leaseCollateral(s.leaseId);
        uint256 amount = left * providerSlashBps / BPS;
        if (amount == 0) return 0;
        uint256 slashed = registry.slashCollateral(s.leaseId, amount);
        uint256 reporters = s.violatedCount;
        toCustomer = slashed * customerShareBps / BPS;
        s.perReporter = slashed * witnessShareBps / BPS / reporters;
        uint256 toWitnesses = s.perReporter * reporters;
        uint256 burned = slashed - toCustomer - toWitnesses;
        s.burn += burned;
        emit ProviderSlashed(s.roundId, executorId, slashed, toCustomer, toWitnesses, burned);
    }

    /// @dev Applies the payoffs to every member (at most MAX_COMMITTEE): rewards from the fee,
    /// penalties taken from stake and added to the burn.
    function _payMembers(Settle memory s, Verdict verdict) private {
        uint256 unit = rewardUnit;
        for (uint256 i = 0; i < s.size; ++i) {
            uint256 bit = 1 << i;
            uint256 id = _idAt(s.members, i);
            address account;
            int256 amount;
            if (s.revealed & bit == 0) {
                uint256 slashed = registry.penalizeWitness(id, 2 * unit, reputationLoss);
                s.burn += slashed;
                amount = -int256(slashed);
            } else if (s.violated & bit != 0) {
                if (s.violation) {
                    amount = int256(unit + s.perReporter);
                    s.rewards += unit;
                } else {
                    uint256 slashed = registry.penalizeWitness(id, unit, 0);
                    s.burn += slashed;
                    amount = -int256(slashed);
                }
            } else if (!s.violation) {
                bool agrees;
                if (s.readStale) {
                    account = registry.witnessAccount(id);
                    bool stale = commitments[s.roundId][account] != bytes32(0);
                    if (stale) delete commitments[s.roundId][account];
                    agrees = stale == (verdict == Verdict.Stale);
                } else {
                    agrees = s.quietAreStale == (verdict == Verdict.Stale);
                }
                if (agrees) {
                    amount = int256(unit);
                    s.rewards += unit;
                }
            }
            if (amount == 0) continue;
            if (account == address(0)) account = registry.witnessAccount(id);
            emit WitnessPaid(s.roundId, account, amount);
            if (amount > 0) token.safeTransfer(account, uint256(amount));
        }
    }

    /// @dev A round not drawn within `drawTimeout`: `None` to the market, the whole fee back to the
    /// customer.
    function _cancel(RoundData memory d, uint256 slot, uint256 roundId) private {
        uint64 notBefore = d.requestedAt + drawTimeout;
        if (block.timestamp < notBefore) revert WitnessPoolNotFinalizable(roundId, notBefore);
        _rounds[slot].phase = Phase.Cancelled;
        uint256 fee = uint256(d.size) * rewardUnit;
        uint256 leaseId = _leaseOf(roundId);
        uint32 epoch = _epochOf(roundId);
        emit RoundCancelled(roundId, leaseId, epoch, fee);
        market.onRoundSettled(leaseId, epoch, Verdict.None, 0);
        token.safeTransfer(_terms[leaseId].customer, fee);
    }
}
