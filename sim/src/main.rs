//! `adl-sim`: runs the crash scenarios under every policy and the 16 published waves, prints
//! the tables, and writes SVG plots.
//!
//!     cargo run -p adl-sim --release -- [--out docs] [--data sim/data/hyperliquid-2025-10-10]

use std::path::PathBuf;

use adl_sim::metrics::Report;
use adl_sim::policy::Policy;
use adl_sim::scenario::{run, scenarios};
use adl_sim::waves;
use plotters::prelude::*;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn bars(
    path: &PathBuf,
    title: &str,
    reports: &[Report],
    value: impl Fn(&Report) -> f64,
    y_max: f64,
) -> Result<(), String> {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let groups: Vec<String> = {
        let mut g: Vec<String> = reports.iter().map(|r| r.scenario.clone()).collect();
        g.dedup();
        g
    };
    let n = Policy::ALL.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..(groups.len() * (n + 1)) as f64, 0f64..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .draw()
        .map_err(|e| e.to_string())?;
    let colors = [
        RGBColor(198, 40, 40),
        RGBColor(46, 125, 50),
        RGBColor(21, 101, 192),
        RGBColor(120, 120, 120),
    ];
    for (g, name) in groups.iter().enumerate() {
        for (k, p) in Policy::ALL.iter().enumerate() {
            if let Some(r) = reports
                .iter()
                .find(|r| &r.scenario == name && r.policy == p.name())
            {
                let x = (g * (n + 1) + k) as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, 0.0), (x + 0.9, value(r))],
                        colors[k].filled(),
                    )))
                    .map_err(|e| e.to_string())?;
            }
        }
        chart
            .draw_series(std::iter::once(Text::new(
                name.clone(),
                ((g * (n + 1)) as f64, y_max * 0.97),
                ("sans-serif", 12),
            )))
            .map_err(|e| e.to_string())?;
    }
    for (k, p) in Policy::ALL.iter().enumerate() {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 0.0), (0.0, 0.0)],
                colors[k].filled(),
            )))
            .map_err(|e| e.to_string())?
            .label(p.name())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 10, y + 5)], colors[k].filled())
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn main() {
    let out = PathBuf::from(arg("--out").unwrap_or_else(|| "docs".into()));
    let data = PathBuf::from(arg("--data").unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/hyperliquid-2025-10-10").into()
    }));
    let _ = std::fs::create_dir_all(&out);
    let mut reports = vec![];
    println!("scenario | policy | bad debt | fund paid | traders deleveraged | contracts closed | haircut | max % (haircut/equity) | Gini of %, all winners | p50 / p90 / p99 % | Gini, hit only (USD) | largest share | max leverage after");
    println!("---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:");
    for s in scenarios() {
        for p in Policy::ALL {
            let r = run(&s, p);
            println!(
                "{} | {} | {:.2} | {:.2} | {} | {:.3} | {:.2} | {:.2}% | {:.3} | {:.2} / {:.2} / {:.2} % | {:.3} | {:.3} | {:.2}x",
                r.scenario,
                r.policy,
                r.bad_debt,
                r.insurance_drawdown,
                r.traders_deleveraged,
                r.contracts_closed,
                r.haircut,
                100.0 * r.max_pct,
                r.gini_all,
                100.0 * r.pct_p50,
                100.0 * r.pct_p90,
                100.0 * r.pct_p99,
                r.gini,
                r.largest_share,
                r.max_leverage_after
            );
            reports.push(r);
        }
    }
    let plots = [
        (
            "sim_gini.svg",
            "Gini of haircut/equity over all winners, by policy",
            1.0f64,
        ),
        (
            "sim_max_pct.svg",
            "Largest haircut as a share of the winner's equity (max %)",
            1.0,
        ),
        (
            "sim_largest_share.svg",
            "Largest single share of the haircut",
            1.0,
        ),
    ];
    for (file, title, ymax) in plots {
        let path = out.join(file);
        let value = |r: &Report| match file {
            "sim_gini.svg" => r.gini_all,
            "sim_max_pct.svg" => r.max_pct,
            _ => r.largest_share,
        };
        if let Err(e) = bars(&path, title, &reports, value, ymax) {
            eprintln!("plot {file}: {e}");
        }
    }
    let max_lev = reports
        .iter()
        .map(|r| r.max_leverage_after)
        .fold(1.0, f64::max)
        * 1.15;
    if let Err(e) = bars(
        &out.join("sim_max_leverage.svg"),
        "Highest winner leverage after the crash",
        &reports,
        |r| r.max_leverage_after,
        max_lev,
    ) {
        eprintln!("plot: {e}");
    }
    match waves::load(&data) {
        Ok(ws) => {
            let rows = waves::replay(&ws, 11);
            println!("\nwave | needed | paper: production | paper: vector-md | paper: ILP | paper: pro-rata | residual: ranked queue | residual: pro-rata | residual: leverage drain | residual: PnL%×lev queue");
            println!("---:|---:|---:|---:|---:|---:|---:|---:|---:|---:");
            let mut tot = [0.0f64; 9];
            for (w, (id, needed, ours)) in ws.iter().zip(&rows) {
                let vals = [
                    *needed,
                    w.paper_prod,
                    w.paper_vector,
                    w.paper_ilp,
                    w.paper_pro_rata,
                    ours[0],
                    ours[1],
                    ours[2],
                    ours[3],
                ];
                for (t, v) in tot.iter_mut().zip(vals) {
                    *t += v;
                }
                println!(
                    "{id} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2}",
                    vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8]
                );
            }
            println!(
                "**total** | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2}",
                tot[0], tot[1], tot[2], tot[3], tot[4], tot[5], tot[6], tot[7], tot[8]
            );
        }
        Err(e) => eprintln!("waves: data not found ({e}); pass --data <dir>"),
    }
}
