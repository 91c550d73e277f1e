//! The typed answers of the `lanes_*` methods the explorer page draws from:
//! how a block's transactions ran ([`BlockLanes`]), one transaction's set
//! ([`TransactionSet`]) and what a verified-source folder says of a contract
//! ([`ContractAbi`]).

use alloy_primitives::{Address, B256, U64};
use serde::{Deserialize, Serialize};

use crate::types::SetSource;

/// `lanes_getBlockLanes`: a block's entries, each a row of lanes that ran
/// side by side, with what made each transaction wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockLanes {
    /// Block number.
    pub number: U64,
    /// Block hash.
    pub hash: B256,
    /// Gas used by the block.
    pub gas_used: U64,
    /// Whether this node built the block recently, so that each
    /// transaction's [`LaneTx::run`] is known.
    pub runs_known: bool,
    /// The keys the waits and hot keys name, by position.
    pub keys: Vec<KeyView>,
    /// The entries, in execution order.
    pub entries: Vec<LaneEntry>,
    /// The transactions, in block order.
    pub transactions: Vec<LaneTx>,
    /// The keys that held most transactions back, most first (at most
    /// [`MAX_HOT_KEYS`]).
    pub hot_keys: Vec<HotKey>,
}

/// Most keys [`BlockLanes::hot_keys`] lists.
pub const MAX_HOT_KEYS: usize = 20;
/// Most earlier transactions one [`LaneTx::waits`] names.
pub const MAX_WAITS_PER_TX: usize = 16;
/// Most keys one [`Wait`] names.
pub const MAX_KEYS_PER_WAIT: usize = 8;

/// One state key: an account's header, one storage slot, or every slot of
/// an address (the coarse lock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// `account`, `storage` or `allStorage`.
    pub kind: KeyKind,
    /// The address the key belongs to.
    pub address: Address,
    /// The slot, for a `storage` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<B256>,
}

/// What a [`KeyView`] covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyKind {
    /// Nonce, balance and code hash.
    Account,
    /// One storage slot.
    Storage,
    /// Every storage slot of the address.
    AllStorage,
}

/// One entry of [`BlockLanes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaneEntry {
    /// Its one transaction ran alone, holding every key.
    pub exclusive: bool,
    /// Its lanes, side by side; a lane's transactions ran one after another.
    pub lanes: Vec<Lane>,
}

/// One lane of a [`LaneEntry`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lane {
    /// Positions in the block of its transactions, in the order they ran.
    pub transactions: Vec<u32>,
    /// Gas they used.
    pub gas_used: U64,
}

/// How a transaction with a set ran, where the node that built the block
/// knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunNote {
    /// It ran once, under the set it was admitted with.
    Stood,
    /// It left a predicted set, was predicted again against the block so
    /// far and ran again under the new set.
    Reran,
    /// It left its set and ran alone, in the exclusive lane.
    Strayed,
}

/// One transaction of [`BlockLanes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaneTx {
    /// Its hash.
    pub hash: B256,
    /// Its entry's position in [`BlockLanes::entries`].
    pub entry: u32,
    /// Its lane's position in the entry.
    pub lane: u32,
    /// Where its set came from.
    pub source: SetSource,
    /// How it ran; `None` where the block was not built by this node since
    /// it started (imported, replayed, or built by another validator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunNote>,
    /// Gas it used.
    pub gas_used: U64,
    /// Keys its set read, and wrote.
    pub reads: u32,
    /// Keys its set wrote.
    pub writes: u32,
    /// The earlier transactions of the block it had to wait for (a key one
    /// wrote that the other touched), nearest first.
    pub waits: Vec<Wait>,
}

/// One transaction a [`LaneTx`] waited for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wait {
    /// The earlier transaction's position in the block.
    pub on: u32,
    /// The keys they shared, positions in [`BlockLanes::keys`].
    pub keys: Vec<u32>,
}

/// A key of [`BlockLanes::hot_keys`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HotKey {
    /// Its position in [`BlockLanes::keys`].
    pub key: u32,
    /// Transactions whose set held it.
    pub transactions: u32,
    /// Of them, those that wrote it.
    pub writers: u32,
    /// Waits it caused.
    pub waits: u32,
}

/// `lanes_getTransactionSet`: the set a transaction ran under and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionSet {
    /// Its block's number.
    pub block_number: U64,
    /// Its block's hash.
    pub block_hash: B256,
    /// Its position in the block.
    pub index: u32,
    /// Its entry's position in the block.
    pub entry: u32,
    /// Its lane's position in the entry.
    pub lane: u32,
    /// Whether it ran alone.
    pub exclusive: bool,
    /// Where its set came from.
    pub source: SetSource,
    /// How it ran, where known ([`LaneTx::run`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunNote>,
    /// The keys its set read.
    pub reads: Vec<KeyView>,
    /// The keys its set wrote.
    pub writes: Vec<KeyView>,
    /// The earlier transactions of its block it waited for
    /// ([`LaneTx::waits`]), with their hashes and the keys behind each.
    pub waits: Vec<TxWait>,
}

/// One transaction a [`TransactionSet`] waited for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxWait {
    /// The earlier transaction's position in the block.
    pub on: u32,
    /// Its hash.
    pub hash: B256,
    /// The keys they shared.
    pub keys: Vec<KeyView>,
}

/// `lanes_getContractAbi`: the contract at an address, as the node's
/// verified-source folder (`--explorer-abis`) knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractAbi {
    /// The contract's name.
    pub name: String,
    /// The artifact it was matched to, relative to the folder.
    pub artifact: String,
    /// Its ABI (Solidity's JSON form).
    pub abi: serde_json::Value,
}
