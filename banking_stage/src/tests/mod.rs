//! The stage end to end with the native executor: blocks replay, nonce order,
//! flooding, starvation, shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
use lanes_runtime::native::{NativeExecutor, NativeOp, NativeTx};
use lanes_runtime::{
    AccessSet, AccessSource, Admission, AdmitContext, Admitted, Chain, Executor, Genesis,
    PoolTransaction, StateKey, Transaction, TxError,
};
use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};

use crate::{
    BankingStage, BankingStageConfig, Decision, Mining, ProducedBlock, StageError, SubmitError,
};

const SENDERS: u8 = 64;
const HOT: (Address, B256) = (Address::repeat_byte(0xee), B256::ZERO);

fn sender(i: u8) -> Address {
    Address::repeat_byte(i.wrapping_add(1))
}

fn genesis() -> Genesis {
    let funded = AccountHeader { balance: U256::from(10u64.pow(18)), ..Default::default() };
    Genesis {
        alloc: (0..SENDERS).map(|i| Entry::Account(sender(i), funded)).collect(),
        timestamp: 0,
        coinbase: Address::ZERO,
        base_fee: 0,
        gas_limit: 30_000_000,
        ..Default::default()
    }
}

fn chain() -> (tempfile::TempDir, Chain) {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis()).unwrap();
    (dir, chain)
}

fn config(workers: usize, block_ms: u64) -> BankingStageConfig {
    BankingStageConfig {
        workers,
        sigverify_threads: 2,
        block_time: Duration::from_millis(block_ms),
        max_wait: Duration::from_millis(block_ms),
        coinbase: Address::repeat_byte(0xcb),
        ..Default::default()
    }
}

fn raw(tx: &NativeTx) -> Bytes {
    tx.encoded().clone()
}

fn transfer(from: u8, nonce: u64, to: u8, fee: u64) -> NativeTx {
    NativeTx::transfer(sender(from), nonce, sender(to), U256::from(1), U256::from(fee))
}

fn hot_touch(from: u8, nonce: u64, fee: u64) -> NativeTx {
    NativeTx::touch(sender(from), nonce, vec![], vec![HOT], U256::from(fee))
}

/// Reads blocks until `done` says stop or `timeout` passes.
fn collect(
    stage: &BankingStage<NativeExecutor>,
    timeout: Duration,
    mut done: impl FnMut(&[ProducedBlock]) -> bool,
) -> Vec<ProducedBlock> {
    let deadline = Instant::now() + timeout;
    let mut blocks = Vec::new();
    while !done(&blocks) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let rejected: Vec<_> = blocks.iter().flat_map(|b| &b.rejected).collect();
            let pool = stage.pool_len();
            let n = included(&blocks).len();
            panic!(
                "timed out after {} blocks, {n} included, pool {pool}; rejected: {rejected:?}",
                blocks.len()
            );
        }
        if let Ok(b) = stage.blocks().recv_timeout(left) {
            blocks.push(b);
        }
    }
    blocks
}

fn included(blocks: &[ProducedBlock]) -> Vec<B256> {
    blocks.iter().flat_map(|b| b.receipts.iter().map(|r| r.tx_hash)).collect()
}

#[test]
fn test_blocks_from_four_workers_replay_on_one_thread() {
    let (_dir, chain) = chain();
    let (_replica_dir, mut replica) = self::chain();
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config(4, 40));
    // Transfers among all senders (conflicting on receivers), hot-slot touches,
    // and undeclared ones for the exclusive lane, over several blocks.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut nonces = [0u64; SENDERS as usize];
    let mut hashes = Vec::new();
    for round in 0..6 {
        let mut txs = Vec::new();
        for from in 0..SENDERS {
            let n = nonces[from as usize];
            nonces[from as usize] += 1;
            let fee = 21_000 * (1 + u64::from(from % 7));
            let tx = match (from + round) % 9 {
                0 => hot_touch(from, n, 26_000 * 3),
                1 => transfer(from, n, (from + 1) % SENDERS, fee).with_declared(None),
                _ => transfer(from, n, *[0u8, 1, 2, 3].choose(&mut rng).unwrap(), fee),
            };
            txs.push(raw(&tx));
        }
        for r in stage.submit_many(txs) {
            hashes.push(r.unwrap());
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut blocks =
        collect(&stage, Duration::from_secs(30), |b| included(b).len() == hashes.len());
    let chain = stage.shutdown().unwrap();
    blocks.extend(stage.blocks().try_iter());
    let mut all: Vec<_> = included(&blocks);
    all.sort();
    hashes.sort();
    assert_eq!(all, hashes, "every submitted transaction is in a block, once");
    assert!(blocks.iter().any(|b| b.stats.exclusive > 0));
    assert!(blocks.iter().any(|b| b.stats.mean_entry_width > 1.0));
    // Replay every block on one thread, including empty ones and any sealed at shutdown.
    for b in &blocks {
        replica.replay_block(&NativeExecutor, &b.block, 1).unwrap();
        assert_eq!(replica.head(), &b.block.header);
    }
    assert_eq!(replica.head().number, chain.head().number, "every committed block was handed out");
    assert_eq!(replica.head().state_commitment, chain.head().state_commitment);
}

#[test]
fn test_nonces_submitted_in_random_order_are_included_in_order() {
    let (_dir, chain) = chain();
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config(2, 30));
    let mut txs: Vec<NativeTx> = (0..4u8)
        .flat_map(|from| (0..40).map(move |n| transfer(from, n, 10 + from, 21_000 + n)))
        .collect();
    txs.shuffle(&mut rand::rngs::StdRng::seed_from_u64(1));
    for chunk in txs.chunks(17) {
        for r in stage.submit_many(chunk.iter().map(raw).collect()) {
            r.unwrap();
        }
    }
    let blocks = collect(&stage, Duration::from_secs(30), |b| included(b).len() == txs.len());
    stage.shutdown().unwrap();
    let order = included(&blocks);
    for from in 0..4u8 {
        let nonces: Vec<u64> = order
            .iter()
            .filter_map(|h| txs.iter().find(|t| t.hash() == *h))
            .filter(|t| t.sender() == sender(from))
            .map(|t| t.nonce())
            .collect();
        assert_eq!(nonces, (0..40).collect::<Vec<_>>(), "sender {from}");
    }
}

#[test]
fn test_flooding_gets_pool_full_and_memory_stays_bounded() {
    let (_dir, chain) = chain();
    let config = BankingStageConfig {
        max_pool: 500,
        max_per_sender: 64,
        ingress_queue: 4,
        // Every answer counted below comes back, however slow the machine.
        admit_timeout: Duration::from_secs(60),
        ..config(1, 1_000)
    };
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config);
    // Nonces from 1: all wait on the gap at 0, so nothing leaves the pool.
    let txs: Vec<Bytes> = (0..SENDERS)
        .flat_map(|from| (1..=60).map(move |n| raw(&transfer(from, n, 0, 21_000))))
        .collect();
    let results = stage.submit_many(txs.clone());
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let full =
        results.iter().filter(|r| matches!(r, Err(SubmitError::PoolFull { limit: 500 }))).count();
    let busy = results.iter().filter(|r| matches!(r, Err(SubmitError::Busy))).count();
    assert!(accepted <= 500 && stage.pool_len() <= 500, "accepted {accepted}");
    assert!(full + busy > 0 && accepted + full + busy == txs.len(), "{accepted} {full} {busy}");
    // Keep flooding: the pool fills to its limit and never grows past it.
    let mut rounds = 0;
    while stage.pool_len() < 500 {
        rounds += 1;
        assert!(rounds < 200, "the pool never filled: {}", stage.pool_len());
        // One job at a time, so each is verified rather than refused as busy.
        for chunk in txs.chunks(64) {
            stage.submit_many(chunk.to_vec());
            assert!(stage.pool_len() <= 500);
        }
    }
    // One job of transactions never sent before (a new sender's), which
    // cannot fit. (Not the flood's tail: which of the flood the pool took
    // depends on which jobs were refused as busy, so some of the tail may
    // be in the pool already, and "already known".)
    let fresh: Vec<Bytes> = (1..=64).map(|n| raw(&transfer(SENDERS, n, 0, 21_000))).collect();
    let again = stage.submit_many(fresh);
    assert!(again.iter().all(|r| matches!(r, Err(SubmitError::PoolFull { limit: 500 }))));
    assert_eq!(stage.pool_len(), 500);
    // The first transaction of the flood was accepted: sending it again is
    // "already known", not "full".
    assert!(results[0].is_ok());
    let first = transfer(0, 1, 0, 21_000);
    assert_eq!(stage.submit(raw(&first)), Err(SubmitError::AlreadyKnown(first.hash())));
    stage.shutdown().unwrap();
}

#[test]
fn test_low_priority_tx_on_hot_key_is_not_starved() {
    let (_dir, chain) = chain();
    let block_ms = 40;
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config(2, block_ms));
    // Keep a stream of better-paying touches of the hot slot flowing: every
    // other sender keeps up to 48 queued.
    let cheap = hot_touch(0, 0, 26_000);
    let mut next_nonce = [0u64; SENDERS as usize];
    let feed = |stage: &BankingStage<NativeExecutor>, next_nonce: &mut [u64], depth: u64| {
        for from in 1..SENDERS {
            let next = &mut next_nonce[from as usize];
            let queued = stage.pending_nonce(&sender(from)).unwrap_or(*next);
            let txs: Vec<Bytes> =
                (*next..queued + depth).map(|n| raw(&hot_touch(from, n, 26_000 * 10))).collect();
            for r in stage.submit_many(txs) {
                if r.is_err() {
                    break;
                }
                *next += 1;
            }
        }
    };
    // The stream is flowing when the cheap one comes. It goes behind the
    // worker holding the hot slot, and once it has waited `max_wait` nothing
    // that came later goes ahead of it.
    feed(&stage, &mut next_nonce, 4);
    stage.submit(raw(&cheap)).unwrap();
    // Read once it is in the pool: its wait starts there.
    let submitted = stage.head().number;
    let mut blocks = Vec::new();
    while !included(&blocks).contains(&cheap.hash()) {
        feed(&stage, &mut next_nonce, 48);
        if let Ok(b) = stage.blocks().recv_timeout(Duration::from_secs(5)) {
            blocks.push(b);
        }
        assert!(blocks.len() < 40, "starved for {} blocks", blocks.len());
    }
    let at = blocks.iter().find(|b| b.receipts.iter().any(|r| r.tx_hash == cheap.hash())).unwrap();
    let waited = at.block.header.number - submitted;
    assert!(waited <= 4, "included {waited} blocks after submission");
    // The stream really was contending: the pool still holds better-paying
    // touches of the hot slot, which the cheap one went ahead of.
    assert!(stage.pool_len() > 100, "pool {}", stage.pool_len());
    stage.shutdown().unwrap();
}

#[test]
fn test_shutdown_drains_seals_and_commits() {
    let (dir, chain) = chain();
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config(2, 60_000));
    let txs: Vec<NativeTx> = (0..20u8).map(|from| transfer(from, 0, 40, 21_000)).collect();
    for r in stage.submit_many(txs.iter().map(raw).collect()) {
        r.unwrap();
    }
    // The block time is a minute: only shutdown seals this block.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stage.pool_len() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stage.pool_len(), 0, "every transfer taken before the shutdown");
    let chain = stage.shutdown().unwrap();
    assert_eq!(stage.submit(raw(&transfer(30, 0, 40, 21_000))), Err(SubmitError::ShuttingDown));
    assert_eq!(chain.head().number, 1);
    let received = chain.db().get_account(&sender(40)).unwrap().unwrap().balance;
    assert_eq!(received, U256::from(10u64.pow(18) + 20));
    let block = stage.blocks().try_recv().unwrap();
    assert_eq!(block.receipts.len(), 20);
    drop((chain, stage));
    // Reopened from disk, the block is there.
    let reopened = Chain::open(dir.path(), AccountsDbConfig::default(), None).unwrap();
    assert_eq!(reopened.head().number, 1);
}

#[test]
fn test_lone_undeclared_tx_runs_in_an_idle_block() {
    let (_dir, chain) = chain();
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config(2, 200));
    // Nothing in flight and nothing else arriving: the lane must still run.
    let tx = transfer(0, 0, 1, 21_000).with_declared(None);
    stage.submit(raw(&tx)).unwrap();
    let blocks = collect(&stage, Duration::from_secs(5), |b| included(b).contains(&tx.hash()));
    assert_eq!(blocks.last().unwrap().stats.exclusive, 1);
    stage.shutdown().unwrap();
}

#[test]
fn test_recovery_time_reported_to_submit_decoded_is_sigverify_time() {
    let (_dir, chain) = chain();
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config(1, 20));
    let tx = transfer(0, 0, 1, 21_000);
    let took = Duration::from_millis(7);
    let hash = stage.submit_decoded(vec![tx], took).pop().unwrap().unwrap();
    let blocks = collect(&stage, Duration::from_secs(5), |b| included(b).contains(&hash));
    // No sigverify thread decoded anything: the caller's time is all there is.
    let sigverify: Duration = blocks.iter().map(|b| b.stats.sigverify_time).sum();
    assert_eq!(sigverify, took);
    stage.shutdown().unwrap();
}

#[test]
fn test_paused_stage_seals_empty_blocks_and_resumes() {
    let (_dir, chain) = chain();
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config(2, 30));
    stage.pause();
    let txs: Vec<NativeTx> = (0..20u8).map(|from| transfer(from, 0, 40, 21_000)).collect();
    for r in stage.submit_many(txs.iter().map(raw).collect()) {
        r.unwrap();
    }
    // Blocks go on being sealed while paused, and take nothing from the pool.
    let paused = collect(&stage, Duration::from_secs(5), |b| b.len() == 3);
    assert!(paused.iter().all(|b| b.receipts.is_empty()), "a paused stage ran transactions");
    assert!(paused.iter().all(|b| b.stats.last_batch_done.is_none()), "no batch ran");
    assert_eq!(stage.pool_len(), 20);
    let resumed = Instant::now();
    stage.resume();
    let blocks = collect(&stage, Duration::from_secs(5), |b| included(b).len() == 20);
    let received = Instant::now();
    assert!(txs.iter().all(|tx| included(&blocks).contains(&tx.hash())));
    assert_eq!(stage.pool_len(), 0);
    // Each block that ran transactions says when its last batch finished:
    // after the resume, before the block reached this thread.
    for b in blocks.iter().filter(|b| !b.receipts.is_empty()) {
        let done = b.stats.last_batch_done.expect("a block with transactions ran batches");
        assert!(resumed <= done && done <= received, "{done:?} outside {resumed:?}..{received:?}");
    }
    stage.shutdown().unwrap();
}

/// The CPUs each of this process's threads named `name` may run on, from
/// `/proc/self/task/*/status` (Linux).
#[cfg(target_os = "linux")]
fn allowed_cpus(name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let list = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:"));
        found.push(list.unwrap_or_default().trim().to_owned());
    }
    found
}

#[cfg(target_os = "linux")]
#[test]
fn test_pinned_threads_get_a_core_each_and_blocks_go_on() {
    let (_dir, chain) = chain();
    let config = BankingStageConfig { pin_threads: true, ..config(1, 30) };
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config);
    let txs: Vec<NativeTx> = (0..20u8).map(|from| transfer(from, 0, 40, 21_000)).collect();
    for r in stage.submit_many(txs.iter().map(raw).collect()) {
        r.unwrap();
    }
    let blocks = collect(&stage, Duration::from_secs(5), |b| included(b).len() == 20);
    assert!(txs.iter().all(|tx| included(&blocks).contains(&tx.hash())));
    // Other tests' stages run threads of the same names, unpinned; this
    // stage's must be among them. Workers live as long as the stage.
    let usable = core_affinity::get_core_ids().unwrap_or_default();
    if usable.len() >= 2 {
        let (w, s) = (usable[0].id.to_string(), usable[1].id.to_string());
        let deadline = Instant::now() + Duration::from_secs(5);
        let pinned = || {
            allowed_cpus("lanes-worker-0").contains(&w)
                && allowed_cpus("lanes-scheduler").contains(&s)
        };
        while !pinned() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            pinned(),
            "worker 0 pinned to CPU {w} and the scheduler to CPU {s}: workers {:?}, schedulers {:?}",
            allowed_cpus("lanes-worker-0"),
            allowed_cpus("lanes-scheduler")
        );
    }
    stage.shutdown().unwrap();
}

#[test]
fn test_a_transaction_held_for_gas_is_not_jumped_by_a_conflicting_one() {
    // Blocks of 100k gas. A (best tip) runs first; B (next best, 86k gas)
    // cannot share a block with A; C (worst tip, 26k gas) would fit beside
    // A but writes B's hot slot, so it must wait for B.
    let dir = tempfile::tempdir().unwrap();
    let genesis = Genesis { gas_limit: 100_000, ..genesis() };
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config(2, 30));
    let a = transfer(0, 0, 50, 21_000 * 100);
    let mut slots: Vec<(Address, B256)> =
        (1..13u8).map(|i| (HOT.0, B256::repeat_byte(i))).collect();
    slots.push(HOT);
    let b = NativeTx::touch(sender(1), 0, vec![], slots, U256::from(86_000 * 50));
    let c = NativeTx::touch(sender(2), 0, vec![], vec![HOT], U256::from(26_000 * 10));
    assert_eq!((b.gas_limit(), c.gas_limit()), (86_000, 26_000));
    stage.pause();
    for r in stage.submit_many([&a, &b, &c].map(raw).to_vec()) {
        r.unwrap();
    }
    assert_eq!(stage.pool_len(), 3, "all three in the pool before one pass sees them");
    stage.resume();
    let blocks = collect(&stage, Duration::from_secs(5), |b| included(b).len() == 3);
    let block_of = |tx: &NativeTx| {
        let number = blocks.iter().find(|b| b.receipts.iter().any(|r| r.tx_hash == tx.hash()));
        number.unwrap().block.header.number
    };
    assert!(block_of(&a) < block_of(&b), "B does not fit beside A");
    assert!(block_of(&b) < block_of(&c), "C jumped B, which it conflicts with");
    stage.shutdown().unwrap();
}

/// Knows from state what a native transfer that declares nothing writes (its
/// two accounts), as an executor's admission would; refuses one from an
/// account the state does not hold. Other undeclared transactions are
/// predicted by running them; `wrong` of those first predict a set without
/// their sender account (they leave it when they run).
#[derive(Default)]
struct Hook {
    /// How long each prediction takes.
    delay: Duration,
    wrong: std::sync::atomic::AtomicUsize,
    predictions: std::sync::atomic::AtomicUsize,
}

impl Admission<NativeTx> for Hook {
    fn admit(&self, tx: &NativeTx, ctx: AdmitContext<'_>) -> Result<Option<Admitted>, TxError> {
        if tx.access_set().is_some() {
            return Ok(Some(Admitted::declared(tx)));
        }
        let NativeOp::Transfer { to, .. } = tx.op() else { return Ok(None) };
        let sender = ctx.bank.simulate(|mut view, _| view.account(&tx.from()))?;
        if sender.is_empty() {
            return Err(TxError::Invalid(format!("{} holds nothing", tx.from())));
        }
        let writes = [StateKey::Account(tx.from()), StateKey::Account(*to)];
        let access = Some(AccessSet::unbounded([], writes));
        Ok(Some(Admitted { access, source: AccessSource::Known }))
    }

    fn predict(&self, tx: &NativeTx, ctx: AdmitContext<'_>) -> Admitted {
        use std::sync::atomic::Ordering::SeqCst;
        std::thread::sleep(self.delay);
        self.predictions.fetch_add(1, SeqCst);
        let set = ctx.bank.simulate(|view, _| {
            let (_, view) = NativeExecutor.execute(&mut (), tx, view);
            view.touched_set(64).ok()
        });
        let wrong = self.wrong.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok();
        let set = set.map(|set| match wrong {
            true => AccessSet::unbounded(set.reads().to_vec(), set.writes()[1..].to_vec()),
            false => set,
        });
        Admitted { access: set, source: AccessSource::Predicted }
    }
}

#[test]
fn test_an_admission_hook_supplies_sets_for_undeclared_transactions() {
    let (_dir, chain) = chain();
    let mut stage = BankingStage::builder(Arc::new(NativeExecutor), chain)
        .config(config(2, 40))
        .admission(Arc::new(Hook::default()))
        .start();
    // Undeclared transfers between distinct pairs: without the hook each
    // would run alone in the exclusive lane.
    let txs: Vec<NativeTx> = (0..SENDERS / 2)
        .map(|i| transfer(i, 0, i + SENDERS / 2, 21_000).with_declared(None))
        .collect();
    let stranger = NativeTx::transfer(
        Address::repeat_byte(0x99),
        0,
        sender(0),
        U256::from(1),
        U256::from(21_000),
    )
    .with_declared(None);
    let answer = stage.submit(raw(&stranger));
    assert!(
        matches!(&answer, Err(SubmitError::Refused(TxError::Invalid(m))) if m.contains("holds nothing")),
        "{answer:?}"
    );
    stage.pause();
    for r in stage.submit_many(txs.iter().map(raw).collect()) {
        r.unwrap();
    }
    stage.resume();
    let blocks = collect(&stage, Duration::from_secs(10), |b| included(b).len() == txs.len());
    assert!(blocks.iter().all(|b| b.stats.exclusive == 0), "no transaction ran alone");
    let widest = blocks.iter().flat_map(|b| &b.block.entries).map(|e| e.txs.len()).max();
    assert!(widest > Some(1), "admitted sets run side by side: {widest:?}");
    stage.shutdown().unwrap();
}

#[test]
fn test_a_held_block_is_committed_or_discarded_as_decided() {
    let (_dir, chain) = chain();
    let executor = Arc::new(NativeExecutor);
    let plain = BankingStage::start(executor.clone(), self::chain().1, config(1, 40));
    assert!(matches!(plain.decide(Decision::Commit(B256::ZERO)), Err(StageError::NotHolding)));
    drop(plain);
    let mut stage =
        BankingStage::builder(executor, chain).config(config(2, 40)).hold_blocks().start();
    let held = stage.held().expect("holding").clone();
    let txs: Vec<NativeTx> = (0..10)
        .flat_map(|i| [transfer(i, 0, 20 + i, 21_000), transfer(i, 1, 30, 21_000)])
        .collect();
    let mut hashes: Vec<B256> = txs.iter().map(|tx| tx.hash()).collect();
    for r in stage.submit_many(txs.iter().map(raw).collect()) {
        r.unwrap();
    }
    let mut discarded = None;
    let mut first_after = false;
    let mut committed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while committed.len() < hashes.len() {
        assert!(Instant::now() < deadline, "timed out with {} committed", committed.len());
        let block = held.recv_timeout(Duration::from_secs(5)).expect("a held block");
        if discarded.is_none() && block.tx_count() > 0 {
            // A decision on another block is ignored: the stage still waits.
            stage.decide(Decision::Commit(B256::repeat_byte(1))).unwrap();
            stage.decide(Decision::Discard(block.hash())).unwrap();
            discarded = Some(block);
            first_after = true;
            continue;
        }
        if let Some(d) = discarded.as_ref().filter(|_| std::mem::take(&mut first_after)) {
            assert_eq!(
                (block.header.number, block.header.parent_hash),
                (d.header.number, d.header.parent_hash),
                "the next block is built on the same head"
            );
        }
        stage.decide(Decision::Commit(block.hash())).unwrap();
        let produced = stage.blocks().recv_timeout(Duration::from_secs(5)).expect("published");
        assert_eq!(produced.block, block, "the committed block is the held one");
        committed.extend(produced.receipts.iter().map(|r| r.tx_hash));
    }
    let discarded = discarded.expect("a block was discarded");
    let chain = stage.shutdown().unwrap();
    let next = chain.db().view();
    // Every transaction is in exactly one committed block, the discarded
    // block's included, with the nonces they carry.
    committed.sort();
    hashes.sort();
    assert_eq!(committed, hashes);
    assert!(discarded.tx_count() > 0);
    for i in 0..10 {
        assert_eq!(next.get_account(&sender(i)).unwrap().unwrap().nonce, 2);
    }
}

#[test]
fn test_undeclared_transactions_are_predicted_and_mispredictions_run_again() {
    let (_dir, chain) = chain();
    let (_replica_dir, mut replica) = self::chain();
    // Every touch declares nothing and writes the hot slot: predicted. The
    // first 5 predictions leave out the sender account, so those leave their
    // sets, and are predicted again from the block so far.
    let hook = Arc::new(Hook { wrong: 5.into(), ..Hook::default() });
    let mut stage = BankingStage::builder(Arc::new(NativeExecutor), chain)
        .config(BankingStageConfig { max_repredictions: 1, ..config(2, 40) })
        .admission(hook.clone())
        .start();
    let txs: Vec<NativeTx> =
        (0..20).map(|i| hot_touch(i, 0, 26_000 * 2).with_declared(None)).collect();
    stage.pause();
    for r in stage.submit_many(txs.iter().map(raw).collect()) {
        r.unwrap();
    }
    // The admission predictions take the 5 wrong answers before any run:
    // a re-prediction that took one would send its transaction to the
    // exclusive lane.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stage.predicting() > 0 {
        assert!(Instant::now() < deadline, "{} still predicting", stage.predicting());
        std::thread::sleep(Duration::from_millis(5));
    }
    stage.resume();
    let blocks = collect(&stage, Duration::from_secs(30), |b| included(b).len() == txs.len());
    let chain = stage.shutdown().unwrap();
    let sum = |f: fn(&ProducedBlock) -> u64| blocks.iter().map(f).sum::<u64>();
    assert_eq!(sum(|b| b.stats.predicted as u64), 20, "each included with a predicted set");
    assert_eq!(sum(|b| b.stats.mispredicted), 5);
    assert_eq!(sum(|b| b.stats.exclusive as u64), 0, "one more prediction was enough");
    assert_eq!(hook.predictions.load(std::sync::atomic::Ordering::SeqCst), 25);
    // Sequential result: each touch adds to the slot in block order, once.
    for b in &blocks {
        replica.replay_block(&NativeExecutor, &b.block, 1).unwrap();
    }
    assert_eq!(replica.head().state_commitment, chain.head().state_commitment);
    let value = chain.db().get_storage(&HOT.0, &HOT.1).unwrap();
    assert!(!value.is_zero());
}

#[test]
fn test_a_transaction_that_keeps_mispredicting_runs_in_the_exclusive_lane() {
    let (_dir, chain) = chain();
    let hook = Arc::new(Hook { wrong: 100.into(), ..Hook::default() });
    let mut stage = BankingStage::builder(Arc::new(NativeExecutor), chain)
        .config(BankingStageConfig { max_repredictions: 2, ..config(2, 40) })
        .admission(hook)
        .start();
    let tx = hot_touch(3, 0, 26_000).with_declared(None);
    stage.submit(raw(&tx)).unwrap();
    let blocks = collect(&stage, Duration::from_secs(10), |b| included(b).contains(&tx.hash()));
    let sum = |f: fn(&ProducedBlock) -> u64| blocks.iter().map(f).sum::<u64>();
    assert_eq!(sum(|b| b.stats.mispredicted), 3, "the first run and two re-predictions");
    assert_eq!(sum(|b| b.stats.exclusive as u64), 1);
    stage.shutdown().unwrap();
}

/// A sink that fails from its `ok`-th block on, as a full disk does.
struct FailingSink {
    ok: u64,
}

impl crate::BlockSink for FailingSink {
    fn persist(
        &mut self,
        sealed: &lanes_runtime::SealedBlock,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if sealed.block.header.number < self.ok {
            return Ok(());
        }
        Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left").into())
    }
}

#[test]
fn test_a_block_the_sink_cannot_persist_stops_production_and_says_why() {
    let (_dir, chain) = chain();
    // On demand: block 1 is the first transfer's (at an interval it could
    // be sealed empty before the transfer arrived).
    let stage = BankingStage::builder(Arc::new(NativeExecutor), chain)
        .config(BankingStageConfig { mining: Mining::OnDemand, ..config(2, 20) })
        .sink(Box::new(FailingSink { ok: 2 }))
        .start();
    stage.submit(raw(&transfer(0, 0, 1, 21_000))).unwrap();
    let first =
        collect(&stage, Duration::from_secs(5), |b| b.iter().any(|b| !b.receipts.is_empty()));
    assert_eq!(first.last().unwrap().block.header.number, 1);
    stage.submit(raw(&transfer(0, 1, 1, 21_000))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stage.failure().get().is_none() {
        assert!(Instant::now() < deadline, "production goes on past a failed block");
        std::thread::sleep(Duration::from_millis(5));
    }
    let reason = stage.failure().get().unwrap().to_owned();
    assert!(
        reason.contains("persisting block 2 failed") && reason.contains("no space"),
        "{reason}"
    );
    assert_eq!(
        stage.submit(raw(&transfer(0, 2, 1, 21_000))),
        Err(SubmitError::Stopped(reason.clone()))
    );
    assert!(stage.blocks().iter().all(|b| b.block.header.number < 2), "the block is not served");
    assert_eq!(stage.head().number, 1, "the failed block is not committed");
}

/// Two held-block stages on copies of one chain, as two validators: one
/// builds, the other verifies and imports.
#[test]
fn test_a_block_built_by_one_stage_is_verified_and_imported_by_another() {
    let executor = Arc::new(NativeExecutor);
    let manual = BankingStageConfig { mining: crate::Mining::Manual, ..config(2, 200) };
    let start = |chain| {
        BankingStage::builder(executor.clone(), chain).config(manual.clone()).hold_blocks().start()
    };
    let (_a_dir, a_chain) = chain();
    let (_b_dir, b_chain) = chain();
    let (a, mut b) = (start(a_chain), start(b_chain));
    // Both pools learn every transaction, as gossip would have it; B's also
    // a later nonce that stays.
    let txs: Vec<NativeTx> =
        (0..8).flat_map(|i| [transfer(i, 0, 40, 21_000), transfer(i, 1, 41, 21_000)]).collect();
    for r in a.submit_many(txs.iter().map(raw).collect()) {
        r.unwrap();
    }
    let later = transfer(0, 2, 42, 21_000);
    for r in b.submit_many(txs.iter().chain([&later]).map(raw).collect()) {
        r.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.pool_len() != 0 || a.head().number == 0 {
        assert!(Instant::now() < deadline, "A never built its transactions");
        let block = a.build_held(None).unwrap();
        a.decide(Decision::Commit(block.hash())).unwrap();
        let produced = a.blocks().recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(produced.block, block);
        // B checks it, a tampered copy fails, and B commits it.
        b.verify(block.clone()).unwrap().unwrap();
        let mut tampered = block.clone();
        tampered.header.state_commitment = B256::repeat_byte(7);
        assert!(b.verify(tampered.clone()).unwrap().is_err(), "a wrong state commitment checks");
        assert!(b.import(tampered).unwrap().is_err(), "a wrong block is imported");
        assert_eq!(b.import(block.clone()).unwrap().unwrap(), block.header.number);
        let imported = b.blocks().recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(imported.block, block, "B publishes the imported block");
        assert_eq!(b.head_hash(), a.head_hash());
    }
    // B's pool kept only the nonce no block included; B builds it next.
    assert_eq!(b.pool_len(), 1, "B's pool still holds what A's blocks included");
    let own = b.build_held(None).unwrap();
    let hashes: Vec<B256> = own
        .txs()
        .map(|t| lanes_runtime::Transaction::hash(&executor.decode(&t.tx).unwrap()))
        .collect();
    assert_eq!(hashes, vec![later.hash()]);
    // A block decided elsewhere replaces the held one, whose transaction
    // goes back to the pool.
    let empty = a.build_held(None).unwrap();
    assert_eq!(b.import(empty.clone()).unwrap().unwrap(), empty.header.number);
    assert_eq!(b.head_hash(), empty.hash());
    assert_eq!(b.pool_len(), 1, "the dropped block's transaction is back in the pool");
    drop(a);
    let chain = b.shutdown().unwrap();
    assert_eq!(chain.db().view().get_account(&sender(0)).unwrap().unwrap().nonce, 2);
}

mod mining;
