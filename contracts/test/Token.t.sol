// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Token} from "../src/Token.sol";
import {IToken} from "../src/interfaces/IToken.sol";
import {TestBase} from "./Vm.sol";

contract TokenTest is TestBase {
    Token internal token;
    address internal constant MINTER = address(0x111);

    function setUp() public {
        token = new Token(address(this), 1000);
    }

    function test_constructor_mintsInitialSupply() public view {
        assertEq(token.totalSupply(), 1000, "supply");
        assertEq(token.balanceOf(address(this)), 1000, "holder");
    }

    function test_setMinter_onlyOnceByDeployer() public {
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(IToken.TokenUnauthorizedAdmin.selector, address(0xBAD)));
        token.setMinter(MINTER);
        vm.expectRevert(IToken.TokenZeroMinter.selector);
        token.setMinter(address(0));
        token.setMinter(MINTER);
        assertEq(token.minter(), MINTER, "minter");
        vm.expectRevert(abi.encodeWithSelector(IToken.TokenMinterAlreadySet.selector, MINTER));
        token.setMinter(address(0x222));
    }

    function test_mint_onlyMinter() public {
        token.setMinter(MINTER);
        vm.expectRevert(abi.encodeWithSelector(IToken.TokenUnauthorizedMinter.selector, address(this)));
        token.mint(address(this), 1);
        vm.prank(MINTER);
        token.mint(address(0x333), 5);
        assertEq(token.balanceOf(address(0x333)), 5, "minted");
        assertEq(token.totalSupply(), 1005, "supply");
    }

    function test_burn_reducesSupply() public {
        token.burn(400);
        assertEq(token.totalSupply(), 600, "supply");
        vm.expectRevert();
        token.burn(601);
    }
}
