//! An imported chain's blocks as the ledger keeps them: the Ethereum data
//! each carries, and a block run again on restart ([`reimport`]). Beneath
//! both the importer (`import.rs`) and the node's start (`chain_dir.rs`).

use std::path::Path;

use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::U256;
use lanes_eth::genesis::ChainSpec;
use lanes_eth::{
    EthBlock, EthBlockData, ImportContext, OMMER_ANCESTRY_DEPTH, import_block, recorded_sets,
};
use lanes_evm_adapter::SharedCode;
use lanes_runtime::{Block, Chain, OrderedConfig};

use crate::error::NodeError;
use crate::ledger::Ledger;

/// The file that marks a data folder's chain as imported.
pub const IMPORT_FILE: &str = "import.json";

/// A block's header with its ommers, as the ommer rules read ancestors.
pub(crate) type Ancestor = (Header, Vec<Header>);

/// Whether `dir` holds an imported chain.
pub fn is_imported(dir: &Path) -> bool {
    dir.join(IMPORT_FILE).exists()
}

/// The Ethereum data of a ledger block of an imported chain.
pub(crate) fn block_data(block: &Block) -> Result<EthBlockData, NodeError> {
    EthBlockData::from_extra(&block.header.extra).map_err(|e| {
        NodeError::DataDir(format!(
            "block {} of the ledger carries no Ethereum header: {e}",
            block.header.number
        ))
    })
}

/// The ancestors of block `number` (newest first, with their ommers) and
/// the total difficulty of its parent, from the ledger (every block's
/// header is read: the sum starts at genesis).
pub(crate) fn ancestry(ledger: &Ledger, number: u64) -> Result<(Vec<Ancestor>, U256), NodeError> {
    let mut ancestors = Vec::new();
    let mut total = U256::ZERO;
    for n in (0..number).rev() {
        let data = block_data(&ledger.read(n)?.block)?;
        total = total.saturating_add(data.header.difficulty);
        if ancestors.len() < OMMER_ANCESTRY_DEPTH {
            ancestors.push((data.header, data.ommers));
        }
    }
    Ok((ancestors, total))
}

/// The Ethereum block a ledger block of an imported chain holds.
pub(crate) fn ledger_block(block: &Block) -> Result<EthBlock, NodeError> {
    let data = block_data(block)?;
    let txs = block
        .txs()
        .map(|t| TxEnvelope::decode_2718(&mut t.tx.as_ref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            NodeError::DataDir(format!("block {}: a stored transaction: {e}", block.header.number))
        })?;
    Ok(EthBlock {
        hash: data.header.hash_slow(),
        header: data.header,
        txs,
        ommers: data.ommers,
        withdrawals: data.withdrawals,
        access_list: None,
        size: 0,
    })
}

/// Runs ledger block `block` of an imported chain again on `chain` (its
/// head's child) with the sets it recorded, and commits it: what a restart
/// does for a block the ledger holds and the state missed.
pub(crate) fn reimport(
    chain: &mut Chain,
    ledger: &Ledger,
    spec: &ChainSpec,
    block: &Block,
    workers: usize,
) -> Result<(), NodeError> {
    let eth = spec.imported.as_ref().expect("an imported chain's spec");
    let eth_block = ledger_block(block)?;
    let (ancestors, parent_total_difficulty) = ancestry(ledger, block.header.number)?;
    let code = SharedCode::default();
    let ctx = ImportContext {
        spec: eth,
        ancestors: &ancestors,
        parent_total_difficulty,
        code: &code,
        trie: None,
    };
    let ordered = OrderedConfig { threads: workers.max(1), ..OrderedConfig::default() };
    let sets = recorded_sets(block);
    let imported = import_block(chain, &eth_block, &ctx, &ordered, Some(&sets))
        .map_err(|e| NodeError::DataDir(format!("replaying an imported block: {e}")))?;
    if imported.sealed.block != *block {
        return Err(NodeError::DataDir(format!(
            "block {} replays to another block than the ledger holds",
            block.header.number
        )));
    }
    Ok(chain.commit(&imported.sealed)?)
}
