//! A minimal lanes-consensus application, used by the loopback tests and
//! written to be read: [`AppDriver`](lanes_consensus::AppDriver) answers the
//! engine, this app says what each answer holds. "Blocks" are random bytes;
//! a block's id is keccak256 of its bytes.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use alloy_primitives::{B256, keccak256};
use bytes::Bytes;
use tokio::sync::mpsc;

use lanes_consensus::{
    Address, Application, AssembledProposal, CommitCertificate, Height, LanesContext, NextHeight,
    Round, Validity, ValueId, async_trait,
};

/// What the app reports for each decided height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecidedEvent {
    pub moniker: String,
    pub height: u64,
    pub value_id: B256,
}

/// The state of one node's app.
pub struct App {
    pub moniker: String,
    /// Size of the random blocks this node proposes.
    pub block_size: usize,
    /// Block bytes by id: built, received or synced.
    pub blocks: HashMap<B256, Bytes>,
    /// Decided blocks with their certificates.
    pub decided: BTreeMap<u64, (CommitCertificate<LanesContext>, Bytes)>,
    pub events: mpsc::UnboundedSender<DecidedEvent>,
}

impl App {
    /// Keeps `bytes` by their id.
    fn keep(&mut self, bytes: Bytes) -> B256 {
        let id = keccak256(&bytes);
        self.blocks.insert(id, bytes);
        id
    }
}

#[async_trait]
impl Application for App {
    type Error = String;

    // After the last decided height.
    fn next_height(&self) -> Height {
        Height(self.decided.keys().next_back().map_or(1, |h| h + 1))
    }

    // A new random block.
    async fn build(
        &mut self,
        _height: Height,
        _round: Round,
        _timeout: Duration,
    ) -> Result<(ValueId, Bytes), String> {
        let bytes: Vec<u8> = (0..self.block_size).map(|_| rand::random()).collect();
        let bytes = Bytes::from(bytes);
        Ok((self.keep(bytes.clone()), bytes))
    }

    // A real node executes the block here.
    async fn check(&mut self, proposal: AssembledProposal) -> Option<(ValueId, Validity)> {
        Some((self.keep(Bytes::from(proposal.bytes)), Validity::Valid))
    }

    fn value_bytes(&self, id: &ValueId) -> Result<Option<Bytes>, String> {
        Ok(self.blocks.get(id).cloned())
    }

    // Commit: store the block with its certificate, and report it.
    async fn decided(
        &mut self,
        certificate: &CommitCertificate<LanesContext>,
    ) -> Result<(), String> {
        let height = certificate.height.0;
        let value_id = certificate.value_id;
        match self.blocks.get(&value_id) {
            Some(bytes) => {
                self.decided.insert(height, (certificate.clone(), bytes.clone()));
            }
            None => return Err(format!("decided unknown value {value_id}")),
        }
        let _ = self.events.send(DecidedEvent { moniker: self.moniker.clone(), height, value_id });
        Ok(())
    }

    fn finalized(&mut self, certificate: &CommitCertificate<LanesContext>) -> NextHeight {
        NextHeight::Start(Height(certificate.height.0 + 1))
    }

    fn decided_value(&self, height: Height) -> Option<(CommitCertificate<LanesContext>, Bytes)> {
        self.decided.get(&height.0).cloned()
    }

    fn history_min_height(&self) -> Height {
        Height(self.decided.keys().next().copied().unwrap_or(0))
    }

    async fn process_synced_value(
        &mut self,
        _height: Height,
        _proposer: Address,
        bytes: Bytes,
    ) -> Option<(ValueId, Validity)> {
        Some((self.keep(bytes), Validity::Valid))
    }
}
