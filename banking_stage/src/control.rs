//! Requests to the scheduler thread ([`Control`]), and the [`Decision`] on a
//! block the stage holds.

use std::time::Duration;

use alloy_primitives::B256;
use crossbeam_channel::Sender;
use lanes_accounts_db::{Entry, ReadView};
use lanes_runtime::{BankError, Block, BlockHeader, ReplayError};

use crate::config::Mining;
use crate::error::StageError;

/// What [`crate::BankingStage::apply_system`] writes, made from the state
/// its block opens on.
pub type SystemWrites = Box<dyn FnOnce(&ReadView) -> Result<Vec<Entry>, BankError> + Send>;

/// What to do with a block the stage holds
/// ([`crate::BankingStageBuilder::hold_blocks`]), named by its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Commit it (then it is published on [`crate::BankingStage::blocks`]).
    Commit(B256),
    /// Drop it: its transactions go back to the pool, and the next block is
    /// built on the same head.
    Discard(B256),
}

/// A request to the scheduler thread.
pub(crate) enum Control {
    /// Seal blocks this way from the next block on (with this block time);
    /// answer once taken in.
    SetMining(Mining, Option<Duration>, Sender<()>),
    /// Seal `blocks` blocks now, empty or not, the first stamped `first`
    /// and the rest `interval` seconds apart, then answer with the last
    /// one's number.
    Mine { blocks: u64, first: Option<u64>, interval: Option<u64>, reply: Sender<u64> },
    /// Seal a block now that holds only the system writes these make from
    /// the state it opens on (no transaction), then answer with its number.
    System { writes: SystemWrites, reply: Sender<Result<u64, BankError>> },
    /// Re-execute another node's block on the head, without committing it,
    /// and answer whether it checks.
    Verify { block: Box<Block>, reply: Sender<Result<(), Box<ReplayError>>> },
    /// Commit another node's block (a decided one), re-executed on the
    /// head unless just verified; a held block is dropped first.
    Import { block: Box<Block>, reply: Sender<Result<u64, Box<ReplayError>>> },
    /// Between blocks, take the chain back to the block `header` heads
    /// (`older`: the hashes before it), set the block clock's offset, empty
    /// the pool, and answer with the hashes it held.
    Revert { header: Box<BlockHeader>, older: Vec<B256>, offset: i64, reply: Sender<Reverted> },
}

/// [`Control::Revert`]'s answer: the hashes the pool held, or why nothing
/// changed.
pub(crate) type Reverted = Result<Vec<B256>, StageError>;
