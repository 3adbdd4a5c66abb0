// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title defaas payment and stake token
/// @notice ERC-20 used for escrow, stakes, bonds and payments. New tokens are minted only by the
/// witness pool (witness rewards, ARCHITECTURE.md "Committee"); anyone may burn their own tokens.
interface IToken is IERC20 {
    /// @notice The caller is not the minter.
    error TokenUnauthorizedMinter(address caller);
    /// @notice The minter was already fixed; it can be set only once.
    error TokenMinterAlreadySet(address minter);
    /// @notice The caller may not set the minter.
    error TokenUnauthorizedAdmin(address caller);
    /// @notice The minter is the zero address.
    error TokenZeroMinter();

    /// @notice The minter was fixed to `minter`.
    event MinterSet(address indexed minter);

    /// @return The only address allowed to mint (the witness pool).
    function minter() external view returns (address);

    /// @notice Fixes the minter once; callable only by the deployer.
    function setMinter(address minter_) external;

    /// @notice Mints `amount` to `to`; only the minter.
    function mint(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's tokens.
    function burn(uint256 amount) external;
}
