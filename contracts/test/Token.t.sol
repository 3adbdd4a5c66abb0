// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Token} from "../src/Token.sol";
import {TestBase} from "./Vm.sol";

contract TokenTest is TestBase {
    Token internal token;
    address internal constant HOLDER = address(0x401D);

    function setUp() public {
        token = new Token(HOLDER, 1000);
    }

    function test_constructor_mintsInitialSupplyToTheHolder() public {
        assertEq(token.totalSupply(), 1000, "supply");
        assertEq(token.balanceOf(HOLDER), 1000, "holder");
        assertEq(token.balanceOf(address(this)), 0, "deployer gets nothing");
        assertEq(keccak256(bytes(token.name())), keccak256("defaas"), "name");
        assertEq(keccak256(bytes(token.symbol())), keccak256("DFS"), "symbol");
        assertEq(token.decimals(), 18, "decimals");
        Token empty = new Token(HOLDER, 0);
        assertEq(empty.totalSupply(), 0, "zero supply");
    }

    /// @notice Attack: the party allowed to mint (the witness pool, through rewards it computed)
    /// minted without bound and diluted every holder; on the old rules the token had a minter. Now
    /// the supply is fixed at deployment: there is no `mint` and no `setMinter`, for the deployer
    /// or anyone else, and the supply only goes down (burns).
    function test_attack_noMinting() public {
        address[2] memory callers = [address(this), HOLDER];
        for (uint256 i = 0; i < 2; ++i) {
            vm.prank(callers[i]);
            (bool ok,) = address(token).call(abi.encodeWithSignature("mint(address,uint256)", callers[i], 1e30));
            assertTrue(!ok, "no mint");
            vm.prank(callers[i]);
            (ok,) = address(token).call(abi.encodeWithSignature("setMinter(address)", callers[i]));
            assertTrue(!ok, "no setMinter");
        }
        assertEq(token.totalSupply(), 1000, "supply unchanged");
    }

    function test_burn_reducesBalanceAndSupply() public {
        vm.prank(HOLDER);
        token.burn(400);
        assertEq(token.totalSupply(), 600, "supply");
        assertEq(token.balanceOf(HOLDER), 600, "balance");
        vm.prank(HOLDER);
        vm.expectRevert();
        token.burn(601);
        // only one's own tokens
        vm.expectRevert();
        token.burn(1);
    }

    function test_transfer_andAllowance() public {
        vm.prank(HOLDER);
        token.transfer(address(this), 10);
        assertEq(token.balanceOf(address(this)), 10, "transferred");
        vm.prank(HOLDER);
        token.approve(address(this), 5);
        token.transferFrom(HOLDER, address(0xB0B), 5);
        assertEq(token.balanceOf(address(0xB0B)), 5, "pulled");
        vm.expectRevert();
        token.transferFrom(HOLDER, address(0xB0B), 1);
    }

    function testFuzz_burnKeepsSupplyEqualToBalances(uint256 supply, uint256 moved, uint256 burned) public {
        supply = bound(supply, 0, type(uint128).max);
        Token t = new Token(HOLDER, supply);
        moved = bound(moved, 0, supply);
        vm.prank(HOLDER);
        t.transfer(address(this), moved);
        burned = bound(burned, 0, moved);
        t.burn(burned);
        assertEq(t.totalSupply(), supply - burned, "supply");
        assertEq(t.balanceOf(HOLDER) + t.balanceOf(address(this)), t.totalSupply(), "balances sum to supply");
    }
}
