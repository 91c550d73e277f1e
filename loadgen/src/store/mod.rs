//! Runs kept: every run's report, per-transaction send and inclusion
//! times, the blocks that included them, and the send batches' timings (or,
//! for a read sweep, every call's due time, latency and outcome), in one
//! SQLite file (`--db`, by default under the user's data folder), for
//! `lanes-loadgen runs`, `export` and `report`.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Value, json};

use crate::reads::ReadReport;
use crate::report::{BlockFacts, Report, SendTiming, TxTimes};

/// Longest a run waits for another process writing the database.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The schema this build writes; a file of a later one is refused.
pub const SCHEMA_VERSION: i64 = 2;

/// Why the runs database could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused the file or a statement (not a database, locked,
    /// damaged, the disk full...).
    #[error("runs database {}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// Its folder could not be created.
    #[error("creating {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The I/O cause.
        source: std::io::Error,
    },
    /// A later lanes-loadgen wrote it.
    #[error("runs database {}: schema {found}, this lanes-loadgen reads {SCHEMA_VERSION}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// A stored report is not JSON of a report.
    #[error("runs database {}: run {run}: {reason}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The run.
        run: i64,
        /// What is wrong.
        reason: String,
    },
    /// No run has this id.
    #[error("runs database {}: no run {run}", path.display())]
    NoRun {
        /// The file.
        path: PathBuf,
        /// The id asked for.
        run: i64,
    },
}

/// One line of `lanes-loadgen runs`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The run's id.
    pub id: i64,
    /// `"txs"` (a run of transactions) or `"reads"` (a read sweep).
    pub kind: String,
    /// When it started, Unix seconds.
    pub started_at: i64,
    /// The node.
    pub target: String,
    /// The workload or scenario.
    pub workload: String,
    /// Pacing.
    pub mode: String,
    /// Transactions included (a read sweep: calls answered).
    pub included: u64,
    /// Included tx/s (a read sweep: answered calls/s of its fastest step).
    pub included_per_second: f64,
    /// Inclusion latency p50 and p99, ms (a read sweep: of its fastest
    /// step, all methods).
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
}

/// A run as stored, for `export` and `report`.
#[derive(Clone, Debug)]
pub struct StoredRun {
    /// Its summary.
    pub summary: RunSummary,
    /// The scenario file it sent, if any.
    pub scenario: Option<String>,
    /// The `--json` report.
    pub report: Value,
    /// Per transaction, in plan order.
    pub txs: Vec<TxTimes>,
    /// The blocks that included them.
    pub blocks: Vec<BlockFacts>,
    /// The send batches.
    pub sends: Vec<SendTiming>,
    /// A read sweep's calls.
    pub reads: Vec<StoredRead>,
}

/// One call of a read sweep as kept.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRead {
    /// Its step's index.
    pub step: u32,
    /// The method.
    pub method: String,
    /// Due, ns from the sweep's start.
    pub due_ns: u64,
    /// Due to answer, ns.
    pub took_ns: u64,
    /// Answered with a result.
    pub ok: bool,
}

impl StoredRun {
    /// The run as one JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.summary.id,
            "startedAt": self.summary.started_at,
            "target": self.summary.target,
            "workload": self.summary.workload,
            "scenario": self.scenario,
            "report": self.report,
            "txs": self.txs,
            "blocks": self.blocks,
            "sends": self.sends,
            "reads": self.reads,
        })
    }
}

/// The runs database.
#[derive(Debug)]
pub struct RunStore {
    path: PathBuf,
    db: Connection,
}

/// Where runs are kept by default: `$LANES_LOADGEN_DB`, else
/// `$XDG_DATA_HOME/lanes/loadgen.sqlite`, else
/// `~/.local/share/lanes/loadgen.sqlite`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LANES_LOADGEN_DB") {
        return p.into();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("lanes").join("loadgen.sqlite")
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL,
    target TEXT NOT NULL,
    node TEXT,
    workload TEXT NOT NULL,
    scenario TEXT,
    mode TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS txs (
    run INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    sent_ns INTEGER NOT NULL,
    included_ns INTEGER NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (run, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    run INTEGER NOT NULL,
    number INTEGER NOT NULL,
    seen_ns INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    gas_used INTEGER NOT NULL,
    gas_limit INTEGER NOT NULL,
    size INTEGER NOT NULL,
    transactions INTEGER NOT NULL,
    entries INTEGER,
    widest INTEGER,
    declared INTEGER,
    known INTEGER,
    predicted INTEGER,
    exclusive INTEGER,
    PRIMARY KEY (run, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sends (
    run INTEGER NOT NULL,
    method TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    took_ns INTEGER NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reads (
    run INTEGER NOT NULL,
    step INTEGER NOT NULL,
    method TEXT NOT NULL,
    due_ns INTEGER NOT NULL,
    took_ns INTEGER NOT NULL,
    ok INTEGER NOT NULL
);
";

/// SQLite stores signed 64-bit integers.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl RunStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::Folder { path: dir.into(), source })?;
        }
        let sqlite = |source| StoreError::Sqlite { path: path.into(), source };
        let db = Connection::open(path).map_err(sqlite)?;
        // Runs side by side share the file: a writer waits for another.
        db.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        let version: i64 =
            db.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sqlite)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Schema { path: path.into(), found: version });
        }
        db.execute_batch(SCHEMA).map_err(sqlite)?;
        db.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(sqlite)?;
        Ok(Self { path: path.into(), db })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// Keeps `report` (with its timeline) as a new run; its id.
    pub fn save(&mut self, report: &Report, scenario: Option<&str>) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite { path: path.clone(), source };
        let json = serde_json::to_string(report).unwrap_or_default();
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(report.window_seconds.max(report.send_seconds) as u64);
        let tx = self.db.transaction().map_err(sqlite)?;
        tx.execute(
            "INSERT INTO runs (started_at, target, node, workload, scenario, mode, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                int(started),
                report.target,
                report.node,
                report.workload,
                scenario,
                report.mode,
                json
            ],
        )
        .map_err(sqlite)?;
        let run = tx.last_insert_rowid();
        {
            let mut insert = tx
                .prepare("INSERT INTO txs (run, idx, sent_ns, included_ns, block) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(sqlite)?;
            for (i, t) in report.timeline.txs.iter().enumerate() {
                insert
                    .execute(params![
                        run,
                        int(i as u64),
                        int(t.sent_ns),
                        int(t.included_ns),
                        int(t.block)
                    ])
                    .map_err(sqlite)?;
            }
            let mut insert = tx
                .prepare(
                    "INSERT OR REPLACE INTO blocks (run, number, seen_ns, timestamp, gas_used, gas_limit, size,
                     transactions, entries, widest, declared, known, predicted, exclusive)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(sqlite)?;
            for b in &report.timeline.blocks {
                let opt = |v: Option<u64>| v.map(int);
                insert
                    .execute(params![
                        run,
                        int(b.number),
                        int(b.seen_ns),
                        int(b.timestamp),
                        int(b.gas_used),
                        int(b.gas_limit),
                        int(b.size),
                        int(b.transactions),
                        opt(b.entries),
                        opt(b.widest),
                        opt(b.declared),
                        opt(b.known),
                        opt(b.predicted),
                        opt(b.exclusive),
                    ])
                    .map_err(sqlite)?;
            }
            let mut insert = tx
                .prepare("INSERT INTO sends (run, method, at_ns, took_ns, count) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(sqlite)?;
            for s in &report.timeline.sends {
                insert
                    .execute(params![run, s.method, int(s.at_ns), int(s.took_ns), int(s.count)])
                    .map_err(sqlite)?;
            }
        }
        tx.commit().map_err(sqlite)?;
        Ok(run)
    }

    /// Keeps a read sweep as a new run; its id.
    pub fn save_reads(&mut self, report: &ReadReport) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite { path: path.clone(), source };
        let json = serde_json::to_string(report).unwrap_or_default();
        let seconds = report.step_seconds * report.steps.len() as f64;
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(seconds as u64);
        let rates: Vec<String> = report.steps.iter().map(|s| format!("{:.0}", s.rate)).collect();
        let mode = format!("at {} calls/s", rates.join(","));
        let tx = self.db.transaction().map_err(sqlite)?;
        tx.execute(
            "INSERT INTO runs (started_at, target, node, workload, scenario, mode, report)
             VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6)",
            params![int(started), report.target, report.node, "reads", mode, json],
        )
        .map_err(sqlite)?;
        let run = tx.last_insert_rowid();
        {
            let mut insert = tx
                .prepare("INSERT INTO reads (run, step, method, due_ns, took_ns, ok) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(sqlite)?;
            for r in &report.samples {
                insert
                    .execute(params![run, r.step, r.method, int(r.due_ns), int(r.took_ns), r.ok])
                    .map_err(sqlite)?;
            }
        }
        tx.commit().map_err(sqlite)?;
        Ok(run)
    }

    /// Every run, oldest first.
    pub fn list(&self) -> Result<Vec<RunSummary>, StoreError> {
        let mut q = self
            .db
            .prepare("SELECT id, started_at, target, workload, mode, report FROM runs ORDER BY id")
            .map_err(self.sqlite())?;
        let rows = q
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(self.sqlite())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, started_at, target, workload, mode, report) = row.map_err(self.sqlite())?;
            let report = self.parse_report(id, &report)?;
            out.push(summary(id, started_at, target, workload, mode, &report));
        }
        Ok(out)
    }

    /// The newest run's id.
    pub fn latest(&self) -> Result<Option<i64>, StoreError> {
        self.db
            .query_row("SELECT max(id) FROM runs", [], |r| r.get::<_, Option<i64>>(0))
            .map_err(self.sqlite())
    }

    fn parse_report(&self, run: i64, text: &str) -> Result<Value, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Damaged {
            path: self.path.clone(),
            run,
            reason: format!("its report is not JSON: {e}"),
        })
    }

    /// Run `id` with everything kept of it.
    pub fn load(&self, id: i64) -> Result<StoredRun, StoreError> {
        let row = self
            .db
            .query_row(
                "SELECT started_at, target, workload, mode, scenario, report FROM runs WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(self.sqlite())?;
        let Some((started_at, target, workload, mode, scenario, report)) = row else {
            return Err(StoreError::NoRun { path: self.path.clone(), run: id });
        };
        let report = self.parse_report(id, &report)?;
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        let uo = |v: Option<i64>| v.map(u);
        let mut q = self
            .db
            .prepare("SELECT sent_ns, included_ns, block FROM txs WHERE run = ?1 ORDER BY idx")
            .map_err(self.sqlite())?;
        let txs = q
            .query_map([id], |r| {
                Ok(TxTimes {
                    sent_ns: u(r.get(0)?),
                    included_ns: u(r.get(1)?),
                    block: u(r.get(2)?),
                })
            })
            .map_err(self.sqlite())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sqlite())?;
        let mut q = self
            .db
            .prepare(
                "SELECT number, seen_ns, timestamp, gas_used, gas_limit, size, transactions, entries,
                 widest, declared, known, predicted, exclusive FROM blocks WHERE run = ?1 ORDER BY number",
            )
            .map_err(self.sqlite())?;
        let blocks = q
            .query_map([id], |r| {
                Ok(BlockFacts {
                    number: u(r.get(0)?),
                    seen_ns: u(r.get(1)?),
                    timestamp: u(r.get(2)?),
                    gas_used: u(r.get(3)?),
                    gas_limit: u(r.get(4)?),
                    size: u(r.get(5)?),
                    transactions: u(r.get(6)?),
                    entries: uo(r.get(7)?),
                    widest: uo(r.get(8)?),
                    declared: uo(r.get(9)?),
                    known: uo(r.get(10)?),
                    predicted: uo(r.get(11)?),
                    exclusive: uo(r.get(12)?),
                })
            })
            .map_err(self.sqlite())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sqlite())?;
        let mut q = self
            .db
            .prepare(
                "SELECT method, at_ns, took_ns, count FROM sends WHERE run = ?1 ORDER BY at_ns",
            )
            .map_err(self.sqlite())?;
        let sends = q
            .query_map([id], |r| {
                Ok(SendTiming {
                    method: r.get(0)?,
                    at_ns: u(r.get(1)?),
                    took_ns: u(r.get(2)?),
                    count: u(r.get(3)?),
                })
            })
            .map_err(self.sqlite())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sqlite())?;
        let mut q = self
            .db
            .prepare(
                "SELECT step, method, due_ns, took_ns, ok FROM reads WHERE run = ?1 ORDER BY rowid",
            )
            .map_err(self.sqlite())?;
        let reads = q
            .query_map([id], |r| {
                Ok(StoredRead {
                    step: r.get(0)?,
                    method: r.get(1)?,
                    due_ns: u(r.get(2)?),
                    took_ns: u(r.get(3)?),
                    ok: r.get(4)?,
                })
            })
            .map_err(self.sqlite())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sqlite())?;
        let summary = summary(id, started_at, target, workload, mode, &report);
        Ok(StoredRun { summary, scenario, report, txs, blocks, sends, reads })
    }
}

fn summary(
    id: i64,
    started_at: i64,
    target: String,
    workload: String,
    mode: String,
    report: &Value,
) -> RunSummary {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    if report["kind"] == "reads" {
        let steps = report["steps"].as_array().map_or(&[][..], Vec::as_slice);
        let fastest = steps
            .iter()
            .max_by(|a, b| f(&a["answeredPerSecond"]).total_cmp(&f(&b["answeredPerSecond"])));
        let answered = steps.iter().map(|s| s["all"]["ok"].as_u64().unwrap_or(0)).sum();
        let at = |key: &str| fastest.map_or(0.0, |s| f(&s["all"]["latencyMs"][key]));
        return RunSummary {
            id,
            kind: "reads".into(),
            started_at,
            target,
            workload,
            mode,
            included: answered,
            included_per_second: fastest.map_or(0.0, |s| f(&s["answeredPerSecond"])),
            p50_ms: at("p50"),
            p99_ms: at("p99"),
        };
    }
    RunSummary {
        id,
        kind: "txs".into(),
        started_at,
        target,
        workload,
        mode,
        included: report["included"].as_u64().unwrap_or(0),
        included_per_second: f(&report["includedPerSecond"]),
        p50_ms: f(&report["latencyMs"]["p50"]),
        p99_ms: f(&report["latencyMs"]["p99"]),
    }
}

/// `started_at` as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests;
