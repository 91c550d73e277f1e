//! The answers of the `lanes_*` methods. The node serialises them and the
//! load generator (or any Rust client) deserialises them, so both sides share
//! one definition of the JSON shape.

use alloy_primitives::{B256, U64};
use serde::{Deserialize, Serialize};

/// `lanes_stats`: totals over the blocks the node produced since it started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    /// The served head's number.
    pub head: u64,
    /// Transactions waiting in the pool.
    pub pool: u64,
    /// Blocks produced.
    pub blocks: u64,
    /// Transactions included.
    pub transactions: u64,
    /// Entries recorded.
    pub entries: u64,
    /// Transactions per entry over those blocks (0 before the first entry).
    pub mean_entry_width: f64,
    /// Transactions that ran in the exclusive lane.
    pub exclusive: u64,
    /// Transactions included under the access list they declared.
    #[serde(default)]
    pub declared: u64,
    /// Transactions included under a set known from state (value transfers).
    #[serde(default)]
    pub known: u64,
    /// Transactions included under a predicted set.
    #[serde(default)]
    pub predicted: u64,
    /// Times a transaction left the set it ran with and was predicted again
    /// or sent to the exclusive lane.
    #[serde(default)]
    pub mispredicted: u64,
    /// Of the transactions included under a predicted set, those whose
    /// first prediction held: it covered everything they read and wrote.
    #[serde(default)]
    pub predictions_held: u64,
    /// Of the transactions included under a predicted set, those whose set
    /// locked a key they did not touch (over-predicted), judged by what
    /// each did (the blocks' access lists are made of the same record).
    #[serde(default)]
    pub over_predicted: u64,
    /// Times the scheduler held a transaction back for a conflict.
    pub conflicts: u64,
    /// Transactions dropped at execution.
    pub rejected: u64,
    /// The last block produced, `null` before the first.
    pub last_block: Option<LastBlockStats>,
}

/// Where an acknowledged transaction is, in `lanes_transactionStatus`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionStatus {
    /// `included`, `pending`, `dropped` or `unknown`.
    pub status: String,
    /// The block that holds it (`included`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<U64>,
    /// Why it was dropped (`dropped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The figures of one produced block, in `lanes_stats`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastBlockStats {
    /// Block number.
    pub number: u64,
    /// Transactions included.
    pub transactions: u64,
    /// Entries recorded.
    pub entries: u64,
    /// Transactions per entry.
    pub mean_entry_width: f64,
    /// Transactions that ran in the exclusive lane.
    pub exclusive: u64,
    /// Times the scheduler held a transaction back for a conflict.
    pub conflicts: u64,
    /// Transactions dropped at execution.
    pub rejected: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Sender recovery time, in ms: summed over the stage's sigverify threads
    /// and the RPC tasks that recovered the senders of the transactions they
    /// received.
    pub sigverify_ms: f64,
    /// Scheduler thread time, in ms.
    pub scheduler_ms: f64,
    /// Execution time summed over the workers, in ms.
    pub workers_ms: f64,
    /// Time to seal and commit the block, in ms.
    pub seal_ms: f64,
}

/// `lanes_getBlockEntries`: how a block's transactions were grouped into
/// entries (parallel lanes or the exclusive one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockEntries {
    /// Block number.
    pub number: U64,
    /// Block hash.
    pub hash: B256,
    /// Transactions in the block.
    pub transactions: u64,
    /// The entries, in execution order.
    pub entries: Vec<BlockEntry>,
}

/// One entry of a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockEntry {
    /// Ran alone, in the exclusive lane.
    pub exclusive: bool,
    /// Transactions in the entry.
    pub width: u64,
    /// Their hashes, in block order.
    pub transactions: Vec<B256>,
    /// Where each one's set came from, in the same order: `declared` (its
    /// access list), `known` (from state), `predicted`, or `exclusive` (no
    /// set: it ran alone).
    #[serde(default)]
    pub sources: Vec<SetSource>,
    /// Each transaction's lane, in the same order, where a lane holds more
    /// than one (they ran one after another on one thread); omitted where
    /// each ran in a lane of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lanes: Vec<u32>,
}

/// Where a transaction's set came from, in `lanes_getBlockEntries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SetSource {
    /// Its EIP-2930 access list (or its creation).
    Declared,
    /// Known from state: a value transfer to an account without code.
    Known,
    /// Predicted by running it.
    Predicted,
    /// None: it ran alone in the exclusive lane.
    Exclusive,
}

impl From<lanes_runtime::AccessSource> for SetSource {
    fn from(source: lanes_runtime::AccessSource) -> Self {
        use lanes_runtime::AccessSource;
        match source {
            AccessSource::Declared => Self::Declared,
            AccessSource::Known => Self::Known,
            AccessSource::Predicted => Self::Predicted,
            _ => Self::Exclusive,
        }
    }
}

/// A JSON-RPC number as dev tools send it: a hex quantity (`"0x10"`), a
/// decimal string, or a JSON number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(pub u64);

impl Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(t) => {
                let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => t.parse(),
                };
                parsed.map(Self).map_err(|_| {
                    serde::de::Error::custom(format!("`{t}` is not a number (hex or decimal)"))
                })
            }
        }
    }
}

/// `evm_mine`'s parameter, as anvil takes it: a timestamp, or
/// A block as Otterscan and anvil's `ots_*` methods take it: a JSON number,
/// a hex quantity, or a tag (`latest`, `earliest`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LenientBlock(pub alloy_eips::BlockNumberOrTag);

impl<'de> Deserialize<'de> for LenientBlock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Tag(alloy_eips::BlockNumberOrTag),
        }
        Ok(Self(match Raw::deserialize(d)? {
            Raw::Number(n) => alloy_eips::BlockNumberOrTag::Number(n),
            Raw::Tag(tag) => tag,
        }))
    }
}

/// `{"timestamp": t, "blocks": n}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MineOptions {
    /// How many blocks, the first one stamped `timestamp`.
    Options {
        /// The first block's timestamp.
        #[serde(default)]
        timestamp: Option<Quantity>,
        /// How many blocks (default 1).
        #[serde(default)]
        blocks: Option<Quantity>,
    },
    /// One block with this timestamp.
    Timestamp(Quantity),
}

/// A storage slot as `eth_getStorageAt` takes it: a hex quantity of at
/// most 32 bytes, leading zeros allowed (`0x0`, `0x01`, a 64-digit key).
/// A longer key is refused (-32602) as geth refuses it, not cut to 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageSlot(pub alloy_primitives::U256);

impl Serialize for StorageSlot {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        B256::from(self.0).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StorageSlot {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SlotVisitor)
    }
}

/// Reads a [`StorageSlot`] from a hex string, or a JSON number.
struct SlotVisitor;

impl serde::de::Visitor<'_> for SlotVisitor {
    type Value = StorageSlot;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a storage key: a 0x-prefixed hex string of at most 32 bytes")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StorageSlot, E> {
        Ok(StorageSlot(alloy_primitives::U256::from(v)))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<StorageSlot, E> {
        let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
        let digits = digits.ok_or_else(|| E::custom("hex string without 0x prefix"))?;
        if digits.len() > 64 {
            let why = format!("storage key too long (want at most 32 bytes): {text:?}");
            return Err(E::custom(why));
        }
        let digits = if digits.is_empty() { "0" } else { digits };
        alloy_primitives::U256::from_str_radix(digits, 16)
            .map(StorageSlot)
            .map_err(|e| E::custom(format!("storage key {text:?}: {e}")))
    }
}

/// `eth_config` (EIP-7910): the fork in force at the head, the next one
/// scheduled and the last one scheduled (`null` where none is ahead).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EthConfig {
    /// In force at the head.
    pub current: ForkConfig,
    /// The next fork after the head's time.
    pub next: Option<ForkConfig>,
    /// The last fork scheduled, where it is after the head's time.
    pub last: Option<ForkConfig>,
}

/// One fork of [`EthConfig`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForkConfig {
    /// When it starts (0: from genesis, or a fork that starts at a block).
    pub activation_time: u64,
    /// Its blob schedule; `null` before Cancun.
    pub blob_schedule: Option<BlobSchedule>,
    /// The chain id.
    pub chain_id: U64,
    /// The chain's EIP-2124 fork hash from its start on.
    pub fork_id: alloy_primitives::FixedBytes<4>,
    /// Its precompiles by EIP-7910's names.
    pub precompiles: std::collections::BTreeMap<String, alloy_primitives::Address>,
    /// Its system contracts by EIP-7910's names.
    pub system_contracts: std::collections::BTreeMap<String, alloy_primitives::Address>,
}

/// A fork's blob schedule in [`ForkConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobSchedule {
    /// Blobs a block aims at.
    pub target: u64,
    /// Most blobs a block holds.
    pub max: u64,
    /// The blob base fee's update fraction.
    pub base_fee_update_fraction: u64,
}

/// `eth_capabilities`: what history the node serves, for a router choosing
/// a node (execution-apis' schema).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The served head.
    pub head: CapabilityHead,
    /// State at older blocks (`eth_getBalance`, `eth_call`, ... at a block).
    pub state: Capability,
    /// Transactions by hash.
    pub tx: Capability,
    /// Logs.
    pub logs: Capability,
    /// Receipts.
    pub receipts: Capability,
    /// Block bodies.
    pub blocks: Capability,
    /// `eth_getProof`.
    pub stateproofs: Capability,
}

/// [`Capabilities::head`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityHead {
    /// Its number.
    pub number: U64,
    /// Its hash.
    pub hash: B256,
}

/// One kind of data in [`Capabilities`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    /// Not served at all.
    pub disabled: bool,
    /// The oldest block it is served for (absent when disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_block: Option<U64>,
    /// How older blocks' data goes (absent: kept for good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_strategy: Option<DeleteStrategy>,
}

/// [`Capability::delete_strategy`]: a window of the newest blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteStrategy {
    /// `window`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Blocks the window keeps.
    pub retention_blocks: U64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_stats_keep_their_json_keys() {
        let stats =
            NodeStats { last_block: Some(LastBlockStats::default()), ..NodeStats::default() };
        let json = serde_json::to_value(&stats).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&json),
            [
                "blocks",
                "conflicts",
                "declared",
                "entries",
                "exclusive",
                "head",
                "known",
                "lastBlock",
                "meanEntryWidth",
                "mispredicted",
                "overPredicted",
                "pool",
                "predicted",
                "predictionsHeld",
                "rejected",
                "transactions"
            ]
        );
        assert_eq!(
            keys(&json["lastBlock"]),
            [
                "conflicts",
                "entries",
                "exclusive",
                "gasUsed",
                "meanEntryWidth",
                "number",
                "rejected",
                "schedulerMs",
                "sealMs",
                "sigverifyMs",
                "transactions",
                "workersMs"
            ]
        );
        assert_eq!(json["head"], 0, "plain numbers, not hex");
        assert_eq!(serde_json::from_value::<NodeStats>(json).unwrap(), stats);
        let none = serde_json::to_value(NodeStats::default()).unwrap();
        assert!(none["lastBlock"].is_null());
    }

    #[test]
    fn test_quantities_and_mine_options_parse_as_dev_tools_send_them() {
        let q = |v: serde_json::Value| serde_json::from_value::<Quantity>(v).map(|q| q.0).ok();
        assert_eq!(q(serde_json::json!("0x10")), Some(16));
        assert_eq!(q(serde_json::json!("16")), Some(16));
        assert_eq!(q(serde_json::json!(16)), Some(16));
        assert_eq!(q(serde_json::json!("ten")), None);
        let m = |v: serde_json::Value| serde_json::from_value::<MineOptions>(v).unwrap();
        assert_eq!(m(serde_json::json!(5)), MineOptions::Timestamp(Quantity(5)));
        assert_eq!(
            m(serde_json::json!({"timestamp": "0x64", "blocks": 2})),
            MineOptions::Options { timestamp: Some(Quantity(100)), blocks: Some(Quantity(2)) }
        );
    }

    #[test]
    fn test_block_entries_json() {
        let entries = BlockEntries {
            number: U64::from(5),
            hash: B256::repeat_byte(1),
            transactions: 2,
            entries: vec![BlockEntry {
                exclusive: false,
                width: 2,
                transactions: vec![B256::repeat_byte(2), B256::repeat_byte(3)],
                sources: vec![SetSource::Known, SetSource::Predicted],
                lanes: vec![],
            }],
        };
        let json = serde_json::to_value(&entries).unwrap();
        assert_eq!(json["number"], "0x5");
        assert_eq!(json["transactions"], 2);
        assert_eq!(json["entries"][0]["width"], 2);
        assert_eq!(json["entries"][0]["exclusive"], false);
        assert_eq!(json["entries"][0]["sources"], serde_json::json!(["known", "predicted"]));
        assert_eq!(serde_json::from_value::<BlockEntries>(json).unwrap(), entries);
    }
}

/// The Engine API's payload attributes (V3): what a block is built from
/// (`testing_buildBlockV1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadAttributes {
    /// The block's time.
    #[serde(with = "alloy_serde::quantity")]
    pub timestamp: u64,
    /// Its PREVRANDAO.
    pub prev_randao: B256,
    /// Who its fees go to.
    pub suggested_fee_recipient: alloy_primitives::Address,
    /// The withdrawals it credits (from Shanghai).
    #[serde(default)]
    pub withdrawals: Option<Vec<alloy_eips::eip4895::Withdrawal>>,
    /// The beacon root EIP-4788 stores (from Cancun).
    #[serde(default)]
    pub parent_beacon_block_root: Option<B256>,
}
