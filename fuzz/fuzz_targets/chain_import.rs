//! `lanes-validator import`'s block decoding, [`decode_blocks`] (the RLP of
//! headers, transactions, ommers, withdrawals and block access lists, one
//! block after another) on any bytes: it never panics; the blocks it returns
//! lie one after another from the start, each one's `size` bytes decoding
//! on their own to the same block; and where it stops, it names the offset
//! right after the last block it returned.
#![no_main]

use lanes_eth::EthBlock;
use lanes_node::import::decode_blocks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (blocks, error) = decode_blocks(data);
    let mut at = 0;
    for block in &blocks {
        let bytes = &data[at..at + block.size];
        let again = EthBlock::decode_exact(bytes).expect("a decoded block's bytes decode alone");
        assert_eq!(&again, block, "the same block from its own bytes");
        assert_eq!(again.hash, block.header.hash_slow());
        at += block.size;
    }
    match error {
        Some((offset, _)) => assert_eq!(offset, at, "the error names where the blocks stop"),
        None => assert_eq!(at, data.len(), "without an error every byte is a block"),
    }
});
