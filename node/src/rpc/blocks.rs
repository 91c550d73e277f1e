//! A block as `eth_getBlockBy*` answers it, for the namespaces that serve
//! blocks (eth, ots, and a dev node's mining answers).

use alloy_rpc_types_eth::Block;

use crate::NodeState;
use crate::convert;
use crate::error::Res;

/// Block `number` as JSON-RPC answers it, with full transactions or their
/// hashes; `None` for a block the node does not have.
pub(crate) fn rpc_block(s: &NodeState, number: u64, full: bool) -> Res<Option<Block>> {
    let Some(lb) = s.block(number)? else { return Ok(None) };
    let txs = if full { Some(convert::decode_txs(&lb, &s.rules)?) } else { None };
    Ok(Some(convert::block(&lb, s.block_form(), txs.as_deref())))
}
