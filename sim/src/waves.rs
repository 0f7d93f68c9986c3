//! The 16 published waves of the 10 Oct 2025 Hyperliquid ADL cascade (vendored in
//! `sim/data`, MIT): each wave's needed budget and its per-coin split. Per-user allocations
//! (max %, the ILP) cannot be reproduced from these files — they need the per-fill table,
//! which is not published with them — so the simulator reports only the budgets.

use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub struct Wave {
    pub wave: u32,
    pub budget_needed: f64,
    pub paper_prod: f64,
    pub paper_vector: f64,
    pub paper_ilp: f64,
    pub paper_pro_rata: f64,
    /// (coin, gap_usd_x_qty, qty_contracts, gap_per_contract_usd)
    pub coins: Vec<(String, f64, f64, f64)>,
}

fn csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let head: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    Ok((head, rows))
}

fn col(head: &[String], name: &str) -> Result<usize, String> {
    head.iter()
        .position(|h| h == name)
        .ok_or_else(|| format!("column {name} missing"))
}

fn num(s: &str) -> Result<f64, String> {
    s.parse().map_err(|_| format!("not a number: {s}"))
}

/// Reads `policy_per_wave_metrics.csv` and the per-coin gap file from the data folder
/// (`…/autodeleveraging-analysis/out`).
pub fn load(out: &Path) -> Result<Vec<Wave>, String> {
    let (h, rows) = csv(&out.join("policy_per_wave_metrics.csv"))?;
    let (w, need, prod, vector, ilp, pr) = (
        col(&h, "wave")?,
        col(&h, "budget_needed")?,
        col(&h, "overshoot_prod")?,
        col(&h, "overshoot_vector")?,
        col(&h, "overshoot_fixed_point_ilp_integer")?,
        col(&h, "overshoot_pr")?,
    );
    let mut waves = vec![];
    for r in rows {
        waves.push(Wave {
            wave: num(&r[w])? as u32,
            budget_needed: num(&r[need])?,
            paper_prod: num(&r[prod])?,
            paper_vector: num(&r[vector])?,
            paper_ilp: num(&r[ilp])?,
            paper_pro_rata: num(&r[pr])?,
            coins: vec![],
        });
    }
    let gap = out.join(
        "eval_horizon_sweep/gap_ms=5000/horizon_ms=0/two_pass_wave_coin_gap_per_contract.csv",
    );
    let (h, rows) = csv(&gap)?;
    let (w, coin, gx, qty, gpc) = (
        col(&h, "wave")?,
        col(&h, "coin")?,
        col(&h, "gap_usd_x_qty")?,
        col(&h, "qty_contracts")?,
        col(&h, "gap_per_contract_usd")?,
    );
    for r in rows {
        let id = num(&r[w])? as u32;
        if let Some(wave) = waves.iter_mut().find(|x| x.wave == id) {
            wave.coins
                .push((r[coin].clone(), num(&r[gx])?, num(&r[qty])?, num(&r[gpc])?));
        }
    }
    Ok(waves)
}

/// Per wave: what every policy must collect (the published need) and how it splits across
/// coins — all the published data supports. Returns (wave, needed USD, coins, contracts
/// closed, largest coin's share of the need).
pub fn budgets(waves: &[Wave]) -> Vec<(u32, f64, usize, f64, f64)> {
    waves
        .iter()
        .map(|w| {
            let contracts: f64 = w.coins.iter().map(|c| c.2).sum();
            let total: f64 = w.coins.iter().map(|c| c.1).sum();
            let largest = w.coins.iter().map(|c| c.1).fold(0.0, f64::max);
            let share = if total > 0.0 { largest / total } else { 0.0 };
            (w.wave, w.budget_needed, w.coins.len(), contracts, share)
        })
        .collect()
}
