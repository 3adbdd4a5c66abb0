// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AttestationLog} from "../src/AttestationLog.sol";
import {Market} from "../src/Market.sol";
import {Registry} from "../src/Registry.sol";
import {Settlement} from "../src/Settlement.sol";
import {Token} from "../src/Token.sol";
import {WitnessPool} from "../src/WitnessPool.sol";
import {IMarket} from "../src/interfaces/IMarket.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IWitnessPool} from "../src/interfaces/IWitnessPool.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TestBase} from "./Vm.sol";

/// @notice Deploys and wires everything with the short test windows of contracts/deploy.ts TEST_PARAMS.
abstract contract Fixture is TestBase {
    Token internal token;
    Registry internal registry;
    Settlement internal settlement;
    WitnessPool internal pool;
    Market internal market;
    AttestationLog internal log_;

    uint256 internal constant CUSTOMER_KEY = 0xC0FFEE;
    uint256 internal constant ENCLAVE_KEY_BASE = 0xE0C1A7E;
    address internal customer;
    address[] internal providers;
    uint256[] internal executorIds;
    address[] internal witnesses;

    uint256 internal constant MIN_BOND = 1e18;
    uint256 internal constant PROVIDER_STAKE = 5000e18;
    uint256 internal constant MIN_PROVIDER_STAKE = 1000e18;
    uint256 internal constant WITNESS_STAKE = 200e18;
    uint256 internal constant UNIT = 0.1e18;
    uint64 internal constant DURATION = 1000;
    uint64 internal constant EPOCH = 500;
    uint128 internal constant MAX_PRICE = 1e15;
    uint256 internal constant LEVEL = 1;
    uint64 internal constant WINDOW = 100;

    function setUpChain(uint256 nProviders, uint256 nWitnesses) internal {
        vm.warp(1_700_000_000);
        vm.roll(100);
        token = new Token(address(this), 1e27);
        registry = new Registry(IERC20(address(token)), 1000, 100e18, 3);
        settlement = new Settlement(IERC20(address(token)), registry, WINDOW, WINDOW, 1e18, 10e18);
        pool = new WitnessPool(
            IERC20(address(token)),
            registry,
            WitnessPool.Params({
                seedDelay: 1,
                commitWindow: WINDOW,
                revealWindow: WINDOW,
                drawTimeout: 1000,
                rewardUnit: uint128(UNIT),
                reputationLoss: 1,
                providerSlashBps: 5000,
                customerShareBps: 5000,
                witnessShareBps: 2500
            })
        );
        market = new Market(
            IERC20(address(token)),
            registry,
            settlement,
            pool,
            marketParams()
        );
        log_ = new AttestationLog();
        registry.wire(address(market), address(settlement), address(pool));
        settlement.setMarket(address(market));
        pool.setMarket(address(market));
        market.addLevel(IMarket.Level(1, 512, 0, 1, 0, "sim-small"));

        customer = vm.addr(CUSTOMER_KEY);
        _fund(customer, 1e24);
        for (uint256 i = 0; i < nProviders; ++i) addProvider();
        for (uint256 i = 0; i < nWitnesses; ++i) addWitness();
    }

    /// @dev The Market parameters of TEST_PARAMS.
    function marketParams() internal pure returns (Market.Params memory) {
        return Market.Params({
            minBidBond: uint128(MIN_BOND),
            bidBondBps: 500,
            minProviderStake: uint128(MIN_PROVIDER_STAKE),
            revealWindow: WINDOW,
            confirmWindow: WINDOW,
            deployWindow: WINDOW,
            minBiddingWindow: 10,
            maxBiddingWindow: 7 days,
            maxDuration: 365 days,
            minEpochLength: 200,
            staleGrace: 300,
            deployFeeBps: 500
        });
    }

    function _fund(address who, uint256 amount) internal {
        token.transfer(who, amount);
        address[3] memory spenders = [address(registry), address(market), address(settlement)];
        vm.startPrank(who);
        for (uint256 i = 0; i < 3; ++i) token.approve(spenders[i], type(uint256).max);
        vm.stopPrank();
    }

    function enclaveKey(uint256 i) internal pure returns (uint256) {
        return ENCLAVE_KEY_BASE + i;
    }

    /// @dev The enclave's proof of possession for `provider`'s registration.
    function registrationProof(uint256 key, address provider, bytes32 evidenceHash, string memory endpoint)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, registry.registrationDigest(provider, evidenceHash, endpoint));
        return abi.encodePacked(r, s, v);
    }

    function addProvider() internal returns (uint256 id) {
        uint256 i = providers.length;
        address p = address(uint160(0xA000 + i));
        _fund(p, 1e22);
        bytes32 evidenceHash = keccak256(abi.encode("evidence", i));
        bytes memory proof = registrationProof(enclaveKey(i), p, evidenceHash, "127.0.0.1:7000");
        vm.prank(p);
        id = registry.registerExecutor(
            IRegistry.ExecutorSpec({
                enclave: vm.addr(enclaveKey(i)),
                cpuCores: 2,
                memoryMiB: 1024,
                gpuMemoryMiB: 0,
                gflops: 50,
                teeType: IRegistry.TeeType.Simulated,
                evidenceHash: evidenceHash,
                endpoint: "127.0.0.1:7000"
            }),
            PROVIDER_STAKE,
            proof
        );
        providers.push(p);
        executorIds.push(id);
    }

    function addWitness() internal returns (address w) {
        w = address(uint160(0xB000 + witnesses.length));
        _fund(w, 1e22);
        vm.prank(w);
        registry.registerWitness(WITNESS_STAKE);
        witnesses.push(w);
    }

    function orderParams(uint8 size, uint8 majority) internal pure returns (IMarket.OrderParams memory) {
        return IMarket.OrderParams({
            levelId: uint32(LEVEL),
            duration: DURATION,
            maxUnitPrice: MAX_PRICE,
            biddingWindow: 50,
            committeeSize: size,
            majority: majority,
            availabilityBps: 9900,
            p95LatencyMs: 500,
            epochLength: EPOCH
        });
    }

    function postOrder(uint8 size, uint8 majority) internal returns (uint256 orderId) {
        vm.prank(customer);
        orderId = market.postOrder(orderParams(size, majority));
    }

    function commitBid(uint256 orderId, uint256 providerIdx, uint128 price, bytes32 salt) internal returns (uint256) {
        address p = providers[providerIdx];
        bytes32 c = market.bidCommitment(orderId, p, price, 50, salt);
        vm.prank(p);
        return market.commitBid(orderId, executorIds[providerIdx], c);
    }

    function revealBid(uint256 orderId, uint256 providerIdx, uint256 bidIndex, uint128 price, bytes32 salt) internal {
        vm.prank(providers[providerIdx]);
        market.revealBid(orderId, bidIndex, price, 50, salt);
    }

    function toRevealPhase(uint256 orderId) internal {
        vm.warp(market.order(orderId).bidDeadline);
    }

    function toClose(uint256 orderId) internal {
        vm.warp(market.order(orderId).revealDeadline);
        market.closeBidding(orderId);
    }

    /// @dev One bid by provider 0 at `price`, through to Fulfilling; returns the lease (= order) id.
    function leaseThrough(uint8 size, uint8 majority, uint128 price) internal returns (uint256 orderId) {
        orderId = postOrder(size, majority);
        commitBid(orderId, 0, price, bytes32("s0"));
        toRevealPhase(orderId);
        revealBid(orderId, 0, 0, price, bytes32("s0"));
        toClose(orderId);
        vm.prank(providers[0]);
        market.confirmLease(orderId, "deployment-0");
        vm.prank(customer);
        market.startLease(orderId);
    }

    /// @dev Requests the round of the lease's next unrequested epoch (warping to its start if needed) and draws it.
    function requestAndDraw(uint256 leaseId) internal returns (uint256 roundId, address[] memory members) {
        IMarket.Order memory o = market.order(leaseId);
        uint64 epochStart = o.startedAt + uint64(o.nextRequest) * o.epochLength;
        if (block.timestamp < epochStart) vm.warp(epochStart);
        roundId = market.requestRound(leaseId);
        members = draw(roundId);
    }

    function draw(uint256 roundId) internal returns (address[] memory) {
        vm.roll(block.number + 2);
        return pool.drawCommittee(roundId);
    }

    function evidenceOf(address w) internal pure returns (bytes32) {
        return keccak256(abi.encode("bundle", w));
    }

    function saltOf(address w) internal pure returns (bytes32) {
        return keccak256(abi.encode(w));
    }

    function commitOf(uint256 roundId, address w, IWitnessPool.Verdict v, uint64 t) internal view returns (bytes32) {
        return pool.verdictCommitment(roundId, w, v, t, evidenceOf(w), saltOf(w));
    }

    /// @dev Every member commits and reveals `verdicts[i]` at time `t`; `reveals` members reveal; finalizes.
    function playRound(uint256 roundId, address[] memory members, IWitnessPool.Verdict[] memory verdicts, uint64 t, uint256 reveals)
        internal
        returns (IWitnessPool.Verdict)
    {
        for (uint256 i = 0; i < members.length; ++i) {
            bytes32 c = commitOf(roundId, members[i], verdicts[i], t);
            vm.prank(members[i]);
            pool.commitVerdict(roundId, c);
        }
        vm.warp(pool.round(roundId).commitDeadline);
        for (uint256 i = 0; i < reveals && i < members.length; ++i) {
            vm.prank(members[i]);
            pool.revealVerdict(roundId, verdicts[i], t, evidenceOf(members[i]), saltOf(members[i]));
        }
        vm.warp(pool.revealDeadline(roundId));
        return pool.finalize(roundId);
    }

    /// @dev All `n` members report `v`.
    function allSay(uint256 n, IWitnessPool.Verdict v) internal pure returns (IWitnessPool.Verdict[] memory vs) {
        vs = new IWitnessPool.Verdict[](n);
        for (uint256 i = 0; i < n; ++i) vs[i] = v;
    }

    /// @dev Runs every epoch of a Fulfilling lease with all members reporting Ok; ends Finished.
    function runAllEpochsOk(uint256 leaseId) internal {
        while (market.order(leaseId).state == IMarket.State.Fulfilling) {
            (uint256 r, address[] memory m) = requestAndDraw(leaseId);
            playRound(r, m, allSay(m.length, IWitnessPool.Verdict.Ok), uint64(block.timestamp), m.length);
        }
    }

    function signVoucher(uint256 key, ISettlement.Voucher memory v) internal view returns (bytes memory) {
        (uint8 rv, bytes32 r, bytes32 s) = vm.sign(key, settlement.voucherDigest(v));
        return abi.encodePacked(r, s, rv);
    }

    function signReceipt(uint256 key, ISettlement.Receipt memory rc) internal view returns (bytes memory) {
        (uint8 rv, bytes32 r, bytes32 s) = vm.sign(key, settlement.receiptDigest(rc));
        return abi.encodePacked(r, s, rv);
    }

    /// @dev Tokens every contract accounts for: supply must equal balances of everyone else plus these.
    function heldByContracts() internal view returns (uint256) {
        return market.totalHeld() + token.balanceOf(address(settlement)) + registry.totalStaked()
            + token.balanceOf(address(pool));
    }
}
