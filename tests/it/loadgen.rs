//! `lanes-loadgen` end to end against the real validator binary: access
//! lists equal the node's `eth_createAccessList`, setup by transactions on a
//! `--dev` node (and skipped when done), a genesis that needs no setup,
//! refusals counted by reason, the in-process mode, and the soak riding
//! through a kill -9 of the node with every acknowledged receipt kept.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use lanes_loadgen::plan::{Kind, gas_limit};
use lanes_loadgen::{AccessListMode, Plan, Workload, WorkloadConfig};
use serde_json::{Value, json};

use crate::validator::Validator;

const LOADGEN: &str = env!("CARGO_BIN_EXE_lanes-loadgen");

/// `lanes-loadgen`, keeping its runs in a database of this test process
/// (not the user's).
pub(crate) fn loadgen_command() -> Command {
    static DB: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DB.get_or_init(|| tempfile::tempdir().unwrap());
    let mut cmd = Command::new(LOADGEN);
    cmd.env("LANES_LOADGEN_DB", dir.path().join("runs.sqlite"));
    cmd
}

fn loadgen(args: &[&str]) -> Value {
    let out =
        loadgen_command().args(args).args(["--json"]).output().expect("running lanes-loadgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "lanes-loadgen {args:?} failed:\n{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stderr}"))
}

fn write_genesis(dir: &Path, workload: &[&str]) -> String {
    let path = dir.join("genesis.json");
    let out = loadgen_command()
        .arg("genesis")
        .args(workload)
        .args(["--out", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    path.to_str().unwrap().to_owned()
}

fn u64_of(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// Every count in a report adds up, and nothing failed on chain.
fn assert_all_included(report: &Value, txs: u64) {
    assert_eq!(report["submitted"], txs, "{report:#}");
    assert_eq!(report["accepted"], txs, "{report:#}");
    assert_eq!(report["rejected"], 0, "{report:#}");
    assert_eq!(report["included"], txs, "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["notIncluded"], 0, "{report:#}");
    let l = &report["latencyMs"];
    let (p50, p99, max) =
        (l["p50"].as_f64().unwrap(), l["p99"].as_f64().unwrap(), l["max"].as_f64().unwrap());
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{l}");
    assert!(report["includedPerSecond"].as_f64().unwrap() > 0.0);
}

#[test]
fn test_loadgen_access_lists_equal_eth_create_access_list() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--workload", "mixed", "--accounts", "40", "--pools", "3", "--seed", "9"];
    let genesis = write_genesis(tmp.path(), &args);
    let node = Validator::start(&tmp.path().join("data"), &["--genesis", &genesis]);
    let plan = Plan::new(WorkloadConfig {
        workload: Workload::Mixed,
        txs: 300,
        accounts: 40,
        zipf: None,
        pools: 3,
        hot_pool_share: 0.0,
        seed: 9,
        access_list: AccessListMode::Exact,
    })
    .unwrap();
    let mut checked = [0; 3];
    for tx in &plan.txs {
        let k = tx.kind as usize;
        if checked[k] == 5 {
            continue;
        }
        checked[k] += 1;
        let from: Address = plan.accounts[tx.sender as usize].address();
        let request = json!({"from": from, "to": tx.to, "value": tx.value, "input": tx.input});
        let answer = node.result("eth_createAccessList", json!([request, "latest"]));
        assert!(answer.get("error").is_none_or(Value::is_null), "{:?}: {answer}", tx.kind);
        let listed: Value = serde_json::to_value(&tx.access_list).unwrap();
        assert_eq!(answer["accessList"], listed, "{:?} from {from}", tx.kind);
        let gas = u64_of(&answer["gasUsed"]);
        assert!(gas <= gas_limit(tx.kind), "{:?} uses {gas} gas", tx.kind);
    }
    assert_eq!(checked, [5, 5, 5], "every kind checked (transfer, erc20, swap)");
    assert!(matches!(plan.txs[0].kind, Kind::Transfer | Kind::Erc20 | Kind::Swap));
    node.stop();
}

#[test]
fn test_loadgen_sets_up_a_dev_node_then_runs_again_without_setup() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Validator::start(&tmp.path().join("data"), &["--dev"]);
    let url = node.url();
    let run = [
        "run",
        "--workload",
        "mixed",
        "--txs",
        "600",
        "--accounts",
        "60",
        "--pools",
        "2",
        "--closed-loop",
        "300",
        "--rpc",
        &url,
    ];
    let first = loadgen(&run);
    assert_all_included(&first, 600);
    assert_eq!(first["workload"], "mixed");
    assert!(first["meanEntryWidth"].as_f64().unwrap() > 1.0, "{first:#}");
    // The setup: 1 + 1 + 2 pairs deployed, 2 x 3 liquidity calls, 2 mints.
    let plan = Plan::new(WorkloadConfig {
        workload: Workload::Mixed,
        txs: 1,
        accounts: 60,
        zipf: None,
        pools: 2,
        hot_pool_share: 0.0,
        seed: 1,
        access_list: AccessListMode::Exact,
    })
    .unwrap();
    let deployer = plan.deployer.address();
    let nonce = u64_of(&node.result("eth_getTransactionCount", json!([deployer, "latest"])));
    assert_eq!(nonce, plan.setup.len() as u64);
    // Holders got their tokens, swaps moved the pools.
    let token = plan.layout.token_a.unwrap();
    let holder = plan.accounts[7].address();
    let call = json!({"to": token, "input": format!("0x70a08231{:0>64}", alloy_primitives::hex::encode(holder))});
    let balance: U256 =
        node.result("eth_call", json!([call, "latest"])).as_str().unwrap().parse().unwrap();
    assert!(balance > U256::ZERO);

    // The same run again: nonces come from the node, the setup is not redone.
    let funder = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    let funder_nonce = node.result("eth_getTransactionCount", json!([funder, "latest"]));
    let second = loadgen(&run);
    assert_all_included(&second, 600);
    let after = u64_of(&node.result("eth_getTransactionCount", json!([deployer, "latest"])));
    assert_eq!(after, plan.setup.len() as u64, "setup sent again");
    assert_eq!(
        node.result("eth_getTransactionCount", json!([funder, "latest"])),
        funder_nonce,
        "funded again"
    );
    node.stop();
}

#[test]
fn test_loadgen_genesis_needs_no_setup_and_counts_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let genesis = write_genesis(tmp.path(), &["--workload", "transfer", "--accounts", "1"]);
    // Blocks only when asked: with interval blocks the stage took the
    // transactions out of the pool as they came, and on a fast run all 200
    // fitted and nothing was refused.
    let node = Validator::start(&tmp.path().join("data"), &["--genesis", &genesis, "--no-mining"]);
    let url = node.url();
    // One sender, 200 transactions at once: the pool holds 64 per sender.
    // A block is mined once it holds them, so some are included.
    let report = std::thread::scope(|s| {
        let run = s.spawn(|| {
            loadgen(&[
                "run",
                "--workload",
                "transfer",
                "--txs",
                "200",
                "--accounts",
                "1",
                "--rate",
                "100000",
                "--drain-timeout",
                "5s",
                "--rpc",
                &url,
            ])
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while u64_of(&node.result("txpool_status", json!([]))["pending"]) < 64 {
            assert!(Instant::now() < deadline, "the pool never filled");
            std::thread::sleep(Duration::from_millis(20));
        }
        node.result("evm_mine", json!([]));
        run.join().expect("the load generator's thread")
    });
    let funder = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    assert_eq!(
        u64_of(&node.result("eth_getTransactionCount", json!([funder, "latest"]))),
        0,
        "no funding"
    );
    let rejected = report["rejected"].as_u64().unwrap();
    assert!(rejected > 0, "{report:#}");
    let by_reason: u64 =
        report["rejectedByReason"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(by_reason, rejected);
    assert!(
        report["rejectedByReason"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("queued transactions")),
        "{report:#}"
    );
    // Refusals leave nonce gaps: what was accepted after one is never included.
    let (accepted, included) =
        (report["accepted"].as_u64().unwrap(), report["included"].as_u64().unwrap());
    assert_eq!(accepted + rejected, 200, "{report:#}");
    assert!(included > 0, "{report:#}");
    assert_eq!(included + report["notIncluded"].as_u64().unwrap(), accepted, "{report:#}");
    node.stop();
}

#[test]
fn test_loadgen_in_process() {
    let report = loadgen(&[
        "run",
        "--workload",
        "amm",
        "--txs",
        "800",
        "--accounts",
        "200",
        "--pools",
        "4",
        "--hot-pool-share",
        "0.5",
        "--closed-loop",
        "400",
        "--in-process",
        "--threads",
        "2",
        "--block-time",
        "50ms",
    ]);
    assert_all_included(&report, 800);
    assert!(report["target"].as_str().unwrap().contains("in-process"));
    let width = report["meanEntryWidth"].as_f64().unwrap();
    assert!(width > 1.0, "{report:#}");
}

#[test]
fn test_loadgen_reports_a_setup_it_cannot_pay_for() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Validator::start(&tmp.path().join("data"), &["--dev"]);
    let out = loadgen_command()
        .args([
            "run",
            "--txs",
            "10",
            "--accounts",
            "5",
            "--closed-loop",
            "10",
            "--rpc",
            &node.url(),
        ])
        .args([
            "--funder-key",
            "0x1111111111111111111111111111111111111111111111111111111111111111",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The funder is named, with what it holds and what the funding needs.
    let funder = "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A";
    assert!(stderr.contains(funder) && stderr.contains("holds 0 wei"), "{stderr}");
    assert!(stderr.contains("funding 6 accounts needs"), "{stderr}");
    let out = loadgen_command().args(["run", "--txs", "10", "--rpc", "ftp://x"]).output().unwrap();
    assert!(!out.status.success(), "no pacing given");
    node.stop();
}

#[test]
fn test_loadgen_soak_rides_through_a_kill_9_and_keeps_every_receipt() {
    let tmp = tempfile::tempdir().unwrap();
    let workload = ["--workload", "mixed", "--accounts", "40", "--pools", "2"];
    let genesis = write_genesis(tmp.path(), &workload);
    let data = tmp.path().join("data");
    let args = ["--genesis", genesis.as_str(), "--block-time", "100ms"];
    let node = Validator::start(&data, &args);
    let (addr, url) = (node.addr, node.url());
    let receipts = tmp.path().join("receipts.jsonl");
    let soak = loadgen_command()
        .arg("soak")
        .args(workload)
        .args(["--rpc", &url, "--rate", "200", "--duration", "12s", "--drain-timeout", "5s"])
        .args(["--stall", "3s", "--json", "--receipts-out", receipts.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let acked = || std::fs::read_to_string(&receipts).unwrap_or_default().lines().count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked() < 100 {
        assert!(Instant::now() < deadline, "no receipts:\n{}", node.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    node.kill9();
    let before = acked();
    // Away for a second: the soak meets refused connections, then the node
    // is back on the same port and folder without its pool.
    std::thread::sleep(Duration::from_secs(1));
    let node = Validator::start_at(&data, addr, &args);
    let out = soak.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "soak failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["reconnects"].as_u64().unwrap() >= 1, "{report:#}\n{stderr}");
    assert_eq!(report["nonceRegressions"], 0, "{report:#}\n{stderr}");
    assert_eq!(report["acknowledged"].as_u64().unwrap() as usize, acked(), "{report:#}");
    assert!(acked() > before + 100, "the soak went on after the restart: {report:#}\n{stderr}");

    let verify = |extra: &[&str]| {
        loadgen_command()
            .args(["verify-receipts", "--json", "--rpc", &url])
            .args(["--receipts", receipts.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = verify(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["acknowledged"].as_u64().unwrap() as usize, &v["lost"]), (acked(), &json!(0)));

    // A receipt the node never served counts as lost, and fails the check.
    let bogus = json!({"hash": format!("0x{}", "ab".repeat(32)), "blockNumber": 3,
        "blockHash": format!("0x{}", "cd".repeat(32)), "status": 1, "sender": 0, "nonce": 0});
    let mut text = std::fs::read_to_string(&receipts).unwrap();
    text.push_str(&format!("{bogus}\n"));
    std::fs::write(&receipts, text).unwrap();
    let out = verify(&[]);
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&v["lost"], &v["gone"]), (&json!(1), &json!(1)), "{v:#}");
    node.stop();
}
