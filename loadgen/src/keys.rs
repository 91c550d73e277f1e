//! Deterministic keys and fast signing (libsecp256k1, the backend the node
//! recovers with), so presigning many transactions is cheap.

use alloy_consensus::{SignableTransaction, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature, U256, keccak256};
use secp256k1::{Message, PublicKey, SECP256K1, SecretKey};

/// Why a text is not a key ([`Key::from_hex`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not 32 bytes in hex.
    #[error("not a 32-byte hex key: {0}")]
    NotHex(#[source] alloy_primitives::hex::FromHexError),
    /// 32 bytes, but not a valid secp256k1 secret key (zero, or not below
    /// the curve order).
    #[error("not a secp256k1 secret key: {0}")]
    NotSecretKey(#[source] secp256k1::Error),
}

/// A secp256k1 key and its Ethereum address.
#[derive(Clone)]
pub struct Key {
    secret: SecretKey,
    address: Address,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Key {
    /// The key `index` of `label` under `seed`: keccak256 of a text naming
    /// all three (re-hashed in the negligible case it is not a valid key).
    pub fn derive(seed: u64, label: &str, index: u64) -> Self {
        (0u32..)
            .find_map(|attempt| {
                let bytes = keccak256(format!("lanes-loadgen/{seed}/{label}/{index}/{attempt}"));
                SecretKey::from_byte_array(bytes.0).ok()
            })
            .map(Self::from_secret)
            .expect("some hash is a valid key")
    }

    /// A key from 32 bytes in hex (with or without `0x`).
    pub fn from_hex(hex: &str) -> Result<Self, KeyError> {
        let bytes: B256 = hex.trim().parse().map_err(KeyError::NotHex)?;
        SecretKey::from_byte_array(bytes.0).map(Self::from_secret).map_err(KeyError::NotSecretKey)
    }

    fn from_secret(secret: SecretKey) -> Self {
        let public = PublicKey::from_secret_key(SECP256K1, &secret).serialize_uncompressed();
        let address = Address::from_slice(&keccak256(&public[1..])[12..]);
        Self { secret, address }
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs `tx` (EIP-1559, EIP-7702, ...): the EIP-2718 encoding and the
    /// transaction hash.
    pub fn sign<T>(&self, tx: T) -> (Bytes, B256)
    where
        T: SignableTransaction<Signature>,
        alloy_consensus::Signed<T>: Into<TxEnvelope>,
    {
        let signature = self.signature(tx.signature_hash());
        let envelope: TxEnvelope = tx.into_signed(signature).into();
        let hash = *envelope.tx_hash();
        (envelope.encoded_2718().into(), hash)
    }

    /// The signature of `digest`.
    pub fn signature(&self, digest: B256) -> Signature {
        let signed = SECP256K1.sign_ecdsa_recoverable(Message::from_digest(digest.0), &self.secret);
        let (id, rs) = signed.serialize_compact();
        Signature::new(
            U256::from_be_slice(&rs[..32]),
            U256::from_be_slice(&rs[32..]),
            i32::from(id) == 1,
        )
    }

    /// Signs a blob transaction (`tx`), sent in its network form with
    /// `sidecar`; the hash is its consensus form's.
    pub fn sign_4844(
        &self,
        tx: alloy_consensus::TxEip4844,
        sidecar: alloy_eips::eip7594::BlobTransactionSidecarVariant,
    ) -> (Bytes, B256) {
        use alloy_consensus::{TxEip4844Variant, TxEip4844WithSidecar};
        let signature = self.signature(tx.signature_hash());
        let hash = *tx.clone().into_signed(signature).hash();
        let with = TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar);
        let variant = TxEip4844Variant::TxEip4844WithSidecar(with);
        let envelope =
            TxEnvelope::Eip4844(alloy_consensus::Signed::new_unchecked(variant, signature, hash));
        (envelope.encoded_2718().into(), hash)
    }

    /// An EIP-7702 authorization from this account delegating it to
    /// `address`, at its nonce `nonce`, on chain `chain_id`.
    pub fn authorize(
        &self,
        chain_id: u64,
        address: Address,
        nonce: u64,
    ) -> alloy_eips::eip7702::SignedAuthorization {
        let auth =
            alloy_eips::eip7702::Authorization { chain_id: U256::from(chain_id), address, nonce };
        let signature = self.signature(auth.signature_hash());
        auth.into_signed(signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::TxEip1559;
    use alloy_eips::eip2718::Decodable2718;
    use alloy_primitives::TxKind;

    #[test]
    fn keys_are_deterministic_and_signatures_recover() {
        let a = Key::derive(7, "account", 3);
        assert_eq!(a.address(), Key::derive(7, "account", 3).address());
        assert_ne!(a.address(), Key::derive(8, "account", 3).address());
        assert_ne!(a.address(), Key::derive(7, "account", 4).address());
        // anvil's first dev key, whose address is well known.
        let dev =
            Key::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                .unwrap();
        assert_eq!(
            dev.address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse::<Address>().unwrap()
        );
        let tx = TxEip1559 {
            chain_id: 31337,
            nonce: 5,
            gas_limit: 21_000,
            max_fee_per_gas: 3,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::repeat_byte(9)),
            value: U256::from(1),
            ..Default::default()
        };
        let (raw, hash) = a.sign(tx);
        let decoded = TxEnvelope::decode_2718(&mut raw.as_ref()).unwrap();
        assert_eq!(*decoded.tx_hash(), hash);
        assert_eq!(keccak256(&raw), hash);
        let recovered =
            lanes_evm_adapter::EvmTx::decode(&raw, &lanes_evm_adapter::TxRules::new(31337));
        assert_eq!(recovered.unwrap().sender(), a.address());
        assert!(matches!(Key::from_hex("0x00"), Err(KeyError::NotHex(_))));
        let zero = format!("0x{}", "00".repeat(32));
        let e = Key::from_hex(&zero).unwrap_err();
        assert!(matches!(e, KeyError::NotSecretKey(_)));
        assert!(e.to_string().starts_with("not a secp256k1 secret key"), "{e}");
    }
}
