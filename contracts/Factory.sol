// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Factory — deploys the creation code it is given, one new contract
///        per call (CREATE, so each at the factory's next nonce): spamoor's
///        deployment spam as a scenario step.
contract Factory {
    event Deployed(address indexed at);

    /// Runs `code` as creation code; reverts where it deploys nothing.
    function deploy(bytes calldata code) external returns (address at) {
        bytes memory init = code;
        assembly {
            at := create(0, add(init, 0x20), mload(init))
        }
        require(at != address(0), "create failed");
        emit Deployed(at);
    }
}
