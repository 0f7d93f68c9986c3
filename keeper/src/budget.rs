//! Compute budget of the keeper's transactions: a `SetComputeUnitLimit` and a
//! `SetComputeUnitPrice` on every transaction.
//!
//! The limit is what simulation reports plus a margin, never below the fallback table for the
//! work's kind, capped at 1.4M. On SBF a transaction gets 200,000 units per instruction unless
//! it asks for more, and the ADL and drain steps need more than that at 100,000 positions.
//! A native build (the localnet, the in-process bank) meters nothing, so its simulation says
//! nothing useful and the table decides.
//!
//! The table comes from the callgrind counts in docs/BENCHMARKS.md, taken at 100,000
//! positions. For each kind: 2 × the "other instructions", plus the memmove bytes / 250 (on
//! SBF memmove is a syscall priced by bytes), plus 40,000 for Anchor's account loading and
//! checks, rounded up. docs/keeper.md shows the derivation.
//!
//! The price is a percentile of the recent prioritization fees paid by transactions that
//! wrote the same accounts, capped.

use adl_engine::state::ADL_WALK_CAP;
use anchor_lang::solana_program::instruction::Instruction;
use solana_compute_budget_interface::ComputeBudgetInstruction;

use crate::keeper::Work;

/// Largest compute-unit limit a transaction may ask for.
pub const MAX_UNITS: u32 = 1_400_000;

/// Fallback compute units of one transaction of `work` (see the module docs).
pub fn table_units(work: &Work) -> u32 {
    let units: u64 = match work {
        // update_funding: a few window steps, one escrow charge per active event.
        Work::Funding => 60_000,
        // liquidate at 100k: 10,926 other + 4,151,792 memmove bytes (16,607) → 2·10,926 +
        // 16,607 + 40,000 = 78,459.
        Work::Liquidate { .. } => 80_000,
        Work::Flag { .. } => 50_000,
        // start_adl: 6,170 other, no memmove → 52,340.
        Work::StartAdl { .. } => 60_000,
        // auto_deleverage at 100k, 24 fills: 187,922 other + 1,915,008 bytes (7,660) → 423,504;
        // per fill at most 7,830 other (15,660 units) over a base that reads up to the walk cap
        // (adl_progress: 132,221 other for 2,048 entries → 264,442).
        Work::Ranked { slots, .. } => {
            40_000 + 264_442 * ADL_WALK_CAP as u64 / 2_048 + 15_660 * slots.len() as u64 + 8_000
        }
        // apply_pro_rata: a position change per slot (≈ liquidate's share without the fee).
        Work::ProRata { slots, .. } => 40_000 + 30_000 * slots.len() as u64,
        // drain steps at 100k: applying 392,235 other + 25,599,488 bytes (102,398) → 926,868;
        // measuring 159,127 other → 358,254. The larger for both.
        Work::Drain { .. } => 930_000,
        Work::Switch { .. } => 60_000,
        Work::Claim { .. } => 60_000,
        Work::Sweep => 30_000,
    };
    units.min(MAX_UNITS as u64) as u32
}

/// The limit to ask for: `simulated · (100 + margin_pct)/100`, at least the table's, at most
/// `MAX_UNITS`.
pub fn limit(work: &Work, simulated: Option<u64>, margin_pct: u32) -> u32 {
    let sim = simulated
        .map(|u| u.saturating_mul(100 + margin_pct as u64) / 100)
        .unwrap_or(0);
    sim.max(table_units(work) as u64).min(MAX_UNITS as u64) as u32
}

/// The price to pay, micro-lamports per unit: the `percentile` (0–100, nearest rank) of
/// `fees`, at most `cap`; 0 without data.
pub fn price(mut fees: Vec<u64>, percentile: u8, cap: u64) -> u64 {
    if fees.is_empty() {
        return 0;
    }
    fees.sort_unstable();
    let p = percentile.min(100) as usize;
    let rank = (p * fees.len()).div_ceil(100).max(1);
    fees[rank - 1].min(cap)
}

/// The two compute-budget instructions, limit first.
pub fn instructions(limit: u32, price: u64) -> [Instruction; 2] {
    [
        ComputeBudgetInstruction::set_compute_unit_limit(limit),
        ComputeBudgetInstruction::set_compute_unit_price(price),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_simulation_plus_margin_never_below_the_table_nor_above_the_cap() {
        let w = Work::Liquidate {
            slot: 0,
            owner: Default::default(),
            margin: 0,
        };
        assert_eq!(table_units(&w), 80_000);
        // Nothing simulated (native): the table.
        assert_eq!(limit(&w, None, 20), 80_000);
        // 100,000 simulated, 20 %: 120,000.
        assert_eq!(limit(&w, Some(100_000), 20), 120_000);
        // A small simulation (a native builtin reports almost nothing): the table.
        assert_eq!(limit(&w, Some(150), 20), 80_000);
        assert_eq!(limit(&w, Some(2_000_000), 20), MAX_UNITS);
        let d = Work::Drain {
            index: 0,
            id: 0,
            begin: false,
        };
        assert!(table_units(&d) <= MAX_UNITS && table_units(&d) >= 900_000);
        let r = Work::Ranked {
            index: 0,
            id: 0,
            slots: vec![0; 24],
            reads: 0,
        };
        assert!(table_units(&r) <= MAX_UNITS && table_units(&r) >= 423_504);
    }

    #[test]
    fn the_price_is_a_capped_percentile() {
        assert_eq!(price(vec![], 75, 1_000), 0);
        // 75th percentile of 1..=8 (nearest rank 6): 6.
        assert_eq!(price((1..=8).rev().collect(), 75, 1_000), 6);
        assert_eq!(price(vec![5, 50_000, 7], 100, 10_000), 10_000);
        assert_eq!(price(vec![5, 9], 0, 10_000), 5);
    }
}
