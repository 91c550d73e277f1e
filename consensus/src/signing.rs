//! Keys, addresses and the ed25519 [`Signer`]/[`Verifier`] of lanes.
//!
//! Every signed message kind has its own domain prefix, so a signature
//! over one kind never verifies as another.

use async_trait::async_trait;

use malachitebft_app_channel::app::types::core::{
    SignedMessage, SignedProposal, SignedVote, ValidatorProof, VoteExtensionScope,
};
use malachitebft_app_channel::{Signer, Verifier};
use malachitebft_signing::{Error as SigningError, VerificationResult};
pub use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};

use crate::codec::Writer;
use crate::types::{Address, LanesContext, Proposal, Vote};

const VOTE_DOMAIN: &[u8] = b"lanes/consensus/vote/v1";
const PROPOSAL_DOMAIN: &[u8] = b"lanes/consensus/proposal/v1";
const EXTENSION_DOMAIN: &[u8] = b"lanes/consensus/vote-extension/v1";

/// A fresh private key from the operating system's randomness.
pub fn generate_private_key() -> PrivateKey {
    PrivateKey::from(rand::random::<[u8; 32]>())
}

/// The 32 secret bytes of a key, as 64 lowercase hex digits.
pub fn private_key_to_hex(key: &PrivateKey) -> String {
    alloy_primitives::hex::encode(key.inner().to_bytes())
}

/// Why a hex key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not hex.
    #[error("key is not hex: {0}")]
    NotHex(String),
    /// Wrong number of bytes.
    #[error("key must be 32 bytes, got {0}")]
    WrongLength(usize),
    /// Bytes that are no ed25519 public key.
    #[error("invalid ed25519 public key: {0}")]
    InvalidPublicKey(String),
}

fn hex32(s: &str) -> Result<[u8; 32], KeyError> {
    let bytes =
        alloy_primitives::hex::decode(s.trim()).map_err(|e| KeyError::NotHex(e.to_string()))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::WrongLength(bytes.len()))
}

/// Reads a key written by [`private_key_to_hex`] (a `0x` prefix and
/// surrounding whitespace are accepted).
pub fn private_key_from_hex(s: &str) -> Result<PrivateKey, KeyError> {
    hex32(s).map(PrivateKey::from)
}

/// A public key as 64 hex digits.
pub fn public_key_to_hex(key: &PublicKey) -> String {
    alloy_primitives::hex::encode(key.as_bytes())
}

/// Reads a public key written by [`public_key_to_hex`].
pub fn public_key_from_hex(s: &str) -> Result<PublicKey, KeyError> {
    PublicKey::from_bytes(hex32(s)?).map_err(|e| KeyError::InvalidPublicKey(e.to_string()))
}

/// The address of the validator holding `public_key`.
pub fn address_of(public_key: &PublicKey) -> Address {
    Address::from_public_key(public_key)
}

/// Signs `msg` (no domain prefix added: callers choose their own).
pub fn sign(key: &PrivateKey, msg: &[u8]) -> Signature {
    key.sign(msg)
}

/// Whether `signature` is `public_key`'s signature over `msg`.
pub fn verify(public_key: &PublicKey, msg: &[u8], signature: &Signature) -> bool {
    public_key.verify(msg, signature).is_ok()
}

/// The bytes a vote's signature covers.
pub fn vote_sign_bytes(vote: &Vote) -> Vec<u8> {
    let mut w = Writer::new();
    w.raw(VOTE_DOMAIN);
    vote.put_unsigned(&mut w);
    w.0
}

/// The bytes a proposal's signature covers.
pub fn proposal_sign_bytes(proposal: &Proposal) -> Vec<u8> {
    let mut out = PROPOSAL_DOMAIN.to_vec();
    out.extend_from_slice(&proposal.sign_bytes());
    out
}

fn extension_sign_bytes(scope: &VoteExtensionScope<LanesContext>) -> Vec<u8> {
    let mut w = Writer::new();
    w.raw(EXTENSION_DOMAIN);
    w.height(scope.height);
    w.round(scope.round);
    w.raw(scope.value_id.as_slice());
    w.address(&scope.validator_address);
    w.0
}

/// The signer of a validator: signs votes, proposals, (empty) vote
/// extensions and the validator proof with its ed25519 key.
#[derive(Clone, Debug)]
pub struct LanesSigner {
    key: PrivateKey,
}

impl LanesSigner {
    /// A signer holding `key`.
    pub fn new(key: PrivateKey) -> Self {
        Self { key }
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The validator address.
    pub fn address(&self) -> Address {
        address_of(&self.key.public_key())
    }
}

#[async_trait]
impl Signer<LanesContext> for LanesSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedVote<LanesContext>, SigningError> {
        let signature = self.key.sign(&vote_sign_bytes(&vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedProposal<LanesContext>, SigningError> {
        let signature = self.key.sign(&proposal_sign_bytes(&proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<LanesContext>,
        extension: (),
    ) -> Result<SignedMessage<LanesContext, ()>, SigningError> {
        let signature = self.key.sign(&extension_sign_bytes(&scope));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<LanesContext>, SigningError> {
        let signature =
            self.key.sign(&ValidatorProof::<LanesContext>::signing_bytes(&public_key, &peer_id));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// The stateless verifier of lanes (all nodes).
#[derive(Copy, Clone, Debug, Default)]
pub struct LanesVerifier;

#[async_trait]
impl Verifier<LanesContext> for LanesVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(VerificationResult::from_bool(verify(public_key, &vote_sign_bytes(vote), signature)))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(VerificationResult::from_bool(verify(
            public_key,
            &proposal_sign_bytes(proposal),
            signature,
        )))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<LanesContext>,
        _extension: &(),
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(VerificationResult::from_bool(verify(
            public_key,
            &extension_sign_bytes(scope),
            signature,
        )))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<LanesContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(bytes) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        let Ok(public_key) = PublicKey::from_bytes(bytes) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(VerificationResult::from_bool(verify(&public_key, &proof.preimage(), &proof.signature)))
    }
}
