//! Crash scenarios on the simulated exchange (`exchange::Exchange`): a seeded book of longs
//! and shorts, all opened at or above initial margin; a price path with a linear price-impact
//! model for liquidation flow; liquidators with finite collateral who keep (and can lose on)
//! what they take over; the insurance fund with its per-event cap; the program's grace
//! period, ADL start, fills, pro-rata obligations, drain, event ring, deadlines and fallback.

use adl_engine::math;
use adl_engine::state::{EVENT_ACTIVE, SIDE_LONG};
use adl_engine::testkit::Long;

use crate::exchange::{Config, Exchange, Work, SLOTS_PER_STEP};
use crate::metrics::{expected_shortfall, gini, quantile, Report};
use crate::policy::Policy;
use crate::Rng;

pub const BASE: u64 = 1_000_000_000;
pub const USD: u64 = 1_000_000;

/// One scenario: the market, the book and the path.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    /// Fundamental prices (USD per unit) after the start at 100, one per step of
    /// `SLOTS_PER_STEP` slots; the oracle is this price moved by the liquidation flow.
    pub path: Vec<f64>,
    pub seed: u64,
    /// Positions per side.
    pub traders: usize,
    /// Highest leverage of the book at entry; the initial margin is its inverse.
    pub max_leverage: f64,
    /// Maintenance margin, bps of notional.
    pub mmr_bps: u32,
    /// Insurance fund at the start, % of the long side's notional at 100.
    pub fund_pct: f64,
    /// Price impact: liquidating the whole long side's notional moves the oracle by this
    /// fraction (linear, permanent: `P = F·(1 − impact·flow/OI notional)`).
    pub impact: f64,
    /// Liquidators' total collateral, % of the long side's notional at 100 (four liquidators).
    pub liquidator_pct: f64,
    /// Funding index change per step (quote atoms per base unit; negative: shorts pay).
    pub funding_per_step: i64,
    /// Mean of the exponential rebound after the crash that the expected shortfall of the
    /// remaining book is measured under.
    pub rebound_mean: f64,
}

impl Scenario {
    /// The base case all others vary: 2,000 positions a side, leverage up to 20x (initial
    /// margin 5 %), maintenance 2.5 %, a fund of 0.5 % of open interest, liquidators with
    /// 10 % of it, liquidating all open interest would move the price 20 %.
    pub fn base(name: &str, path: Vec<f64>) -> Self {
        Scenario {
            name: name.to_string(),
            path,
            seed: 7,
            traders: 2_000,
            max_leverage: 20.0,
            mmr_bps: 250,
            fund_pct: 0.5,
            impact: 0.2,
            liquidator_pct: 10.0,
            funding_per_step: 0,
            rebound_mean: 0.10,
        }
    }
}

/// The scenarios of docs/simulator.md.
pub fn scenarios() -> Vec<Scenario> {
    let grind: Vec<f64> = (1..=40).map(|i| 100.0 - i as f64 / 2.0).collect();
    let mut funding = Scenario::base("crash with funding (shorts pay)", crash_path(64.0));
    funding.funding_per_step = -200_000;
    let mut thin = Scenario::base("crash, liquidators short of collateral", crash_path(64.0));
    thin.liquidator_pct = 1.0;
    vec![
        Scenario::base("crash 100→64 in 4 steps", crash_path(64.0)),
        Scenario::base("gap 100→72 at once", vec![72.0]),
        Scenario::base("grind 100→80 in 40 steps", grind),
        thin,
        funding,
    ]
}

/// A crash from 100 to `to` in four equal steps.
pub fn crash_path(to: f64) -> Vec<f64> {
    (1..=4)
        .map(|i| 100.0 - (100.0 - to) * i as f64 / 4.0)
        .collect()
}

fn position(rng: &mut Rng, max_lev: f64) -> Long {
    // Leverage 1.5x–max, skewed low (u² spread); size 0.1–10; entry 97–103; margin raised
    // to initial margin at 100 where the entry alone would leave it short.
    let u = rng.range(0, 10_000) as f64 / 10_000.0;
    let lev = 1.5 + (max_lev - 1.5) * u * u;
    let size = rng.range(1, 101) * BASE / 10;
    let entry = rng.range(97_000_000, 103_000_001);
    let notional = (size as u128 * entry as u128 / BASE as u128) as i64;
    (size as i64, entry, (notional as f64 / lev) as i64)
}

/// Raises a position's margin to initial margin at price 100 (+1 atom) when needed.
fn at_initial_margin(p: &mut Long, is_long: bool, imr_bps: u32) {
    let base = if is_long { p.0 } else { -p.0 };
    let cost = (base as i128 * p.1 as i128 / BASE as i128) as i64;
    let px = 100 * USD;
    let eq = math::equity(base, cost, p.2, 0, 0, px).expect("equity");
    let im = math::margin_requirement(base, px, imr_bps).expect("im");
    if eq < im {
        p.2 += (im - eq) as i64 + 1;
    }
}

/// The starting book: `n` longs, and `n` shorts holding the same sizes in another order
/// (both sides' open interest equal), every position at or above initial margin at 100.
pub fn population(seed: u64, n: usize, max_lev: f64, imr_bps: u32) -> (Vec<Long>, Vec<Long>) {
    let mut rng = Rng::new(seed);
    let mut longs: Vec<Long> = (0..n).map(|_| position(&mut rng, max_lev)).collect();
    let mut shorts: Vec<Long> = (0..n).map(|_| position(&mut rng, max_lev)).collect();
    // Same sizes on both sides: shorts take the longs' sizes, shuffled.
    let mut sizes: Vec<i64> = longs.iter().map(|l| l.0).collect();
    for i in (1..sizes.len()).rev() {
        sizes.swap(i, rng.range(0, i as u64 + 1) as usize);
    }
    for (s, size) in shorts.iter_mut().zip(sizes) {
        s.2 = (s.2 as i128 * size as i128 / s.0 as i128) as i64;
        s.0 = size;
    }
    for l in longs.iter_mut() {
        at_initial_margin(l, true, imr_bps);
    }
    for s in shorts.iter_mut() {
        at_initial_margin(s, false, imr_bps);
    }
    (longs, shorts)
}

fn usd(atoms: i128) -> f64 {
    atoms as f64 / USD as f64
}

/// Everything one run produces: the report, the fund after each step, and every winner's
/// haircut / equity.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub report: Report,
    pub fund_path: Vec<f64>,
    pub pct: Vec<f64>,
}

/// Steps run at the last price after the path, so deadlines pass and fallbacks complete.
pub const TAIL_STEPS: usize = 24;

/// The market configuration of a scenario under a policy.
pub fn config(s: &Scenario, policy: Policy, oi_notional: u64) -> Config {
    let imr_bps = (10_000.0 / s.max_leverage).round() as u32;
    Config {
        imr_bps,
        mmr_bps: s.mmr_bps,
        liquidation_fee_bps: 100,
        liquidation_fee_to_fund_bps: 5_000,
        max_insurance_per_event: u64::MAX,
        grace_slots: 2 * SLOTS_PER_STEP,
        deadline_slots: 10 * SLOTS_PER_STEP,
        allocation: policy.allocation(),
        liquidators: 4,
        liquidator_capacity: (oi_notional as f64 * s.liquidator_pct / 100.0 / 4.0) as u64,
        fills_per_tx: 10,
        slots_per_crank_tx: 20,
    }
}

/// Runs `s` under `policy`.
pub fn run(s: &Scenario, policy: Policy) -> Run {
    let imr_bps = (10_000.0 / s.max_leverage).round() as u32;
    let (longs, shorts) = population(s.seed, s.traders, s.max_leverage, imr_bps);
    let oi_base: u64 = longs.iter().map(|l| l.0 as u64).sum();
    let oi_notional = (oi_base as u128 * 100 / BASE as u128) as u64 * USD;
    let fund = (oi_notional as f64 * s.fund_pct / 100.0) as u64;
    let cfg = config(s, policy, oi_notional);
    let capacity = cfg.liquidator_capacity;
    let mut ex = Exchange::new(&longs, &shorts, fund, cfg);
    let value0 = ex.total_value();
    let n = s.traders;
    let winners: Vec<usize> = (n + 1..=2 * n).collect();
    let mut flow = 0i128;
    let mut fund_path = vec![usd(ex.fund.balance as i128)];
    let mut switched = vec![];
    let last = *s.path.last().unwrap_or(&100.0);
    let mut price = 100 * USD;
    let path = s
        .path
        .iter()
        .copied()
        .chain(std::iter::repeat_n(last, TAIL_STEPS));
    for f in path {
        ex.now += SLOTS_PER_STEP;
        if s.funding_per_step != 0 {
            adl_engine::engine::apply_funding(&mut ex.bufs.market, s.funding_per_step)
                .expect("funding");
        }
        let fundamental = f * USD as f64;
        for _round in 0..200 {
            let moved = 1.0 - s.impact * flow as f64 / oi_notional as f64;
            price = (fundamental * moved.clamp(0.01, 10.0)) as u64;
            let (liquidated, dflow) = ex.liquidation_round(price);
            flow += dflow;
            let adl = ex.adl_round(price, &mut switched);
            if liquidated + adl == 0 {
                break;
            }
        }
        fund_path.push(usd(ex.fund.balance as i128));
        // The checks after every step: conservation, two-sided sizes, the queues.
        assert_eq!(ex.total_value(), value0, "{}: value not conserved", s.name);
        assert_eq!(ex.net_size(), 0, "{}: sizes not two-sided", s.name);
        if let Err(e) = ex.check_queues() {
            panic!("{}: {e}", s.name);
        }
    }
    report(
        s, policy, &mut ex, &winners, price, capacity, fund, fund_path,
    )
}

#[allow(clippy::too_many_arguments)]
fn report(
    s: &Scenario,
    policy: Policy,
    ex: &mut Exchange,
    winners: &[usize],
    price: u64,
    liquidator_capacity: u64,
    fund_start: u64,
    fund_path: Vec<f64>,
) -> Run {
    let mut r = Report {
        policy: policy.name(),
        scenario: s.name.clone(),
        final_price: price as f64 / USD as f64,
        ..Report::default()
    };
    // Per winner: the haircut, and the largest equity it would have had at one of its
    // reductions without ADL (equity just before it plus the haircuts already taken).
    let first = winners[0];
    let mut cut = vec![0i128; winners.len()];
    let mut eq_first = vec![0i128; winners.len()];
    for h in &ex.hits {
        r.contracts_closed += h.base as f64 / BASE as f64;
        r.haircut += usd(h.haircut);
        if h.user >= first && h.user < first + winners.len() {
            let i = h.user - first;
            eq_first[i] = eq_first[i].max(h.equity_before + cut[i]).max(1);
            cut[i] += h.haircut;
        }
    }
    let pct: Vec<f64> = cut
        .iter()
        .zip(&eq_first)
        .map(|(c, e)| if *c > 0 { *c as f64 / *e as f64 } else { 0.0 })
        .collect();
    r.traders_hit = ex
        .hits
        .iter()
        .map(|h| h.user)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    r.max_pct = pct.iter().cloned().fold(0.0, f64::max);
    r.gini_all = gini(&pct);
    r.pct_p50 = quantile(&pct, 0.50);
    r.pct_p90 = quantile(&pct, 0.90);
    r.pct_p99 = quantile(&pct, 0.99);
    r.insurance_paid = usd(ex.fund.total_paid as i128);
    r.fund_end = usd(ex.fund.balance as i128);
    r.fund_start = usd(fund_start as i128);
    // The winners' remaining risk at the final price, and under a rebound.
    let (lev_max, lev_weighted, open) = ex.bufs.with(|st, users| {
        let funding = st.market.cumulative_funding;
        let mut open = vec![];
        let (mut max, mut num, mut den) = (0.0f64, 0.0f64, 0.0f64);
        for &w in winners {
            let Some(slot) = users[w].position_slot(&st.key) else {
                continue;
            };
            let p = *st.book.slot(slot).expect("slot");
            if !p.is_open() {
                continue;
            }
            open.push(p);
            let eq = p.equity(funding, price).expect("equity");
            if let Ok(Some(l)) = math::leverage_bps(p.base, price, eq) {
                let l = l as f64 / 1e4;
                max = max.max(l);
                num += l * p.base.unsigned_abs() as f64;
                den += p.base.unsigned_abs() as f64;
            }
        }
        (max, if den > 0.0 { num / den } else { 0.0 }, open)
    });
    r.max_leverage_after = lev_max;
    r.weighted_leverage_after = lev_weighted;
    let funding = ex.bufs.market.cumulative_funding;
    r.expected_shortfall = expected_shortfall(s.rebound_mean, 0.95, |rebound| {
        let p = (price as f64 * (1.0 + rebound)) as u64;
        open.iter()
            .map(|pos| usd((-pos.equity(funding, p).unwrap_or(0)).max(0)))
            .sum()
    });
    // What is left unresolved: escrows' deficits and bankrupt positions at the final price.
    let m = ex.bufs.market;
    let mut unresolved = 0i128;
    for ev in m.adl_events.iter().filter(|e| e.status == EVENT_ACTIVE) {
        let q = ev.base_remaining as i64;
        let signed = if ev.side == SIDE_LONG { q } else { -q };
        let eq = math::equity(signed, ev.escrow_cost, ev.escrow_cash, 0, 0, price).unwrap_or(0);
        unresolved += (-eq).max(0);
        r.escrow_left += ev.base_remaining as f64 / BASE as f64;
    }
    let bad: i128 = ex.bufs.with(|st, _| {
        (0..st.book.header.high_water)
            .filter_map(|i| st.book.slot(i).ok().copied())
            .filter(|p| p.is_open())
            .map(|p| (-p.equity(m.cumulative_funding, price).unwrap_or(0)).max(0))
            .sum()
    });
    r.unresolved = usd(unresolved + bad);
    let liq: i128 = ex
        .liquidators
        .clone()
        .into_iter()
        .map(|k| ex.value_of(k, price).0 - liquidator_capacity as i128)
        .sum();
    r.liquidator_pnl = usd(liq);
    r.work = ex.work.clone();
    Run {
        report: r,
        fund_path,
        pct,
    }
}

/// Work counters of a run, for tables.
pub fn transactions(w: &Work) -> u64 {
    w.liquidations + w.flags + w.adl_starts + w.adl_txs + w.crank_txs + w.drain_txs + w.fallbacks
}
