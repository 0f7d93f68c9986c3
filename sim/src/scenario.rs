//! Crash scenarios: a population of longs and shorts, a price path, liquidations, the
//! insurance fund, and ADL of the bankruptcies the fund cannot pay, under one policy.

use adl_engine::math;
use adl_engine::state::{PositionSlot, SLOT_OPEN};
use anchor_lang::prelude::Pubkey;

use crate::metrics::{gini, largest_share, quantile, Report};
use crate::policy::{allocate, Policy};
use crate::Rng;

pub const BASE: u64 = 1_000_000_000;
pub const USD: u64 = 1_000_000;
const MMR_BPS: u32 = 500;
const LIQ_FEE_BPS: u32 = 100;

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    /// Oracle prices, USD per unit, after the start at 100.
    pub path: Vec<u64>,
    pub seed: u64,
    /// Positions per side.
    pub traders: usize,
    /// Insurance fund at the start, USD.
    pub fund_usd: u64,
}

/// The three scenarios of docs/simulator.md: a crash in four steps, a one-step gap, and a
/// slow grind, each against the same seeded population.
pub fn scenarios() -> Vec<Scenario> {
    let crash: Vec<u64> = vec![91, 82, 73, 64];
    let grind: Vec<u64> = (1..=40).map(|i| 100 - i / 2).collect();
    vec![
        Scenario {
            name: "crash 100→64 in 4 steps",
            path: crash,
            seed: 7,
            traders: 2_000,
            fund_usd: 2_000,
        },
        Scenario {
            name: "gap 100→72 at once",
            path: vec![72],
            seed: 7,
            traders: 2_000,
            fund_usd: 2_000,
        },
        Scenario {
            name: "grind 100→80 in 40 steps",
            path: grind,
            seed: 7,
            traders: 2_000,
            fund_usd: 2_000,
        },
    ]
}

fn position(rng: &mut Rng, i: usize, long: bool) -> PositionSlot {
    // Leverage 1.5x–20x, skewed low (u² spread); size 0.1–10; entry 97–103.
    let u = rng.range(0, 10_000) as f64 / 10_000.0;
    let lev = 1.5 + 18.5 * u * u;
    let size = rng.range(1, 101) * BASE / 10;
    let entry = rng.range(97_000_000, 103_000_001);
    let cost = (size as u128 * entry as u128 / BASE as u128) as i64;
    let margin = (cost as f64 / lev) as i64;
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&(i as u64).to_le_bytes());
    key[8] = long as u8;
    PositionSlot {
        owner: Pubkey::new_from_array(key),
        base: if long { size as i64 } else { -(size as i64) },
        cost_basis: if long { cost } else { -cost },
        margin,
        open_seq: i as u64,
        status: SLOT_OPEN,
        ..PositionSlot::default()
    }
}

pub fn population(seed: u64, n: usize) -> (Vec<PositionSlot>, Vec<PositionSlot>) {
    let mut rng = Rng::new(seed);
    let longs = (0..n).map(|i| position(&mut rng, i, true)).collect();
    let shorts = (0..n).map(|i| position(&mut rng, n + i, false)).collect();
    (longs, shorts)
}

fn usd(atoms: i128) -> f64 {
    atoms as f64 / USD as f64
}

/// Runs `scenario` under `policy`: the crash hits the longs; liquidations close the ones below
/// maintenance; the fund pays bankruptcies while it can; the rest goes to ADL against the
/// shorts.
pub fn run(scenario: &Scenario, policy: Policy) -> Report {
    let (mut longs, mut shorts) = population(scenario.seed, scenario.traders);
    let mut fund = scenario.fund_usd as i128 * USD as i128;
    let mut haircuts = vec![0i128; shorts.len()];
    // Each winner's equity at the oracle price when it was first deleveraged.
    let mut equity_at_hit = vec![0i128; shorts.len()];
    let mut r = Report {
        policy: policy.name(),
        scenario: scenario.name.to_string(),
        ..Report::default()
    };
    let mut haircut_atoms = 0i128;
    let mut needed_atoms = 0i128;
    let mut paid_atoms = 0i128;
    let mut bad_debt_atoms = 0i128;
    let mut closed_atoms = 0u128;
    for &px in &scenario.path {
        let price = px * USD;
        for long in longs.iter_mut().filter(|p| p.is_open()) {
            let Ok(eq) = long.equity(0, price) else {
                continue;
            };
            let Ok(mm) = math::margin_requirement(long.base, price, MMR_BPS) else {
                continue;
            };
            if eq >= mm {
                continue;
            }
            let notional = math::close_notional(true, long.base.unsigned_abs(), price).unwrap_or(0);
            let fee = math::fee(notional, LIQ_FEE_BPS).unwrap_or(0) as i128;
            if eq >= 0 {
                // A liquidator takes it over; the fund earns half of what fee equity allows.
                fund += fee.min(eq) / 2;
            } else {
                let deficit = -eq;
                let pay = deficit.min(fund);
                fund -= pay;
                paid_atoms += pay;
                if pay < deficit {
                    let cash = long.margin as i128 + pay;
                    let exec = math::adl_exec_price(long.base, long.cost_basis, cash as i64)
                        .unwrap_or(price);
                    let q = long.base.unsigned_abs();
                    let fills = allocate(policy, &shorts, exec, q);
                    let mut filled = 0u64;
                    for f in &fills {
                        let s = &mut shorts[f.index];
                        if equity_at_hit[f.index] == 0 {
                            equity_at_hit[f.index] = s.equity(0, price).unwrap_or(0).max(1);
                        }
                        // The short buys back at P_exec instead of the oracle price: it gives
                        // up (P_exec − P)·r.
                        let at_oracle = (f.base as u128 * price as u128 / BASE as u128) as i128;
                        let cut = f.notional as i128 - at_oracle;
                        haircuts[f.index] += cut;
                        haircut_atoms += cut;
                        s.set_amounts(f.after);
                        if s.base == 0 {
                            s.status = 0;
                        }
                        filled += f.base;
                    }
                    closed_atoms += filled as u128;
                    let uncovered = deficit - pay;
                    needed_atoms += uncovered;
                    if filled < q {
                        bad_debt_atoms += uncovered * (q - filled) as i128 / q as i128;
                    }
                }
            }
            long.status = 0;
            long.base = 0;
        }
    }
    let final_price = scenario.path.last().copied().unwrap_or(100) * USD;
    let hs: Vec<f64> = haircuts
        .iter()
        .filter(|h| **h > 0)
        .map(|h| usd(*h))
        .collect();
    r.traders_deleveraged = hs.len();
    // Haircut / equity over every winner (every short wins the crash; untouched ones: 0).
    let pct: Vec<f64> = haircuts
        .iter()
        .zip(&equity_at_hit)
        .map(|(h, e)| if *h > 0 { *h as f64 / *e as f64 } else { 0.0 })
        .collect();
    r.max_pct = pct.iter().cloned().fold(0.0, f64::max);
    r.gini_all = gini(&pct);
    r.pct_p50 = quantile(&pct, 0.50);
    r.pct_p90 = quantile(&pct, 0.90);
    r.pct_p99 = quantile(&pct, 0.99);
    r.largest_share = largest_share(&hs);
    r.gini = gini(&hs);
    r.haircut = usd(haircut_atoms);
    r.needed = usd(needed_atoms - bad_debt_atoms);
    r.bad_debt = usd(bad_debt_atoms);
    r.insurance_drawdown = usd(paid_atoms);
    r.contracts_closed = closed_atoms as f64 / BASE as f64;
    r.max_leverage_after = shorts
        .iter()
        .filter(|s| s.is_open())
        .filter_map(|s| {
            let eq = s.equity(0, final_price).ok()?;
            math::leverage_bps(s.base, final_price, eq)
                .ok()?
                .map(|l| l as f64 / 1e4)
        })
        .fold(0.0, f64::max);
    r
}
