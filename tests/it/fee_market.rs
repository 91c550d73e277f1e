//! The dev node's fee market as anvil's (issue 62): each block's base fee
//! follows EIP-1559 from its parent, seen by web3.py over a run of empty,
//! half-full and full blocks, with `eth_feeHistory` over them equal to
//! anvil's for the same run; `--block-base-fee-per-gas`; and a data folder
//! made when every block kept the genesis's base fee is refused, naming
//! what to do, never replayed to another head.

use std::process::Command;

use alloy_eips::eip1559::{BaseFeeParams, calc_next_block_base_fee};
use alloy_primitives::B256;
use lanes_runtime::{BaseFee, BlockHeader};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::anvil_surface::Anvil;
use crate::validator::{Client, Validator, refused_start, repo_path, script_output};

proptest! {
    /// lanes' rule is alloy's `calc_next_block_base_fee` (what anvil and
    /// reth run) for every parent but a genesis.
    #[test]
    fn test_the_rule_is_alloys(base_fee in 0u64..1 << 62, gas_limit in 0u64..1 << 40, used in 0.0f64..=1.0) {
        let gas_used = (gas_limit as f64 * used) as u64;
        let parent = BlockHeader {
            base_fee, gas_limit, gas_used, parent_hash: B256::repeat_byte(7), ..Default::default()
        };
        let alloy = calc_next_block_base_fee(gas_used, gas_limit, base_fee, BaseFeeParams::ethereum());
        prop_assert_eq!(BaseFee::ETHEREUM.after(&parent), alloy);
    }
}

/// What tests/clients/fee_market.py printed against `url`.
fn fee_market(python: &std::path::Path, url: &str, log: &dyn Fn() -> String) -> Value {
    let mut command = Command::new("python3");
    command.arg(repo_path("tests/clients/fee_market.py")).arg(url).env("PYTHONPATH", python);
    let out =
        script_output(command, "python3", &format!("fee_market.py {url}"), "fee market: ok", log);
    serde_json::from_str(out.lines().next().unwrap()).unwrap()
}

/// EIP-1559's base fee after `parent`, a block as fee_market.py prints it,
/// by alloy's implementation.
fn formula_after(parent: &Value) -> u64 {
    let number = |f: &str| parent[f].as_u64().unwrap();
    calc_next_block_base_fee(
        number("gasUsed"),
        number("gasLimit"),
        number("baseFeePerGas"),
        BaseFeeParams::ethereum(),
    )
}

#[test]
fn test_base_fees_follow_eip_1559_and_fee_history_is_anvils() {
    let Some(python) = Client::Web3Py.installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let lanes = fee_market(&python, &v.url(), &|| v.log_text());
    let blocks = lanes["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 10, "{lanes}");
    // Block 1 charges the genesis's base fee; every later one the formula's.
    assert_eq!(blocks[0]["baseFeePerGas"], 1_000_000_000u64, "{lanes}");
    for pair in blocks[1..].windows(2) {
        let (parent, block) = (&pair[0], &pair[1]);
        let got = block["baseFeePerGas"].as_u64().unwrap();
        assert_eq!(got, formula_after(parent), "block {}: {lanes}", block["number"]);
    }
    let fees: Vec<u64> = blocks.iter().map(|b| b["baseFeePerGas"].as_u64().unwrap()).collect();
    assert!(
        fees.windows(2).any(|w| w[1] > w[0]) && fees.windows(2).any(|w| w[1] < w[0]),
        "{fees:?}"
    );
    // The next block's fee, as eth_gasPrice's base and feeHistory's last entry.
    let history = &lanes["feeHistory"];
    let next = history["baseFeePerGas"].as_array().unwrap().last().unwrap().clone();
    let want = formula_after(blocks.last().unwrap());
    assert_eq!(next, json!(format!("{want:#x}")));
    assert!(
        history["baseFeePerBlobGas"].as_array().unwrap().iter().all(|f| f != "0x0"),
        "{history}"
    );
    // anvil, the same run: the same fees, the same history.
    let Some(anvil_dir) = Client::Anvil.installed() else { return };
    let anvil = Anvil::start(&anvil_dir, &[]);
    let theirs = fee_market(&python, &anvil.url, &String::new);
    let fields = |r: &Value| -> Vec<Value> {
        r["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| json!([b["baseFeePerGas"], b["gasUsed"], b["gasLimit"]]))
            .collect()
    };
    assert_eq!(fields(&lanes), fields(&theirs), "lanes {lanes}\nanvil {theirs}");
    for key in [
        "oldestBlock",
        "baseFeePerGas",
        "gasUsedRatio",
        "reward",
        "baseFeePerBlobGas",
        "blobGasUsedRatio",
    ] {
        assert_eq!(
            history[key], theirs["feeHistory"][key],
            "{key}: lanes {history}\nanvil {}",
            theirs["feeHistory"]
        );
    }
}

#[test]
fn test_block_base_fee_per_gas_sets_the_first_blocks_fee() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev", "--block-base-fee-per-gas", "7000000000"]);
    assert_eq!(
        v.result("eth_getBlockByNumber", json!(["0x0", false]))["baseFeePerGas"],
        "0x1a13b8600"
    );
    v.result("evm_mine", json!([]));
    assert_eq!(
        v.result("eth_getBlockByNumber", json!(["0x1", false]))["baseFeePerGas"],
        "0x1a13b8600"
    );
    // An empty block 1: block 2 charges seven eighths of it.
    v.result("evm_mine", json!([]));
    assert_eq!(
        v.result("eth_getBlockByNumber", json!(["0x2", false]))["baseFeePerGas"],
        json!(format!("{:#x}", 7_000_000_000u64 * 7 / 8))
    );
    // anvil_setNextBlockBaseFeePerGas sets one block's; the rule goes on from it.
    v.result("anvil_setNextBlockBaseFeePerGas", json!(["0x3b9aca00"]));
    v.result("evm_mine", json!([]));
    v.result("evm_mine", json!([]));
    assert_eq!(
        v.result("eth_getBlockByNumber", json!(["0x3", false]))["baseFeePerGas"],
        "0x3b9aca00"
    );
    assert_eq!(
        v.result("eth_getBlockByNumber", json!(["0x4", false]))["baseFeePerGas"],
        json!(format!("{:#x}", 875_000_000u64))
    );
    v.stop();
    // Started again without the flag, the chain keeps its genesis and replays.
    let v = Validator::start(&data, &["--dev"]);
    assert_eq!(v.result("eth_blockNumber", json!([])), "0x4");
    assert_eq!(
        v.result("eth_getBlockByNumber", json!(["0x0", false]))["baseFeePerGas"],
        "0x1a13b8600"
    );
}

#[test]
fn test_a_data_folder_of_the_fixed_base_fee_is_refused_or_kept_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev"]);
    for _ in 0..3 {
        v.result("evm_mine", json!([]));
    }
    let latest = v.result("eth_getBlockByNumber", json!(["latest", false]));
    let (head, fee) = (latest["hash"].clone(), latest["baseFeePerGas"].clone());
    v.stop();
    // The genesis copy as an older lanes wrote it: no base-fee rule.
    let path = data.join("genesis.json");
    let mut genesis: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(genesis["config"]["lanesBaseFee"], "eip1559", "a data folder records its rule");
    genesis["config"].as_object_mut().unwrap().remove("lanesBaseFee");
    std::fs::write(&path, serde_json::to_vec_pretty(&genesis).unwrap()).unwrap();
    let stderr = refused_start(&data, &["--dev"]);
    assert!(
        stderr.contains(path.to_str().unwrap()) && stderr.contains("\"lanesBaseFee\": \"fixed\""),
        "{stderr}"
    );
    // Told it keeps the old rule, it is served as it was made.
    genesis["config"]["lanesBaseFee"] = json!("fixed");
    std::fs::write(&path, serde_json::to_vec_pretty(&genesis).unwrap()).unwrap();
    let v = Validator::start(&data, &["--dev"]);
    assert_eq!(v.result("eth_getBlockByNumber", json!(["latest", false]))["hash"], head);
    v.result("evm_mine", json!([]));
    let b = v.result("eth_getBlockByNumber", json!(["latest", false]));
    assert_eq!(b["baseFeePerGas"], fee, "a fixed base fee stays: {b}");
}
