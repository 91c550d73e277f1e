//! Malachite (Tendermint in Rust) for lanes: the consensus context, the
//! wire codec, validator keys and engine start-up.
//!
//! A node starts the engine with [`start_engine`] and then serves the
//! [`AppMsg`]s arriving on `channels.consensus` with an [`AppDriver`] over
//! its [`Application`]: the driver holds the message loop, the app builds,
//! checks and commits values. `tests/common/mod.rs` holds a minimal
//! application.
//!
//! ## Layers
//!
//! Each module uses only those on its line or below (a test in
//! `tests/it/layout.rs` keeps it so):
//!
//! ```text
//!  app, engine               the application driver; the engine's start
//!  codec, streaming, rotation LanesCodec; proposals as signed parts; who proposes
//!  signing, codec/certificates
//!  codec/wire                the wire's primitives and limits
//!  types                     the consensus context
//! ```

#![forbid(unsafe_code)]

mod app;
pub mod codec;
pub mod engine;
pub mod rotation;
pub mod signing;
pub mod streaming;
pub mod types;

pub use app::{AppDriver, Application, NextHeight};
/// The attribute [`Application`] impls take.
pub use async_trait::async_trait;
/// The buffer values travel in (an [`Application`]'s encoded blocks).
pub use bytes::Bytes;
pub use codec::{
    CodecError, LanesCodec, MAX_ID_BYTES, MAX_PART_BYTES, MAX_SIGNATURES, MAX_SYNC_RANGE,
    MAX_SYNC_VALUES, MAX_VALUE_BYTES,
};
pub use engine::{
    EngineSettings, Role, StartError, Timeouts, height_params, peer_id_of, start_engine,
};
/// The codec traits [`LanesCodec`] implements.
pub use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
pub use rotation::{MAX_PASS_OVER_HEIGHTS, PASS_OVER_HEIGHTS, ROTATION_EPOCH, Rotation};
pub use signing::{
    KeyError, LanesSigner, LanesVerifier, PrivateKey, PublicKey, Signature, address_of,
    generate_private_key, private_key_from_hex, private_key_to_hex, public_key_from_hex,
    public_key_to_hex, sign, verify,
};
pub use streaming::{
    AssembledProposal, PartsBuffer, PartsError, PartsLimits, proposal_digest, proposal_parts,
    stream_id_for, stream_messages,
};
pub use types::{
    Address, Height, LanesContext, Proposal, ProposalInit, ProposalPart, Validator, ValidatorSet,
    Value, ValueId, Vote,
};

/// The whole Malachite channel crate, for anything not re-exported here.
pub use malachitebft_app_channel as malachite;
/// Malachite's role of this node in a round (in `AppMsg::StartedRound`).
pub use malachitebft_app_channel::app::consensus::Role as ConsensusRole;
pub use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
pub use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
pub use malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, Height as HeightTrait,
    LinearTimeouts, NilOrVal, Round, Validity, VoteExtensions,
};
pub use malachitebft_app_channel::app::types::sync::RawDecidedValue;
pub use malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId, ProposedValue};
/// The Malachite channel API the node talks to.
pub use malachitebft_app_channel::{
    AppMsg, Channels, ConsensusMsg, ConsensusRequest, EngineHandle, NetworkMsg, NetworkRequest,
    Reply,
};

/// The sync protocol's wire types (encoded by [`LanesCodec`]).
pub mod sync {
    pub use malachitebft_sync::{
        RawDecidedValue, Request, Response, Status, ValueRequest, ValueResponse,
    };
}
