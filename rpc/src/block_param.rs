//! Block parameters as Hardhat, anvil and geth take them: [`BlockParam`]
//! (a block id) and [`BlockTag`] (a number or tag). Besides alloy's forms (a
//! tag, a hex quantity, a 32-byte hash, an EIP-1898 object) both take a
//! plain JSON number, as Hardhat's node does (`eth_getBlockByNumber [350,
//! false]`), and an EIP-1898 object's `blockNumber` may be one too.

use alloy_eips::{BlockId, BlockNumberOrTag};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A block named by a tag, a number (hex quantity or JSON number), a hash,
/// or an EIP-1898 object (`{"blockHash", "requireCanonical"}` or
/// `{"blockNumber"}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BlockParam(pub BlockId);

/// A block named by a tag or a number (hex quantity or JSON number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BlockTag(pub BlockNumberOrTag);

/// A JSON number that fits a u64 as the hex quantity alloy reads; any
/// other value as it is (alloy then says what is wrong with it).
fn as_quantity(value: Value) -> Value {
    match value.as_u64() {
        Some(n) if value.is_number() => Value::String(format!("{n:#x}")),
        _ => value,
    }
}

impl<'de> Deserialize<'de> for BlockParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = as_quantity(Value::deserialize(deserializer)?);
        if let Some(number) = value.as_object_mut().and_then(|o| o.get_mut("blockNumber")) {
            *number = as_quantity(number.take());
        }
        serde_json::from_value(value).map(Self).map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for BlockTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = as_quantity(Value::deserialize(deserializer)?);
        serde_json::from_value(value).map(Self).map_err(D::Error::custom)
    }
}

impl From<BlockId> for BlockParam {
    fn from(id: BlockId) -> Self {
        Self(id)
    }
}

impl From<BlockNumberOrTag> for BlockParam {
    fn from(tag: BlockNumberOrTag) -> Self {
        Self(BlockId::Number(tag))
    }
}

impl From<BlockParam> for BlockId {
    fn from(param: BlockParam) -> Self {
        param.0
    }
}

impl From<BlockNumberOrTag> for BlockTag {
    fn from(tag: BlockNumberOrTag) -> Self {
        Self(tag)
    }
}

impl From<BlockTag> for BlockNumberOrTag {
    fn from(tag: BlockTag) -> Self {
        tag.0
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;

    fn param(json: &str) -> Result<BlockId, serde_json::Error> {
        serde_json::from_str::<BlockParam>(json).map(BlockId::from)
    }

    #[test]
    fn test_every_form_hardhat_and_anvil_take() {
        let n = |n: u64| BlockId::Number(BlockNumberOrTag::Number(n));
        assert_eq!(param("350").unwrap(), n(350));
        assert_eq!(param("\"0x15e\"").unwrap(), n(350));
        assert_eq!(param("\"latest\"").unwrap(), BlockId::latest());
        assert_eq!(param("\"pending\"").unwrap(), BlockId::pending());
        assert_eq!(param(r#"{"blockNumber": 7}"#).unwrap(), n(7));
        assert_eq!(param(r#"{"blockNumber": "0x7"}"#).unwrap(), n(7));
        let hash = B256::repeat_byte(0xab);
        let object = format!(r#"{{"blockHash": "{hash}", "requireCanonical": true}}"#);
        assert_eq!(
            param(&object).unwrap(),
            BlockId::Hash(alloy_eips::RpcBlockHash::from_hash(hash, Some(true)))
        );
        assert_eq!(param(&format!("\"{hash}\"")).unwrap(), BlockId::from(hash));
        let tag = |json| serde_json::from_str::<BlockTag>(json).map(BlockNumberOrTag::from);
        assert_eq!(tag("350").unwrap(), BlockNumberOrTag::Number(350));
        assert_eq!(tag("\"earliest\"").unwrap(), BlockNumberOrTag::Earliest);
    }

    #[test]
    fn test_what_names_no_block_is_refused() {
        for bad in ["-1", "1.5", "\"350\"", "true", "{}", r#"{"blockNumber": -2}"#] {
            assert!(param(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<BlockTag>("\"0xzz\"").is_err());
        // Written back as alloy writes a block id, for clients.
        let json = serde_json::to_string(&BlockParam::from(BlockNumberOrTag::Number(350))).unwrap();
        assert_eq!(json, "\"0x15e\"");
    }
}
