//! What moves the scheduler's head besides the blocks it builds: another
//! node's block verified and imported, and a revert to an earlier block.
//! Both run between blocks.

use alloy_primitives::B256;
use crossbeam_channel::Sender;
use lanes_accounts_db::AccountsRead;
use lanes_runtime::{Block, BlockHeader, Executor, PoolTransaction, ReplayError, SealedBlock};

use super::Scheduler;
use crate::control::Reverted;
use crate::error::StageError;

impl<E: Executor<Tx: PoolTransaction> + 'static> Scheduler<E> {
    /// Takes the chain back to the block `header` heads, with the block
    /// clock at `offset`, and empties the pool; the hashes it held. Refused,
    /// changing nothing, while a transaction is on its way into the pool or
    /// waits in the window.
    pub(super) fn revert(
        &mut self,
        header: BlockHeader,
        older: Vec<B256>,
        offset: i64,
    ) -> Reverted {
        if self.window.has_candidates() || self.shared.pool().predicting() > 0 {
            return Err(StageError::RevertBusy);
        }
        self.driver.revert(header, older, offset)?;
        self.verified = None;
        Ok(self.shared.pool().empty())
    }

    /// Re-executes another node's `block` on the head; keeps the result for
    /// an import of it.
    pub(super) fn verify(&mut self, block: Block) -> Result<(), Box<ReplayError>> {
        if self.verified.as_ref().is_some_and(|v| v.block == block) {
            return Ok(());
        }
        let sealed = self.reexecute(&block)?;
        self.verified = Some(sealed);
        Ok(())
    }

    /// Re-executes another node's `block` on the head, its transactions
    /// taken as admission decoded them where this pool took them in.
    fn reexecute(&self, block: &Block) -> Result<SealedBlock, Box<ReplayError>> {
        let executor = &*self.executor;
        let decoded = self.shared.decoded.as_ref();
        let decode = |raw: &alloy_primitives::Bytes| {
            let known = decoded.and_then(|c| c.lock().get(raw));
            known.map_or_else(|| executor.decode(raw), Ok)
        };
        self.driver.chain().reexecute_with(executor, block, self.workers, &decode)
    }

    /// Commits another node's `block` (nothing is held or being built) and
    /// answers `reply`; the pool learns its nonces. A block that does not
    /// check is refused and changes nothing.
    pub(super) fn import(
        &mut self,
        block: &Block,
        reply: &Sender<Result<u64, Box<ReplayError>>>,
    ) -> Result<(), StageError> {
        let sealed = match self.verified.take() {
            Some(sealed) if sealed.block == *block => sealed,
            _ => match self.reexecute(block) {
                Ok(sealed) => sealed,
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
            },
        };
        let number = sealed.block.header.number;
        // What the scheduler took from the pool goes back before nonces move.
        let held: Vec<_> = self.window.drain().collect();
        self.shared.pool().requeue(held);
        let built = self.driver.seal_imported(sealed);
        let produced = self.driver.commit(built)?;
        let view = self.driver.chain().db().view();
        // A read failure counts as nonce 0: execution checks again.
        self.shared
            .pool()
            .learn_nonces(|sender| view.get_account(sender).ok().flatten().map_or(0, |a| a.nonce));
        self.driver.publish(produced);
        let _ = reply.send(Ok(number));
        Ok(())
    }
}
