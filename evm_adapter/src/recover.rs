//! Recovering signers with libsecp256k1, which recovers faster than k256
//! (alloy's default; the execution bench times both): a transaction's
//! sender (`tx.rs`) and an EIP-7702 transaction's authorities (`declare.rs`).

use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_primitives::{Address, B256, U256, keccak256};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};

/// secp256k1's group order n, halved: larger `s` values are malleable (EIP-2).
pub(crate) const SECP256K1N_HALF: U256 = U256::from_be_slice(&[
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
]);

/// The signer of `hash` by (`r`, `s`, y parity `odd`), with libsecp256k1;
/// `None` when it does not recover or `s` is malleable (EIP-2; callers
/// that accept pre-Homestead signatures check `s` themselves).
fn recover(hash: B256, r: U256, s: U256, odd: bool) -> Option<Address> {
    if s > SECP256K1N_HALF {
        return None;
    }
    recover_any_s(hash, r, s, odd)
}

/// The signer of `hash` by (`r`, `s`, y parity `odd`), whatever `s`.
pub(crate) fn recover_any_s(hash: B256, r: U256, s: U256, odd: bool) -> Option<Address> {
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&r.to_be_bytes::<32>());
    compact[32..].copy_from_slice(&s.to_be_bytes::<32>());
    let recid = RecoveryId::try_from(i32::from(odd)).ok()?;
    let signature = RecoverableSignature::from_compact(&compact, recid).ok()?;
    let key = signature.recover(secp256k1::Message::from_digest(hash.0)).ok()?;
    let hash = keccak256(&key.serialize_uncompressed()[1..]);
    Some(Address::from_slice(&hash[12..]))
}

/// The accounts an EIP-7702 transaction's authorizations would delegate
/// (those whose signature recovers, for this chain or any), each with the
/// address it delegates to. revm skips an authorization that does not
/// apply, so locking one too many costs nothing but the lock.
pub(crate) fn authorities(envelope: &TxEnvelope) -> Vec<(Address, Address)> {
    let list = envelope.authorization_list().unwrap_or_default();
    list.iter()
        .filter_map(|auth| {
            let authority =
                recover(auth.signature_hash(), auth.r(), auth.s(), auth.y_parity() == 1)?;
            Some((authority, auth.address))
        })
        .collect()
}
