//! `lanes-loadgen run --scenario` end to end: contender's own scenario files
//! (../shared/fixtures/contender, read in place) and lanes' (`scenarios/`)
//! deployed, set up and sent against `lanes-validator --dev` and anvil from
//! npm in one run, and a wrong file named by its line; runs over time
//! (`--duration`, per-block pacing) and a ramp that finds a sustained rate;
//! read sweeps (`lanes-loadgen reads`) against lanes and anvil, and the sink.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::anvil_surface::Anvil;
use crate::fixtures::shared;
use crate::loadgen::loadgen_command;
use crate::validator::{Client, Validator, repo_path};

/// Spam transactions per scenario and target.
const TXS: u64 = 60;

/// The reports of one `run --scenario` against each URL, in order, or what
/// lanes-loadgen printed when it failed.
fn run(scenario: &Path, urls: &[String]) -> Result<Vec<Value>, String> {
    let mut cmd = loadgen_command();
    cmd.args(["run", "--scenario"]).arg(scenario);
    for url in urls {
        cmd.args(["--rpc", url]);
    }
    let out = cmd
        .args(["--closed-loop", "50", "--txs", &TXS.to_string(), "--accounts", "4", "--json"])
        .output()
        .expect("running lanes-loadgen");
    if !out.status.success() {
        return Err(format!("{}: {}", scenario.display(), String::from_utf8_lossy(&out.stderr)));
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(match v {
        Value::Array(reports) => reports,
        report => vec![report],
    })
}

/// anvil from npm, where installed, mining as transactions come and once
/// a second besides: automine alone can leave ready transactions sent side
/// by side unmined (foundry-rs/foundry#10122; once here, a setup waited 5
/// minutes).
fn anvil() -> Option<Anvil> {
    let mixed = ["--mixed-mining", "--block-time", "1"];
    Client::Anvil.installed().map(|install| Anvil::start(&install, &mixed))
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn test_contender_and_lanes_scenarios_run_against_lanes_and_anvil() {
    let Some(contender) = shared("fixtures/contender") else { return };
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let anvil = anvil();
    let mut urls = vec![v.url()];
    urls.extend(anvil.as_ref().map(|a| a.url.clone()));
    let mut files = toml_files(&contender);
    files.extend(toml_files(&repo_path("scenarios")));
    assert!(files.len() >= 10, "five of contender's and five of lanes': {files:?}");
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let reports = match run(&file, &urls) {
            Ok(reports) => reports,
            // anvil's setup can stall on the bug below too (once in CI: a
            // setup transaction unmined for 5 minutes): anvil is left out
            // from there on, and lanes' run of that file made again alone.
            Err(e) if urls.len() > 1 && e.contains(&format!("error: {}: setup:", urls[1])) => {
                eprintln!("anvil left out from {name} on: {e}");
                urls.truncate(1);
                run(&file, &urls).unwrap_or_else(|e| panic!("{e}"))
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(reports.len(), urls.len(), "{name}");
        for (report, url) in reports.iter().zip(&urls) {
            let at = format!("{name} on {url}: {report:#}");
            assert_eq!(report["workload"], name.as_str(), "{at}");
            assert_eq!(report["submitted"], TXS, "{at}");
            assert_eq!(report["rejected"], 0, "{at}");
            let included = report["included"].as_u64().unwrap();
            assert_eq!(included + report["notIncluded"].as_u64().unwrap(), TXS, "{at}");
            if *url == urls[0] {
                assert_eq!(included, TXS, "{at}");
            }
            // anvil can leave ready transactions of a burst unmined for good
            // (foundry-rs/foundry#10122: three CI runs on a loaded 2-core
            // machine saw 2, 5 and 9 of 60 left out, with 1 s mixed mining
            // and a 30 s drain): its run is reported beside lanes', and its
            // inclusion not judged.
            let failed = report["failed"].as_u64().unwrap();
            if name == "slotContention" {
                // Its first step reverts once a slot's value leaves the
                // fuzzed bounds ("more likely to fail over time").
                assert!(failed < TXS, "{at}");
            } else {
                assert_eq!(failed, 0, "{at}");
            }
        }
    }
    // contender-fields.toml's steps reached the chain as their types:
    // declared lists, set-code (type 4) and blob (type 3) transactions,
    // each at the tip drawn for it.
    let head = v.result("eth_blockNumber", json!([]));
    let head = u64::from_str_radix(head.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let (mut blob, mut set_code, mut listed) = (0, 0, 0);
    let mut tips = std::collections::BTreeSet::new();
    for n in 1..=head {
        let block = v.result("eth_getBlockByNumber", json!([format!("{n:#x}"), true]));
        for tx in block["transactions"].as_array().unwrap() {
            match tx["type"].as_str() {
                Some("0x3") => blob += 1,
                Some("0x4") => set_code += 1,
                _ => {}
            }
            listed += usize::from(tx["accessList"].as_array().is_some_and(|l| !l.is_empty()));
            tips.insert(tx["maxPriorityFeePerGas"].to_string());
        }
    }
    assert!(blob > 0 && set_code > 0 && listed > 0, "blob {blob}, set code {set_code}, {listed}");
    assert!(tips.len() > 3, "fuzzed tips: {tips:?}");
    v.stop();
}

#[test]
fn test_a_wrong_scenario_is_named_by_line_and_a_foreign_sender_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[spam]]\n[spam.tx]\nto = \"{token}\"\nsignature = \"transfer(address,uint256)\"\n",
    )
    .unwrap();
    let out = loadgen_command()
        .args(["run", "--scenario"])
        .arg(&bad)
        .args(["--rpc", "http://127.0.0.1:1", "--closed-loop", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = format!("{}:3: spam[0].tx.to: `{{token}}` names no env value", bad.display());
    assert!(stderr.contains(&at), "{stderr}");

    // A setup call from an account lanes-loadgen cannot sign for fails on
    // the node's side of the run, named.
    let foreign = dir.path().join("foreign.toml");
    std::fs::write(
        &foreign,
        "[[setup]]\nto = \"{_sender}\"\nfrom = \"0x000000000000000000000000000000000000dEaD\"\n\n\
         [[spam]]\n[spam.tx]\nto = \"{_account}\"\n",
    )
    .unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let out = loadgen_command()
        .args(["run", "--scenario"])
        .arg(&foreign)
        .args(["--rpc", &v.url(), "--closed-loop", "1", "--txs", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":1: setup[0]") && stderr.contains("does not map"), "{stderr}");
    v.stop();
}

fn loadgen_json(args: &[&str]) -> Value {
    let out = loadgen_command().args(args).arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "lanes-loadgen {args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

#[test]
fn test_runs_over_time_per_block_pacing_and_a_ramp_that_finds_its_rate() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let url = v.url();
    let common = ["--rpc", url.as_str(), "--accounts", "20"];

    // --tps R --duration D sends R x D.
    let r = loadgen_json(&[&["run", "--tps", "100", "--duration", "1s"][..], &common].concat());
    assert_eq!((r["submitted"].as_u64(), r["included"].as_u64()), (Some(100), Some(100)), "{r:#}");
    assert_eq!(r["mode"], "open loop, 100 tx/s");
    // lanes has eth_sendRawTransactionSync: a sampled send timed to its receipt.
    assert!(r["syncLatencyMs"]["p50"].as_f64().unwrap() > 0.0, "{r:#}");
    let args = [&["run", "--tps", "100", "--duration", "1s", "--no-sync"][..], &common].concat();
    assert!(loadgen_json(&args)["syncLatencyMs"].is_null());

    // --forever: rounds of --txs, each kept, until --duration (or a signal).
    let db = dir.path().join("forever.sqlite");
    // Rounds of half a second, and a deadline that leaves room for the setup.
    let args = ["run", "--forever", "--duration", "8s", "--tps", "200", "--txs", "100"];
    let out = loadgen_command()
        .args(args)
        .args(common)
        .args(["--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rounds = stderr.lines().filter(|l| l.starts_with("round ")).count();
    assert!(rounds >= 2, "{stderr}");
    let kept = loadgen_json(&["runs", "--db", db.to_str().unwrap()]);
    let kept = kept.as_array().unwrap();
    assert_eq!(kept.len(), rounds, "each round kept: {stderr}");
    assert!(kept[..rounds - 1].iter().all(|r| r["included"] == 100), "{kept:?}");
    assert!(
        stderr.contains(&format!(
            "stopped: {}",
            kept.iter().map(|r| r["included"].as_u64().unwrap()).sum::<u64>()
        )),
        "{stderr}"
    );

    // No pacing flag: a scenario sends at the default rate, and says so.
    let scenario = repo_path("scenarios/transfer.toml");
    let out = loadgen_command()
        .args(["run", "--scenario", scenario.to_str().unwrap(), "--duration", "1s", "--json"])
        .args(common)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sending at 20 tx/s"), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["mode"], "open loop, 20 tx/s", "{r:#}");
    assert_eq!((r["submitted"].as_u64(), r["included"].as_u64()), (Some(20), Some(20)), "{r:#}");

    // --repeat N: N runs, each figure's median and the 95% interval of its
    // mean; each run's inclusions split at its last send.
    let args = [
        &["run", "--tps", "100", "--duration", "1s", "--batch", "10", "--repeat", "2"][..],
        &common,
    ];
    let repeated = loadgen_json(&args.concat());
    let repeated = &repeated[0];
    assert_eq!(repeated["runs"], 2, "{repeated:#}");
    let reports = repeated["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    for r in reports {
        let (observed, late) = (r["observed"].as_u64().unwrap(), r["late"].as_u64().unwrap());
        assert_eq!(observed + late, r["included"].as_u64().unwrap(), "{r:#}");
        assert!(observed > 0, "{r:#}");
    }
    let spread = &repeated["includedPerSecond"];
    let f = |k: &str| spread[k].as_f64().unwrap();
    assert!(f("low") <= f("mean") && f("mean") <= f("high"), "{spread}");
    let each: Vec<f64> = reports.iter().map(|r| r["includedPerSecond"].as_f64().unwrap()).collect();
    assert!((f("median") - (each[0] + each[1]) / 2.0).abs() < 1e-6, "{spread} of {each:?}");

    // --tpb N: N more only once the node has a new block.
    let r = loadgen_json(&[&["run", "--tpb", "20", "--txs", "100"][..], &common].concat());
    assert_eq!(r["included"], 100, "{r:#}");
    assert_eq!(r["mode"], "20 per block");
    assert!(r["blocks"].as_u64().unwrap() >= 5, "at most 20 per block: {r:#}");

    // A ramp whose every step holds reports its last rate, each step sending
    // rate x step time; one whose bound no step can meet reports none.
    let scenario = repo_path("scenarios/transfer.toml");
    let mut args = vec!["run", "--scenario", scenario.to_str().unwrap()];
    // Steps of 3 s: a step holds when 90% of its rate is seen included,
    // timed to the last inclusion, so a step of 1 s left a loaded machine
    // 0.1 s of slack.
    args.extend(["--tps", "50..150", "--step", "50"]);
    args.extend(["--step-time", "3s", "--latency-p99", "20s"]);
    args.extend(common);
    let found = loadgen_json(&args);
    let found = &found[0];
    assert_eq!(found["sustained"], 150.0, "{found:#}");
    let steps = found["steps"].as_array().unwrap();
    let sent: Vec<u64> = steps.iter().map(|s| s["report"]["submitted"].as_u64().unwrap()).collect();
    assert_eq!(sent, [150, 300, 450], "{found:#}");
    assert!(steps.iter().all(|s| s["held"] == true));

    let mut args: Vec<&str> = vec!["run", "--tps", "100..300", "--step", "100"];
    args.extend(["--step-time", "1s", "--latency-p99", "1ms"]);
    args.extend(common);
    let found = loadgen_json(&args);
    let found = &found[0];
    assert!(found["sustained"].is_null(), "{found:#}");
    let steps = found["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "a ramp stops at the first step that breaks: {found:#}");
    assert!(steps[0]["broke"].as_str().unwrap().contains("p99"), "{found:#}");
    v.stop();
}

#[test]
fn test_runs_are_kept_listed_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kept.sqlite");
    let db_arg = db.to_str().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let url = v.url();
    let scenario = repo_path("scenarios/erc20.toml");
    let scenario = scenario.to_str().unwrap();
    let run = |pacing: &[&str]| {
        let common = ["run", "--scenario", scenario, "--rpc", url.as_str(), "--txs", "40"];
        loadgen_json(&[&common[..], pacing, &["--accounts", "8", "--db", db_arg]].concat())
    };
    let report = run(&["--closed-loop", "20"]);
    let second = run(&["--tps", "50"]);
    assert_eq!((report["included"].as_u64(), second["included"].as_u64()), (Some(40), Some(40)));

    let runs = loadgen_json(&["runs", "--db", db_arg]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["workload"], "erc20");
    assert_eq!(runs[0]["included"], 40);
    assert_eq!(runs[1]["mode"], "open loop, 50 tx/s");

    let out = dir.path().join("export.json");
    let status = loadgen_command()
        .args(["export", "--db", db_arg, "--out", out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let exported: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let latest = &exported[0];
    assert_eq!(latest["id"], runs[1]["id"], "the latest by default");
    let txs = latest["txs"].as_array().unwrap();
    assert_eq!(txs.len(), 40);
    assert!(txs.iter().all(|t| t["includedNs"].as_u64() > t["sentNs"].as_u64() && t["block"] != 0));
    let blocks = latest["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty());
    let in_blocks: u64 = blocks.iter().map(|b| b["transactions"].as_u64().unwrap()).sum();
    assert!(in_blocks >= 40, "{blocks:?}");
    // On lanes each block says how it ran.
    assert!(blocks.iter().all(|b| b["entries"].as_u64().unwrap() >= 1 && b["gasUsed"] != 0));
    assert!(latest["scenario"].as_str().unwrap().contains("[[spam]]"));
    assert!(!latest["sends"].as_array().unwrap().is_empty());

    // A file that is not a runs database is named, and the run still reported.
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let out = loadgen_command().args(["runs", "--db", garbage.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("garbage.sqlite") && stderr.contains("not a database"), "{stderr}");
    v.stop();
}

/// Debian's Chromium (`LANES_CHROMIUM`, else `/usr/bin/chromium`), or `None`
/// (skipped) when absent; with `LANES_REQUIRE_CLIENTS` absent fails.
pub(crate) fn chromium() -> Option<PathBuf> {
    let path: PathBuf =
        std::env::var_os("LANES_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), Into::into);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("LANES_REQUIRE_CLIENTS").is_none(),
        "{} is not installed; run scripts/install-clients.sh",
        path.display()
    );
    eprintln!("skipped: {} is not installed", path.display());
    None
}

/// Writes the report of `runs` and loads it in headless Chromium; what the
/// page's render check found, per chart.
fn render_in_chromium(chromium: &Path, dir: &Path, db: &str, runs: &[&str]) -> Vec<Value> {
    let page = dir.join(format!("report-{}.html", runs.join("-")));
    let out = loadgen_command()
        .args(["report", "--db", db, "--out", page.to_str().unwrap()])
        .args(runs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["<script src", "<link", "src=\"http", "url(http"] {
        assert!(!html.contains(external), "the page loads nothing: {external}");
    }
    let profile = dir.join(format!("chromium-{}", runs.join("-")));
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    let check = dom
        .split("<pre id=\"render-check\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .expect("the page's render check ran");
    let found: Value = serde_json::from_str(check).unwrap();
    found.as_array().unwrap().clone()
}

#[test]
fn test_a_read_sweep_against_lanes_and_anvil_is_kept_with_its_percentiles() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");
    let db_arg = db.to_str().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let anvil = anvil();
    let mut urls = vec![v.url()];
    urls.extend(anvil.as_ref().map(|a| a.url.clone()));
    let scenario = repo_path("scenarios/erc20.toml");
    let mut args = vec!["reads"];
    for url in &urls {
        // Blocks of token transfers to draw the calls from.
        let run = ["run", "--scenario", scenario.to_str().unwrap(), "--rpc", url];
        loadgen_json(
            &[&run[..], &["--closed-loop", "20", "--txs", "40", "--accounts", "4", "--no-db"]]
                .concat(),
        );
        args.extend(["--rpc", url]);
    }
    args.extend(["--rates", "40..120", "--step", "40", "--duration", "1s", "--db", db_arg]);
    let found = loadgen_json(&args);
    let reports = match &found {
        Value::Array(r) => r.clone(),
        one => vec![one.clone()],
    };
    assert_eq!(reports.len(), urls.len());
    for (r, url) in reports.iter().zip(&urls) {
        assert_eq!(r["target"], url.as_str());
        assert!(r["sampled"]["calls"].as_u64().unwrap() >= 40, "token transfers to call: {r:#}");
        let steps = r["steps"].as_array().unwrap();
        let rates: Vec<f64> = steps.iter().map(|s| s["rate"].as_f64().unwrap()).collect();
        assert_eq!(rates, [40.0, 80.0, 120.0], "{r:#}");
        for s in steps {
            let rate = s["rate"].as_f64().unwrap();
            assert_eq!(s["all"]["calls"].as_f64().unwrap(), rate, "rate x 1 s: {s:#}");
            assert_eq!(s["all"]["errors"], 0, "{s:#}");
            let methods = s["methods"].as_object().unwrap();
            let names: Vec<&String> = methods.keys().collect();
            assert_eq!(
                names,
                ["eth_call", "eth_getBalance", "eth_getBlockByNumber", "eth_getLogs"]
            );
            // The default mix's weights: 4, 3, 2, 1 of every 10.
            assert_eq!(
                methods["eth_call"]["calls"].as_u64().unwrap(),
                rate as u64 * 4 / 10,
                "{s:#}"
            );
            for f in methods.values() {
                let l = &f["latencyMs"];
                assert!(l["p50"].as_f64().unwrap() > 0.0, "{s:#}");
                assert!(
                    l["p50"].as_f64() <= l["p99"].as_f64()
                        && l["p99"].as_f64() <= l["max"].as_f64()
                );
            }
            assert!(s["answeredPerSecond"].as_f64().unwrap() > rate * 0.5, "{s:#}");
        }
    }
    let runs = loadgen_json(&["runs", "--db", db_arg]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), urls.len());
    assert!(runs.iter().all(|r| r["kind"] == "reads" && r["mode"] == "at 40,80,120 calls/s"));
    assert_eq!(runs[0]["included"].as_u64(), Some(240), "every call answered");
    let out = loadgen_command()
        .args(["export", "--db", db_arg, runs[0]["id"].to_string().as_str()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    let calls = exported[0]["reads"].as_array().unwrap();
    assert_eq!(calls.len(), 240);
    assert!(calls.iter().all(|c| c["ok"] == true && c["tookNs"].as_u64().unwrap() > 0));
    // An unknown method in the mix is named.
    let out = loadgen_command()
        .args(["reads", "--rpc", &v.url(), "--mix", "eth_foo=1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("eth_foo"));
    v.stop();
}

#[test]
fn test_the_sink_takes_every_transaction_and_includes_it() {
    // The loadgen's own ceiling: everything sent is included, nothing refused.
    let r = loadgen_json(&["run", "--sink", "--txs", "5000", "--closed-loop", "1000", "--no-db"]);
    assert_eq!(r["target"], "sink (in process)");
    assert_eq!(
        (r["submitted"].as_u64(), r["included"].as_u64()),
        (Some(5000), Some(5000)),
        "{r:#}"
    );
    assert_eq!(r["rejected"], 0);
    assert!(r["includedPerSecond"].as_f64().unwrap() > 0.0);
    // All four workloads: their setup is skipped on the sink.
    let r = loadgen_json(&[
        "run",
        "--sink",
        "--workload",
        "amm",
        "--txs",
        "500",
        "--tps",
        "2000",
        "--no-db",
    ]);
    assert_eq!(r["included"], 500, "{r:#}");
}

#[test]
fn test_the_report_draws_every_chart_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.sqlite");
    let db_arg = db.to_str().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let scenario = repo_path("scenarios/mixed.toml");
    for pacing in [["--closed-loop", "40"], ["--tps", "200"]] {
        let args = ["run", "--scenario", scenario.to_str().unwrap(), "--rpc", &v.url()];
        let tail = ["--txs", "200", "--accounts", "10", "--db", db_arg];
        loadgen_json(&[&args[..], &pacing, &tail].concat());
    }
    // Two read sweeps (runs 3 and 4) over the blocks those runs made.
    for _ in 0..2 {
        let args = ["reads", "--rpc", &v.url(), "--rates", "20,60", "--duration", "1s"];
        loadgen_json(&[&args[..], &["--db", db_arg]].concat());
    }
    v.stop();
    let reads = render_in_chromium(&chromium, dir.path(), db_arg, &["3", "4"]);
    let names: Vec<&str> = reads.iter().map(|c| c["chart"].as_str().unwrap()).collect();
    assert_eq!(names, ["read-latency-p50", "read-latency-p99", "read-errors", "read-answered"]);
    for c in &reads {
        assert!(c["points"].as_u64().unwrap() > 0, "{c}");
        // A line per method and run (four methods, two runs) plus legends.
        let least = if c["chart"] == "read-answered" { 2 * 2 } else { 2 * 4 * 2 };
        assert!(c["lines"].as_u64().unwrap() >= least, "{c}");
    }
    let charts = render_in_chromium(&chromium, dir.path(), db_arg, &["1", "2"]);
    let names: Vec<&str> = charts.iter().map(|c| c["chart"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "included-tx-per-second",
            "latency-histogram",
            "latency-cdf",
            "gas-per-block",
            "pending",
            "rpc-latency",
            "entry-width",
            "set-sources"
        ]
    );
    for c in &charts {
        // Laid out at its size, with data, each of the two runs drawn: a
        // line and its legend's sample, or a bar per category (and the
        // legend's and the background's rects).
        assert!(c["points"].as_u64().unwrap() > 0, "{c}");
        assert!(c["width"].as_u64().unwrap() >= 800 && c["height"].as_u64().unwrap() >= 300, "{c}");
        let bars = ["rpc-latency", "set-sources"].contains(&c["chart"].as_str().unwrap());
        match bars {
            true => assert!(c["bars"].as_u64().unwrap() >= 2 * 4, "{c}"),
            false => assert!(c["lines"].as_u64().unwrap() >= 2 * 2, "{c}"),
        }
    }
}
