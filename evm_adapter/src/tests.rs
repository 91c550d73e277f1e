//! Decoding, checks and declared access of real signed transactions.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip7702::{Authorization, SignedAuthorization};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_runtime::StateKey;

use crate::{EvmTx, TxDecodeError, TxRules};

const CHAIN: u64 = 31337;
/// The first account of the standard test mnemonic.
const DEV0: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const TOKEN: Address = address!("0x00000000000000000000000000000000000000aa");

fn signer() -> PrivateKeySigner {
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".parse().unwrap()
}

fn sign<T: SignableTransaction<alloy_primitives::Signature>>(tx: T) -> TxEnvelope
where
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let signature = signer().sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

fn eip1559(to: TxKind, value: u64, list: AccessList) -> TxEnvelope {
    sign(TxEip1559 {
        chain_id: CHAIN,
        nonce: 3,
        gas_limit: 100_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(value),
        access_list: list,
        input: Bytes::new(),
    })
}

fn slot_list() -> AccessList {
    AccessList(vec![AccessListItem {
        address: TOKEN,
        storage_keys: vec![B256::with_last_byte(1), B256::with_last_byte(2)],
    }])
}

fn decode(tx: &TxEnvelope) -> Result<EvmTx, TxDecodeError> {
    EvmTx::decode(&tx.encoded_2718(), &TxRules::new(CHAIN))
}

#[test]
fn test_every_supported_type_recovers_the_sender() {
    let legacy = sign(TxLegacy {
        chain_id: Some(CHAIN),
        nonce: 0,
        gas_price: 1_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(2)),
        value: U256::from(1),
        input: Bytes::new(),
    });
    let access = sign(TxEip2930 {
        chain_id: CHAIN,
        nonce: 1,
        gas_price: 1_000_000_000,
        gas_limit: 50_000,
        to: TxKind::Call(TOKEN),
        value: U256::ZERO,
        access_list: slot_list(),
        input: Bytes::new(),
    });
    let dynamic = eip1559(TxKind::Call(TOKEN), 0, slot_list());
    for envelope in [legacy, access, dynamic] {
        let tx = decode(&envelope).unwrap();
        assert_eq!(tx.sender(), DEV0);
        assert_eq!(tx.hash(), *envelope.tx_hash());
        assert_eq!(tx.encoded().as_ref(), envelope.encoded_2718().as_slice());
    }
}

#[test]
fn test_declared_access_follows_the_rules() {
    let slots = [
        StateKey::Storage(TOKEN, B256::with_last_byte(1)),
        StateKey::Storage(TOKEN, B256::with_last_byte(2)),
    ];
    // A token call: sender written, token account read, listed slots written.
    let tx = decode(&eip1559(TxKind::Call(TOKEN), 0, slot_list())).unwrap();
    let set = tx.access_set().unwrap();
    assert_eq!(set.reads(), &[StateKey::Account(TOKEN)]);
    let mut writes = vec![StateKey::Account(DEV0)];
    writes.extend(slots);
    writes.sort();
    assert_eq!(set.writes(), writes.as_slice());

    // Value to `to` makes it a write; a listed precompile is read-locked.
    let ecrecover = Address::with_last_byte(1);
    let list = AccessList(vec![AccessListItem { address: ecrecover, storage_keys: vec![] }]);
    let to = Address::repeat_byte(7);
    let tx = decode(&eip1559(TxKind::Call(to), 5, list)).unwrap();
    let set = tx.access_set().unwrap();
    assert_eq!(set.reads(), &[StateKey::Account(ecrecover)]);
    assert!(set.allows_write(&StateKey::Account(to)) && set.allows_write(&StateKey::Account(DEV0)));

    // A call with an empty access list declares nothing: the exclusive lane.
    let tx = decode(&eip1559(TxKind::Call(to), 5, AccessList::default())).unwrap();
    assert_eq!(tx.access_set(), None);

    // A creation locks the new address and all its storage, even without a list.
    let tx = decode(&eip1559(TxKind::Create, 0, AccessList::default())).unwrap();
    let created = DEV0.create(3);
    let set = tx.access_set().unwrap();
    assert!(set.allows_write(&StateKey::Account(created)));
    assert!(set.allows_write(&StateKey::Storage(created, B256::repeat_byte(9))));

    // EIP-7702: each authority's account is written, its delegate read; an
    // authorization that recovers nothing adds nothing; each counts two keys.
    let authority: PrivateKeySigner =
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".parse().unwrap();
    let delegate = Address::repeat_byte(0xde);
    let auth = Authorization { chain_id: U256::from(CHAIN), address: delegate, nonce: 0 };
    let signature = authority.sign_hash_sync(&auth.signature_hash()).unwrap();
    let signed = auth.clone().into_signed(signature);
    let unrecoverable = SignedAuthorization::new_unchecked(auth, 0, U256::ZERO, U256::ZERO);
    let type4 = |authorization_list| {
        sign(TxEip7702 {
            chain_id: CHAIN,
            nonce: 3,
            gas_limit: 100_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value: U256::ZERO,
            access_list: slot_list(),
            authorization_list,
            input: Bytes::new(),
        })
    };
    let tx = decode(&type4(vec![signed.clone(), unrecoverable])).unwrap();
    let set = tx.access_set().unwrap();
    assert!(set.allows_write(&StateKey::Account(authority.address())));
    assert!(set.reads().contains(&StateKey::Account(delegate)));
    assert_eq!(set.writes().len(), 1 + 2 + 1, "sender, two slots, one authority");
    let few = TxRules { max_access_keys: 4, ..TxRules::new(CHAIN) };
    assert_eq!(
        EvmTx::decode(&type4(vec![signed]).encoded_2718(), &few),
        Err(TxDecodeError::TooManyAccessListKeys { count: 5, limit: 4 })
    );
}

/// A sender known by the transaction's hash is taken as it is (no
/// recovery); one not known is recovered; the checks run either way.
#[test]
fn test_a_known_sender_is_taken_instead_of_recovered() {
    let tx = eip1559(TxKind::Call(TOKEN), 0, slot_list());
    let raw = tx.encoded_2718();
    let rules = TxRules::new(CHAIN);
    let recovered = EvmTx::decode(&raw, &rules).unwrap();
    let elsewhere = Address::repeat_byte(0x5e);
    let known = |h: &B256| (*h == recovered.hash()).then_some(elsewhere);
    assert_eq!(EvmTx::decode_known(&raw, &rules, known).unwrap().sender(), elsewhere);
    let unknown = EvmTx::decode_known(&raw, &rules, |_| None).unwrap();
    assert_eq!(unknown.sender(), recovered.sender());
    let wrong_chain = TxRules::new(CHAIN + 1);
    assert!(EvmTx::decode_known(&raw, &wrong_chain, known).is_err(), "still checked");
}

#[test]
fn test_bad_transactions_get_distinct_errors() {
    let good = eip1559(TxKind::Call(TOKEN), 0, slot_list()).encoded_2718();
    let rules = TxRules::new(CHAIN);

    assert!(matches!(
        EvmTx::decode(&good[..good.len() - 3], &rules),
        Err(TxDecodeError::BadRlp(_))
    ));
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(EvmTx::decode(&trailing, &rules), Err(TxDecodeError::BadRlp(_))));
    assert!(matches!(EvmTx::decode(&[], &rules), Err(TxDecodeError::BadRlp(_))));

    let wrong_chain = sign(TxEip1559 { chain_id: 1, ..TxEip1559::default() }).encoded_2718();
    assert_eq!(
        EvmTx::decode(&wrong_chain, &rules),
        Err(TxDecodeError::WrongChainId { expected: CHAIN, got: Some(1) })
    );
    let unprotected =
        sign(TxLegacy { chain_id: None, gas_limit: 21_000, ..TxLegacy::default() }).encoded_2718();
    assert!(matches!(
        EvmTx::decode(&unprotected, &rules),
        Err(TxDecodeError::WrongChainId { got: None, .. })
    ));
    let lenient = TxRules { allow_unprotected: true, ..rules.clone() };
    assert_eq!(EvmTx::decode(&unprotected, &lenient).unwrap().sender(), DEV0);

    let small = TxRules { max_bytes: 50, ..rules.clone() };
    assert!(matches!(EvmTx::decode(&good, &small), Err(TxDecodeError::Oversize { limit: 50, .. })));
    let few = TxRules { max_access_keys: 2, ..rules.clone() };
    assert_eq!(
        EvmTx::decode(&good, &few),
        Err(TxDecodeError::TooManyAccessListKeys { count: 3, limit: 2 })
    );

    for t in [0x03u8, 0x05, 0x7e] {
        let mut typed = good.clone();
        typed[0] = t;
        assert_eq!(EvmTx::decode(&typed, &rules), Err(TxDecodeError::UnsupportedType(t)));
    }

    // A malleable signature (s above n/2) and one that recovers nothing.
    let TxEnvelope::Eip1559(signed) = eip1559(TxKind::Call(TOKEN), 0, slot_list()) else {
        unreachable!()
    };
    let (tx, sig) = (signed.tx().clone(), *signed.signature());
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let high_s = alloy_primitives::Signature::new(sig.r(), n - sig.s(), !sig.v());
    let bad = TxEnvelope::from(tx.clone().into_signed(high_s)).encoded_2718();
    assert_eq!(EvmTx::decode(&bad, &rules), Err(TxDecodeError::BadSignature));
    let zero_r = alloy_primitives::Signature::new(U256::ZERO, sig.s(), sig.v());
    let bad = TxEnvelope::from(tx.into_signed(zero_r)).encoded_2718();
    assert_eq!(EvmTx::decode(&bad, &rules), Err(TxDecodeError::BadSignature));
}

#[test]
fn test_an_impersonated_transaction_names_its_sender_and_only_dev_rules_take_it() {
    let someone = Address::repeat_byte(0x5a);
    let unsigned = TxEip1559 {
        chain_id: CHAIN,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(TOKEN),
        value: U256::from(1),
        access_list: AccessList::default(),
        input: Bytes::new(),
    };
    let dummy = alloy_primitives::Signature::new(U256::from(1), U256::from(1), false);
    let raw = crate::impersonated(&unsigned.into_signed(dummy).into(), someone);
    let dev = TxRules { allow_impersonated: true, ..TxRules::new(CHAIN) };
    let tx = EvmTx::decode(&raw, &dev).unwrap();
    assert_eq!(tx.sender(), someone);
    assert!(tx.is_impersonated(), "its sender's code is not checked (EIP-3607)");
    assert_eq!(tx.hash(), alloy_primitives::keccak256(&raw));
    assert_eq!(*tx.envelope().tx_hash(), tx.hash(), "served under its own hash");
    assert_eq!(tx.encoded(), &raw, "recorded as sent");
    assert_eq!(EvmTx::decode(&raw, &TxRules::new(CHAIN)), Err(TxDecodeError::Impersonated));
    assert!(matches!(EvmTx::decode(&raw[..10], &dev), Err(TxDecodeError::BadRlp(_))));
}
