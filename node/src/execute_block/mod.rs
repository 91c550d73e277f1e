//! `lanes-validator execute-block DIR`: one recorded Ethereum mainnet block
//! (the fixture layout: `block.json`, `pre_state.json`, optional
//! `block_hashes.json`, plain or `.gz`) run on its pre-state in lanes'
//! ordered executor and in plain sequential revm (pevm's baseline), each
//! checked against the header ([`execute`]).
//!
//! What is checked: `gasUsed` and `logsBloom`, and `receiptsRoot` from
//! Byzantium (4,370,000) on (earlier receipts carry intermediate state
//! roots). The pre-state holds only what the block touches, so the state
//! root, block rewards, withdrawals and the beacon-root system call are
//! outside what a fixture can check.

mod baseline;
mod fixture;

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy_consensus::ReceiptEnvelope;
use alloy_eips::eip7928::BlockAccessList;
use alloy_primitives::{B256, Bloom};
use lanes_accounts_db::AccountsDbConfig;
use lanes_eth::{EthSpec, block_executor};
use lanes_evm_adapter::{
    EvmTx, bal_versions, block_access_list, block_access_list_hash, first_difference,
    receipt_envelope,
};
use lanes_runtime::{
    BankConfig, BlockEnv, Chain, Genesis, OrderedConfig, OrderedReport, OrderedSets, parallel_map,
};

pub use baseline::{Baseline, BaselineError, baseline, revm_block_access_list};
pub use fixture::{Fixture, FixtureError, FixtureErrorKind, fixture_dirs};

/// How [`execute`] runs a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteOptions {
    /// lanes' worker threads.
    pub workers: usize,
    /// Runs of each side (lanes, revm), alternating; times are medians.
    pub runs: usize,
    /// Worker counts to simulate from the measured runs
    /// ([`OrderedReport::time_on_workers`]).
    pub simulate: Vec<usize>,
    /// Also run the block from its access list (revm's builder's) as
    /// declared writes, no prediction, and check it gives that list back.
    pub declared: bool,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        Self { workers: 1, runs: 5, simulate: vec![4, 8, 16], declared: true }
    }
}

/// A checked field: the header's value and what lanes computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The field's name.
    pub field: &'static str,
    /// The header's value.
    pub header: String,
    /// lanes' value.
    pub lanes: String,
    /// plain revm's value.
    pub revm: String,
}

impl Checked {
    /// Whether lanes and revm both give the header's value.
    pub fn ok(&self) -> bool {
        self.header == self.lanes && self.header == self.revm
    }
}

/// How good admission's predictions were, judged by what each predicted
/// transaction did (its accesses, what the block's access list is made of).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PredictionQuality {
    /// Transactions whose set was predicted (not known from state).
    pub predicted: usize,
    /// Of those, how many first predictions allowed everything the
    /// transaction read and wrote.
    pub covered: usize,
    /// Of those, how many first predictions locked a key the transaction
    /// did not touch.
    pub over_predicted: usize,
    /// The time of the runs the predictions that missed cost
    /// ([`lanes_runtime::TxReport::misprediction_cost`]).
    pub cost: Duration,
}

impl PredictionQuality {
    /// The figures of `report`'s predictions against `accesses`.
    pub fn of(report: &OrderedReport, accesses: &lanes_runtime::BlockAccesses) -> Self {
        let mut q = Self::default();
        for (tx, did) in report.txs.iter().zip(&accesses.txs) {
            let Some(first) = &tx.first_prediction else { continue };
            q.predicted += 1;
            q.covered += usize::from(did.covered_by(first));
            q.over_predicted += usize::from(did.unused_in(first) > 0);
            q.cost += tx.misprediction_cost();
        }
        q
    }
}

/// What [`execute`] measured and checked.
#[derive(Clone, Debug)]
pub struct BlockRun {
    /// The block's folder.
    pub dir: PathBuf,
    /// Its number.
    pub number: u64,
    /// Its coinbase (the header's beneficiary).
    pub coinbase: alloy_primitives::Address,
    /// Its transactions.
    pub txs: usize,
    /// Its gas used (the header's).
    pub gas: u64,
    /// The checked fields.
    pub checks: Vec<Checked>,
    /// lanes' workers.
    pub workers: usize,
    /// lanes' median time (predictions included).
    pub lanes: Duration,
    /// The median time of sealing lanes' run (the state diff, its
    /// commitment and the header), not in `lanes`: revm's side has none.
    pub seal: Duration,
    /// revm's median time.
    pub revm: Duration,
    /// lanes' and revm's fastest runs: on a busy host, where other work
    /// only adds time, a steadier figure than the medians.
    pub fastest: (Duration, Duration),
    /// The report of lanes' median run.
    pub report: OrderedReport,
    /// Simulated times on more workers: (workers, time).
    pub simulated: Vec<(usize, Duration)>,
    /// The block's access list as lanes built it.
    pub bal: BlockAccessList,
    /// Where lanes' access list first differs from revm's builder's.
    pub bal_diff: Option<String>,
    /// The median run from revm's builder's list as declared writes
    /// ([`OrderedSets::Versioned`]), with [`ExecuteOptions::declared`].
    pub declared: Option<OrderedReport>,
    /// How good the predicted run's predictions were.
    pub prediction: PredictionQuality,
}

impl BlockRun {
    /// Whether every checked field matches.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(Checked::ok)
    }

    /// One line: the block, its checks, and the times.
    pub fn line(&self) -> String {
        let checks: Vec<String> = self
            .checks
            .iter()
            .map(|c| {
                if c.ok() {
                    format!("{} ok", c.field)
                } else if c.field == "blockAccessList" {
                    let diff = self.bal_diff.as_deref().unwrap_or("-");
                    format!("{} lanes {} revm {}: {diff}", c.field, c.lanes, c.revm)
                } else {
                    format!("{} header {} lanes {} revm {}", c.field, c.header, c.lanes, c.revm)
                }
            })
            .collect();
        let (chain, chain_time) = self.report.critical_path();
        let sims: Vec<String> = self
            .simulated
            .iter()
            .map(|(n, t)| format!("{n}w {:.2}x", ratio(self.revm, *t)))
            .collect();
        let declared = match &self.declared {
            Some(d) => {
                let sims: Vec<String> = self
                    .simulated
                    .iter()
                    .map(|(n, _)| format!("{n}w {:.2}x", ratio(self.revm, d.time_on_workers(*n))))
                    .collect();
                format!(
                    "; from its access list {:.3} ms ({:.2}x revm's time), simulated {}",
                    ms(d.elapsed),
                    ratio(d.elapsed, self.revm),
                    sims.join(" ")
                )
            }
            None => String::new(),
        };
        format!(
            "block {}: {} txs, {} gas; {}; {} workers {:.3} ms, revm {:.3} ms ({:.2}x revm's time), then the seal {:.3} ms; {} first runs stood, {} reruns; first runs: {} of {} covered, {} over, misses cost {:.3} ms; chain {} txs / {:.3} ms; simulated {}",
            self.number,
            self.txs,
            self.gas,
            checks.join(", "),
            self.workers,
            ms(self.lanes),
            ms(self.revm),
            ratio(self.lanes, self.revm),
            ms(self.seal),
            self.report.stood(),
            self.report.reruns(),
            self.prediction.covered,
            self.prediction.predicted,
            self.prediction.over_predicted,
            ms(self.prediction.cost),
            chain,
            ms(chain_time),
            if sims.is_empty() { "-".into() } else { sims.join(" ") },
        ) + &declared
    }

    /// The same as JSON, for scripts.
    pub fn json(&self) -> serde_json::Value {
        let (chain, chain_time) = self.report.critical_path();
        let sim: serde_json::Map<String, serde_json::Value> = self
            .simulated
            .iter()
            .map(|(n, t)| (n.to_string(), serde_json::json!(ms(*t))))
            .collect();
        let mut runs: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
        for run in self.report.txs.iter().flat_map(|t| &t.runs) {
            let e = runs.entry(format!("{:?}", run.kind)).or_default();
            e.0 += 1;
            e.1 += ms(run.time);
        }
        let known = self
            .report
            .txs
            .iter()
            .filter(|t| t.source == lanes_runtime::AccessSource::Known)
            .count();
        serde_json::json!({
            "runs": runs,
            "known": known,
            "block": self.number,
            "txs": self.txs,
            "gas": self.gas,
            "ok": self.ok(),
            "mismatches": self.checks.iter().filter(|c| !c.ok()).map(|c| c.field).collect::<Vec<_>>(),
            "workers": self.workers,
            "lanes_ms": ms(self.lanes),
            "revm_ms": ms(self.revm),
            "lanes_min_ms": ms(self.fastest.0),
            "revm_min_ms": ms(self.fastest.1),
            "seal_ms": ms(self.seal),
            "run_ms": ms(self.report.run),
            "serial_ms": ms(self.report.serial),
            "plan_ms": ms(self.report.plan),
            "finish_ms": ms(self.report.finish),
            "commit_ms": ms(self.report.commit),
            "stood": self.report.stood(),
            "reruns": self.report.reruns(),
            "waited": self.report.txs.iter().filter(|t| t.waited_for.is_some()).count(),
            "reruns_on_coinbase": self.report.txs.iter().filter(|t| t.changed == Some(lanes_runtime::StateKey::Account(self.coinbase))).count(),
            "coinbase_readers": self.report.txs.iter().filter(|t| t.reads_coinbase).count(),
            "chain_txs": chain,
            "chain_ms": ms(chain_time),
            "simulated_ms": sim,
            "simulated_1_ms": ms(self.report.time_on_workers(1)),
            "simulated_2_ms": ms(self.report.time_on_workers(2)),
            "predicted": self.prediction.predicted,
            "prediction_covered": self.prediction.covered,
            "over_predicted": self.prediction.over_predicted,
            "misprediction_cost_ms": ms(self.prediction.cost),
            "declared_ms": self.declared.as_ref().map(|d| ms(d.elapsed)),
            "declared_simulated_ms": self.declared.as_ref().map(|d| {
                let mut sims: serde_json::Map<String, serde_json::Value> = self
                    .simulated
                    .iter()
                    .map(|(n, _)| (n.to_string(), serde_json::json!(ms(d.time_on_workers(*n)))))
                    .collect();
                for n in [1, 2] {
                    sims.insert(n.to_string(), serde_json::json!(ms(d.time_on_workers(n))));
                }
                sims
            }),
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

/// Why a block could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError {
    /// The fixture does not load.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// revm refused it.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// lanes refused it, or its state failed.
    #[error("{dir}: lanes: {reason}")]
    Lanes {
        /// The block's folder.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Runs the block in `dir` on its pre-state in lanes and in plain revm,
/// `options.runs` times each, alternating, and checks both against its
/// header.
pub fn execute(dir: &Path, options: &ExecuteOptions) -> Result<BlockRun, ExecuteError> {
    execute_declaring(dir, options, None)
}

/// [`execute`], running the block from `list` as its declared writes
/// instead of revm's builder's list (with [`ExecuteOptions::declared`]).
pub fn execute_declaring(
    dir: &Path,
    options: &ExecuteOptions,
    list: Option<BlockAccessList>,
) -> Result<BlockRun, ExecuteError> {
    let fixture = Fixture::load(dir)?;
    let h = &fixture.header;
    let lanes_err = |reason: String| ExecuteError::Lanes { dir: dir.to_owned(), reason };
    let eth = EthSpec::mainnet();
    let fork = eth.spec_at(h.number, h.timestamp, h.difficulty.is_zero());
    let fraction =
        eth.blob_params(h.timestamp).map(|p| u64::try_from(p.update_fraction).unwrap_or(u64::MAX));
    let executor = block_executor(&eth, h, fork);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rules = executor.rules().clone();
    let txs: Vec<EvmTx> = parallel_map(
        fixture.txs.len(),
        threads,
        || (),
        |(), i| EvmTx::from_envelope(fixture.txs[i].clone(), &rules).map(EvmTx::undeclared),
    )
    .into_iter()
    .enumerate()
    .map(|(i, tx)| {
        let tx = tx.map_err(|e| lanes_err(format!("transaction {i}: {e}")))?;
        if tx.sender() != fixture.senders[i] {
            return Err(lanes_err(format!(
                "transaction {i} recovers to {}, the block says {}",
                tx.sender(),
                fixture.senders[i]
            )));
        }
        Ok(tx)
    })
    .collect::<Result<_, _>>()?;

    // The pre-state in an accounts database on a RAM-backed folder where
    // there is one: the block's reads never wait for a disk.
    let shm = Path::new("/dev/shm");
    let tmp = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }
        .map_err(|e| lanes_err(format!("a temporary folder: {e}")))?;
    let genesis = Genesis { alloc: fixture.pre_state.clone(), ..Genesis::default() };
    let config = AccountsDbConfig::default().with_sync(false);
    let chain =
        Chain::create(tmp.path(), config, &genesis).map_err(|e| lanes_err(e.to_string()))?;
    // Every block lanes runs has its access list, so the timed runs record accesses.
    let banks = BankConfig { record_accesses: true, ..chain.bank_config().clone() };
    let chain = chain.with_bank_config(banks);
    let env = BlockEnv {
        number: h.number,
        timestamp: h.timestamp,
        coinbase: h.beneficiary,
        base_fee: h.base_fee_per_gas.unwrap_or(0),
        gas_limit: h.gas_limit,
        recent_hashes: (1..=256u64)
            .map(|back| {
                let n = h.number.checked_sub(back);
                n.and_then(|n| fixture.block_hashes.get(&n).copied()).unwrap_or_default()
            })
            .collect(),
        random: h.mix_hash,
        parent: None,
    };
    let ordered = OrderedConfig { threads: options.workers.max(1), ..OrderedConfig::default() };

    // revm's builder's list, as a block that carries its list declares it.
    let revm_bal = revm_block_access_list(&fixture, fork, eth.chain_id(), fraction)?;
    let list = list.unwrap_or_else(|| revm_bal.clone());
    let versions = bal_versions(&list, &chain.db().view()).map_err(|e| lanes_err(e.to_string()))?;
    let mut lanes_runs = Vec::new();
    let mut declared_runs = Vec::new();
    let mut revm_runs = Vec::new();
    let mut seals = Vec::new();
    let (mut last, mut last_declared) = (None, None);
    for _ in 0..options.runs.max(1) {
        let bank = chain.new_bank_with(env.clone());
        let report = bank
            .execute_ordered(&executor, &txs, OrderedSets::Run, &ordered)
            .map_err(|e| lanes_err(e.to_string()))?;
        let started = std::time::Instant::now();
        last = Some(bank.seal().map_err(|e| lanes_err(e.to_string()))?);
        seals.push(started.elapsed());
        lanes_runs.push(report);
        if options.declared {
            let bank = chain.new_bank_with(env.clone());
            let report = bank
                .execute_ordered(&executor, &txs, OrderedSets::Versioned(&versions), &ordered)
                .map_err(|e| lanes_err(format!("run from its access list: {e}")))?;
            last_declared = Some(bank);
            declared_runs.push(report);
        }
        revm_runs.push(baseline(&fixture, fork, eth.chain_id(), fraction)?);
    }
    let sealed = last.expect("at least one run");
    seals.sort();
    let seal = seals[seals.len() / 2];
    let lanes_receipts = &sealed.receipts;
    let accesses = sealed.accesses.as_ref().expect("the bank records accesses");
    let lanes_bal = block_access_list(accesses, lanes_receipts);
    lanes_runs.sort_by_key(|r| r.elapsed);
    let lanes_fastest = lanes_runs[0].elapsed;
    let report = lanes_runs.swap_remove(lanes_runs.len() / 2);
    let prediction = PredictionQuality::of(&report, accesses);
    revm_runs.sort_by_key(|b| b.time);
    let fastest = (lanes_fastest, revm_runs[0].time);
    let revm = revm_runs.swap_remove(revm_runs.len() / 2);
    declared_runs.sort_by_key(|r| r.elapsed);
    let declared =
        (!declared_runs.is_empty()).then(|| declared_runs.swap_remove(declared_runs.len() / 2));
    // Run from the list, the block must give the same list back (every
    // write and read as declared) and the same receipts.
    let declared_check = match last_declared {
        Some(bank) => {
            let sealed = bank.seal().map_err(|e| lanes_err(e.to_string()))?;
            let accesses = sealed.accesses.as_ref().expect("the bank records accesses");
            let again = block_access_list(accesses, &sealed.receipts);
            let receipts_equal = sealed.receipts == *lanes_receipts;
            Some((first_difference(&again, &list), receipts_equal))
        }
        None => None,
    };

    let receipts: Vec<ReceiptEnvelope> = fixture
        .txs
        .iter()
        .zip(lanes_receipts)
        .map(|(tx, r)| receipt_envelope(tx.tx_type(), r))
        .collect();
    let gas = lanes_receipts.last().map_or(0, |r| r.cumulative_gas_used);
    let bloom = receipts.iter().fold(Bloom::ZERO, |mut b, r| {
        b.accrue_bloom(r.logs_bloom());
        b
    });
    let root = |rs: &[ReceiptEnvelope]| -> B256 {
        alloy_trie::root::ordered_trie_root_with_encoder(rs, |r, buf| {
            alloy_eips::eip2718::Encodable2718::encode_2718(r, buf)
        })
    };
    let mut checks = vec![
        Checked {
            field: "gasUsed",
            header: h.gas_used.to_string(),
            lanes: gas.to_string(),
            revm: revm.gas_used.to_string(),
        },
        Checked {
            field: "logsBloom",
            header: h.logs_bloom.to_string(),
            lanes: bloom.to_string(),
            revm: revm.logs_bloom.to_string(),
        },
    ];
    if fork.is_enabled_in(lanes_evm_adapter::SpecId::BYZANTIUM) {
        checks.push(Checked {
            field: "receiptsRoot",
            header: h.receipts_root.to_string(),
            lanes: root(&receipts).to_string(),
            revm: root(&revm.receipts).to_string(),
        });
    }
    // No header before Amsterdam commits to an access list: revm's own
    // builder's is the reference.
    let revm_hash = block_access_list_hash(&revm_bal).to_string();
    checks.push(Checked {
        field: "blockAccessList",
        header: revm_hash.clone(),
        lanes: block_access_list_hash(&lanes_bal).to_string(),
        revm: revm_hash,
    });
    let bal_diff = first_difference(&lanes_bal, &revm_bal);
    if let Some((difference, receipts_equal)) = declared_check {
        let ok = difference.is_none() && receipts_equal;
        let verdict = |ok: bool| if ok { "verified" } else { "refused" }.to_string();
        checks.push(Checked {
            field: "runFromAccessList",
            header: verdict(true),
            lanes: difference.unwrap_or_else(|| verdict(ok)),
            revm: verdict(true),
        });
    }
    let simulated = options.simulate.iter().map(|&n| (n, report.time_on_workers(n))).collect();
    Ok(BlockRun {
        dir: dir.to_owned(),
        number: h.number,
        coinbase: h.beneficiary,
        txs: txs.len(),
        gas: h.gas_used,
        checks,
        workers: ordered.threads,
        lanes: report.elapsed,
        seal,
        revm: revm.time,
        fastest,
        report,
        simulated,
        bal: lanes_bal,
        bal_diff,
        declared,
        prediction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;

    /// Every mainnet block of the fixtures: lanes (2 workers, predictions
    /// standing and not) gives the header's gas, bloom and receipts root,
    /// and the block access list revm's builder gives, field for field; run
    /// again from that list as declared writes (no prediction), it gives
    /// the same receipts and the same list back.
    /// Run from a list that says one value wrong, a block is refused, the
    /// first difference named: the account, the field and the index.
    #[test]
    fn test_a_block_run_from_a_wrong_access_list_is_refused_naming_the_difference() {
        let Some(dirs) = crate::execute_block::fixture::mainnet_block_dirs() else { return };
        let dir = dirs.iter().find(|d| d.ends_with("19934116")).unwrap();
        let fixture = Fixture::load(dir).unwrap();
        let eth = EthSpec::mainnet();
        let h = &fixture.header;
        let fork = eth.spec_at(h.number, h.timestamp, true);
        let fraction = eth.blob_params(h.timestamp).map(|p| p.update_fraction as u64);
        let mut list = revm_block_access_list(&fixture, fork, 1, fraction).unwrap();
        let options = ExecuteOptions { runs: 1, workers: 2, ..ExecuteOptions::default() };
        assert!(execute_declaring(dir, &options, Some(list.clone())).unwrap().ok());
        // One slot's post-value off by one.
        let (address, slot, index) = {
            let a = list.iter_mut().find(|a| !a.storage_changes.is_empty()).unwrap();
            let s = &mut a.storage_changes[0];
            s.changes[0].new_value += U256::from(1);
            (a.address, s.slot, s.changes[0].block_access_index.0)
        };
        let run = execute_declaring(dir, &options, Some(list)).unwrap();
        assert!(!run.ok());
        let line = run.line();
        let named = format!("account {address}: storage slot {slot:#x} at index {index}");
        assert!(line.contains(&named), "{line}");
    }

    #[test]
    fn test_every_mainnet_block_is_correct_in_lanes() {
        let root =
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/mainnet-blocks"));
        if !root.is_dir() {
            assert!(
                std::env::var("LANES_REQUIRE_FIXTURES").is_err(),
                "{} is absent",
                root.display()
            );
            eprintln!("skipped: {} is absent", root.display());
            return;
        }
        let dirs = fixture_dirs(root);
        assert_eq!(dirs.len(), 42);
        let mut failures = Vec::new();
        let (mut accounts, mut changed_slots, mut read_slots, mut balances) = (0, 0, 0, 0);
        let mut predictions = PredictionQuality::default();
        for dir in &dirs {
            let options = ExecuteOptions { workers: 2, runs: 1, simulate: vec![4], declared: true };
            match execute(dir, &options) {
                Ok(run) if run.ok() => {
                    accounts += run.bal.len();
                    changed_slots += run.bal.iter().map(|a| a.storage_changes.len()).sum::<usize>();
                    read_slots += run.bal.iter().map(|a| a.storage_reads.len()).sum::<usize>();
                    balances += run.bal.iter().map(|a| a.balance_changes.len()).sum::<usize>();
                    predictions.predicted += run.prediction.predicted;
                    predictions.covered += run.prediction.covered;
                    predictions.over_predicted += run.prediction.over_predicted;
                }
                Ok(run) => failures.push(run.line()),
                Err(e) => failures.push(e.to_string()),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        println!(
            "access lists: {accounts} accounts, {changed_slots} slots changed, {read_slots} only read, {balances} balance changes"
        );
        // 7,442 transactions: each changes its sender's balance at least.
        assert!(
            accounts > 7_000 && balances > 7_000 && changed_slots > 1_000 && read_slots > 1_000
        );
        println!("predictions: {predictions:?}");
        // Most first predictions cover what their transactions did; some
        // (DEX blocks) do not.
        let p = predictions;
        assert!(
            p.predicted > 1_000 && p.covered > p.predicted / 2 && p.covered < p.predicted,
            "{p:?}"
        );
    }
}
