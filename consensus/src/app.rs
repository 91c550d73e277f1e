//! The app side of Malachite's channel, written once. [`AppDriver`] answers
//! every [`AppMsg`] the engine sends and keeps the bookkeeping all apps need:
//! proposal streams being reassembled, the values received per round, this
//! node's own proposal per round. An [`Application`] supplies what differs
//! between apps: where its chain is, and how a value is built, checked,
//! committed, served to a syncing peer and taken from one.
//!
//! ```text
//!  Malachite engine --AppMsg--> AppDriver --next_height/build/check/decided/...--> Application
//!     ^     |   seen, built: per (height, round)
//!     |     |   parts: PartsBuffer (peers' proposal streams)
//!     +-----+   publish: proposal_parts -> stream_messages -> NetworkMsg
//! ```
//!
//! Values are identified by a [`ValueId`] and travel as bytes, the app's
//! encoding of its block. The app keeps the values it built, accepted or
//! synced until they are decided or pruned.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, Round, Validity, VoteExtensions,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use malachitebft_signing_ed25519::PrivateKey;

use crate::streaming::{
    AssembledProposal, PartsBuffer, proposal_parts, stream_id_for, stream_messages,
};
use crate::types::{Address, Height, LanesContext, ValidatorSet, Value, ValueId};

/// What an app decides for itself; [`AppDriver`] does the rest.
///
/// Implement it with `#[async_trait]` (re-exported as
/// [`async_trait`](crate::async_trait)).
#[async_trait]
pub trait Application: Send {
    /// Why a call failed. The driver logs it (target `lanes::consensus`)
    /// and serves the next message.
    type Error: std::fmt::Display + Send;

    /// The height to decide next: one past the last one committed here.
    fn next_height(&self) -> Height;

    /// Builds and keeps this node's proposal for `height` in `round`,
    /// within `timeout`; returns its id and bytes. The driver asks once per
    /// round and streams the bytes to the peers.
    async fn build(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> Result<(ValueId, Bytes), Self::Error>;

    /// Checks a proposal assembled from a peer's parts (its proposer's
    /// signature already checked) and keeps it if it is valid. `None` gives
    /// consensus no value (say, undecodable bytes or another height).
    async fn check(&mut self, proposal: AssembledProposal) -> Option<(ValueId, Validity)>;

    /// The bytes of value `id`, if this app keeps it (to stream it again).
    fn value_bytes(&self, id: &ValueId) -> Result<Option<Bytes>, Self::Error>;

    /// Commits the value `certificate` decided (consensus is told it is done
    /// either way).
    async fn decided(
        &mut self,
        certificate: &CommitCertificate<LanesContext>,
    ) -> Result<(), Self::Error>;

    /// `certificate`'s height is finalized: prunes what the app keeps for
    /// heights done, and says which height consensus goes on with.
    fn finalized(&mut self, certificate: &CommitCertificate<LanesContext>) -> NextHeight;

    /// Decided value `height` (bytes) with its certificate, for a peer's
    /// sync; `None` if it is not kept here.
    fn decided_value(&self, height: Height) -> Option<(CommitCertificate<LanesContext>, Bytes)>;

    /// The lowest height [`Application::decided_value`] serves.
    fn history_min_height(&self) -> Height;

    /// The validators passed over as proposers at `height`
    /// ([`crate::Rotation`]): the same on every node, from the committed
    /// chain alone. None by default.
    fn passed_over(&mut self, height: Height) -> Vec<Address> {
        let _ = height;
        Vec::new()
    }

    /// A value proposed by `proposer` for `height`, synced from a peer:
    /// checks and keeps it (`Decided` follows once consensus checked its
    /// certificate). `None` marks the peer faulty (undecodable bytes).
    async fn process_synced_value(
        &mut self,
        height: Height,
        proposer: Address,
        bytes: Bytes,
    ) -> Option<(ValueId, Validity)>;
}

/// Where consensus goes on after a finalized height
/// ([`Application::finalized`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NextHeight {
    /// Start this height: the finalized one is committed.
    Start(Height),
    /// Restart this height: the finalized one is not committed here.
    Restart(Height),
}

impl NextHeight {
    /// The height consensus goes on with.
    pub fn height(self) -> Height {
        match self {
            Self::Start(h) | Self::Restart(h) => h,
        }
    }
}

/// Why the driver could not answer a message (logged; the loop goes on).
#[derive(Debug, thiserror::Error)]
enum DriverError<E> {
    /// The application failed.
    #[error("{0}")]
    App(E),
    /// The engine's network channel is closed (the engine stopped).
    #[error("network channel closed")]
    NetworkClosed,
}

/// Values seen and built are kept per (height, round).
type RoundKey = (u64, u32);

fn round_key(height: Height, round: Round) -> RoundKey {
    (height.0, round.as_u32().unwrap_or(u32::MAX))
}

/// Serves a Malachite engine for an [`Application`]: one loop over the
/// engine's messages ([`AppDriver::run`]).
pub struct AppDriver<A: Application> {
    app: A,
    /// This node's name, in logs.
    name: String,
    /// Signs this node's proposal parts.
    key: PrivateKey,
    address: Address,
    validators: ValidatorSet,
    params: HeightParams<LanesContext>,
    /// Reassembles the peers' proposal streams.
    parts: PartsBuffer,
    /// Values received per (height, round), for `StartedRound` after a restart.
    seen: HashMap<RoundKey, Vec<ProposedValue<LanesContext>>>,
    /// This node's proposal per (height, round), for a repeated `GetValue`.
    built: HashMap<RoundKey, (ValueId, Bytes)>,
}

impl<A: Application> AppDriver<A> {
    /// A driver for `app` on the node `name` (in logs) with validator key
    /// `key`, checking proposals against `validators` and starting heights
    /// with `params`.
    pub fn new(
        app: A,
        name: impl Into<String>,
        key: PrivateKey,
        validators: ValidatorSet,
        params: HeightParams<LanesContext>,
    ) -> Self {
        Self {
            app,
            name: name.into(),
            address: Address::from_public_key(&key.public_key()),
            key,
            validators,
            params,
            parts: PartsBuffer::default(),
            seen: HashMap::new(),
            built: HashMap::new(),
        }
    }

    /// The parameters of `height`: the validators, with those the app passes
    /// over as proposers there.
    fn params_at(&mut self, height: Height) -> HeightParams<LanesContext> {
        let mut params = self.params.clone();
        let passed = self.app.passed_over(height);
        if !passed.is_empty() {
            tracing::info!(target: "lanes::consensus", height = height.0, passed_over = ?passed, "proposers passed over: they missed their recent turns");
        }
        params.validator_set = params.validator_set.passing_over(passed);
        params
    }

    /// Answers the engine until its channel closes.
    pub async fn run(mut self, mut channels: Channels<LanesContext>) {
        while let Some(msg) = channels.consensus.recv().await {
            if let Err(e) = self.handle(msg, &channels).await {
                tracing::error!(target: "lanes::consensus", name = %self.name, "{e}");
            }
        }
        tracing::info!(target: "lanes::consensus", name = %self.name, "consensus engine stopped");
    }

    async fn handle(
        &mut self,
        msg: AppMsg<LanesContext>,
        channels: &Channels<LanesContext>,
    ) -> Result<(), DriverError<A::Error>> {
        match msg {
            // The engine is up: it starts at the app's next height.
            AppMsg::ConsensusReady { reply } => {
                let next = self.app.next_height();
                tracing::info!(target: "lanes::consensus", height = next.0, "consensus ready");
                let _ = reply.send((next, self.params_at(next)));
            }

            // A round began: reply at once with the values already seen for
            // it (after a restart the engine needs them again); usually none.
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                tracing::info!(target: "lanes::consensus", height = height.0, round = %round, %proposer, ?role, "round started");
                let seen = self.seen.get(&round_key(height, round)).cloned().unwrap_or_default();
                let _ = reply_value.send(seen);
            }

            // We propose: reply the value (the same one if asked again for
            // this height and round), then stream its parts to the peers.
            AppMsg::GetValue { height, round, timeout, reply } => {
                let key = round_key(height, round);
                let (id, bytes) = match self.built.get(&key) {
                    Some(built) => built.clone(),
                    None => {
                        let built = self
                            .app
                            .build(height, round, timeout)
                            .await
                            .map_err(DriverError::App)?;
                        self.built.insert(key, built.clone());
                        built
                    }
                };
                let _ = reply.send(LocallyProposedValue::new(height, round, Value::new(id)));
                self.publish(channels, height, round, Round::Nil, &bytes).await?;
            }

            // A part from a peer: assemble; once complete and signed by the
            // proposer, the app checks it and consensus gets the value.
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let publisher = published_by.unwrap_or(from);
                let assembled = match self.parts.insert(publisher, part, &self.validators) {
                    Ok(assembled) => assembled,
                    Err(e) => {
                        tracing::warn!(target: "lanes::consensus", %from, "proposal part refused: {e}");
                        None
                    }
                };
                let mut value = None;
                if let Some(p) = assembled {
                    let (height, round, valid_round, proposer) =
                        (p.height, p.round, p.valid_round, p.proposer);
                    value = self.app.check(p).await.map(|(id, validity)| ProposedValue {
                        height,
                        round,
                        valid_round,
                        proposer,
                        value: Value::new(id),
                        validity,
                    });
                }
                if let Some(v) = &value {
                    let list = self.seen.entry(round_key(v.height, v.round)).or_default();
                    if !list.contains(v) {
                        list.push(v.clone());
                    }
                }
                let _ = reply.send(value);
            }

            // Publish a value again. Only proposals by this node can be
            // signed by it, so others are skipped.
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                if address == self.address
                    && let Some(bytes) =
                        self.app.value_bytes(&value_id).map_err(DriverError::App)?
                {
                    self.publish(channels, height, round, valid_round, &bytes).await?;
                }
            }

            // No vote extensions in lanes.
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }

            // Decided: the app commits (peers' sync sees it after the reply).
            AppMsg::Decided { certificate, reply, .. } => {
                let result = self.app.decided(&certificate).await;
                let _ = reply.send(());
                result.map_err(DriverError::App)?;
            }

            // Finalized: prune, then start the height the app names.
            AppMsg::Finalized { certificate, reply, .. } => {
                let answer = self.app.finalized(&certificate);
                let next = answer.height();
                self.parts.prune_below(next);
                self.seen.retain(|(h, _), _| *h >= next.0);
                self.built.retain(|(h, _), _| *h >= next.0);
                let answer = match answer {
                    NextHeight::Start(next) => Next::Start(next, self.params_at(next)),
                    NextHeight::Restart(next) => {
                        tracing::warn!(target: "lanes::consensus", height = certificate.height.0, "decided block not committed; restarting the height");
                        Next::Restart(next, self.params_at(next))
                    }
                };
                let _ = reply.send(answer);
            }

            // A peer syncs from us: decided values with their certificates,
            // up to the last height committed here.
            AppMsg::GetDecidedValues { range, reply } => {
                let last = self.app.next_height().0.saturating_sub(1);
                let values = (range.start().0..=range.end().0.min(last))
                    .map_while(|h| self.app.decided_value(Height(h)))
                    .map(|(certificate, bytes)| {
                        RawDecidedValue::new(
                            bytes,
                            ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                                certificate,
                                VoteExtensions::default(),
                            ),
                        )
                    })
                    .collect();
                let _ = reply.send(values);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(self.app.history_min_height());
            }

            // We sync from a peer: the app checks and keeps the value;
            // `Decided` follows once consensus checked the certificate.
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let outcome =
                    match self.app.process_synced_value(height, proposer, value_bytes).await {
                        None => SyncedValueOutcome::PeerFault,
                        Some((id, validity)) => SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value: Value::new(id),
                            validity,
                        }),
                    };
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    /// Streams `bytes`, signed by this node, as the proposal of
    /// `(height, round)`.
    async fn publish(
        &self,
        channels: &Channels<LanesContext>,
        height: Height,
        round: Round,
        valid_round: Round,
        bytes: &[u8],
    ) -> Result<(), DriverError<A::Error>> {
        let parts = proposal_parts(height, round, valid_round, self.address, bytes, &self.key);
        for msg in stream_messages(stream_id_for(height, round), parts) {
            channels
                .network
                .send(NetworkMsg::PublishProposalPart(msg))
                .await
                .map_err(|_| DriverError::NetworkClosed)?;
        }
        Ok(())
    }
}
