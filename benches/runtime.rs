//! lanes-runtime micro-benchmarks.
//!
//! - `locks`: `AccountLocks::try_lock` + `unlock` of 4-key and 32-key sets of
//!   random keys, single thread (ns per set). And what a banking-stage
//!   scheduler with 2 workers does per set, with 512 other sets in flight:
//!   `thread_locks` asks a `ThreadLocks` which threads the set conflicts
//!   with, locks it for one and unlocks it; `per_worker_tables` does the same
//!   with an `AccountLocks` per worker plus one marking held-back sets (the
//!   scheduler's tables before `ThreadLocks`): a `can_lock` on each, then
//!   `lock_unchecked` and `unlock`.
//! - `execute_entry`: 10k independent native transfers in one entry on 1 and 2
//!   threads; the baseline is the same entry on 1 thread, and the summary prints
//!   the speedup measured in the same run.
//! - `lattice`: the lattice-hash update per changed key (subtract the old
//!   element, add the new one), to set beside Agave's per-account cost of
//!   its own lattice hash.
//!
//! Run: `cargo bench --bench runtime`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
use lanes_runtime::native::{NativeExecutor, NativeTx};
use lanes_runtime::{AccessSet, AccountLocks, Chain, Genesis, LatticeHash, StateKey, ThreadLocks};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TRANSFERS: usize = 10_000;

fn random_set(rng: &mut StdRng, keys: usize) -> AccessSet {
    let key = |rng: &mut StdRng| {
        let address = Address::from(rng.random::<[u8; 20]>());
        if rng.random_bool(0.5) {
            StateKey::Account(address)
        } else {
            StateKey::Storage(address, B256::from(rng.random::<[u8; 32]>()))
        }
    };
    let reads: Vec<StateKey> = (0..keys / 2).map(|_| key(rng)).collect();
    let writes: Vec<StateKey> = (0..keys - keys / 2).map(|_| key(rng)).collect();
    AccessSet::unbounded(reads, writes)
}

fn bench_locks(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut group = c.benchmark_group("locks");
    for keys in [4usize, 32] {
        let sets: Vec<AccessSet> = (0..1024).map(|_| random_set(&mut rng, keys)).collect();
        let mut locks = AccountLocks::new();
        let mut i = 0;
        group.bench_function(format!("lock_unlock_{keys}_keys"), |b| {
            b.iter(|| {
                let set = &sets[i % sets.len()];
                i += 1;
                locks.try_lock(black_box(set)).expect("free table");
                locks.unlock(set);
            })
        });
        assert!(locks.is_empty());

        // A scheduler's pass: 2 workers with 256 sets in flight each.
        let in_flight: Vec<AccessSet> = (0..512).map(|_| random_set(&mut rng, keys)).collect();
        let mut threads = ThreadLocks::new(3);
        let mut tables: Vec<AccountLocks> = (0..3).map(|_| AccountLocks::new()).collect();
        for (i, set) in in_flight.iter().enumerate() {
            threads.lock(i % 2, set);
            tables[i % 2].lock_unchecked(set);
        }
        let mut i = 0;
        group.bench_function(format!("thread_locks_{keys}_keys"), |b| {
            b.iter(|| {
                let set = &sets[i % sets.len()];
                i += 1;
                let holders = threads.conflicts(black_box(set));
                let w = if holders == 0 { i % 2 } else { holders.trailing_zeros() as usize };
                threads.lock(w, set);
                threads.unlock(w, set);
            })
        });
        group.bench_function(format!("per_worker_tables_{keys}_keys"), |b| {
            b.iter(|| {
                let set = &sets[i % sets.len()];
                i += 1;
                let set = black_box(set);
                let blocked = tables[2].can_lock(set).is_err();
                let held = |w: usize| tables[w].can_lock(set).is_err();
                let (h0, h1) = (held(0), held(1));
                let w = if h1 && !h0 {
                    1
                } else if h0 {
                    0
                } else {
                    i % 2
                };
                black_box(blocked);
                tables[w].lock_unchecked(set);
                tables[w].unlock(set);
            })
        });
    }
    group.finish();
}

struct Fixture {
    _dir: tempfile::TempDir,
    chain: Chain,
    txs: Vec<NativeTx>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let sender = |i: usize| Address::from_word(B256::from(U256::from(i + 1)));
    let funded = AccountHeader { balance: U256::from(1u64 << 40), ..Default::default() };
    let alloc = (0..TRANSFERS).map(|i| Entry::Account(sender(i), funded)).collect();
    let genesis = Genesis { alloc, gas_limit: u64::MAX, ..Default::default() };
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).expect("genesis");
    let txs = (0..TRANSFERS)
        .map(|i| {
            NativeTx::transfer(sender(i), 0, sender(TRANSFERS + i), U256::from(1), U256::from(1))
        })
        .collect();
    Fixture { _dir: dir, chain, txs }
}

fn run_entry(f: &Fixture, threads: usize) -> Duration {
    let mut bank = f.chain.new_bank(1, Address::ZERO);
    let txs = f.txs.clone();
    let start = Instant::now();
    let report = bank.execute_entry(&NativeExecutor, txs, threads).expect("entry");
    let elapsed = start.elapsed();
    assert_eq!(report.included.len(), TRANSFERS);
    elapsed
}

fn bench_execute_entry(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("execute_entry_10k_transfers");
    group.sample_size(20);
    for threads in [1usize, 2] {
        group.bench_function(format!("{threads}_threads"), |b| {
            b.iter_batched(
                || (f.chain.new_bank(1, Address::ZERO), f.txs.clone()),
                |(mut bank, txs)| bank.execute_entry(&NativeExecutor, txs, threads).expect("entry"),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();

    // The ratio, same run, medians of interleaved rounds.
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        one.push(run_entry(&f, 1));
        two.push(run_entry(&f, 2));
    }
    one.sort();
    two.sort();
    let (m1, m2) = (one[one.len() / 2], two[two.len() / 2]);
    println!(
        "\nexecute_entry, {TRANSFERS} independent native transfers: 1 thread {m1:?}, 2 threads {m2:?}, speedup {:.2}x ({:.0} tx/s on 2 threads)",
        m1.as_secs_f64() / m2.as_secs_f64(),
        TRANSFERS as f64 / m2.as_secs_f64(),
    );
}

fn bench_lattice(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let accounts: Vec<(Address, AccountHeader, AccountHeader)> = (0..1024)
        .map(|_| {
            let old = AccountHeader {
                nonce: rng.random(),
                balance: U256::from(rng.random::<u64>()),
                ..Default::default()
            };
            let new = AccountHeader { nonce: old.nonce.wrapping_add(1), ..old };
            (Address::from(rng.random::<[u8; 20]>()), old, new)
        })
        .collect();
    let mut lattice = LatticeHash::identity();
    let mut i = 0;
    c.bench_function("lattice_update_per_changed_account", |b| {
        b.iter(|| {
            let (address, old, new) = &accounts[i % accounts.len()];
            i += 1;
            lattice.sub(&LatticeHash::of_account(address, old));
            lattice.add(&LatticeHash::of_account(address, new));
        })
    });
    black_box(lattice.commitment());
}

criterion_group!(benches, bench_locks, bench_execute_entry, bench_lattice);
criterion_main!(benches);
