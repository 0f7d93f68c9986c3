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

/// Expected shortfall at level `alpha` of a loss that grows with the rebound `r`, under an
/// exponential rebound of mean `mean` (`r = −mean·ln(1 − u)`, u uniform): the mean loss over
/// the worst `1 − alpha` of outcomes, by 1,000 equally likely quantiles
/// (`u_k = (k + ½)/1000`). `loss` must be non-decreasing in `r`.
pub fn expected_shortfall(mean: f64, alpha: f64, loss: impl Fn(f64) -> f64) -> f64 {
    const K: usize = 1_000;
    let start = ((alpha * K as f64).round() as usize).min(K - 1);
    let tail: Vec<f64> = (start..K)
        .map(|k| {
            let u = (k as f64 + 0.5) / K as f64;
            loss(-mean * (1.0 - u).ln())
        })
        .collect();
    // `+ 0.0`: an empty or all-zero sum is −0.0 in floating point; report 0.
    tail.iter().sum::<f64>() / tail.len() as f64 + 0.0
}

/// Results of one policy on one scenario (money in USD, sizes in whole units).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub policy: &'static str,
    pub scenario: String,
    /// Oracle price at the end (after the price impact of liquidations).
    pub final_price: f64,
    /// Insurance fund at the start and the end, and what it paid.
    pub fund_start: f64,
    pub fund_end: f64,
    pub insurance_paid: f64,
    /// Traders (and liquidators) whose position ADL reduced at least once.
    pub traders_hit: usize,
    /// Base units closed by ADL.
    pub contracts_closed: f64,
    /// What ADL took from the reduced positions against a close at the oracle price.
    pub haircut: f64,
    /// The paper's `max_pct`: the largest haircut as a share of the winner's equity — the
    /// equity it would have had without ADL (at the oracle price, at its reductions: equity
    /// just before one plus the haircuts already taken; the largest such).
    pub max_pct: f64,
    /// Gini of haircut / equity over **all** winners (every short of the starting book; the
    /// untouched count 0).
    pub gini_all: f64,
    /// Median, 90th and 99th percentile of haircut / equity over all winners.
    pub pct_p50: f64,
    pub pct_p90: f64,
    pub pct_p99: f64,
    /// Highest and size-weighted leverage of the winners still open, at the final price.
    pub max_leverage_after: f64,
    pub weighted_leverage_after: f64,
    /// Expected shortfall (95 %) of the open winners' negative equity under the rebound.
    pub expected_shortfall: f64,
    /// Deficit left at the end: active escrows and bankrupt positions, at the final price.
    pub unresolved: f64,
    /// Size still in active ADL escrows at the end.
    pub escrow_left: f64,
    /// The liquidators' gain (loss if negative) on what they took over, at the final price,
    /// fees included.
    pub liquidator_pnl: f64,
    pub work: crate::exchange::Work,
}
