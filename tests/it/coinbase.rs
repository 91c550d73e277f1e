//! The coinbase inside its own block on an imported chain, as Ethereum pays
//! it: before Cancun, a coinbase that self-destructs sends on its balance
//! with the fees of the transactions before it, loses its own transaction's
//! fee (geth deletes it at that transaction's end, after paying it) and ends
//! the block holding only the fees after it.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_accounts_db::AccountsRead;
use lanes_eth::ImportedBlock;
use lanes_eth::genesis::DevFork;

use crate::made_blocks::{self, COINBASE};

const CHAIN_ID: u64 = 6780;
const GWEI: u64 = 1_000_000_000;

fn signer(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(format!("coinbase {i}"))).unwrap()
}

fn tx(from: u64, nonce: u64, to: Address) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 10 * u128::from(GWEI),
        max_priority_fee_per_gas: u128::from(GWEI),
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = signer(from).sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

/// The gas each transaction of `imported` used, in block order.
pub(crate) fn gas_per_tx(imported: &ImportedBlock) -> Vec<u64> {
    let mut used = 0;
    let receipts = imported.sealed.receipts.iter();
    receipts
        .map(|r| r.cumulative_gas_used - std::mem::replace(&mut used, r.cumulative_gas_used))
        .collect()
}

#[test]
fn test_an_imported_coinbase_that_self_destructs_pays_on_earlier_fees_only() {
    let heir = Address::repeat_byte(0xbe);
    let start = U256::from(10u128.pow(18));
    // PUSH20 heir; SELFDESTRUCT.
    let code: Bytes = [&[0x73], heir.as_slice(), &[0xff]].concat().into();
    let funded = GenesisAccount::default().with_balance(U256::from(10u128.pow(21)));
    let mut alloc: Vec<_> = (0..2).map(|i| (signer(i).address(), funded.clone())).collect();
    alloc.push((COINBASE, GenesisAccount::default().with_balance(start).with_code(Some(code))));
    let geth = made_blocks::genesis(DevFork::Shanghai, CHAIN_ID, alloc);
    let dir = tempfile::tempdir().unwrap();
    let (eth, mut chain, parent) = made_blocks::chain(dir.path(), &geth);
    let other = Address::repeat_byte(0x11);
    // A transfer, the call that destroys the coinbase, another transfer.
    let txs = [tx(0, 0, other), tx(0, 1, COINBASE), tx(1, 0, other)];
    let (header, imported) = made_blocks::make_block(&chain, &eth, &parent, &txs, None);
    chain.commit(&imported.sealed).unwrap();
    // Each transaction's tip is 1 gwei a gas (the base fee is under 9 gwei).
    assert!(header.base_fee_per_gas.unwrap() < 9 * GWEI);
    let fees: Vec<U256> =
        gas_per_tx(&imported).into_iter().map(|gas| U256::from(gas) * U256::from(GWEI)).collect();
    let view = chain.db().view();
    let balance = |a: &Address| view.get_account(a).unwrap().map(|h| h.balance);
    assert_eq!(balance(&heir), Some(start + fees[0]), "the balance with the fee before");
    let coinbase = view.get_account(&COINBASE).unwrap().unwrap();
    assert_eq!(coinbase.balance, fees[2], "the fee after, not its own");
    assert!(!lanes_evm_adapter::has_code(&coinbase.code_hash), "destroyed");
}
