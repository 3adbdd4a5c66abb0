// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Registry} from "../src/Registry.sol";
import {Settlement} from "../src/Settlement.sol";
import {IRegistry} from "../src/interfaces/IRegistry.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {TestBase} from "./Vm.sol";

/// @dev The one JSON cheatcode these vectors need beyond Vm.sol (same cheatcode address).
interface VmJsonString {
    function parseJsonString(string calldata json, string calldata key) external pure returns (string memory);
}

/// @notice Checks the shared vectors generated from protocol/typed-data.ts, protocol/registration.ts and
/// protocol/probe-grant.ts
/// (test/contracts-typed-data.test.ts writes contracts/test/typed-data.vectors.json).
contract TypedDataTest is TestBase {
    string internal json;
    bytes internal code;
    bytes internal registryCode;

    function setUp() public {
        json = vm.readFile("test/typed-data.vectors.json");
        Settlement s = new Settlement(IERC20(address(1)), IRegistry(address(2)), 1, 1, 0, 0);
        code = address(s).code;
        Registry r = new Registry(IERC20(address(1)), 1, 1, 1);
        registryCode = address(r).code;
    }

    function _key(string memory list, uint256 i, string memory field) internal pure returns (string memory) {
        return string.concat(".", list, "[", vm.toString(i), "].", field);
    }

    /// @dev Puts `runtime` at the vector's verifying contract on the vector's chain.
    function _etchAt(string memory list, uint256 i, bytes memory runtime) internal returns (address where) {
        vm.chainId(vm.parseJsonUint(json, _key(list, i, "chainId")));
        where = vm.parseJsonAddress(json, _key(list, i, "verifyingContract"));
        vm.etch(where, runtime);
    }

    function _at(string memory list, uint256 i) internal returns (ISettlement s) {
        s = ISettlement(_etchAt(list, i, code));
    }

    function test_vectors_voucherDigests() public {
        uint256 n = vm.parseJsonUint(json, ".voucherCount");
        address customer = vm.parseJsonAddress(json, ".customer");
        for (uint256 i = 0; i < n; ++i) {
            ISettlement s = _at("vouchers", i);
            ISettlement.Voucher memory v = ISettlement.Voucher({
                leaseId: vm.parseJsonUint(json, _key("vouchers", i, "leaseId")),
                firstNonce: uint64(vm.parseJsonUint(json, _key("vouchers", i, "firstNonce"))),
                lastNonce: uint64(vm.parseJsonUint(json, _key("vouchers", i, "lastNonce"))),
                requestHead: vm.parseJsonBytes32(json, _key("vouchers", i, "requestHead")),
                cumulativeAmount: vm.parseJsonUint(json, _key("vouchers", i, "cumulativeAmount")),
                deadline: uint64(vm.parseJsonUint(json, _key("vouchers", i, "deadline")))
            });
            bytes32 digest = s.voucherDigest(v);
            assertEq(digest, vm.parseJsonBytes32(json, _key("vouchers", i, "digest")), "voucher digest");
            bytes memory sig = vm.parseJsonBytes(json, _key("vouchers", i, "signature"));
            assertEq(ECDSA.recover(digest, sig), customer, "voucher signer");
        }
    }

    function test_vectors_receiptDigests() public {
        uint256 n = vm.parseJsonUint(json, ".receiptCount");
        address enclave = vm.parseJsonAddress(json, ".enclave");
        for (uint256 i = 0; i < n; ++i) {
            ISettlement s = _at("receipts", i);
            ISettlement.Receipt memory r = ISettlement.Receipt({
                leaseId: vm.parseJsonUint(json, _key("receipts", i, "leaseId")),
                firstNonce: uint64(vm.parseJsonUint(json, _key("receipts", i, "firstNonce"))),
                lastNonce: uint64(vm.parseJsonUint(json, _key("receipts", i, "lastNonce"))),
                recordHead: vm.parseJsonBytes32(json, _key("receipts", i, "recordHead")),
                evidenceHash: vm.parseJsonBytes32(json, _key("receipts", i, "evidenceHash")),
                startedAt: uint64(vm.parseJsonUint(json, _key("receipts", i, "startedAt"))),
                finishedAt: uint64(vm.parseJsonUint(json, _key("receipts", i, "finishedAt")))
            });
            bytes32 digest = s.receiptDigest(r);
            assertEq(digest, vm.parseJsonBytes32(json, _key("receipts", i, "digest")), "receipt digest");
            bytes memory sig = vm.parseJsonBytes(json, _key("receipts", i, "signature"));
            assertEq(ECDSA.recover(digest, sig), enclave, "receipt signer");
        }
    }

    function test_vectors_chainHeads() public {
        uint256 n = vm.parseJsonUint(json, ".batchCount");
        ISettlement s = ISettlement(address(new Settlement(IERC20(address(1)), IRegistry(address(2)), 1, 1, 0, 0)));
        for (uint256 b = 0; b < n; ++b) {
            string memory base = string.concat(".batches[", vm.toString(b), "]");
            uint256 first = vm.parseJsonUint(json, string.concat(base, ".firstNonce"));
            uint256 last = vm.parseJsonUint(json, string.concat(base, ".lastNonce"));
            ISettlement.CallRecord[] memory rs = new ISettlement.CallRecord[](last - first + 1);
            for (uint256 k = 0; k < rs.length; ++k) {
                string memory rk = string.concat(base, ".records[", vm.toString(k), "]");
                rs[k] = ISettlement.CallRecord({
                    nonce: uint64(vm.parseJsonUint(json, string.concat(rk, ".nonce"))),
                    functionHash: vm.parseJsonBytes32(json, string.concat(rk, ".functionHash")),
                    inputHash: vm.parseJsonBytes32(json, string.concat(rk, ".inputHash")),
                    outputHash: vm.parseJsonBytes32(json, string.concat(rk, ".outputHash")),
                    usage: uint64(vm.parseJsonUint(json, string.concat(rk, ".usage"))),
                    price: vm.parseJsonUint(json, string.concat(rk, ".price"))
                });
            }
            (bytes32 requestHead, bytes32 recordHead) = s.chainHeads(rs);
            assertEq(requestHead, vm.parseJsonBytes32(json, string.concat(base, ".requestHead")), "request head");
            assertEq(recordHead, vm.parseJsonBytes32(json, string.concat(base, ".recordHead")), "record head");
        }
    }

    /// Settlement.probeGrantDigest equals probe-grant.ts for every vector (edge values, a zero witness),
    /// and the customer's signature recovers.
    function test_vectors_probeGrantDigests() public {
        uint256 n = vm.parseJsonUint(json, ".probeGrantCount");
        assertTrue(n > 0, "probe grant vectors");
        address customer = vm.parseJsonAddress(json, ".customer");
        for (uint256 i = 0; i < n; ++i) {
            ISettlement s = _at("probeGrants", i);
            ISettlement.ProbeGrant memory g = ISettlement.ProbeGrant({
                leaseId: vm.parseJsonUint(json, _key("probeGrants", i, "leaseId")),
                witness: vm.parseJsonAddress(json, _key("probeGrants", i, "witness")),
                epoch: uint32(vm.parseJsonUint(json, _key("probeGrants", i, "epoch"))),
                maxCalls: uint32(vm.parseJsonUint(json, _key("probeGrants", i, "maxCalls"))),
                maxAmount: vm.parseJsonUint(json, _key("probeGrants", i, "maxAmount")),
                expiry: uint64(vm.parseJsonUint(json, _key("probeGrants", i, "expiry")))
            });
            bytes32 digest = s.probeGrantDigest(g);
            assertEq(digest, vm.parseJsonBytes32(json, _key("probeGrants", i, "digest")), "probe grant digest");
            bytes memory sig = vm.parseJsonBytes(json, _key("probeGrants", i, "signature"));
            assertEq(ECDSA.recover(digest, sig), customer, "probe grant signer");
        }
    }

    /// The enclave's proof of possession: Registry.registrationDigest equals registration.ts for every
    /// vector (empty, non-ASCII and long endpoints, zero provider), and the enclave's signature recovers.
    function test_vectors_registrationDigests() public {
        uint256 n = vm.parseJsonUint(json, ".registrationCount");
        assertTrue(n > 0, "registration vectors");
        address enclave = vm.parseJsonAddress(json, ".enclave");
        for (uint256 i = 0; i < n; ++i) {
            IRegistry r = IRegistry(_etchAt("registrations", i, registryCode));
            bytes32 digest = r.registrationDigest(
                vm.parseJsonAddress(json, _key("registrations", i, "provider")),
                vm.parseJsonBytes32(json, _key("registrations", i, "evidenceHash")),
                VmJsonString(address(vm)).parseJsonString(json, _key("registrations", i, "endpoint"))
            );
            assertEq(digest, vm.parseJsonBytes32(json, _key("registrations", i, "digest")), "registration digest");
            bytes memory sig = vm.parseJsonBytes(json, _key("registrations", i, "signature"));
            assertEq(ECDSA.recover(digest, sig), enclave, "registration signer");
        }
    }
}
