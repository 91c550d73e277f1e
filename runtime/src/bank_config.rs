//! A [`crate::Bank`]'s settings, and the state commitment a chain may
//! choose over the lattice hash.

use std::sync::Arc;

use alloy_primitives::B256;
use lanes_accounts_db::{Entry, ReadView, StorageError};

use crate::block::{BlockHeader, HeaderCodec, LanesHeaders};

/// Default bound on exclusive-lane transactions per block: none. The block
/// gas limit bounds the lane, so a stream of transactions that cannot run in
/// parallel still runs at one thread's speed.
pub const DEFAULT_MAX_EXCLUSIVE_PER_BLOCK: usize = usize::MAX;

/// Settings of a [`Bank`](crate::Bank).
#[derive(Clone, Debug)]
pub struct BankConfig {
    /// Most transactions one block runs in the exclusive lane; more are
    /// handed back as deferred. Unbounded by default.
    pub max_exclusive_per_block: usize,
    /// The roots and hash of the blocks sealed ([`LanesHeaders`] by
    /// default; the EVM's is Ethereum's).
    pub headers: Arc<dyn HeaderCodec>,
    /// Whether blocks may carry system writes ([`Bank::apply_system`](crate::Bank::apply_system)): a
    /// dev chain's. Off by default, and a replay refuses such a block then.
    pub allow_system: bool,
    /// Whether the bank records what each kept transaction read and wrote
    /// ([`SealedBlock::accesses`](crate::SealedBlock::accesses)): the material of an EVM block's access
    /// list. Off by default (it costs a copy of each transaction's writes).
    pub record_accesses: bool,
    /// What headers commit the state to: `None`, lanes' lattice hash (the
    /// default); else this commitment (an EVM chain's Merkle-Patricia
    /// root). The lattice hash is kept either way.
    pub commitment: Option<Arc<dyn StateCommitment>>,
    /// A block's budget besides gas, which each kept transaction's
    /// [`Transaction::block_units`](crate::Transaction::block_units) count against (an EVM chain's blob gas
    /// per block). Unbounded by default.
    pub max_block_units: u64,
    /// How a block's base fee follows from its parent's: kept by default;
    /// an EVM chain's moves by EIP-1559 ([`BaseFee::ETHEREUM`]).
    pub base_fee: BaseFee,
}

impl Default for BankConfig {
    fn default() -> Self {
        Self {
            max_exclusive_per_block: DEFAULT_MAX_EXCLUSIVE_PER_BLOCK,
            headers: Arc::new(LanesHeaders),
            allow_system: false,
            record_accesses: false,
            commitment: None,
            max_block_units: u64::MAX,
            base_fee: BaseFee::Fixed,
        }
    }
}

/// How a block's base fee follows from its parent's ([`BankConfig::base_fee`]).
/// The first block after a chain's genesis keeps the genesis's, as
/// Ethereum's first EIP-1559 block took its initial base fee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BaseFee {
    /// Every block charges its parent's base fee.
    #[default]
    Fixed,
    /// EIP-1559: the parent's, moved toward its gas target (gas limit /
    /// `elasticity`) by at most 1/`denominator` of itself: up when the
    /// parent used more (by at least 1), down when it used less.
    Eip1559 {
        /// Gas limit over gas target.
        elasticity: u64,
        /// The change's bound, as a fraction of the base fee.
        denominator: u64,
    },
}

impl BaseFee {
    /// Ethereum's: elasticity 2, change denominator 8.
    pub const ETHEREUM: Self = Self::Eip1559 { elasticity: 2, denominator: 8 };

    /// The base fee of `parent`'s child.
    pub fn after(&self, parent: &BlockHeader) -> u64 {
        let Self::Eip1559 { elasticity, denominator } = *self else { return parent.base_fee };
        // A chain's genesis has no parent: its child keeps its base fee. A
        // rule without a target or a bound changes nothing (as alloy's).
        let target = parent.gas_limit.checked_div(elasticity).unwrap_or(0);
        if parent.parent_hash.is_zero() || target == 0 || denominator == 0 {
            return parent.base_fee;
        }
        let base = u128::from(parent.base_fee);
        let denominator = u128::from(denominator);
        let (target, used) = (u128::from(target), u128::from(parent.gas_used));
        let next = match used.cmp(&target) {
            std::cmp::Ordering::Equal => base,
            std::cmp::Ordering::Greater => {
                base + (base * (used - target) / target / denominator).max(1)
            }
            std::cmp::Ordering::Less => base - base * (target - used) / target / denominator,
        };
        u64::try_from(next).unwrap_or(u64::MAX)
    }
}

/// A state commitment of a chain's own choosing, which its headers carry in
/// place of the lattice hash ([`BankConfig::commitment`]).
pub trait StateCommitment: Send + Sync + std::fmt::Debug {
    /// The commitment to a state of `alloc` alone (block 0's).
    fn genesis(&self, alloc: &[Entry]) -> B256;
    /// The commitment to the state a sealed block's `changes` make of
    /// `parent`.
    fn commit(&self, parent: &ReadView, changes: &[Entry]) -> Result<B256, StorageError>;
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;

    fn parent(base_fee: u64, gas_used: u64) -> BlockHeader {
        let parent_hash = B256::repeat_byte(1);
        BlockHeader { base_fee, gas_used, gas_limit: 30_000_000, parent_hash, ..Default::default() }
    }

    #[test]
    fn test_base_fee_moves_toward_the_target_by_at_most_an_eighth() {
        let rule = BaseFee::ETHEREUM;
        let gwei = 1_000_000_000;
        assert_eq!(rule.after(&parent(gwei, 15_000_000)), gwei, "at the target");
        assert_eq!(rule.after(&parent(gwei, 30_000_000)), gwei + gwei / 8, "a full block");
        assert_eq!(rule.after(&parent(gwei, 0)), gwei - gwei / 8, "an empty block");
        assert_eq!(rule.after(&parent(gwei, 21_000)), 875_175_000, "one transfer");
        // Over the target it rises by at least 1; an empty chain's fee stops
        // falling once an eighth of it rounds to nothing.
        assert_eq!(rule.after(&parent(7, 15_000_001)), 8);
        assert_eq!(rule.after(&parent(7, 0)), 7);
        assert_eq!(rule.after(&parent(u64::MAX, 30_000_000)), u64::MAX, "saturates");
        // The genesis's child keeps its base fee; a fixed rule keeps every one.
        let genesis = BlockHeader { parent_hash: B256::ZERO, ..parent(gwei, 0) };
        assert_eq!(rule.after(&genesis), gwei);
        assert_eq!(BaseFee::Fixed.after(&parent(gwei, 30_000_000)), gwei);
        let unbounded = BaseFee::Eip1559 { elasticity: 2, denominator: 0 };
        assert_eq!(unbounded.after(&parent(gwei, 30_000_000)), gwei);
    }
}
