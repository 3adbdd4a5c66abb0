// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Provider and witness registry
/// @notice Providers register executors (TEE hosts) with a stake, an endpoint, hardware specs, the
/// enclave identity address (secp256k1, so contracts can ecrecover receipts) and the hash of their
/// attestation evidence. Registration carries a proof of possession: an EIP-712 `EnclaveRegistration`
/// signed by the enclave key (domain "defaas Registry", version "1", this chain, this contract), so
/// nobody registers under an enclave address it does not hold.
/// Stake is free (withdrawable after `thawPeriod`) or locked as the collateral of one lease: the market
/// locks it at confirmation, the settlement and the witness pool slash it, and it returns to the free
/// stake only when the settlement settles the lease (after every round and claim window), so a
/// provider can never withdraw stake that backs an unsettled lease.
/// Witnesses register with at least `minWitnessStake`. The eligible set (stake >= minimum, reputation
/// > 0) is a compact list of at most `MAX_ELIGIBLE` ids; each witness keeps its eligibility history
/// per block, so a committee drawn from the set frozen at a request block is not rewritten by a later
/// leave and re-join. The contracts allowed to lock, slash and penalise are wired once by the
/// deployer; no key can change them afterwards.
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

    /// @notice An executor as stored. `stake` is free stake (bids and new leases draw on it),
    /// `locked` the sum of the collateral of its unsettled leases, `thawing` what waits for `thawEnd`.
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
        uint128 locked;
        uint64 thawEnd;
        bytes32 evidenceHash;
        string endpoint;
    }

    /// @notice A witness as stored. `listPosition` is its index in the eligible list plus one (zero
    /// when it is not eligible now).
    struct Witness {
        address account;
        uint16 reputation;
        uint32 listPosition;
        uint128 stake;
        uint128 thawing;
        uint64 thawEnd;
    }

    error RegistryUnauthorized(address caller);
    error RegistryAlreadyWired();
    error RegistryZeroAddress();
    error RegistryNotProvider(uint256 executorId, address caller);
    error RegistryUnknownExecutor(uint256 executorId);
    error RegistryUnknownWitness(address account);
    error RegistryWitnessExists(address account);
    error RegistryWitnessUnderstaked(uint256 stake, uint256 min);
    error RegistryTooManyWitnesses(uint256 max);
    error RegistryEnclaveTaken(address enclave, uint256 executorId);
    error RegistryZeroEnclave();
    error RegistryBadEnclaveSignature(address recovered, address enclave);
    error RegistryZeroAmount();
    error RegistryInsufficientStake(uint256 available, uint256 requested);
    error RegistryStillThawing(uint64 thawEnd, uint64 now_);
    error RegistryNothingThawing();
    error RegistryExecutorLeased(uint256 executorId, uint32 activeLeases);
    error RegistryCollateralExists(uint256 leaseId);
    error RegistryNoCollateral(uint256 leaseId);

    event Wired(address market, address settlement, address pool);
    event ExecutorRegistered(uint256 indexed executorId, address indexed provider, address indexed enclave, uint256 stake);
    event ExecutorUpdated(uint256 indexed executorId, address indexed enclave, bytes32 evidenceHash, string endpoint);
    event ExecutorStakeAdded(uint256 indexed executorId, uint256 amount);
    event ExecutorUnstakeRequested(uint256 indexed executorId, uint256 amount, uint64 thawEnd);
    event ExecutorStakeWithdrawn(uint256 indexed executorId, address indexed to, uint256 amount);
    event CollateralLocked(uint256 indexed leaseId, uint256 indexed executorId, uint256 amount);
    event CollateralSlashed(uint256 indexed leaseId, uint256 indexed executorId, address indexed by, uint256 amount);
    event CollateralReleased(uint256 indexed leaseId, uint256 indexed executorId, uint256 amount);
    event WitnessRegistered(uint256 indexed witnessId, address indexed account, uint256 stake);
    event WitnessStakeAdded(address indexed account, uint256 amount);
    event WitnessUnstakeRequested(address indexed account, uint256 amount, uint64 thawEnd);
    event WitnessStakeWithdrawn(address indexed account, uint256 amount);
    event WitnessPenalized(address indexed account, uint256 slashed, uint16 reputation);
    event WitnessEligibilityChanged(uint256 indexed witnessId, bool eligible, uint256 atBlock);

    /// @notice Fixes the market (locks collateral), the settlement (slashes and releases collateral)
    /// and the witness pool (slashes collateral, penalises witnesses); deployer only, once.
    function wire(address market, address settlement, address pool) external;

    /// @notice EIP-712 digest of `EnclaveRegistration(address provider,bytes32 evidenceHash,string endpoint)`
    /// that the enclave key signs as proof of possession.
    function registrationDigest(address provider, bytes32 evidenceHash, string calldata endpoint)
        external
        view
        returns (bytes32);

    /// @notice Registers an executor owned by the caller and stakes `stake` tokens (needs allowance);
    /// `enclaveSignature` signs {registrationDigest} of (caller, spec.evidenceHash, spec.endpoint).
    /// @return executorId Its id (ids start at 1).
    function registerExecutor(ExecutorSpec calldata spec, uint256 stake, bytes calldata enclaveSignature)
        external
        returns (uint256 executorId);

    /// @notice Replaces the enclave key, evidence hash and endpoint after a re-attestation, with a new
    /// proof of possession by `enclave`; not while a lease is unsettled.
    function updateExecutor(
        uint256 executorId,
        address enclave,
        bytes32 evidenceHash,
        string calldata endpoint,
        bytes calldata enclaveSignature
    ) external;

    /// @notice Adds free stake to an executor.
    function addExecutorStake(uint256 executorId, uint256 amount) external;

    /// @notice Moves `amount` from free to thawing stake; restarts the thaw clock.
    function requestExecutorUnstake(uint256 executorId, uint256 amount) external;

    /// @notice Withdraws thawed stake to the provider once the thaw ended.
    function withdrawExecutorStake(uint256 executorId) external;

    /// @notice Moves `amount` of the executor's free stake into the collateral of `leaseId` (market only).
    function lockCollateral(uint256 leaseId, uint256 executorId, uint256 amount) external;

    /// @notice Takes up to `amount` from the collateral of `leaseId` and sends it to the caller
    /// (settlement or witness pool). Reverts `RegistryNoCollateral` for a lease never locked; a released
    /// lease has nothing left, so it returns 0. @return slashed What was taken.
    function slashCollateral(uint256 leaseId, uint256 amount) external returns (uint256 slashed);

    /// @notice Returns what is left of the collateral of `leaseId` to the executor's free stake
    /// (settlement only, when the lease is settled); once per lease.
    function releaseCollateral(uint256 leaseId) external;

    /// @notice Registers the caller as a witness with `stake >= minWitnessStake` tokens (needs allowance).
    function registerWitness(uint256 stake) external returns (uint256 witnessId);

    /// @notice Adds stake to the caller's witness entry.
    function addWitnessStake(uint256 amount) external;

    /// @notice Moves `amount` of the caller's witness stake to thawing; the witness leaves the eligible
    /// set if its stake drops below the minimum.
    function requestWitnessUnstake(uint256 amount) external;

    /// @notice Withdraws the caller's thawed witness stake.
    function withdrawWitnessStake() external;

    /// @notice Slashes up to `amount` from a witness (stake first, then thawing) to the caller and lowers
    /// its reputation by `reputationLoss` (saturating at zero, which excludes it); witness pool only.
    function penalizeWitness(uint256 witnessId, uint256 amount, uint16 reputationLoss) external returns (uint256 slashed);

    function executor(uint256 executorId) external view returns (Executor memory);
    function executorCount() external view returns (uint256);
    function executorOfEnclave(address enclave) external view returns (uint256);
    /// @return executorId The executor whose collateral backs `leaseId`.
    /// @return amount What is left of it.
    function leaseCollateral(uint256 leaseId) external view returns (uint256 executorId, uint256 amount);
    function witness(uint256 witnessId) external view returns (Witness memory);
    function witnessIdOf(address account) external view returns (uint256);
    /// @return The witness's address (zero for an unknown id); one storage read.
    function witnessAccount(uint256 witnessId) external view returns (address);
    function witnessCount() external view returns (uint256);
    /// @return How many witnesses are eligible now (the length of the eligible list).
    function eligibleCount() external view returns (uint256);
    /// @notice Whether the witness was eligible at the end of block `blockNumber` (from its history).
    function wasEligibleAt(uint256 witnessId, uint256 blockNumber) external view returns (bool);
    /// @notice The witness at `index` of the current eligible list, with its account if it was also
    /// eligible at `blockNumber` (zero account otherwise, or when `index` is past the list).
    function eligibleWitnessAt(uint256 index, uint256 blockNumber)
        external
        view
        returns (uint256 witnessId, address account);
    /// @return Total tokens held for executors and witnesses (free, locked and thawing).
    function totalStaked() external view returns (uint256);
}
