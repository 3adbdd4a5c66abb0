// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Registry} from "../src/Registry.sol";
import {Token} from "../src/Token.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {TestBase} from "./Vm.sol";

/// @notice Deploys a token and a registry wired to three plain addresses standing in for the market,
/// the settlement and the witness pool (pranked), with the TEST_PARAMS of the spec.
abstract contract RegistryBase is TestBase {
    event log_named_uint(string key, uint256 val);

    Token internal token;
    Registry internal registry;

    address internal constant MARKET = address(0x3A3);
    address internal constant SETTLEMENT = address(0x5E7);
    address internal constant POOL = address(0x9001);
    address internal constant PROVIDER = address(0x9A);
    address internal constant OTHER_PROVIDER = address(0x9B);
    address internal constant ATTACKER = address(0xBAD);

    uint256 internal constant ENCLAVE_KEY = 0xE0C1A7E;
    uint256 internal constant OTHER_ENCLAVE_KEY = 0xE0C1A7F;
    uint256 internal constant NEW_ENCLAVE_KEY = 0xE0C1A80;

    uint64 internal constant THAW = 1000;
    uint128 internal constant MIN_WITNESS = 100e18;
    uint16 internal constant REPUTATION = 3;
    uint256 internal constant PROVIDER_STAKE = 2000e18;
    uint256 internal constant WITNESS_STAKE = 200e18;
    bytes32 internal constant EVIDENCE = keccak256("evidence");
    string internal constant ENDPOINT = "https://executor-0.example:8443";

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant REGISTRATION_TYPEHASH =
        keccak256("EnclaveRegistration(address provider,bytes32 evidenceHash,string endpoint)");

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vm.roll(100);
        token = new Token(address(this), 1e30);
        registry = new Registry(IERC20(address(token)), THAW, MIN_WITNESS, REPUTATION);
        registry.wire(MARKET, SETTLEMENT, POOL);
        _fund(PROVIDER, 1e24);
        _fund(OTHER_PROVIDER, 1e24);
        _fund(ATTACKER, 1e24);
    }

    function _fund(address who, uint256 amount) internal {
        token.transfer(who, amount);
        vm.prank(who);
        token.approve(address(registry), type(uint256).max);
    }

    /// @dev The EIP-712 digest computed here from the spec, independently of the contract.
    function _digest(address registry_, uint256 chainId, address provider, bytes32 evidenceHash, string memory endpoint)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain =
            keccak256(abi.encode(DOMAIN_TYPEHASH, keccak256("defaas Registry"), keccak256("1"), chainId, registry_));
        bytes32 structHash =
            keccak256(abi.encode(REGISTRATION_TYPEHASH, provider, evidenceHash, keccak256(bytes(endpoint))));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _signDigest(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev A proof of possession by `key` for `provider` on this chain and this registry.
    function _proof(uint256 key, address provider, bytes32 evidenceHash, string memory endpoint)
        internal
        view
        returns (bytes memory)
    {
        return _signDigest(key, _digest(address(registry), block.chainid, provider, evidenceHash, endpoint));
    }

    function _spec(address enclave) internal pure returns (IRegistry.ExecutorSpec memory) {
        return IRegistry.ExecutorSpec({
            enclave: enclave,
            cpuCores: 8,
            memoryMiB: 16384,
            gpuMemoryMiB: 24576,
            gflops: 500,
            teeType: IRegistry.TeeType.Tdx,
            evidenceHash: EVIDENCE,
            endpoint: ENDPOINT
        });
    }

    function _registerExecutor(address provider, uint256 key, uint256 stake) internal returns (uint256 id) {
        bytes memory proof = _proof(key, provider, EVIDENCE, ENDPOINT);
        vm.prank(provider);
        id = registry.registerExecutor(_spec(vm.addr(key)), stake, proof);
    }

    function _registerWitness(address account, uint256 stake) internal returns (uint256 id) {
        _fund(account, stake + 1000e18);
        vm.prank(account);
        id = registry.registerWitness(stake);
    }

    function _witnessAddr(uint256 i) internal pure returns (address) {
        return address(uint160(0x100000 + i));
    }

    /// @dev Tokens held by the registry equal the stakes it accounts for.
    function _assertBacked() internal view {
        assertEq(token.balanceOf(address(registry)), registry.totalStaked(), "registry balance = totalStaked");
    }
}

contract RegistryWiringTest is RegistryBase {
    function test_wire_deployerOnceWithNonZeroAddresses() public {
        Registry r = new Registry(IERC20(address(token)), THAW, MIN_WITNESS, REPUTATION);
        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, ATTACKER));
        r.wire(ATTACKER, ATTACKER, ATTACKER);
        vm.expectRevert(IRegistry.RegistryZeroAddress.selector);
        r.wire(address(0), SETTLEMENT, POOL);
        vm.expectRevert(IRegistry.RegistryZeroAddress.selector);
        r.wire(MARKET, address(0), POOL);
        vm.expectRevert(IRegistry.RegistryZeroAddress.selector);
        r.wire(MARKET, SETTLEMENT, address(0));
        r.wire(MARKET, SETTLEMENT, POOL);
        assertEq(r.market(), MARKET, "market");
        assertEq(r.settlement(), SETTLEMENT, "settlement");
        assertEq(r.pool(), POOL, "pool");
        vm.expectRevert(IRegistry.RegistryAlreadyWired.selector);
        r.wire(MARKET, SETTLEMENT, POOL);
    }

    function test_unwired_nobodyHoldsARole() public {
        Registry r = new Registry(IERC20(address(token)), THAW, MIN_WITNESS, REPUTATION);
        vm.prank(MARKET);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, MARKET));
        r.lockCollateral(1, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, address(this)));
        r.slashCollateral(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, address(this)));
        r.releaseCollateral(1);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, address(this)));
        r.penalizeWitness(1, 1, 1);
    }

    function test_roles_eachCallOnlyByItsRole() public {
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, PROVIDER_STAKE);
        uint256 w = _registerWitness(_witnessAddr(0), WITNESS_STAKE);
        address[3] memory notMarket = [SETTLEMENT, POOL, PROVIDER];
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(notMarket[i]);
            vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, notMarket[i]));
            registry.lockCollateral(7, id, 1);
        }
        vm.prank(MARKET);
        registry.lockCollateral(7, id, 10e18);
        address[2] memory notSlasher = [MARKET, PROVIDER];
        for (uint256 i = 0; i < 2; ++i) {
            vm.prank(notSlasher[i]);
            vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, notSlasher[i]));
            registry.slashCollateral(7, 1);
        }
        vm.prank(SETTLEMENT);
        assertEq(registry.slashCollateral(7, 1), 1, "settlement slashes");
        vm.prank(POOL);
        assertEq(registry.slashCollateral(7, 2), 2, "pool slashes");
        address[3] memory notSettlement = [MARKET, POOL, PROVIDER];
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(notSettlement[i]);
            vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, notSettlement[i]));
            registry.releaseCollateral(7);
        }
        address[3] memory notPool = [MARKET, SETTLEMENT, PROVIDER];
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(notPool[i]);
            vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, notPool[i]));
            registry.penalizeWitness(w, 1, 1);
        }
        vm.prank(SETTLEMENT);
        registry.releaseCollateral(7);
        vm.prank(POOL);
        assertEq(registry.penalizeWitness(w, 1, 1), 1, "pool penalises");
    }

    /// @notice Attack: the registry's owner (or whoever holds its key) authorises an address of its
    /// choice as a slasher and takes every stake; on the old rules `setAuthorized` stayed callable by
    /// the owner for ever. Now the three roles are fixed once by the deployer: a second `wire` is
    /// refused even to the deployer, no authorisation function exists, and an unwired address cannot
    /// slash.
    function test_attack_noSlasherAfterWiring() public {
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, PROVIDER_STAKE);
        vm.prank(MARKET);
        registry.lockCollateral(1, id, PROVIDER_STAKE);

        vm.expectRevert(IRegistry.RegistryAlreadyWired.selector);
        registry.wire(ATTACKER, ATTACKER, ATTACKER);
        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, ATTACKER));
        registry.wire(ATTACKER, ATTACKER, ATTACKER);
        (bool ok,) = address(registry).call(abi.encodeWithSignature("setAuthorized(address,bool)", ATTACKER, true));
        assertTrue(!ok, "no setAuthorized");
        (ok,) = address(registry).call(abi.encodeWithSignature("transferOwnership(address)", ATTACKER));
        assertTrue(!ok, "no owner");

        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnauthorized.selector, ATTACKER));
        registry.slashCollateral(1, PROVIDER_STAKE);
        assertEq(token.balanceOf(ATTACKER), 1e24, "attacker gained nothing");
        (, uint256 left) = registry.leaseCollateral(1);
        assertEq(left, PROVIDER_STAKE, "collateral intact");
        assertEq(registry.market(), MARKET, "market unchanged");
        assertEq(registry.settlement(), SETTLEMENT, "settlement unchanged");
        assertEq(registry.pool(), POOL, "pool unchanged");
    }
}

contract RegistryExecutorTest is RegistryBase {
    function test_registerExecutor_storesSpecAndStake() public {
        uint256 before = token.balanceOf(PROVIDER);
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, PROVIDER_STAKE);
        assertEq(id, 1, "ids start at 1");
        IRegistry.Executor memory e = registry.executor(id);
        assertEq(e.provider, PROVIDER, "provider");
        assertEq(e.enclave, vm.addr(ENCLAVE_KEY), "enclave");
        assertEq(e.cpuCores, 8, "cpu");
        assertEq(e.memoryMiB, 16384, "memory");
        assertEq(e.gpuMemoryMiB, 24576, "gpu");
        assertEq(e.gflops, 500, "gflops");
        assertTrue(e.teeType == IRegistry.TeeType.Tdx, "tee");
        assertEq(e.evidenceHash, EVIDENCE, "evidence");
        assertEq(keccak256(bytes(e.endpoint)), keccak256(bytes(ENDPOINT)), "endpoint");
        assertEq(e.stake, PROVIDER_STAKE, "stake");
        assertEq(e.locked, 0, "locked");
        assertEq(e.thawing, 0, "thawing");
        assertEq(e.activeLeases, 0, "leases");
        assertEq(registry.executorOfEnclave(e.enclave), id, "enclave index");
        assertEq(registry.executorCount(), 1, "count");
        assertEq(registry.totalStaked(), PROVIDER_STAKE, "total");
        assertEq(before - token.balanceOf(PROVIDER), PROVIDER_STAKE, "pulled");
        _assertBacked();
        assertEq(_registerExecutor(OTHER_PROVIDER, OTHER_ENCLAVE_KEY, 0), 2, "second id");
        assertEq(registry.executor(2).stake, 0, "zero stake allowed");
        assertEq(registry.totalStaked(), PROVIDER_STAKE, "total unchanged");
    }

    function test_registerExecutor_longEndpoint() public {
        string memory endpoint = "https://a-rather-long-executor-host-name.provider.example:8443/v1/invoke";
        bytes memory proof = _proof(ENCLAVE_KEY, PROVIDER, EVIDENCE, endpoint);
        IRegistry.ExecutorSpec memory spec = _spec(vm.addr(ENCLAVE_KEY));
        spec.endpoint = endpoint;
        vm.prank(PROVIDER);
        uint256 id = registry.registerExecutor(spec, 1, proof);
        assertEq(keccak256(bytes(registry.executor(id).endpoint)), keccak256(bytes(endpoint)), "endpoint");
    }

    function test_registerExecutor_rejectsZeroOrTakenEnclave() public {
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, 0);
        vm.prank(OTHER_PROVIDER);
        vm.expectRevert(IRegistry.RegistryZeroEnclave.selector);
        registry.registerExecutor(_spec(address(0)), 0, "");
        // even with a valid proof, an enclave registers once
        bytes memory proof = _proof(ENCLAVE_KEY, OTHER_PROVIDER, EVIDENCE, ENDPOINT);
        vm.prank(OTHER_PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryEnclaveTaken.selector, vm.addr(ENCLAVE_KEY), id));
        registry.registerExecutor(_spec(vm.addr(ENCLAVE_KEY)), 0, proof);
    }

    function test_registerExecutor_stakeAboveUint128Reverts() public {
        bytes memory proof = _proof(ENCLAVE_KEY, PROVIDER, EVIDENCE, ENDPOINT);
        vm.prank(PROVIDER);
        vm.expectRevert();
        registry.registerExecutor(_spec(vm.addr(ENCLAVE_KEY)), uint256(type(uint128).max) + 1, proof);
    }

    function test_registrationDigest_isTheEip712OfTheSpec() public view {
        assertEq(
            registry.registrationDigest(PROVIDER, EVIDENCE, ENDPOINT),
            _digest(address(registry), block.chainid, PROVIDER, EVIDENCE, ENDPOINT),
            "digest"
        );
        assertEq(
            registry.ENCLAVE_REGISTRATION_TYPEHASH(),
            keccak256("EnclaveRegistration(address provider,bytes32 evidenceHash,string endpoint)"),
            "typehash"
        );
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = registry.eip712Domain();
        assertEq(keccak256(bytes(name)), keccak256("defaas Registry"), "name");
        assertEq(keccak256(bytes(version)), keccak256("1"), "version");
        assertEq(chainId, block.chainid, "chain");
        assertEq(verifying, address(registry), "verifying contract");
    }

    /// @notice Attack: a provider registers an executor under an enclave address it does not hold
    /// (say, a reputable provider's enclave) to inherit its identity, or to block the real owner from
    /// registering it; on the old rules any address was accepted. Now the enclave key must sign an
    /// EIP-712 `EnclaveRegistration` naming the registering provider, the evidence hash and the
    /// endpoint, on this chain and for this registry; any other signature is refused.
    function test_attack_enclaveSquatting() public {
        address victimEnclave = vm.addr(ENCLAVE_KEY);
        IRegistry.ExecutorSpec memory spec = _spec(victimEnclave);
        bytes32 sig = keccak256("junk");

        // the attacker signs with its own key
        bytes memory own = _proof(OTHER_ENCLAVE_KEY, ATTACKER, EVIDENCE, ENDPOINT);
        vm.prank(ATTACKER);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRegistry.RegistryBadEnclaveSignature.selector, vm.addr(OTHER_ENCLAVE_KEY), victimEnclave
            )
        );
        registry.registerExecutor(spec, 0, own);

        // no signature, or a malformed one
        vm.prank(ATTACKER);
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryBadEnclaveSignature.selector, address(0), victimEnclave)
        );
        registry.registerExecutor(spec, 0, "");
        vm.prank(ATTACKER);
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryBadEnclaveSignature.selector, address(0), victimEnclave)
        );
        registry.registerExecutor(spec, 0, abi.encodePacked(sig, sig, uint8(27)));

        // the enclave's genuine signature for its own provider, replayed by the attacker
        _expectBadProof(spec, _proof(ENCLAVE_KEY, PROVIDER, EVIDENCE, ENDPOINT));
        // signatures by the enclave over another endpoint or another evidence hash
        _expectBadProof(spec, _proof(ENCLAVE_KEY, ATTACKER, EVIDENCE, "https://attacker.example"));
        _expectBadProof(spec, _proof(ENCLAVE_KEY, ATTACKER, keccak256("other evidence"), ENDPOINT));
        // signatures by the enclave for another chain or another registry
        _expectBadProof(
            spec, _signDigest(ENCLAVE_KEY, _digest(address(registry), block.chainid + 1, ATTACKER, EVIDENCE, ENDPOINT))
        );
        _expectBadProof(
            spec, _signDigest(ENCLAVE_KEY, _digest(address(0x1234), block.chainid, ATTACKER, EVIDENCE, ENDPOINT))
        );

        assertEq(registry.executorCount(), 0, "nothing registered");
        // the enclave's owner registers
        assertEq(_registerExecutor(PROVIDER, ENCLAVE_KEY, 0), 1, "owner registers");
        assertEq(registry.executor(1).provider, PROVIDER, "owner's executor");
    }

    /// @notice A proof made on one chain does not register on a fork with another chain id.
    function test_attack_enclaveProofReplayedOnAnotherChain() public {
        bytes memory proof = _proof(ENCLAVE_KEY, PROVIDER, EVIDENCE, ENDPOINT);
        uint256 chainId = block.chainid;
        vm.chainId(chainId + 7);
        IRegistry.ExecutorSpec memory spec = _spec(vm.addr(ENCLAVE_KEY));
        vm.prank(PROVIDER);
        vm.expectRevert();
        registry.registerExecutor(spec, 0, proof);
        vm.chainId(chainId);
        vm.prank(PROVIDER);
        registry.registerExecutor(spec, 0, proof);
    }

    function _expectBadProof(IRegistry.ExecutorSpec memory spec, bytes memory proof) private {
        vm.prank(ATTACKER);
        vm.expectPartialRevert(IRegistry.RegistryBadEnclaveSignature.selector);
        registry.registerExecutor(spec, 0, proof);
    }

    function test_updateExecutor_newEnclaveWithProof() public {
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, PROVIDER_STAKE);
        uint256 other = _registerExecutor(OTHER_PROVIDER, OTHER_ENCLAVE_KEY, 0);
        address newEnclave = vm.addr(NEW_ENCLAVE_KEY);
        bytes32 newEvidence = keccak256("re-attested");
        string memory newEndpoint = "https://executor-0b.example";
        bytes memory proof = _proof(NEW_ENCLAVE_KEY, PROVIDER, newEvidence, newEndpoint);

        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNotProvider.selector, id, ATTACKER));
        registry.updateExecutor(id, newEnclave, newEvidence, newEndpoint, proof);
        vm.prank(PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownExecutor.selector, 9));
        registry.updateExecutor(9, newEnclave, newEvidence, newEndpoint, proof);

        vm.startPrank(PROVIDER);
        vm.expectRevert(IRegistry.RegistryZeroEnclave.selector);
        registry.updateExecutor(id, address(0), newEvidence, newEndpoint, proof);
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryEnclaveTaken.selector, vm.addr(OTHER_ENCLAVE_KEY), other)
        );
        registry.updateExecutor(
            id,
            vm.addr(OTHER_ENCLAVE_KEY),
            newEvidence,
            newEndpoint,
            _proof(OTHER_ENCLAVE_KEY, PROVIDER, newEvidence, newEndpoint)
        );
        // a proof by the old key does not move the executor to a key it cannot show it holds
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryBadEnclaveSignature.selector, vm.addr(ENCLAVE_KEY), newEnclave)
        );
        registry.updateExecutor(
            id, newEnclave, newEvidence, newEndpoint, _proof(ENCLAVE_KEY, PROVIDER, newEvidence, newEndpoint)
        );
        // a proof over another endpoint
        vm.expectPartialRevert(IRegistry.RegistryBadEnclaveSignature.selector);
        registry.updateExecutor(id, newEnclave, newEvidence, "https://elsewhere.example", proof);
        registry.updateExecutor(id, newEnclave, newEvidence, newEndpoint, proof);
        vm.stopPrank();

        IRegistry.Executor memory e = registry.executor(id);
        assertEq(e.enclave, newEnclave, "enclave");
        assertEq(e.evidenceHash, newEvidence, "evidence");
        assertEq(keccak256(bytes(e.endpoint)), keccak256(bytes(newEndpoint)), "endpoint");
        assertEq(e.stake, PROVIDER_STAKE, "stake kept");
        assertEq(registry.executorOfEnclave(newEnclave), id, "new index");
        assertEq(registry.executorOfEnclave(vm.addr(ENCLAVE_KEY)), 0, "old freed");
        // the freed enclave can be registered again (by whoever holds its key)
        assertEq(_registerExecutor(OTHER_PROVIDER, ENCLAVE_KEY, 0), 3, "freed key reusable");
    }

    function test_updateExecutor_sameEnclaveNewEvidence() public {
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, 0);
        bytes32 newEvidence = keccak256("re-attested");
        bytes memory proof = _proof(ENCLAVE_KEY, PROVIDER, newEvidence, ENDPOINT);
        vm.prank(PROVIDER);
        registry.updateExecutor(id, vm.addr(ENCLAVE_KEY), newEvidence, ENDPOINT, proof);
        assertEq(registry.executor(id).evidenceHash, newEvidence, "evidence");
        assertEq(registry.executorOfEnclave(vm.addr(ENCLAVE_KEY)), id, "index kept");
        // a proof is needed even when the key stays
        vm.prank(PROVIDER);
        vm.expectPartialRevert(IRegistry.RegistryBadEnclaveSignature.selector);
        registry.updateExecutor(id, vm.addr(ENCLAVE_KEY), EVIDENCE, ENDPOINT, "");
    }

    function test_updateExecutor_refusedWhileALeaseIsUnsettled() public {
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, PROVIDER_STAKE);
        vm.prank(MARKET);
        registry.lockCollateral(1, id, 100e18);
        vm.prank(MARKET);
        registry.lockCollateral(2, id, 100e18);
        bytes memory proof = _proof(NEW_ENCLAVE_KEY, PROVIDER, EVIDENCE, ENDPOINT);
        vm.prank(PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryExecutorLeased.selector, id, 2));
        registry.updateExecutor(id, vm.addr(NEW_ENCLAVE_KEY), EVIDENCE, ENDPOINT, proof);
        vm.prank(SETTLEMENT);
        registry.releaseCollateral(1);
        vm.prank(PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryExecutorLeased.selector, id, 1));
        registry.updateExecutor(id, vm.addr(NEW_ENCLAVE_KEY), EVIDENCE, ENDPOINT, proof);
        vm.prank(SETTLEMENT);
        registry.releaseCollateral(2);
        vm.prank(PROVIDER);
        registry.updateExecutor(id, vm.addr(NEW_ENCLAVE_KEY), EVIDENCE, ENDPOINT, proof);
        assertEq(registry.executor(id).enclave, vm.addr(NEW_ENCLAVE_KEY), "updated once settled");
    }

    function test_unknownExecutor_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownExecutor.selector, 0));
        registry.executor(0);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownExecutor.selector, 99));
        registry.executor(99);
        vm.prank(PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownExecutor.selector, 99));
        registry.addExecutorStake(99, 1);
        vm.prank(PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownExecutor.selector, 99));
        registry.requestExecutorUnstake(99, 1);
        vm.prank(PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownExecutor.selector, 99));
        registry.withdrawExecutorStake(99);
    }

    function test_executorStake_addThawWithdraw() public {
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, PROVIDER_STAKE);
        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNotProvider.selector, id, ATTACKER));
        registry.addExecutorStake(id, 1);
        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNotProvider.selector, id, ATTACKER));
        registry.requestExecutorUnstake(id, 1);
        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNotProvider.selector, id, ATTACKER));
        registry.withdrawExecutorStake(id);

        vm.startPrank(PROVIDER);
        vm.expectRevert(IRegistry.RegistryZeroAmount.selector);
        registry.addExecutorStake(id, 0);
        registry.addExecutorStake(id, 10);
        assertEq(registry.executor(id).stake, PROVIDER_STAKE + 10, "added");
        assertEq(registry.totalStaked(), PROVIDER_STAKE + 10, "total after add");
        vm.expectRevert(IRegistry.RegistryZeroAmount.selector);
        registry.requestExecutorUnstake(id, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRegistry.RegistryInsufficientStake.selector, PROVIDER_STAKE + 10, PROVIDER_STAKE + 11
            )
        );
        registry.requestExecutorUnstake(id, PROVIDER_STAKE + 11);
        vm.expectRevert(IRegistry.RegistryNothingThawing.selector);
        registry.withdrawExecutorStake(id);
        registry.requestExecutorUnstake(id, 100);
        uint64 thawEnd = registry.executor(id).thawEnd;
        assertEq(thawEnd, block.timestamp + THAW, "thaw end");
        vm.warp(block.timestamp + 500);
        registry.requestExecutorUnstake(id, 50); // restarts the clock
        thawEnd = registry.executor(id).thawEnd;
        assertEq(thawEnd, block.timestamp + THAW, "thaw restarted");
        assertEq(registry.executor(id).thawing, 150, "thawing");
        assertEq(registry.executor(id).stake, PROVIDER_STAKE + 10 - 150, "free");
        vm.warp(thawEnd - 1);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryStillThawing.selector, thawEnd, thawEnd - 1));
        registry.withdrawExecutorStake(id);
        vm.warp(thawEnd);
        uint256 before = token.balanceOf(PROVIDER);
        registry.withdrawExecutorStake(id);
        vm.stopPrank();
        assertEq(token.balanceOf(PROVIDER) - before, 150, "withdrawn");
        assertEq(registry.executor(id).thawing, 0, "nothing thawing");
        assertEq(registry.totalStaked(), PROVIDER_STAKE + 10 - 150, "total after withdraw");
        _assertBacked();
    }

    function test_withdraw_notBlockedByLeases() public {
        uint256 id = _registerExecutor(PROVIDER, ENCLAVE_KEY, PROVIDER_STAKE);
        vm.prank(MARKET);
        registry.lockCollateral(1, id, 1500e18);
        vm.prank(PROVIDER);
        registry.requestExecutorUnstake(id, 500e18);
        vm.warp(block.timestamp + THAW);
        vm.prank(PROVIDER);
        registry.withdrawExecutorStake(id);
        IRegistry.Executor memory e = registry.executor(id);
        assertEq(e.activeLeases, 1, "still leased");
        assertEq(e.locked, 1500e18, "collateral kept");
        assertEq(e.stake, 0, "free stake gone");
        _assertBacked();
    }
}

contract RegistryCollateralTest is RegistryBase {
    uint256 internal id;

    function setUp() public override {
        super.setUp();
        id = _registerExecutor(PROVIDER, ENCLAVE_KEY, PROVIDER_STAKE);
    }

    function test_lockCollateral_movesFreeStake() public {
        vm.prank(MARKET);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownExecutor.selector, 5));
        registry.lockCollateral(1, 5, 1);
        vm.prank(MARKET);
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryInsufficientStake.selector, PROVIDER_STAKE, PROVIDER_STAKE + 1)
        );
        registry.lockCollateral(1, id, PROVIDER_STAKE + 1);
        vm.prank(MARKET);
        registry.lockCollateral(1, id, 1200e18);
        vm.prank(MARKET);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryCollateralExists.selector, 1));
        registry.lockCollateral(1, id, 1);
        vm.prank(MARKET);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryInsufficientStake.selector, 800e18, 800e18 + 1));
        registry.lockCollateral(2, id, 800e18 + 1);
        vm.prank(MARKET);
        registry.lockCollateral(2, id, 800e18);

        IRegistry.Executor memory e = registry.executor(id);
        assertEq(e.stake, 0, "free");
        assertEq(e.locked, PROVIDER_STAKE, "locked");
        assertEq(e.activeLeases, 2, "leases");
        (uint256 ex, uint256 amount) = registry.leaseCollateral(1);
        assertEq(ex, id, "executor of lease 1");
        assertEq(amount, 1200e18, "collateral of lease 1");
        (ex, amount) = registry.leaseCollateral(3);
        assertEq(ex, 0, "no lease 3");
        assertEq(amount, 0, "nothing for lease 3");
        assertEq(registry.totalStaked(), PROVIDER_STAKE, "locked still counts");
        _assertBacked();
    }

    function test_lockCollateral_zeroAmountCountsALease() public {
        vm.prank(MARKET);
        registry.lockCollateral(1, id, 0);
        assertEq(registry.executor(id).activeLeases, 1, "lease counted");
        vm.prank(MARKET);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryCollateralExists.selector, 1));
        registry.lockCollateral(1, id, 0);
        vm.prank(SETTLEMENT);
        registry.releaseCollateral(1);
        assertEq(registry.executor(id).activeLeases, 0, "released");
    }

    function test_slashCollateral_takesOnlyFromTheLease() public {
        vm.prank(MARKET);
        registry.lockCollateral(1, id, 300e18);
        vm.prank(MARKET);
        registry.lockCollateral(2, id, 200e18);
        vm.prank(PROVIDER);
        registry.requestExecutorUnstake(id, 100e18);

        vm.prank(SETTLEMENT);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNoCollateral.selector, 9));
        registry.slashCollateral(9, 1);

        vm.prank(SETTLEMENT);
        assertEq(registry.slashCollateral(1, 100e18), 100e18, "partial");
        assertEq(token.balanceOf(SETTLEMENT), 100e18, "to the settlement");
        vm.prank(POOL);
        assertEq(registry.slashCollateral(1, 1e30), 200e18, "capped at what is left");
        assertEq(token.balanceOf(POOL), 200e18, "to the pool");
        vm.prank(POOL);
        assertEq(registry.slashCollateral(1, 1), 0, "nothing left");

        IRegistry.Executor memory e = registry.executor(id);
        assertEq(e.locked, 200e18, "other lease's collateral untouched");
        assertEq(e.stake, PROVIDER_STAKE - 600e18, "free stake untouched");
        assertEq(e.thawing, 100e18, "thawing untouched");
        (, uint256 left) = registry.leaseCollateral(1);
        assertEq(left, 0, "lease 1 empty");
        (, left) = registry.leaseCollateral(2);
        assertEq(left, 200e18, "lease 2 intact");
        assertEq(registry.totalStaked(), PROVIDER_STAKE - 300e18, "total");
        _assertBacked();
    }

    function test_releaseCollateral_returnsWhatIsLeftOnce() public {
        vm.prank(MARKET);
        registry.lockCollateral(1, id, 500e18);
        vm.prank(SETTLEMENT);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNoCollateral.selector, 2));
        registry.releaseCollateral(2);
        vm.prank(POOL);
        registry.slashCollateral(1, 120e18);
        vm.prank(SETTLEMENT);
        registry.releaseCollateral(1);
        IRegistry.Executor memory e = registry.executor(id);
        assertEq(e.stake, PROVIDER_STAKE - 120e18, "rest back to free stake");
        assertEq(e.locked, 0, "nothing locked");
        assertEq(e.activeLeases, 0, "no lease");
        (uint256 ex, uint256 left) = registry.leaseCollateral(1);
        assertEq(ex, id, "executor kept");
        assertEq(left, 0, "nothing left");

        vm.prank(SETTLEMENT);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryNoCollateral.selector, 1));
        registry.releaseCollateral(1);
        vm.prank(POOL);
        assertEq(registry.slashCollateral(1, 1), 0, "a released lease has nothing to slash");
        vm.prank(MARKET);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryCollateralExists.selector, 1));
        registry.lockCollateral(1, id, 1);
        assertEq(registry.executor(id).stake, PROVIDER_STAKE - 120e18, "free stake unchanged");
        _assertBacked();
    }

    /// @notice Attack: a provider whose lease is about to be slashed (a violated round, an upheld
    /// claim) moves its stake to thawing or withdraws it first; on the old rules slashes counted only
    /// active stake and the executor was unlocked before the last claim. Now the collateral is locked
    /// per lease apart from the free stake: unstaking more than the free stake is refused, and after
    /// the provider unstakes and withdraws everything free, slashes still reach the whole collateral.
    function test_attack_withdrawLockedCollateral() public {
        uint256 collateral = 1500e18;
        vm.prank(MARKET);
        registry.lockCollateral(1, id, collateral);
        uint256 free = PROVIDER_STAKE - collateral;

        vm.prank(PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryInsufficientStake.selector, free, free + 1));
        registry.requestExecutorUnstake(id, free + 1);
        vm.prank(PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryInsufficientStake.selector, free, PROVIDER_STAKE));
        registry.requestExecutorUnstake(id, PROVIDER_STAKE);

        uint256 before = token.balanceOf(PROVIDER);
        vm.prank(PROVIDER);
        registry.requestExecutorUnstake(id, free);
        vm.warp(block.timestamp + THAW);
        vm.prank(PROVIDER);
        registry.withdrawExecutorStake(id);
        assertEq(token.balanceOf(PROVIDER) - before, free, "only the free stake left");

        vm.prank(POOL);
        assertEq(registry.slashCollateral(1, collateral / 2), collateral / 2, "pool slash");
        vm.prank(SETTLEMENT);
        assertEq(registry.slashCollateral(1, collateral), collateral / 2, "claim slash takes the rest");
        assertEq(token.balanceOf(POOL) + token.balanceOf(SETTLEMENT), collateral, "whole collateral slashed");
        IRegistry.Executor memory e = registry.executor(id);
        assertEq(e.stake + e.thawing + e.locked, 0, "provider kept nothing");
        _assertBacked();
    }

    /// @notice Stake accounting is conserved through lock, unstake, slash and release.
    function testFuzz_collateralConservesStake(
        uint256 lockA,
        uint256 lockB,
        uint256 unstake,
        uint256 slashA,
        uint256 slashB
    ) public {
        lockA = bound(lockA, 0, PROVIDER_STAKE);
        lockB = bound(lockB, 0, PROVIDER_STAKE - lockA);
        unstake = bound(unstake, 0, PROVIDER_STAKE - lockA - lockB);
        slashA = bound(slashA, 0, 2 * PROVIDER_STAKE);
        slashB = bound(slashB, 0, 2 * PROVIDER_STAKE);
        vm.startPrank(MARKET);
        registry.lockCollateral(1, id, lockA);
        registry.lockCollateral(2, id, lockB);
        vm.stopPrank();
        if (unstake > 0) {
            vm.prank(PROVIDER);
            registry.requestExecutorUnstake(id, unstake);
        }
        vm.prank(POOL);
        uint256 slashedA = registry.slashCollateral(1, slashA);
        vm.prank(SETTLEMENT);
        uint256 slashedB = registry.slashCollateral(2, slashB);
        assertEq(slashedA, slashA < lockA ? slashA : lockA, "slash A = min");
        assertEq(slashedB, slashB < lockB ? slashB : lockB, "slash B = min");
        IRegistry.Executor memory e = registry.executor(id);
        assertEq(e.locked, lockA + lockB - slashedA - slashedB, "locked");
        assertEq(e.stake + e.thawing + e.locked + slashedA + slashedB, PROVIDER_STAKE, "conserved");
        _assertBacked();
        vm.prank(SETTLEMENT);
        registry.releaseCollateral(1);
        vm.prank(SETTLEMENT);
        registry.releaseCollateral(2);
        e = registry.executor(id);
        assertEq(e.locked, 0, "all released");
        assertEq(e.activeLeases, 0, "no lease");
        assertEq(e.stake, PROVIDER_STAKE - unstake - slashedA - slashedB, "free after release");
        _assertBacked();
    }
}

contract RegistryWitnessTest is RegistryBase {
    function test_registerWitness_needsMinimumStakeOnce() public {
        address w = _witnessAddr(0);
        _fund(w, 1000e18);
        vm.startPrank(w);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryWitnessUnderstaked.selector, 0, MIN_WITNESS));
        registry.registerWitness(0);
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryWitnessUnderstaked.selector, MIN_WITNESS - 1, MIN_WITNESS)
        );
        registry.registerWitness(MIN_WITNESS - 1);
        uint256 id = registry.registerWitness(MIN_WITNESS);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryWitnessExists.selector, w));
        registry.registerWitness(MIN_WITNESS);
        vm.stopPrank();

        assertEq(id, 1, "ids start at 1");
        IRegistry.Witness memory rec = registry.witness(id);
        assertEq(rec.account, w, "account");
        assertEq(rec.reputation, REPUTATION, "reputation");
        assertEq(rec.listPosition, 1, "listed first");
        assertEq(rec.stake, MIN_WITNESS, "stake");
        assertEq(registry.witnessIdOf(w), id, "id of");
        assertEq(registry.witnessAccount(id), w, "account view");
        assertEq(registry.witnessAccount(2), address(0), "unknown account");
        assertEq(registry.witnessCount(), 1, "count");
        assertEq(registry.eligibleCount(), 1, "eligible");
        assertTrue(registry.wasEligibleAt(id, block.number), "eligible at this block");
        assertTrue(!registry.wasEligibleAt(id, block.number - 1), "not before");
        assertTrue(registry.wasEligibleAt(id, block.number + 1000), "future reads the latest");
        assertTrue(!registry.wasEligibleAt(2, block.number), "unknown id");
        assertEq(registry.totalStaked(), MIN_WITNESS, "total");
        _assertBacked();
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownWitness.selector, address(0)));
        registry.witness(0);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownWitness.selector, address(0)));
        registry.witness(2);
    }

    function test_registerWitness_zeroReputationIsNeverListed() public {
        Registry r = new Registry(IERC20(address(token)), THAW, MIN_WITNESS, 0);
        address w = _witnessAddr(0);
        token.transfer(w, MIN_WITNESS);
        vm.prank(w);
        token.approve(address(r), MIN_WITNESS);
        vm.prank(w);
        uint256 id = r.registerWitness(MIN_WITNESS);
        assertEq(r.eligibleCount(), 0, "not listed");
        assertTrue(!r.wasEligibleAt(id, block.number), "never eligible");
    }

    function test_witnessStake_leaveAndRejoinTheList() public {
        address w = _witnessAddr(0);
        uint256 id = _registerWitness(w, WITNESS_STAKE);
        uint256 joined = block.number;
        vm.roll(block.number + 3);
        vm.startPrank(w);
        vm.expectRevert(IRegistry.RegistryZeroAmount.selector);
        registry.requestWitnessUnstake(0);
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryInsufficientStake.selector, WITNESS_STAKE, WITNESS_STAKE + 1)
        );
        registry.requestWitnessUnstake(WITNESS_STAKE + 1);
        vm.expectRevert(IRegistry.RegistryNothingThawing.selector);
        registry.withdrawWitnessStake();
        registry.requestWitnessUnstake(WITNESS_STAKE - MIN_WITNESS); // still at the minimum
        assertEq(registry.eligibleCount(), 1, "still listed");
        vm.roll(block.number + 1);
        uint256 left = block.number;
        registry.requestWitnessUnstake(1); // below the minimum
        assertEq(registry.eligibleCount(), 0, "left the list");
        assertEq(registry.witness(id).listPosition, 0, "no position");
        assertTrue(!registry.wasEligibleAt(id, left), "not eligible from the leaving block");
        assertTrue(registry.wasEligibleAt(id, left - 1), "eligible before");
        assertTrue(registry.wasEligibleAt(id, joined), "eligible since joining");
        (uint256 wid, address account) = registry.eligibleWitnessAt(0, joined);
        assertEq(wid, 0, "not in the list");
        assertEq(account, address(0), "not drawn");

        uint64 thawEnd = registry.witness(id).thawEnd;
        vm.expectRevert(
            abi.encodeWithSelector(IRegistry.RegistryStillThawing.selector, thawEnd, uint64(block.timestamp))
        );
        registry.withdrawWitnessStake();
        vm.roll(block.number + 1);
        vm.expectRevert(IRegistry.RegistryZeroAmount.selector);
        registry.addWitnessStake(0);
        registry.addWitnessStake(1);
        uint256 rejoined = block.number;
        assertEq(registry.eligibleCount(), 1, "back in the list");
        assertTrue(registry.wasEligibleAt(id, rejoined), "eligible again");
        assertTrue(!registry.wasEligibleAt(id, left), "the gap stays");
        assertTrue(registry.wasEligibleAt(id, joined), "the first interval stays");

        vm.warp(thawEnd);
        uint256 before = token.balanceOf(w);
        registry.withdrawWitnessStake();
        vm.stopPrank();
        assertEq(token.balanceOf(w) - before, WITNESS_STAKE - MIN_WITNESS + 1, "withdrawn");
        assertEq(registry.witness(id).thawing, 0, "nothing thawing");
        assertEq(registry.totalStaked(), MIN_WITNESS, "total");
        _assertBacked();

        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownWitness.selector, ATTACKER));
        registry.addWitnessStake(1);
        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownWitness.selector, ATTACKER));
        registry.requestWitnessUnstake(1);
        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownWitness.selector, ATTACKER));
        registry.withdrawWitnessStake();
    }

    function test_penalizeWitness_stakeThenThawingAndReputation() public {
        address w = _witnessAddr(0);
        uint256 id = _registerWitness(w, WITNESS_STAKE);
        vm.prank(w);
        registry.requestWitnessUnstake(50e18);
        vm.prank(POOL);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryUnknownWitness.selector, address(0)));
        registry.penalizeWitness(9, 1, 1);

        vm.prank(POOL);
        assertEq(registry.penalizeWitness(id, 10e18, 1), 10e18, "from stake");
        IRegistry.Witness memory rec = registry.witness(id);
        assertEq(rec.stake, 140e18, "stake");
        assertEq(rec.thawing, 50e18, "thawing untouched");
        assertEq(rec.reputation, REPUTATION - 1, "reputation");
        assertEq(rec.listPosition, 1, "still listed");

        vm.prank(POOL);
        assertEq(registry.penalizeWitness(id, 160e18, 0), 160e18, "stake then thawing");
        rec = registry.witness(id);
        assertEq(rec.stake, 0, "stake gone");
        assertEq(rec.thawing, 30e18, "rest from thawing");
        assertEq(rec.listPosition, 0, "below minimum: delisted");
        assertEq(registry.eligibleCount(), 0, "list empty");
        assertTrue(!registry.wasEligibleAt(id, block.number), "history");

        vm.prank(POOL);
        assertEq(registry.penalizeWitness(id, 1e30, 0), 30e18, "capped");
        assertEq(token.balanceOf(POOL), 200e18, "all to the pool");
        assertEq(registry.totalStaked(), 0, "total");
        _assertBacked();
    }

    function test_penalizeWitness_reputationZeroDelistsForGood() public {
        address w = _witnessAddr(0);
        uint256 id = _registerWitness(w, WITNESS_STAKE);
        vm.prank(POOL);
        registry.penalizeWitness(id, 0, REPUTATION - 1);
        assertEq(registry.eligibleCount(), 1, "still listed");
        vm.roll(block.number + 1);
        vm.prank(POOL);
        assertEq(registry.penalizeWitness(id, 0, 5), 0, "nothing slashed");
        assertEq(registry.witness(id).reputation, 0, "saturates at zero");
        assertEq(registry.eligibleCount(), 0, "delisted");
        assertTrue(!registry.wasEligibleAt(id, block.number), "history");
        vm.prank(w);
        registry.addWitnessStake(500e18);
        assertEq(registry.eligibleCount(), 0, "stake does not bring it back");
    }

    function test_eligibleList_swapAndPop() public {
        uint256 a = _registerWitness(_witnessAddr(0), WITNESS_STAKE);
        uint256 b = _registerWitness(_witnessAddr(1), WITNESS_STAKE);
        uint256 c = _registerWitness(_witnessAddr(2), WITNESS_STAKE);
        uint256 frozen = block.number;
        vm.roll(block.number + 1);
        vm.prank(_witnessAddr(0));
        registry.requestWitnessUnstake(WITNESS_STAKE);
        // c moved into a's place
        assertEq(registry.eligibleCount(), 2, "two left");
        assertEq(registry.witness(c).listPosition, 1, "c moved to the front");
        assertEq(registry.witness(b).listPosition, 2, "b kept its place");
        assertEq(registry.witness(a).listPosition, 0, "a delisted");
        (uint256 wid, address account) = registry.eligibleWitnessAt(0, frozen);
        assertEq(wid, c, "index 0");
        assertEq(account, _witnessAddr(2), "account 0");
        (wid, account) = registry.eligibleWitnessAt(1, frozen);
        assertEq(wid, b, "index 1");
        assertEq(account, _witnessAddr(1), "account 1");
        (wid, account) = registry.eligibleWitnessAt(2, frozen);
        assertEq(wid, 0, "past the list");
        assertEq(account, address(0), "no account past the list");
        (wid, account) = registry.eligibleWitnessAt(1 << 200, frozen);
        assertEq(wid, 0, "far past the list");
        // the last one leaves: plain pop
        vm.prank(_witnessAddr(1));
        registry.requestWitnessUnstake(WITNESS_STAKE);
        assertEq(registry.eligibleCount(), 1, "one left");
        assertEq(registry.witness(c).listPosition, 1, "c stays");
        (wid,) = registry.eligibleWitnessAt(1, frozen);
        assertEq(wid, 0, "popped slot cleared");
        // a rejoins at the end, a block later
        vm.roll(block.number + 1);
        vm.prank(_witnessAddr(0));
        registry.addWitnessStake(MIN_WITNESS);
        assertEq(registry.witness(a).listPosition, 2, "a appended");
        (wid, account) = registry.eligibleWitnessAt(1, frozen);
        assertEq(wid, a, "a at index 1");
        assertEq(account, _witnessAddr(0), "a was eligible at the frozen block");
        (wid, account) = registry.eligibleWitnessAt(1, frozen + 1);
        assertEq(wid, a, "a at index 1 again");
        assertEq(account, address(0), "a was out at frozen + 1");
    }

    function test_eligibleWitnessAt_excludesLaterJoiners() public {
        _registerWitness(_witnessAddr(0), WITNESS_STAKE);
        uint256 frozen = block.number;
        vm.roll(block.number + 1);
        uint256 late = _registerWitness(_witnessAddr(1), WITNESS_STAKE);
        (uint256 wid, address account) = registry.eligibleWitnessAt(1, frozen);
        assertEq(wid, late, "listed");
        assertEq(account, address(0), "not eligible at the frozen block");
        (wid, account) = registry.eligibleWitnessAt(1, block.number);
        assertEq(account, _witnessAddr(1), "eligible now");
    }

    /// @notice Attack: an attacker registers 1,024 zero-stake throwaway witnesses, filling the witness
    /// list so no real witness can join (and committees are drawn from its own accounts); on the old
    /// rules registration took any stake and the list of all ids ever registered was capped. Now a
    /// witness needs `minWitnessStake`, the cap counts only witnesses eligible now, and leaving frees a
    /// place: after 1,024 refused throwaways and 1,024 staked witnesses that came and went, a real
    /// witness joins; a full list of staked witnesses refuses a newcomer until one leaves.
    function test_attack_throwawayWitnessesCannotFillTheList() public {
        uint256 max = registry.MAX_ELIGIBLE();
        assertEq(max, 1024, "cap");
        // zero-stake throwaways are refused
        for (uint256 i = 0; i < max; ++i) {
            vm.prank(_witnessAddr(i));
            vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryWitnessUnderstaked.selector, 0, MIN_WITNESS));
            registry.registerWitness(0);
        }
        assertEq(registry.witnessCount(), 0, "no throwaway registered");
        // 1,024 staked witnesses register and leave again: they take no place
        for (uint256 i = 0; i < max; ++i) {
            _registerWitness(_witnessAddr(i), MIN_WITNESS);
            vm.prank(_witnessAddr(i));
            registry.requestWitnessUnstake(1);
        }
        assertEq(registry.eligibleCount(), 0, "nobody eligible");
        address real = _witnessAddr(5000);
        uint256 realId = _registerWitness(real, WITNESS_STAKE);
        assertEq(realId, max + 1, "real witness joins after 1,024 registrations");
        assertEq(registry.eligibleCount(), 1, "listed");

        // fill the list with staked witnesses: the cap is on those eligible at once
        for (uint256 i = 1; i < max; ++i) {
            _registerWitness(_witnessAddr(10_000 + i), MIN_WITNESS);
        }
        assertEq(registry.eligibleCount(), max, "full");
        address newcomer = _witnessAddr(20_000);
        _fund(newcomer, WITNESS_STAKE);
        vm.prank(newcomer);
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryTooManyWitnesses.selector, max));
        registry.registerWitness(WITNESS_STAKE);
        // a delisted witness cannot come back while the list is full either
        vm.prank(_witnessAddr(0));
        vm.expectRevert(abi.encodeWithSelector(IRegistry.RegistryTooManyWitnesses.selector, max));
        registry.addWitnessStake(1);
        // leaving frees a place
        vm.prank(_witnessAddr(10_001));
        registry.requestWitnessUnstake(1);
        vm.prank(newcomer);
        uint256 newcomerId = registry.registerWitness(WITNESS_STAKE);
        assertEq(registry.witness(newcomerId).listPosition, max, "newcomer takes the freed place");
        assertEq(registry.witnessCount(), 2 * max + 1, "more witnesses than places");
        assertEq(registry.eligibleCount(), max, "full again");
        _assertBacked();
    }

    /// @notice Attack: a witness in a committee drawn from the set frozen at block F leaves (drops 1 wei
    /// below the minimum) and re-joins; on the old rules the re-join rewrote its eligibility interval to
    /// start after F, so it no longer counted as frozen and could dodge (or be made to dodge) the round.
    /// Now eligibility is a per-block history: the leave and re-join add entries after F and
    /// `wasEligibleAt(id, F)` stays true; the draw, which reads the current list, still finds it.
    function test_attack_leaveRejoinDoesNotRewriteThePast() public {
        address w = _witnessAddr(0);
        uint256 id = _registerWitness(w, MIN_WITNESS);
        _registerWitness(_witnessAddr(1), MIN_WITNESS);
        vm.roll(block.number + 10);
        uint256 frozen = block.number;
        vm.roll(block.number + 5);
        vm.prank(w);
        registry.requestWitnessUnstake(1);
        uint256 out = block.number;
        vm.roll(block.number + 1);
        vm.prank(w);
        registry.addWitnessStake(1);
        // leave and re-join within one block too
        vm.roll(block.number + 1);
        vm.startPrank(w);
        registry.requestWitnessUnstake(1);
        registry.addWitnessStake(1);
        vm.stopPrank();

        assertTrue(registry.wasEligibleAt(id, frozen), "eligible at the frozen block");
        assertTrue(registry.wasEligibleAt(id, frozen - 10), "and since it registered");
        assertTrue(!registry.wasEligibleAt(id, out), "out for one block");
        assertTrue(registry.wasEligibleAt(id, out + 1), "back");
        assertTrue(registry.wasEligibleAt(id, block.number), "eligible now");
        uint32 position = registry.witness(id).listPosition;
        (uint256 wid, address account) = registry.eligibleWitnessAt(position - 1, frozen);
        assertEq(wid, id, "listed");
        assertEq(account, w, "drawable for the frozen block");
        (, account) = registry.eligibleWitnessAt(position - 1, out);
        assertEq(account, address(0), "not drawable for the block it was out");
    }

    uint256 private constant MODEL_WITNESSES = 6;
    uint256 private constant MODEL_STEPS = 40;
    uint256[MODEL_WITNESSES] private _modelIds;
    /// @dev _modelEligible[step][w]: witness w eligible at the end of block start + step.
    bool[MODEL_WITNESSES][MODEL_STEPS] private _modelEligible;

    /// @notice Property: after any sequence of stake, unstake and penalty steps over several blocks,
    /// the list holds exactly the eligible witnesses, compactly, each at its recorded position, and the
    /// history answers for every past block what eligibility was at the end of it.
    function testFuzz_eligibleListAndHistoryMatchAModel(uint256 seed) public {
        uint256 start = block.number;
        for (uint256 i = 0; i < MODEL_WITNESSES; ++i) {
            _fund(_witnessAddr(i), 10_000e18);
        }
        for (uint256 s = 0; s < MODEL_STEPS; ++s) {
            for (uint256 k = 0; k < 3; ++k) {
                seed = uint256(keccak256(abi.encode(seed, s, k)));
                _modelAction(seed);
            }
            _checkList(s);
            vm.roll(block.number + 1);
        }
        for (uint256 s = 0; s < MODEL_STEPS; ++s) {
            for (uint256 i = 0; i < MODEL_WITNESSES; ++i) {
                if (_modelIds[i] == 0) continue;
                assertEq(
                    registry.wasEligibleAt(_modelIds[i], start + s) ? 1 : 0,
                    _modelEligible[s][i] ? 1 : 0,
                    "history per block"
                );
            }
        }
    }

    function _modelAction(uint256 seed) private {
        uint256 i = seed % MODEL_WITNESSES;
        address who = _witnessAddr(i);
        uint256 action = (seed >> 8) % 5;
        uint256 amount = ((seed >> 16) % 3) * 50e18 + ((seed >> 24) % 2);
        uint256 id = _modelIds[i];
        if (id == 0) {
            if (amount >= MIN_WITNESS) {
                vm.prank(who);
                _modelIds[i] = registry.registerWitness(amount);
            }
        } else if (action < 2) {
            if (amount > 0) {
                vm.prank(who);
                registry.addWitnessStake(amount);
            }
        } else if (action < 4) {
            if (amount > 0 && amount <= registry.witness(id).stake) {
                vm.prank(who);
                registry.requestWitnessUnstake(amount);
            }
        } else {
            vm.prank(POOL);
            registry.penalizeWitness(id, amount, uint16((seed >> 32) % 2));
        }
    }

    function _checkList(uint256 step) private {
        uint256 count = 0;
        for (uint256 i = 0; i < MODEL_WITNESSES; ++i) {
            if (_modelIds[i] == 0) continue;
            IRegistry.Witness memory rec = registry.witness(_modelIds[i]);
            bool eligible = rec.stake >= MIN_WITNESS && rec.reputation > 0;
            _modelEligible[step][i] = eligible;
            assertEq(rec.listPosition != 0 ? 1 : 0, eligible ? 1 : 0, "listed iff eligible");
            if (eligible) {
                ++count;
                (uint256 wid, address account) = registry.eligibleWitnessAt(rec.listPosition - 1, block.number);
                assertEq(wid, _modelIds[i], "position points back");
                assertEq(account, rec.account, "eligible now");
            }
        }
        assertEq(registry.eligibleCount(), count, "count");
        (uint256 past,) = registry.eligibleWitnessAt(count, block.number);
        assertEq(past, 0, "compact");
        _assertBacked();
    }
}

/// @notice Gas of the calls with targets in the spec. Numbers are call-frame gas measured with
/// `gasleft()` around the external call (cold storage: each test is its own transaction after setUp);
/// a transaction adds 21,000 and its calldata.
contract RegistryGasTest is RegistryBase {
    function setUp() public override {
        super.setUp();
        // the registry already holds stake (the usual case) and a few witnesses are listed
        _registerExecutor(OTHER_PROVIDER, OTHER_ENCLAVE_KEY, PROVIDER_STAKE);
        for (uint256 i = 0; i < 4; ++i) {
            _registerWitness(_witnessAddr(i), WITNESS_STAKE);
        }
        vm.roll(block.number + 10);
        vm.prank(_witnessAddr(3));
        registry.requestWitnessUnstake(WITNESS_STAKE);
        vm.roll(block.number + 1);
        vm.prank(_witnessAddr(3));
        registry.addWitnessStake(WITNESS_STAKE);
        vm.roll(block.number + 10);
    }

    /// @dev Calldata gas as a transaction pays it (EIP-2028: 4 per zero byte, 16 per other byte), and
    /// the EIP-7623 floor for the same bytes.
    function _calldataGas(bytes memory data) internal pure returns (uint256 standard, uint256 floor) {
        uint256 zeros;
        for (uint256 i = 0; i < data.length; ++i) {
            if (data[i] == 0) ++zeros;
        }
        uint256 tokens = zeros + 4 * (data.length - zeros);
        standard = 4 * tokens;
        floor = 10 * tokens;
    }

    function _measureRegister(string memory endpoint) internal returns (uint256 total) {
        IRegistry.ExecutorSpec memory spec = _spec(vm.addr(ENCLAVE_KEY));
        spec.endpoint = endpoint;
        bytes memory proof = _proof(ENCLAVE_KEY, PROVIDER, EVIDENCE, endpoint);
        (uint256 standard, uint256 floor) =
            _calldataGas(abi.encodeCall(IRegistry.registerExecutor, (spec, PROVIDER_STAKE, proof)));
        Registry r = registry;
        vm.prank(PROVIDER);
        uint256 g = gasleft();
        r.registerExecutor(spec, PROVIDER_STAKE, proof);
        uint256 frame = g - gasleft();
        uint256 execution = 21_000 + standard + frame;
        total = execution > 21_000 + floor ? execution : 21_000 + floor;
        emit log_named_uint("registerExecutor call frame", frame);
        emit log_named_uint("registerExecutor calldata", standard);
        emit log_named_uint("registerExecutor transaction estimate", total);
    }

    function test_gas_registerExecutor() public {
        uint256 total = _measureRegister(ENDPOINT);
        assertLe(total, 250_000, "registerExecutor with proof <= 250k");
    }

    function test_gas_registerExecutor_longEndpoint() public {
        // 63 bytes: the longest endpoint that fits in a length slot and two data slots
        uint256 total = _measureRegister("https://a-rather-long-executor-host-name.provider.example:8443/");
        assertLe(total, 250_000, "registerExecutor with proof and a 63-byte endpoint <= 250k");
    }

    function test_gas_registerWitness() public {
        address w = _witnessAddr(100);
        _fund(w, WITNESS_STAKE);
        Registry r = registry;
        vm.prank(w);
        uint256 g = gasleft();
        r.registerWitness(WITNESS_STAKE);
        emit log_named_uint("registerWitness call frame", g - gasleft());
    }

    function test_gas_eligibleWitnessAt() public {
        uint256 frozen = block.number - 15;
        Registry r = registry;
        uint256 g = gasleft();
        (, address account) = r.eligibleWitnessAt(1, frozen);
        uint256 fast = g - gasleft();
        assertTrue(account != address(0), "fast path found it");
        emit log_named_uint("eligibleWitnessAt, eligible since before the block (cold)", fast);
        g = gasleft();
        (, account) = r.eligibleWitnessAt(3, frozen);
        uint256 slow = g - gasleft();
        assertTrue(account != address(0), "history path found it");
        emit log_named_uint("eligibleWitnessAt, rejoined after the block (cold)", slow);
        g = gasleft();
        r.eligibleWitnessAt(7, frozen);
        emit log_named_uint("eligibleWitnessAt, past the list (cold)", g - gasleft());
        // one cold slot (2,100) plus the call's cold account access (2,600) and overhead
        assertLe(fast, 6_500, "one cold slot read (a second would add 2,100)");
    }
}
