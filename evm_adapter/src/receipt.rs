//! Ethereum-shaped receipts from the runtime's receipts.

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, Bloom, Bytes, Log, logs_bloom};
use lanes_runtime::Receipt;

use crate::evm::EvmReceiptData;
use crate::tx::EvmTx;

/// A receipt with every field an Ethereum client expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmReceipt {
    /// Transaction hash.
    pub tx_hash: B256,
    /// 1 success, 0 failure (revert or exceptional halt).
    pub status: bool,
    /// Gas used by this transaction.
    pub gas_used: u64,
    /// Gas used by this and the earlier transactions of the block.
    pub cumulative_gas_used: u64,
    /// Logs, in order.
    pub logs: Vec<Log>,
    /// Bloom filter of the logs.
    pub logs_bloom: Bloom,
    /// The contract a creation made.
    pub contract_address: Option<Address>,
    /// Price per gas actually paid: `min(max_fee, base_fee + priority_fee)`,
    /// or the gas price of a legacy or EIP-2930 transaction.
    pub effective_gas_price: u128,
    /// Return data, or revert data for a failed call (what `eth_call` reports).
    pub output: Bytes,
}

impl EvmReceipt {
    /// Builds the receipt of `tx`, run in a block with `base_fee`.
    /// `None` if `receipt` was not made by the EVM executor.
    pub fn new(receipt: &Receipt, tx: &EvmTx, base_fee: u64) -> Option<Self> {
        let data = EvmReceiptData::from_outcome(&receipt.outcome)?;
        let logs: Vec<Log> =
            data.logs.into_iter().map(|(a, topics, d)| Log::new_unchecked(a, topics, d)).collect();
        Some(Self {
            tx_hash: receipt.tx_hash,
            status: receipt.outcome.success,
            gas_used: receipt.outcome.gas_used,
            cumulative_gas_used: receipt.cumulative_gas_used,
            logs_bloom: logs_bloom(&logs),
            logs,
            contract_address: data.created,
            effective_gas_price: tx.envelope().effective_gas_price(Some(base_fee)),
            output: data.output,
        })
    }
}
