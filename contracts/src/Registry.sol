// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";

/// @title Registry
/// @notice See {IRegistry}.
contract Registry is IRegistry, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Most witnesses eligible at once; bounds the fallback scan of the committee draw.
    uint256 public constant MAX_ELIGIBLE = 1024;

    /// @notice EIP-712 type of the enclave's proof of possession.
    bytes32 public constant ENCLAVE_REGISTRATION_TYPEHASH =
        keccak256("EnclaveRegistration(address provider,bytes32 evidenceHash,string endpoint)");

    /// @dev Counters read and written together, in one slot.
    struct Totals {
        uint128 staked;
        uint32 eligible;
        uint48 executors;
        uint48 witnesses;
    }

    /// @dev The collateral of one lease. `executorId != 0` marks a lease that was locked; `released`
    /// marks one the settlement has released (its amount is then zero).
    struct Collateral {
        uint64 executorId;
        uint128 amount;
        bool released;
    }

    /// @dev An entry of the eligible list: everything {eligibleWitnessAt} needs in one slot. `since`
    /// is the block from which the witness has been eligible without interruption.
    struct Eligible {
        address account;
        uint32 witnessId;
        uint48 since;
    }

    IERC20 public immutable token;
    uint64 public immutable thawPeriod;
    uint128 public immutable minWitnessStake;
    uint16 public immutable initialReputation;
    address private immutable _deployer;

    /// @notice May lock collateral.
    address public market;
    /// @notice May slash and release collateral.
    address public settlement;
    /// @notice May slash collateral and penalise witnesses.
    address public pool;

    Totals private _totals;

    mapping(uint256 executorId => Executor) private _executors;
    mapping(address enclave => uint256) public executorOfEnclave;
    mapping(uint256 leaseId => Collateral) private _collateral;

    mapping(uint256 witnessId => Witness) private _witnesses;
    mapping(address account => uint256) public witnessIdOf;
    /// @dev Positions `[0, _totals.eligible)` hold the eligible witnesses; every other entry is zero.
    Eligible[MAX_ELIGIBLE] private _eligible;
    /// @dev Per witness: block number => 1 (eligible at the end of that block) or 0.
    mapping(uint256 witnessId => Checkpoints.Trace208) private _history;

    constructor(IERC20 token_, uint64 thawPeriod_, uint128 minWitnessStake_, uint16 initialReputation_)
        EIP712("defaas Registry", "1")
    {
        token = token_;
        thawPeriod = thawPeriod_;
        minWitnessStake = minWitnessStake_;
        initialReputation = initialReputation_;
        _deployer = msg.sender;
    }

    /// @inheritdoc IRegistry
    function wire(address market_, address settlement_, address pool_) external {
        if (msg.sender != _deployer) revert RegistryUnauthorized(msg.sender);
        if (market != address(0)) revert RegistryAlreadyWired();
        if (market_ == address(0) || settlement_ == address(0) || pool_ == address(0)) revert RegistryZeroAddress();
        market = market_;
        settlement = settlement_;
        pool = pool_;
        emit Wired(market_, settlement_, pool_);
    }

    // ---------------------------------------------------------------- executors

    /// @inheritdoc IRegistry
    function registrationDigest(address provider, bytes32 evidenceHash, string calldata endpoint)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(ENCLAVE_REGISTRATION_TYPEHASH, provider, evidenceHash, keccak256(bytes(endpoint))))
        );
    }

    /// @inheritdoc IRegistry
    function registerExecutor(ExecutorSpec calldata spec, uint256 stake, bytes calldata enclaveSignature)
        external
        nonReentrant
        returns (uint256 id)
    {
        address enclave = spec.enclave;
        if (enclave == address(0)) revert RegistryZeroEnclave();
        uint256 taken = executorOfEnclave[enclave];
        if (taken != 0) revert RegistryEnclaveTaken(enclave, taken);
        _checkPossession(enclave, spec.evidenceHash, spec.endpoint, enclaveSignature);
        uint128 amount = stake.toUint128();

        Totals storage t = _totals;
        id = t.executors + 1;
        t.executors = uint48(id);
        t.staked += amount;
        executorOfEnclave[enclave] = id;
        Executor storage e = _executors[id];
        e.provider = msg.sender;
        e.cpuCores = spec.cpuCores;
        e.memoryMiB = spec.memoryMiB;
        e.gflops = spec.gflops;
        e.enclave = enclave;
        e.gpuMemoryMiB = spec.gpuMemoryMiB;
        e.teeType = spec.teeType;
        if (amount != 0) e.stake = amount;
        e.evidenceHash = spec.evidenceHash;
        e.endpoint = spec.endpoint;
        emit ExecutorRegistered(id, msg.sender, enclave, stake);
        emit ExecutorUpdated(id, enclave, spec.evidenceHash, spec.endpoint);
        if (amount != 0) token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @inheritdoc IRegistry
    function updateExecutor(
        uint256 executorId,
        address enclave,
        bytes32 evidenceHash,
        string calldata endpoint,
        bytes calldata enclaveSignature
    ) external {
        Executor storage e = _ownedExecutor(executorId);
        if (e.activeLeases != 0) revert RegistryExecutorLeased(executorId, e.activeLeases);
        if (enclave == address(0)) revert RegistryZeroEnclave();
        address old = e.enclave;
        if (enclave != old) {
            uint256 taken = executorOfEnclave[enclave];
            if (taken != 0) revert RegistryEnclaveTaken(enclave, taken);
        }
        _checkPossession(enclave, evidenceHash, endpoint, enclaveSignature);
        if (enclave != old) {
            delete executorOfEnclave[old];
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
        uint128 a = amount.toUint128();
        e.stake += a;
        _totals.staked += a;
        emit ExecutorStakeAdded(executorId, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IRegistry
    function requestExecutorUnstake(uint256 executorId, uint256 amount) external {
        if (amount == 0) revert RegistryZeroAmount();
        Executor storage e = _ownedExecutor(executorId);
        uint128 free = e.stake;
        if (amount > free) revert RegistryInsufficientStake(free, amount);
        e.stake = free - uint128(amount);
        e.thawing += uint128(amount);
        uint64 thawEnd = uint64(block.timestamp) + thawPeriod;
        e.thawEnd = thawEnd;
        emit ExecutorUnstakeRequested(executorId, amount, thawEnd);
    }

    /// @inheritdoc IRegistry
    function withdrawExecutorStake(uint256 executorId) external nonReentrant {
        Executor storage e = _ownedExecutor(executorId);
        uint128 amount = e.thawing;
        if (amount == 0) revert RegistryNothingThawing();
        if (block.timestamp < e.thawEnd) revert RegistryStillThawing(e.thawEnd, uint64(block.timestamp));
        e.thawing = 0;
        _totals.staked -= amount;
        emit ExecutorStakeWithdrawn(executorId, msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- collateral

    /// @inheritdoc IRegistry
    function lockCollateral(uint256 leaseId, uint256 executorId, uint256 amount) external {
        if (msg.sender != market) revert RegistryUnauthorized(msg.sender);
        Collateral storage c = _collateral[leaseId];
        if (c.executorId != 0) revert RegistryCollateralExists(leaseId);
        Executor storage e = _executor(executorId);
        uint128 free = e.stake;
        if (amount > free) revert RegistryInsufficientStake(free, amount);
        e.stake = free - uint128(amount);
        e.locked += uint128(amount);
        e.activeLeases += 1;
        c.executorId = uint64(executorId);
        c.amount = uint128(amount);
        emit CollateralLocked(leaseId, executorId, amount);
    }

    /// @inheritdoc IRegistry
    function slashCollateral(uint256 leaseId, uint256 amount) external nonReentrant returns (uint256 slashed) {
        if (msg.sender != settlement && msg.sender != pool) revert RegistryUnauthorized(msg.sender);
        Collateral storage c = _collateral[leaseId];
        uint256 executorId = c.executorId;
        if (executorId == 0) revert RegistryNoCollateral(leaseId);
        uint128 left = c.amount;
        slashed = amount < left ? amount : left;
        if (slashed != 0) {
            c.amount = left - uint128(slashed);
            _executors[executorId].locked -= uint128(slashed);
            _totals.staked -= uint128(slashed);
        }
        emit CollateralSlashed(leaseId, executorId, msg.sender, slashed);
        if (slashed != 0) token.safeTransfer(msg.sender, slashed);
    }

    /// @inheritdoc IRegistry
    function releaseCollateral(uint256 leaseId) external {
        if (msg.sender != settlement) revert RegistryUnauthorized(msg.sender);
        Collateral storage c = _collateral[leaseId];
        uint256 executorId = c.executorId;
        if (executorId == 0 || c.released) revert RegistryNoCollateral(leaseId);
        uint128 amount = c.amount;
        c.amount = 0;
        c.released = true;
        Executor storage e = _executors[executorId];
        e.locked -= amount;
        e.stake += amount;
        e.activeLeases -= 1;
        emit CollateralReleased(leaseId, executorId, amount);
    }

    // ---------------------------------------------------------------- witnesses

    /// @inheritdoc IRegistry
    function registerWitness(uint256 stake) external nonReentrant returns (uint256 id) {
        if (witnessIdOf[msg.sender] != 0) revert RegistryWitnessExists(msg.sender);
        if (stake == 0 || stake < minWitnessStake) revert RegistryWitnessUnderstaked(stake, minWitnessStake);
        uint128 amount = stake.toUint128();
        Totals storage t = _totals;
        id = t.witnesses + 1;
        t.witnesses = uint48(id);
        t.staked += amount;
        witnessIdOf[msg.sender] = id;
        Witness storage w = _witnesses[id];
        w.account = msg.sender;
        w.reputation = initialReputation;
        w.stake = amount;
        emit WitnessRegistered(id, msg.sender, stake);
        _syncEligibility(id, w);
        token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @inheritdoc IRegistry
    function addWitnessStake(uint256 amount) external nonReentrant {
        if (amount == 0) revert RegistryZeroAmount();
        (uint256 id, Witness storage w) = _witnessOf(msg.sender);
        uint128 a = amount.toUint128();
        w.stake += a;
        _totals.staked += a;
        emit WitnessStakeAdded(msg.sender, amount);
        _syncEligibility(id, w);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IRegistry
    function requestWitnessUnstake(uint256 amount) external {
        if (amount == 0) revert RegistryZeroAmount();
        (uint256 id, Witness storage w) = _witnessOf(msg.sender);
        uint128 active = w.stake;
        if (amount > active) revert RegistryInsufficientStake(active, amount);
        w.stake = active - uint128(amount);
        w.thawing += uint128(amount);
        uint64 thawEnd = uint64(block.timestamp) + thawPeriod;
        w.thawEnd = thawEnd;
        emit WitnessUnstakeRequested(msg.sender, amount, thawEnd);
        _syncEligibility(id, w);
    }

    /// @inheritdoc IRegistry
    function withdrawWitnessStake() external nonReentrant {
        (, Witness storage w) = _witnessOf(msg.sender);
        uint128 amount = w.thawing;
        if (amount == 0) revert RegistryNothingThawing();
        if (block.timestamp < w.thawEnd) revert RegistryStillThawing(w.thawEnd, uint64(block.timestamp));
        w.thawing = 0;
        _totals.staked -= amount;
        emit WitnessStakeWithdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IRegistry
    function penalizeWitness(uint256 witnessId, uint256 amount, uint16 reputationLoss)
        external
        nonReentrant
        returns (uint256 slashed)
    {
        if (msg.sender != pool) revert RegistryUnauthorized(msg.sender);
        Witness storage w = _witnessById(witnessId);
        uint128 active = w.stake;
        uint128 thawing = w.thawing;
        uint128 fromStake = amount < active ? uint128(amount) : active;
        uint256 rest = amount - fromStake;
        uint128 fromThawing = rest < thawing ? uint128(rest) : thawing;
        w.stake = active - fromStake;
        w.thawing = thawing - fromThawing;
        uint16 reputation = w.reputation;
        reputation = reputationLoss >= reputation ? 0 : reputation - reputationLoss;
        w.reputation = reputation;
        slashed = uint256(fromStake) + fromThawing;
        _totals.staked -= uint128(slashed);
        emit WitnessPenalized(w.account, slashed, reputation);
        _syncEligibility(witnessId, w);
        if (slashed != 0) token.safeTransfer(msg.sender, slashed);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRegistry
    function executor(uint256 executorId) external view returns (Executor memory) {
        return _executor(executorId);
    }

    /// @inheritdoc IRegistry
    function executorCount() external view returns (uint256) {
        return _totals.executors;
    }

    /// @inheritdoc IRegistry
    function leaseCollateral(uint256 leaseId) external view returns (uint256 executorId, uint256 amount) {
        Collateral storage c = _collateral[leaseId];
        return (c.executorId, c.amount);
    }

    /// @inheritdoc IRegistry
    function witness(uint256 witnessId) external view returns (Witness memory) {
        return _witnessById(witnessId);
    }

    /// @inheritdoc IRegistry
    function witnessAccount(uint256 witnessId) external view returns (address) {
        return _witnesses[witnessId].account;
    }

    /// @inheritdoc IRegistry
    function witnessCount() external view returns (uint256) {
        return _totals.witnesses;
    }

    /// @inheritdoc IRegistry
    function eligibleCount() external view returns (uint256) {
        return _totals.eligible;
    }

    /// @inheritdoc IRegistry
    function wasEligibleAt(uint256 witnessId, uint256 blockNumber) public view returns (bool) {
        return _history[witnessId].upperLookupRecent(_blockKey(blockNumber)) != 0;
    }

    /// @inheritdoc IRegistry
    /// @dev One slot read when the witness has been eligible since `blockNumber` or earlier (the usual
    /// case); the history is searched only for a witness that rejoined after `blockNumber`.
    function eligibleWitnessAt(uint256 index, uint256 blockNumber)
        external
        view
        returns (uint256 witnessId, address account)
    {
        if (index >= MAX_ELIGIBLE) return (0, address(0));
        Eligible memory entry = _eligible[index];
        witnessId = entry.witnessId;
        if (witnessId == 0) return (0, address(0));
        if (entry.since <= blockNumber || wasEligibleAt(witnessId, blockNumber)) account = entry.account;
    }

    /// @inheritdoc IRegistry
    function totalStaked() external view returns (uint256) {
        return _totals.staked;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Reverts unless `signature` is the enclave's EIP-712 `EnclaveRegistration` for the caller.
    function _checkPossession(address enclave, bytes32 evidenceHash, string calldata endpoint, bytes calldata signature)
        private
        view
    {
        (address recovered,,) =
            ECDSA.tryRecoverCalldata(registrationDigest(msg.sender, evidenceHash, endpoint), signature);
        if (recovered != enclave) revert RegistryBadEnclaveSignature(recovered, enclave);
    }

    /// @dev Brings the eligible list and the history of witness `id` in line with its stake and
    /// reputation: appends it (reverts when the list is full) or swaps it out with the last entry.
    function _syncEligibility(uint256 id, Witness storage w) private {
        bool eligible = w.stake >= minWitnessStake && w.reputation != 0;
        uint32 position = w.listPosition;
        if (eligible == (position != 0)) return;
        uint48 blockNow = block.number.toUint48();
        Totals storage t = _totals;
        uint32 count = t.eligible;
        if (eligible) {
            if (count >= MAX_ELIGIBLE) revert RegistryTooManyWitnesses(MAX_ELIGIBLE);
            _eligible[count] = Eligible({account: w.account, witnessId: id.toUint32(), since: blockNow});
            w.listPosition = count + 1;
            t.eligible = count + 1;
        } else {
            uint32 last = count - 1;
            if (position - 1 != last) {
                Eligible memory moved = _eligible[last];
                _eligible[position - 1] = moved;
                _witnesses[moved.witnessId].listPosition = position;
            }
            delete _eligible[last];
            w.listPosition = 0;
            t.eligible = last;
        }
        _history[id].push(blockNow, eligible ? 1 : 0);
        emit WitnessEligibilityChanged(id, eligible, block.number);
    }

    function _blockKey(uint256 blockNumber) private pure returns (uint48) {
        return blockNumber > type(uint48).max ? type(uint48).max : uint48(blockNumber);
    }

    function _executor(uint256 executorId) private view returns (Executor storage e) {
        e = _executors[executorId];
        if (e.provider == address(0)) revert RegistryUnknownExecutor(executorId);
    }

    function _ownedExecutor(uint256 executorId) private view returns (Executor storage e) {
        e = _executor(executorId);
        if (e.provider != msg.sender) revert RegistryNotProvider(executorId, msg.sender);
    }

    function _witnessOf(address account) private view returns (uint256 id, Witness storage w) {
        id = witnessIdOf[account];
        if (id == 0) revert RegistryUnknownWitness(account);
        w = _witnesses[id];
    }

    function _witnessById(uint256 witnessId) private view returns (Witness storage w) {
        w = _witnesses[witnessId];
        if (w.account == address(0)) revert RegistryUnknownWitness(address(0));
    }
}
