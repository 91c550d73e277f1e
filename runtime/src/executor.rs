//! The seam to an execution engine: the [`Executor`] and [`Transaction`] traits.

use alloy_primitives::{Address, B256, Bytes};

use crate::access::AccessSet;
use crate::error::{DecodeError, TxError};
use crate::key::StateKey;
use crate::outcome::Outcome;
use crate::view::StateView;

/// A transaction as the runtime sees it: three methods. A copy of it is
/// cheap enough to hand to a prediction while the original waits in a pool.
///
/// The runtime checks what is the block's (each hash once per block, the
/// block's gas limit, the sets); everything about the transaction's own
/// validity (nonces, fees, signatures) is the [`Executor`]'s, which refuses
/// an invalid one with [`TxError::Invalid`].
pub trait Transaction: Clone + Send + Sync {
    /// Its unique hash: a block holds each hash once.
    fn hash(&self) -> B256;
    /// The state it declares, or `None` when it declares nothing (it then runs
    /// in the exclusive lane, or under a set an [`crate::Admission`] supplies).
    fn access_set(&self) -> Option<&AccessSet>;
    /// Its canonical encoding, as recorded in blocks ([`Executor::decode`]
    /// reads it back on replay).
    fn encoded(&self) -> &Bytes;
    /// Reads what running it reads first (its own fields and what they point
    /// to), so those lines are in the CPU cache when it runs.
    /// [`crate::Bank::execute_batch`] calls it for each transaction of a
    /// batch before running any, so their cache misses overlap instead of
    /// each stalling its run. The default reads nothing.
    fn warm(&self) {}
    /// What running it surely writes, known from the transaction alone: in
    /// a fixed order ([`crate::Bank::execute_ordered`]) it orders the
    /// transaction without a wasted run. The default knows nothing.
    fn known_writes(&self) -> KnownWrites {
        KnownWrites::default()
    }
    /// The most gas it may use, where it has such a budget: an ordered
    /// block whose transactions other than plain transfers may use less
    /// than [`crate::MIN_PARALLEL_GAS`] in all runs on one worker
    /// ([`crate::OrderedConfig::adaptive`]). The default: none known (the
    /// block is then judged by its count of transactions alone).
    fn gas_budget(&self) -> Option<u64> {
        None
    }
    /// What it takes of a block's budget besides gas
    /// ([`crate::BankConfig::max_block_units`]): an EVM transaction's blob
    /// gas. The default takes none.
    fn block_units(&self) -> u64 {
        0
    }
}

/// What running a transaction surely writes, known from the transaction
/// alone ([`Transaction::known_writes`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KnownWrites {
    /// A key its run reads and writes whatever the state: an EVM
    /// transaction's sender, whose nonce it steps. In a fixed order the
    /// transaction starts once the latest earlier one that writes this key
    /// (either way) has finished, rather than running on state that one is
    /// about to change; where the key is the coinbase's account, once every
    /// earlier one has (their fees).
    pub sequence: Option<StateKey>,
    /// An account its run likely only credits: a plain value transfer's
    /// recipient. Earlier transactions that write it do not hold it up (an
    /// executor that finds the write was a pure credit says so,
    /// [`crate::StateView::note_credit`], and a changed balance there does
    /// not undo its run); a later transaction whose sequence key it is waits
    /// for it.
    pub credit: Option<StateKey>,
    /// The nonce the `sequence` account holds when the transaction is
    /// valid: an EVM transaction's own nonce. With a `credit` (a plain
    /// transfer, which only steps that nonce and pays from that balance), a
    /// fixed order runs the transaction without waiting for the earlier
    /// ones of the same sequence: its view shows the account with this
    /// nonce ([`crate::StateView::note_debit`] tells what the run took, and
    /// it stands where the balance found at its turn covers it).
    pub nonce: Option<u64>,
}

/// What a transaction pool orders transactions by: lanes-banking-stage's
/// pool needs it, the runtime does not. An embedder that runs blocks with
/// [`crate::Bank::execute_block`] leaves it out.
pub trait PoolTransaction: Transaction {
    /// The account that signs and pays. A pool queues each sender's
    /// transactions by [`PoolTransaction::nonce`].
    fn sender(&self) -> Address;
    /// Its place in its sender's sequence. The pool orders by it; the
    /// executor, not the runtime, checks it against the sender's account.
    fn nonce(&self) -> u64;
    /// The most gas it may use: a pool packs blocks by it.
    fn gas_limit(&self) -> u64;
    /// What it pays per unit of gas beyond `base_fee` (its priority), or `None`
    /// when it cannot pay `base_fee` at all.
    fn tip_per_gas(&self, base_fee: u64) -> Option<u128>;
}

/// The block a transaction executes in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockEnv {
    /// Block number.
    pub number: u64,
    /// Unix timestamp, seconds.
    pub timestamp: u64,
    /// Receives the block's fees at seal.
    pub coinbase: Address,
    /// Base fee per gas.
    pub base_fee: u64,
    /// Gas limit of the block.
    pub gas_limit: u64,
    /// Hashes of recent blocks, newest first (`recent_hashes[0]` is the parent).
    pub recent_hashes: Vec<B256>,
    /// A per-block random value for executors that offer one (the EVM's
    /// PREVRANDAO). [`crate::Chain`] uses the parent block's hash.
    pub random: B256,
    /// The parent's header, for values an executor derives from it (the
    /// EVM's excess blob gas); `None` where the caller has none (genesis, a
    /// foreign context).
    pub parent: Option<std::sync::Arc<crate::BlockHeader>>,
}

/// An execution engine. Implementations are shared by worker threads.
pub trait Executor: Send + Sync {
    /// Its transaction type.
    type Tx: Transaction;
    /// A worker thread's state while it runs transactions on one bank (`'b`
    /// is the bank's borrow): buffers and caches an engine reuses between
    /// transactions, such as a built virtual machine. It carries no state from
    /// one transaction to the next and never moves between threads.
    type Worker<'b>
    where
        Self: 'b;

    /// Decodes a transaction from its [`Transaction::encoded`] bytes (replay).
    fn decode(&self, bytes: &[u8]) -> Result<Self::Tx, DecodeError>;

    /// A worker for transactions of the block `env`.
    fn worker<'b>(&'b self, env: &'b BlockEnv) -> Self::Worker<'b>;

    /// Runs `tx` against `state`, which refuses keys outside the transaction's
    /// set, and hands `state` back. Changes go through `state` and are kept
    /// only when the result is `Ok` and the view saw no violation.
    fn execute<'b>(
        &self,
        worker: &mut Self::Worker<'b>,
        tx: &Self::Tx,
        state: StateView<'b>,
    ) -> (Result<Outcome, TxError>, StateView<'b>);
}
