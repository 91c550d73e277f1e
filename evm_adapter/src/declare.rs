//! What an EVM transaction declares (`docs/design.md` §5).
//!
//! - sender: `Account` write;
//! - `to`: `Account` read, write when value > 0;
//! - each access-list address: `Account` read; each listed storage key:
//!   `Storage` write (EIP-2930 cannot say read-only);
//! - contract creation: the new address, `Account` write and `AllStorage` write;
//! - code (by hash) needs no lock. Precompiles do get a read lock when listed:
//!   revm loads a precompile's account (its balance) on every call to it, and a
//!   shared lock costs nothing while keeping a concurrent value transfer to
//!   the precompile from racing the read;
//! - an EIP-7702 transaction: each authority's account, written, and the
//!   account it delegates to, read;
//! - a call with an empty (or no) access list declares nothing: its set is
//!   known from state or predicted (`crate::EvmAdmission`).

use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_primitives::{Address, TxKind};
use lanes_runtime::{AccessSet, StateKey};

/// The set lanes locks for `tx` from `sender`, `None` when it declares nothing.
pub fn declared_access(tx: &TxEnvelope, sender: Address) -> Option<AccessSet> {
    let list = tx.access_list().map(|l| l.0.as_slice()).unwrap_or_default();
    let mut reads = Vec::new();
    let mut writes = vec![StateKey::Account(sender)];
    match tx.kind() {
        TxKind::Call(to) => {
            if list.is_empty() {
                return None;
            }
            if tx.value().is_zero() {
                reads.push(StateKey::Account(to));
            } else {
                writes.push(StateKey::Account(to));
            }
        }
        TxKind::Create => {
            let created = sender.create(tx.nonce());
            writes.extend([StateKey::Account(created), StateKey::AllStorage(created)]);
        }
    }
    for item in list {
        reads.push(StateKey::Account(item.address));
        writes.extend(item.storage_keys.iter().map(|slot| StateKey::Storage(item.address, *slot)));
    }
    // EIP-7702: each authority's account gets its delegation (and a nonce
    // bump) written; the account it delegates to is read for its code.
    for (authority, delegate) in crate::recover::authorities(tx) {
        writes.push(StateKey::Account(authority));
        reads.push(StateKey::Account(delegate));
    }
    // The decoder bounds the list, so the set is bounded too.
    Some(AccessSet::unbounded(reads, writes))
}
