//! What the explorer decodes with ([`Abis`]): the compiled contracts of a
//! verified-source folder (`--explorer-abis`: foundry's `out/`, hardhat's
//! `artifacts/`, or any folder of JSON files with an `abi`), matched to an
//! address by its code, and the selectors and event topics of every ABI
//! there and of the common token standards.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use alloy_json_abi::{Event, Function, JsonAbi};
use alloy_primitives::B256;
use serde_json::Value;

use crate::error::NodeError;

/// Most JSON files one folder may hold for [`Abis::load`].
pub const MAX_ARTIFACT_FILES: usize = 20_000;
/// Largest artifact file read; larger ones are skipped.
pub const MAX_ARTIFACT_BYTES: u64 = 32 * 1024 * 1024;
/// Deepest folder [`Abis::load`] walks into.
const MAX_DEPTH: usize = 12;

/// ERC-20, ERC-721, ERC-1155, WETH and Ownable: decoded on any chain,
/// without a verified source.
const STANDARD: &[&str] = &[
    "function transfer(address to, uint256 value) returns (bool)",
    "function transferFrom(address from, address to, uint256 value) returns (bool)",
    "function approve(address spender, uint256 value) returns (bool)",
    "function balanceOf(address owner) view returns (uint256)",
    "function allowance(address owner, address spender) view returns (uint256)",
    "function totalSupply() view returns (uint256)",
    "function safeTransferFrom(address from, address to, uint256 tokenId)",
    "function setApprovalForAll(address operator, bool approved)",
    "function deposit() payable",
    "function withdraw(uint256 wad)",
    "function transferOwnership(address newOwner)",
    "event Transfer(address indexed from, address indexed to, uint256 value)",
    "event Approval(address indexed owner, address indexed spender, uint256 value)",
    "event ApprovalForAll(address indexed owner, address indexed operator, bool approved)",
    "event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value)",
    "event Deposit(address indexed dst, uint256 wad)",
    "event Withdrawal(address indexed src, uint256 wad)",
    "event OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",
];

/// One compiled contract of the folder.
#[derive(Debug)]
struct Artifact {
    name: String,
    /// Relative to the folder.
    file: String,
    abi: Value,
    /// Its runtime code, with the byte ranges of its immutables, which a
    /// deployment fills in.
    code: Vec<u8>,
    immutables: Vec<(usize, usize)>,
}

/// The verified sources and signatures the node decodes with.
#[derive(Debug, Default)]
pub struct Abis {
    artifacts: Vec<Artifact>,
    /// Artifacts by runtime code length.
    by_len: HashMap<usize, Vec<usize>>,
    /// ABI entries by 4-byte selector or 32-byte topic, hex.
    signatures: BTreeMap<String, Vec<Value>>,
}

impl Abis {
    /// The common standards' signatures, no verified source.
    pub fn standard() -> Self {
        let mut abis = Self::default();
        for line in STANDARD {
            if let Ok(f) = Function::parse(line) {
                abis.note(hex(f.selector().as_slice()), serde_json::to_value(&f));
            } else if let Ok(e) = Event::parse(line) {
                abis.note(hex(e.selector().as_slice()), serde_json::to_value(&e));
            }
        }
        abis
    }

    /// [`Self::standard`] and every artifact under `dirs`; a folder that
    /// cannot be read, or one with more than [`MAX_ARTIFACT_FILES`] JSON
    /// files, is an error naming it. Files that are not artifacts are
    /// skipped.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, NodeError> {
        let mut abis = Self::standard();
        for dir in dirs {
            let mut files = Vec::new();
            walk(dir, 0, &mut files)?;
            for file in files {
                let Ok(meta) = std::fs::metadata(&file) else { continue };
                if meta.len() > MAX_ARTIFACT_BYTES {
                    continue;
                }
                let Ok(bytes) = std::fs::read(&file) else { continue };
                let Ok(json) = serde_json::from_slice::<Value>(&bytes) else { continue };
                let relative = file.strip_prefix(dir).unwrap_or(&file).display().to_string();
                if let Some(artifact) = artifact(&json, &file, relative) {
                    abis.add(artifact);
                }
            }
        }
        tracing::info!(target: "lanes::explorer", contracts = abis.artifacts.len(), signatures = abis.signatures.len(), "verified sources loaded");
        Ok(abis)
    }

    fn add(&mut self, artifact: Artifact) {
        if let Ok(abi) = serde_json::from_value::<JsonAbi>(artifact.abi.clone()) {
            for f in abi.functions() {
                self.note(hex(f.selector().as_slice()), serde_json::to_value(f));
            }
            for e in abi.events() {
                self.note(hex(e.selector().as_slice()), serde_json::to_value(e));
            }
            for e in abi.errors() {
                self.note(hex(e.selector().as_slice()), serde_json::to_value(e));
            }
        }
        if !artifact.code.is_empty() {
            self.by_len.entry(artifact.code.len()).or_default().push(self.artifacts.len());
        }
        self.artifacts.push(artifact);
    }

    fn note(&mut self, id: String, item: serde_json::Result<Value>) {
        let Ok(item) = item else { return };
        let known = self.signatures.entry(id).or_default();
        if !known.contains(&item) {
            known.push(item);
        }
    }

    /// The contract whose runtime code is `code` (its immutables aside):
    /// name, artifact file and ABI.
    pub fn contract(&self, code: &[u8]) -> Option<(&str, &str, &Value)> {
        let candidates = self.by_len.get(&code.len())?;
        candidates.iter().map(|&i| &self.artifacts[i]).find_map(|a| {
            let mut at = 0;
            for &(start, len) in &a.immutables {
                if code.get(at..start)? != a.code.get(at..start)? {
                    return None;
                }
                at = start + len;
            }
            (code.get(at..)? == a.code.get(at..)?).then_some((
                a.name.as_str(),
                a.file.as_str(),
                &a.abi,
            ))
        })
    }

    /// The ABI entries of each of `ids` (selectors or topics) known.
    pub fn lookup<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a [u8]>,
    ) -> BTreeMap<String, Vec<Value>> {
        ids.into_iter()
            .filter(|id| id.len() == 4 || id.len() == B256::len_bytes())
            .filter_map(|id| {
                let key = hex(id);
                self.signatures.get(&key).map(|items| (key, items.clone()))
            })
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(bytes))
}

/// Every `.json` file under `dir`, at most [`MAX_ARTIFACT_FILES`].
fn walk(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) -> Result<(), NodeError> {
    let entries = std::fs::read_dir(dir).map_err(|source| NodeError::Io {
        what: format!("reading the verified-source folder {} (--explorer-abis)", dir.display()),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() && depth < MAX_DEPTH {
            // Build caches and debug files are not artifacts.
            if entry.file_name() != "build-info" && entry.file_name() != "node_modules" {
                walk(&path, depth + 1, files)?;
            }
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "json") {
            if files.len() == MAX_ARTIFACT_FILES {
                return Err(NodeError::Config(format!(
                    "{} holds more than {MAX_ARTIFACT_FILES} JSON files (--explorer-abis): give the folder of the compiled contracts",
                    dir.display()
                )));
            }
            files.push(path);
        }
    }
    Ok(())
}

/// An artifact from a compiler's JSON output: hardhat's (`deployedBytecode`
/// a hex string), foundry's (`deployedBytecode.object`, with
/// `immutableReferences`), or any object with an `abi` array.
fn artifact(json: &Value, file: &Path, relative: String) -> Option<Artifact> {
    let abi = json.get("abi").filter(|a| a.is_array())?.clone();
    let name = json
        .get("contractName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()))?;
    let deployed = json.get("deployedBytecode");
    let code_hex = deployed
        .and_then(|d| d.as_str().or_else(|| d.get("object").and_then(Value::as_str)))
        .unwrap_or_default();
    // A library placeholder (`__$…$__`) leaves code that cannot match.
    let code = alloy_primitives::hex::decode(code_hex).unwrap_or_default();
    let mut immutables: Vec<(usize, usize)> = deployed
        .and_then(|d| d.get("immutableReferences"))
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|refs| refs.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|r| {
            Some((r.get("start")?.as_u64()? as usize, r.get("length")?.as_u64()? as usize))
        })
        .collect();
    immutables.sort_unstable();
    Some(Artifact { name, file: relative, abi, code, immutables })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifacts() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/artifacts")
    }

    #[test]
    fn test_a_hardhat_artifact_is_matched_by_its_code_and_standards_are_known() {
        let abis = Abis::load(&[artifacts()]).unwrap();
        let json: Value =
            serde_json::from_slice(&std::fs::read(artifacts().join("Token.json")).unwrap())
                .unwrap();
        let code =
            alloy_primitives::hex::decode(json["deployedBytecode"].as_str().unwrap()).unwrap();
        let (name, file, abi) = abis.contract(&code).expect("the token's code matches");
        assert_eq!((name, file), ("Token", "Token.json"));
        assert_eq!(abi, &json["abi"]);
        let mut other = code.clone();
        other[10] ^= 1;
        assert!(abis.contract(&other).is_none(), "other code is not the token");
        // transfer(address,uint256) and Transfer's topic; an unknown selector left out.
        let transfer = alloy_primitives::hex::decode("a9059cbb").unwrap();
        let topic = alloy_primitives::keccak256("Transfer(address,address,uint256)".as_bytes());
        let found = abis.lookup([transfer.as_slice(), topic.as_slice(), &[1, 2, 3, 4][..]]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found["0xa9059cbb"][0]["name"], "transfer");
        assert_eq!(found[&hex(topic.as_slice())][0]["type"], "event");
    }

    #[test]
    fn test_a_foundry_artifact_matches_whatever_its_immutables_hold() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("Vault.sol");
        std::fs::create_dir_all(&out).unwrap();
        let artifact = serde_json::json!({
            "abi": [{"type": "function", "name": "owner", "inputs": [], "outputs": [{"type": "address", "name": ""}], "stateMutability": "view"}],
            "deployedBytecode": {"object": "0x6080600000000000ff", "immutableReferences": {"7": [{"start": 2, "length": 4}]}},
        });
        std::fs::write(out.join("Vault.json"), artifact.to_string()).unwrap();
        std::fs::write(dir.path().join("notes.json"), "not an artifact").unwrap();
        let abis = Abis::load(&[dir.path().to_path_buf()]).unwrap();
        let deployed = alloy_primitives::hex::decode("6080deadbeef0000ff").unwrap();
        let (name, file, _) = abis.contract(&deployed).expect("matched with its immutables filled");
        assert_eq!(name, "Vault");
        assert_eq!(file, Path::new("Vault.sol").join("Vault.json").display().to_string());
        let changed = alloy_primitives::hex::decode("6080deadbeef0001ff").unwrap();
        assert!(abis.contract(&changed).is_none(), "a byte outside the immutables differs");
    }

    #[test]
    fn test_a_missing_folder_is_named() {
        let e = Abis::load(&[PathBuf::from("/nonexistent/out")]).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/out") && e.contains("--explorer-abis"), "{e}");
    }
}
