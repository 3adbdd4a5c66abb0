// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IToken} from "./interfaces/IToken.sol";

/// @title Token
/// @notice See {IToken}. The whole supply goes to `initialHolder` at deployment (test faucets, genesis
/// distribution); there is no minter and no way to mint afterwards.
contract Token is ERC20, IToken {
    constructor(address initialHolder, uint256 initialSupply) ERC20("defaas", "DFS") {
        if (initialSupply > 0) _mint(initialHolder, initialSupply);
    }

    /// @inheritdoc IToken
    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }
}
