//! The consensus data types: heights, addresses, validators, values,
//! proposals, votes and proposal parts, and the [`LanesContext`] tying them
//! together for Malachite.

use core::fmt;

use alloy_primitives::{B256, keccak256};
use bytes::Bytes;

use malachitebft_app_channel::app::types::core::{
    self as mcore, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use malachitebft_signing_ed25519::{Ed25519, PublicKey, Signature};

/// The identifier of a proposed value: the block hash.
pub type ValueId = B256;

/// A block height. Height 0 is the genesis (never decided by consensus);
/// consensus starts at height 1.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl Height {
    /// The height as a plain number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl mcore::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator address: the last 20 bytes of keccak256 of its 32-byte
/// ed25519 public key. It doubles as the validator's Ethereum coinbase.
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of the validator holding `public_key`.
    pub fn from_public_key(public_key: &PublicKey) -> Self {
        let hash = keccak256(public_key.as_bytes());
        let mut out = [0u8; 20];
        out.copy_from_slice(&hash[12..]);
        Address(out)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl mcore::Address for Address {}

impl From<Address> for alloy_primitives::Address {
    fn from(a: Address) -> Self {
        alloy_primitives::Address::from(a.0)
    }
}

impl From<alloy_primitives::Address> for Address {
    fn from(a: alloy_primitives::Address) -> Self {
        Address(a.into_array())
    }
}

/// A validator: its address, ed25519 public key and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// `address_of(public_key)`.
    pub address: Address,
    /// The validator's consensus key.
    pub public_key: PublicKey,
    /// Its weight in votes.
    pub voting_power: VotingPower,
}

impl Validator {
    /// A validator whose address is derived from `public_key`.
    pub fn new(public_key: PublicKey, voting_power: VotingPower) -> Self {
        Self { address: Address::from_public_key(&public_key), public_key, voting_power }
    }
}

impl mcore::Validator<LanesContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validator set, sorted by address (one entry per address), and the
/// validators passed over as proposers at the height it is given for
/// ([`crate::Rotation`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    passed_over: Vec<Address>,
}

impl ValidatorSet {
    /// Builds a set: sorts by address and keeps the first entry of any
    /// duplicated address.
    pub fn new(mut validators: Vec<Validator>) -> Self {
        validators.sort_by_key(|v| v.address);
        validators.dedup_by_key(|v| v.address);
        Self { validators, passed_over: Vec::new() }
    }

    /// The set with `passed_over` moved to the end of each height's
    /// proposer schedule ([`Self::schedule`]).
    pub fn passing_over(mut self, passed_over: Vec<Address>) -> Self {
        self.passed_over = passed_over;
        self
    }

    /// Height `height`'s proposers, round after round: the validators in
    /// address order from `height % n` round the set, those in `passed_over`
    /// moved to the end (in the same order). The same on every node given
    /// the same `passed_over`.
    pub fn schedule(&self, height: u64, passed_over: &[Address]) -> Vec<Address> {
        let n = self.validators.len();
        if n == 0 {
            return Vec::new();
        }
        let start = (height % n as u64) as usize;
        let turn = (0..n).map(|i| self.validators[(start + i) % n].address);
        let (live, passed): (Vec<Address>, Vec<Address>) =
            turn.partition(|a| !passed_over.contains(a));
        [live, passed].concat()
    }

    /// The validators, sorted by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The validator with this address, if any.
    pub fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators
            .binary_search_by_key(address, |v| v.address)
            .ok()
            .map(|i| &self.validators[i])
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// Sum of the voting powers (saturating).
    pub fn total_voting_power(&self) -> VotingPower {
        self.validators.iter().fold(0u64, |acc, v| acc.saturating_add(v.voting_power))
    }

    /// The proposer of `(height, round)`: round `r` of the height's
    /// [`Self::schedule`] (`validators[(height + round) % n]` when none is
    /// passed over), the same on every node. `None` for an empty set or a
    /// nil round.
    pub fn proposer(&self, height: Height, round: Round) -> Option<&Validator> {
        let n = self.validators.len();
        let round = round.as_u32()? as usize;
        if n == 0 {
            return None;
        }
        let schedule = self.schedule(height.0, &self.passed_over);
        self.get_by_address(&schedule[round % n])
    }
}

impl mcore::ValidatorSet<LanesContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        ValidatorSet::total_voting_power(self)
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        ValidatorSet::get_by_address(self, address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// The value consensus decides on: a block, known to consensus by its hash.
/// The block bytes themselves travel as proposal parts and sync payloads.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Value {
    /// The block hash.
    pub id: B256,
}

impl Value {
    /// A value with this id.
    pub const fn new(id: B256) -> Self {
        Self { id }
    }
}

impl mcore::Value for Value {
    type Id = ValueId;

    fn id(&self) -> ValueId {
        self.id
    }
}

/// A proposal for a value at a height and round (signed by consensus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed value.
    pub value: Value,
    /// Proof-of-lock round, `Round::Nil` for a fresh value.
    pub pol_round: Round,
    /// Proposer.
    pub validator_address: Address,
}

impl mcore::Proposal<LanesContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &Value {
        &self.value
    }

    fn take_value(self) -> Value {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.validator_address
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Prevote or precommit.
    pub typ: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The value voted for, or nil.
    pub value: NilOrVal<ValueId>,
    /// The voter.
    pub validator_address: Address,
    /// Signed vote extension (unused by lanes; always `None` on its votes).
    pub extension: Option<SignedExtension<LanesContext>>,
}

impl mcore::Vote<LanesContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<ValueId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<ValueId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.typ
    }

    fn validator_address(&self) -> &Address {
        &self.validator_address
    }

    fn extension(&self) -> Option<&SignedExtension<LanesContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<LanesContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<LanesContext>) -> Self {
        Self { extension: Some(extension), ..self }
    }
}

/// First part of a proposal stream: who proposes what, where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalInit {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Proof-of-lock round (`Round::Nil` for a fresh value).
    pub valid_round: Round,
    /// The proposer (its key signs the `Fin` part).
    pub proposer: Address,
    /// Total number of value bytes carried by the `Data` parts.
    pub total_len: u64,
}

/// One part of a streamed proposal: `Init`, then `Data`..., then `Fin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// Stream header.
    Init(ProposalInit),
    /// A chunk of the value bytes (at most [`crate::MAX_PART_BYTES`]).
    Data(Bytes),
    /// The proposer's ed25519 signature over
    /// [`crate::proposal_digest`] of the whole proposal.
    Fin(Signature),
}

impl ProposalPart {
    /// A short name of the part kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Init(_) => "init",
            Self::Data(_) => "data",
            Self::Fin(_) => "fin",
        }
    }
}

impl mcore::ProposalPart<LanesContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, Self::Init(_))
    }

    fn is_last(&self) -> bool {
        matches!(self, Self::Fin(_))
    }
}

/// The Malachite context of lanes.
#[derive(Copy, Clone, Debug, Default)]
pub struct LanesContext;

impl LanesContext {
    /// A context.
    pub const fn new() -> Self {
        Self
    }
}

impl mcore::Context for LanesContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = Value;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        // Malachite only asks for a defined round of a non-empty set (it
        // cannot run consensus otherwise); fall back to the first validator
        // rather than panic.
        match validator_set.proposer(height, round) {
            Some(v) => v,
            None => validator_set
                .validators
                .first()
                .expect("Malachite never runs consensus with an empty validator set"),
        }
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: Value,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal { height, round, value, pol_round, validator_address: address }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<ValueId>,
        address: Address,
    ) -> Vote {
        Vote {
            typ: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator_address: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<ValueId>,
        address: Address,
    ) -> Vote {
        Vote {
            typ: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator_address: address,
            extension: None,
        }
    }
}

/// Kept for the signature type's name in docs and helpers.
pub type LanesSignature = Signature;
