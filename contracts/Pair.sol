// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice The part of `Token` a pair calls.
interface IPairToken {
    function balanceOf(address holder) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
}

/// @title Pair — a Uniswap-V2-style constant-product pair over two ERC-20s.
/// @notice Written from scratch after Uniswap V2's `UniswapV2Pair` (same
///         formulas: 0.3% fee, reserves read from balances, the K check,
///         `MINIMUM_LIQUIDITY` locked on the first mint, a reentrancy lock),
///         without the price oracle, flash swaps, `burn` or LP transfers.
///         Liquidity: send both tokens to the pair, then call `mint(to)`.
///         Swaps: `swap(amount0Out, amount1Out, to)` after sending the input
///         (V2's core interface), or in one transaction without an approval
///         through `Token.transferAndCall(pair, amountIn, abi.encode(minOut))`
///         (ERC-677), which lands in `onTokenTransfer`.
/// @dev The storage layout is part of the interface (the load generator
///      builds access lists from it). Do not reorder.
///        slot 0  reserve0 (uint112, low bits) | reserve1 (uint112) << 112 | blockTimestampLast (uint32) << 224
///        slot 1  unlocked     uint256 (1; 0 while a swap or mint runs)
///        slot 2  totalSupply  uint256 (liquidity shares)
///        slot 3  balanceOf    mapping(address => uint256) (liquidity shares)
///      `token0` and `token1` are immutables (in the code, not in storage).
contract Pair {
    uint256 public constant MINIMUM_LIQUIDITY = 1000;

    address public immutable token0;
    address public immutable token1;

    uint112 private reserve0;
    uint112 private reserve1;
    uint32 private blockTimestampLast;
    uint256 private unlocked = 1;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Mint(address indexed sender, uint256 amount0, uint256 amount1);
    event Swap(
        address indexed sender,
        uint256 amount0In,
        uint256 amount1In,
        uint256 amount0Out,
        uint256 amount1Out,
        address indexed to
    );
    event Sync(uint112 reserve0, uint112 reserve1);

    error Locked();
    error Forbidden();
    error InvalidTo();
    error Overflow();
    error InsufficientLiquidity();
    error InsufficientLiquidityMinted();
    error InsufficientInputAmount();
    error InsufficientOutputAmount();
    error K();

    modifier lock() {
        if (unlocked != 1) revert Locked();
        unlocked = 0;
        _;
        unlocked = 1;
    }

    constructor(address token0_, address token1_) {
        token0 = token0_;
        token1 = token1_;
    }

    function getReserves() public view returns (uint112, uint112, uint32) {
        return (reserve0, reserve1, blockTimestampLast);
    }

    /// @notice V2's quote: what `amountIn` buys against the given reserves.
    function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
        public
        pure
        returns (uint256)
    {
        if (amountIn == 0) revert InsufficientInputAmount();
        if (reserveIn == 0 || reserveOut == 0) revert InsufficientLiquidity();
        uint256 amountInWithFee = amountIn * 997;
        return (amountInWithFee * reserveOut) / (reserveIn * 1000 + amountInWithFee);
    }

    /// @notice Mints liquidity shares for the tokens sent since the last update.
    function mint(address to) external lock returns (uint256 liquidity) {
        (uint112 r0, uint112 r1,) = getReserves();
        uint256 balance0 = IPairToken(token0).balanceOf(address(this));
        uint256 balance1 = IPairToken(token1).balanceOf(address(this));
        uint256 amount0 = balance0 - r0;
        uint256 amount1 = balance1 - r1;
        uint256 supply = totalSupply;
        if (supply == 0) {
            liquidity = _sqrt(amount0 * amount1) - MINIMUM_LIQUIDITY;
            _mintShares(address(0), MINIMUM_LIQUIDITY);
        } else {
            liquidity = _min((amount0 * supply) / r0, (amount1 * supply) / r1);
        }
        if (liquidity == 0) revert InsufficientLiquidityMinted();
        _mintShares(to, liquidity);
        _update(balance0, balance1);
        emit Mint(msg.sender, amount0, amount1);
    }

    /// @notice V2's swap: pays out, then checks the input already sent keeps K.
    function swap(uint256 amount0Out, uint256 amount1Out, address to) external lock {
        _swap(amount0Out, amount1Out, to);
    }

    /// @notice ERC-677 hook: the token just sent `value` here for `from`;
    ///         swaps all of the input for the other token, paid to `from`.
    ///         `data` is empty or `abi.encode(uint256 minOut)`.
    function onTokenTransfer(address from, uint256 value, bytes calldata data)
        external
        lock
        returns (bool)
    {
        value; // the input is read from the balance, as V2 does
        bool zeroForOne = msg.sender == token0;
        if (!zeroForOne && msg.sender != token1) revert Forbidden();
        (uint112 r0, uint112 r1,) = getReserves();
        (uint256 reserveIn, uint256 reserveOut) = zeroForOne ? (r0, r1) : (r1, r0);
        uint256 amountIn = IPairToken(msg.sender).balanceOf(address(this)) - reserveIn;
        uint256 amountOut = getAmountOut(amountIn, reserveIn, reserveOut);
        uint256 minOut = data.length >= 32 ? abi.decode(data, (uint256)) : 0;
        if (amountOut < minOut) revert InsufficientOutputAmount();
        if (zeroForOne) {
            _swap(0, amountOut, from);
        } else {
            _swap(amountOut, 0, from);
        }
        return true;
    }

    /// @notice Sets the reserves to the balances.
    function sync() external lock {
        _update(IPairToken(token0).balanceOf(address(this)), IPairToken(token1).balanceOf(address(this)));
    }

    function _swap(uint256 amount0Out, uint256 amount1Out, address to) private {
        if (amount0Out == 0 && amount1Out == 0) revert InsufficientOutputAmount();
        (uint112 r0, uint112 r1,) = getReserves();
        if (amount0Out >= r0 || amount1Out >= r1) revert InsufficientLiquidity();
        if (to == token0 || to == token1) revert InvalidTo();
        if (amount0Out > 0) IPairToken(token0).transfer(to, amount0Out);
        if (amount1Out > 0) IPairToken(token1).transfer(to, amount1Out);
        uint256 balance0 = IPairToken(token0).balanceOf(address(this));
        uint256 balance1 = IPairToken(token1).balanceOf(address(this));
        uint256 amount0In = balance0 > r0 - amount0Out ? balance0 - (r0 - amount0Out) : 0;
        uint256 amount1In = balance1 > r1 - amount1Out ? balance1 - (r1 - amount1Out) : 0;
        if (amount0In == 0 && amount1In == 0) revert InsufficientInputAmount();
        uint256 balance0Adjusted = balance0 * 1000 - amount0In * 3;
        uint256 balance1Adjusted = balance1 * 1000 - amount1In * 3;
        if (balance0Adjusted * balance1Adjusted < uint256(r0) * uint256(r1) * 1000 ** 2) revert K();
        _update(balance0, balance1);
        emit Swap(msg.sender, amount0In, amount1In, amount0Out, amount1Out, to);
    }

    function _update(uint256 balance0, uint256 balance1) private {
        if (balance0 > type(uint112).max || balance1 > type(uint112).max) revert Overflow();
        reserve0 = uint112(balance0);
        reserve1 = uint112(balance1);
        blockTimestampLast = uint32(block.timestamp);
        emit Sync(reserve0, reserve1);
    }

    function _mintShares(address to, uint256 value) private {
        totalSupply += value;
        balanceOf[to] += value;
    }

    function _min(uint256 x, uint256 y) private pure returns (uint256) {
        return x < y ? x : y;
    }

    function _sqrt(uint256 y) private pure returns (uint256 z) {
        if (y > 3) {
            z = y;
            uint256 x = y / 2 + 1;
            while (x < z) {
                z = x;
                x = (y / x + x) / 2;
            }
        } else if (y != 0) {
            z = 1;
        }
    }
}
