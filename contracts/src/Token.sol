// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IToken} from "./interfaces/IToken.sol";

/// @title Token
/// @notice See {IToken}. The deployer receives the initial supply (test faucets, genesis
/// distribution) and fixes the minter once, after which it has no special power.
contract Token is ERC20, IToken {
    address private immutable _admin;
    address public minter;

    constructor(address initialHolder, uint256 initialSupply) ERC20("defaas", "DFS") {
        _admin = msg.sender;
        if (initialSupply > 0) _mint(initialHolder, initialSupply);
    }

    /// @inheritdoc IToken
    function setMinter(address minter_) external {
        if (msg.sender != _admin) revert TokenUnauthorizedAdmin(msg.sender);
        if (minter != address(0)) revert TokenMinterAlreadySet(minter);
        if (minter_ == address(0)) revert TokenZeroMinter();
        minter = minter_;
        emit MinterSet(minter_);
    }

    /// @inheritdoc IToken
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert TokenUnauthorizedMinter(msg.sender);
        _mint(to, amount);
    }

    /// @inheritdoc IToken
    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }
}
