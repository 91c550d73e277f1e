//! A committed block drawn as the explorer shows it ([`block_lanes`]): its
//! entries as lanes, each transaction's waits on earlier ones and the keys
//! behind them, the block's hot keys; and one transaction's set
//! ([`transaction_set`]).
//!
//! A wait is a conflict of the sets the transactions ran under (one wrote a
//! key the other touched): for a key a transaction writes, it waits on the
//! key's last writer and on every reader since; for one it reads, on the
//! last writer. A slot and its address's every-slot key conflict.

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256, U64};
use lanes_rpc::explorer::{
    BlockLanes, HotKey, KeyKind, KeyView, Lane, LaneEntry, LaneTx, MAX_HOT_KEYS, MAX_KEYS_PER_WAIT,
    MAX_WAITS_PER_TX, RunNote, TransactionSet, TxWait, Wait,
};
use lanes_rpc::types::SetSource;
use lanes_runtime::{AccessSource, StateKey};

use crate::ledger::LedgerBlock;
use crate::publish::RunNotes;

/// Who last wrote a key, and who read it since.
#[derive(Default)]
struct Touches {
    writer: Option<u32>,
    readers: Vec<u32>,
}

/// [`BlockLanes`] of `lb`; `runs` where this node built it.
pub(crate) fn block_lanes(lb: &LedgerBlock, runs: Option<&RunNotes>) -> BlockLanes {
    let gas = |at: u32| lb.receipts.get(at as usize).map_or(0, |r| r.outcome.gas_used);
    let mut keys = KeyTable::default();
    let mut entries = Vec::with_capacity(lb.block.entries.len());
    let mut txs = Vec::with_capacity(lb.receipts.len());
    // Per key, and per address for slots against the every-slot key.
    let mut by_key: HashMap<StateKey, Touches> = HashMap::new();
    let mut slots_of: HashMap<Address, Touches> = HashMap::new();
    let mut hot: HashMap<StateKey, HotKey> = HashMap::new();
    let mut index = 0u32;
    for (e, entry) in lb.block.entries.iter().enumerate() {
        let first = index;
        let mut lanes = Vec::new();
        for (l, members) in entry.lane_members().into_iter().enumerate() {
            let transactions: Vec<u32> = members.iter().map(|&m| first + m as u32).collect();
            let gas_used = transactions.iter().map(|&i| gas(i)).sum::<u64>();
            lanes.push(Lane { gas_used: U64::from(gas_used), transactions });
            for &m in &members {
                let at = first + m as u32;
                let tx = &entry.txs[m];
                let hash = lb.receipts.get(at as usize).map(|r| r.tx_hash).unwrap_or_default();
                let waits = if entry.exclusive {
                    Vec::new()
                } else {
                    waits_of(at, &tx.access, &mut by_key, &mut slots_of, &mut hot, &mut keys)
                };
                let run = run_of(runs, &hash, tx.source);
                txs.push((
                    at,
                    LaneTx {
                        hash,
                        entry: e as u32,
                        lane: l as u32,
                        source: SetSource::from(tx.source),
                        run,
                        gas_used: U64::from(gas(at)),
                        reads: tx.access.reads().len() as u32,
                        writes: tx.access.writes().len() as u32,
                        waits,
                    },
                ));
            }
        }
        index += entry.txs.len() as u32;
        entries.push(LaneEntry { exclusive: entry.exclusive, lanes });
    }
    // Lanes list their members lane by lane; the answer is in block order.
    txs.sort_unstable_by_key(|(at, _)| *at);
    let mut hot: Vec<(StateKey, HotKey)> =
        hot.into_iter().filter(|(_, h)| h.waits > 0 || h.writers > 1).collect();
    hot.sort_unstable_by(|(ka, a), (kb, b)| {
        (b.waits, b.writers, b.transactions)
            .cmp(&(a.waits, a.writers, a.transactions))
            .then(ka.cmp(kb))
    });
    let hot_keys = hot
        .into_iter()
        .take(MAX_HOT_KEYS)
        .map(|(key, h)| HotKey { key: keys.index(key), ..h })
        .collect();
    BlockLanes {
        number: U64::from(lb.block.header.number),
        hash: lb.block.hash,
        gas_used: U64::from(lb.block.header.gas_used),
        runs_known: runs.is_some(),
        keys: keys.views,
        entries,
        transactions: txs.into_iter().map(|(_, t)| t).collect(),
        hot_keys,
    }
}

/// The waits of transaction `at` under `set`, noting its touches.
fn waits_of(
    at: u32,
    set: &lanes_runtime::AccessSet,
    by_key: &mut HashMap<StateKey, Touches>,
    slots_of: &mut HashMap<Address, Touches>,
    hot: &mut HashMap<StateKey, HotKey>,
    keys: &mut KeyTable,
) -> Vec<Wait> {
    // Earlier transaction -> the keys behind the wait, in key order.
    let mut on: BTreeMap<u32, Vec<StateKey>> = BTreeMap::new();
    let touches =
        set.writes().iter().map(|k| (*k, true)).chain(set.reads().iter().map(|k| (*k, false)));
    for (key, write) in touches {
        let h = hot.entry(key).or_insert(HotKey { key: 0, transactions: 0, writers: 0, waits: 0 });
        h.transactions += 1;
        h.writers += u32::from(write);
        let mut blockers = Vec::new();
        let mut against = |t: &Touches| {
            blockers.extend(t.writer);
            if write {
                blockers.extend(t.readers.iter().copied().filter(|r| Some(*r) > t.writer));
            }
        };
        if let Some(t) = by_key.get(&key) {
            against(t);
        }
        match key {
            StateKey::Storage(a, _) => {
                if let Some(t) = by_key.get(&StateKey::AllStorage(a)) {
                    against(t);
                }
            }
            StateKey::AllStorage(a) => {
                if let Some(t) = slots_of.get(&a) {
                    against(t);
                }
            }
            StateKey::Account(_) => {}
        }
        for &b in &blockers {
            if b != at {
                on.entry(b).or_default().push(key);
            }
        }
        let note = |t: &mut Touches| {
            if write {
                t.writer = Some(at);
                t.readers.clear();
            } else {
                t.readers.push(at);
            }
        };
        note(by_key.entry(key).or_default());
        if let StateKey::Storage(a, _) = key {
            note(slots_of.entry(a).or_default());
        }
    }
    on.into_iter()
        .rev()
        .take(MAX_WAITS_PER_TX)
        .map(|(b, mut shared)| {
            shared.sort_unstable();
            shared.dedup();
            for k in &shared {
                if let Some(h) = hot.get_mut(k) {
                    h.waits += 1;
                }
            }
            let keys = shared.into_iter().take(MAX_KEYS_PER_WAIT).map(|k| keys.index(k)).collect();
            Wait { on: b, keys }
        })
        .collect()
}

/// The keys an answer names, each once.
#[derive(Default)]
struct KeyTable {
    at: HashMap<StateKey, u32>,
    views: Vec<KeyView>,
}

impl KeyTable {
    fn index(&mut self, key: StateKey) -> u32 {
        *self.at.entry(key).or_insert_with(|| {
            self.views.push(key_view(&key));
            self.views.len() as u32 - 1
        })
    }
}

pub(crate) fn key_view(key: &StateKey) -> KeyView {
    match *key {
        StateKey::Account(address) => KeyView { kind: KeyKind::Account, address, slot: None },
        StateKey::Storage(address, slot) => {
            KeyView { kind: KeyKind::Storage, address, slot: Some(slot) }
        }
        StateKey::AllStorage(address) => KeyView { kind: KeyKind::AllStorage, address, slot: None },
    }
}

/// How the transaction hashed `hash` ran, where `runs` knows; `None` also
/// for one that declared nothing (it ran alone from the start).
fn run_of(runs: Option<&RunNotes>, hash: &B256, source: AccessSource) -> Option<RunNote> {
    let runs = runs?;
    if runs.strayed.contains(hash) {
        return Some(RunNote::Strayed);
    }
    (source != AccessSource::Undeclared)
        .then(|| if runs.reran.contains(hash) { RunNote::Reran } else { RunNote::Stood })
}

/// The set of the transaction at `index` of `lb`, and where it ran.
pub(crate) fn transaction_set(
    lb: &LedgerBlock,
    index: u32,
    runs: Option<&RunNotes>,
) -> Option<TransactionSet> {
    let tx = lb.block.txs().nth(index as usize)?;
    let lanes = block_lanes(lb, runs);
    let t = lanes.transactions.get(index as usize)?;
    let waits = t
        .waits
        .iter()
        .map(|w| TxWait {
            on: w.on,
            hash: lanes.transactions[w.on as usize].hash,
            keys: w.keys.iter().map(|&k| lanes.keys[k as usize].clone()).collect(),
        })
        .collect();
    Some(TransactionSet {
        block_number: lanes.number,
        block_hash: lanes.hash,
        index,
        entry: t.entry,
        lane: t.lane,
        exclusive: lanes.entries[t.entry as usize].exclusive,
        source: t.source,
        run: t.run,
        reads: tx.access.reads().iter().map(key_view).collect(),
        writes: tx.access.writes().iter().map(key_view).collect(),
        waits,
    })
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;
    use lanes_runtime::{AccessSet, Block, BlockEntry, EntryTx, Outcome, Receipt};

    use super::*;

    fn addr(i: u8) -> Address {
        Address::repeat_byte(i)
    }

    fn tx(reads: &[StateKey], writes: &[StateKey], source: AccessSource) -> EntryTx {
        let access = AccessSet::new(reads.iter().copied(), writes.iter().copied(), 64).unwrap();
        EntryTx { tx: Default::default(), access, source }
    }

    /// A block of `entries`, each transaction using 1,000 gas more than the one before.
    fn block(entries: Vec<BlockEntry>) -> LedgerBlock {
        let count: usize = entries.iter().map(|e| e.txs.len()).sum();
        let mut total = 0;
        let receipts = (0..count)
            .map(|i| {
                let gas_used = 21_000 + 1_000 * i as u64;
                total += gas_used;
                Receipt {
                    tx_hash: B256::with_last_byte(i as u8 + 1),
                    cumulative_gas_used: total,
                    outcome: Outcome { gas_used, ..Outcome::default() },
                }
            })
            .collect();
        LedgerBlock { block: Block { entries, ..Default::default() }, receipts, access_list: None }
    }

    #[test]
    fn test_each_transaction_waits_on_the_last_writer_and_the_readers_since() {
        let (a, b, c) =
            (StateKey::Account(addr(1)), StateKey::Account(addr(2)), StateKey::Account(addr(3)));
        let slot = StateKey::Storage(addr(9), B256::with_last_byte(7));
        let all = StateKey::AllStorage(addr(9));
        let p = AccessSource::Predicted;
        let lb = block(vec![
            // 0 writes a; 1 reads a (waits on 0); 2 reads a too, in a lane of its own.
            BlockEntry {
                exclusive: false,
                txs: vec![tx(&[], &[a, slot], p), tx(&[a], &[b], p), tx(&[c], &[], p)],
                lanes: vec![],
            },
            // 3 writes a: waits on 0 (the writer) and 1 (a reader since);
            // 4 writes every slot of 9: waits on 0 for the slot.
            BlockEntry {
                exclusive: false,
                txs: vec![tx(&[], &[a], p), tx(&[], &[all], AccessSource::Declared)],
                lanes: vec![],
            },
            // 5 ran alone: no waits drawn.
            BlockEntry {
                exclusive: true,
                txs: vec![tx(&[], &[], AccessSource::Undeclared)],
                lanes: vec![],
            },
        ]);
        let view = block_lanes(&lb, None);
        let waits = |i: usize| -> Vec<(u32, Vec<KeyView>)> {
            view.transactions[i]
                .waits
                .iter()
                .map(|w| (w.on, w.keys.iter().map(|&k| view.keys[k as usize].clone()).collect()))
                .collect()
        };
        assert!(waits(0).is_empty() && waits(2).is_empty());
        assert_eq!(waits(1), vec![(0, vec![key_view(&a)])]);
        assert_eq!(
            waits(3),
            vec![(1, vec![key_view(&a)]), (0, vec![key_view(&a)])],
            "nearest first"
        );
        assert_eq!(waits(4), vec![(0, vec![key_view(&all)])]);
        assert!(waits(5).is_empty());
        assert_eq!(view.entries.len(), 3);
        assert_eq!(view.entries[0].lanes.len(), 3);
        assert!(view.entries[2].exclusive);
        // Per-transaction gas from the cumulative receipts, and a lane's sum.
        assert_eq!(view.transactions[1].gas_used, U64::from(22_000));
        assert_eq!(view.entries[1].lanes[1].gas_used, U64::from(25_000));
        assert_eq!((view.transactions[4].entry, view.transactions[4].lane), (1, 1));
        assert_eq!(view.transactions[4].source, SetSource::Declared);
        // `a`: written twice, read once, three waits on it.
        let hot = &view.hot_keys[0];
        assert_eq!(view.keys[hot.key as usize], key_view(&a));
        assert_eq!((hot.transactions, hot.writers, hot.waits), (3, 2, 3));
        assert!(!view.runs_known && view.transactions.iter().all(|t| t.run.is_none()));
    }

    #[test]
    fn test_a_lane_lists_its_transactions_in_block_order_and_runs_are_noted() {
        let a = StateKey::Account(addr(1));
        let p = AccessSource::Predicted;
        // 0 and 2 share a lane (both write a); 1 runs beside them.
        let lb = block(vec![BlockEntry {
            exclusive: false,
            txs: vec![
                tx(&[], &[a], p),
                tx(&[], &[StateKey::Account(addr(2))], p),
                tx(&[], &[a], p),
            ],
            lanes: vec![0, 1, 0],
        }]);
        let runs = RunNotes {
            reran: [B256::with_last_byte(3)].into_iter().collect(),
            strayed: Default::default(),
        };
        let view = block_lanes(&lb, Some(&runs));
        assert_eq!(view.entries[0].lanes[0].transactions, vec![0, 2]);
        assert_eq!(view.entries[0].lanes[1].transactions, vec![1]);
        assert_eq!(
            view.transactions.iter().map(|t| t.hash).collect::<Vec<_>>(),
            lb.receipts.iter().map(|r| r.tx_hash).collect::<Vec<_>>()
        );
        assert_eq!(view.transactions[2].run, Some(RunNote::Reran));
        assert_eq!(view.transactions[0].run, Some(RunNote::Stood));
        let set = transaction_set(&lb, 2, Some(&runs)).unwrap();
        assert_eq!((set.entry, set.lane, set.run), (0, 0, Some(RunNote::Reran)));
        assert_eq!(set.writes, vec![key_view(&a)]);
        let on_first = TxWait { on: 0, hash: lb.receipts[0].tx_hash, keys: vec![key_view(&a)] };
        assert_eq!(set.waits, vec![on_first], "its lane's first wrote `a` before it");
        assert!(transaction_set(&lb, 3, None).is_none());
    }
}
