//! What a run is asked to do: its pacing ([`Mode`]), where it sends
//! ([`Target`]), how ([`RunConfig`]), and the constants every part of a run
//! shares.

use std::sync::Arc;
use std::time::Duration;

use crate::keys::Key;

/// How transactions are paced.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Open loop: send at this many transactions per second, whatever the
    /// node does.
    Rate(f64),
    /// Closed loop: keep this many sent and not yet included (or refused).
    ClosedLoop(usize),
    /// Per block: this many at the start, and as many again each time the
    /// node has a new block.
    PerBlock(usize),
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Rate(r) => write!(f, "open loop, {r} tx/s"),
            Mode::ClosedLoop(c) => write!(f, "closed loop, {c} in flight"),
            Mode::PerBlock(n) => write!(f, "{n} per block"),
        }
    }
}

/// Where the transactions go.
#[derive(Clone, Debug)]
pub enum Target {
    /// Any Ethereum JSON-RPC node over HTTP.
    Rpc(String),
    /// An embedded banking stage (no RPC, no ledger) on a temporary chain
    /// made from the loadgen genesis.
    InProcess {
        /// Worker threads.
        threads: usize,
        /// Slot length.
        block_time: Duration,
    },
    /// The sink ([`crate::sink`]), served on loopback in this process: it
    /// takes every transaction and executes none, so the run measures
    /// lanes-loadgen itself.
    Sink,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Rpc(url) => f.write_str(url),
            Target::InProcess { threads, .. } => write!(f, "in-process, {threads} threads"),
            Target::Sink => f.write_str("sink (in process)"),
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Pacing.
    pub mode: Mode,
    /// Transactions per JSON-RPC batch (or per in-process submission).
    pub batch: usize,
    /// Keep-alive connections sending in parallel.
    pub connections: usize,
    /// How long to wait for inclusions after the last send.
    pub drain_timeout: Duration,
    /// Funds the accounts and the deployer on RPC targets.
    pub funder: Key,
    /// Chain id of the in-process chain.
    pub chain_id: u64,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// Stop sending this long after the first send (what is sent is still
    /// tracked to its inclusion).
    pub duration: Option<Duration>,
    /// Where the node has `eth_sendRawTransactionSync`, send one transaction
    /// of every 20 batches by it and report its round trip
    /// (`Report::sync_latency_ms`).
    pub sync_sample: bool,
    /// Once set, senders take no more batches (what is sent is still
    /// tracked): a `--forever` run's SIGINT or SIGTERM.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// The priority fee every transaction offers when the node suggests none.
pub(crate) const DEFAULT_TIP: u128 = 1_000_000_000;
/// How often the tracker asks for new blocks.
pub(crate) const POLL: Duration = Duration::from_millis(10);
/// Calls per batch in setup and tracking.
pub(crate) const SETUP_BATCH: usize = 200;

pub(crate) fn effective_batch(config: &RunConfig) -> usize {
    let batch = config.batch.max(1);
    match config.mode {
        // A batch must fit in the window, or no sender could take one.
        Mode::ClosedLoop(c) | Mode::PerBlock(c) => {
            batch.min((c / config.connections.max(1)).max(1))
        }
        Mode::Rate(_) => batch,
    }
}
