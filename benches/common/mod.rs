//! What the benchmarks share (`mod common;` in each): timing an operation, the statistics of
//! rounds, the command line and the table every bench prints. Each bench keeps only its own
//! measurements.
//!
//! A bench runs its figures in interleaved rounds (ours, then the reference, then the next
//! figure, round after round), so a disturbance on the machine hits both sides of a ratio.
//! A row holds one value per round; the table shows their median and spread.

#![allow(dead_code)] // each bench uses its own subset

use std::time::Instant;

/// The median of `v` (the upper one for an even count). `v` is not empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Per-operation time of `op` over `n` runs (after a short warm-up), in µs: the median of
/// single-op timings. `op` is given the run's number (warm-up runs count from 0 too).
pub fn per_op(n: usize, mut op: impl FnMut(usize)) -> f64 {
    for i in 0..(n / 10).max(3) {
        op(i);
    }
    let mut t = Vec::with_capacity(n);
    for i in 0..n {
        let s = Instant::now();
        op(i);
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    median(t)
}

/// One line of the table.
pub struct Row {
    /// What is measured.
    pub figure: String,
    /// Our value, one per round.
    pub ours: Vec<f64>,
    /// The reference's value, one per round; empty when the figure has none.
    pub reference: Vec<f64>,
    /// The unit of both (`µs`, `ms`, `B`).
    pub unit: &'static str,
    /// The goal, as printed.
    pub goal: &'static str,
    /// Whether the medians (`reference` is 0 without one) meet the goal.
    pub pass: fn(ours: f64, reference: f64) -> bool,
}

/// Three significant digits.
pub fn num(x: f64) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        a if a >= 1.0 => format!("{x:.2}"),
        _ => format!("{x:.3}"),
    }
}

/// Lowest–highest of the rounds.
pub fn spread(v: &[f64]) -> String {
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(0.0, f64::max);
    format!("{}–{}", num(lo), num(hi))
}

/// Prints the table: per row the median of ours and of the reference with their spreads, the
/// ratio of the medians, the goal and whether it is met.
pub fn print(rows: &[Row]) {
    let width = |s: &str| s.chars().count();
    let fw = rows.iter().map(|r| width(&r.figure)).fold(6, usize::max);
    let gw = rows.iter().map(|r| width(r.goal)).fold(4, usize::max);
    println!(
        "\n{:<fw$} {:>11} {:>13} {:>10} {:>13} {:>6} {:>gw$} {:>4}",
        "figure", "ours", "(spread)", "reference", "(spread)", "ratio", "goal", "ok"
    );
    println!("{}", "-".repeat(fw + 11 + 13 + 10 + 13 + 6 + gw + 4 + 7));
    for r in rows {
        let o = median(r.ours.clone());
        let (rf, rfs, ratio, rfv) = if r.reference.is_empty() {
            ("-".to_owned(), String::new(), "-".to_owned(), 0.0)
        } else {
            let rf = median(r.reference.clone());
            (num(rf), spread(&r.reference), format!("{:.2}", o / rf), rf)
        };
        println!(
            "{:<fw$} {:>8} {:<2} {:>13} {:>10} {:>13} {:>6} {:>gw$} {:>4}",
            r.figure,
            num(o),
            r.unit,
            spread(&r.ours),
            rf,
            rfs,
            ratio,
            r.goal,
            if (r.pass)(o, rfv) { "yes" } else { "NO" }
        );
    }
}

/// The figure filter of the command line: `cargo bench` passes `--bench`; any other argument
/// is a filter on figure names, and a figure is wanted when there is none or one matches.
pub fn filter() -> impl Fn(&str) -> bool {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    move |name: &str| args.is_empty() || args.iter().any(|a| name.contains(a.as_str()))
}

/// Rounds to run: `SSC_BENCH_ROUNDS`, 7 by default.
pub fn rounds() -> usize {
    std::env::var("SSC_BENCH_ROUNDS").map_or(7, |s| s.parse().unwrap())
}
