// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Board — transactions whose state access depends on state, for
///        lanes' tests of predicted access sets.
/// @dev The storage layout is part of the contract's interface: the tests
///      compute slots from it. Do not reorder.
///        slot 0  fee      uint256   read by every `post`, written only by the constructor
///        slot 1  counter  uint256   written by `bump` and `take`
///        slot 2  posts    mapping(address => uint256)
///        slot 3  marks    mapping(uint256 => address)
contract Board {
    uint256 public fee;
    uint256 public counter;
    mapping(address => uint256) public posts;
    mapping(uint256 => address) public marks;

    event Marked(uint256 indexed at, address indexed by);

    constructor(uint256 fee_) {
        fee = fee_;
    }

    /// Reads the shared `fee` and writes the sender's own entry: many posts
    /// read one slot and write disjoint ones.
    function post(uint256 value) external {
        posts[msg.sender] = value + fee;
    }

    /// Increments the counter.
    function bump() external {
        counter += 1;
    }

    /// Writes the mark the counter names: which slot it writes depends on
    /// the counter, which `bump` and `take` change.
    function mark() external {
        uint256 at = counter;
        marks[at] = msg.sender;
        emit Marked(at, msg.sender);
    }

    /// Takes the counter's mark and moves the counter on: each take writes
    /// the slot the takes before it left.
    function take() external returns (uint256 at) {
        at = counter;
        marks[at] = msg.sender;
        counter = at + 1;
        emit Marked(at, msg.sender);
    }

    /// Burns gas in a loop of `rounds` rounds, touching no state.
    function spin(uint256 rounds) external pure returns (uint256 x) {
        for (uint256 i = 0; i < rounds; i++) {
            unchecked {
                x = x * 31 + i;
            }
        }
    }

    /// Writes `count` marks from `first` on: `count` slots.
    function fill(uint256 first, uint256 count) external {
        for (uint256 i = 0; i < count; i++) {
            marks[first + i] = msg.sender;
        }
    }
}
