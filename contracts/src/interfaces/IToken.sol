// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title defaas payment and stake token
/// @notice ERC-20 used for escrow, stakes, bonds and payments. The whole supply is minted once, at
/// deployment; nothing mints afterwards (witness rewards are paid from the fees customers pay with
/// their orders). Anyone may burn their own tokens (slashed stake that is not paid out is burned).
interface IToken is IERC20 {
    /// @notice Burns `amount` of the caller's tokens.
    function burn(uint256 amount) external;
}
