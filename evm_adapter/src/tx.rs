//! Signed EIP-2718 transactions: decoding, checks, sender recovery.

use std::sync::Arc;

use alloy_consensus::{Signed, Transaction as _, TxEip4844Variant, TxEnvelope, TxType};
use alloy_eips::Typed2718;
use alloy_eips::eip2718::Decodable2718;
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::{Address, B256, Bytes, TxKind, keccak256};
use lanes_runtime::{AccessSet, DEFAULT_MAX_ACCESS_KEYS, KnownWrites, StateKey};

use crate::declare::declared_access;
use crate::recover::{SECP256K1N_HALF, recover_any_s};

/// Default bound on an encoded transaction (as geth's txpool): 128 KiB.
pub const DEFAULT_MAX_TX_BYTES: usize = 128 * 1024;

/// Most blobs one transaction's sidecar may carry (Prague's per-block
/// maximum; a fork's per-transaction limit is checked when it runs).
pub const MAX_SIDECAR_BLOBS: usize = 9;

/// Room a blob transaction's network form may take beyond
/// [`TxRules::max_bytes`]: [`MAX_SIDECAR_BLOBS`] blobs, each with its
/// commitment and its proofs (EIP-7594's 128 cell proofs at most), and
/// their RLP headers.
pub const MAX_SIDECAR_BYTES: usize = MAX_SIDECAR_BLOBS
    * (alloy_eips::eip4844::BYTES_PER_BLOB
        + 48
        + alloy_eips::eip7594::CELLS_PER_EXT_BLOB * 48
        + 64);

/// What [`EvmTx::decode`] accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRules {
    /// The chain's id; EIP-155 legacy and typed transactions must carry it.
    pub chain_id: u64,
    /// Accept legacy transactions without a chain id (pre-EIP-155).
    pub allow_unprotected: bool,
    /// Largest encoded transaction.
    pub max_bytes: usize,
    /// Most access-list entries (addresses plus storage keys).
    pub max_access_keys: usize,
    /// Accept impersonated transactions ([`impersonated`]): a dev chain's.
    pub allow_impersonated: bool,
    /// Accept EIP-4844 blob transactions: their consensus form (a block's),
    /// and their network form (EIP-4844's or EIP-7594's sidecar of blobs,
    /// whose KZG proofs are checked and which is kept apart,
    /// [`EvmTx::sidecar`]), up to [`MAX_SIDECAR_BYTES`] over `max_bytes`.
    pub allow_blobs: bool,
    /// Refuse a blob transaction without its blobs: what a pool takes (a
    /// block holds the consensus form; a node that builds it needs the
    /// blobs).
    pub require_sidecars: bool,
    /// Accept signatures whose `s` is in the upper half of the curve order,
    /// as blocks before Homestead (EIP-2) may hold.
    pub allow_high_s: bool,
    /// Accept any chain id: transactions read back from a chain's own
    /// blocks, each admitted under the chain id then in force (a dev
    /// node's `anvil_setChainId` changes it).
    pub any_chain_id: bool,
}

impl TxRules {
    /// The defaults for chain `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            allow_unprotected: false,
            max_bytes: DEFAULT_MAX_TX_BYTES,
            max_access_keys: DEFAULT_MAX_ACCESS_KEYS,
            allow_impersonated: false,
            allow_blobs: false,
            require_sidecars: false,
            allow_high_s: false,
            any_chain_id: false,
        }
    }
}

/// The first bytes of an impersonated transaction's encoding. 0xbf opens an
/// RLP string of eight length bytes, which no EIP-2718 transaction starts
/// with.
pub const IMPERSONATED_TAG: [u8; 4] = [0xbf, b'I', b'M', b'P'];

/// The encoding of `tx` sent as `sender` without `sender`'s signature (a dev
/// node's impersonation, as anvil's `anvil_impersonateAccount`):
/// [`IMPERSONATED_TAG`], the sender, then `tx`'s EIP-2718 encoding (its
/// signature is not checked). Its hash is keccak256 of these bytes. Only
/// rules with [`TxRules::allow_impersonated`] decode it.
pub fn impersonated(tx: &TxEnvelope, sender: Address) -> Bytes {
    let mut raw = IMPERSONATED_TAG.to_vec();
    raw.extend_from_slice(sender.as_slice());
    alloy_eips::eip2718::Encodable2718::encode_2718(tx, &mut raw);
    raw.into()
}

/// The EIP-2718 encoding inside `raw`: `raw` itself, or for an impersonated
/// transaction what follows its tag and sender.
pub fn envelope_bytes(raw: &[u8]) -> &[u8] {
    match raw.strip_prefix(&IMPERSONATED_TAG[..]) {
        Some(rest) if rest.len() >= 20 => &rest[20..],
        _ => raw,
    }
}

/// Why a raw transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxDecodeError {
    /// Larger than [`TxRules::max_bytes`].
    #[error("transaction of {len} bytes exceeds the limit of {limit}")]
    Oversize {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid RLP / EIP-2718.
    #[error("malformed transaction: {0}")]
    BadRlp(String),
    /// A transaction type lanes does not run here (a blob transaction where
    /// blobs are not accepted, an unknown type).
    #[error("unsupported transaction type {0:#x}")]
    UnsupportedType(u8),
    /// A blob transaction sent without its blobs, where a sidecar is
    /// required ([`TxRules::require_sidecars`]).
    #[error("blob transaction without its blobs: send its network form, with the sidecar")]
    MissingSidecar,
    /// A sidecar whose blobs, commitments and proofs do not match each
    /// other or the transaction's versioned hashes.
    #[error("invalid blob sidecar: {0}")]
    BadSidecar(String),
    /// The signature does not recover a sender (or its `s` is malleable).
    #[error("invalid signature")]
    BadSignature,
    /// An impersonated transaction ([`impersonated`]) where the rules do not
    /// allow one.
    #[error(
        "an impersonated transaction (sent without its sender's signature): only a dev node accepts one"
    )]
    Impersonated,
    /// Signed for another chain (or for none).
    #[error("wrong chain id: expected {expected}, transaction has {got:?}")]
    WrongChainId {
        /// This chain's id.
        expected: u64,
        /// The transaction's (`None`: unprotected legacy).
        got: Option<u64>,
    },
    /// Its access list (with two entries per EIP-7702 authorization) is over
    /// [`TxRules::max_access_keys`].
    #[error("access list has {count} entries, over the limit of {limit}")]
    TooManyAccessListKeys {
        /// Entries (addresses plus storage keys).
        count: usize,
        /// The limit.
        limit: usize,
    },
}

/// A decoded, checked transaction with its recovered sender and the state it
/// declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmTx {
    envelope: TxEnvelope,
    sender: Address,
    hash: B256,
    encoded: Bytes,
    access: Option<AccessSet>,
    /// Sent without a signature ([`impersonated`]): kept apart from the
    /// encoding, which a run would otherwise read for it first thing.
    impersonated: bool,
    /// A blob transaction's blobs, commitments and proofs, as sent (its
    /// network form); the envelope and encoding are its consensus form.
    sidecar: Option<Arc<BlobTransactionSidecarVariant>>,
}

impl EvmTx {
    /// Decodes `raw` (EIP-2718 bytes: a legacy RLP list, or a type byte and its
    /// payload), checks it against `rules` and recovers its sender.
    pub fn decode(raw: &[u8], rules: &TxRules) -> Result<Self, TxDecodeError> {
        Self::decode_known(raw, rules, |_| None)
    }

    /// [`Self::decode`], the sender taken from `known` (by the transaction's
    /// hash) where it answers, instead of recovered: a node serving a block
    /// of transactions it recovered when they were sent.
    pub fn decode_known(
        raw: &[u8],
        rules: &TxRules,
        known: impl Fn(&B256) -> Option<Address>,
    ) -> Result<Self, TxDecodeError> {
        let blob = envelope_bytes(raw).first() == Some(&(TxType::Eip4844 as u8));
        if blob && !rules.allow_blobs {
            return Err(TxDecodeError::UnsupportedType(TxType::Eip4844 as u8));
        }
        let limit = rules.max_bytes.saturating_add(if blob { MAX_SIDECAR_BYTES } else { 0 });
        if raw.len() > limit {
            return Err(TxDecodeError::Oversize { len: raw.len(), limit });
        }
        let (raw, impersonated) = match raw.strip_prefix(&IMPERSONATED_TAG[..]) {
            Some(_) if !rules.allow_impersonated => return Err(TxDecodeError::Impersonated),
            Some(rest) if rest.len() >= 20 => {
                (&rest[20..], Some((Address::from_slice(&rest[..20]), keccak256(raw), raw)))
            }
            Some(_) => return Err(TxDecodeError::BadRlp("impersonated sender cut short".into())),
            None => (raw, None),
        };
        match raw.first() {
            None => return Err(TxDecodeError::BadRlp("empty input".into())),
            Some(&t)
                if t < 0x7f
                    && t != TxType::Eip2930 as u8
                    && t != TxType::Eip1559 as u8
                    && t != TxType::Eip7702 as u8
                    && !(rules.allow_blobs && t == TxType::Eip4844 as u8) =>
            {
                return Err(TxDecodeError::UnsupportedType(t));
            }
            _ => {}
        }
        let mut buf = raw;
        let envelope =
            TxEnvelope::decode_2718(&mut buf).map_err(|e| TxDecodeError::BadRlp(e.to_string()))?;
        if !buf.is_empty() {
            return Err(TxDecodeError::BadRlp(format!(
                "{} bytes after the transaction",
                buf.len()
            )));
        }
        match impersonated {
            None => Self::from_envelope_known(envelope, rules, known),
            Some((sender, hash, encoded)) => {
                check(&envelope, rules)?;
                let (envelope, sidecar) = take_sidecar(envelope)?;
                let envelope = with_hash(envelope, hash)?;
                let access = declared_access(&envelope, sender);
                let encoded = Bytes::copy_from_slice(encoded);
                let impersonated = true;
                Ok(Self { envelope, sender, hash, encoded, access, impersonated, sidecar })
            }
        }
    }

    /// Checks an already decoded transaction and recovers its sender.
    pub fn from_envelope(envelope: TxEnvelope, rules: &TxRules) -> Result<Self, TxDecodeError> {
        Self::from_envelope_known(envelope, rules, |_| None)
    }

    fn from_envelope_known(
        envelope: TxEnvelope,
        rules: &TxRules,
        known: impl Fn(&B256) -> Option<Address>,
    ) -> Result<Self, TxDecodeError> {
        check(&envelope, rules)?;
        let (envelope, sidecar) = take_sidecar(envelope)?;
        let sender = match known(envelope.tx_hash()) {
            Some(sender) => sender,
            None => recover_sender(&envelope, rules.allow_high_s)?,
        };
        let encoded = alloy_eips::eip2718::Encodable2718::encoded_2718(&envelope).into();
        let hash = *envelope.tx_hash();
        let access = declared_access(&envelope, sender);
        Ok(Self { envelope, sender, hash, encoded, access, impersonated: false, sidecar })
    }
}

/// A blob transaction's consensus form and its sidecar, checked: each blob
/// matches its commitment, its commitment the transaction's versioned hash,
/// and its proofs (EIP-4844's blob proof or EIP-7594's cell proofs) verify
/// under Ethereum's trusted setup. Other transactions pass as they are.
fn take_sidecar(
    envelope: TxEnvelope,
) -> Result<(TxEnvelope, Option<Arc<BlobTransactionSidecarVariant>>), TxDecodeError> {
    let TxEnvelope::Eip4844(signed) = envelope else { return Ok((envelope, None)) };
    let (tx, signature, hash) = signed.into_parts();
    let (tx, sidecar) = match tx {
        TxEip4844Variant::TxEip4844WithSidecar(with) => {
            let (tx, sidecar) = with.into_parts();
            if sidecar.blobs().len() > MAX_SIDECAR_BLOBS {
                return Err(TxDecodeError::BadSidecar(format!(
                    "{} blobs, over the limit of {MAX_SIDECAR_BLOBS}",
                    sidecar.blobs().len()
                )));
            }
            let settings = alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get();
            sidecar
                .validate(&tx.blob_versioned_hashes, settings)
                .map_err(|e| TxDecodeError::BadSidecar(e.to_string()))?;
            (tx, Some(Arc::new(sidecar)))
        }
        TxEip4844Variant::TxEip4844(tx) => (tx, None),
    };
    let signed = Signed::new_unchecked(TxEip4844Variant::TxEip4844(tx), signature, hash);
    Ok((TxEnvelope::Eip4844(signed), sidecar))
}

/// `envelope` with `hash` as its hash (an impersonated transaction's).
fn with_hash(envelope: TxEnvelope, hash: B256) -> Result<TxEnvelope, TxDecodeError> {
    fn rehash<T: alloy_consensus::transaction::RlpEcdsaEncodableTx>(
        signed: Signed<T>,
        hash: B256,
    ) -> Signed<T> {
        let (tx, signature, _) = signed.into_parts();
        Signed::new_unchecked(tx, signature, hash)
    }
    Ok(match envelope {
        TxEnvelope::Legacy(s) => rehash(s, hash).into(),
        TxEnvelope::Eip2930(s) => rehash(s, hash).into(),
        TxEnvelope::Eip1559(s) => rehash(s, hash).into(),
        TxEnvelope::Eip7702(s) => rehash(s, hash).into(),
        other => return Err(TxDecodeError::UnsupportedType(other.tx_type() as u8)),
    })
}

/// The checks every transaction passes: its type, its chain id, the size of
/// its access list.
fn check(envelope: &TxEnvelope, rules: &TxRules) -> Result<(), TxDecodeError> {
    let blob = match envelope {
        TxEnvelope::Eip4844(signed) => {
            let bare = matches!(signed.tx(), TxEip4844Variant::TxEip4844(_));
            if rules.allow_blobs && bare && rules.require_sidecars {
                return Err(TxDecodeError::MissingSidecar);
            }
            rules.allow_blobs
        }
        _ => false,
    };
    if !blob
        && !matches!(
            envelope,
            TxEnvelope::Legacy(_)
                | TxEnvelope::Eip2930(_)
                | TxEnvelope::Eip1559(_)
                | TxEnvelope::Eip7702(_)
        )
    {
        return Err(TxDecodeError::UnsupportedType(envelope.tx_type() as u8));
    }
    match envelope.chain_id() {
        Some(id) if id == rules.chain_id || rules.any_chain_id => {}
        None if rules.allow_unprotected => {}
        got => return Err(TxDecodeError::WrongChainId { expected: rules.chain_id, got }),
    }
    {
        // An EIP-7702 authorization adds two keys (its authority and its
        // delegate) to the set, so it counts against the same limit.
        let list = envelope.access_list().map_or(&[][..], |l| &l.0);
        let auths = envelope.authorization_list().map_or(0, <[_]>::len);
        let count = list.iter().map(|item| 1 + item.storage_keys.len()).sum::<usize>() + 2 * auths;
        if count > rules.max_access_keys {
            let limit = rules.max_access_keys;
            return Err(TxDecodeError::TooManyAccessListKeys { count, limit });
        }
    }
    Ok(())
}

impl EvmTx {
    /// The signed transaction.
    pub fn envelope(&self) -> &TxEnvelope {
        &self.envelope
    }

    /// The recovered sender.
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// Whether it was sent for its sender without a signature (a dev node's
    /// impersonation, [`impersonated`]).
    pub fn is_impersonated(&self) -> bool {
        self.impersonated
    }

    /// A blob transaction's sidecar (blobs, commitments, proofs), where it
    /// was sent in its network form.
    pub fn sidecar(&self) -> Option<&Arc<BlobTransactionSidecarVariant>> {
        self.sidecar.as_ref()
    }

    /// The transaction hash (keccak256 of the EIP-2718 encoding).
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// The EIP-2718 encoding.
    pub fn encoded(&self) -> &Bytes {
        &self.encoded
    }

    /// The same transaction declaring nothing, so it runs in the exclusive lane.
    pub fn undeclared(self) -> Self {
        Self { access: None, ..self }
    }

    /// The keys lanes locks for it; `None` runs it in the exclusive lane.
    pub fn access_set(&self) -> Option<&AccessSet> {
        self.access.as_ref()
    }
}

/// Recovers the signer with libsecp256k1, which recovers faster than k256
/// (alloy's default; the execution bench times both).
fn recover_sender(envelope: &TxEnvelope, allow_high_s: bool) -> Result<Address, TxDecodeError> {
    let signature = envelope.signature();
    let (r, s, odd) = (signature.r(), signature.s(), signature.v());
    if s > SECP256K1N_HALF && !allow_high_s {
        return Err(TxDecodeError::BadSignature);
    }
    recover_any_s(envelope.signature_hash(), r, s, odd).ok_or(TxDecodeError::BadSignature)
}

impl lanes_runtime::Transaction for EvmTx {
    fn hash(&self) -> B256 {
        self.hash
    }

    fn access_set(&self) -> Option<&AccessSet> {
        self.access.as_ref()
    }

    fn encoded(&self) -> &Bytes {
        &self.encoded
    }

    /// The sender (its nonce steps), and for a plain value transfer (no
    /// input), the account it credits. A call with value and input names
    /// no credit: a router passes the value on, leaving its balance as it
    /// was.
    /// Its blob gas (EIP-4844), which a block holds a fork's worth of.
    fn block_units(&self) -> u64 {
        let blobs = self.envelope.blob_versioned_hashes().map_or(0, <[B256]>::len);
        blobs as u64 * alloy_eips::eip4844::DATA_GAS_PER_BLOB
    }

    fn gas_budget(&self) -> Option<u64> {
        Some(self.envelope.gas_limit())
    }

    fn known_writes(&self) -> KnownWrites {
        let e = &self.envelope;
        let credit = match e.kind() {
            TxKind::Call(to) if !e.value().is_zero() && e.input().is_empty() => {
                Some(StateKey::Account(to))
            }
            _ => None,
        };
        let (sequence, nonce) = (Some(StateKey::Account(self.sender)), Some(e.nonce()));
        KnownWrites { sequence, credit, nonce }
    }

    /// The envelope's fields and the first line of its access list and
    /// input, as the executor's `TxEnv` fill reads them. In the banking
    /// stage a batch's transactions were last touched on other cores, and
    /// their misses, one at a time inside each run, were a visible share of
    /// the workers' time on transfers.
    fn warm(&self) {
        let e = &self.envelope;
        let item = e.access_list().and_then(|list| list.0.first());
        std::hint::black_box((
            e.ty(),
            e.nonce(),
            e.gas_limit(),
            e.max_fee_per_gas(),
            e.value(),
            e.input().first().copied(),
            item.map(|i| (i.address, i.storage_keys.first().copied())),
        ));
    }
}

impl lanes_runtime::PoolTransaction for EvmTx {
    fn sender(&self) -> Address {
        self.sender
    }

    fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }

    fn tip_per_gas(&self, base_fee: u64) -> Option<u128> {
        self.envelope.effective_tip_per_gas(base_fee)
    }
}
