//! Leverage drain (Campbell–Hey–Moallemi–Nutz): reduce the most leveraged positions to a
//! common leverage level `ℓ` so that the total reduction is the event's size `Q`.
//!
//! Every quantity here is a function of one position alone, so a drain can be measured and
//! applied over many transactions (`MarketState::drain_step`) and still equal the
//! single-transaction optimum (`drain_optimum`):
//!
//! - equity is exact (funding settled exactly, `math::exact_equity_scaled`), hence unchanged
//!   by funding while the drain runs;
//! - leverage and target sizes are measured at the drain's price `P_d` (`P_exec` when the
//!   drain began): `lev = |q|·P_d/eq`;
//! - a position is *above* `ℓ` when `|q|·P_d·1e4 > ℓ·eq·BASE` (exactly). Leverage at one price is
//!   monotone in the bankruptcy price, so the eligible positions above `ℓ` are exactly a
//!   prefix of the eligible part of `by_leverage`;
//! - it may keep `keep(ℓ) = floor(ℓ·(⌊eq⌋ − 2)·BASE/(P_d·1e4))` base atoms (0 when
//!   `⌊eq⌋ ≤ 2`): two atoms of equity are held back for the fill's two roundings (funding
//!   settled up, notional against the owner), so its leverage after the fill is at most `ℓ`;
//! - its cut at `ℓ` is `|q| − min(keep(ℓ), |q|)`; `R(ℓ) = Σ cut(ℓ)` over the positions above
//!   `ℓ`, and the level is right when `R(ℓ) ≥ Q > R(ℓ + 1)`. (Over the positions above `ℓ`,
//!   `R(ℓ + 1)` is their cut at `ℓ + 1` for those above `ℓ + 1` and 0 for the others, which
//!   are at most `ℓ + 1` already: so consecutive levels' intervals meet and every `Q` up to
//!   the eligible size has its level, the largest with `R(ℓ) ≥ Q`);
//! - the overshoot `R(ℓ) − Q` is handed back from the least leveraged positions first, each
//!   giving back at most `cut(ℓ) − cut(ℓ + 1)`, so none is left above `ℓ + 1`.

use crate::error::AdlError;
use crate::math::{self, PositionAmounts};
use crate::state::{PositionSlot, QueueEntry};

use super::fill::eligible;
use super::walk::ineligible_prefix_end;

/// One reduction of a leverage drain: the position keeps its equity (realized PnL stays in
/// its margin), so its leverage falls with its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainFill {
    pub slot: u32,
    pub base: u64,
    pub notional: u64,
    pub after: PositionAmounts,
    pub funding: i128,
}

/// A position's place in a drain to level `ℓ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainClass {
    /// Not open, or not eligible at `P_exec` (`fill::eligible`): never reduced by a drain.
    Ineligible,
    /// Eligible and at most `ℓ`: the drain's region ends at the first such position.
    NotAbove,
    /// Eligible and above `ℓ`: its cuts at `ℓ` and `ℓ + 1`, base atoms.
    Above { cut: u64, cut_next: u64 },
}

/// Largest size (base atoms) a position of exact floored equity `eq` may keep at price `P`
/// without its leverage exceeding `level_bps` after the fill: `floor(ℓ·(eq − 2)·BASE/(P·1e4))`,
/// 0 when `eq ≤ 2`.
pub fn drain_target_size(eq: i128, level_bps: u64, price: u64) -> Result<u64, AdlError> {
    if eq <= 2 || price == 0 {
        return Ok(0);
    }
    let num = math::mul(math::mul(level_bps as i128, eq - 2)?, math::BASE_PRECISION)?;
    math::to_u64(math::div_floor(num, math::mul(price as i128, math::BPS)?)?)
}

/// Leverage above `ℓ` bps at `price`, exactly: the notional `|q|·P/BASE` times `1e4` exceeds
/// `ℓ·eq`, i.e. `|q|·P·1e4 > ℓ·eq_scaled` with `eq_scaled = eq·BASE` (no rounding).
fn above(base_abs: u64, eq_scaled: i128, price: u64, level_bps: u64) -> Result<bool, AdlError> {
    let lhs = math::mul(math::mul(base_abs as i128, price as i128)?, math::BPS)?;
    let rhs = math::mul(level_bps as i128, eq_scaled)?;
    Ok(lhs > rhs)
}

/// Classifies a position for a drain to `level_bps` measured at `drain_price`; eligibility
/// is judged at the event's current `exec_price` and `funding_index` (the same as at the
/// drain's start: both move together).
pub fn drain_class(
    pos: &PositionSlot,
    funding_index: i64,
    exec_price: u64,
    drain_price: u64,
    level_bps: u64,
) -> Result<DrainClass, AdlError> {
    if !eligible(pos, funding_index, exec_price) {
        return Ok(DrainClass::Ineligible);
    }
    let eq_scaled = math::exact_equity_scaled(
        pos.base,
        pos.cost_basis,
        pos.margin,
        funding_index,
        pos.funding_snapshot,
        exec_price,
    )?;
    let size = pos.base.unsigned_abs();
    if !above(size, eq_scaled, drain_price, level_bps)? {
        return Ok(DrainClass::NotAbove);
    }
    let eq = math::div_floor(eq_scaled, math::BASE_PRECISION)?;
    let keep = drain_target_size(eq, level_bps, drain_price)?.min(size);
    let next = level_bps.saturating_add(1);
    // A position at most `ℓ + 1` may be handed back whole: `R(ℓ + 1)` counts only the
    // positions above `ℓ + 1`, so the intervals `[R(ℓ + 1), R(ℓ)]` of consecutive levels
    // meet and every event size has a level.
    // At the highest level the whole cut may be handed back (a drain to 10,000x leaves
    // the positions above it as they are once the event is covered).
    let cut_next = if level_bps < crate::state::MAX_DRAIN_LEVEL_BPS
        && above(size, eq_scaled, drain_price, next)?
    {
        size - drain_target_size(eq, next, drain_price)?.min(size)
    } else {
        0
    };
    Ok(DrainClass::Above {
        cut: size - keep,
        cut_next: cut_next.min(size - keep),
    })
}

/// The reduction of `pos` by `cut` base atoms at `exec_price`: funding settled (rounded up),
/// the notional rounded against the owner, the cost removed rounded up; the realized PnL
/// stays in the margin.
pub fn drain_fill(
    slot: u32,
    pos: &PositionSlot,
    funding_index: i64,
    exec_price: u64,
    cut: u64,
) -> Result<DrainFill, AdlError> {
    let funding = math::funding_owed(pos.base, funding_index, pos.funding_snapshot)?;
    let margin = math::to_i64(math::sub(pos.margin as i128, funding)?)?;
    let is_long = pos.base > 0;
    let notional = math::close_notional(is_long, cut, exec_price)?;
    let q_abs = pos.base.unsigned_abs() as i128;
    let removed = math::div_ceil(math::mul(pos.cost_basis as i128, cut as i128)?, q_abs)?;
    let signed_n = if is_long {
        notional as i128
    } else {
        -(notional as i128)
    };
    let pnl = math::sub(signed_n, removed)?;
    let after = PositionAmounts {
        base: if is_long {
            pos.base - cut as i64
        } else {
            pos.base + cut as i64
        },
        cost_basis: math::to_i64(math::sub(pos.cost_basis as i128, removed)?)?,
        margin: math::to_i64(math::add(margin as i128, pnl)?)?,
    };
    Ok(DrainFill {
        slot,
        base: cut,
        notional,
        after,
        funding,
    })
}

/// `R(ℓ)` and `R(ℓ + 1)` over the positions above `ℓ`, and those positions with their cuts
/// in `by_leverage` order — one pass over the side (keeper, tests; the program measures the
/// same sums over several transactions).
#[allow(clippy::type_complexity)]
pub fn drain_sums<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot>,
    funding_index: i64,
    exec_price: u64,
    drain_price: u64,
    level_bps: u64,
) -> Result<(u128, u128, Vec<(u32, u64, u64)>), AdlError> {
    let start = ineligible_prefix_end(by_leverage, &slot, funding_index, exec_price);
    let (mut r, mut r_next, mut set) = (0u128, 0u128, Vec::new());
    for e in &by_leverage[start..] {
        let Some(pos) = slot(e.slot()) else { continue };
        match drain_class(pos, funding_index, exec_price, drain_price, level_bps)? {
            DrainClass::Ineligible => continue,
            DrainClass::NotAbove => break,
            DrainClass::Above { cut, cut_next } => {
                r += cut as u128;
                r_next += cut_next as u128;
                set.push((e.slot(), cut, cut_next));
            }
        }
    }
    Ok((r, r_next, set))
}

/// The keeper's side: the level `ℓ*` — the largest with `R(ℓ) ≥ Q` — found by binary search
/// over levels at `P_exec` (a drain started now measures at `P_exec`). `None` when the side's
/// eligible size cannot cover `Q` (the keeper then starts the drain at level 0, whose check
/// fails and hands the event to the ranked walk).
pub fn find_drain_level<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot> + Copy,
    funding_index: i64,
    exec_price: u64,
    remaining: u64,
) -> Option<u64> {
    let reduction = |level: u64| -> Option<u128> {
        drain_sums(
            by_leverage,
            slot,
            funding_index,
            exec_price,
            exec_price,
            level,
        )
        .ok()
        .map(|s| s.0)
    };
    if reduction(0)? < remaining as u128 {
        return None;
    }
    // R is non-increasing in the level: find the largest level with R(level) ≥ Q.
    let (mut lo, mut hi) = (0u64, crate::state::MAX_DRAIN_LEVEL_BPS);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if reduction(mid)? >= remaining as u128 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// Why a drain level does not fit the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainError {
    /// `R(ℓ) ≥ Q > R(ℓ+1)` does not hold.
    WrongLevel,
    Overflow,
}

impl From<AdlError> for DrainError {
    fn from(_: AdlError) -> Self {
        DrainError::Overflow
    }
}

/// The single-transaction optimum of a drain to `level_bps` on the state given: each
/// position above the level cut to it, the overshoot handed back from the least leveraged
/// first. Returns `(slot, cut)` in `by_leverage` order (cuts of zero included). This is the
/// definition the multi-transaction drain is tested against.
pub fn drain_optimum<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot>,
    funding_index: i64,
    exec_price: u64,
    drain_price: u64,
    remaining: u64,
    level_bps: u64,
) -> Result<Vec<(u32, u64)>, DrainError> {
    let (r, r_next, set) = drain_sums(
        by_leverage,
        slot,
        funding_index,
        exec_price,
        drain_price,
        level_bps,
    )?;
    if r < remaining as u128 || r_next >= remaining as u128 {
        return Err(DrainError::WrongLevel);
    }
    let mut overshoot = (r - remaining as u128) as u64;
    let mut out = vec![(0u32, 0u64); set.len()];
    for (i, &(s, cut, cut_next)) in set.iter().enumerate().rev() {
        let back = overshoot.min(cut - cut_next);
        overshoot -= back;
        out[i] = (s, cut - back);
    }
    Ok(out)
}
