//! `lanes-loadgen report`: kept runs as one self-contained HTML file, its
//! charts SVG drawn by plotters, several runs on the same axes.
//!
//! Every chart is a `<figure data-chart=NAME data-points=N>`; a small inline
//! script measures each drawn SVG as the browser laid it out and writes
//! what it found into `#render-check` (what the headless-browser test reads).

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::store::{StoredRun, utc};

const WIDTH: u32 = 860;
const HEIGHT: u32 = 340;
/// Points per drawn line at most (longer series are thinned evenly).
const MAX_POINTS: usize = 600;

/// One line of a chart: a run's points.
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

/// A chart's content: its name, caption, axes and lines (or bars).
struct Chart {
    name: &'static str,
    caption: String,
    x_desc: &'static str,
    y_desc: &'static str,
    series: Vec<Series>,
    /// Draw bars at each point instead of lines (categories on x).
    bars: bool,
    /// Names of the categories on x, for bars.
    categories: Vec<String>,
    /// Draw y on a log scale (lines only).
    log_y: bool,
    /// The y axis reaches at least this high.
    y_floor: f64,
}

impl Chart {
    /// A chart of lines on linear axes from 0.
    fn line(
        name: &'static str,
        caption: &str,
        x_desc: &'static str,
        y_desc: &'static str,
        series: Vec<Series>,
    ) -> Self {
        Chart {
            name,
            caption: caption.into(),
            x_desc,
            y_desc,
            series,
            bars: false,
            categories: vec![],
            log_y: false,
            y_floor: 0.0,
        }
    }
}

fn label(run: &StoredRun) -> String {
    format!("run {} {} {}", run.summary.id, run.summary.workload, run.summary.target)
}

fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let step = points.len() as f64 / MAX_POINTS as f64;
    (0..MAX_POINTS).map(|i| points[(i as f64 * step) as usize]).collect()
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The first send of a run, the zero of its time axis.
fn origin(run: &StoredRun) -> u64 {
    run.txs.iter().map(|t| t.sent_ns).filter(|s| *s > 0).min().unwrap_or(0)
}

fn latencies_ms(run: &StoredRun) -> Vec<f64> {
    let mut l: Vec<f64> = run
        .txs
        .iter()
        .filter(|t| t.sent_ns > 0 && t.included_ns > 0)
        .map(|t| t.included_ns.saturating_sub(t.sent_ns) as f64 / 1e6)
        .collect();
    l.sort_by(f64::total_cmp);
    l
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn included_per_second(run: &StoredRun) -> Vec<(f64, f64)> {
    let zero = origin(run);
    let mut buckets: Vec<f64> = Vec::new();
    for t in run.txs.iter().filter(|t| t.included_ns > 0) {
        let s = secs(t.included_ns.saturating_sub(zero)) as usize;
        if buckets.len() <= s {
            buckets.resize(s + 1, 0.0);
        }
        buckets[s] += 1.0;
    }
    buckets.into_iter().enumerate().map(|(s, n)| (s as f64 + 0.5, n)).collect()
}

fn latency_histogram(run: &StoredRun, top: f64, bins: usize) -> Vec<(f64, f64)> {
    let l = latencies_ms(run);
    let width = top / bins as f64;
    let mut counts = vec![0.0; bins];
    for v in &l {
        counts[((v / width) as usize).min(bins - 1)] += 1.0;
    }
    let n = l.len().max(1) as f64;
    counts.into_iter().enumerate().map(|(i, c)| ((i as f64 + 0.5) * width, c / n)).collect()
}

fn latency_cdf(run: &StoredRun) -> Vec<(f64, f64)> {
    let l = latencies_ms(run);
    let n = l.len() as f64;
    thin(l.iter().enumerate().map(|(i, v)| (*v, (i + 1) as f64 / n)).collect())
}

fn gas_per_block(run: &StoredRun) -> Vec<(f64, f64)> {
    let zero = origin(run);
    run.blocks
        .iter()
        .map(|b| (secs(b.seen_ns.saturating_sub(zero)), b.gas_used as f64 / 1e6))
        .collect()
}

fn pending_over_time(run: &StoredRun) -> Vec<(f64, f64)> {
    let zero = origin(run);
    let mut sent: Vec<u64> = run.txs.iter().map(|t| t.sent_ns).filter(|s| *s > 0).collect();
    let mut included: Vec<u64> = run.txs.iter().map(|t| t.included_ns).filter(|s| *s > 0).collect();
    sent.sort_unstable();
    included.sort_unstable();
    let end = included.last().copied().max(sent.last().copied()).unwrap_or(zero);
    let step = (end.saturating_sub(zero) / 400).max(1_000_000);
    let (mut s, mut i) = (0, 0);
    let mut points = Vec::new();
    let mut t = zero;
    while t <= end + step {
        while s < sent.len() && sent[s] <= t {
            s += 1;
        }
        while i < included.len() && included[i] <= t {
            i += 1;
        }
        points.push((secs(t - zero), s.saturating_sub(i) as f64));
        t += step;
    }
    points
}

const PERCENTILES: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

/// Per send method of `run` (the batches, and the sampled sync sends), the
/// round trip's percentiles.
fn rpc_latency(run: &StoredRun) -> Vec<Series> {
    let mut methods: Vec<&str> = run.sends.iter().map(|s| s.method.as_str()).collect();
    methods.sort_unstable();
    methods.dedup();
    methods
        .into_iter()
        .map(|method| {
            let mut took: Vec<f64> = run
                .sends
                .iter()
                .filter(|s| s.method == method)
                .map(|s| s.took_ns as f64 / 1e6)
                .collect();
            took.sort_by(f64::total_cmp);
            let points =
                PERCENTILES.iter().enumerate().map(|(i, p)| (i as f64, percentile(&took, *p)));
            Series { label: format!("{} {method}", label(run)), points: points.collect() }
        })
        .collect()
}

/// A read sweep's steps: (offered rate, the step's JSON).
fn read_steps(run: &StoredRun) -> Vec<(f64, &serde_json::Value)> {
    let steps = run.report["steps"].as_array().map_or(&[][..], Vec::as_slice);
    steps.iter().map(|s| (s["rate"].as_f64().unwrap_or(0.0), s)).collect()
}

/// Per method of each read sweep, `value` of its figures at each rate.
fn per_method(runs: &[&StoredRun], value: fn(&serde_json::Value) -> f64) -> Vec<Series> {
    let mut series = Vec::new();
    for run in runs {
        let steps = read_steps(run);
        let mut methods: Vec<&String> = steps
            .iter()
            .filter_map(|(_, s)| s["methods"].as_object())
            .flat_map(|m| m.keys())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        for method in methods {
            let points = steps
                .iter()
                .filter_map(|(rate, s)| Some((*rate, value(s["methods"].get(method)?))))
                .collect();
            series.push(Series { label: format!("{} {method}", label(run)), points });
        }
    }
    series
}

fn read_charts(runs: &[&StoredRun]) -> Vec<Chart> {
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    let line = |name, caption: &str, y_desc, series| {
        Chart::line(name, caption, "calls per second asked for", y_desc, series)
    };
    let answered = runs
        .iter()
        .map(|r| Series {
            label: label(r),
            points: read_steps(r)
                .iter()
                .map(|(rate, s)| (*rate, f(&s["answeredPerSecond"])))
                .collect(),
        })
        .collect();
    let log = |chart: Chart| Chart { log_y: true, ..chart };
    vec![
        log(line(
            "read-latency-p50",
            "Read latency p50 per method, due to answer (log scale)",
            "ms",
            per_method(runs, |m| m["latencyMs"]["p50"].as_f64().unwrap_or(0.0)),
        )),
        log(line(
            "read-latency-p99",
            "Read latency p99 per method, due to answer (log scale)",
            "ms",
            per_method(runs, |m| m["latencyMs"]["p99"].as_f64().unwrap_or(0.0)),
        )),
        Chart {
            y_floor: 1.0,
            ..line(
                "read-errors",
                "Read errors per method (errors, transport failures and time-outs)",
                "% of calls",
                per_method(runs, |m| m["errorRate"].as_f64().unwrap_or(0.0) * 100.0),
            )
        },
        line("read-answered", "Read calls answered per second", "calls/s", answered),
    ]
}

fn entry_width(run: &StoredRun) -> Vec<(f64, f64)> {
    let zero = origin(run);
    run.blocks
        .iter()
        .filter_map(|b| {
            let entries = b.entries.filter(|e| *e > 0)?;
            Some((secs(b.seen_ns.saturating_sub(zero)), b.transactions as f64 / entries as f64))
        })
        .collect()
}

fn set_sources(run: &StoredRun) -> Vec<(f64, f64)> {
    let sum = |f: fn(&crate::report::BlockFacts) -> Option<u64>| -> Option<f64> {
        let known: Vec<u64> = run.blocks.iter().filter_map(f).collect();
        (!known.is_empty()).then(|| known.iter().sum::<u64>() as f64)
    };
    let totals =
        [sum(|b| b.declared), sum(|b| b.known), sum(|b| b.predicted), sum(|b| b.exclusive)];
    if totals.iter().all(Option::is_none) {
        return Vec::new();
    }
    totals.iter().enumerate().map(|(i, t)| (i as f64, t.unwrap_or(0.0))).collect()
}

fn charts(all: &[StoredRun]) -> Vec<Chart> {
    let (reads, runs): (Vec<&StoredRun>, Vec<&StoredRun>) =
        all.iter().partition(|r| r.summary.kind == "reads");
    let mut charts = if runs.is_empty() { Vec::new() } else { tx_charts(&runs) };
    if !reads.is_empty() {
        charts.extend(read_charts(&reads));
    }
    charts
}

fn tx_charts(runs: &[&StoredRun]) -> Vec<Chart> {
    let per_run = |f: &dyn Fn(&StoredRun) -> Vec<(f64, f64)>| -> Vec<Series> {
        runs.iter().map(|r| Series { label: label(r), points: f(r) }).collect()
    };
    let top = runs.iter().map(|r| percentile(&latencies_ms(r), 99.0)).fold(1.0, f64::max) * 1.25;
    let line = Chart::line;
    vec![
        line(
            "included-tx-per-second",
            "Included transactions per second",
            "seconds since the first send",
            "tx/s",
            per_run(&included_per_second),
        ),
        line(
            "latency-histogram",
            "Inclusion latency, share of transactions per bin",
            "send to inclusion, ms",
            "share",
            per_run(&|r| latency_histogram(r, top, 40)),
        ),
        line(
            "latency-cdf",
            "Inclusion latency, cumulative",
            "send to inclusion, ms",
            "share included within",
            per_run(&latency_cdf),
        ),
        line(
            "gas-per-block",
            "Gas used per block",
            "seconds since the first send",
            "Mgas",
            per_run(&gas_per_block),
        ),
        line(
            "pending",
            "Transactions sent and not yet included",
            "seconds since the first send",
            "pending",
            per_run(&pending_over_time),
        ),
        Chart {
            name: "rpc-latency",
            caption: "Send round trip per method, percentiles (a batch of \
                      eth_sendRawTransaction; a sampled eth_sendRawTransactionSync to its receipt)"
                .into(),
            x_desc: "percentile",
            y_desc: "ms",
            series: runs.iter().flat_map(|r| rpc_latency(r)).collect(),
            bars: true,
            categories: PERCENTILES.iter().map(|p| format!("p{p}")).collect(),
            log_y: false,
            y_floor: 0.0,
        },
        line(
            "entry-width",
            "Mean entry width per block (lanes)",
            "seconds since the first send",
            "transactions per entry",
            per_run(&entry_width),
        ),
        Chart {
            name: "set-sources",
            caption: "Where the included transactions' sets came from (lanes)".into(),
            x_desc: "source",
            y_desc: "transactions",
            series: per_run(&set_sources),
            bars: true,
            categories: ["declared", "known", "predicted", "exclusive"].map(String::from).to_vec(),
            log_y: false,
            y_floor: 0.0,
        },
    ]
}

/// Draws `chart` as SVG; `None` when no run has a point for it.
fn draw(chart: &Chart) -> Result<Option<String>, String> {
    let points: Vec<&(f64, f64)> = chart.series.iter().flat_map(|s| &s.points).collect();
    if points.is_empty() {
        return Ok(None);
    }
    let x_max = points.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(chart.y_floor).max(1e-9) * 1.1;
    let x = if chart.bars { -0.5..chart.categories.len() as f64 - 0.5 } else { 0.0..x_max * 1.02 };
    let mut svg = String::new();
    if chart.log_y {
        // A decade below the least point: a saturated run's seconds and a
        // quiet one's fractions of a millisecond on one axis.
        let least = points.iter().map(|p| p.1).filter(|y| *y > 0.0).fold(y_max, f64::min);
        draw_on(chart, &mut svg, x, (least / 10.0..y_max * 2.0).log_scale())?;
    } else {
        draw_on(chart, &mut svg, x, 0.0..y_max)?;
    }
    Ok(Some(svg))
}

fn draw_on<Y>(chart: &Chart, svg: &mut String, x: std::ops::Range<f64>, y: Y) -> Result<(), String>
where
    Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", chart.name);
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut c = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)
        .map_err(|e| err(&e))?;
    let categories = chart.categories.clone();
    let mut mesh = c.configure_mesh();
    mesh.x_desc(chart.x_desc).y_desc(chart.y_desc);
    let format_category = move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            categories.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    if chart.bars {
        mesh.x_labels(chart.categories.len()).x_label_formatter(&format_category);
    }
    mesh.draw().map_err(|e| err(&e))?;
    let n = chart.series.len().max(1) as f64;
    for (i, s) in chart.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if chart.bars {
            let w = 0.8 / n;
            let bars = s.points.iter().map(|(x, y)| {
                let left = x - 0.4 + w * i as f64;
                Rectangle::new([(left, 0.0), (left + w * 0.9, *y)], color.filled())
            });
            c.draw_series(bars).map_err(|e| err(&e))?.label(s.label.clone()).legend(
                move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()),
            );
        } else {
            c.draw_series(LineSeries::new(thin(s.points.clone()), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Measures each drawn chart as laid out (the script runs last in the
/// body, after every figure): its size and drawn elements.
const RENDER_CHECK: &str = r#"<script>
(() => {
  const found = [...document.querySelectorAll('figure[data-chart]')].map(f => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    // Series are polylines (lines) or filled rects (bars); the mesh is lines.
    const count = sel => svg ? [...svg.querySelectorAll(sel)].filter(e => e.getBBox().width + e.getBBox().height > 0).length : 0;
    return { chart: f.dataset.chart, points: Number(f.dataset.points), width: Math.round(box.width), height: Math.round(box.height), lines: count('polyline'), bars: count('rect') };
  });
  document.getElementById('render-check').textContent = JSON.stringify(found);
})();
</script>"#;

/// `runs` as one HTML page.
pub fn render(runs: &[StoredRun]) -> Result<String, String> {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>lanes-loadgen report</title>\n<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}td.l{text-align:left}figure{margin:24px 0}figcaption{font-weight:bold;margin-bottom:6px}p.none{color:#888}</style></head><body>\n<h1>lanes-loadgen report</h1>\n<table><tr><th>run</th><th>kind</th><th>started (UTC)</th><th>target</th><th>workload</th><th>mode</th><th>included (reads: answered)</th><th>tx/s (reads: calls/s)</th><th>p50 ms</th><th>p99 ms</th></tr>\n",
    );
    for r in runs {
        let s = &r.summary;
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=l>{}</td><td class=l>{}</td><td class=l>{}</td><td class=l>{}</td><td class=l>{}</td><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td></tr>",
            s.id,
            s.kind,
            utc(s.started_at),
            escape(&s.target),
            escape(&s.workload),
            escape(&s.mode),
            s.included,
            s.included_per_second,
            s.p50_ms,
            s.p99_ms
        );
    }
    html.push_str("</table>\n");
    for chart in charts(runs) {
        let points: usize = chart.series.iter().map(|s| s.points.len()).sum();
        let _ = write!(
            html,
            "<figure data-chart=\"{}\" data-points=\"{points}\"><figcaption>{}</figcaption>",
            chart.name,
            escape(&chart.caption)
        );
        match draw(&chart)? {
            Some(svg) => html.push_str(&svg),
            None => html.push_str("<p class=none>no data in these runs</p>"),
        }
        html.push_str("</figure>\n");
    }
    html.push_str("<pre id=\"render-check\"></pre>\n");
    html.push_str(RENDER_CHECK);
    html.push_str("\n</body></html>\n");
    Ok(html)
}
