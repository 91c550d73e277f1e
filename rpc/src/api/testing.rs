//! `testing_*`: geth's testing namespace (execution-apis'
//! `testing_buildBlockV1`): a block built on a parent and handed back,
//! nothing kept.

use alloy_primitives::{B256, Bytes};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use crate::types::PayloadAttributes;

/// The `testing` namespace.
#[rpc(server, client, namespace = "testing")]
pub trait TestingApi {
    /// Builds the child of block `parent` as a proposer would: from
    /// `attributes` (time, PREVRANDAO, fee recipient, withdrawals, beacon
    /// root), holding `transactions` (signed, raw) in order — each must
    /// apply — or, where `null`, the pool's pending transactions that apply;
    /// `extra_data` its extra data. Nothing is kept. Answers the Engine
    /// API's payload envelope: `executionPayload`, `blockValue`,
    /// `blobsBundle`, `executionRequests`, `shouldOverrideBuilder`.
    #[method(name = "buildBlockV1", blocking)]
    fn build_block_v1(
        &self,
        parent: B256,
        attributes: PayloadAttributes,
        transactions: Option<Vec<Bytes>>,
        extra_data: Option<Bytes>,
    ) -> RpcResult<serde_json::Value>;
}
