// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice What `Token.transferAndCall` calls on its receiver (ERC-677).
interface ITokenReceiver {
    function onTokenTransfer(address from, uint256 value, bytes calldata data) external returns (bool);
}

/// @title Token — a minimal ERC-20 for lanes tests and benchmarks.
/// @notice Written from scratch (no OpenZeppelin). Reverts use the same custom
///         errors as OpenZeppelin Contracts 5.
/// @dev TEST TOKEN ONLY: `mint` is callable by anyone so that load generators
///      can fund holders. Never deploy this anywhere value is at stake.
///
///      The storage layout is part of the contract's interface: the Rust tests
///      compute slots from it to build EIP-2930 access lists. Do not reorder.
///        slot 0  balanceOf    mapping(address => uint256)
///        slot 1  allowance    mapping(address => mapping(address => uint256))
///        slot 2  totalSupply  uint256
///        slot 3  name         string
///        slot 4  symbol       string
contract Token {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error ERC20InvalidReceiver(address receiver);

    constructor(string memory name_, string memory symbol_, uint256 initialSupply) {
        name = name_;
        symbol = symbol_;
        _mint(msg.sender, initialSupply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) {
                revert ERC20InsufficientAllowance(msg.sender, allowed, value);
            }
            unchecked {
                allowance[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    /// @notice ERC-677: transfers `value` to the contract `to`, then calls
    ///         `to.onTokenTransfer(msg.sender, value, data)` in the same
    ///         transaction, so a pair can swap without an approval first.
    ///         A revert in the receiver reverts the transfer.
    function transferAndCall(address to, uint256 value, bytes calldata data) external returns (bool) {
        _transfer(msg.sender, to, value);
        if (!ITokenReceiver(to).onTokenTransfer(msg.sender, value, data)) {
            revert ERC20InvalidReceiver(to);
        }
        return true;
    }

    /// @notice Mints `amount` to `to`. Open to anyone: this is a test token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Mints `amount` to each of `to`. Open to anyone: this is a test token.
    function mintBatch(address[] calldata to, uint256 amount) external {
        for (uint256 i = 0; i < to.length; ++i) {
            _mint(to[i], amount);
        }
    }

    function _transfer(address from, address to, uint256 value) private {
        if (to == address(0)) {
            revert ERC20InvalidReceiver(address(0));
        }
        uint256 fromBalance = balanceOf[from];
        if (fromBalance < value) {
            revert ERC20InsufficientBalance(from, fromBalance, value);
        }
        unchecked {
            // Cannot underflow (checked above) nor overflow (sum of balances <= totalSupply).
            balanceOf[from] = fromBalance - value;
            balanceOf[to] += value;
        }
        emit Transfer(from, to, value);
    }

    function _mint(address to, uint256 value) private {
        if (to == address(0)) {
            revert ERC20InvalidReceiver(address(0));
        }
        totalSupply += value; // checked: reverts (Panic 0x11) on overflow
        unchecked {
            // Cannot overflow: balance <= totalSupply, which was checked above.
            balanceOf[to] += value;
        }
        emit Transfer(address(0), to, value);
    }
}
