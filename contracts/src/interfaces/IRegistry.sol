// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Provider and witness registry
/// @notice Providers register executors (TEE hosts) with a stake, an endpoint, hardware specs, the
/// enclave identity address (secp256k1, so contracts can ecrecover receipts) and the hash of their
/// attestation evidence. Witnesses register with a stake and start with a reputation. Stakes thaw for
/// `thawPeriod` before they can be withdrawn; only authorised contracts (market, settlement, witness
/// pool) can slash them, and slashing reaches thawing stake too, so a slashed stake is never withdrawn.
interface IRegistry {
    /// @notice TEE families; `Simulated` is accepted by the chain but rejected by default policies.
    enum TeeType {
        Simulated,
        Tdx,
        SevSnp
    }

    /// @notice What a provider declares for an executor.
    struct ExecutorSpec {
        address enclave;
        uint32 cpuCores;
        uint32 memoryMiB;
        uint32 gpuMemoryMiB;
        uint32 gflops;
        TeeType teeType;
        bytes32 evidenceHash;
        string endpoint;
    }

    /// @notice An executor as stored.
    struct Executor {
        address provider;
        uint32 cpuCores;
        uint32 memoryMiB;
        uint32 gflops;
        address enclave;
        uint32 gpuMemoryMiB;
        TeeType teeType;
        uint32 activeLeases;
        uint128 stake;
        uint128 thawing;
        uint64 thawEnd;
        bytes32 evidenceHash;
        string endpoint;
    }

    /// @notice A witness as stored. Eligibility is kept as a block interval so that committees can be
    /// drawn from the set frozen at request time: eligible at block b iff
    /// `eligibleFrom != 0 && eligibleFrom <= b && (ineligibleFrom == 0 || ineligibleFrom > b)`.
    /// Slot 0 holds everything committee selection reads.
    struct Witness {
        address account;
        uint40 eligibleFrom;
        uint40 ineligibleFrom;
        uint16 reputation;
        uint128 stake;
        uint128 thawing;
        uint64 thawEnd;
    }

    error RegistryUnauthorized(address caller);
    error RegistryNotProvider(uint256 executorId, address caller);
    error RegistryUnknownExecutor(uint256 executorId);
    error RegistryUnknownWitness(address account);
    error RegistryWitnessExists(address account);
    error RegistryTooManyWitnesses(uint256 max);
    error RegistryEnclaveTaken(address enclave, uint256 executorId);
    error RegistryZeroEnclave();
    error RegistryZeroAmount();
    error RegistryInsufficientStake(uint256 available, uint256 requested);
    error RegistryStillThawing(uint64 thawEnd, uint64 now_);
    error RegistryNothingThawing();
    error RegistryExecutorLeased(uint256 executorId, uint32 activeLeases);
    error RegistryNoActiveLease(uint256 executorId);

    event AuthorizationUpdated(address indexed account, bool authorized);
    event ExecutorRegistered(uint256 indexed executorId, address indexed provider, address indexed enclave, uint256 stake);
    event ExecutorUpdated(uint256 indexed executorId, address indexed enclave, bytes32 evidenceHash, string endpoint);
    event ExecutorStakeAdded(uint256 indexed executorId, uint256 amount);
    event ExecutorUnstakeRequested(uint256 indexed executorId, uint256 amount, uint64 thawEnd);
    event ExecutorStakeWithdrawn(uint256 indexed executorId, address indexed to, uint256 amount);
    event ExecutorSlashed(uint256 indexed executorId, address indexed by, uint256 amount);
    event ExecutorLocked(uint256 indexed executorId, uint32 activeLeases);
    event ExecutorUnlocked(uint256 indexed executorId, uint32 activeLeases);
    event WitnessRegistered(uint256 indexed witnessId, address indexed account, uint256 stake);
    event WitnessStakeAdded(address indexed account, uint256 amount);
    event WitnessUnstakeRequested(address indexed account, uint256 amount, uint64 thawEnd);
    event WitnessStakeWithdrawn(address indexed account, uint256 amount);
    event WitnessPenalized(address indexed account, uint256 slashed, uint16 reputation);
    event WitnessEligibilityChanged(address indexed account, bool eligible, uint40 atBlock);

    /// @notice Grants or revokes the right to slash and lock (owner only).
    function setAuthorized(address account, bool authorized) external;

    /// @notice Registers an executor owned by the caller and stakes `stake` tokens (needs allowance).
    /// @return executorId Its id (ids start at 1).
    function registerExecutor(ExecutorSpec calldata spec, uint256 stake) external returns (uint256 executorId);

    /// @notice Replaces the enclave key, evidence hash and endpoint after a re-attestation; not while leased.
    function updateExecutor(uint256 executorId, address enclave, bytes32 evidenceHash, string calldata endpoint) external;

    /// @notice Adds stake to an executor.
    function addExecutorStake(uint256 executorId, uint256 amount) external;

    /// @notice Moves `amount` from active to thawing stake; restarts the thaw clock.
    function requestExecutorUnstake(uint256 executorId, uint256 amount) external;

    /// @notice Withdraws thawed stake to the provider once the thaw ended and no lease is active.
    function withdrawExecutorStake(uint256 executorId) external;

    /// @notice Registers the caller as a witness with `stake` tokens (needs allowance).
    function registerWitness(uint256 stake) external returns (uint256 witnessId);

    /// @notice Adds stake to the caller's witness entry.
    function addWitnessStake(uint256 amount) external;

    /// @notice Moves `amount` of the caller's witness stake to thawing; the witness leaves the eligible
    /// set if its active stake drops below the minimum.
    function requestWitnessUnstake(uint256 amount) external;

    /// @notice Withdraws the caller's thawed witness stake.
    function withdrawWitnessStake() external;

    /// @notice Slashes up to `amount` from an executor (active first, then thawing) to the caller.
    /// @return slashed What was actually taken.
    function slashExecutor(uint256 executorId, uint256 amount) external returns (uint256 slashed);

    /// @notice Slashes up to `amount` from a witness to the caller and lowers its reputation by
    /// `reputationLoss` (saturating at zero, which excludes it from committees).
    function penalizeWitness(uint256 witnessId, uint256 amount, uint16 reputationLoss) external returns (uint256 slashed);

    /// @notice Marks an executor as serving one more lease (its stake cannot be withdrawn meanwhile).
    function lockExecutor(uint256 executorId) external;

    /// @notice Marks one lease of the executor as ended.
    function unlockExecutor(uint256 executorId) external;

    function executor(uint256 executorId) external view returns (Executor memory);
    function executorCount() external view returns (uint256);
    function executorOfEnclave(address enclave) external view returns (uint256);
    function witness(uint256 witnessId) external view returns (Witness memory);
    function witnessIdOf(address account) external view returns (uint256);
    /// @return The witness's address (zero for an unknown id); one storage read.
    function witnessAccount(uint256 witnessId) external view returns (address);
    function witnessCount() external view returns (uint256);
    function isWitnessEligibleAt(uint256 witnessId, uint256 blockNumber) external view returns (bool);
    function witnessAccountIfEligibleAt(uint256 witnessId, uint256 blockNumber) external view returns (address);
    /// @return Total tokens held for executors and witnesses (active + thawing).
    function totalStaked() external view returns (uint256);
}
