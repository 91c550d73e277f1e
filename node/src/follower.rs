//! The follower thread: a banking stage's produced blocks fed to the
//! subscriptions, and a stage's failure reported as the node's.

use std::sync::Arc;

use crossbeam_channel::Receiver;
use lanes_banking_stage::{Failure, ProducedBlock};

use crate::error::NodeError;
use crate::filters;
use crate::ledger::LedgerBlock;
use crate::state::NodeState;

/// Starts the thread that publishes a stage's `blocks`.
pub(crate) fn spawn_follower(
    state: &Arc<NodeState>,
    blocks: Receiver<ProducedBlock>,
    failure: Failure,
) -> Result<(), NodeError> {
    let handle = {
        let state = state.clone();
        std::thread::Builder::new()
            .name("lanes-follower".into())
            .spawn(move || {
                follow(&state, &blocks);
                // The stage's blocks end when it stops: on a shutdown, or on
                // a failure that [`Node::failed`] reports.
                if let Some(reason) = failure.get() {
                    state.fatal.send_replace(Some(reason.to_owned()));
                }
            })
            .map_err(|source| NodeError::Io { what: "spawning a thread".into(), source })?
    };
    *state.follower.lock() = Some(handle);
    Ok(())
}

/// Feeds each produced block to the subscriptions; [`PublishingSink`]
/// served it on the stage's thread as it was committed.
fn follow(state: &NodeState, blocks: &Receiver<ProducedBlock>) {
    for produced in blocks.iter() {
        let (block, receipts) = (produced.block, produced.receipts);
        let block = LedgerBlock { block, receipts, access_list: None };
        let _ = state.heads.send(filters::ChainEvent::Head(Arc::new(block)));
    }
}
