// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Pool
/// @notice A constant-product AMM pool (x * y = k, 0.3% fee) over two
/// internal token balances: the smallest contract whose swaps all touch one
/// shared state (the reserves), for the banking stage's hot-pool workload.
/// Storage layout (lanes declares these slots in access lists):
///   slot 0: reserve0 (uint128, low half) | reserve1 (uint128, high half)
///   slot 1: mapping(address => uint256) balance0
///   slot 2: mapping(address => uint256) balance1
contract Pool {
    uint128 public reserve0;
    uint128 public reserve1;
    mapping(address => uint256) public balance0;
    mapping(address => uint256) public balance1;

    event Swap(address indexed trader, bool zeroForOne, uint256 amountIn, uint256 amountOut);

    error InsufficientBalance(uint256 balance, uint256 needed);
    error InsufficientOutput();

    /// @notice Swaps `amountIn` of token 0 for token 1 (`zeroForOne`) or back.
    function swap(uint256 amountIn, bool zeroForOne) external returns (uint256 amountOut) {
        (uint256 rIn, uint256 rOut) = zeroForOne ? (uint256(reserve0), uint256(reserve1)) : (uint256(reserve1), uint256(reserve0));
        mapping(address => uint256) storage fromBal = zeroForOne ? balance0 : balance1;
        mapping(address => uint256) storage toBal = zeroForOne ? balance1 : balance0;
        uint256 have = fromBal[msg.sender];
        if (have < amountIn) revert InsufficientBalance(have, amountIn);
        uint256 inWithFee = amountIn * 997;
        amountOut = (inWithFee * rOut) / (rIn * 1000 + inWithFee);
        if (amountOut == 0) revert InsufficientOutput();
        fromBal[msg.sender] = have - amountIn;
        toBal[msg.sender] += amountOut;
        (rIn, rOut) = (rIn + amountIn, rOut - amountOut);
        (reserve0, reserve1) = zeroForOne ? (uint128(rIn), uint128(rOut)) : (uint128(rOut), uint128(rIn));
        emit Swap(msg.sender, zeroForOne, amountIn, amountOut);
    }
}
