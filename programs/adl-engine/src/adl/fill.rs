//! Fill planning shared by the three ADL policies: eligibility at `P_exec`, tiers, the
//! dry-run of a counterparty fill (`plan_fill`) and pro-rata shares.

use crate::error::AdlError;
use crate::math::{self, FillOutcome, PositionAmounts};
use crate::state::PositionSlot;

/// One planned ADL fill against a counterparty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedFill {
    pub slot: u32,
    /// Base atoms closed (absolute).
    pub base: u64,
    /// Fill notional, rounded against the counterparty.
    pub notional: u64,
    /// Counterparty amounts after funding settlement and the fill.
    pub after: PositionAmounts,
    /// Funding the counterparty settles first.
    pub funding: i128,
    pub outcome: FillOutcome,
    /// Tier it was taken from (1 or 2).
    pub tier: u8,
}

/// Why a counterparty cannot be filled now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not open, or negative equity at `P_exec` (exactly, by cross-multiplication): stays
    /// ineligible for the whole event (neither depends on the size still to fill). A
    /// bankruptcy flag does not make a position ineligible: eligibility is decided from the
    /// position's fields alone, so a stale flag exempts nobody.
    Permanent,
    /// Nothing left to fill (defensive: `remaining` is zero).
    ThisSize,
}

/// ADL eligibility of an open position at `P_exec`: exact equity, funding settled exactly,
/// of at least one quote atom (`math::adl_eligible`). Funding moves `F` and `P_exec` by the
/// same amount, so eligibility never changes unless the position does.
pub fn eligible(pos: &PositionSlot, funding_index: i64, exec_price: u64) -> bool {
    pos.is_open()
        && math::adl_eligible(
            pos.base,
            pos.cost_basis,
            pos.margin,
            funding_index,
            pos.funding_snapshot,
            exec_price,
        )
        .unwrap_or(false)
}

/// Tier of a position at `price`: 1 when in profit (exactly: `q·P > B_q·BASE`), else 2.
pub fn tier_at(pos: &PositionSlot, price: u64) -> Option<u8> {
    let p = math::unrealized_in_profit(pos.base, pos.cost_basis, price).ok()?;
    Some(if p { 1 } else { 2 })
}

/// Dry-runs the fill of a counterparty at `exec_price` for up to `remaining` base atoms.
///
/// Every position with equity ≥ 0 at `P_exec` can be filled, partially or whole: a margin
/// deficit (funding settled beyond the margin) is netted out of what the fill frees, and if
/// rounding would leave the remainder a few atoms below zero equity, those atoms are kept in
/// its margin instead of being paid out (never in the owner's favour).
pub fn plan_fill(
    slot: u32,
    pos: &PositionSlot,
    funding_index: i64,
    exec_price: u64,
    remaining: u64,
) -> Result<PlannedFill, Skip> {
    if !pos.is_open() {
        return Err(Skip::Permanent);
    }
    if !eligible(pos, funding_index, exec_price) {
        return Err(Skip::Permanent);
    }
    let funding = math::funding_owed(pos.base, funding_index, pos.funding_snapshot)
        .map_err(|_| Skip::Permanent)?;
    let settled_margin = math::sub(pos.margin as i128, funding)
        .and_then(math::to_i64)
        .map_err(|_| Skip::Permanent)?;
    let is_long = pos.base > 0;
    let base = pos.base.unsigned_abs().min(remaining);
    if base == 0 {
        return Err(Skip::ThisSize);
    }
    let notional = math::close_notional(is_long, base, exec_price).map_err(|_| Skip::Permanent)?;
    let mut after = PositionAmounts {
        base: pos.base,
        cost_basis: pos.cost_basis,
        margin: settled_margin,
    };
    let delta = if is_long { -(base as i64) } else { base as i64 };
    let mut outcome = math::apply_fill(&mut after, delta, notional).map_err(|_| Skip::Permanent)?;
    if after.base != 0 {
        keep_rank_and_solvency(pos, settled_margin, exec_price, &mut after, &mut outcome)
            .map_err(|_| Skip::Permanent)?;
    }
    let tier = tier_at(pos, exec_price).ok_or(Skip::Permanent)?;
    Ok(PlannedFill {
        slot,
        base,
        notional,
        after,
        funding,
        outcome,
        tier,
    })
}

/// Adjusts the remainder of a partial ADL fill (and the payout) so that:
///
/// 1. its rank key never moves back in line: the remainder is at least as leveraged as the
///    position was (funding settled) — exactly, `(B' − C')/q' ≥ (B − C)/q` for a long and
///    `≤` for a short, i.e. `C' ≤ (B'·q − (B − C)·q')/q`. The rounding of the fill (cost
///    removed up, margin released down) would otherwise leave a little more margin per unit
///    in the remainder and move it back; that margin is paid out with the fill instead;
/// 2. its equity at `P_exec` stays ≥ 0 (exactly): margin that rounding would pay out of a
///    zero-equity remainder stays in it. Only a remainder within one margin atom of zero
///    equity can be moved back by this (by less than one atom of margin).
///
/// Total value is unchanged: what leaves the margin enters the payout and back.
fn keep_rank_and_solvency(
    pos: &PositionSlot,
    settled_margin: i64,
    exec_price: u64,
    after: &mut PositionAmounts,
    outcome: &mut FillOutcome,
) -> Result<(), AdlError> {
    let (q, qr) = (pos.base as i128, after.base as i128);
    let before = math::sub(pos.cost_basis as i128, settled_margin as i128)?;
    // C'max = floor((B'·q − (B − C)·q')/q): the largest margin that keeps the key in place.
    let num = math::sub(
        math::mul(after.cost_basis as i128, q)?,
        math::mul(before, qr)?,
    )?;
    let cmax = math::div_floor(num, q)?;
    if (after.margin as i128) > cmax {
        let extra = math::sub(after.margin as i128, cmax)?;
        after.margin = math::to_i64(cmax)?;
        outcome.to_free = math::to_u64(math::add(outcome.to_free as i128, extra)?)?;
    }
    if !math::equity_non_negative(after.base, after.cost_basis, after.margin, exec_price)? {
        // Smallest margin with equity ≥ 0: ceil((B'·BASE − q'·P)/BASE).
        let need = math::div_ceil(
            math::sub(
                math::mul(after.cost_basis as i128, math::BASE_PRECISION)?,
                math::mul(qr, exec_price as i128)?,
            )?,
            math::BASE_PRECISION,
        )?;
        let short = math::to_u64(math::sub(need, after.margin as i128)?)?;
        let moved = short.min(outcome.to_free);
        outcome.to_free -= moved;
        after.margin = math::to_i64(math::add(after.margin as i128, moved as i128)?)?;
    }
    Ok(())
}

/// Whether a position entering or moving in the queue can be taken in tier `tier` of an
/// event (`AdlWalk` upkeep): of the tier at `tier_price` and eligible at `exec_price`.
pub fn takeable(
    pos: &PositionSlot,
    funding_index: i64,
    exec_price: u64,
    tier_price: u64,
    tier: u8,
) -> bool {
    tier_at(pos, tier_price) == Some(tier)
        && plan_fill(0, pos, funding_index, exec_price, u64::MAX).is_ok()
}

/// A position's pro-rata share of an event: `ceil(|q|·Q/OI)`, at most what the event still
/// needs. Rounded up so the shares always cover `Q`; the last ones applied may get less.
pub fn pro_rata_share(base_abs: u64, ev: &crate::state::AdlEvent) -> Result<u64, AdlError> {
    if ev.pro_rata_oi == 0 {
        return Ok(0);
    }
    let share = math::to_u64(math::div_ceil(
        math::mul(base_abs as i128, ev.pro_rata_base as i128)?,
        ev.pro_rata_oi as i128,
    )?)?;
    Ok(share.min(ev.base_remaining).min(base_abs))
}
