//! What a run measured: a struct for `--json`, a table for people.

use std::collections::BTreeMap;

use serde::Serialize;

/// Send-to-inclusion latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// Percentiles (nearest rank) of `nanos`, which it sorts.
    pub fn of(nanos: &mut [u64]) -> Self {
        if nanos.is_empty() {
            return Self::default();
        }
        nanos.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * nanos.len() as f64).ceil() as usize;
            nanos[rank.clamp(1, nanos.len()) - 1] as f64 / 1e6
        };
        Self { p50: at(50.0), p90: at(90.0), p99: at(99.0), max: at(100.0) }
    }
}

/// The figures of one run against one target.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The node's URL, or the in-process stage.
    pub target: String,
    /// `web3_clientVersion`, where the node answers it.
    pub node: Option<String>,
    /// The workload, or the scenario's name.
    pub workload: String,
    /// Transactions in the plan.
    pub txs: usize,
    /// Accounts sending.
    pub accounts: usize,
    /// Pacing.
    pub mode: String,
    /// Transactions sent.
    pub submitted: u64,
    /// Transactions the node accepted (a hash back).
    pub accepted: u64,
    /// Transactions refused (at submission, or dropped before inclusion).
    pub rejected: u64,
    /// Refusals by the node's reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Transactions seen in blocks.
    pub included: u64,
    /// Included with status 0; `None` where the node has no `eth_getBlockReceipts`.
    pub failed: Option<u64>,
    /// Sent, neither refused nor included when the drain time ran out.
    pub not_included: u64,
    /// From the first send to the last.
    pub send_seconds: f64,
    /// The measured window: from the first send to the last inclusion.
    pub window_seconds: f64,
    /// Sent per second of sending.
    pub sent_per_second: f64,
    /// Included per second of the window.
    pub included_per_second: f64,
    /// Included while the run was still sending (by its last send).
    pub observed: u64,
    /// Included after the last send, while the run drained.
    pub late: u64,
    /// Included while sending, per second of sending: the rate the node
    /// kept up with under the load.
    pub observed_per_second: f64,
    /// Send-to-inclusion latency of the included.
    pub latency_ms: Latency,
    /// Blocks holding the run's transactions.
    pub blocks: u64,
    /// `eth_sendRawTransactionSync` round trips (send to receipt, as the
    /// node answers it) of the sampled sends, where the node has the method.
    pub sync_latency_ms: Option<Latency>,
    /// Transactions per entry over the run, from `lanes_stats` (lanes only).
    pub mean_entry_width: Option<f64>,
    /// Where the sets of the transactions included in the run came from,
    /// from `lanes_stats` (lanes only).
    pub sets: Option<SetCounts>,
    /// Funding and deploying before the run (not timed in the window).
    pub setup_seconds: f64,
    /// Signing every transaction before the run (not timed in the window).
    pub presign_seconds: f64,
    /// What the run saw over time (kept in the runs database; not in
    /// `--json`).
    #[serde(skip)]
    pub timeline: Timeline,
}

/// What a run saw over time: each transaction's send and inclusion, the
/// blocks, the send batches' round trips.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Per transaction, in plan order.
    pub txs: Vec<TxTimes>,
    /// The blocks that included the run's transactions.
    pub blocks: Vec<BlockFacts>,
    /// Each send batch.
    pub sends: Vec<SendTiming>,
}

/// One transaction's times, nanoseconds from the run's start (0: never).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TxTimes {
    /// Sent (scheduled, in open loop).
    pub sent_ns: u64,
    /// Seen in a block.
    pub included_ns: u64,
    /// That block's number (0: not included).
    pub block: u64,
}

/// A block that included some of the run's transactions, as the node
/// served it, and on lanes how it ran (`lanes_getBlockEntries`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockFacts {
    /// Its number.
    pub number: u64,
    /// When the run saw it, nanoseconds from the run's start.
    pub seen_ns: u64,
    /// Its timestamp, Unix seconds.
    pub timestamp: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Size in bytes.
    pub size: u64,
    /// Transactions in it (the run's and others).
    pub transactions: u64,
    /// Entries it ran in (lanes).
    pub entries: Option<u64>,
    /// The widest entry's transactions (lanes).
    pub widest: Option<u64>,
    /// Transactions whose set was declared (lanes).
    pub declared: Option<u64>,
    /// ... known from state (lanes).
    pub known: Option<u64>,
    /// ... predicted (lanes).
    pub predicted: Option<u64>,
    /// ... run alone in the exclusive lane (lanes).
    pub exclusive: Option<u64>,
}

/// One send batch's round trip.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendTiming {
    /// The JSON-RPC method (or `submit`, in process).
    pub method: String,
    /// When it went, nanoseconds from the run's start.
    pub at_ns: u64,
    /// How long the answer took.
    pub took_ns: u64,
    /// Calls in the batch.
    pub count: u64,
}

/// Included transactions by where their set came from, and how often one
/// left its set (lanes only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetCounts {
    /// Under their own access list.
    pub declared: u64,
    /// Under a set known from state (value transfers).
    pub known: u64,
    /// Under a predicted set.
    pub predicted: u64,
    /// Alone, in the exclusive lane.
    pub exclusive: u64,
    /// Times a transaction left its set (it ran again).
    pub mispredicted: u64,
    /// Predicted transactions whose first prediction held.
    pub predictions_held: u64,
    /// Predicted transactions whose set locked a key they did not touch.
    pub over_predicted: u64,
}

/// The reports side by side, one column each, with the first column's
/// throughput as a multiple of each column's.
pub fn table(reports: &[Report]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&Report) -> String| {
        rows.push((name.to_string(), reports.iter().map(f).collect()));
    };
    let opt =
        |v: Option<f64>, digits: usize| v.map_or("n/a".to_string(), |v| format!("{v:.digits$}"));
    row("target", &|r| r.target.clone());
    row("node", &|r| r.node.clone().unwrap_or_else(|| "?".into()).chars().take(40).collect());
    row("workload", &|r| format!("{} x {} ({} accounts)", r.workload, r.txs, r.accounts));
    row("mode", &|r| r.mode.clone());
    row("submitted", &|r| r.submitted.to_string());
    row("accepted", &|r| r.accepted.to_string());
    row("rejected", &|r| r.rejected.to_string());
    row("included", &|r| r.included.to_string());
    row("failed on chain", &|r| r.failed.map_or("n/a".into(), |f| f.to_string()));
    row("not included", &|r| r.not_included.to_string());
    row("window (s)", &|r| format!("{:.2}", r.window_seconds));
    row("sent tx/s", &|r| format!("{:.0}", r.sent_per_second));
    row("included tx/s", &|r| format!("{:.0}", r.included_per_second));
    row("observed (while sending)", &|r| r.observed.to_string());
    row("late (after the last send)", &|r| r.late.to_string());
    row("observed tx/s", &|r| format!("{:.0}", r.observed_per_second));
    if reports.len() > 1 {
        let base = reports[0].included_per_second;
        row("first's included tx/s ÷ this", &|r| {
            if r.included_per_second > 0.0 {
                format!("{:.1}x", base / r.included_per_second)
            } else {
                "n/a".into()
            }
        });
    }
    row("latency p50 (ms)", &|r| format!("{:.0}", r.latency_ms.p50));
    row("latency p90 (ms)", &|r| format!("{:.0}", r.latency_ms.p90));
    row("latency p99 (ms)", &|r| format!("{:.0}", r.latency_ms.p99));
    row("latency max (ms)", &|r| format!("{:.0}", r.latency_ms.max));
    row("sync send p50 (ms)", &|r| opt(r.sync_latency_ms.as_ref().map(|l| l.p50), 0));
    row("sync send p99 (ms)", &|r| opt(r.sync_latency_ms.as_ref().map(|l| l.p99), 0));
    row("blocks", &|r| r.blocks.to_string());
    row("mean entry width", &|r| opt(r.mean_entry_width, 1));
    let sets = |f: fn(&SetCounts) -> u64| {
        move |r: &Report| r.sets.map_or("n/a".into(), |s| f(&s).to_string())
    };
    row("sets declared", &sets(|s| s.declared));
    row("sets known from state", &sets(|s| s.known));
    row("sets predicted", &sets(|s| s.predicted));
    row("exclusive lane", &sets(|s| s.exclusive));
    row("mispredicted", &sets(|s| s.mispredicted));
    row("first predictions held", &sets(|s| s.predictions_held));
    row("over-predicted", &sets(|s| s.over_predicted));
    row("setup (s)", &|r| format!("{:.1}", r.setup_seconds));
    row("presign (s)", &|r| format!("{:.1}", r.presign_seconds));
    let reasons: std::collections::BTreeSet<&String> =
        reports.iter().flat_map(|r| r.rejected_by_reason.keys()).collect();
    for reason in reasons {
        rows.push((
            format!("  rejected: {reason}"),
            reports
                .iter()
                .map(|r| r.rejected_by_reason.get(reason).copied().unwrap_or(0).to_string())
                .collect(),
        ));
    }
    let name_width = rows.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..reports.len())
        .map(|c| rows.iter().map(|(_, v)| v[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (name, values) in rows {
        out.push_str(&format!("{name:<name_width$}"));
        for (v, w) in values.iter().zip(&widths) {
            out.push_str(&format!("  {v:>w$}"));
        }
        out.push('\n');
    }
    out
}

/// One figure over repeated runs: its median and mean, and the 95%
/// confidence interval of the mean (Student's t, the runs' own spread).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    /// The middle run's (the mean of the middle two).
    pub median: f64,
    /// The mean.
    pub mean: f64,
    /// The interval's low end.
    pub low: f64,
    /// The interval's high end.
    pub high: f64,
}

/// Student's t at 97.5% for 1 to 30 degrees of freedom (past 30: 1.96).
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

impl Spread {
    /// The spread of `values` (one run: an interval of that one value).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Self { median: 0.0, mean: 0.0, low: 0.0, high: 0.0 };
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = match n % 2 {
            1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        let mean = values.iter().sum::<f64>() / n as f64;
        let half = match n {
            1 => 0.0,
            _ => {
                let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
                let t = T_975.get(n - 2).copied().unwrap_or(1.96);
                t * (var / n as f64).sqrt()
            }
        };
        Self { median, mean, low: mean - half, high: mean + half }
    }
}

/// Repeated runs of one load against one target (`run --repeat N`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repeated {
    /// The node.
    pub target: String,
    /// The workload or scenario.
    pub workload: String,
    /// Runs made.
    pub runs: usize,
    /// Included per second of each run's window.
    pub included_per_second: Spread,
    /// Included while sending, per second of sending.
    pub observed_per_second: Spread,
    /// Inclusion latency p50, ms.
    pub p50_ms: Spread,
    /// Inclusion latency p99, ms.
    pub p99_ms: Spread,
    /// Each run's report.
    pub reports: Vec<Report>,
}

impl Repeated {
    /// The spread of `reports`, runs of one load against one target.
    pub fn of(reports: Vec<Report>) -> Self {
        let f = |g: fn(&Report) -> f64| Spread::of(&reports.iter().map(g).collect::<Vec<_>>());
        Self {
            target: reports.first().map(|r| r.target.clone()).unwrap_or_default(),
            workload: reports.first().map(|r| r.workload.clone()).unwrap_or_default(),
            runs: reports.len(),
            included_per_second: f(|r| r.included_per_second),
            observed_per_second: f(|r| r.observed_per_second),
            p50_ms: f(|r| r.latency_ms.p50),
            p99_ms: f(|r| r.latency_ms.p99),
            reports,
        }
    }

    /// The figures as a table: median, and the mean's 95% interval.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} on {}: {} runs (median; mean's 95% confidence interval)\n",
            self.workload, self.target, self.runs
        );
        for (what, s) in [
            ("included tx/s", self.included_per_second),
            ("observed tx/s", self.observed_per_second),
            ("latency p50 (ms)", self.p50_ms),
            ("latency p99 (ms)", self.p99_ms),
        ] {
            out.push_str(&format!(
                "{what:<20} {:>10.1}  [{:.1}, {:.1}]\n",
                s.median, s.low, s.high
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_has_the_median_and_students_interval() {
        let s = Spread::of(&[10.0, 12.0, 11.0, 13.0, 9.0]);
        assert_eq!((s.median, s.mean), (11.0, 11.0));
        // sd = sqrt(2.5); t(4) = 2.776: 11 +- 2.776 * sqrt(2.5 / 5).
        let half = 2.776 * (2.5f64 / 5.0).sqrt();
        assert!((s.low - (11.0 - half)).abs() < 1e-9 && (s.high - (11.0 + half)).abs() < 1e-9);
        let one = Spread::of(&[4.0]);
        assert_eq!((one.low, one.high), (4.0, 4.0));
        assert_eq!(Spread::of(&[1.0, 3.0]).median, 2.0);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<u64> = (1..=100).map(|ms| ms * 1_000_000).collect();
        v.reverse();
        let l = Latency::of(&mut v);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        let l = Latency::of(&mut [7_000_000]);
        assert_eq!((l.p50, l.max), (7.0, 7.0));
        assert_eq!(Latency::of(&mut []).max, 0.0);
    }
}
