//! A plain value transfer run without the EVM (the adapter's default,
//! `EvmExecutor::with_native_transfers`) gives exactly what revm's run
//! gives: the same outcome or the same refusal, the same state, the same
//! block access list. Random transfers across forks, transaction types,
//! access lists, fees, gas limits and balances, to fresh and funded
//! accounts, to code, to a precompile, to the coinbase, and from a sender
//! that runs short.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
use lanes_evm_adapter::{EvmConfig, EvmExecutor, SpecId, block_access_list};
use lanes_runtime::{BankConfig, BlockEnv, Chain, Executor, Genesis, OrderedConfig, OrderedSets};
use proptest::prelude::*;

use crate::evm_parallel::key;

const CHAIN_ID: u64 = 1;
const COINBASE: Address = Address::repeat_byte(0xcb);
const FUNDED: Address = Address::repeat_byte(0xb0);
const CONTRACT: Address = Address::repeat_byte(0xc0);
/// The identity precompile.
const PRECOMPILE: Address = Address::with_last_byte(4);
const FRESH: Address = Address::repeat_byte(0xf1);
const GWEI: u128 = 1_000_000_000;

/// One transfer as drawn: its type (0 legacy, 1 legacy without a chain
/// id, 2 EIP-2930, 3 EIP-1559), recipient, value, gas limit and fees in
/// gwei, whether its nonce is one ahead, and (EIP-2930 and EIP-1559 only)
/// its access list: addresses, each with its number of storage keys.
#[derive(Clone, Debug)]
struct Transfer {
    kind: u8,
    to: Address,
    list: Vec<(Address, u8)>,
    value: u128,
    gas_limit: u64,
    max_fee: u128,
    tip: u128,
    skip_nonce: bool,
}

fn transfer() -> impl Strategy<Value = Transfer> {
    let to = prop_oneof![
        4 => Just(FRESH),
        4 => Just(FUNDED),
        1 => Just(CONTRACT),
        1 => Just(PRECOMPILE),
        1 => Just(COINBASE),
        1 => any::<[u8; 20]>().prop_map(Address::from),
    ];
    let gas_limit = prop_oneof![Just(21_000u64), Just(20_999), Just(50_000), 21_000..200_000u64];
    let listed = prop_oneof![Just(FUNDED), Just(FRESH), Just(CONTRACT), Just(COINBASE)];
    let list = prop_oneof![
        2 => Just(Vec::new()),
        1 => proptest::collection::vec((listed, 0u8..3), 1..4),
    ];
    (
        (0u8..4, list),
        to,
        0u128..3 * GWEI * 21_000,
        gas_limit,
        0u128..40,
        0u128..5,
        proptest::bool::weighted(0.05),
    )
        .prop_map(|((kind, list), to, value, gas_limit, max_fee, tip, skip_nonce)| Transfer {
            kind,
            to,
            list,
            value: value.max(1),
            gas_limit,
            max_fee,
            tip,
            skip_nonce,
        })
}

fn spec() -> impl Strategy<Value = SpecId> {
    prop_oneof![
        Just(SpecId::HOMESTEAD),
        Just(SpecId::SPURIOUS_DRAGON),
        Just(SpecId::BERLIN),
        Just(SpecId::LONDON),
        Just(SpecId::SHANGHAI),
        Just(SpecId::CANCUN),
        Just(SpecId::PRAGUE),
        Just(SpecId::OSAKA),
    ]
}

/// The signed transfer `t` from key 0 at `nonce`.
fn sign(t: &Transfer, nonce: u64) -> Bytes {
    let signer = key(0);
    let to = TxKind::Call(t.to);
    let (price, tip) = (t.max_fee * GWEI, t.tip * GWEI);
    let items = t.list.iter().map(|&(address, keys)| AccessListItem {
        address,
        storage_keys: (0..keys).map(B256::with_last_byte).collect(),
    });
    let access_list = AccessList(items.collect());
    let envelope: TxEnvelope = match t.kind {
        0 | 1 => {
            let chain_id = (t.kind == 0).then_some(CHAIN_ID);
            let tx = TxLegacy {
                chain_id,
                nonce,
                gas_price: price,
                gas_limit: t.gas_limit,
                to,
                value: U256::from(t.value),
                input: Bytes::new(),
            };
            let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
            tx.into_signed(signature).into()
        }
        2 => {
            let tx = TxEip2930 {
                chain_id: CHAIN_ID,
                nonce,
                gas_price: price,
                gas_limit: t.gas_limit,
                to,
                value: U256::from(t.value),
                access_list,
                ..Default::default()
            };
            let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
            tx.into_signed(signature).into()
        }
        _ => {
            let tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit: t.gas_limit,
                max_fee_per_gas: price,
                max_priority_fee_per_gas: tip,
                to,
                value: U256::from(t.value),
                access_list,
                ..Default::default()
            };
            let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
            tx.into_signed(signature).into()
        }
    };
    envelope.encoded_2718().into()
}

/// What running the transfers one block each gave: per transfer its
/// receipt's outcome or why it was refused, each block's access list, and
/// every account at the end.
type Trace = (Vec<String>, Vec<String>, Vec<Option<AccountHeader>>);

fn run(spec: SpecId, funds: u128, transfers: &[Transfer], native: bool) -> Trace {
    let sender = key(0).address();
    let code = Bytes::from_static(&[0x00]);
    let header =
        |balance: u128| AccountHeader { balance: U256::from(balance), ..Default::default() };
    let alloc = vec![
        Entry::Account(sender, header(funds)),
        Entry::Account(FUNDED, header(7)),
        Entry::Account(COINBASE, header(1)),
        Entry::Account(
            CONTRACT,
            AccountHeader { code_hash: keccak256(&code), ..Default::default() },
        ),
        Entry::Code(keccak256(&code), code),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = Genesis { alloc, gas_limit: 30_000_000, ..Default::default() };
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).expect("chain");
    let banks = BankConfig { record_accesses: true, ..chain.bank_config().clone() };
    let mut chain = chain.with_bank_config(banks);
    let config = EvmConfig { spec, allow_unprotected: true, ..EvmConfig::new(CHAIN_ID) };
    let exec = EvmExecutor::new(config).with_native_transfers(native);
    let london = spec.is_enabled_in(SpecId::LONDON);
    let (mut results, mut lists) = (Vec::new(), Vec::new());
    let (mut nonce, mut number) = (0, 1);
    for (i, t) in transfers.iter().enumerate() {
        let raw = sign(t, nonce + u64::from(t.skip_nonce));
        let tx = match exec.decode(&raw) {
            Ok(tx) => tx,
            Err(e) => {
                results.push(format!("not decoded: {e}"));
                continue;
            }
        };
        let env = BlockEnv {
            number,
            timestamp: 1_700_000_000 + i as u64,
            coinbase: COINBASE,
            base_fee: if london { 7 * GWEI as u64 } else { 0 },
            gas_limit: 30_000_000,
            recent_hashes: Vec::new(),
            random: keccak256([i as u8]),
            parent: None,
        };
        let bank = chain.new_bank_with(env);
        let ordered = OrderedConfig { threads: 1, ..OrderedConfig::default() };
        match bank.execute_ordered(&exec, &[tx], OrderedSets::Run, &ordered) {
            Ok(_) => {
                let sealed = bank.seal().expect("seal");
                let accesses = sealed.accesses.as_ref().expect("accesses recorded");
                lists.push(format!("{:?}", block_access_list(accesses, &sealed.receipts)));
                let receipt = &sealed.receipts[0];
                results.push(format!("{:?}", receipt.outcome));
                chain.commit(&sealed).expect("commit");
                nonce += 1;
                number += 1;
            }
            Err(e) => results.push(format!("refused: {e}")),
        }
    }
    let db = chain.db();
    let mut addresses = vec![sender, FUNDED, CONTRACT, PRECOMPILE, COINBASE, FRESH];
    addresses.extend(transfers.iter().map(|t| t.to));
    let accounts = addresses.iter().map(|a| db.get_account(a).expect("read")).collect();
    (results, lists, accounts)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn test_a_transfer_run_without_the_evm_equals_revms_run(
        spec in spec(),
        funds in prop_oneof![Just(0u128), 1u128..5 * GWEI * 21_000, Just(10u128.pow(21))],
        transfers in proptest::collection::vec(transfer(), 1..8),
    ) {
        let native = run(spec, funds, &transfers, true);
        let revm = run(spec, funds, &transfers, false);
        prop_assert_eq!(&native.0, &revm.0, "outcomes");
        prop_assert_eq!(&native.1, &revm.1, "access lists");
        prop_assert_eq!(&native.2, &revm.2, "accounts");
    }
}
