//! What `eth_getLogs` and the filter methods share: installing a filter,
//! polling one (capped in blocks and logs), and reading a range's logs.

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, FilterChanges, Log};
use jsonrpsee::core::RpcResult;

use crate::NodeState;
use crate::error::{Res, RpcError};
use crate::filters::{self, FilterKind, MAX_FILTERS, TooManyFilters};

pub(super) fn install(s: &NodeState, make: impl FnOnce() -> FilterKind) -> RpcResult<U256> {
    Ok(s.filters.install(make).map_err(|TooManyFilters| {
        RpcError::Limit(format!(
            "{MAX_FILTERS} filters are installed; uninstall some (eth_uninstallFilter) or let them expire"
        ))
    })?)
}

pub(super) fn unknown_filter(s: &NodeState, id: U256) -> RpcError {
    RpcError::Invalid(format!(
        "filter not found: {id:#x} (never installed, uninstalled, or not polled for {:?})",
        s.filters.timeout
    ))
}

/// What filter `id` saw since its last poll. A poll reads at most
/// `max_log_blocks` blocks, and stops before the block that would take its
/// logs past `max_logs`; the next poll goes on from there.
pub(super) fn filter_changes(s: &NodeState, id: U256) -> Res<FilterChanges> {
    enum Todo {
        Blocks(u64, u64),
        Logs(Box<Filter>, u64, u64, Vec<Log>),
        Hashes(Vec<B256>),
    }
    let span = s.limits.max_log_blocks.max(1);
    // The head is read under the filters' lock, so a revert (which resets
    // cursors under it after cutting the head) cannot slip in between.
    let todo = s
        .filters
        .poll(id, |kind| {
            let head = s.head();
            match kind {
                FilterKind::Blocks { next } => {
                    let (from, to) = (*next, head.min(next.saturating_add(span - 1)));
                    *next = (*next).max(to + 1);
                    Todo::Blocks(from, to)
                }
                FilterKind::Logs { filter, next, removed, .. } => {
                    let (from, to) = (*next, head.min(next.saturating_add(span - 1)));
                    *next = (*next).max(to + 1);
                    Todo::Logs(filter.clone(), from, to, std::mem::take(removed))
                }
                FilterKind::Pending { hashes } => Todo::Hashes(hashes.drain(..).collect()),
            }
        })
        .map_err(|_| unknown_filter(s, id))?;
    Ok(match todo {
        Todo::Blocks(from, to) => {
            FilterChanges::Hashes((from..=to).filter_map(|n| s.ledger.hash_of(n)).collect())
        }
        Todo::Hashes(hashes) => FilterChanges::Hashes(hashes),
        Todo::Logs(filter, from, to, mut logs) => {
            // Within the filter's own range; a block hash no longer served
            // matches nothing.
            let (lo, hi) = match filter.block_option {
                FilterBlockOption::Range { from_block, to_block } => {
                    filters::range_bounds(from_block, to_block)
                }
                FilterBlockOption::AtBlockHash(_) => filter_range(s, &filter).unwrap_or((1, 0)),
            };
            let (lo, hi) = (from.max(lo), to.min(hi));
            if lo <= hi {
                let room = s.limits.max_logs.saturating_sub(logs.len());
                let (found, stopped) = logs_until(s, &filter, lo, hi, room)?;
                logs.extend(found);
                if let Some(at) = stopped {
                    let _ = s.filters.poll(id, |kind| {
                        if let FilterKind::Logs { next, .. } = kind {
                            *next = (*next).min(at);
                        }
                    });
                }
            }
            FilterChanges::Logs(logs)
        }
    })
}

/// The logs of blocks `from..=to` that match `filter`, stopping before the
/// block that would take them past `room` (unless it is the first): the
/// logs, and the block it stopped at.
fn logs_until(
    s: &NodeState,
    filter: &Filter,
    from: u64,
    to: u64,
    room: usize,
) -> Res<(Vec<Log>, Option<u64>)> {
    let mut out = Vec::new();
    for number in from..=to {
        let Some(bloom) = s.ledger.bloom(number) else { continue };
        if !filter.matches_bloom(bloom) {
            continue;
        }
        let Some(lb) = s.block(number)? else { continue };
        let logs = filters::block_logs(&lb, filter);
        if !out.is_empty() && out.len() + logs.len() > room {
            return Ok((out, Some(number)));
        }
        out.extend(logs);
    }
    Ok((out, None))
}

/// The blocks a filter's criteria cover, at most up to the head.
fn filter_range(s: &NodeState, filter: &Filter) -> Res<(u64, u64)> {
    let head = s.head();
    Ok(match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let n = s
                .ledger
                .number_of(&hash)
                .ok_or_else(|| RpcError::NotFound(format!("unknown block hash {hash}")))?;
            (n, n)
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let resolve = |t: Option<BlockNumberOrTag>| match t.unwrap_or_default() {
                BlockNumberOrTag::Number(n) => n.min(head),
                BlockNumberOrTag::Earliest => 0,
                _ => head,
            };
            (resolve(from_block), resolve(to_block))
        }
    })
}

/// A log filter's logs (`eth_getFilterLogs`): on a fork, those at or below
/// the fork block are the upstream's, asked with the filter's criteria (as
/// `eth_getLogs` across the fork is), then the node's.
pub(super) fn filter_logs(s: &NodeState, filter: &Filter) -> Res<Vec<Log>> {
    let place = s.rebuild.place();
    let Some(fork) = &place.fork else { return get_logs(s, filter) };
    let n = fork.number();
    let (older, newer) = match filter.block_option {
        // The fork block, or a block the node does not have: the upstream's.
        FilterBlockOption::AtBlockHash(hash)
            if hash == fork.info.at.hash || s.ledger.number_of(&hash).is_none() =>
        {
            (Some(filter.clone()), None)
        }
        FilterBlockOption::Range { .. } => match filter_range(s, filter)? {
            (from, to) if from > n || from > to => (None, Some(filter.clone())),
            (from, to) => {
                let older = filter.clone().from_block(from).to_block(to.min(n));
                (Some(older), (to > n).then(|| filter.clone().from_block(n + 1).to_block(to)))
            }
        },
        FilterBlockOption::AtBlockHash(_) => (None, Some(filter.clone())),
    };
    let mut logs = match older {
        Some(older) => {
            let params = serde_json::json!([older]);
            let answer = fork
                .upstream
                .call("eth_getLogs", params)
                .map_err(|e| RpcError::Invalid(e.to_string()))?;
            serde_json::from_value::<Vec<Log>>(answer).map_err(|e| {
                RpcError::Invalid(format!(
                    "fork upstream {}: eth_getLogs: an answer that does not parse: {e}",
                    fork.upstream.url()
                ))
            })?
        }
        None => Vec::new(),
    };
    if let Some(newer) = newer {
        logs.extend(get_logs(s, &newer)?);
    }
    Ok(logs)
}

/// `eth_getLogs`' range as the execution APIs specify it (geth, reth and
/// anvil answer so): a bound past the head, or a start after the end, is
/// refused with -32602, not clamped to the head (a later block's logs
/// would be missing from an answer that looks whole). Filters installed
/// with `eth_newFilter` keep ranges that reach future blocks.
pub(super) fn check_range(s: &NodeState, filter: &Filter) -> Res<()> {
    let FilterBlockOption::Range { from_block, to_block } = filter.block_option else {
        return Ok(());
    };
    let head = s.head();
    let number = |t: Option<BlockNumberOrTag>| match t {
        Some(BlockNumberOrTag::Number(n)) => Some(n),
        _ => None,
    };
    let (from, to) = (number(from_block), number(to_block));
    if from.max(to).is_some_and(|n| n > head) {
        let message = format!("block range extends beyond current head block {head}");
        return Err(RpcError::Params(message));
    }
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(RpcError::Params(format!("invalid block range params: {from} after {to}")));
    }
    Ok(())
}

/// Every block the filter's range covers must be served; the range is capped.
pub(super) fn get_logs(s: &NodeState, filter: &Filter) -> Res<Vec<Log>> {
    let (from, to) = filter_range(s, filter)?;
    if from > to {
        return Err(RpcError::Params(format!(
            "invalid block range params: from {from} is after to {to}"
        )));
    }
    if to - from >= s.limits.max_log_blocks {
        return Err(RpcError::Limit(format!(
            "query spans {} blocks, more than the limit of {}",
            to - from + 1,
            s.limits.max_log_blocks
        )));
    }
    let max = s.limits.max_logs;
    match logs_until(s, filter, from, to, max)? {
        (logs, None) if logs.len() <= max => Ok(logs),
        _ => Err(RpcError::Limit(format!(
            "query returns more than {max} logs; narrow the block range"
        ))),
    }
}
