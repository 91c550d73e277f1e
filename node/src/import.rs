//! `lanes-validator import`: Ethereum blocks from RLP files into a data
//! folder ([`Importer`]), each checked as a full node checks it and run in
//! lanes ([`lanes_eth::import_block`]), then kept in the
//! ledger and the state as lanes keeps its own blocks (entries, sets and
//! their sources), under Ethereum's hashes. `lanes-validator --data-dir DIR`
//! then serves the imported chain.
//!
//! The data folder holds, as a node's: `genesis.json`, `ledger/`, `chain/`,
//! and `import.json`, which marks the chain as imported (its blocks are
//! Ethereum's, each replayed through the importer, never built by lanes).

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_consensus::Header;
use alloy_primitives::{B256, U256};
use lanes_accounts_db::{AccountsDbConfig, DEFAULT_HISTORY_BLOCKS};
use lanes_eth::genesis::ChainSpec;
use lanes_eth::{
    EthBlock, ImportContext, ImportError, ImportedBlock, KEPT_STATE_TRIES, OMMER_ANCESTRY_DEPTH,
    StateTries, Tip, import_block, prefers_branch,
};
use lanes_evm_adapter::SharedCode;
use lanes_runtime::{Chain, OrderedConfig, write_atomically};

use crate::chain_dir::{GENESIS_FILE, Replay, load_chain};
use crate::error::NodeError;
pub use crate::imported::{IMPORT_FILE, is_imported};
use crate::imported::{ancestry, ledger_block};
use crate::ledger::Ledger;

/// How an import runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// Worker threads running each block's transactions.
    pub workers: usize,
    /// Sync each block to disk before the next.
    pub fsync: bool,
    /// Blocks behind the head whose state stays readable (`None`: all).
    pub history_blocks: Option<u64>,
    /// The accounts database's segment size, in bytes.
    pub segment_size: u64,
    /// Memory the accounts index keeps for recent changes (`None`: all).
    pub index_memory_bytes: Option<u64>,
    /// Whether a block too small to gain from more workers runs on fewer
    /// (`OrderedConfig::adaptive`, the default); off, every block of two
    /// or more transactions runs on `workers` (the parallel engine's tests).
    pub adaptive: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fsync: true,
            history_blocks: Some(DEFAULT_HISTORY_BLOCKS),
            segment_size: lanes_accounts_db::DEFAULT_SEGMENT_SIZE,
            index_memory_bytes: Some(lanes_accounts_db::DEFAULT_INDEX_MEMORY_BYTES),
            adaptive: true,
        }
    }
}

/// One imported block, as progress reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportedStats {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its transactions.
    pub txs: usize,
    /// Its gas used.
    pub gas: u64,
    /// Predictions that stood as results.
    pub stood: usize,
    /// Runs beyond one per transaction.
    pub reruns: usize,
    /// Recovering senders and executing.
    pub execution: Duration,
    /// Computing the state root.
    pub state_root: Duration,
    /// Everything, persisting included.
    pub total: Duration,
    /// Kept aside: a block of a side branch no longer than the chain.
    pub side: bool,
}

/// Imports Ethereum blocks into a data folder.
#[derive(Debug)]
pub struct Importer {
    dir: PathBuf,
    spec: ChainSpec,
    ledger: Arc<Ledger>,
    /// The state; taken only while [`Importer::rewind`] cuts its files.
    chain: Option<Chain>,
    /// Up to [`OMMER_ANCESTRY_DEPTH`] blocks, the head first, with their ommers.
    ancestors: VecDeque<(Header, Vec<Header>)>,
    /// The head's total difficulty.
    total_difficulty: U256,
    ordered: OrderedConfig,
    store: AccountsDbConfig,
    workers: usize,
    /// Analysed contracts, kept from block to block.
    code: SharedCode,
    /// Blocks of side branches, by hash: kept until their branch is longer
    /// than the head's, then imported in place of it.
    side: HashMap<B256, EthBlock>,
    /// The state tries of the newest blocks (none until the first block
    /// imported: it builds the head's), so a reorganisation back to one of
    /// them starts from its trie.
    tries: StateTries,
}

/// Most side-branch blocks kept; past it the oldest are forgotten.
pub const MAX_SIDE_BLOCKS: usize = 1024;

/// How far below the head a side branch may leave the chain and still be
/// run when its block arrives, so a block of it that breaks a rule is
/// refused then, as geth refuses a side block whose parent's state it
/// holds. Running one means going back to where the branch leaves and
/// forth again (its blocks and the chain's since), so a branch leaving
/// deeper is kept aside unrun until it is heavier than the chain, and
/// checked then.
pub const SIDE_RUN_DEPTH: u64 = 8;

impl Importer {
    /// Opens the imported chain in `dir`, or creates it from `genesis` (a
    /// geth genesis.json) when `dir` holds none. A folder holding a chain
    /// lanes built itself, or one of another genesis, is refused.
    pub fn open(
        dir: &Path,
        genesis: Option<&Path>,
        options: &ImportOptions,
    ) -> Result<Self, NodeError> {
        let io = |what: String| move |source| NodeError::Io { what, source };
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let ledger = Arc::new(Ledger::open_with(&dir.join("ledger"), options.fsync)?);
        let spec = open_spec(dir, genesis)?;
        let block0 = spec.genesis_block();
        match ledger.last_appended() {
            None => {
                ledger.append(&block0, &[], None)?;
                ledger.publish(0);
            }
            Some(_) if ledger.read(0)?.block.hash != block0.hash => {
                return Err(NodeError::DataDir(format!(
                    "the ledger in {} does not start from this genesis ({})",
                    dir.display(),
                    block0.hash
                )));
            }
            Some(_) => {}
        }
        let store = AccountsDbConfig::default()
            .with_sync(options.fsync)
            .with_history_blocks(options.history_blocks)
            .with_segment_size(options.segment_size)
            .with_index_memory_bytes(options.index_memory_bytes);
        let chain = load_chain(
            dir,
            &ledger,
            &spec,
            &store,
            false,
            Replay { executor: None, workers: options.workers },
            None,
        )?;
        let head = chain.head().number;
        ledger.publish(head);
        let (ancestors, total_difficulty) = ancestry(&ledger, head + 1)?;
        let ordered = OrderedConfig {
            threads: options.workers.max(1),
            adaptive: options.adaptive,
            ..OrderedConfig::default()
        };
        Ok(Self {
            dir: dir.to_owned(),
            spec,
            ledger,
            chain: Some(chain),
            ancestors: ancestors.into(),
            total_difficulty,
            ordered,
            store,
            workers: options.workers,
            side: HashMap::new(),
            code: SharedCode::default(),
            tries: StateTries::keeping(KEPT_STATE_TRIES),
        })
    }

    /// The chain's head: number and hash.
    pub fn head(&self) -> (u64, B256) {
        (self.chain().head().number, self.chain().head_hash())
    }

    /// The committed chain.
    pub fn chain(&self) -> &Chain {
        self.chain.as_ref().expect("the chain is back once a rewind returns")
    }

    /// The chain's genesis and fork schedule.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks, runs and keeps `block`. The head's child extends the chain;
    /// a block of a side branch (its parent known, not the head) is kept
    /// aside until its branch is longer than the head's, and then the chain
    /// reorganises onto it (every block of the branch checked and run). A
    /// side branch leaving the chain at most [`SIDE_RUN_DEPTH`] blocks below
    /// the head is run as its block arrives, and a block of it that breaks a
    /// rule is refused then. A refused block changes nothing (a refused
    /// branch leaves the chain on its former head).
    pub fn import(&mut self, block: &EthBlock) -> Result<ImportedStats, ImportFailure> {
        if block.header.parent_hash == self.chain().head_hash() {
            return self.extend(block);
        }
        let parent = block.header.parent_hash;
        let known = self.side.contains_key(&parent) || self.ledger.number_of(&parent).is_some();
        if !known {
            return self.extend(block); // refused: an unknown parent
        }
        let Some((fork, branch, total)) = self.branch(block)? else {
            return self.extend(block); // refused: an unknown parent
        };
        let merged = self.total_difficulty.is_zero() || block.header.difficulty.is_zero();
        let head =
            Tip { number: self.chain().head().number, total_difficulty: self.total_difficulty };
        let tip = Tip { number: block.header.number, total_difficulty: total };
        if !prefers_branch(head, tip, merged) {
            if head.number - fork <= SIDE_RUN_DEPTH {
                self.run_branch(fork, &branch)?;
            }
            if self.side.len() >= MAX_SIDE_BLOCKS {
                self.side.clear();
            }
            self.side.insert(block.hash, block.clone());
            let (number, hash) = (block.header.number, block.hash);
            return Ok(ImportedStats { number, hash, side: true, ..ImportedStats::default() });
        }
        self.reorganise(fork, branch)
    }

    /// `block`'s branch: the chain block it leaves from, its blocks in
    /// order (`block` last) and its total difficulty; `None` when a parent
    /// is unknown.
    fn branch(&self, block: &EthBlock) -> Result<Option<(u64, Vec<EthBlock>, U256)>, NodeError> {
        let mut branch = vec![block.clone()];
        let mut parent = block.header.parent_hash;
        let fork = loop {
            if let Some(n) = self.ledger.number_of(&parent) {
                break n;
            }
            let Some(b) = self.side.get(&parent) else { return Ok(None) };
            parent = b.header.parent_hash;
            branch.push(b.clone());
        };
        branch.reverse();
        let (_, at_fork) = ancestry(&self.ledger, fork + 1)?;
        let total = branch.iter().fold(at_fork, |t, b| t.saturating_add(b.header.difficulty));
        Ok(Some((fork, branch, total)))
    }

    /// Moves the chain onto `branch`, which leaves it after block `fork`,
    /// and keeps the blocks it leaves aside.
    fn reorganise(
        &mut self,
        fork: u64,
        branch: Vec<EthBlock>,
    ) -> Result<ImportedStats, ImportFailure> {
        let head = self.chain().head().number;
        let to = branch.last().map_or(fork, |b| b.header.number);
        tracing::info!(target: "lanes::import", from = head, to, fork, "reorganising onto a heavier branch");
        let (former, last) = self.onto_branch(fork, &branch)?;
        for f in former {
            self.side.insert(f.hash, f);
        }
        for b in &branch {
            self.side.remove(&b.hash);
        }
        Ok(last)
    }

    /// Runs `branch`, a side branch leaving the chain after block `fork`,
    /// without moving onto it: onto the branch, then back to the chain's
    /// own blocks. Answers the first refusal of a branch block.
    fn run_branch(&mut self, fork: u64, branch: &[EthBlock]) -> Result<(), ImportFailure> {
        let (former, _) = self.onto_branch(fork, branch)?;
        self.restore(fork, &former)
    }

    /// Back to `fork`, then each block of `branch` (which leaves the chain
    /// there) imported in order; answers the chain's former blocks after
    /// `fork` and the last block's figures. Where one is refused, the
    /// former blocks are imported back and the refusal answered.
    fn onto_branch(
        &mut self,
        fork: u64,
        branch: &[EthBlock],
    ) -> Result<(Vec<EthBlock>, ImportedStats), ImportFailure> {
        let former = self.blocks_after(fork)?;
        self.rewind(fork)?;
        let mut last = None;
        for b in branch {
            match self.extend(b) {
                Ok(stats) => last = Some(stats),
                Err(e) => {
                    self.restore(fork, &former)?;
                    return Err(e);
                }
            }
        }
        Ok((former, last.expect("a branch holds at least one block")))
    }

    /// Back to `fork`, then `former` (the chain's blocks after it) imported
    /// again.
    fn restore(&mut self, fork: u64, former: &[EthBlock]) -> Result<(), ImportFailure> {
        self.rewind(fork)?;
        for f in former {
            self.extend(f)?;
        }
        Ok(())
    }

    /// The chain's blocks after block `fork`, to the head.
    fn blocks_after(&self, fork: u64) -> Result<Vec<EthBlock>, ImportFailure> {
        let head = self.chain().head().number;
        let mut blocks = Vec::new();
        for n in fork + 1..=head {
            blocks.push(ledger_block(&self.ledger.read(n).map_err(NodeError::from)?.block)?);
        }
        Ok(blocks)
    }

    /// Cuts the ledger and the state back to block `number`.
    fn rewind(&mut self, number: u64) -> Result<(), NodeError> {
        self.ledger.truncate(number)?;
        drop(self.chain.take());
        Chain::truncate_after(self.dir.join("chain"), self.store.clone(), number)?;
        let (dir, ledger, spec, store) = (&self.dir, &self.ledger, &self.spec, &self.store);
        self.chain = Some(load_chain(
            dir,
            ledger,
            spec,
            store,
            false,
            Replay { executor: None, workers: self.workers },
            None,
        )?);
        self.ledger.publish(number);
        let (ancestors, total_difficulty) = ancestry(&self.ledger, number + 1)?;
        self.ancestors = ancestors.into();
        self.total_difficulty = total_difficulty;
        Ok(())
    }

    /// Imports the head's child.
    fn extend(&mut self, block: &EthBlock) -> Result<ImportedStats, ImportFailure> {
        let start = Instant::now();
        let eth = self.spec.imported.as_ref().expect("an importer's chain is imported");
        let ancestors: Vec<(Header, Vec<Header>)> = self.ancestors.iter().cloned().collect();
        let chain = self.chain.as_mut().expect("the chain is back once a rewind returns");
        let parent = self.tries.kept(&chain.db().view());
        let ctx = ImportContext {
            spec: eth,
            ancestors: &ancestors,
            parent_total_difficulty: self.total_difficulty,
            code: &self.code,
            trie: parent.as_ref(),
        };
        let imported = import_block(chain, block, &ctx, &self.ordered, None)?;
        let ImportedBlock { sealed, report, total_difficulty, .. } = &imported;
        let access_list = crate::ledger::encoded_access_list(sealed);
        self.ledger
            .append(&sealed.block, &sealed.receipts, access_list.as_deref())
            .map_err(NodeError::from)?;
        chain.commit(sealed).map_err(NodeError::from)?;
        self.ledger.publish(block.header.number);
        self.total_difficulty = *total_difficulty;
        self.ancestors.push_front((block.header.clone(), block.ommers.clone()));
        self.ancestors.truncate(OMMER_ANCESTRY_DEPTH);
        let (stood, reruns) = (report.stood(), report.reruns());
        let (state_root, execution) =
            (imported.state_root_time, imported.senders_time + imported.execution_time);
        let committed = &sealed.block.header;
        self.tries.keep(committed.number, committed.state_commitment, imported.trie);
        Ok(ImportedStats {
            number: block.header.number,
            hash: block.hash,
            txs: block.txs.len(),
            gas: block.header.gas_used,
            stood,
            reruns,
            execution,
            state_root,
            total: start.elapsed(),
            side: false,
        })
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportFailure {
    /// The block was refused: it breaks a rule, or its results differ from
    /// its header.
    #[error(transparent)]
    Refused(#[from] ImportError),
    /// The data folder failed (the block may be valid).
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// The stored genesis of an imported chain, checked against the one given.
fn open_spec(dir: &Path, given: Option<&Path>) -> Result<ChainSpec, NodeError> {
    let stored_path = dir.join(GENESIS_FILE);
    let marker = dir.join(IMPORT_FILE);
    let stored = if stored_path.exists() {
        if !marker.exists() {
            return Err(NodeError::DataDir(format!(
                "{} holds a chain lanes built, not an imported one; import into another --data-dir",
                dir.display()
            )));
        }
        Some(ChainSpec::imported_from_file(&stored_path)?)
    } else {
        None
    };
    let given = given.map(ChainSpec::imported_from_file).transpose()?;
    match (stored, given) {
        (Some(stored), Some(given)) if stored.id() != given.id() => {
            Err(NodeError::DataDir(format!(
                "{} holds a chain imported from another genesis ({}) than the one given ({})",
                dir.display(),
                stored.genesis_block().hash,
                given.genesis_block().hash
            )))
        }
        (Some(stored), _) => Ok(stored),
        (None, Some(given)) => {
            let io = |what: String| move |source| NodeError::Io { what, source };
            let json = serde_json::to_vec_pretty(&given.source).expect("a genesis serialises");
            write_atomically(&stored_path, &json)
                .map_err(io(format!("writing {}", stored_path.display())))?;
            write_atomically(&marker, br#"{"chain":"imported"}"#)
                .map_err(io(format!("writing {}", marker.display())))?;
            Ok(given)
        }
        (None, None) => Err(NodeError::DataDir(format!(
            "no chain in {}: pass --genesis FILE (the geth genesis.json the blocks start from)",
            dir.display()
        ))),
    }
}

/// The Ethereum blocks in an RLP chain file (geth's `export` format: blocks
/// one after another; gzip-compressed when the name ends in `.gz`).
pub fn read_chain_file(path: &Path) -> Result<Vec<u8>, NodeError> {
    let io = |source| NodeError::Io { what: format!("reading {}", path.display()), source };
    let raw = std::fs::read(path).map_err(io)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(io)?;
        return Ok(out);
    }
    Ok(raw)
}

/// Splits `bytes` into its blocks; a block that does not decode ends the
/// list with its error and byte offset.
pub fn decode_blocks(bytes: &[u8]) -> (Vec<EthBlock>, Option<(usize, alloy_rlp::Error)>) {
    let mut buf = bytes;
    let mut blocks = Vec::new();
    while !buf.is_empty() {
        let offset = bytes.len() - buf.len();
        match EthBlock::decode(&mut buf) {
            Ok(block) => blocks.push(block),
            Err(e) => return (blocks, Some((offset, e))),
        }
    }
    (blocks, None)
}

/// `lanes-validator import`: every block of `files`, in order, into the
/// chain in `dir` (created from `genesis` if new), with progress on standard
/// error: blocks, transactions and Mgas/s every two seconds and at the end.
/// Blocks the chain already holds are skipped. The first block refused
/// stops the import with its error; nothing after it is imported.
pub fn import_files(
    dir: &Path,
    genesis: Option<&Path>,
    options: &ImportOptions,
    files: &[PathBuf],
) -> Result<(), ImportFailure> {
    let mut importer = Importer::open(dir, genesis, options)?;
    let mut progress = Progress::new(importer.head().0);
    for file in files {
        let bytes = read_chain_file(file)?;
        let (blocks, bad) = decode_blocks(&bytes);
        for block in &blocks {
            if importer.ledger.number_of(&block.hash).is_some() {
                progress.known += 1;
                continue;
            }
            match importer.import(block) {
                Ok(stats) => progress.add(&stats),
                Err(e) => {
                    progress.print(&importer, "stopped");
                    return Err(e);
                }
            }
        }
        if let Some((offset, e)) = bad {
            progress.print(&importer, "stopped");
            let detail = EthBlock::undecodable_detail(&bytes[offset..]);
            let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
            return Err(NodeError::DataDir(format!(
                "{}: the block at byte {offset} does not decode: {e}{detail}",
                file.display()
            ))
            .into());
        }
    }
    progress.print(&importer, "done");
    Ok(())
}

/// What an import has done so far, for its progress lines.
struct Progress {
    start: Instant,
    last_print: Instant,
    first: u64,
    blocks: u64,
    known: u64,
    txs: u64,
    gas: u64,
    state_root: Duration,
}

impl Progress {
    fn new(head: u64) -> Self {
        let now = Instant::now();
        Self {
            start: now,
            last_print: now,
            first: head + 1,
            blocks: 0,
            known: 0,
            txs: 0,
            gas: 0,
            state_root: Duration::ZERO,
        }
    }

    fn add(&mut self, stats: &ImportedStats) {
        if stats.side {
            return;
        }
        self.blocks += 1;
        self.txs += stats.txs as u64;
        self.gas += stats.gas;
        self.state_root += stats.state_root;
        if self.last_print.elapsed() >= Duration::from_secs(2) {
            self.last_print = Instant::now();
            eprintln!(
                "imported block {} ({} blocks, {} txs, {:.1} Mgas/s)",
                stats.number,
                self.blocks,
                self.txs,
                self.gas as f64 / 1e6 / self.start.elapsed().as_secs_f64().max(1e-9)
            );
        }
    }

    fn print(&self, importer: &Importer, how: &str) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let (head, hash) = importer.head();
        eprintln!(
            "import {how}: {} blocks imported (from #{}), {} already held, {} txs, {:.1} Mgas in {secs:.2} s ({:.1} Mgas/s; state roots {:.0}% of the time); head #{head} {hash}",
            self.blocks,
            self.first,
            self.known,
            self.txs,
            self.gas as f64 / 1e6,
            self.gas as f64 / 1e6 / secs,
            100.0 * self.state_root.as_secs_f64() / secs,
        );
    }
}
