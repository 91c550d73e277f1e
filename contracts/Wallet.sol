// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Wallet
/// @notice A minimal contract wallet: holds ETH and tokens, and only its
///         owner makes it call out. Tests fork a chain holding one and send
///         from it by impersonation (an account with code as the sender).
contract Wallet {
    address public owner;

    event Executed(address indexed to, uint256 value, bytes data);

    error NotOwner();
    error CallFailed(bytes reason);

    constructor(address owner_) payable {
        owner = owner_;
    }

    receive() external payable {}

    /// @notice Calls `to` with `value` and `data`, as the owner asks.
    function execute(address to, uint256 value, bytes calldata data)
        external
        returns (bytes memory result)
    {
        if (msg.sender != owner) revert NotOwner();
        bool ok;
        (ok, result) = to.call{value: value}(data);
        if (!ok) revert CallFailed(result);
        emit Executed(to, value, data);
    }
}
