//! `adl-sim`: runs the scenarios and the sensitivity sweeps under every policy on the
//! simulated exchange, prints the tables of docs/simulator.md and writes its SVG plots.
//!
//!     cargo run -p adl-sim --release -- [--out docs] [--data sim/data/hyperliquid-2025-10-10]
//!         [--seeds 8]

use std::path::{Path, PathBuf};

use adl_sim::policy::Policy;
use adl_sim::scenario::{crash_path, run, scenarios, transactions, Run, Scenario};
use adl_sim::waves;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Appends one formatted line to a section's text.
macro_rules! w {
    ($o:expr, $($t:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($o, $($t)*);
    }};
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

const COLORS: [RGBColor; 5] = [
    RGBColor(198, 40, 40),
    RGBColor(46, 125, 50),
    RGBColor(21, 101, 192),
    RGBColor(120, 120, 120),
    RGBColor(239, 159, 0),
];

/// Grouped floating bars: for each group and policy, a bar from `lo` to `hi`.
fn bars(
    path: &Path,
    title: &str,
    groups: &[String],
    value: impl Fn(usize, usize) -> Option<(f64, f64)>,
    y_max: f64,
) -> Result<(), String> {
    let root = SVGBackend::new(path, (960, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = Policy::ALL.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(10)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..(groups.len() * (n + 1)) as f64, 0f64..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .draw()
        .map_err(|e| e.to_string())?;
    for (g, name) in groups.iter().enumerate() {
        for (k, color) in COLORS.iter().enumerate().take(n) {
            if let Some((lo, hi)) = value(g, k) {
                let x = (g * (n + 1) + k) as f64;
                let hi = if hi - lo < y_max * 0.004 {
                    lo + y_max * 0.004
                } else {
                    hi
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, lo), (x + 0.9, hi)],
                        color.filled(),
                    )))
                    .map_err(|e| e.to_string())?;
            }
        }
        chart
            .draw_series(std::iter::once(Text::new(
                name.clone(),
                ((g * (n + 1)) as f64, y_max * 0.98),
                ("sans-serif", 11),
            )))
            .map_err(|e| e.to_string())?;
    }
    legend(&mut chart)?;
    root.present().map_err(|e| e.to_string())
}

type Axes = Cartesian2d<RangedCoordf64, RangedCoordf64>;

fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Axes>,
) -> Result<(), String> {
    for (k, p) in Policy::ALL.iter().enumerate() {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 0.0), (0.0, 0.0)],
                COLORS[k].filled(),
            )))
            .map_err(|e| format!("{e:?}"))?
            .label(p.name())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 10, y + 5)], COLORS[k].filled())
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| format!("{e:?}"))
}

/// One line per policy.
fn lines(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[Vec<(f64, f64)>],
    x_max: f64,
    y_max: f64,
) -> Result<(), String> {
    let root = SVGBackend::new(path, (960, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .draw()
        .map_err(|e| e.to_string())?;
    for (k, s) in series.iter().enumerate() {
        chart
            .draw_series(LineSeries::new(
                s.iter().copied(),
                COLORS[k].stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
    }
    legend(&mut chart)?;
    root.present().map_err(|e| e.to_string())
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn range(xs: &[f64], f: impl Fn(f64) -> String) -> String {
    let lo = xs.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    format!("{} – {}", f(lo), f(hi))
}

fn scenario_tables(runs: &[(Scenario, Vec<Run>)]) -> (String, String) {
    let mut o = String::new();
    w!(o, "scenario | policy | final price | fund paid | traders hit | contracts closed | haircut (USD) | max % | Gini of %, all winners | p50 / p90 / p99 % | max / weighted leverage after | ES95 after (USD) | unresolved (USD) | liquidators' PnL (USD)");
    w!(
        o,
        "---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
    );
    for (s, rs) in runs {
        for r in rs.iter().map(|r| &r.report) {
            w!(o,
                "{} | {} | {:.2} | {:.2} | {} | {:.1} | {:.2} | {} | {:.3} | {:.2} / {:.2} / {:.2} | {:.2}x / {:.2}x | {:.2} | {:.2} | {:.2}",
                s.name,
                r.policy,
                r.final_price,
                r.insurance_paid,
                r.traders_hit,
                r.contracts_closed,
                r.haircut,
                pct(r.max_pct),
                r.gini_all,
                100.0 * r.pct_p50,
                100.0 * r.pct_p90,
                100.0 * r.pct_p99,
                r.max_leverage_after,
                r.weighted_leverage_after,
                r.expected_shortfall,
                r.unresolved,
                r.liquidator_pnl
            );
        }
    }
    let mut t = String::new();
    w!(t, "scenario | policy | liquidations | flags | ADL starts | auto_deleverage txs | pro-rata crank txs | drain txs | fallbacks | transactions | walk reads | queue entries read | entries moved by memmove | largest tx (slots) | txs over 200 slots");
    w!(
        t,
        "---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
    );
    for (s, rs) in runs {
        for r in rs.iter().map(|r| &r.report) {
            let w = &r.work;
            w!(
                t,
                "{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}",
                s.name,
                r.policy,
                w.liquidations,
                w.flags,
                w.adl_starts,
                w.adl_txs,
                w.crank_txs,
                w.drain_txs,
                w.fallbacks,
                transactions(w),
                w.walk_reads,
                w.entries_read,
                w.memmove_entries,
                w.max_tx_slots,
                w.oversized_txs
            );
        }
    }
    (o, t)
}

/// One sensitivity dimension: its name and the scenario per value.
type Sweep = (&'static str, Vec<(String, Scenario)>);

fn sweeps() -> Vec<Sweep> {
    let base = || Scenario::base("crash 100→64", crash_path(64.0));
    let with = |f: &dyn Fn(&mut Scenario)| {
        let mut s = base();
        f(&mut s);
        s
    };
    vec![
        (
            "shock",
            [80.0, 64.0, 50.0]
                .iter()
                .map(|&to| (format!("to {to}"), with(&|s| s.path = crash_path(to))))
                .collect(),
        ),
        (
            "fund",
            [0.1, 0.5, 2.0]
                .iter()
                .map(|&f| (format!("{f} % of OI"), with(&|s| s.fund_pct = f)))
                .collect(),
        ),
        (
            "maintenance",
            [150u32, 250, 400]
                .iter()
                .map(|&m| (format!("{} %", m as f64 / 100.0), with(&|s| s.mmr_bps = m)))
                .collect(),
        ),
        (
            "max leverage",
            [10.0, 20.0, 40.0]
                .iter()
                .map(|&l| (format!("{l}x"), with(&|s| s.max_leverage = l)))
                .collect(),
        ),
        (
            "price impact",
            [0.0, 0.2, 0.5]
                .iter()
                .map(|&i| (format!("{i}"), with(&|s| s.impact = i)))
                .collect(),
        ),
        (
            "liquidators",
            [1.0, 10.0, 100.0]
                .iter()
                .map(|&l| (format!("{l} % of OI"), with(&|s| s.liquidator_pct = l)))
                .collect(),
        ),
    ]
}

/// Positions per side in the sweeps (the scenarios use 2,000).
const SWEEP_TRADERS: usize = 1_000;

/// Per sweep value and policy: (max %, Gini, ES95, unresolved) over the seeds.
type Band = Vec<[Vec<f64>; 4]>;

fn sweep_tables(out: &Path, seeds: u64) -> String {
    let mut o = String::new();
    w!(o, "varied | value | policy | max % | Gini of %, all winners | ES95 after (USD) | unresolved (USD)");
    w!(o, "---|---|---|---:|---:|---:|---:");
    let mut groups = vec![];
    let mut bands: Vec<Band> = vec![];
    for (dim, values) in sweeps() {
        for (label, s) in values {
            // Every (seed, policy) run of this value, spread over the machine's cores.
            let jobs: Vec<(u64, usize)> = (1..=seeds)
                .flat_map(|seed| (0..Policy::ALL.len()).map(move |k| (seed, k)))
                .collect();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let next = std::sync::atomic::AtomicUsize::new(0);
            let results = std::sync::Mutex::new(vec![]);
            std::thread::scope(|sc| {
                for _ in 0..threads {
                    sc.spawn(|| loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(seed, k)) = jobs.get(i) else { break };
                        let mut s = s.clone();
                        s.seed = seed;
                        s.traders = SWEEP_TRADERS;
                        let r = run(&s, Policy::ALL[k]).report;
                        results.lock().expect("results").push((i, k, r));
                    });
                }
            });
            let mut results = results.into_inner().expect("results");
            results.sort_by_key(|r| r.0);
            let mut band: Band = Policy::ALL.iter().map(|_| Default::default()).collect();
            for (_, k, r) in results {
                band[k][0].push(r.max_pct);
                band[k][1].push(r.gini_all);
                band[k][2].push(r.expected_shortfall);
                band[k][3].push(r.unresolved);
            }
            for (k, p) in Policy::ALL.iter().enumerate() {
                let b = &band[k];
                w!(
                    o,
                    "{dim} | {label} | {} | {} | {} | {} | {}",
                    p.name(),
                    range(&b[0], pct),
                    range(&b[1], |x| format!("{x:.3}")),
                    range(&b[2], |x| format!("{x:.0}")),
                    range(&b[3], |x| format!("{x:.2}"))
                );
            }
            groups.push(format!("{dim} {label}"));
            bands.push(band);
        }
    }
    let mm = |xs: &[f64]| {
        (
            xs.iter().cloned().fold(f64::INFINITY, f64::min),
            xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    // Floating bars from the lowest to the highest seed, for metric `m` of the band.
    let band_plot = |file: &str, title: &str, m: usize, floor: f64| {
        let top = bands
            .iter()
            .flat_map(|b| b.iter().map(|x| mm(&x[m]).1))
            .fold(0.0, f64::max)
            * 1.15;
        let value = |g: usize, k: usize| Some(mm(&bands[g][k][m]));
        if let Err(e) = bars(&out.join(file), title, &groups, value, top.max(floor)) {
            eprintln!("plot {file}: {e}");
        }
    };
    band_plot(
        "sim_sensitivity_max_pct.svg",
        "max % (haircut / equity), range over seeds, by varied parameter",
        0,
        0.01,
    );
    band_plot(
        "sim_sensitivity_es.svg",
        "ES95 of the winners' deficit under a rebound (USD), range over seeds",
        2,
        1.0,
    );
    o
}

fn plots(out: &Path, runs: &[(Scenario, Vec<Run>)]) {
    let groups: Vec<String> = runs.iter().map(|(s, _)| s.name.clone()).collect();
    let get = |g: usize, k: usize| &runs[g].1[k].report;
    let top = |f: &dyn Fn(&adl_sim::metrics::Report) -> f64| {
        runs.iter()
            .flat_map(|(_, rs)| rs.iter().map(|r| f(&r.report)))
            .fold(0.0, f64::max)
            * 1.15
    };
    let plot = |file: &str, title: &str, f: &dyn Fn(&adl_sim::metrics::Report) -> f64| {
        let y = top(f).max(0.01);
        if let Err(e) = bars(
            &out.join(file),
            title,
            &groups,
            |g, k| Some((0.0, f(get(g, k)))),
            y,
        ) {
            eprintln!("plot {file}: {e}");
        }
    };
    plot(
        "sim_max_pct.svg",
        "Largest haircut as a share of the winner's equity (max %)",
        &|r| r.max_pct,
    );
    plot(
        "sim_gini.svg",
        "Gini of haircut / equity over all winners",
        &|r| r.gini_all,
    );
    plot(
        "sim_max_leverage.svg",
        "Highest winner leverage after the crash",
        &|r| r.max_leverage_after,
    );
    plot(
        "sim_es.svg",
        "ES95 of the open winners' deficit under an exponential rebound (USD)",
        &|r| r.expected_shortfall,
    );
    // Haircut / equity of every winner, sorted, in the first scenario.
    let (_, rs) = &runs[0];
    let series: Vec<Vec<(f64, f64)>> = rs
        .iter()
        .map(|r| {
            let mut v = r.pct.clone();
            v.sort_by(|a, b| a.total_cmp(b));
            let n = v.len().max(1) as f64;
            v.iter()
                .enumerate()
                .map(|(i, x)| (i as f64 / n, 100.0 * x))
                .collect()
        })
        .collect();
    let y = series.iter().flatten().map(|p| p.1).fold(0.0, f64::max) * 1.1;
    if let Err(e) = lines(
        &out.join("sim_pct_distribution.svg"),
        &format!(
            "{}: haircut / equity (%) of every winner, sorted",
            runs[0].0.name
        ),
        "share of winners",
        &series,
        1.0,
        y.max(1.0),
    ) {
        eprintln!("plot: {e}");
    }
    // The fund, step by step, in the first scenario.
    let series: Vec<Vec<(f64, f64)>> = rs
        .iter()
        .map(|r| {
            r.fund_path
                .iter()
                .enumerate()
                .map(|(i, x)| (i as f64, *x))
                .collect()
        })
        .collect();
    let y = series.iter().flatten().map(|p| p.1).fold(0.0, f64::max) * 1.1;
    let x = series.iter().map(|s| s.len()).max().unwrap_or(1) as f64;
    if let Err(e) = lines(
        &out.join("sim_fund_path.svg"),
        &format!("{}: insurance fund (USD) after each step", runs[0].0.name),
        "step",
        &series,
        x,
        y.max(1.0),
    ) {
        eprintln!("plot: {e}");
    }
}

fn wave_table(data: &Path) -> String {
    let mut o = String::new();
    match waves::load(data) {
        Ok(ws) => {
            w!(o, "wave | needed (USD) | coins | contracts closed | largest coin's share | paper: production overshoot | paper: vector-md | paper: ILP | paper: pro-rata");
            w!(o, "---:|---:|---:|---:|---:|---:|---:|---:|---:");
            let mut tot = [0.0f64; 6];
            for (w, (id, needed, coins, contracts, share)) in ws.iter().zip(waves::budgets(&ws)) {
                let vals = [
                    needed,
                    contracts,
                    w.paper_prod,
                    w.paper_vector,
                    w.paper_ilp,
                    w.paper_pro_rata,
                ];
                for (t, v) in tot.iter_mut().zip(vals) {
                    *t += v;
                }
                w!(
                    o,
                    "{id} | {:.2} | {coins} | {:.0} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2}",
                    needed,
                    contracts,
                    share,
                    w.paper_prod,
                    w.paper_vector,
                    w.paper_ilp,
                    w.paper_pro_rata
                );
            }
            w!(
                o,
                "**total** | {:.2} | | {:.0} | | {:.2} | {:.2} | {:.2} | {:.2}",
                tot[0],
                tot[1],
                tot[2],
                tot[3],
                tot[4],
                tot[5]
            );
        }
        Err(e) => eprintln!("waves: data not found ({e}); pass --data <dir>"),
    }
    o
}

fn main() {
    let out = PathBuf::from(arg("--out").unwrap_or_else(|| "docs".into()));
    let data = PathBuf::from(arg("--data").unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/hyperliquid-2025-10-10").into()
    }));
    let seeds: u64 = arg("--seeds").and_then(|s| s.parse().ok()).unwrap_or(8);
    let _ = std::fs::create_dir_all(&out);
    let runs: Vec<(Scenario, Vec<Run>)> = scenarios()
        .into_iter()
        .map(|s| {
            let rs = Policy::ALL.iter().map(|p| run(&s, *p)).collect();
            (s, rs)
        })
        .collect();
    let (who, work) = scenario_tables(&runs);
    plots(&out, &runs);
    let sens = sweep_tables(&out, seeds);
    let waves = wave_table(&data);
    let sections = [
        ("scenarios", who),
        ("work", work),
        ("sensitivity", sens),
        ("waves", waves),
    ];
    for (name, text) in &sections {
        println!("<!-- sim:{name} -->\n{text}<!-- /sim:{name} -->\n");
    }
    // The tables of docs/simulator.md live between `<!-- sim:NAME -->` markers.
    let doc = out.join("simulator.md");
    if let Ok(mut md) = std::fs::read_to_string(&doc) {
        for (name, text) in &sections {
            let (open, close) = (
                format!("<!-- sim:{name} -->\n"),
                format!("<!-- /sim:{name} -->"),
            );
            if let (Some(a), Some(b)) = (md.find(&open), md.find(&close)) {
                md.replace_range(a + open.len()..b, text);
            }
        }
        if let Err(e) = std::fs::write(&doc, md) {
            eprintln!("{}: {e}", doc.display());
        }
    }
}
