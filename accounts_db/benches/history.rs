#![allow(missing_docs)]
//! What keeping history costs, and what reading it costs.
//!
//! A store of 100k accounts and 400k storage slots takes 3,000 blocks of
//! 1,000 changes each (200 accounts, 800 slots): 96% uniformly random keys,
//! and 40 hot keys (a pool's reserves, a popular token's total) written at
//! every block. Printed, as medians of `LANES_BENCH_REPS` runs (default 5):
//!
//! - `commit`: blocks committed per second (sync off, so the figure is the
//!   store's own work, not the disk's flush);
//! - `bytes/version`: bytes the log grows by per changed key;
//! - `read head` / `read 1000 back`: ns per point read of random keys at the
//!   newest block and at the block 1,000 before it (`ReadView::at_block`),
//!   for the uniform keys and for the hot keys (1,000 versions newer than the
//!   one read);
//! - the memory history takes: its entries per kept block.
//!
//! `scripts/history-cost.sh` builds this file against the code before
//! history (compiled with `--cfg lanes_baseline`, which leaves out the parts
//! that need it) and runs the two alternately, for the commit ratio.
//!
//! Run: `cargo bench -p lanes-accounts-db --bench history`.
//! `LANES_BENCH_SCALE=0.1` shrinks the store; under `cargo test --benches` it
//! runs once on a tiny store.

use std::hint::black_box;
use std::time::Instant;

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, Entry};

const ACCOUNTS: usize = 100_000;
const SLOTS: usize = 400_000;
const BLOCKS: u64 = 3_000;
const BACK: u64 = 1_000;
const HOT: usize = 40;
const BLOCK_ACCOUNTS: usize = 200;
const BLOCK_SLOTS: usize = 800;
const READS: usize = 200_000;

mod common;
use common::Rng;

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn address(i: usize) -> Address {
    let mut a = [0u8; 20];
    a[..8].copy_from_slice(&(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    a[12..20].copy_from_slice(&(i as u64).to_le_bytes());
    Address::from(a)
}

/// Slot `i`: account `i / 4`'s slot `i % 4`, hashed apart.
fn slot(i: usize) -> (Address, B256) {
    (address(i / 4), B256::from(U256::from(i as u64 ^ 0x5eed_5107)))
}

fn header(nonce: u64) -> AccountHeader {
    AccountHeader {
        nonce,
        balance: U256::from(nonce) * U256::from(1_000_000_007u64),
        ..Default::default()
    }
}

struct Sizes {
    accounts: usize,
    slots: usize,
    blocks: u64,
    reads: usize,
    reps: usize,
}

fn sizes() -> Sizes {
    let bench = std::env::args().any(|a| a == "--bench");
    let scale: f64 = match std::env::var("LANES_BENCH_SCALE") {
        Ok(s) => s.parse().expect("LANES_BENCH_SCALE must be a number"),
        Err(_) if bench => 1.0,
        Err(_) => 0.01,
    };
    let reps = std::env::var("LANES_BENCH_REPS").ok().and_then(|s| s.parse().ok());
    Sizes {
        accounts: ((ACCOUNTS as f64 * scale) as usize).max(1_000),
        slots: ((SLOTS as f64 * scale) as usize).max(4_000),
        blocks: if bench { BLOCKS } else { BACK + 20 },
        reads: if bench { READS } else { 2_000 },
        reps: reps.unwrap_or(if bench { 5 } else { 1 }),
    }
}

/// Block `n`'s changes: uniformly random keys plus every hot key.
fn block(n: u64, s: &Sizes, rng: &mut Rng) -> Vec<Entry> {
    let mut changes = Vec::with_capacity(BLOCK_ACCOUNTS + BLOCK_SLOTS);
    for i in 0..HOT {
        let (a, k) = slot(i);
        changes.push(Entry::Storage(a, k, U256::from(n * 1_000 + i as u64)));
    }
    for _ in 0..BLOCK_ACCOUNTS {
        changes.push(Entry::Account(address(rng.below(s.accounts)), header(n)));
    }
    for _ in HOT..BLOCK_SLOTS {
        let (a, k) = slot(HOT + rng.below(s.slots - HOT));
        changes.push(Entry::Storage(a, k, U256::from(n)));
    }
    changes
}

struct Run {
    blocks_per_s: f64,
    bytes_per_version: f64,
    #[cfg_attr(lanes_baseline, allow(dead_code))]
    reads: Option<Reads>,
}

#[derive(Clone, Copy)]
#[cfg_attr(lanes_baseline, allow(dead_code))]
struct Reads {
    head: f64,
    back: f64,
    hot_head: f64,
    hot_back: f64,
    kept_blocks: usize,
    history_bytes: usize,
}

fn run(s: &Sizes) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = AccountsDbConfig::default().with_sync(false);
    #[cfg(not(lanes_baseline))]
    let config = config.with_history_blocks(Some(s.blocks));
    let db = AccountsDb::open(dir.path(), config).expect("open");
    let mut genesis: Vec<Entry> =
        (0..s.accounts).map(|i| Entry::Account(address(i), header(1))).collect();
    genesis.extend((0..s.slots).map(|i| {
        let (a, k) = slot(i);
        Entry::Storage(a, k, U256::from(1))
    }));
    db.commit(0, B256::ZERO, &genesis).expect("genesis");
    let mut rng = Rng(0x0001_a9e5);
    let blocks: Vec<Vec<Entry>> = (1..=s.blocks).map(|n| block(n, s, &mut rng)).collect();
    let written = db.stats().written_bytes;
    let start = Instant::now();
    for (n, changes) in (1..).zip(&blocks) {
        db.commit(n, B256::ZERO, changes).expect("commit");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let versions = blocks.iter().map(Vec::len).sum::<usize>() as f64;
    let bytes_per_version = (db.stats().written_bytes - written) as f64 / versions;
    #[cfg(lanes_baseline)]
    let reads = None;
    #[cfg(not(lanes_baseline))]
    let reads = Some(reads(&db, s, &mut rng));
    Run { blocks_per_s: s.blocks as f64 / elapsed, bytes_per_version, reads }
}

#[cfg(not(lanes_baseline))]
fn reads(db: &AccountsDb, s: &Sizes, rng: &mut Rng) -> Reads {
    let head = db.view();
    let back = db.view_at(s.blocks - BACK).expect("a kept block");
    let uniform: Vec<(Address, B256)> =
        (0..s.reads).map(|_| slot(HOT + rng.below(s.slots - HOT))).collect();
    let hot: Vec<(Address, B256)> = (0..s.reads).map(|_| slot(rng.below(HOT))).collect();
    let time = |view: &lanes_accounts_db::ReadView, keys: &[(Address, B256)]| {
        let start = Instant::now();
        for (a, k) in keys {
            black_box(view.get_storage(a, k).expect("read"));
        }
        start.elapsed().as_nanos() as f64 / keys.len() as f64
    };
    // Warm both paths once, then measure.
    time(&head, &uniform);
    time(&back, &uniform);
    let (want, got) =
        (U256::from((s.blocks - BACK) * 1_000), back.get_storage(&slot(0).0, &slot(0).1));
    assert_eq!(got.expect("read"), want, "the hot key reads its value at the old block");
    Reads {
        head: time(&head, &uniform),
        back: time(&back, &uniform),
        hot_head: time(&head, &hot),
        hot_back: time(&back, &hot),
        kept_blocks: db.stats().kept_blocks,
        history_bytes: db.stats().history_bytes,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let s = sizes();
    let runs: Vec<Run> = (0..s.reps).map(|_| run(&s)).collect();
    let label = if cfg!(lanes_baseline) { "baseline" } else { "history" };
    println!(
        "{label}: store {} accounts + {} slots, {} blocks of {} changes ({HOT} hot keys), {} reps",
        s.accounts,
        s.slots,
        s.blocks,
        BLOCK_ACCOUNTS + BLOCK_SLOTS,
        s.reps
    );
    let commit = median(runs.iter().map(|r| r.blocks_per_s).collect());
    let bytes = median(runs.iter().map(|r| r.bytes_per_version).collect());
    println!("{label}: commit {commit:.0} blocks/s, {bytes:.1} bytes/version on disk");
    #[cfg(not(lanes_baseline))]
    {
        let reads: Vec<Reads> = runs.iter().filter_map(|r| r.reads).collect();
        let m = |f: fn(&Reads) -> f64| median(reads.iter().map(f).collect());
        let (head, back, hot_head, hot_back) =
            (m(|r| r.head), m(|r| r.back), m(|r| r.hot_head), m(|r| r.hot_back));
        println!(
            "{label}: read head {head:.0} ns, read {BACK} back {back:.0} ns ({:.2}x head); hot keys: head {hot_head:.0} ns, {BACK} back {hot_back:.0} ns ({:.2}x head)",
            back / head,
            hot_back / hot_head
        );
        let (kept, bytes) = (reads[0].kept_blocks, reads[0].history_bytes);
        println!(
            "{label}: memory for history: {kept} kept blocks, {} KiB ({:.0} bytes per block; records stay on disk)",
            bytes / 1024,
            bytes as f64 / kept as f64
        );
    }
}
