//! Nothing a client was told is accepted vanishes: random sequences of sends
//! and dev controls (pool drops among them) against the binary, and after every step each
//! transaction the node acknowledged (a send answered with a hash) is in
//! exactly one of three places — in a block (a receipt), pending (served
//! with no block, or still on its way into a block), or dropped with a
//! reason (`lanes_transactionStatus`).

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::validator::Validator;

/// One step a test suite written for anvil takes.
#[derive(Clone, Debug)]
enum Step {
    /// `eth_sendTransaction` from sender `from` (dev accounts 0–2, then the
    /// two impersonated addresses); `gap` skips a nonce; `tip` in gwei.
    Send {
        from: usize,
        gap: bool,
        tip: u64,
    },
    Impersonate(usize),
    StopImpersonating(usize),
    SetBalance {
        who: usize,
        rich: bool,
    },
    SetNonce {
        who: usize,
        ahead: u64,
    },
    SetCode(usize),
    Snapshot,
    Revert(usize),
    Automine(bool),
    Mine,
    /// `anvil_dropTransaction` of the n-th acknowledged transaction (from
    /// the latest back).
    Drop(usize),
    DropAll,
    Reset,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..5usize, proptest::bool::weighted(0.1), 1..4u64)
            .prop_map(|(from, gap, tip)| Step::Send { from, gap, tip }),
        1 => (3..5usize).prop_map(Step::Impersonate),
        1 => (3..5usize).prop_map(Step::StopImpersonating),
        1 => (0..5usize, any::<bool>()).prop_map(|(who, rich)| Step::SetBalance { who, rich }),
        1 => (0..5usize, 1..3u64).prop_map(|(who, ahead)| Step::SetNonce { who, ahead }),
        1 => (0..5usize).prop_map(Step::SetCode),
        1 => Just(Step::Snapshot),
        1 => (0..4usize).prop_map(Step::Revert),
        1 => any::<bool>().prop_map(Step::Automine),
        2 => Just(Step::Mine),
        1 => (0..3usize).prop_map(Step::Drop),
        1 => Just(Step::DropAll),
        1 => Just(Step::Reset),
    ]
}

fn quantity(n: u64) -> String {
    format!("{n:#x}")
}

/// Runs `steps` on a fresh `--dev` node, checking the invariant after each.
fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let accounts = v.result("eth_accounts", json!([]));
    let impersonated = [
        "0x00000000000000000000000000000000000a1a1a",
        "0x00000000000000000000000000000000000a2a2a",
    ];
    let address = |i: usize| match i {
        0..3 => accounts[i].as_str().unwrap().to_string(),
        i => impersonated[i - 3].to_string(),
    };
    let mut acknowledged: Vec<Value> = Vec::new();
    let mut snapshots: Vec<Value> = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        match step {
            Step::Send { from, gap, tip } => {
                let from = address(*from);
                let pending = v.result("eth_getTransactionCount", json!([from, "pending"]));
                let nonce = u64::from_str_radix(&pending.as_str().unwrap()[2..], 16).unwrap();
                let tx = json!({
                    "from": from, "to": "0x000000000000000000000000000000000000dEaD", "value": "0x1",
                    "gas": "0x5208", "nonce": quantity(nonce + u64::from(*gap)),
                    "maxFeePerGas": quantity(100_000_000_000),
                    "maxPriorityFeePerGas": quantity(tip * 1_000_000_000),
                });
                // Refused sends are not acknowledged; only a hash counts.
                if let Some(hash) = v.call("eth_sendTransaction", json!([tx])).get("result") {
                    acknowledged.push(hash.clone());
                }
            }
            Step::Impersonate(i) => {
                v.result("anvil_impersonateAccount", json!([address(*i)]));
            }
            Step::StopImpersonating(i) => {
                v.result("anvil_stopImpersonatingAccount", json!([address(*i)]));
            }
            Step::SetBalance { who, rich } => {
                let value = if *rich { "0x56bc75e2d63100000" } else { "0x0" };
                v.result("anvil_setBalance", json!([address(*who), value]));
            }
            Step::SetNonce { who, ahead } => {
                let count = v.result("eth_getTransactionCount", json!([address(*who), "latest"]));
                let nonce = u64::from_str_radix(&count.as_str().unwrap()[2..], 16).unwrap();
                v.result("anvil_setNonce", json!([address(*who), quantity(nonce + ahead)]));
            }
            Step::SetCode(i) => {
                v.result("anvil_setCode", json!([address(*i), "0x602a60005260206000f3"]));
            }
            Step::Snapshot => snapshots.push(v.result("evm_snapshot", json!([]))),
            Step::Revert(back) => {
                if let Some(id) =
                    snapshots.len().checked_sub(1 + back).map(|i| snapshots[i].clone())
                {
                    v.result("evm_revert", json!([id]));
                    snapshots.truncate(snapshots.len() - 1 - back);
                }
            }
            Step::Automine(on) => {
                v.result("evm_setAutomine", json!([on]));
            }
            Step::Mine => {
                v.result("evm_mine", json!([]));
            }
            Step::Drop(back) => {
                if let Some(i) = acknowledged.len().checked_sub(1 + back) {
                    v.result("anvil_dropTransaction", json!([acknowledged[i]]));
                }
            }
            Step::DropAll => {
                v.result("anvil_dropAllTransactions", json!([]));
            }
            Step::Reset => {
                v.result("anvil_reset", json!([]));
                snapshots.clear();
            }
        }
        for hash in &acknowledged {
            let ask = || {
                let status = v.result("lanes_transactionStatus", json!([hash]));
                let receipt = v.result("eth_getTransactionReceipt", json!([hash]));
                let served = v.result("eth_getTransactionByHash", json!([hash]));
                (status, receipt, served)
            };
            // A pending one may land in a block between the three questions
            // (turning automine on mines what waits, after it answers): then
            // all three are asked again, once it is in.
            let (mut status, mut receipt, mut served) = ask();
            if status["status"] == "pending" && !served["blockNumber"].is_null() {
                (status, receipt, served) = ask();
            }
            let seen = format!(
                "after step {n} ({step:?}): {hash} is {status}; receipt {receipt}, served {served}"
            );
            match status["status"].as_str().unwrap() {
                "included" => {
                    prop_assert!(!receipt.is_null(), "{seen}");
                    prop_assert_eq!(&receipt["blockNumber"], &status["blockNumber"], "{}", seen);
                }
                "pending" => {
                    prop_assert!(receipt.is_null(), "{seen}");
                    prop_assert!(served.is_null() || served["blockNumber"].is_null(), "{seen}");
                }
                "dropped" => {
                    prop_assert!(receipt.is_null() && served.is_null(), "{seen}");
                    prop_assert!(
                        !status["reason"].as_str().unwrap_or_default().is_empty(),
                        "{seen}"
                    );
                }
                _ => prop_assert!(false, "vanished: {seen}"),
            }
        }
    }
    v.stop();
    Ok(())
}

proptest! {
    // Each case starts a node; `PROPTEST_CASES` runs more.
    #![proptest_config(ProptestConfig { cases: 4, max_shrink_iters: 32, ..ProptestConfig::default() })]

    #[test]
    fn test_every_acknowledged_transaction_is_included_pending_or_dropped_with_a_reason(
        steps in proptest::collection::vec(step(), 10..40)
    ) {
        run(&steps)?;
    }
}
