//! A block as `eth_getBlockBy*` answers it, for the namespaces that serve
//! blocks (eth, ots, and a dev node's mining answers), and the pending
//! block.

use alloy_primitives::B256;
use alloy_rpc_types_eth::{Block, BlockTransactions};

use crate::NodeState;
use crate::convert;
use crate::error::{Res, internal};

/// Block `number` as JSON-RPC answers it, with full transactions or their
/// hashes; `None` for a block the node does not have.
pub(crate) fn rpc_block(s: &NodeState, number: u64, full: bool) -> Res<Option<Block>> {
    let Some(lb) = s.block(number)? else { return Ok(None) };
    let txs = if full { Some(s.decode_txs(&lb)?) } else { None };
    Ok(Some(convert::block(&lb, s.block_form(), txs.as_deref())))
}

/// The pending block, as Hardhat and anvil answer
/// `eth_getBlockByNumber("pending")`: the next block as it would be opened
/// now (its number, parent, timestamp, base fee, gas limit and coinbase,
/// what `pending` runs calls at), holding the pool's transactions that are
/// next in line. It has no hash yet (zero) and no gas used; its roots are
/// its parent's.
pub(crate) fn pending_block(s: &NodeState, full: bool) -> Res<Block> {
    let head = s.head();
    let parent =
        rpc_block(s, head, false)?.ok_or_else(|| internal(format!("block {head} unreadable")))?;
    let (timestamp, base_fee, coinbase, gas_limit, listing) = s.stage(|st| {
        (
            st.next_timestamp(),
            st.next_base_fee(),
            st.coinbase(),
            st.next_gas_limit(),
            st.pool_listing(),
        )
    })?;
    let txs: Vec<_> =
        listing.into_iter().filter(|(_, in_line)| *in_line).map(|(tx, _)| tx).collect();
    let mut block = parent;
    let header = &mut block.header;
    header.inner.parent_hash = std::mem::replace(&mut header.hash, B256::ZERO);
    header.inner.number = head + 1;
    header.inner.timestamp = timestamp;
    header.inner.base_fee_per_gas = Some(base_fee);
    header.inner.gas_limit = gas_limit;
    header.inner.gas_used = 0;
    header.inner.beneficiary = coinbase;
    block.uncles = Vec::new();
    block.transactions = if full {
        BlockTransactions::Full(txs.iter().map(convert::pending_transaction).collect())
    } else {
        BlockTransactions::Hashes(txs.iter().map(|tx| tx.hash()).collect())
    };
    Ok(block)
}
