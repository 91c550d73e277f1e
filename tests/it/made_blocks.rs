//! Ethereum blocks made by lanes' importer itself, on a chain of its own:
//! each header's computed fields (gas, bloom, roots, the access list's
//! hash) are filled in from what the importer reports it computes. Shared
//! by `tests/it/amsterdam.rs`, `tests/it/coinbase.rs` and
//! `benches/import_cost.rs` (which includes this file as a module of its own).

use std::path::Path;

use alloy_consensus::constants::EMPTY_WITHDRAWALS;
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, TxEnvelope};
use alloy_eips::eip1559::{BaseFeeParams, calc_next_block_base_fee};
use alloy_eips::eip4895::Withdrawals;
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_eips::{eip2935, eip4788, eip7002, eip7251};
use alloy_genesis::{Genesis as GethGenesis, GenesisAccount};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use lanes_accounts_db::AccountsDbConfig;
use lanes_eth::genesis::{ChainSpec, DevFork};
use lanes_eth::{
    EthBlock, EthSpec, ImportContext, ImportErrorKind, ImportedBlock, StateTrie, genesis_header,
    import_block,
};
use lanes_evm_adapter::{SharedCode, SpecId};
use lanes_runtime::{Chain, OrderedConfig};

/// The beneficiary of every made block.
pub(crate) const COINBASE: Address = Address::repeat_byte(0xcb);

/// Prague's system contracts (EIP-4788, EIP-2935, EIP-7002, EIP-7251) as
/// genesis accounts.
pub(crate) fn system_contracts() -> [(Address, GenesisAccount); 4] {
    let account =
        |code: &Bytes| GenesisAccount::default().with_nonce(Some(1)).with_code(Some(code.clone()));
    [
        (eip4788::BEACON_ROOTS_ADDRESS, account(&eip4788::BEACON_ROOTS_CODE)),
        (eip2935::HISTORY_STORAGE_ADDRESS, account(&eip2935::HISTORY_STORAGE_CODE)),
        (
            eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
            account(&eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_CODE),
        ),
        (
            eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
            account(&eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_CODE),
        ),
    ]
}

/// A genesis for made blocks: the dev chain's fork fields for `fork` from
/// block 0, with `chain_id` and a deposit contract of its own, `alloc` and
/// Prague's system contracts, a 30M gas limit and a base fee of 1 gwei.
pub(crate) fn genesis(
    fork: DevFork,
    chain_id: u64,
    alloc: impl IntoIterator<Item = (Address, GenesisAccount)>,
) -> GethGenesis {
    let mut config = lanes_eth::genesis::dev_genesis_with(fork).config;
    config.chain_id = chain_id;
    config.deposit_contract_address = Some(Address::repeat_byte(0xde));
    let mut alloc: std::collections::BTreeMap<_, _> = alloc.into_iter().collect();
    alloc.extend(system_contracts());
    GethGenesis {
        config,
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(1_000_000_000),
        difficulty: U256::ZERO,
        alloc,
        ..Default::default()
    }
}

/// A chain of `geth`'s genesis in `dir`, its fork schedule and its genesis
/// header: the parent of the first made block.
pub(crate) fn chain(dir: &Path, geth: &GethGenesis) -> (EthSpec, Chain, Header) {
    let spec = ChainSpec::imported(geth.clone());
    let eth = spec.imported.clone().expect("an imported chain's schedule");
    let chain =
        Chain::create_with(dir, AccountsDbConfig::default(), &spec.genesis, spec.bank_config())
            .expect("the chain");
    let parent = genesis_header(&eth, geth);
    (eth, chain, parent)
}

/// The block of `header` holding `txs`, with no ommers and no withdrawals.
pub(crate) fn eth_block(header: &Header, txs: &[TxEnvelope]) -> EthBlock {
    EthBlock {
        hash: header.hash_slow(),
        header: header.clone(),
        txs: txs.to_vec(),
        ommers: Vec::new(),
        withdrawals: Some(Withdrawals::default()),
        access_list: None,
        size: 0,
    }
}

/// Makes the next block of `chain` (whose head is `parent`, its state's
/// trie `trie` where the caller keeps one) holding `txs`: the importer
/// checks a template header, and each field it reports it computes
/// differently is filled in, until the block imports. Returns the header
/// and the imported block, not committed.
pub(crate) fn make_block(
    chain: &Chain,
    eth: &EthSpec,
    parent: &Header,
    txs: &[TxEnvelope],
    trie: Option<&StateTrie>,
) -> (Header, ImportedBlock) {
    let encoded: Vec<Vec<u8>> =
        txs.iter().map(alloy_eips::eip2718::Encodable2718::encoded_2718).collect();
    let (number, timestamp) = (parent.number + 1, parent.timestamp + 12);
    let fork = eth.spec_at(number, timestamp, true);
    let amsterdam = fork.is_enabled_in(SpecId::AMSTERDAM);
    let (cancun, prague) = (fork.is_enabled_in(SpecId::CANCUN), fork.is_enabled_in(SpecId::PRAGUE));
    let mut header = Header {
        parent_hash: parent.hash_slow(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: COINBASE,
        transactions_root: alloy_trie::root::ordered_trie_root_encoded(&encoded),
        number,
        gas_limit: parent.gas_limit,
        timestamp,
        mix_hash: keccak256(parent.number.to_be_bytes()),
        base_fee_per_gas: Some(calc_next_block_base_fee(
            parent.gas_used,
            parent.gas_limit,
            parent.base_fee_per_gas.unwrap(),
            BaseFeeParams::ethereum(),
        )),
        withdrawals_root: Some(EMPTY_WITHDRAWALS),
        blob_gas_used: cancun.then_some(0),
        excess_blob_gas: cancun.then_some(0),
        parent_beacon_block_root: cancun.then(|| keccak256(b"beacon")),
        requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
        block_access_list_hash: amsterdam.then_some(B256::ZERO),
        ..Default::default()
    };
    let code = SharedCode::default();
    let ancestors = vec![(parent.clone(), Vec::new())];
    let ctx = ImportContext {
        spec: eth,
        ancestors: &ancestors,
        parent_total_difficulty: U256::ZERO,
        code: &code,
        trie,
    };
    for _ in 0..16 {
        let block = eth_block(&header, txs);
        match import_block(chain, &block, &ctx, &OrderedConfig::default(), None) {
            Ok(imported) => return (header, imported),
            Err(e) => match e.kind {
                ImportErrorKind::Header(h) => match h.field {
                    "excess_blob_gas" => header.excess_blob_gas = Some(h.expected.parse().unwrap()),
                    _ => panic!("a template field is wrong: {h}"),
                },
                ImportErrorKind::Mismatch { field, computed, .. } => match field {
                    "gasUsed" => header.gas_used = computed.parse().unwrap(),
                    "logsBloom" => header.logs_bloom = computed.parse::<Bloom>().unwrap(),
                    "receiptsRoot" => header.receipts_root = computed.parse().unwrap(),
                    "requestsHash" => header.requests_hash = Some(computed.parse().unwrap()),
                    "stateRoot" => header.state_root = computed.parse().unwrap(),
                    "blockAccessListHash" => {
                        header.block_access_list_hash = Some(computed.parse().unwrap());
                    }
                    other => panic!("the importer computes {other} = {computed}"),
                },
                other => panic!("block {}: {other}", header.number),
            },
        }
    }
    panic!("block {} never imported", header.number)
}
