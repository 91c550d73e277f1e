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
//! - `execute_block` (issue 59): the runtime's own cost, as an embedder
//!   meets it. An executor of its own (`Token`, below: four token tables
//!   and one swap pool as storage slots) runs blocks of 20,000 trivial
//!   transactions (a transfer reads and writes 2 slots, a swap 4: the pool's
//!   two reserves are one hot key pair) through `Bank::execute_block` to
//!   the sealed block, then `Chain::commit`, then a replica's
//!   `Chain::replay_block`, on 1 and 2 threads; conflict-free transfers, 5%
//!   swaps and 40% swaps, in entries order and in fixed order. The same
//!   blocks of 4,000 transactions with ~40 µs of work in each are set
//!   against a plain loop doing that work. Prints µs per transaction and
//!   per entry, 2 threads / 1 thread, and one keccak256 of a transaction's
//!   bytes (the floor) — medians of interleaved rounds (`ROUNDS`, default 5).
//!   A block on fewer threads than the machine's cores has the lattice
//!   walker beside it (`Bank::hash_ahead`, at `SCHED_IDLE`): on a 2-core
//!   host the 1-thread column is one thread of execution and the second
//!   core's hashing, the 2-thread column both cores' execution.
//!   For a profile, `BLOCK` (a row's label, e.g. `transfers`), `ORDER`
//!   (`entries` or `fixed`) and `THREADS` (1 or 2) run only what they name.
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
            lattice.sub_entry(&Entry::Account(*address, *old));
            lattice.add_entry(&Entry::Account(*address, *new));
        })
    });
    black_box(lattice.commitment());
}

mod token {
    //! The bench's executor: token balances and one swap pool, kept as
    //! storage slots, each transaction declaring exactly what it touches.
    use lanes_runtime::alloy_primitives::keccak256;
    use lanes_runtime::prelude::*;

    /// Four token tables: holder `h`'s balance is slot `h` of `TABLES[t]`.
    pub(crate) const TABLES: [Address; 4] = [
        Address::repeat_byte(0xa0),
        Address::repeat_byte(0xa1),
        Address::repeat_byte(0xa2),
        Address::repeat_byte(0xa3),
    ];
    /// The pool: its reserves of token 0 and token 1 are slots 0 and 1.
    pub(crate) const POOL: Address = Address::repeat_byte(0xb0);
    pub(crate) const HOLDERS: u64 = 5_000;
    pub(crate) const START: u64 = 1 << 40;

    #[derive(Clone, Debug)]
    pub(crate) enum Op {
        /// `amount` of table `table` from holder `from` to holder `to`.
        Transfer { table: u8, from: u64, to: u64 },
        /// Holder `who` pays `amount` of token 0 into the pool for token 1.
        Swap { who: u64 },
    }

    #[derive(Clone, Debug)]
    pub(crate) struct TokenTx {
        op: Op,
        encoded: Bytes,
        hash: B256,
        access: Option<AccessSet>,
    }

    pub(crate) fn slot(holder: u64) -> B256 {
        B256::from(U256::from(holder))
    }

    impl TokenTx {
        pub(crate) fn new(tag: u64, op: Op) -> Self {
            let mut bytes = tag.to_be_bytes().to_vec();
            let keys = match &op {
                Op::Transfer { table, from, to } => {
                    bytes.push(*table);
                    bytes.extend_from_slice(&from.to_be_bytes());
                    bytes.extend_from_slice(&to.to_be_bytes());
                    let t = TABLES[*table as usize];
                    vec![StateKey::Storage(t, slot(*from)), StateKey::Storage(t, slot(*to))]
                }
                Op::Swap { who } => {
                    bytes.push(0xff);
                    bytes.extend_from_slice(&who.to_be_bytes());
                    vec![
                        StateKey::Storage(TABLES[0], slot(*who)),
                        StateKey::Storage(TABLES[1], slot(*who)),
                        StateKey::Storage(POOL, slot(0)),
                        StateKey::Storage(POOL, slot(1)),
                    ]
                }
            };
            let access = Some(AccessSet::unbounded([], keys));
            Self { hash: keccak256(&bytes), encoded: bytes.into(), op, access }
        }
    }

    impl Transaction for TokenTx {
        fn hash(&self) -> B256 {
            self.hash
        }
        fn access_set(&self) -> Option<&AccessSet> {
            self.access.as_ref()
        }
        fn encoded(&self) -> &Bytes {
            &self.encoded
        }
    }

    /// Runs token transactions; `work` rounds of keccak256 in each stand
    /// for an executor's own work.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Token {
        pub(crate) work: u32,
    }

    /// `rounds` of keccak256 chained from `seed`: work the optimiser keeps.
    pub(crate) fn work(seed: B256, rounds: u32) -> B256 {
        (0..rounds).fold(seed, |h, _| keccak256(h))
    }

    impl Executor for Token {
        type Tx = TokenTx;
        type Worker<'b> = ();

        fn decode(&self, bytes: &[u8]) -> Result<TokenTx, DecodeError> {
            let bad = || DecodeError(format!("{} bytes are no token transaction", bytes.len()));
            let (tag, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
            let word = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
            let op = match rest {
                [0xff, who @ ..] if who.len() == 8 => Op::Swap { who: word(who) },
                [table @ 0..=3, body @ ..] if body.len() == 16 => {
                    Op::Transfer { table: *table, from: word(&body[..8]), to: word(&body[8..]) }
                }
                _ => return Err(bad()),
            };
            Ok(TokenTx::new(u64::from_be_bytes(*tag), op))
        }

        fn worker<'b>(&'b self, _env: &'b BlockEnv) -> Self::Worker<'b> {}

        fn execute<'b>(
            &self,
            _worker: &mut (),
            tx: &TokenTx,
            mut state: StateView<'b>,
        ) -> (Result<Outcome, TxError>, StateView<'b>) {
            let result = run(&tx.op, &mut state, self.work, tx.hash);
            (result, state)
        }
    }

    fn move_slot(
        state: &mut StateView<'_>,
        (table, from): (Address, B256),
        (to_table, to): (Address, B256),
        amount: U256,
    ) -> Result<(), TxError> {
        let payer = state.storage(&table, &from)?;
        let left = payer.checked_sub(amount).ok_or_else(|| TxError::Invalid("short".into()))?;
        state.set_storage(&table, &from, left)?;
        let payee = state.storage(&to_table, &to)?;
        state.set_storage(&to_table, &to, payee.saturating_add(amount))
    }

    fn run(
        op: &Op,
        state: &mut StateView<'_>,
        rounds: u32,
        hash: B256,
    ) -> Result<Outcome, TxError> {
        let done = work(hash, rounds);
        let amount = U256::from(1 + (done[0] & 1));
        match op {
            Op::Transfer { table, from, to } => {
                let t = TABLES[*table as usize];
                move_slot(state, (t, slot(*from)), (t, slot(*to)), amount)?;
            }
            Op::Swap { who } => {
                move_slot(state, (TABLES[0], slot(*who)), (POOL, slot(0)), amount)?;
                move_slot(state, (POOL, slot(1)), (TABLES[1], slot(*who)), amount)?;
            }
        }
        Ok(Outcome { success: true, gas_used: 1_000, fee: U256::ZERO, data: Bytes::new() })
    }

    pub(crate) fn genesis() -> Genesis {
        let mut alloc: Vec<Entry> = TABLES
            .iter()
            .flat_map(|t| (0..HOLDERS).map(|h| Entry::Storage(*t, slot(h), U256::from(START))))
            .collect();
        alloc.push(Entry::Storage(POOL, slot(0), U256::from(START)));
        alloc.push(Entry::Storage(POOL, slot(1), U256::from(START)));
        Genesis { alloc, gas_limit: u64::MAX, ..Default::default() }
    }

    /// `n` transactions, `swaps_percent` of them swaps at the one pool, the
    /// rest transfers between holders drawn at random (seeded).
    pub(crate) fn block(n: u64, swaps_percent: u64, seed: u64) -> Vec<TokenTx> {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let op = if rng.random_range(0..100) < swaps_percent {
                    Op::Swap { who: rng.random_range(0..HOLDERS) }
                } else {
                    let from = rng.random_range(0..HOLDERS);
                    let to = (from + rng.random_range(1..HOLDERS)) % HOLDERS;
                    Op::Transfer { table: rng.random_range(0..4), from, to }
                };
                TokenTx::new(i, op)
            })
            .collect()
    }
}

/// One round of a block: execute to the sealed block, commit, replay on a
/// replica; each part's time, and the entries run.
#[derive(Clone, Default)]
struct BlockTimes {
    execute: Duration,
    commit: Duration,
    replay: Duration,
    entries: usize,
}

fn run_block_once(
    executor: &token::Token,
    txs: &[token::TokenTx],
    threads: usize,
    order: lanes_runtime::BlockOrder,
) -> BlockTimes {
    use lanes_runtime::BlockOptions;
    let (dir, replica_dir) =
        (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let config = || AccountsDbConfig::default().with_sync(false);
    let mut chain = Chain::create(dir.path(), config(), &token::genesis()).expect("genesis");
    let mut replica =
        Chain::create(replica_dir.path(), config(), &token::genesis()).expect("genesis");
    let bank = chain.new_bank(1, Address::ZERO);
    let options = BlockOptions::new(threads).with_order(order);
    let start = Instant::now();
    let run = bank.execute_block(executor, txs, &options).expect("block");
    let execute = start.elapsed();
    assert_eq!(run.included(), txs.len(), "every transaction is included");
    let start = Instant::now();
    chain.commit(&run.sealed).expect("commit");
    let commit = start.elapsed();
    let start = Instant::now();
    replica.replay_block(executor, &run.sealed.block, threads).expect("replay");
    let replay = start.elapsed();
    assert_eq!(replica.head_hash(), chain.head_hash(), "the replica agrees");
    BlockTimes { execute, commit, replay, entries: run.entries_run }
}

/// Whether the variable `var`, when set, names something other than `value`
/// (so the bench skips it).
fn only(var: &str, value: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v != value)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench_execute_block(_c: &mut Criterion) {
    use lanes_runtime::BlockOrder;
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let keccak = {
        let tx = token::TokenTx::new(7, token::Op::Transfer { table: 0, from: 1, to: 2 });
        let bytes = lanes_runtime::Transaction::encoded(&tx).clone();
        let start = Instant::now();
        for _ in 0..100_000 {
            black_box(lanes_runtime::alloy_primitives::keccak256(black_box(&bytes)));
        }
        start.elapsed() / 100_000
    };
    println!(
        "\nexecute_block: the runtime's own cost (issue 59), medians of {rounds} interleaved rounds"
    );
    println!("one keccak256 of a transaction's bytes: {:.3} µs\n", keccak.as_secs_f64() * 1e6);
    println!(
        "| block | order | entries | 1 thread µs/tx | µs/entry | 2 threads µs/tx | 2t / 1t | commit µs/tx | replay 1t / 2t µs/tx | replay / (execute + commit) 1t / 2t |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let per_tx = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    for (work, n, plain) in [(0u32, 20_000u64, false), (140, 4_000, true)] {
        let executor = token::Token { work };
        for (label, swaps) in [("transfers", 0u64), ("5% swaps", 5), ("40% swaps", 40)] {
            let txs = token::block(n, swaps, 59 + swaps);
            let row = format!(
                "{label}{}",
                if work > 0 { format!(", {n} with work") } else { String::new() }
            );
            if only("BLOCK", &row) {
                continue;
            }
            for (order_label, order) in
                [("entries", BlockOrder::Entries), ("fixed", BlockOrder::Fixed)]
            {
                if only("ORDER", order_label) {
                    continue;
                }
                let mut times: [Vec<BlockTimes>; 2] = [Vec::new(), Vec::new()];
                for _ in 0..rounds {
                    for (t, threads) in [1usize, 2].into_iter().enumerate() {
                        if only("THREADS", &threads.to_string()) {
                            times[t].push(times[0].last().cloned().unwrap_or_default());
                            continue;
                        }
                        times[t].push(run_block_once(&executor, &txs, threads, order));
                    }
                }
                let n = txs.len();
                let m = |t: usize, f: fn(&BlockTimes) -> Duration| {
                    median(times[t].iter().map(f).collect())
                };
                let (one, two) = (m(0, |b| b.execute), m(1, |b| b.execute));
                let entries = times[0][0].entries;
                // A replica replays and commits what a leader executes and
                // commits: the replay's time includes its commit.
                let replayed = |t: usize| {
                    m(t, |b| b.replay).as_secs_f64()
                        / (m(t, |b| b.execute) + m(t, |b| b.commit)).as_secs_f64()
                };
                println!(
                    "| {row} | {order_label} | {entries} | {:.2} | {:.1} | {:.2} | {:.2}x | {:.2} | {:.2} / {:.2} | {:.2}x / {:.2}x |",
                    per_tx(one, n),
                    one.as_secs_f64() * 1e6 / entries.max(1) as f64,
                    per_tx(two, n),
                    one.as_secs_f64() / two.as_secs_f64(),
                    per_tx(m(0, |b| b.commit), n),
                    per_tx(m(0, |b| b.replay), n),
                    per_tx(m(1, |b| b.replay), n),
                    replayed(0),
                    replayed(1),
                );
            }
            if plain && swaps == 0 {
                // The same work in a plain loop: what the runtime adds to it.
                let loops: Vec<Duration> = (0..rounds)
                    .map(|_| {
                        let start = Instant::now();
                        for tx in &txs {
                            black_box(token::work(lanes_runtime::Transaction::hash(tx), work));
                        }
                        start.elapsed()
                    })
                    .collect();
                println!(
                    "| plain loop of the same work | - | - | {:.2} | - | - | - | - | - | - |",
                    per_tx(median(loops), txs.len())
                );
            }
        }
    }
    println!(
        "\ngoals (issue 85, a 2-core machine): trivial transfers on 1 thread <= 1.2 us/tx (one \
         keccak256 above is the floor); 2t / 1t >= 1.7x for transfers and >= 1.3x with 40% \
         swaps at one hot key; with work, 1 thread <= 1.08x the plain loop, 2t / 1t >= 1.85x \
         for transfers and >= 1.4x with 40% swaps; replay (decoding each transaction, and its \
         commit) within 1.2x of execute and commit at the same threads"
    );
}

criterion_group!(benches, bench_locks, bench_execute_entry, bench_lattice);
criterion_group!(blocks, bench_execute_block);
criterion_main!(benches, blocks);
