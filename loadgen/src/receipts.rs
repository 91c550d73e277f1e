//! Acknowledged receipts: the soak (`soak.rs`) appends one JSON line per
//! receipt a node served it, and `lanes-loadgen verify-receipts` checks a
//! node still serves each in the same block.
//!
//! A line is written (one `write` per poll, no user-space buffer) as soon as
//! the receipts arrive, so a crash of the load generator loses none it had;
//! a torn last line is skipped on reading.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use alloy_primitives::{B256, U64};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::wire::hex;
use lanes_rpc::client::{ClientError, RpcClient};

/// Calls per batch when checking receipts.
const CHECK_BATCH: usize = 500;
/// Examples of lost receipts a report names.
const EXAMPLES: usize = 20;

/// A receipts file that cannot be read or written, or a node that does not
/// answer the check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptsError {
    /// The file could not be opened for appending.
    #[error("opening {}: {source}", path.display())]
    Open {
        /// The receipts file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Receipts could not be appended.
    #[error("writing receipts to {}: {source}", path.display())]
    Write {
        /// The receipts file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A receipt could not be encoded as JSON.
    #[error("encoding a receipt: {0}")]
    Encode(#[source] serde_json::Error),
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The receipts file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The node did not answer the check.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// One receipt a node served: the transaction, where it was included, who
/// sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckedReceipt {
    /// The transaction hash.
    pub hash: B256,
    /// The block that included it.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// 1 success, 0 failure.
    pub status: u64,
    /// The sender's index in the plan.
    pub sender: u32,
    /// The transaction's nonce.
    pub nonce: u64,
}

/// A receipt as `eth_getTransactionReceipt` answers it (the fields checked).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServedReceipt {
    pub(crate) block_number: U64,
    pub(crate) block_hash: B256,
    pub(crate) status: Option<U64>,
}

/// Appends receipts to a file as they arrive.
pub(crate) struct ReceiptLog {
    file: std::fs::File,
    path: PathBuf,
}

impl ReceiptLog {
    pub(crate) fn open(path: &Path) -> Result<Self, ReceiptsError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| ReceiptsError::Open { path: path.into(), source })?;
        Ok(Self { file, path: path.into() })
    }

    /// Writes `receipts` in one `write` call.
    pub(crate) fn append(&mut self, receipts: &[AckedReceipt]) -> Result<(), ReceiptsError> {
        if receipts.is_empty() {
            return Ok(());
        }
        let mut lines = String::new();
        for r in receipts {
            lines.push_str(&serde_json::to_string(r).map_err(ReceiptsError::Encode)?);
            lines.push('\n');
        }
        self.file
            .write_all(lines.as_bytes())
            .map_err(|source| ReceiptsError::Write { path: self.path.clone(), source })
    }
}

/// The receipts in a file, in the order written; a line that does not parse
/// (a torn last line) is counted, not fatal.
pub fn read(path: &Path) -> Result<(Vec<AckedReceipt>, usize), ReceiptsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ReceiptsError::Read { path: path.into(), source })?;
    let mut receipts = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(r) => receipts.push(r),
            Err(_) => bad += 1,
        }
    }
    Ok((receipts, bad))
}

/// What became of one acknowledged receipt.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LostReceipt {
    /// The receipt as first served.
    pub acked: AckedReceipt,
    /// Where the node now puts it (`None`: no receipt at all).
    pub now: Option<(u64, B256)>,
    /// Why it counts as lost.
    pub why: String,
}

/// The outcome of checking a receipts file against a node.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Distinct transactions acknowledged.
    pub acknowledged: u64,
    /// Lines that did not parse (a torn last line).
    pub unreadable_lines: u64,
    /// Acknowledged, and the node has no receipt any more.
    pub gone: u64,
    /// Acknowledged, and now in another block (or served twice in two).
    pub moved: u64,
    /// `gone + moved`.
    pub lost: u64,
    /// Blocks the receipts name.
    pub blocks: u64,
    /// The highest of them.
    pub highest_block: u64,
    /// Up to 20 of the lost.
    pub examples: Vec<LostReceipt>,
}

#[derive(Deserialize)]
struct BlockHash {
    hash: B256,
}

/// Checks that `client`'s node serves every receipt in `path` in the same
/// block (number and hash), and that each such block is still the one at
/// its number.
pub async fn verify(client: &RpcClient, path: &Path) -> Result<Verification, ReceiptsError> {
    let (lines, bad) = read(path)?;
    let mut v = Verification { unreadable_lines: bad as u64, ..Default::default() };
    let mut first: HashMap<B256, AckedReceipt> = HashMap::new();
    let mut order = Vec::new();
    let mut counted: HashSet<B256> = HashSet::new();
    let mut lost = |v: &mut Verification, acked: &AckedReceipt, now, why: String, moved| {
        if !counted.insert(acked.hash) {
            return;
        }
        if moved {
            v.moved += 1;
        } else {
            v.gone += 1;
        }
        v.lost += 1;
        if v.examples.len() < EXAMPLES {
            v.examples.push(LostReceipt { acked: acked.clone(), now, why });
        }
    };
    // The same transaction served twice in two blocks: the node moved it
    // while the soak ran.
    let mut twice = Vec::new();
    for r in lines {
        match first.get(&r.hash) {
            None => {
                order.push(r.hash);
                first.insert(r.hash, r);
            }
            Some(f) if (f.block_number, f.block_hash) != (r.block_number, r.block_hash) => {
                twice.push((f.clone(), (r.block_number, r.block_hash)));
            }
            Some(_) => {}
        }
    }
    for (acked, at) in twice {
        lost(&mut v, &acked, Some(at), "served in two blocks during the run".into(), true);
    }
    v.acknowledged = order.len() as u64;
    for chunk in order.chunks(CHECK_BATCH) {
        let answers = client
            .batch::<Option<ServedReceipt>>(
                "eth_getTransactionReceipt",
                chunk.iter().map(|h| json!([h])),
            )
            .await?;
        for (hash, answer) in chunk.iter().zip(answers) {
            let acked = &first[hash];
            match answer? {
                None => lost(&mut v, acked, None, "no receipt".into(), false),
                Some(now) => {
                    let at = (now.block_number.to::<u64>(), now.block_hash);
                    if at != (acked.block_number, acked.block_hash) {
                        lost(&mut v, acked, Some(at), "in another block".into(), true);
                    }
                }
            }
        }
    }
    // Each block named is still the one at its number.
    let mut blocks: BTreeMap<u64, Vec<&AckedReceipt>> = BTreeMap::new();
    for hash in &order {
        let r = &first[hash];
        blocks.entry(r.block_number).or_default().push(r);
    }
    v.blocks = blocks.len() as u64;
    v.highest_block = blocks.keys().next_back().copied().unwrap_or(0);
    let numbers: Vec<u64> = blocks.keys().copied().collect();
    for chunk in numbers.chunks(100) {
        let answers = client
            .batch::<Option<BlockHash>>(
                "eth_getBlockByNumber",
                chunk.iter().map(|n| json!([hex(*n), false])),
            )
            .await?;
        for (number, answer) in chunk.iter().zip(answers) {
            let now = answer?.map(|b| b.hash);
            for acked in blocks[number].iter().filter(|r| Some(r.block_hash) != now) {
                let why = format!("block {number} is now {now:?}");
                lost(&mut v, acked, now.map(|h| (*number, h)), why, true);
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receipts.jsonl");
        let r = AckedReceipt {
            hash: B256::repeat_byte(1),
            block_number: 7,
            block_hash: B256::repeat_byte(2),
            status: 1,
            sender: 3,
            nonce: 4,
        };
        let mut log = ReceiptLog::open(&path).unwrap();
        log.append(std::slice::from_ref(&r)).unwrap();
        log.append(&[]).unwrap();
        drop(log);
        let mut log = ReceiptLog::open(&path).unwrap();
        log.append(std::slice::from_ref(&r)).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"hash\":\"0x01")
            .unwrap();
        let (read, bad) = read(&path).unwrap();
        assert_eq!(read, vec![r.clone(), r]);
        assert_eq!(bad, 1);
    }
}
