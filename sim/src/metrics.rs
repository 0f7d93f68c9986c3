//! Metric definitions.

/// Gini coefficient of non-negative amounts: `Σ_i Σ_j |x_i − x_j| / (2·n·Σx)`; 0 when all are
/// equal (or all zero), approaching 1 when one holds everything.
pub fn gini(xs: &[f64]) -> f64 {
    let n = xs.len();
    let total: f64 = xs.iter().sum();
    if n == 0 || total <= 0.0 {
        return 0.0;
    }
    let mut v: Vec<f64> = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    // Σ_i (2i − n − 1)·x_(i) / (n·Σx), i from 1, sorted ascending.
    let s: f64 = v
        .iter()
        .enumerate()
        .map(|(i, x)| (2.0 * (i as f64 + 1.0) - n as f64 - 1.0) * x)
        .sum();
    s / (n as f64 * total)
}

/// Largest single share of the total (0 when the total is 0).
pub fn largest_share(xs: &[f64]) -> f64 {
    let total: f64 = xs.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    xs.iter().cloned().fold(0.0, f64::max) / total
}

/// The `p`-quantile (0 ≤ p ≤ 1) of `xs` by the nearest-rank rule: the smallest value with at
/// least `⌈p·n⌉` values at or below it (0 for an empty list).
pub fn quantile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Results of one policy on one scenario (money in USD, sizes in whole units).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub policy: &'static str,
    pub scenario: String,
    /// Deficit no one covered (no eligible counterparty left).
    pub bad_debt: f64,
    /// What the insurance fund paid.
    pub insurance_drawdown: f64,
    /// Winners who were deleveraged at least once.
    pub traders_deleveraged: usize,
    /// Base units closed by ADL.
    pub contracts_closed: f64,
    /// Haircut collected from winners (PnL given up against the oracle price).
    pub haircut: f64,
    /// Haircut needed: the bankrupt positions' deficits the fund did not pay.
    pub needed: f64,
    /// Largest single winner's share of the haircut.
    pub largest_share: f64,
    /// Gini of the haircut over the winners who bore any (USD; favours queues: the
    /// untouched winners are left out — kept for comparison with earlier reports).
    pub gini: f64,
    /// The paper's `max_pct`: the largest haircut as a share of the winner's equity at the
    /// oracle price when it was first deleveraged.
    pub max_pct: f64,
    /// Gini of haircut / equity over **all** winners (every short; the untouched count 0).
    pub gini_all: f64,
    /// Median, 90th and 99th percentile of haircut / equity over all winners.
    pub pct_p50: f64,
    pub pct_p90: f64,
    pub pct_p99: f64,
    /// Highest leverage among winners still open after the event, at the final price.
    pub max_leverage_after: f64,
}

impl Report {
    /// Haircut collected beyond what was needed (negative: under-collected).
    pub fn overshoot(&self) -> f64 {
        self.haircut - self.needed
    }
}
