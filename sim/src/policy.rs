//! The four allocation rules, each closing (or reducing) counterparties of one bankrupt
//! position of size `Q` at `P_exec`, with the program's eligibility rule and fill arithmetic.

use adl_engine::adl::{find_drain_level, plan_fill, verify_drain, RankWalk};
use adl_engine::math::{self, PositionAmounts};
use adl_engine::state::{PositionSlot, QueueEntry};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The program's ranked queue (tier 1 in profit, by leverage key).
    RankedQueue,
    /// The program's pro-rata: every eligible counterparty owes `ceil(|q|·Q/OI)`.
    ProRata,
    /// The program's leverage drain to a common level.
    LeverageDrain,
    /// Baseline: the exchanges' queue ranked by PnL% × leverage at the price.
    PnlTimesLeverage,
}

impl Policy {
    pub const ALL: [Policy; 4] = [
        Policy::RankedQueue,
        Policy::ProRata,
        Policy::LeverageDrain,
        Policy::PnlTimesLeverage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::RankedQueue => "ranked queue",
            Policy::ProRata => "pro-rata",
            Policy::LeverageDrain => "leverage drain",
            Policy::PnlTimesLeverage => "PnL%×leverage queue",
        }
    }
}

/// One counterparty reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub index: usize,
    pub base: u64,
    pub notional: u64,
    pub after: PositionAmounts,
    /// Paid out to the owner (released margin plus realized PnL); 0 for a drain, which keeps
    /// the equity in the position.
    pub payout: u64,
}

fn sorted_arrays(cps: &[PositionSlot]) -> (Vec<QueueEntry>, Vec<QueueEntry>) {
    let mut lev = Vec::with_capacity(cps.len());
    let mut ent = Vec::with_capacity(cps.len());
    for (i, p) in cps.iter().enumerate() {
        if let Ok((_, l, e)) = p.queue_entries(i as u32) {
            lev.push(l);
            ent.push(e);
        }
    }
    // The program's exact order: stored key, exact key fraction, age.
    adl_engine::state::sort_by_leverage(&mut lev, cps);
    ent.sort_unstable();
    (lev, ent)
}

/// Allocates `q` base atoms of ADL at `exec_price` over the counterparties `cps` (all on the
/// side opposite the bankrupt position). Returns the fills; their sizes sum to at most `q`
/// (less only when eligible size runs out).
pub fn allocate(policy: Policy, cps: &[PositionSlot], exec_price: u64, q: u64) -> Vec<Fill> {
    let get = |s: u32| cps.get(s as usize);
    match policy {
        Policy::RankedQueue => {
            let (lev, _) = sorted_arrays(cps);
            let mut walk = RankWalk::fresh(&lev, get, 0, exec_price, q);
            let mut out = vec![];
            while let Some(p) = walk.next_fill() {
                out.push(Fill {
                    index: p.slot as usize,
                    base: p.base,
                    notional: p.notional,
                    after: p.after,
                    payout: p.outcome.to_free,
                });
            }
            out
        }
        Policy::ProRata => {
            let oi: u128 = cps
                .iter()
                .filter(|p| p.is_open())
                .map(|p| p.base.unsigned_abs() as u128)
                .sum();
            let mut remaining = q;
            let mut out: Vec<Fill> = vec![];
            for (i, p) in cps.iter().enumerate() {
                if remaining == 0 || oi == 0 || !p.is_open() {
                    continue;
                }
                let share = (p.base.unsigned_abs() as u128 * q as u128).div_ceil(oi) as u64;
                if let Ok(f) = plan_fill(i as u32, p, 0, exec_price, share.min(remaining)) {
                    remaining -= f.base;
                    out.push(Fill {
                        index: i,
                        base: f.base,
                        notional: f.notional,
                        after: f.after,
                        payout: f.outcome.to_free,
                    });
                }
            }
            if remaining > 0 {
                // As in the program: what ineligible positions' shares leave continues as a
                // ranked event over the positions as they are after the pro-rata fills.
                let mut after: Vec<PositionSlot> = cps.to_vec();
                for f in &out {
                    after[f.index].set_amounts(f.after);
                    if f.after.base == 0 {
                        after[f.index].status = 0;
                    }
                }
                for g in allocate(Policy::RankedQueue, &after, exec_price, remaining) {
                    match out.iter_mut().find(|f| f.index == g.index) {
                        Some(f) => {
                            f.base += g.base;
                            f.notional += g.notional;
                            f.payout += g.payout;
                            f.after = g.after;
                        }
                        None => out.push(g),
                    }
                }
            }
            out
        }
        Policy::LeverageDrain => {
            let (lev, _) = sorted_arrays(cps);
            let Some((level, set)) = find_drain_level(&lev, get, 0, exec_price, q) else {
                // Not enough eligible size: drain everyone (level 0) as far as possible.
                return allocate(Policy::RankedQueue, cps, exec_price, q);
            };
            match verify_drain(&lev, get, 0, exec_price, q, level, &set) {
                Ok(fills) => fills
                    .into_iter()
                    .map(|f| Fill {
                        index: f.slot as usize,
                        base: f.base,
                        notional: f.notional,
                        after: f.after,
                        payout: if f.after.base == 0 {
                            f.after.margin.max(0) as u64
                        } else {
                            0
                        },
                    })
                    .collect(),
                Err(_) => vec![],
            }
        }
        Policy::PnlTimesLeverage => {
            // Exchanges' score: unrealized PnL as a share of the entry value, times effective
            // leverage, both at the price; highest first; losers after winners.
            let mut scored: Vec<(f64, usize)> = cps
                .iter()
                .enumerate()
                .filter(|(_, p)| p.is_open())
                .filter_map(|(i, p)| {
                    let eq = p.equity(0, exec_price).ok()?;
                    let pnl = (eq - p.margin as i128) as f64;
                    let entry_value = (p.cost_basis as f64).abs().max(1.0);
                    let lev = math::leverage_bps(p.base, exec_price, eq)
                        .ok()??
                        .min(u64::MAX / 2) as f64
                        / 1e4;
                    Some((pnl / entry_value * lev, i))
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut remaining = q;
            let mut out = vec![];
            for (_, i) in scored {
                if remaining == 0 {
                    break;
                }
                if let Ok(f) = plan_fill(i as u32, &cps[i], 0, exec_price, remaining) {
                    remaining -= f.base;
                    out.push(Fill {
                        index: i,
                        base: f.base,
                        notional: f.notional,
                        after: f.after,
                        payout: f.outcome.to_free,
                    });
                }
            }
            out
        }
    }
}
