//! A minimal lanes-consensus application loop, used by the loopback tests
//! and written to be read: it answers every `AppMsg` the engine sends.
//! "Blocks" are random bytes; a block's id is keccak256 of its bytes.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{B256, keccak256};
use bytes::Bytes;
use tokio::sync::mpsc;

use lanes_consensus::{
    Address, AppMsg, Channels, CommitCertificate, ExtendedCommitCertificate, Height, HeightParams,
    LanesContext, LocallyProposedValue, NetworkMsg, Next, PartsBuffer, PrivateKey, ProposedValue,
    RawDecidedValue, Round, SyncedValueOutcome, ValidatorSet, Validity, Value, VoteExtensions,
    proposal_parts, stream_id_for, stream_messages,
};

/// What the loop reports for each decided height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecidedEvent {
    pub moniker: String,
    pub height: u64,
    pub value_id: B256,
}

/// The state of one node's app.
pub struct App {
    pub moniker: String,
    pub key: PrivateKey,
    pub address: Address,
    pub validators: ValidatorSet,
    pub params: HeightParams<LanesContext>,
    /// Size of the random blocks this node proposes.
    pub block_size: usize,
    /// Reassembles proposal streams from peers.
    pub parts: PartsBuffer,
    /// Block bytes by id: built, received or synced, not yet pruned.
    pub blocks: HashMap<B256, Bytes>,
    /// Proposed values seen per (height, round), for `StartedRound`.
    pub seen: HashMap<(u64, u32), Vec<ProposedValue<LanesContext>>>,
    /// The value this node built per (height, round), for a repeated `GetValue`.
    pub built: HashMap<(u64, u32), B256>,
    /// Decided blocks with their certificates.
    pub decided: BTreeMap<u64, (CommitCertificate<LanesContext>, Bytes)>,
    pub events: mpsc::UnboundedSender<DecidedEvent>,
}

fn round_key(round: Round) -> u32 {
    round.as_u32().unwrap_or(u32::MAX)
}

impl App {
    fn remember(&mut self, value: ProposedValue<LanesContext>) {
        let list = self.seen.entry((value.height.0, round_key(value.round))).or_default();
        if !list.contains(&value) {
            list.push(value);
        }
    }

    /// Serves the engine until its channel closes.
    pub async fn run(mut self, mut channels: Channels<LanesContext>) {
        while let Some(msg) = channels.consensus.recv().await {
            if let Err(e) = self.handle(msg, &channels).await {
                tracing::error!(moniker = %self.moniker, "app error: {e}");
            }
        }
    }

    async fn handle(
        &mut self,
        msg: AppMsg<LanesContext>,
        channels: &Channels<LanesContext>,
    ) -> Result<(), String> {
        match msg {
            // Engine is up: say where to start (after the last decided height).
            AppMsg::ConsensusReady { reply } => {
                let next = self.decided.keys().next_back().map_or(1, |h| h + 1);
                let _ = reply.send((Height(next), self.params.clone()));
            }

            // A round began. Reply at once with the values already seen for
            // it (after a restart the engine needs them again); usually none.
            AppMsg::StartedRound { height, round, reply_value, .. } => {
                let seen =
                    self.seen.get(&(height.0, round_key(round))).cloned().unwrap_or_default();
                let _ = reply_value.send(seen);
            }

            // We propose: reply the value (the same one if asked again for
            // this height and round), then stream its parts to the peers.
            AppMsg::GetValue { height, round, reply, .. } => {
                let id = match self.built.get(&(height.0, round_key(round))) {
                    Some(id) => *id,
                    None => {
                        let bytes: Vec<u8> = (0..self.block_size).map(|_| rand::random()).collect();
                        let id = keccak256(&bytes);
                        self.blocks.insert(id, Bytes::from(bytes));
                        self.built.insert((height.0, round_key(round)), id);
                        id
                    }
                };
                let _ = reply.send(LocallyProposedValue::new(height, round, Value::new(id)));
                self.publish(channels, height, round, Round::Nil, id).await?;
            }

            // A part from a peer: assemble; once complete and signed by the
            // proposer, hand the value to consensus.
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let publisher = published_by.unwrap_or(from);
                let value = match self.parts.insert(publisher, part, &self.validators) {
                    Ok(Some(p)) => {
                        let id = keccak256(&p.bytes);
                        self.blocks.insert(id, Bytes::from(p.bytes));
                        let value = ProposedValue {
                            height: p.height,
                            round: p.round,
                            valid_round: p.valid_round,
                            proposer: p.proposer,
                            value: Value::new(id),
                            // A real node executes the block here.
                            validity: Validity::Valid,
                        };
                        self.remember(value.clone());
                        Some(value)
                    }
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(moniker = %self.moniker, "refused proposal part: {e}");
                        None
                    }
                };
                let _ = reply.send(value);
            }

            // Re-publish a value we hold. Only our own proposals can be
            // re-signed by us, so others are skipped.
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                if address == self.address && self.blocks.contains_key(&value_id) {
                    self.publish(channels, height, round, valid_round, value_id).await?;
                }
            }

            // No vote extensions in lanes.
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }

            // Decided: commit the block (the sync of peers sees it after we reply).
            AppMsg::Decided { certificate, reply, .. } => {
                let height = certificate.height.0;
                let value_id = certificate.value_id;
                match self.blocks.get(&value_id) {
                    Some(bytes) => {
                        self.decided.insert(height, (certificate, bytes.clone()));
                    }
                    None => return Err(format!("decided unknown value {value_id}")),
                }
                let _ = self.events.send(DecidedEvent {
                    moniker: self.moniker.clone(),
                    height,
                    value_id,
                });
                let _ = reply.send(());
            }

            // Finalized: prune, then start the next height.
            AppMsg::Finalized { certificate, reply, .. } => {
                let next = Height(certificate.height.0 + 1);
                self.parts.prune_below(next);
                self.seen.retain(|(h, _), _| *h >= next.0);
                self.built.retain(|(h, _), _| *h >= next.0);
                let _ = reply.send(Next::Start(next, self.params.clone()));
            }

            // A peer syncs from us: serve stored blocks with certificates.
            AppMsg::GetDecidedValues { range, reply } => {
                let values = self
                    .decided
                    .range(range.start().0..=range.end().0)
                    .map(|(_, (cert, bytes))| {
                        RawDecidedValue::new(
                            bytes.clone(),
                            ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                                cert.clone(),
                                VoteExtensions::default(),
                            ),
                        )
                    })
                    .collect();
                let _ = reply.send(values);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let min = self.decided.keys().next().copied().unwrap_or(0);
                let _ = reply.send(Height(min));
            }

            // We sync from a peer: decode the block and give its value back;
            // `Decided` follows once consensus checked the certificate.
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let id = keccak256(&value_bytes);
                self.blocks.insert(id, value_bytes);
                let _ = reply.send(SyncedValueOutcome::Verdict(ProposedValue {
                    height,
                    round,
                    valid_round: Round::Nil,
                    proposer,
                    value: Value::new(id),
                    validity: Validity::Valid,
                }));
            }
        }
        Ok(())
    }

    async fn publish(
        &self,
        channels: &Channels<LanesContext>,
        height: Height,
        round: Round,
        valid_round: Round,
        id: B256,
    ) -> Result<(), String> {
        let Some(bytes) = self.blocks.get(&id) else {
            return Ok(());
        };
        let parts = proposal_parts(height, round, valid_round, self.address, bytes, &self.key);
        for msg in stream_messages(stream_id_for(height, round), parts) {
            channels
                .network
                .send(NetworkMsg::PublishProposalPart(msg))
                .await
                .map_err(|e| format!("network channel closed: {e}"))?;
        }
        Ok(())
    }
}
