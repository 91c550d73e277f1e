//! Block decoding and replay: a borsh `Block` (as the ledger stores it) is
//! decoded and replayed on the reference chain at the block before it, as
//! the node's `load_chain` replays the ledger's blocks. Nothing may panic,
//! and a block is accepted only if its re-derived header and hash are what
//! it claims: then it is the reference block itself (same hash, same
//! header), and `Chain::replay_block` commits it on a fresh copy of the
//! state, leaving that hash as the head.
//!
//! Input: byte 0 picks the parent, block `byte % BLOCKS` of the reference
//! chain (see `lanes_fuzz::reference_chain`); the rest is the block's borsh
//! bytes. Seeds are the reference blocks.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use borsh::BorshDeserialize;
use lanes_evm_adapter::EvmExecutor;
use lanes_fuzz::{BLOCKS, bank_config, executor, reference_chain, spec, store_config};
use lanes_runtime::{Block, Chain};
use libfuzzer_sys::fuzz_target;

struct Reference {
    /// Chains at blocks 0..BLOCKS, each in a folder of its own, opened once.
    parents: Vec<Chain>,
    /// Their folders, to copy for a replay that commits.
    dirs: Vec<PathBuf>,
    /// Blocks 0..=BLOCKS.
    blocks: Vec<Block>,
    executor: EvmExecutor,
    _root: tempfile::TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("a folder") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), target).expect("a copy");
        }
    }
}

/// The reference chain at `number`, opened as `load_chain` opens a chain:
/// from its folder, with the ledger's older hashes for BLOCKHASH.
fn open_at(dir: &Path, blocks: &[Block]) -> Chain {
    let spec = spec();
    let mut chain = Chain::open_with(dir, store_config(), None, bank_config(&spec))
        .expect("the reference chain opens");
    let head = chain.head().number;
    chain.set_older_hashes((0..head).rev().map(|n| blocks[n as usize].hash));
    chain
}

fn reference() -> &'static parking_lot::Mutex<Reference> {
    static REFERENCE: OnceLock<parking_lot::Mutex<Reference>> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let root = tempfile::tempdir().expect("a temp dir");
        let spec = spec();
        let (full, sealed) = reference_chain(&root.path().join("full"));
        drop(full);
        let mut blocks = vec![spec.genesis_block()];
        blocks.extend(sealed.into_iter().map(|s| s.block));
        let executor = executor(&spec);
        let (mut parents, mut dirs) = (Vec::new(), Vec::new());
        for n in 0..BLOCKS {
            let dir = root.path().join(format!("at{n}"));
            let mut chain =
                Chain::create_with(&dir, store_config(), &spec.genesis, bank_config(&spec))
                    .expect("creating a chain");
            for block in &blocks[1..=n as usize] {
                chain.replay_block(&executor, block, 1).expect("the reference replays");
            }
            drop(chain);
            parents.push(open_at(&dir, &blocks));
            dirs.push(dir);
        }
        parking_lot::Mutex::new(Reference { parents, dirs, blocks, executor, _root: root })
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(block) = Block::try_from_slice(rest) else { return };
    let r = reference().lock();
    let parent = pick as usize % BLOCKS as usize;
    let Ok(sealed) = r.parents[parent].reexecute(&r.executor, &block, 1) else { return };
    // Accepted: it claims what it is, and it is the reference block.
    assert_eq!(sealed.block.hash, block.hash, "accepted with another hash than claimed");
    assert_eq!(sealed.block.header, block.header, "accepted with another header than claimed");
    let original = &r.blocks[parent + 1];
    assert_eq!(block.hash, original.hash, "another block accepted at {}", parent + 1);
    assert_eq!(block.header, original.header);
    // And replay_block commits it: on a copy of the parent's state.
    let copy = tempfile::tempdir().expect("a temp dir");
    copy_dir(&r.dirs[parent], copy.path());
    let mut chain = open_at(copy.path(), &r.blocks);
    chain.replay_block(&r.executor, &block, 1).expect("what reexecute accepts, replay commits");
    assert_eq!(chain.head_hash(), block.hash);
    assert_eq!(chain.head(), &block.header);
});
