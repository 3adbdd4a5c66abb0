// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";

/// @title Registry
/// @notice See {IRegistry}.
contract Registry is IRegistry, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice Witness ids are indexes into an append-only list that committees sample from; the cap
    /// bounds the fallback scan of {WitnessPool-drawCommittee}.
    uint256 public constant MAX_WITNESSES = 1024;

    IERC20 public immutable token;
    uint64 public immutable thawPeriod;
    uint128 public immutable minWitnessStake;
    uint16 public immutable initialReputation;

    mapping(address => bool) public authorized;
    uint256 public totalStaked;

    Executor[] private _executors; // index = id - 1
    mapping(address enclave => uint256) public executorOfEnclave;
    Witness[] private _witnesses; // index = id - 1
    mapping(address account => uint256) public witnessIdOf;

    constructor(IERC20 token_, uint64 thawPeriod_, uint128 minWitnessStake_, uint16 initialReputation_)
        Ownable(msg.sender)
    {
        token = token_;
        thawPeriod = thawPeriod_;
        minWitnessStake = minWitnessStake_;
        initialReputation = initialReputation_;
    }

    modifier onlyAuthorized() {
        if (!authorized[msg.sender]) revert RegistryUnauthorized(msg.sender);
        _;
    }

    /// @inheritdoc IRegistry
    function setAuthorized(address account, bool isAuthorized) external onlyOwner {
        authorized[account] = isAuthorized;
        emit AuthorizationUpdated(account, isAuthorized);
    }

    // ---------------------------------------------------------------- executors

    /// @inheritdoc IRegistry
    function registerExecutor(ExecutorSpec calldata spec, uint256 stake) external nonReentrant returns (uint256 id) {
        if (spec.enclave == address(0)) revert RegistryZeroEnclave();
        uint256 taken = executorOfEnclave[spec.enclave];
        if (taken != 0) revert RegistryEnclaveTaken(spec.enclave, taken);
        _executors.push(
            Executor({
                provider: msg.sender,
                cpuCores: spec.cpuCores,
                memoryMiB: spec.memoryMiB,
                gflops: spec.gflops,
                enclave: spec.enclave,
                gpuMemoryMiB: spec.gpuMemoryMiB,
                teeType: spec.teeType,
                activeLeases: 0,
                stake: stake.toUint128(),
                thawing: 0,
                thawEnd: 0,
                evidenceHash: spec.evidenceHash,
                endpoint: spec.endpoint
            })
        );
        id = _executors.length;
        executorOfEnclave[spec.enclave] = id;
        totalStaked += stake;
        emit ExecutorRegistered(id, msg.sender, spec.enclave, stake);
        emit ExecutorUpdated(id, spec.enclave, spec.evidenceHash, spec.endpoint);
        if (stake > 0) token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @inheritdoc IRegistry
    function updateExecutor(uint256 executorId, address enclave, bytes32 evidenceHash, string calldata endpoint)
        external
    {
        Executor storage e = _ownedExecutor(executorId);
        if (e.activeLeases != 0) revert RegistryExecutorLeased(executorId, e.activeLeases);
        if (enclave == address(0)) revert RegistryZeroEnclave();
        if (enclave != e.enclave) {
            uint256 taken = executorOfEnclave[enclave];
            if (taken != 0) revert RegistryEnclaveTaken(enclave, taken);
            delete executorOfEnclave[e.enclave];
            executorOfEnclave[enclave] = executorId;
            e.enclave = enclave;
        }
        e.evidenceHash = evidenceHash;
        e.endpoint = endpoint;
        emit ExecutorUpdated(executorId, enclave, evidenceHash, endpoint);
    }

    /// @inheritdoc IRegistry
    function addExecutorStake(uint256 executorId, uint256 amount) external nonReentrant {
        if (amount == 0) revert RegistryZeroAmount();
        Executor storage e = _ownedExecutor(executorId);
        e.stake += amount.toUint128();
        totalStaked += amount;
        emit ExecutorStakeAdded(executorId, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IRegistry
    function requestExecutorUnstake(uint256 executorId, uint256 amount) external {
        if (amount == 0) revert RegistryZeroAmount();
        Executor storage e = _ownedExecutor(executorId);
        if (amount > e.stake) revert RegistryInsufficientStake(e.stake, amount);
        e.stake -= uint128(amount);
        e.thawing += uint128(amount);
        e.thawEnd = uint64(block.timestamp) + thawPeriod;
        emit ExecutorUnstakeRequested(executorId, amount, e.thawEnd);
    }

    /// @inheritdoc IRegistry
    function withdrawExecutorStake(uint256 executorId) external nonReentrant {
        Executor storage e = _ownedExecutor(executorId);
        if (e.activeLeases != 0) revert RegistryExecutorLeased(executorId, e.activeLeases);
        uint256 amount = e.thawing;
        if (amount == 0) revert RegistryNothingThawing();
        if (block.timestamp < e.thawEnd) revert RegistryStillThawing(e.thawEnd, uint64(block.timestamp));
        e.thawing = 0;
        totalStaked -= amount;
        emit ExecutorStakeWithdrawn(executorId, msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IRegistry
    function slashExecutor(uint256 executorId, uint256 amount)
        external
        onlyAuthorized
        nonReentrant
        returns (uint256 slashed)
    {
        Executor storage e = _executor(executorId);
        uint256 fromStake = amount < e.stake ? amount : e.stake;
        uint256 rest = amount - fromStake;
        uint256 fromThawing = rest < e.thawing ? rest : e.thawing;
        e.stake -= uint128(fromStake);
        e.thawing -= uint128(fromThawing);
        slashed = fromStake + fromThawing;
        totalStaked -= slashed;
        emit ExecutorSlashed(executorId, msg.sender, slashed);
        if (slashed > 0) token.safeTransfer(msg.sender, slashed);
    }

    /// @inheritdoc IRegistry
    function lockExecutor(uint256 executorId) external onlyAuthorized {
        Executor storage e = _executor(executorId);
        e.activeLeases += 1;
        emit ExecutorLocked(executorId, e.activeLeases);
    }

    /// @inheritdoc IRegistry
    function unlockExecutor(uint256 executorId) external onlyAuthorized {
        Executor storage e = _executor(executorId);
        if (e.activeLeases == 0) revert RegistryNoActiveLease(executorId);
        e.activeLeases -= 1;
        emit ExecutorUnlocked(executorId, e.activeLeases);
    }

    // ---------------------------------------------------------------- witnesses

    /// @inheritdoc IRegistry
    function registerWitness(uint256 stake) external nonReentrant returns (uint256 id) {
        if (witnessIdOf[msg.sender] != 0) revert RegistryWitnessExists(msg.sender);
        if (_witnesses.length >= MAX_WITNESSES) revert RegistryTooManyWitnesses(MAX_WITNESSES);
        _witnesses.push(
            Witness({
                account: msg.sender,
                eligibleFrom: 0,
                ineligibleFrom: 0,
                reputation: initialReputation,
                stake: stake.toUint128(),
                thawing: 0,
                thawEnd: 0
            })
        );
        id = _witnesses.length;
        witnessIdOf[msg.sender] = id;
        totalStaked += stake;
        emit WitnessRegistered(id, msg.sender, stake);
        _refreshEligibility(_witnesses[id - 1]);
        if (stake > 0) token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @inheritdoc IRegistry
    function addWitnessStake(uint256 amount) external nonReentrant {
        if (amount == 0) revert RegistryZeroAmount();
        Witness storage w = _witnessOf(msg.sender);
        w.stake += amount.toUint128();
        totalStaked += amount;
        emit WitnessStakeAdded(msg.sender, amount);
        _refreshEligibility(w);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IRegistry
    function requestWitnessUnstake(uint256 amount) external {
        if (amount == 0) revert RegistryZeroAmount();
        Witness storage w = _witnessOf(msg.sender);
        if (amount > w.stake) revert RegistryInsufficientStake(w.stake, amount);
        w.stake -= uint128(amount);
        w.thawing += uint128(amount);
        w.thawEnd = uint64(block.timestamp) + thawPeriod;
        emit WitnessUnstakeRequested(msg.sender, amount, w.thawEnd);
        _refreshEligibility(w);
    }

    /// @inheritdoc IRegistry
    function withdrawWitnessStake() external nonReentrant {
        Witness storage w = _witnessOf(msg.sender);
        uint256 amount = w.thawing;
        if (amount == 0) revert RegistryNothingThawing();
        if (block.timestamp < w.thawEnd) revert RegistryStillThawing(w.thawEnd, uint64(block.timestamp));
        w.thawing = 0;
        totalStaked -= amount;
        emit WitnessStakeWithdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IRegistry
    function penalizeWitness(uint256 witnessId, uint256 amount, uint16 reputationLoss)
        external
        onlyAuthorized
        nonReentrant
        returns (uint256 slashed)
    {
        Witness storage w = _witnessById(witnessId);
        uint256 fromStake = amount < w.stake ? amount : w.stake;
        uint256 rest = amount - fromStake;
        uint256 fromThawing = rest < w.thawing ? rest : w.thawing;
        w.stake -= uint128(fromStake);
        w.thawing -= uint128(fromThawing);
        w.reputation = reputationLoss >= w.reputation ? 0 : w.reputation - reputationLoss;
        slashed = fromStake + fromThawing;
        totalStaked -= slashed;
        emit WitnessPenalized(w.account, slashed, w.reputation);
        _refreshEligibility(w);
        if (slashed > 0) token.safeTransfer(msg.sender, slashed);
    }

    // ---------------------------------------------------------------- views

    function executor(uint256 executorId) external view returns (Executor memory) {
        return _executor(executorId);
    }

    function executorCount() external view returns (uint256) {
        return _executors.length;
    }

    function witness(uint256 witnessId) external view returns (Witness memory) {
        return _witnessById(witnessId);
    }

    function witnessCount() external view returns (uint256) {
        return _witnesses.length;
    }

    function witnessAccount(uint256 witnessId) external view returns (address) {
        if (witnessId == 0 || witnessId > _witnesses.length) return address(0);
        return _witnesses[witnessId - 1].account;
    }

    function isWitnessEligibleAt(uint256 witnessId, uint256 blockNumber) public view returns (bool) {
        return witnessAccountIfEligibleAt(witnessId, blockNumber) != address(0);
    }

    function witnessAccountIfEligibleAt(uint256 witnessId, uint256 blockNumber) public view returns (address) {
        if (witnessId == 0 || witnessId > _witnesses.length) return address(0);
        Witness storage w = _witnesses[witnessId - 1];
        uint40 from = w.eligibleFrom;
        uint40 until = w.ineligibleFrom;
        if (from == 0 || from > blockNumber || (until != 0 && until <= blockNumber)) return address(0);
        return w.account;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Keeps the eligibility interval in step with stake and reputation. A witness that leaves and
    /// comes back starts a new interval (only the latest is kept; see docs/contracts.md).
    function _refreshEligibility(Witness storage w) private {
        bool eligibleNow = w.stake >= minWitnessStake && w.reputation > 0;
        bool marked = w.eligibleFrom != 0 && w.ineligibleFrom == 0;
        if (eligibleNow && !marked) {
            w.eligibleFrom = uint40(block.number == 0 ? 1 : block.number);
            w.ineligibleFrom = 0;
            emit WitnessEligibilityChanged(w.account, true, w.eligibleFrom);
        } else if (!eligibleNow && marked) {
            w.ineligibleFrom = uint40(block.number);
            emit WitnessEligibilityChanged(w.account, false, w.ineligibleFrom);
        }
    }

    function _executor(uint256 executorId) private view returns (Executor storage) {
        if (executorId == 0 || executorId > _executors.length) revert RegistryUnknownExecutor(executorId);
        return _executors[executorId - 1];
    }

    function _ownedExecutor(uint256 executorId) private view returns (Executor storage e) {
        e = _executor(executorId);
        if (e.provider != msg.sender) revert RegistryNotProvider(executorId, msg.sender);
    }

    function _witnessOf(address account) private view returns (Witness storage) {
        uint256 id = witnessIdOf[account];
        if (id == 0) revert RegistryUnknownWitness(account);
        return _witnesses[id - 1];
    }

    function _witnessById(uint256 witnessId) private view returns (Witness storage) {
        if (witnessId == 0 || witnessId > _witnesses.length) revert RegistryUnknownWitness(address(0));
        return _witnesses[witnessId - 1];
    }
}
