//! The 16 published waves of the 10 Oct 2025 Hyperliquid ADL cascade (shared data): each
//! wave's needed budget and its per-coin split, allocated by each policy on a synthetic
//! winner population per coin, beside the paper's per-wave overshoots.

use std::path::Path;

use adl_engine::state::{PositionSlot, SLOT_OPEN};
use anchor_lang::prelude::Pubkey;

use crate::policy::{allocate, Policy};
use crate::Rng;

const BASE: f64 = 1e9;

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

/// One coin's ADL in a wave: `qty` contracts closed at a bankruptcy gap of `gpc` per
/// contract against a synthetic population of short winners holding five times `qty`.
/// Returns the haircut collected (USD).
fn coin_haircut(policy: Policy, rng: &mut Rng, qty: f64, gpc: f64) -> f64 {
    // Prices in micro-USD per contract; the mark at 100 gaps (a 1 % gap) keeps every
    // quantity in range; the haircut does not depend on the mark.
    let gap = (gpc * 1e6).round().max(1.0) as u64;
    let mark = gap * 100;
    let exec = mark + gap;
    // In u128: five times PUMP's 4.9e9 contracts in base atoms exceeds u64 (it used to
    // saturate silently); each winner's share fits a position's i64 size.
    let total = (qty * 5.0 * BASE) as u128;
    let n = 20;
    let size = i64::try_from((total / n as u128).max(1)).unwrap_or(i64::MAX) as u64;
    let winners: Vec<PositionSlot> = (0..n)
        .map(|i| {
            // Shorts that sold 2–10 % above the mark, 2x–10x.
            let entry = mark + mark * rng.range(2, 11) / 100;
            let cost = (size as u128 * entry as u128 / BASE as u128) as i64;
            let lev = rng.range(2, 11) as i64;
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            PositionSlot {
                owner: Pubkey::new_from_array(key),
                base: -(size as i64),
                cost_basis: -cost,
                margin: cost / lev,
                open_seq: i as u64,
                status: SLOT_OPEN,
                ..PositionSlot::default()
            }
        })
        .collect();
    let q = (qty * BASE).round() as u64;
    allocate(policy, &winners, exec, q)
        .iter()
        .map(|f| (f.notional as f64 - f.base as f64 * mark as f64 / BASE) / 1e6)
        .sum()
}

/// Per wave: (wave, needed, overshoot per policy in `Policy::ALL` order).
pub fn replay(waves: &[Wave], seed: u64) -> Vec<(u32, f64, [f64; 4])> {
    let mut rng = Rng::new(seed);
    waves
        .iter()
        .map(|w| {
            let mut over = [0.0; 4];
            for (k, policy) in Policy::ALL.iter().enumerate() {
                let collected: f64 = w
                    .coins
                    .iter()
                    .map(|(_, _, qty, gpc)| coin_haircut(*policy, &mut rng, *qty, *gpc))
                    .sum();
                over[k] = collected - w.coins.iter().map(|(_, gx, _, _)| gx).sum::<f64>();
            }
            (w.wave, w.budget_needed, over)
        })
        .collect()
}
