//! What a chain is and what it holds, for the `eth_*` methods that describe
//! it rather than run code: its forks (`eth_config`), the history it serves
//! (`eth_capabilities`), and its state read many slots at once
//! (`eth_getStorageValues`) or proved (`eth_getProof`).

use std::collections::BTreeMap;

use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, U64};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy_serde::storage::JsonStorageKey;
use lanes_accounts_db::AccountsRead;
use lanes_rpc::api::MAX_STORAGE_VALUES;
use lanes_rpc::types::{
    BlobSchedule, Capabilities, Capability, CapabilityHead, DeleteStrategy, EthConfig, ForkConfig,
    StorageSlot,
};

use crate::NodeState;
use crate::convert;
use crate::error::{Res, RpcError, internal};

/// `eth_config` (EIP-7910): an imported chain's forks around its head; a
/// lanes chain's one fork from genesis.
pub(super) fn config(s: &NodeState) -> Res<EthConfig> {
    let header_of = |n: u64| -> Res<(B256, alloy_consensus::Header)> {
        let lb = s.block(n)?.ok_or_else(|| RpcError::Internal(format!("no block {n}")))?;
        Ok((lb.block.hash, convert::header(&lb.block, s.block_form()).inner))
    };
    let (genesis_hash, genesis) = header_of(0)?;
    let configs = match &s.rebuild.place().spec.imported {
        Some(eth) => {
            let (_, head) = header_of(s.head())?;
            let merged = eth.is_merged_block(head.difficulty);
            eth.fork_configs(
                (genesis_hash, genesis.timestamp),
                (head.number, head.timestamp, merged),
            )
        }
        None => lanes_eth::single_fork(s.executor.config().spec, genesis_hash),
    };
    let chain_id = U64::from(s.chain_id());
    let render = |f: lanes_eth::ForkConfig| ForkConfig {
        activation_time: f.activation_time,
        blob_schedule: f.blob.map(|b| BlobSchedule {
            target: b.target_blob_count,
            max: b.max_blob_count,
            base_fee_update_fraction: u64::try_from(b.update_fraction).unwrap_or(u64::MAX),
        }),
        chain_id,
        fork_id: f.fork_hash.into(),
        precompiles: f.precompiles.into_iter().map(|(n, a)| (n.to_owned(), a)).collect(),
        system_contracts: f.system_contracts.into_iter().map(|(n, a)| (n.to_owned(), a)).collect(),
    };
    Ok(EthConfig {
        current: render(configs.current),
        next: configs.next.map(render),
        last: configs.last.map(render),
    })
}

/// `eth_getProof` (EIP-1186): the tries of the whole state at `block`, on a
/// chain whose headers commit to a Merkle-Patricia root (an imported one,
/// or one made with `--state-root mpt`).
pub(super) fn proof(
    s: &NodeState,
    address: Address,
    keys: Vec<JsonStorageKey>,
    block: Option<BlockId>,
) -> Res<EIP1186AccountProofResponse> {
    let place = s.rebuild.place();
    if place.spec.imported.is_none() && place.spec.mpt.is_none() {
        return Err(RpcError::Unsupported(
            "eth_getProof proves against a Merkle-Patricia state root: this chain's blocks commit to lanes' lattice hash (start a new chain with --state-root mpt; a chain imported from Ethereum answers it)".into(),
        ));
    }
    if keys.len() > MAX_STORAGE_VALUES {
        let message = format!("{} keys asked, at most {MAX_STORAGE_VALUES}", keys.len());
        return Err(RpcError::Params(message));
    }
    let view = s.state_at(block)?;
    let slots: Vec<B256> = keys.iter().map(|k| k.as_b256()).collect();
    // A chain of its own keeps its tries in its commitment; an imported
    // one's are built from the state asked, and kept a while.
    let tries = place.spec.mpt.as_ref().map_or(&s.proof_tries, |mpt| mpt.tries());
    let proof = tries.trie_at(&view).map_err(internal)?.proof(&address, &slots);
    let header = proof.header.unwrap_or_default();
    let code_hash = match lanes_evm_adapter::has_code(&header.code_hash) {
        true => header.code_hash,
        false => alloy_primitives::KECCAK256_EMPTY,
    };
    let storage_proof = keys
        .into_iter()
        .zip(proof.storage)
        .map(|(key, (_, value, proof))| EIP1186StorageProof { key, value, proof })
        .collect();
    Ok(EIP1186AccountProofResponse {
        address,
        balance: header.balance,
        code_hash,
        nonce: header.nonce,
        storage_hash: proof.storage_root,
        account_proof: proof.account_proof,
        storage_proof,
    })
}

/// `eth_capabilities`: state (and, on an imported chain, its proofs) back
/// to the oldest block the history window keeps; the ledger's blocks,
/// transactions, receipts and logs from genesis.
pub(super) fn capabilities(s: &NodeState) -> Res<Capabilities> {
    let number = s.head();
    let hash = s.ledger.hash_of(number).ok_or_else(|| internal(format!("no block {number}")))?;
    let latest = s.stage(|st| st.state())?;
    let kept = Capability { disabled: false, oldest_block: Some(U64::ZERO), delete_strategy: None };
    let oldest = latest.history_range().map_or(number, |(oldest, _)| oldest);
    let state = Capability {
        disabled: false,
        oldest_block: Some(U64::from(oldest)),
        delete_strategy: latest.history_blocks().map(|blocks| DeleteStrategy {
            kind: "window".into(),
            retention_blocks: U64::from(blocks),
        }),
    };
    // Proofs need a Merkle-Patricia root: an imported chain's, or one a
    // chain of lanes' own carries (`--state-root mpt`, a new `--dev` one's).
    let spec = &s.rebuild.place().spec;
    let proofs = match spec.imported.is_some() || spec.mpt.is_some() {
        true => state.clone(),
        false => Capability { disabled: true, oldest_block: None, delete_strategy: None },
    };
    Ok(Capabilities {
        head: CapabilityHead { number: U64::from(number), hash },
        state,
        tx: kept.clone(),
        logs: kept.clone(),
        receipts: kept.clone(),
        blocks: kept,
        stateproofs: proofs,
    })
}

/// `eth_getStorageValues`: each account's slots at `block`, in the order
/// asked; an empty request, or more than [`MAX_STORAGE_VALUES`] slots, is
/// refused.
pub(super) fn storage_values(
    s: &NodeState,
    slots: BTreeMap<Address, Vec<StorageSlot>>,
    block: Option<BlockId>,
) -> Res<BTreeMap<Address, Vec<B256>>> {
    let count: usize = slots.values().map(Vec::len).sum();
    if count == 0 {
        return Err(RpcError::Params("empty request".into()));
    }
    if count > MAX_STORAGE_VALUES {
        let message = format!("{count} slots asked, at most {MAX_STORAGE_VALUES} a request");
        return Err(RpcError::Params(message));
    }
    let view = s.state_at(block)?;
    let mut values = BTreeMap::new();
    for (address, keys) in slots {
        let read = keys
            .iter()
            .map(|slot| view.get_storage(&address, &B256::from(slot.0)).map(B256::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        values.insert(address, read);
    }
    Ok(values)
}
