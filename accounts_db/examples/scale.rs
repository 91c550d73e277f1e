//! The accounts database at a size, through its public API only, as
//! `scripts/state-scale.sh` drives it (issue 61's table):
//!
//! - `scale fill DIR KEYS`: a new database of KEYS keys, 1 account : 4
//!   storage slots (random addresses and slots from a seeded generator),
//!   committed 10,000 changes at a time, with a reader beside it; prints the
//!   fill rate, the slowest commit and the reader's worst wait (with how
//!   much of that read went waiting for a core, and the longest any read
//!   was blocked: [`Waits`]), then 1,000 commits of 1,000 changes to
//!   existing keys (the rate at that size).
//! - `scale dead DIR KEYS`: overwrites every key once (the log half dead),
//!   commits one-change blocks until the kept history has passed the
//!   overwrites, then goes on committing while the database compacts in
//!   the background under the default config; prints the disk before and
//!   after, how long it took, and the slowest commit and a reader's worst
//!   wait meanwhile.
//! - `scale update DIR KEYS`: commits of 1,000 changes to existing keys
//!   until killed (the script kills it with SIGKILL).
//! - `scale open DIR KEYS`: opens the database, prints the time it took, the
//!   process's resident memory (anonymous, and file-backed: the mapped
//!   data), the log it replayed after the index checkpoint, and point reads
//!   of random existing keys (p50, p99, p999), then of 1,000 keys read
//!   over again (hot), then the time the close took.
//!
//! `SCALE_SYNC=off` opens the database with `sync` off (commits written to
//! the operating system, not synced to the disk).
//!
//! Every line is `key: value`, for the script to read. `RUST_LOG=lanes=debug`
//! also logs, to stderr with the seconds since start, each commit that held
//! the writer 50 ms or more (where its time went) and each index
//! checkpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256, keccak256};
use lanes_accounts_db::{AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, Entry};

#[path = "../benches/common/mod.rs"]
mod common;
use common::Rng;

/// Key `i` of a database of `keys`: accounts first (a fifth), then slots,
/// each slot under a random account.
fn key(i: u64, keys: u64) -> (Address, Option<B256>) {
    let accounts = (keys / 5).max(1);
    if i < accounts {
        return (Address::from_slice(&keccak256(i.to_le_bytes())[..20]), None);
    }
    let owner = keccak256((i % accounts).to_le_bytes());
    (Address::from_slice(&owner[..20]), Some(keccak256((i ^ 1 << 63).to_le_bytes())))
}

fn entry(i: u64, keys: u64, value: u64) -> Entry {
    match key(i, keys) {
        (a, None) => {
            Entry::Account(a, AccountHeader { nonce: value + 1, ..AccountHeader::default() })
        }
        (a, Some(slot)) => Entry::Storage(a, slot, U256::from(value + 1)),
    }
}

/// Reads key `i` (its address and slot derived before the clock starts),
/// checking it is there; how long the read took.
fn read(db: &AccountsDb, i: u64, keys: u64) -> Duration {
    let key = key(i, keys);
    let t = Instant::now();
    let found = match key {
        (a, None) => db.get_account(&a).expect("read").is_some(),
        (a, Some(slot)) => !db.get_storage(&a, &slot).expect("read").is_zero(),
    };
    let took = t.elapsed();
    assert!(found, "key {i}");
    took
}

/// A thread reading random keys among the first `upto` (those written so
/// far) beside the commits, timing each read, until [`Reader::worst`].
struct Reader {
    upto: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Waits>,
}

/// The reader's longest reads. On a machine with more busy threads than
/// cores a read also waits for a core, which the database does not decide:
/// each read's time is split into time on a core, time waiting for one
/// (the kernel's run-queue delay), and the rest, blocked (a lock, a page
/// read from the disk).
#[derive(Default)]
struct Waits {
    /// The longest read, and how much of it was spent waiting for a core.
    worst: Duration,
    worst_queued: Duration,
    /// The longest a read was off a core in this system and not waiting
    /// for one: asleep (a lock, the disk).
    blocked: Duration,
    /// The longest a read was neither on a core nor waiting for one while
    /// the thread was never switched out: the virtual machine's CPU taken
    /// away by its host (steal time), or interrupts.
    stolen: Duration,
}

/// The calling thread's time on a core, waiting for one, and times switched
/// in, from `/proc/thread-self/schedstat` (zero where there is none).
struct SchedClock(Option<std::fs::File>);

impl SchedClock {
    fn open() -> Self {
        Self(std::fs::File::open("/proc/thread-self/schedstat").ok())
    }

    /// (on a core, waiting for one, times switched in); on a core from the
    /// thread's CPU clock, which counts the current slice too.
    fn now(&self) -> (Duration, Duration, u64) {
        use std::os::unix::fs::FileExt;
        let Some(file) = &self.0 else { return (Duration::ZERO, Duration::ZERO, 0) };
        let mut buf = [0u8; 96];
        let n = file.read_at(&mut buf, 0).unwrap_or(0);
        let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
        let field = |i| text.split_whitespace().nth(i).and_then(|v| v.parse().ok()).unwrap_or(0);
        let (queued, slices) = (field(1), field(2));
        let cpu = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        let cpu = Duration::new(cpu.tv_sec as u64, cpu.tv_nsec as u32);
        (cpu, Duration::from_nanos(queued), slices)
    }
}

impl Reader {
    fn start(db: &Arc<AccountsDb>, keys: u64, seed: u64, upto: u64) -> Self {
        let upto = Arc::new(AtomicU64::new(upto));
        let done = Arc::new(AtomicBool::new(false));
        let (db, below, stop) = (db.clone(), upto.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let (mut rng, mut waits, clock) = (Rng(seed), Waits::default(), SchedClock::open());
            while !stop.load(Ordering::Relaxed) {
                let upto = below.load(Ordering::Acquire);
                if upto == 0 {
                    std::thread::yield_now();
                    continue;
                }
                let (cpu, queued, slices) = clock.now();
                let took = read(&db, rng.next() % upto, keys);
                let (cpu_after, queued_after, slices_after) = clock.now();
                let queued = queued_after.saturating_sub(queued);
                if took > waits.worst {
                    (waits.worst, waits.worst_queued) = (took, queued);
                }
                let off = took.saturating_sub(cpu_after.saturating_sub(cpu) + queued);
                if slices_after == slices {
                    waits.stolen = waits.stolen.max(off);
                } else {
                    waits.blocked = waits.blocked.max(off);
                }
            }
            waits
        });
        Self { upto, done, thread }
    }

    /// Stops the reader; its longest waits.
    fn worst(self) -> Waits {
        self.done.store(true, Ordering::Relaxed);
        self.thread.join().expect("the reader")
    }
}

/// Prints the reader's waits under `prefix`.
fn print_waits(prefix: &str, waits: &Waits) {
    println!("{prefix}reader_worst_wait_ms: {:.3}", ms(waits.worst));
    println!("{prefix}reader_worst_wait_queued_ms: {:.3}", ms(waits.worst_queued));
    println!("{prefix}reader_worst_blocked_ms: {:.3}", ms(waits.blocked));
    println!("{prefix}reader_worst_stolen_ms: {:.3}", ms(waits.stolen));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// `count` commits of 1,000 random updates each; the time the commits
/// took (the changes are made, keccak and all, before each one's clock
/// starts).
fn updates(db: &AccountsDb, keys: u64, rng: &mut Rng, block: &mut u64, count: usize) -> Duration {
    let mut took = Duration::ZERO;
    for _ in 0..count {
        let changes: Vec<Entry> =
            (0..1_000).map(|_| entry(rng.next() % keys, keys, *block)).collect();
        *block += 1;
        let start = Instant::now();
        db.commit(*block, B256::ZERO, &changes).expect("commit");
        took += start.elapsed();
    }
    took
}

fn percentiles(mut took: Vec<Duration>) -> String {
    took.sort_unstable();
    let at = |p: f64| took[((took.len() as f64 * p) as usize).min(took.len() - 1)].as_secs_f64();
    format!("{:.2} / {:.2} / {:.2}", at(0.5) * 1e6, at(0.99) * 1e6, at(0.999) * 1e6)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// `scale dead`: see the module's doc.
fn dead(dir: &str, keys: u64, config: AccountsDbConfig) {
    let kept = config.history_blocks.unwrap_or(0);
    let db = Arc::new(AccountsDb::open(dir, config).expect("open"));
    let mut block = db.last_commit().map_or(0, |c| c.block_number);
    let mut at = 0;
    while at < keys {
        let end = (at + 10_000).min(keys);
        let changes: Vec<Entry> = (at..end).map(|i| entry(i, keys, block)).collect();
        block += 1;
        db.commit(block, B256::ZERO, &changes).expect("commit");
        at = end;
    }
    let one = |block: u64| [entry(block % keys, keys, block)];
    for _ in 0..=kept {
        block += 1;
        db.commit(block, B256::ZERO, &one(block)).expect("commit");
    }
    let before = db.stats();
    println!("dead_disk_before_gib: {:.2}", gib(before.written_bytes));
    println!(
        "dead_live_before_pct: {:.0}",
        before.live_bytes as f64 * 100.0 / before.written_bytes as f64
    );
    let reader = Reader::start(&db, keys, 5, keys);
    // Commits go on (100 a second) while the database compacts on its own.
    let (start, mut slowest, mut settled) = (Instant::now(), Duration::ZERO, Instant::now());
    let mut smallest = before.written_bytes;
    while settled.elapsed() < Duration::from_secs(10) && start.elapsed() < Duration::from_secs(900)
    {
        block += 1;
        let t = Instant::now();
        db.commit(block, B256::ZERO, &one(block)).expect("commit");
        slowest = slowest.max(t.elapsed());
        let now = db.stats().written_bytes;
        if now + (1 << 20) < smallest {
            smallest = now;
            settled = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let waits = reader.worst();
    let after = db.stats().written_bytes;
    println!("dead_disk_after_gib: {:.2}", gib(after));
    println!(
        "dead_reclaimed_pct: {:.0}",
        (before.written_bytes - after) as f64 * 100.0 / before.written_bytes as f64
    );
    println!("dead_compaction_s: {:.0}", (settled - start).as_secs_f64());
    println!("dead_slowest_commit_ms: {:.1}", ms(slowest));
    print_waits("dead_", &waits);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, what, dir, keys] = &args[..] else {
        eprintln!("usage: scale fill|update|dead|open DIR KEYS");
        std::process::exit(2);
    };
    let keys: u64 = keys.parse().expect("KEYS is a number");
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    // `SCALE_SYNC=off` commits without the fsync: what a commit costs the
    // database itself, apart from the disk's sync latency.
    let sync = std::env::var("SCALE_SYNC").map_or(true, |v| v != "off");
    let config = AccountsDbConfig::default().with_sync(sync);
    match what.as_str() {
        "fill" => {
            let db = Arc::new(AccountsDb::open(dir, config).expect("open"));
            let reader = Reader::start(&db, keys, 7, 0);
            let (start, mut slowest, mut block) = (Instant::now(), Duration::ZERO, 0u64);
            let mut at = 0;
            while at < keys {
                let end = (at + 10_000).min(keys);
                let changes: Vec<Entry> = (at..end).map(|i| entry(i, keys, 0)).collect();
                block += 1;
                let t = Instant::now();
                db.commit(block, B256::ZERO, &changes).expect("commit");
                slowest = slowest.max(t.elapsed());
                reader.upto.store(end, Ordering::Release);
                at = end;
            }
            let took = start.elapsed();
            let waits = reader.worst();
            println!("fill_keys_per_s: {:.0}", keys as f64 / took.as_secs_f64());
            println!("slowest_commit_ms: {:.1}", ms(slowest));
            print_waits("", &waits);
            let took = updates(&db, keys, &mut Rng(11), &mut block, 1_000);
            println!("commits_per_s_1000_changes: {:.0}", 1_000.0 / took.as_secs_f64());
            println!("index_bytes_per_key: {:.1}", db.stats().index_bytes as f64 / keys as f64);
        }
        "dead" => dead(dir, keys, config),
        "update" => {
            let db = AccountsDb::open(dir, config).expect("open");
            let mut block = db.last_commit().map_or(0, |c| c.block_number);
            let mut rng = Rng(block);
            loop {
                let took = updates(&db, keys, &mut rng, &mut block, 100);
                eprintln!("commits_per_s_1000_changes: {:.0}", 100.0 / took.as_secs_f64());
            }
        }
        "open" => {
            let t = Instant::now();
            let db = AccountsDb::open(dir, config).expect("open");
            println!("open_s: {:.2}", t.elapsed().as_secs_f64());
            println!("replayed_mib: {:.0}", db.stats().replayed_at_open as f64 / (1 << 20) as f64);
            println!("rss_anon_gib: {:.2}", status("RssAnon:") as f64 / (1u64 << 30) as f64);
            println!("rss_file_gib: {:.2}", status("RssFile:") as f64 / (1u64 << 30) as f64);
            let mut rng = Rng(3);
            let took: Vec<Duration> =
                (0..100_000).map(|_| read(&db, rng.next() % keys, keys)).collect();
            println!("read_us_p50_p99_p999: {}", percentiles(took));
            let hot: Vec<u64> = (0..1_000).map(|_| rng.next() % keys).collect();
            // Read once untimed: hot means in the page cache.
            hot.iter().for_each(|&i| _ = read(&db, i, keys));
            let took: Vec<Duration> =
                (0..100_000).map(|n| read(&db, hot[n % hot.len()], keys)).collect();
            println!("hot_read_us_p50_p99_p999: {}", percentiles(took));
            let t = Instant::now();
            drop(db);
            println!("close_s: {:.2}", t.elapsed().as_secs_f64());
        }
        other => panic!("unknown command {other}"),
    }
}
