//! The allocation policies the simulator compares: the program's three ADL modes, run through
//! the program's own transitions, and two baselines applied through the program's fill
//! arithmetic (`exchange::Allocation`).

use adl_engine::state::{ADL_MODE_LEVERAGE_DRAIN, ADL_MODE_PRO_RATA, ADL_MODE_RANKED_QUEUE};

use crate::exchange::Allocation;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The program's ranked queue (tier 1 in profit, by leverage key; then tier 2).
    RankedQueue,
    /// The program's pro-rata: every counterparty owes `ceil(|q|·Q/OI)` — pro-rata by
    /// contracts, the paper's "contract pro-rata".
    ProRata,
    /// The program's leverage drain to a common level.
    LeverageDrain,
    /// Baseline: Binance's documented ranking (`exchange::binance_score`).
    BinanceQueue,
    /// Fairness optimum per event: the smallest possible largest haircut / equity.
    MinMaxPct,
}

impl Policy {
    pub const ALL: [Policy; 5] = [
        Policy::RankedQueue,
        Policy::ProRata,
        Policy::LeverageDrain,
        Policy::BinanceQueue,
        Policy::MinMaxPct,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::RankedQueue => "ranked queue",
            Policy::ProRata => "pro-rata",
            Policy::LeverageDrain => "leverage drain",
            Policy::BinanceQueue => "Binance LeveragePnL queue",
            Policy::MinMaxPct => "min-max haircut/equity",
        }
    }

    pub fn allocation(self) -> Allocation {
        match self {
            Policy::RankedQueue => Allocation::Program(ADL_MODE_RANKED_QUEUE),
            Policy::ProRata => Allocation::Program(ADL_MODE_PRO_RATA),
            Policy::LeverageDrain => Allocation::Program(ADL_MODE_LEVERAGE_DRAIN),
            Policy::BinanceQueue => Allocation::BinanceLeveragePnl,
            Policy::MinMaxPct => Allocation::MinMaxPct,
        }
    }
}
