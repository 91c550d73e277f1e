//! The runs database: a run kept and read back whole, listing, and files
//! that are not (or not yet) runs databases.
use super::*;
use crate::report::{Latency, Timeline};

fn report(target: &str, included: u64) -> Report {
    Report {
        target: target.into(),
        node: Some("anvil/lanes-v0.1.0".into()),
        workload: "transfer".into(),
        txs: 3,
        accounts: 2,
        mode: "closed loop, 10 in flight".into(),
        submitted: 3,
        accepted: 3,
        rejected: 0,
        rejected_by_reason: Default::default(),
        included,
        failed: Some(0),
        not_included: 3 - included,
        send_seconds: 0.5,
        window_seconds: 1.0,
        sent_per_second: 6.0,
        included_per_second: included as f64,
        observed: included,
        late: 0,
        observed_per_second: included as f64,
        latency_ms: Latency { p50: 12.0, p90: 20.0, p99: 31.0, max: 31.0 },
        blocks: 1,
        sync_latency_ms: None,
        mean_entry_width: Some(1.5),
        sets: None,
        setup_seconds: 0.1,
        presign_seconds: 0.0,
        timeline: Timeline {
            txs: vec![
                TxTimes { sent_ns: 1, included_ns: 12_000_001, block: 7 },
                TxTimes { sent_ns: 5, included_ns: 31_000_005, block: 7 },
                TxTimes { sent_ns: 9, included_ns: 0, block: 0 },
            ],
            blocks: vec![BlockFacts {
                number: 7,
                seen_ns: 31_000_005,
                timestamp: 1_700_000_000,
                gas_used: 42_000,
                gas_limit: 30_000_000,
                size: 700,
                transactions: 2,
                entries: Some(1),
                widest: Some(2),
                declared: Some(0),
                known: Some(2),
                predicted: Some(0),
                exclusive: Some(0),
            }],
            sends: vec![SendTiming {
                method: "eth_sendRawTransaction".into(),
                at_ns: 1,
                took_ns: 800_000,
                count: 3,
            }],
        },
    }
}

#[test]
fn test_a_run_is_kept_whole_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/runs.sqlite");
    let mut store = RunStore::open(&path).unwrap();
    assert_eq!(store.latest().unwrap(), None);
    let first = store.save(&report("http://a", 2), Some("[[spam]]")).unwrap();
    let second = store.save(&report("http://b", 3), None).unwrap();
    assert!(second > first);
    drop(store);
    // Read back after reopening.
    let store = RunStore::open(&path).unwrap();
    assert_eq!(store.latest().unwrap(), Some(second));
    let list = store.list().unwrap();
    assert_eq!(list.iter().map(|r| r.id).collect::<Vec<_>>(), [first, second]);
    assert_eq!((list[0].target.as_str(), list[0].included), ("http://a", 2));
    assert_eq!((list[1].p50_ms, list[1].p99_ms), (12.0, 31.0));
    let run = store.load(first).unwrap();
    let expected = report("http://a", 2).timeline;
    assert_eq!(run.txs, expected.txs);
    assert_eq!(run.blocks, expected.blocks);
    assert_eq!(run.sends, expected.sends);
    assert_eq!(run.scenario.as_deref(), Some("[[spam]]"));
    assert_eq!(run.report["includedPerSecond"], 2.0);
    assert_eq!(run.to_json()["txs"][0]["includedNs"], 12_000_001);
    let missing = store.load(second + 1).unwrap_err().to_string();
    assert!(missing.contains("no run"), "{missing}");
}

#[test]
fn test_a_file_that_is_not_a_runs_database_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let e = RunStore::open(&garbage).unwrap_err().to_string();
    assert!(e.contains("garbage.sqlite") && e.contains("not a database"), "{e}");
    // One a later lanes-loadgen wrote is refused, not rewritten.
    let later = dir.path().join("later.sqlite");
    let db = Connection::open(&later).unwrap();
    db.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(db);
    let e = RunStore::open(&later).unwrap_err().to_string();
    assert!(e.contains(&format!("schema {}", SCHEMA_VERSION + 1)), "{e}");
}

#[test]
fn test_a_read_sweep_is_kept_listed_and_read_back() {
    use crate::reads::{MethodFigures, ReadReport, ReadSample, ReadStep, SampleCounts};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.sqlite");
    // A database of the first schema (runs of transactions only) gains the
    // reads table when opened.
    let v1 = Connection::open(&path).unwrap();
    v1.execute_batch("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at INTEGER NOT NULL, target TEXT NOT NULL, node TEXT, workload TEXT NOT NULL, scenario TEXT, mode TEXT NOT NULL, report TEXT NOT NULL); PRAGMA user_version = 1;").unwrap();
    drop(v1);
    let mut store = RunStore::open(&path).unwrap();
    let figures = |ok: u64, p50: f64| MethodFigures {
        calls: ok + 1,
        ok,
        errors: 1,
        error_rate: 1.0 / (ok + 1) as f64,
        latency_ms: Latency { p50, p90: p50, p99: 2.0 * p50, max: 3.0 * p50 },
        first_error: Some("no answer within 5s".into()),
    };
    let step = |rate: f64, answered: f64| ReadStep {
        rate,
        answered_per_second: answered,
        all: figures(9, 1.5),
        methods: [("eth_call".to_string(), figures(9, 1.5))].into(),
        broke: None,
    };
    let report = ReadReport {
        kind: "reads",
        target: "http://n".into(),
        node: None,
        mix: "eth_call=1".into(),
        step_seconds: 1.0,
        connections: 2,
        sampled: SampleCounts::default(),
        steps: vec![step(10.0, 9.0), step(100.0, 60.0)],
        sustained: Some(60.0),
        samples: vec![
            ReadSample { step: 0, method: "eth_call", due_ns: 5, took_ns: 1_500_000, ok: true },
            ReadSample { step: 1, method: "eth_call", due_ns: 9, took_ns: 7, ok: false },
        ],
    };
    let id = store.save_reads(&report).unwrap();
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1);
    let s = &listed[0];
    assert_eq!((s.kind.as_str(), s.included, s.included_per_second), ("reads", 18, 60.0));
    assert_eq!((s.p50_ms, s.p99_ms), (1.5, 3.0), "the fastest step's latency");
    assert_eq!((s.workload.as_str(), s.mode.as_str()), ("reads", "at 10,100 calls/s"));
    let run = store.load(id).unwrap();
    assert_eq!(run.reads.len(), 2);
    assert_eq!((run.reads[1].step, run.reads[1].ok, run.reads[1].took_ns), (1, false, 7));
    assert_eq!(run.to_json()["reads"][0]["method"], "eth_call");
    assert_eq!(run.report["steps"][1]["methods"]["eth_call"]["ok"], 9);
}

#[test]
fn test_utc_dates() {
    assert_eq!(utc(0), "1970-01-01 00:00:00");
    assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
    assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
}
