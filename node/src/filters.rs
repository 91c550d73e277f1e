//! Poll filters (`eth_newFilter`, `eth_newBlockFilter`,
//! `eth_newPendingTransactionFilter`, read by `eth_getFilterChanges`), and
//! what subscriptions follow: chain events (new blocks and the blocks an
//! `evm_revert` drops, on one ordered channel) and pending transactions.
//!
//! A filter keeps a cursor, not a buffer of what it will report: block and
//! log filters remember the next block to report and read blocks from the
//! ledger when polled, so a filter costs the same however long it is left.
//! Only pending-transaction filters buffer (hashes, at most
//! 10,000 (`MAX_PENDING_PER_FILTER`), oldest dropped first), and the logs a revert
//! took back from a log filter wait in it until its next poll.

use parking_lot::{Mutex, MutexGuard};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log};
use tokio::sync::broadcast;

use crate::convert;
use crate::ledger::LedgerBlock;

/// A filter not polled for this long is removed (geth's timeout): the
/// default of [`crate::RpcLimits::filter_timeout`].
pub const DEFAULT_FILTER_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Most filters installed at once.
pub(crate) const MAX_FILTERS: usize = 10_000;
/// Most hashes a pending-transaction filter holds between polls.
pub(crate) const MAX_PENDING_PER_FILTER: usize = 10_000;

/// What a filter reports.
#[derive(Debug)]
pub(crate) enum FilterKind {
    /// Hashes of new blocks, from `next` on.
    Blocks { next: u64 },
    /// Logs matching `filter` in new blocks from `next` on, after `removed`
    /// (logs it reported whose blocks a revert dropped); `start` is the
    /// first block it reports.
    Logs { filter: Box<Filter>, start: u64, next: u64, removed: Vec<Log> },
    /// Hashes of transactions accepted into the pool since the last poll.
    Pending { hashes: VecDeque<B256> },
}

#[derive(Debug)]
struct Installed {
    kind: FilterKind,
    polled: Instant,
}

/// What subscriptions follow, in the order it happened: new blocks, and the
/// blocks an `evm_revert` dropped.
#[derive(Clone, Debug)]
pub(crate) enum ChainEvent {
    /// A block was served.
    Head(Arc<LedgerBlock>),
    /// These blocks (oldest first) are no longer the chain's.
    Reverted(Arc<Vec<LedgerBlock>>),
}

/// The node's filters, and the pool's accepted transactions.
#[derive(Debug)]
pub(crate) struct Filters {
    table: Mutex<Table>,
    /// A filter not polled for this long is removed.
    pub(crate) timeout: Duration,
    /// Hashes of transactions accepted into the pool.
    pub(crate) pending: broadcast::Sender<B256>,
}

#[derive(Debug, Default)]
struct Table {
    last_id: u64,
    live: HashMap<U256, Installed>,
}

/// A filter id that is not installed (never was, was uninstalled, or
/// expired).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnknownFilter;

/// Too many filters are installed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooManyFilters;

impl Filters {
    /// No filters yet; an idle one expires after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self { table: Mutex::default(), timeout, pending: broadcast::channel(4096).0 }
    }
}

impl Filters {
    fn table(&self) -> MutexGuard<'_, Table> {
        let mut t = self.table.lock();
        let now = Instant::now();
        t.live.retain(|_, f| now.duration_since(f.polled) < self.timeout);
        t
    }

    /// Installs the filter `make` makes (under the table's lock, so a cursor
    /// it reads from the head cannot race a revert); its id.
    pub(crate) fn install(
        &self,
        make: impl FnOnce() -> FilterKind,
    ) -> Result<U256, TooManyFilters> {
        let mut t = self.table();
        if t.live.len() >= MAX_FILTERS {
            return Err(TooManyFilters);
        }
        t.last_id += 1;
        // 128 bits that do not tell one id from the next, like geth's.
        let mut seed = t.last_id.to_be_bytes().to_vec();
        seed.extend(std::process::id().to_be_bytes());
        let id = U256::from_be_slice(&alloy_primitives::keccak256(seed)[..16]);
        t.live.insert(id, Installed { kind: make(), polled: Instant::now() });
        Ok(id)
    }

    /// Removes a filter; whether it was installed.
    pub(crate) fn uninstall(&self, id: U256) -> bool {
        self.table().live.remove(&id).is_some()
    }

    /// Runs `f` on filter `id`, counting it as polled.
    pub(crate) fn poll<R>(
        &self,
        id: U256,
        f: impl FnOnce(&mut FilterKind) -> R,
    ) -> Result<R, UnknownFilter> {
        let mut t = self.table();
        let installed = t.live.get_mut(&id).ok_or(UnknownFilter)?;
        installed.polled = Instant::now();
        Ok(f(&mut installed.kind))
    }

    /// A transaction was accepted into the pool.
    pub(crate) fn on_pending(&self, hash: B256) {
        let _ = self.pending.send(hash);
        let mut t = self.table.lock();
        for f in t.live.values_mut() {
            if let FilterKind::Pending { hashes } = &mut f.kind {
                if hashes.len() == MAX_PENDING_PER_FILTER {
                    hashes.pop_front();
                }
                hashes.push_back(hash);
            }
        }
    }

    /// Whether a log filter is installed.
    pub(crate) fn has_log_filters(&self) -> bool {
        self.table().live.values().any(|f| matches!(f.kind, FilterKind::Logs { .. }))
    }

    /// A revert dropped `blocks` (after block `kept`, oldest first): log
    /// filters take back, as `removed`, the logs they had reported from
    /// them, and every block and log filter goes on from `kept + 1`.
    pub(crate) fn on_revert(&self, kept: u64, blocks: &[LedgerBlock]) {
        let mut t = self.table();
        for f in t.live.values_mut() {
            match &mut f.kind {
                FilterKind::Blocks { next } => *next = (*next).min(kept + 1),
                FilterKind::Logs { filter, start, next, removed } => {
                    let reported = |lb: &&LedgerBlock| {
                        let n = lb.block.header.number;
                        *start <= n && n < *next && covers(filter, lb)
                    };
                    for lb in blocks.iter().filter(reported) {
                        removed.extend(removed_logs(lb, filter));
                    }
                    *next = (*next).min(kept + 1);
                    *start = (*start).min(kept + 1);
                }
                FilterKind::Pending { .. } => {}
            }
        }
    }
}

impl Filters {
    /// The node switched to another chain, whose blocks the filters read
    /// from `next` on.
    pub(crate) fn go_on_from(&self, next: u64) {
        for f in self.table().live.values_mut() {
            match &mut f.kind {
                FilterKind::Blocks { next: n } => *n = next,
                FilterKind::Logs { start, next: n, .. } => (*start, *n) = (next, next),
                FilterKind::Pending { .. } => {}
            }
        }
    }
}

/// Whether block `lb` is within `filter`'s block criteria: its range
/// (`latest` or none leaves an end open) or its block hash.
pub(crate) fn covers(filter: &Filter, lb: &LedgerBlock) -> bool {
    let n = lb.block.header.number;
    match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => lb.block.hash == hash,
        FilterBlockOption::Range { from_block, to_block } => {
            let (lo, hi) = range_bounds(from_block, to_block);
            lo <= n && n <= hi
        }
    }
}

/// A filter range's bounds as numbers; `latest`, `pending` and the like (or
/// none) leave that end open.
pub(crate) fn range_bounds(
    from: Option<BlockNumberOrTag>,
    to: Option<BlockNumberOrTag>,
) -> (u64, u64) {
    let bound = |t: Option<BlockNumberOrTag>, open: u64| match t {
        Some(BlockNumberOrTag::Number(n)) => n,
        Some(BlockNumberOrTag::Earliest) => 0,
        _ => open,
    };
    (bound(from, 0), bound(to, u64::MAX))
}

/// The logs of a block that match `filter`, in block order.
pub(crate) fn block_logs(lb: &LedgerBlock, filter: &Filter) -> Vec<Log> {
    let mut first = 0;
    let mut out = Vec::new();
    for (i, r) in lb.receipts.iter().enumerate() {
        let logs = convert::logs(&lb.block, r, i, first);
        first += logs.len();
        out.extend(logs.into_iter().filter(|l| filter.matches(&l.inner)));
    }
    out
}

/// [`block_logs`] of a dropped block, marked `removed`, as geth reports a
/// reorg's.
pub(crate) fn removed_logs(lb: &LedgerBlock, filter: &Filter) -> Vec<Log> {
    let mut logs = block_logs(lb, filter);
    for log in &mut logs {
        log.removed = true;
    }
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ids_are_distinct_and_unknown_ids_and_limits_are_errors() {
        let filters = Filters::new(DEFAULT_FILTER_TIMEOUT);
        let a = filters.install(|| FilterKind::Blocks { next: 1 }).unwrap();
        let b = filters.install(|| FilterKind::Pending { hashes: VecDeque::new() }).unwrap();
        assert_ne!(a, b);
        filters.on_pending(B256::repeat_byte(1));
        let drained = filters.poll(b, |k| match k {
            FilterKind::Pending { hashes } => hashes.drain(..).collect::<Vec<_>>(),
            _ => unreachable!(),
        });
        assert_eq!(drained, Ok(vec![B256::repeat_byte(1)]));
        assert!(filters.uninstall(a));
        assert!(!filters.uninstall(a));
        assert_eq!(filters.poll(a, |_| ()), Err(UnknownFilter));
        for _ in 1..MAX_FILTERS {
            filters.install(|| FilterKind::Blocks { next: 1 }).unwrap();
        }
        assert_eq!(filters.install(|| FilterKind::Blocks { next: 1 }), Err(TooManyFilters));
    }
}
