//! What only a `--dev` node keeps: the addresses it sends as without their
//! key (impersonation) and its `evm_snapshot`s. A node started without
//! `--dev` has no [`DevState`] and refuses the methods that need one. The
//! block clock's controls live in the banking stage.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use alloy_primitives::{Address, B256, Bytes, U256, address};
use lanes_accounts_db::{AccountsRead, Entry, ReadView, StorageError};
use lanes_evm_adapter::EvmExecutor;
use parking_lot::Mutex;

/// Where a dev chain keeps the chain id `anvil_setChainId` set (slot 0;
/// zero or absent: the genesis's). Kept in the state, it is in the ledger
/// with the block that set it, and a replay or a revert brings back the id
/// in force at each block.
pub(crate) const CHAIN_ID_ADDRESS: Address = address!("0x00000000000000000000000000006c616e657321");

/// The state write that sets the chain id in force to `chain_id`.
pub(crate) fn chain_id_entry(chain_id: u64) -> Entry {
    Entry::Storage(CHAIN_ID_ADDRESS, B256::ZERO, U256::from(chain_id))
}

/// Sets `executor`'s chain id to the one `view` records, or `genesis`'s.
pub(crate) fn sync_chain_id(
    view: &ReadView,
    executor: &EvmExecutor,
    genesis: u64,
) -> Result<(), StorageError> {
    let recorded = view.get_storage(&CHAIN_ID_ADDRESS, &B256::ZERO)?;
    let chain_id = u64::try_from(recorded).ok().filter(|id| *id != 0).unwrap_or(genesis);
    executor.set_chain_id(chain_id);
    Ok(())
}

/// A dev node's impersonation and snapshots.
#[derive(Default)]
pub(crate) struct DevState {
    /// Addresses `eth_sendTransaction` sends as without their key.
    impersonated: Mutex<HashSet<Address>>,
    /// Whether it sends as any address (`anvil_autoImpersonateAccount`).
    auto_impersonate: AtomicBool,
    /// `evm_snapshot`s, oldest first.
    snapshots: Mutex<Vec<Snapshot>>,
    /// The last snapshot id given out (ids are never reused).
    snapshot_ids: AtomicU64,
}

/// What `evm_snapshot` records, for `evm_revert`.
pub(crate) struct Snapshot {
    pub(crate) id: u64,
    /// The head block then, and its hash (a revert to a block that is no
    /// longer the ledger's is refused).
    pub(crate) block: u64,
    pub(crate) hash: B256,
    /// The block clock's offset then.
    pub(crate) offset: i64,
    /// The pool's transactions then, each sender's in nonce order.
    pub(crate) pool: Vec<Bytes>,
}

impl DevState {
    /// Whether `eth_sendTransaction` sends as `address` without its key.
    pub(crate) fn impersonates(&self, address: &Address) -> bool {
        self.auto_impersonate.load(Ordering::Relaxed) || self.impersonated.lock().contains(address)
    }

    /// Sends as `address` without its key from now on
    /// (`anvil_impersonateAccount`).
    pub(crate) fn impersonate(&self, address: Address) {
        self.impersonated.lock().insert(address);
    }

    /// Stops sending as `address` without its key
    /// (`anvil_stopImpersonatingAccount`).
    pub(crate) fn stop_impersonating(&self, address: &Address) {
        self.impersonated.lock().remove(address);
    }

    /// Sends as any address, or stops (`anvil_autoImpersonateAccount`).
    pub(crate) fn set_auto_impersonate(&self, enabled: bool) {
        self.auto_impersonate.store(enabled, Ordering::Relaxed);
    }

    /// Records a snapshot of the chain at `block` (whose hash is `hash`),
    /// with the block clock at `offset` and `pool` queued, and returns its
    /// id: one more than the last given out, the first `0`, as anvil
    /// numbers them (Hardhat's first is `1`).
    pub(crate) fn take_snapshot(
        &self,
        block: u64,
        hash: B256,
        offset: i64,
        pool: Vec<Bytes>,
    ) -> u64 {
        let id = self.snapshot_ids.fetch_add(1, Ordering::Relaxed);
        self.snapshots.lock().push(Snapshot { id, block, hash, offset, pool });
        id
    }

    /// Takes the snapshot `id` out, with every later one (used up by the
    /// revert to it, as in hardhat); `None` when there is no such snapshot.
    pub(crate) fn pop_snapshot(&self, id: u64) -> Option<Snapshot> {
        let mut snapshots = self.snapshots.lock();
        let at = snapshots.iter().position(|s| s.id == id)?;
        snapshots.drain(at..).next()
    }

    /// The snapshots kept: id, block number and hash.
    pub(crate) fn snapshot_list(&self) -> Vec<(u64, u64, B256)> {
        self.snapshots.lock().iter().map(|s| (s.id, s.block, s.hash)).collect()
    }

    /// Forgets every snapshot and impersonation (`anvil_reset`); snapshot
    /// ids still go on from the last one given out.
    pub(crate) fn clear(&self) {
        self.snapshots.lock().clear();
        self.impersonated.lock().clear();
        self.auto_impersonate.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_revert_uses_up_its_snapshot_and_later_ones() {
        let dev = DevState::default();
        let ids: Vec<u64> =
            (0..3).map(|n| dev.take_snapshot(n, B256::ZERO, 0, Vec::new())).collect();
        assert_eq!(ids, [0, 1, 2], "from 0, as anvil");
        assert_eq!(dev.pop_snapshot(1).map(|s| s.block), Some(1));
        assert!(dev.pop_snapshot(2).is_none());
        assert_eq!(dev.pop_snapshot(0).map(|s| s.block), Some(0));
        // Ids are never reused, even after a reset.
        dev.clear();
        assert_eq!(dev.take_snapshot(9, B256::ZERO, 0, Vec::new()), 3);
    }

    #[test]
    fn test_impersonation_by_address_and_auto() {
        let dev = DevState::default();
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        assert!(!dev.impersonates(&a));
        dev.impersonate(a);
        assert!(dev.impersonates(&a) && !dev.impersonates(&b));
        dev.set_auto_impersonate(true);
        assert!(dev.impersonates(&b));
        dev.stop_impersonating(&a);
        dev.set_auto_impersonate(false);
        assert!(!dev.impersonates(&a));
        dev.impersonate(b);
        dev.clear();
        assert!(!dev.impersonates(&b));
    }
}
