#![allow(missing_docs)]
//! lanes-accounts-db against redb, on the same data in the same run.
//!
//! The store holds 1M accounts (random 20-byte addresses, 72-byte headers) and
//! 4M storage slots (a random address of the 1M and a random 32-byte slot,
//! 32-byte values), generated from a seeded RNG and loaded into both
//! databases, in temporary directories under one parent directory. The
//! baseline is redb: one table of accounts keyed by address, one of storage
//! keyed by address ++ slot.
//!
//! Measured:
//! - `point_read`: warm point reads of random existing keys (20% accounts,
//!   80% slots). lanes through `AccountsDb::get_*` (and through one long-lived
//!   `ReadView`, `lanes_view`); redb through one long-lived read transaction
//!   with both tables open, its fastest path.
//! - `commit_10k`: durable commits of blocks of 10k changed existing keys (2k
//!   accounts, 8k slots): `AccountsDb::commit` (fdatasync) against a redb write
//!   transaction with `Durability::Immediate` (fsync).
//! - reopen time (lanes rebuilds its in-memory index by scanning the log; redb
//!   opens after a clean close), and the bytes of lanes' index per key: the
//!   heap growth of the reopen (a counting global allocator), the index
//!   tables (`DbStats::index_bytes`) among them.
//!
//! After criterion, a summary of its own timings (medians of 5 repetitions)
//! prints the redb/lanes time ratio for each (> 1 means lanes is faster)
//! against the goals: reads >= 3x, commits >= 2x, <= 64 index bytes per key.
//!
//! Run: `cargo bench --bench accounts_db`. `LANES_BENCH_SCALE=0.1` scales the
//! data down (100k accounts, 400k slots) for a quick run; `LANES_BENCH_DIR`
//! picks where the databases live (default: the system temp directory; it
//! should be a real disk, not a tmpfs, for the fsyncs to mean anything). Under
//! `cargo test --benches` it runs once on a tiny store.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use lanes_accounts_db::{AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, Entry};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, TableDefinition};

// ---------------------------------------------------------------------------
// Counting allocator: bytes currently allocated on the heap.

struct CountingAlloc;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; the counter does not touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
            ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocated() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Data.

const SEED: u64 = 0x1a9e_5acc_0dbb;
const FULL_ACCOUNTS: usize = 1_000_000;
const SLOTS_PER_ACCOUNT: usize = 4;
/// Changes per lanes load commit.
const LANES_LOAD_CHUNK: usize = 100_000;
/// Inserts per redb load transaction.
const REDB_LOAD_CHUNK: usize = 500_000;
/// Share of accounts among read keys and among a block's changes, in percent.
const ACCOUNT_PERCENT: usize = 20;
const BLOCK_CHANGES: usize = 10_000;

const ACCOUNTS: TableDefinition<'_, &[u8; 20], &[u8; 72]> = TableDefinition::new("accounts");
const STORAGE: TableDefinition<'_, &[u8; 52], &[u8; 32]> = TableDefinition::new("storage");

/// Sizes of one run.
#[derive(Clone, Copy, Debug)]
struct Params {
    accounts: usize,
    slots: usize,
    read_keys: usize,
    block_accounts: usize,
    block_slots: usize,
    /// Repetitions of the summary measurements.
    reps: usize,
    summary_reads: usize,
    summary_commits: usize,
    reopens: usize,
}

impl Params {
    fn new(bench_mode: bool) -> Self {
        let scale = if bench_mode {
            std::env::var("LANES_BENCH_SCALE")
                .ok()
                .map(|s| s.parse::<f64>().expect("LANES_BENCH_SCALE must be a number"))
                .unwrap_or(1.0)
        } else {
            0.002 // cargo test --benches: one quick pass on a tiny store
        };
        assert!(scale > 0.0, "LANES_BENCH_SCALE must be positive");
        let accounts = ((FULL_ACCOUNTS as f64 * scale) as usize).max(100);
        let slots = accounts * SLOTS_PER_ACCOUNT;
        let block_accounts = (BLOCK_CHANGES * ACCOUNT_PERCENT / 100).min(accounts / 2);
        let block_slots = (BLOCK_CHANGES - BLOCK_CHANGES * ACCOUNT_PERCENT / 100).min(slots / 2);
        if bench_mode {
            Self {
                accounts,
                slots,
                read_keys: 1 << 20,
                block_accounts,
                block_slots,
                reps: 5,
                summary_reads: 200_000,
                summary_commits: 20,
                reopens: 5,
            }
        } else {
            Self {
                accounts,
                slots,
                read_keys: 10_000,
                block_accounts,
                block_slots,
                reps: 1,
                summary_reads: 1_000,
                summary_commits: 2,
                reopens: 1,
            }
        }
    }

    fn block_changes(&self) -> usize {
        self.block_accounts + self.block_slots
    }
}

/// The keys of the store, and the values they start with.
struct Data {
    accounts: Vec<Address>,
    /// (index into `accounts`, slot)
    slots: Vec<(u32, B256)>,
}

struct InitialValues {
    headers: Vec<AccountHeader>,
    slot_values: Vec<U256>,
}

fn random_header(rng: &mut StdRng) -> AccountHeader {
    AccountHeader {
        nonce: rng.random_range(0..1_000_000),
        // Nonzero, so the account is never empty (an empty account is a deletion).
        balance: U256::from(rng.random::<u64>() | 1) * U256::from(1_000_000_000u64),
        code_hash: KECCAK256_EMPTY,
    }
}

fn random_value(rng: &mut StdRng) -> U256 {
    // Nonzero: a zero value deletes the slot.
    U256::from_le_bytes(rng.random::<[u8; 32]>()) | U256::from(1)
}

fn generate(p: &Params, rng: &mut StdRng) -> (Data, InitialValues) {
    let accounts: Vec<Address> =
        (0..p.accounts).map(|_| Address::from(rng.random::<[u8; 20]>())).collect();
    let slots = (0..p.slots)
        .map(|_| (rng.random_range(0..p.accounts) as u32, B256::from(rng.random::<[u8; 32]>())))
        .collect();
    let headers = (0..p.accounts).map(|_| random_header(rng)).collect();
    let slot_values = (0..p.slots).map(|_| random_value(rng)).collect();
    (Data { accounts, slots }, InitialValues { headers, slot_values })
}

/// A key to read: an account (first 20 bytes) or a slot (address ++ slot).
struct ReadKey {
    account: bool,
    bytes: [u8; 52],
}

impl ReadKey {
    fn address(&self) -> Address {
        Address::from_slice(&self.bytes[..20])
    }

    fn slot(&self) -> B256 {
        B256::from_slice(&self.bytes[20..])
    }

    fn address_bytes(&self) -> &[u8; 20] {
        self.bytes[..20].try_into().expect("20 bytes")
    }
}

fn slot_key(address: &Address, slot: &B256) -> [u8; 52] {
    let mut key = [0; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(slot.as_slice());
    key
}

fn read_keys(p: &Params, data: &Data, rng: &mut StdRng) -> Vec<ReadKey> {
    let mut keys: Vec<ReadKey> = (0..p.read_keys)
        .map(|i| {
            if i % 100 < ACCOUNT_PERCENT {
                let mut bytes = [0; 52];
                let a = &data.accounts[rng.random_range(0..data.accounts.len())];
                bytes[..20].copy_from_slice(a.as_slice());
                ReadKey { account: true, bytes }
            } else {
                let (a, slot) = &data.slots[rng.random_range(0..data.slots.len())];
                ReadKey { account: false, bytes: slot_key(&data.accounts[*a as usize], slot) }
            }
        })
        .collect();
    keys.shuffle(rng);
    keys
}

/// A block of changes to existing keys, with new values.
fn random_block(p: &Params, data: &Data, rng: &mut StdRng) -> Vec<Entry> {
    let mut changes = Vec::with_capacity(p.block_changes());
    for i in rand::seq::index::sample(rng, data.accounts.len(), p.block_accounts) {
        changes.push(Entry::Account(data.accounts[i], random_header(rng)));
    }
    for i in rand::seq::index::sample(rng, data.slots.len(), p.block_slots) {
        let (a, slot) = data.slots[i];
        changes.push(Entry::Storage(data.accounts[a as usize], slot, random_value(rng)));
    }
    changes
}

// ---------------------------------------------------------------------------
// Encodings and the two read / commit paths.

fn encode_header(h: &AccountHeader) -> [u8; 72] {
    let mut out = [0; 72];
    out[..8].copy_from_slice(&h.nonce.to_le_bytes());
    out[8..40].copy_from_slice(&h.balance.to_le_bytes::<32>());
    out[40..].copy_from_slice(h.code_hash.as_slice());
    out
}

fn decode_header(b: &[u8; 72]) -> AccountHeader {
    AccountHeader {
        nonce: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
        balance: U256::from_le_slice(&b[8..40]),
        code_hash: B256::from_slice(&b[40..]),
    }
}

/// A value read back, for checks between the stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Account(AccountHeader),
    Slot(U256),
}

#[inline]
fn lanes_read<R: AccountsRead>(db: &R, key: &ReadKey) -> Value {
    if key.account {
        let header = db.get_account(&key.address()).expect("lanes get_account failed");
        Value::Account(header.expect("lanes: account missing"))
    } else {
        let value = db.get_storage(&key.address(), &key.slot()).expect("lanes get_storage failed");
        assert!(!value.is_zero(), "lanes: slot missing");
        Value::Slot(value)
    }
}

struct RedbTables {
    accounts: ReadOnlyTable<&'static [u8; 20], &'static [u8; 72]>,
    storage: ReadOnlyTable<&'static [u8; 52], &'static [u8; 32]>,
}

impl RedbTables {
    /// Opens both tables in one read transaction, kept for all the reads.
    fn open(db: &Database) -> Self {
        let tx = db.begin_read().expect("redb begin_read");
        Self {
            accounts: tx.open_table(ACCOUNTS).expect("redb open accounts"),
            storage: tx.open_table(STORAGE).expect("redb open storage"),
        }
    }

    #[inline]
    fn read(&self, key: &ReadKey) -> Value {
        if key.account {
            let guard = self.accounts.get(key.address_bytes()).expect("redb get");
            Value::Account(decode_header(guard.expect("redb: account missing").value()))
        } else {
            let guard = self.storage.get(&key.bytes).expect("redb get");
            Value::Slot(U256::from_le_bytes(*guard.expect("redb: slot missing").value()))
        }
    }
}

fn lanes_commit(db: &AccountsDb, block: &mut u64, changes: &[Entry]) {
    *block += 1;
    if let Err(e) = db.commit(*block, B256::from(U256::from(*block)), changes) {
        panic!("lanes commit of block {block} ({} changes) failed: {e} ({e:?})", changes.len());
    }
}

fn redb_commit(db: &Database, changes: &[Entry]) {
    let mut tx = db.begin_write().expect("redb begin_write");
    tx.set_durability(Durability::Immediate).expect("redb set_durability");
    {
        let mut accounts = tx.open_table(ACCOUNTS).expect("redb open accounts");
        let mut storage = tx.open_table(STORAGE).expect("redb open storage");
        for change in changes {
            match change {
                Entry::Account(a, h) => {
                    accounts.insert(&a.0.0, &encode_header(h)).expect("redb insert");
                }
                Entry::Storage(a, s, v) => {
                    storage.insert(&slot_key(a, s), &v.to_le_bytes::<32>()).expect("redb insert");
                }
                Entry::Code(..) => unreachable!("the benchmark writes no code"),
            }
        }
    }
    tx.commit().expect("redb commit");
}

// ---------------------------------------------------------------------------
// Setup.

fn open_lanes(dir: &Path) -> AccountsDb {
    AccountsDb::open(dir, AccountsDbConfig::default())
        .unwrap_or_else(|e| panic!("lanes open of {} failed: {e} ({e:?})", dir.display()))
}

fn load_lanes(db: &AccountsDb, block: &mut u64, data: &Data, init: &InitialValues) {
    let accounts = data.accounts.iter().zip(&init.headers).map(|(a, h)| Entry::Account(*a, *h));
    let slots = data
        .slots
        .iter()
        .zip(&init.slot_values)
        .map(|((a, s), v)| Entry::Storage(data.accounts[*a as usize], *s, *v));
    let mut all = accounts.chain(slots);
    let mut chunk = Vec::with_capacity(LANES_LOAD_CHUNK);
    loop {
        chunk.clear();
        chunk.extend(all.by_ref().take(LANES_LOAD_CHUNK));
        if chunk.is_empty() {
            break;
        }
        lanes_commit(db, block, &chunk);
    }
}

fn load_redb(db: &Database, data: &Data, init: &InitialValues) {
    let n = data.accounts.len() + data.slots.len();
    let mut i = 0;
    while i < n {
        let end = (i + REDB_LOAD_CHUNK).min(n);
        let tx = db.begin_write().expect("redb begin_write");
        {
            let mut accounts = tx.open_table(ACCOUNTS).expect("redb open accounts");
            let mut storage = tx.open_table(STORAGE).expect("redb open storage");
            for j in i..end {
                if let Some(a) = data.accounts.get(j) {
                    accounts.insert(&a.0.0, &encode_header(&init.headers[j])).expect("redb insert");
                } else {
                    let k = j - data.accounts.len();
                    let (a, s) = &data.slots[k];
                    let key = slot_key(&data.accounts[*a as usize], s);
                    let value = init.slot_values[k].to_le_bytes::<32>();
                    storage.insert(&key, &value).expect("redb insert");
                }
            }
        }
        tx.commit().expect("redb commit");
        i = end;
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Reporting helpers.

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

fn fmt_time(secs: f64) -> String {
    let (v, unit) = if secs < 1e-6 {
        (secs * 1e9, "ns")
    } else if secs < 1e-3 {
        (secs * 1e6, "µs")
    } else if secs < 1.0 {
        (secs * 1e3, "ms")
    } else {
        (secs, "s")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.1}x")
    } else if r >= 0.01 {
        format!("{r:.2}x")
    } else {
        format!("{r:.4}x")
    }
}

fn fmt_bytes(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
}

fn goal(met: bool, text: &str) -> String {
    format!("goal {text}: {}", if met { "met" } else { "MISSED" })
}

fn row(name: &str, lanes: f64, redb: f64, goal_text: &str, goal_ratio: Option<f64>) {
    let ratio = redb / lanes;
    let verdict = goal_ratio.map(|g| goal(ratio >= g, goal_text)).unwrap_or_default();
    let line = format!(
        "{name:<16}lanes {:>9}   redb {:>9}   redb/lanes = {:>8}   {verdict}",
        fmt_time(lanes),
        fmt_time(redb),
        fmt_ratio(ratio)
    );
    println!("{}", line.trim_end());
}

// ---------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    // Like criterion: benchmarks under `cargo bench`, one quick pass otherwise.
    let bench_mode = has("--bench") && !has("--test") && !has("--list");
    let user_times = has("--measurement-time") || has("--warm-up-time");
    let p = Params::new(bench_mode);

    let base = std::env::var_os("LANES_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    std::fs::create_dir_all(&base).expect("create the bench directory");
    let root = tempfile::Builder::new()
        .prefix("lanes-accounts-db-bench-")
        .tempdir_in(&base)
        .expect("create a temporary directory");
    let lanes_dir = root.path().join("lanes");
    let redb_path = root.path().join("redb").join("db.redb");
    std::fs::create_dir_all(redb_path.parent().expect("has a parent")).expect("create redb dir");

    println!(
        "accounts_db bench: {} accounts, {} slots, blocks of {} changes, in {}",
        p.accounts,
        p.slots,
        p.block_changes(),
        root.path().display()
    );

    let mut rng = StdRng::seed_from_u64(SEED);
    let (data, init) = generate(&p, &mut rng);
    let keys = read_keys(&p, &data, &mut rng);

    // Load both stores with the same data.
    let mut lanes_block = 0u64;
    let mut lanes = open_lanes(&lanes_dir);
    let t = Instant::now();
    load_lanes(&lanes, &mut lanes_block, &data, &init);
    let lanes_load = t.elapsed();
    let mut redb = Database::create(&redb_path).expect("redb create");
    let t = Instant::now();
    load_redb(&redb, &data, &init);
    let redb_load = t.elapsed();
    drop(init);
    let stats = lanes.stats();
    println!(
        "load: lanes {} ({} commits; {} keys indexed, {} segments, {} written, {} live), \
         redb {} ({} file)",
        fmt_time(lanes_load.as_secs_f64()),
        lanes_block,
        stats.indexed_keys,
        stats.segments,
        fmt_bytes(stats.written_bytes),
        fmt_bytes(stats.live_bytes),
        fmt_time(redb_load.as_secs_f64()),
        fmt_bytes(dir_size(redb_path.parent().expect("has a parent"))),
    );

    // Reopen both; lanes' index bytes per key: the heap growth of its open,
    // the index tables among them.
    let mut lanes_reopen = Vec::new();
    let mut redb_reopen = Vec::new();
    let (mut index_bytes, mut heap_bytes, mut table_bytes) = (0usize, 0usize, 0usize);
    let mut indexed_keys = 0usize;
    for _ in 0..p.reopens {
        drop(lanes);
        let before = allocated();
        let t = Instant::now();
        lanes = open_lanes(&lanes_dir);
        lanes_reopen.push(t.elapsed().as_secs_f64());
        heap_bytes = allocated().saturating_sub(before);
        let stats = lanes.stats();
        (indexed_keys, table_bytes) = (stats.indexed_keys, stats.index_bytes);
        index_bytes = heap_bytes;

        drop(redb);
        let t = Instant::now();
        redb = Database::open(&redb_path).expect("redb open");
        redb_reopen.push(t.elapsed().as_secs_f64());
    }
    let bytes_per_key = index_bytes as f64 / indexed_keys.max(1) as f64;
    println!(
        "reopen: lanes heap +{} (index tables {} of it) for {indexed_keys} keys = {bytes_per_key:.1} bytes/key",
        fmt_bytes(heap_bytes as u64),
        fmt_bytes(table_bytes as u64)
    );

    // Warm both with one pass over the read keys, checking they agree.
    let tables = RedbTables::open(&redb);
    for key in &keys {
        assert_eq!(lanes_read(&lanes, key), tables.read(key), "lanes and redb disagree");
    }

    let mut c = Criterion::default().configure_from_args();

    {
        let mut g = c.benchmark_group("point_read");
        g.throughput(Throughput::Elements(1));
        let n = keys.len();
        g.bench_function("lanes", |b| {
            let mut i = 0;
            b.iter(|| {
                let v = lanes_read(&lanes, &keys[i]);
                i = if i + 1 == n { 0 } else { i + 1 };
                v
            });
        });
        let view = lanes.view();
        g.bench_function("lanes_view", |b| {
            let mut i = 0;
            b.iter(|| {
                let v = lanes_read(&view, &keys[i]);
                i = if i + 1 == n { 0 } else { i + 1 };
                v
            });
        });
        drop(view);
        g.bench_function("redb", |b| {
            let mut i = 0;
            b.iter(|| {
                let v = tables.read(&keys[i]);
                i = if i + 1 == n { 0 } else { i + 1 };
                v
            });
        });
        g.finish();
    }
    // A live read transaction would keep redb from reusing pages during commits.
    drop(tables);

    {
        let mut g = c.benchmark_group("commit_10k");
        g.throughput(Throughput::Elements(p.block_changes() as u64));
        g.sample_size(10).sampling_mode(SamplingMode::Flat);
        if !user_times {
            g.measurement_time(Duration::from_secs(15));
        }
        let mut block_rng = StdRng::seed_from_u64(SEED ^ 1);
        g.bench_function("lanes", |b| {
            b.iter_batched(
                || random_block(&p, &data, &mut block_rng),
                |changes| lanes_commit(&lanes, &mut lanes_block, &changes),
                BatchSize::PerIteration,
            );
        });
        let mut block_rng = StdRng::seed_from_u64(SEED ^ 2);
        g.bench_function("redb", |b| {
            b.iter_batched(
                || random_block(&p, &data, &mut block_rng),
                |changes| redb_commit(&redb, &changes),
                BatchSize::PerIteration,
            );
        });
        g.finish();
    }

    c.final_summary();

    // Summary: our own timings, medians of `reps` repetitions.
    let tables = RedbTables::open(&redb);
    for key in &keys {
        black_box(lanes_read(&lanes, key));
        black_box(tables.read(key));
    }
    let mut lanes_reads = Vec::new();
    let mut redb_reads = Vec::new();
    for rep in 0..p.reps {
        let start = rep * p.summary_reads;
        let batch = || (start..start + p.summary_reads).map(|i| &keys[i % keys.len()]);
        let t = Instant::now();
        for key in batch() {
            black_box(lanes_read(&lanes, key));
        }
        lanes_reads.push(t.elapsed().as_secs_f64() / p.summary_reads as f64);
        let t = Instant::now();
        for key in batch() {
            black_box(tables.read(key));
        }
        redb_reads.push(t.elapsed().as_secs_f64() / p.summary_reads as f64);
    }
    drop(tables);

    let mut lanes_commits = Vec::new();
    let mut redb_commits = Vec::new();
    let mut block_rng = StdRng::seed_from_u64(SEED ^ 3);
    let mut written = Vec::new();
    for _ in 0..p.reps {
        let blocks: Vec<Vec<Entry>> =
            (0..p.summary_commits).map(|_| random_block(&p, &data, &mut block_rng)).collect();
        let t = Instant::now();
        for changes in &blocks {
            lanes_commit(&lanes, &mut lanes_block, changes);
        }
        lanes_commits.push(t.elapsed().as_secs_f64() / p.summary_commits as f64);
        let t = Instant::now();
        for changes in &blocks {
            redb_commit(&redb, changes);
        }
        redb_commits.push(t.elapsed().as_secs_f64() / p.summary_commits as f64);
        written.extend(blocks.into_iter().flatten());
    }
    // Both stores got the same summary blocks: what they wrote must read back alike.
    let tables = RedbTables::open(&redb);
    for change in &written {
        let key = match change {
            Entry::Account(a, _) => {
                let mut bytes = [0; 52];
                bytes[..20].copy_from_slice(a.as_slice());
                ReadKey { account: true, bytes }
            }
            Entry::Storage(a, s, _) => ReadKey { account: false, bytes: slot_key(a, s) },
            Entry::Code(..) => unreachable!("the benchmark writes no code"),
        };
        assert_eq!(lanes_read(&lanes, &key), tables.read(&key), "lanes and redb disagree");
    }
    drop(tables);

    let stats = lanes.stats();
    println!();
    println!(
        "lanes after the commits: {} keys indexed, {} segments, {} written, {} live; redb file {}",
        stats.indexed_keys,
        stats.segments,
        fmt_bytes(stats.written_bytes),
        fmt_bytes(stats.live_bytes),
        fmt_bytes(dir_size(redb_path.parent().expect("has a parent"))),
    );
    println!(
        "(medians of {} runs: {} reads, {} commits, {} reopens each; redb/lanes > 1 means lanes is \
         faster)",
        p.reps, p.summary_reads, p.summary_commits, p.reopens
    );
    if !bench_mode {
        println!("(test mode: a tiny store, run once to check the code; not a measurement)");
    }
    println!("accounts_db vs redb ({} accounts, {} slots)", p.accounts, p.slots);
    row("point read", median(lanes_reads), median(redb_reads), ">= 3x", Some(3.0));
    let commit_name = format!("commit {}k", p.block_changes() as f64 / 1000.0);
    row(&commit_name, median(lanes_commits), median(redb_commits), ">= 2x", Some(2.0));
    row("reopen", median(lanes_reopen), median(redb_reopen), "", None);
    println!("index bytes/key {bytes_per_key:.1}   {}", goal(bytes_per_key <= 64.0, "<= 64"));
}
