//! A ramp: open-loop steps at rising rates against one node, each for a
//! fixed time, until inclusion breaks a bound; the highest rate that held
//! is the node's sustained rate.
//!
//! A step holds when the node included what was sent (at least
//! [`INCLUDED_SHARE`] of it, none refused), kept up with the rate (included
//! tx/s at least [`KEPT_UP_SHARE`] of it) and the inclusion latency's p99
//! stayed within the bound.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Mode, RunConfig, Target};
use crate::error::Result;
use crate::plan::Plan;
use crate::report::Report;
use crate::run::run;

/// Share of a step's transactions the node must include.
pub const INCLUDED_SHARE: f64 = 0.99;
/// Share of a step's rate its included tx/s must reach.
pub const KEPT_UP_SHARE: f64 = 0.9;

/// The rates a ramp tries.
#[derive(Clone, Copy, Debug)]
pub struct RampConfig {
    /// First rate, tx/s.
    pub from: f64,
    /// Last rate, tx/s.
    pub to: f64,
    /// Rise per step, tx/s.
    pub step: f64,
    /// How long each step sends.
    pub step_time: Duration,
    /// The bound on inclusion latency's p99.
    pub latency_p99: Duration,
}

impl RampConfig {
    /// The rates, `from` up to `to` by `step`.
    pub fn rates(&self) -> Vec<f64> {
        let mut rates = Vec::new();
        let mut r = self.from;
        while r <= self.to + 1e-9 && self.step > 0.0 {
            rates.push(r);
            r += self.step;
        }
        rates
    }

    /// Transactions the largest step sends (what the plan must hold).
    pub fn most_txs(&self) -> usize {
        (self.to * self.step_time.as_secs_f64()).ceil() as usize
    }
}

/// One step of a ramp.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RampStep {
    /// The rate sent, tx/s.
    pub rate: f64,
    /// Whether the step held (see the module's doc).
    pub held: bool,
    /// Why it did not.
    pub broke: Option<String>,
    /// The step's report.
    pub report: Report,
}

/// What a ramp found against one target.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RampReport {
    /// The node.
    pub target: String,
    /// The highest rate that held (none: not even the first).
    pub sustained: Option<f64>,
    /// The p99 bound, ms.
    pub latency_p99_bound_ms: f64,
    /// Every step, up to the first that broke.
    pub steps: Vec<RampStep>,
}

/// Why `report` at `rate` broke the ramp's bounds, if it did: every bound
/// it broke, so that a slow step still says whether its latency held.
pub fn broke(report: &Report, rate: f64, bound: Duration) -> Option<String> {
    let sent = report.submitted.max(1) as f64;
    let mut why = Vec::new();
    if report.rejected > 0 {
        why.push(format!("the node refused {} transactions", report.rejected));
    }
    if (report.included as f64) < INCLUDED_SHARE * sent {
        why.push(format!("{} of {} included", report.included, report.submitted));
    }
    if report.included_per_second < KEPT_UP_SHARE * rate {
        why.push(format!("{:.0} tx/s included", report.included_per_second));
    }
    let bound_ms = bound.as_secs_f64() * 1e3;
    if report.latency_ms.p99 > bound_ms {
        why.push(format!("p99 {:.0} ms over {bound_ms:.0} ms", report.latency_ms.p99));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Runs the ramp against `target`: each step sends the first rate × step
/// time transactions of `plan` at that rate, until one breaks. `progress`
/// hears each step as it ends.
pub async fn ramp(
    plan: &Plan,
    target: &Target,
    config: &RunConfig,
    ramp: &RampConfig,
    mut progress: impl FnMut(&RampStep),
) -> Result<RampReport> {
    let mut steps = Vec::new();
    let mut sustained = None;
    for rate in ramp.rates() {
        let n = (rate * ramp.step_time.as_secs_f64()).ceil() as usize;
        let step_plan = Arc::new(plan.truncated(n.max(1)));
        let step_config = RunConfig { mode: Mode::Rate(rate), ..config.clone() };
        let report = run(step_plan, target, &step_config).await?;
        let broke = broke(&report, rate, ramp.latency_p99);
        let step = RampStep { rate, held: broke.is_none(), broke, report };
        progress(&step);
        let held = step.held;
        steps.push(step);
        if !held {
            break;
        }
        sustained = Some(rate);
    }
    Ok(RampReport {
        target: target.to_string(),
        sustained,
        latency_p99_bound_ms: ramp.latency_p99.as_secs_f64() * 1e3,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Latency;

    fn report(submitted: u64, included: u64, per_second: f64, p99: f64) -> Report {
        Report {
            target: "t".into(),
            node: None,
            workload: "transfer".into(),
            txs: submitted as usize,
            accounts: 1,
            mode: String::new(),
            submitted,
            accepted: submitted,
            rejected: 0,
            rejected_by_reason: Default::default(),
            included,
            failed: Some(0),
            not_included: submitted - included,
            send_seconds: 1.0,
            window_seconds: 1.0,
            sent_per_second: per_second,
            included_per_second: per_second,
            observed: included,
            late: 0,
            observed_per_second: per_second,
            latency_ms: Latency { p50: p99 / 2.0, p90: p99, p99, max: p99 },
            blocks: 1,
            sync_latency_ms: None,
            mean_entry_width: None,
            sets: None,
            setup_seconds: 0.0,
            presign_seconds: 0.0,
            timeline: Default::default(),
        }
    }

    #[test]
    fn test_a_step_holds_only_within_every_bound() {
        let bound = Duration::from_millis(500);
        assert_eq!(broke(&report(1000, 1000, 990.0, 120.0), 1000.0, bound), None);
        let late = broke(&report(1000, 1000, 990.0, 700.0), 1000.0, bound).unwrap();
        assert!(late.contains("p99 700 ms"), "{late}");
        let lost = broke(&report(1000, 900, 990.0, 120.0), 1000.0, bound).unwrap();
        assert!(lost.contains("900 of 1000"), "{lost}");
        let slow = broke(&report(1000, 1000, 600.0, 120.0), 1000.0, bound).unwrap();
        assert!(slow.contains("600 tx/s") && !slow.contains("p99"), "{slow}");
        let both = broke(&report(1000, 1000, 600.0, 700.0), 1000.0, bound).unwrap();
        assert_eq!(both, "600 tx/s included; p99 700 ms over 500 ms");
        let ramp = RampConfig {
            from: 1000.0,
            to: 3000.0,
            step: 1000.0,
            step_time: Duration::from_secs(2),
            latency_p99: bound,
        };
        assert_eq!(ramp.rates(), [1000.0, 2000.0, 3000.0]);
        assert_eq!(ramp.most_txs(), 6000);
    }
}
