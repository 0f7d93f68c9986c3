//! Leverage drain (Campbell–Hey–Moallemi–Nutz): reduce the most leveraged positions to a
//! common leverage level `ℓ` so that the total reduction is the event's size `Q`. The program
//! finds the level itself by water-filling from the head of `by_leverage`; nobody supplies it.
//!
//! Every quantity here is a function of one position alone, so a drain can be measured and
//! applied over many transactions (`MarketState::drain_step`) and still equal the
//! single-transaction result (`drain_optimum`):
//!
//! - equity is exact (funding settled exactly, `math::exact_equity_scaled`), hence unchanged
//!   by funding while the drain runs; a position's *drain equity* is
//!   `e = max(⌊eq⌋ − 2, 0)` quote atoms: two atoms are held back for the fill's two roundings
//!   (funding settled up, notional against the owner), so its leverage after the fill is at
//!   most `ℓ`;
//! - leverage and target sizes are measured at the drain's price `P_d` (`P_exec` when the
//!   drain began): a position of size `s` may keep `keep(ℓ) = min(s, ⌊ℓ·e·BASE/(P_d·1e4)⌋)`
//!   base atoms and its cut is `s − keep(ℓ)`;
//! - **the region** is a prefix of the eligible part of `by_leverage` (most leveraged first),
//!   grown one position at a time while the sums `S = Σ s`, `E = Σ e` of the prefix do not
//!   yet cover `Q` or the next position is more leveraged than the level the prefix defines:
//!   it joins unless `S ≥ Q` and `s·E ≤ (S − Q)·e` (exact, price-free);
//! - **the level** is `ℓ = ⌊(S − Q)·P_d·1e4 / (E·BASE)⌋` over the region (capped at
//!   `MAX_DRAIN_LEVEL_BPS`; 0 when `S < Q`: the side cannot cover the event and every eligible
//!   position is closed). Because `keep` is floored, `Σ cut(ℓ) ≥ S − ℓ·E·BASE/(P_d·1e4) ≥ Q`:
//!   the region always covers the event;
//! - the cuts are applied from the head, each capped by what the event still needs, so the
//!   overshoot `Σ cut(ℓ) − Q` stays with the least leveraged positions of the region (fewer
//!   than `k + E·BASE/(P_d·1e4) + 1` base atoms for a region of `k` positions).
//!
//! The water-filling stop rule makes the region exactly the positions above the level (up to
//! the rounding of `e`): a position joins while its own leverage `s/e` exceeds the prefix's
//! level `(S − Q)/E`, and the prefix's level rises towards, never past, each position that
//! joins (a mediant). Over several transactions positions can enter the prefix behind the
//! measuring cursor; the program then trims the region's tail (`drain_trims`) before it
//! fixes the level, so the region is again the positions above its level.

use crate::error::AdlError;
use crate::math::{self, PositionAmounts};
use crate::state::{PositionSlot, QueueEntry, MAX_DRAIN_LEVEL_BPS};

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

/// An eligible position's drain terms: its size `s` (base atoms) and drain equity
/// `e = max(⌊eq⌋ − 2, 0)` (quote atoms, exact equity at `P_exec` floored). `None` when it is
/// not open or not eligible at `P_exec` (`fill::eligible`): never reduced by a drain.
pub fn drain_terms(
    pos: &PositionSlot,
    funding_index: i64,
    exec_price: u64,
) -> Result<Option<(u64, u64)>, AdlError> {
    if !eligible(pos, funding_index, exec_price) {
        return Ok(None);
    }
    let eq_scaled = math::exact_equity_scaled(
        pos.base,
        pos.cost_basis,
        pos.margin,
        funding_index,
        pos.funding_snapshot,
        exec_price,
    )?;
    let eq = math::div_floor(eq_scaled, math::BASE_PRECISION)?;
    let e = math::to_u64((eq - 2).max(0))?;
    Ok(Some((pos.base.unsigned_abs(), e)))
}

/// Whether a position with terms `(s, e)` joins a region whose sums are `S`, `E` for an
/// event of `Q`: yes while `S < Q`, else when its leverage exceeds the prefix's level,
/// `s·E > (S − Q)·e` (exact in `u128`: both products are of two `u64`).
pub fn drain_joins(sum_base: u64, sum_equity: u64, remaining: u64, s: u64, e: u64) -> bool {
    if sum_base < remaining {
        return true;
    }
    (s as u128) * (sum_equity as u128) > ((sum_base - remaining) as u128) * (e as u128)
}

/// Whether the last position `(s, e)` of a region with sums `S`, `E` (itself included) leaves
/// it: it is not above the level of the rest, `s·(E − e) ≤ (S − s − Q)·e` — the negation of
/// `drain_joins` against the sums without it (never when the rest would not cover `Q`).
pub fn drain_trims(sum_base: u64, sum_equity: u64, remaining: u64, s: u64, e: u64) -> bool {
    let (rest_base, rest_equity) = (sum_base - s, sum_equity - e);
    rest_base >= remaining && !drain_joins(rest_base, rest_equity, remaining, s, e)
}

/// The level of a region with sums `S`, `E` for an event of `Q` at `P_d`:
/// `⌊(S − Q)·P_d·1e4 / (E·BASE)⌋` bps, capped at `MAX_DRAIN_LEVEL_BPS` (also when `E = 0` or
/// the product exceeds 128 bits: the quotient is then above the cap); 0 when `S < Q`.
/// Rounded down: a lower level cuts more, so the region covers the event.
pub fn drain_level(sum_base: u64, sum_equity: u64, remaining: u64, price: u64) -> u64 {
    if sum_base < remaining {
        return 0;
    }
    let num = ((sum_base - remaining) as u128)
        .checked_mul(price as u128)
        .and_then(|x| x.checked_mul(math::BPS as u128));
    let den = (sum_equity as u128) * (math::BASE_PRECISION as u128);
    match num {
        Some(n) if den > 0 => (n / den).min(MAX_DRAIN_LEVEL_BPS as u128) as u64,
        _ => MAX_DRAIN_LEVEL_BPS,
    }
}

/// A position's cut at level `ℓ`: `s − min(s, ⌊ℓ·e·BASE/(P_d·1e4)⌋)` base atoms. The kept size
/// is rounded down (against the owner: its leverage after the fill is at most `ℓ`).
pub fn drain_cut(s: u64, e: u64, level_bps: u64, price: u64) -> Result<u64, AdlError> {
    if price == 0 {
        return Ok(s);
    }
    let num = math::mul(
        math::mul(level_bps as i128, e as i128)?,
        math::BASE_PRECISION,
    )?;
    let keep = math::div_floor(num, math::mul(price as i128, math::BPS)?)?;
    Ok(s - (keep.min(s as i128) as u64))
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

/// A drain's region measured in one pass (keeper, tests, the simulator; the program measures
/// the same over several transactions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainRegion {
    /// `S`: total size of the region, base atoms.
    pub sum_base: u64,
    /// `E`: total drain equity of the region, quote atoms.
    pub sum_equity: u64,
    /// The level, bps (`drain_level`).
    pub level_bps: u64,
    /// The region's positions in `by_leverage` order, with their terms `(slot, s, e)`.
    pub positions: Vec<(u32, u64, u64)>,
}

/// Measures the region of a drain of `remaining` base atoms at `drain_price` in one pass over
/// the side: the eligible part of `by_leverage` from its head, by `drain_joins`.
pub fn drain_region<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot>,
    funding_index: i64,
    exec_price: u64,
    drain_price: u64,
    remaining: u64,
) -> Result<DrainRegion, AdlError> {
    let start = ineligible_prefix_end(by_leverage, &slot, funding_index, exec_price);
    let mut r = DrainRegion::default();
    for e in &by_leverage[start..] {
        let Some(pos) = slot(e.slot()) else { continue };
        let Some((s, eq)) = drain_terms(pos, funding_index, exec_price)? else {
            continue;
        };
        if !drain_joins(r.sum_base, r.sum_equity, remaining, s, eq) {
            break;
        }
        r.sum_base = math::add_u64(r.sum_base, s)?;
        r.sum_equity = math::add_u64(r.sum_equity, eq)?;
        r.positions.push((e.slot(), s, eq));
    }
    // The tail trimmed as the program trims it (nothing leaves on a side measured in one
    // pass, up to the rounding of `e` between neighbours).
    while let Some(&(_, s, eq)) = r.positions.last() {
        if !drain_trims(r.sum_base, r.sum_equity, remaining, s, eq) {
            break;
        }
        r.sum_base -= s;
        r.sum_equity -= eq;
        r.positions.pop();
    }
    r.level_bps = drain_level(r.sum_base, r.sum_equity, remaining, drain_price);
    Ok(r)
}

/// The single-transaction drain of `remaining` base atoms on the state given: the region and
/// its level (`drain_region`), then each position cut to the level from the head, each cut
/// capped by what is still needed. Returns the level and `(slot, cut)` for every position of
/// the region in `by_leverage` order (cuts of zero included). This is the definition the
/// multi-transaction drain is tested against.
pub fn drain_optimum<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot>,
    funding_index: i64,
    exec_price: u64,
    drain_price: u64,
    remaining: u64,
) -> Result<(u64, Vec<(u32, u64)>), AdlError> {
    let r = drain_region(
        by_leverage,
        slot,
        funding_index,
        exec_price,
        drain_price,
        remaining,
    )?;
    let mut left = remaining;
    let mut out = Vec::with_capacity(r.positions.len());
    for &(s, size, e) in &r.positions {
        let cut = drain_cut(size, e, r.level_bps, drain_price)?.min(left);
        left -= cut;
        out.push((s, cut));
    }
    Ok((r.level_bps, out))
}
