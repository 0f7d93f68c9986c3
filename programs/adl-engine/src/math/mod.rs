//! Every formula of the engine, in one place, on plain integers.
//!
//! The program, the keeper, the tests and the simulator all call these functions; nothing
//! is re-derived elsewhere. Units:
//! - prices: quote atoms per one whole base unit (`PRICE_PRECISION` = 1e6),
//! - base sizes: base atoms (`BASE_PRECISION` = 1e9 atoms = one whole unit),
//! - quote amounts: collateral atoms (`QUOTE_PRECISION` = 1e6, six decimals),
//! - ratios: basis points (`BPS` = 1e4).
//!
//! Arithmetic is `i128` internally and checked; every division names its rounding
//! direction, which always goes against the position owner and in favour of solvency.

pub mod safe;

#[cfg(test)]
mod tests;

use crate::error::AdlError;
pub use safe::*;

pub const PRICE_PRECISION: i128 = 1_000_000;
pub const BASE_PRECISION: i128 = 1_000_000_000;
pub const QUOTE_PRECISION: i128 = 1_000_000;
pub const BPS: i128 = 10_000;

/// Notional of a fill: `|q|·P/BASE`, rounded down. Computed once per fill; both sides of the
/// fill use this same number, so the rounding only moves value between the two parties and
/// conservation stays exact.
pub fn fill_notional(base_abs: u64, price: u64) -> MathResult<u64> {
    to_u64(div_floor(
        mul(base_abs as i128, price as i128)?,
        BASE_PRECISION,
    )?)
}

/// Value of a signed position at price `P`: `q·P/BASE`, rounded toward −∞ (a long is worth
/// less, a short owes more: against the owner).
pub fn position_value(base: i64, price: u64) -> MathResult<i128> {
    div_floor(mul(base as i128, price as i128)?, BASE_PRECISION)
}

/// Funding owed since the snapshot: `q·(F − F_i)/BASE`; positive means the position pays.
/// Rounded toward +∞ (the position pays at least the exact amount).
pub fn funding_owed(base: i64, funding_index: i64, funding_snapshot: i64) -> MathResult<i128> {
    let delta = sub(funding_index as i128, funding_snapshot as i128)?;
    div_ceil(mul(base as i128, delta)?, BASE_PRECISION)
}

/// Equity at price `P`: `C − f + q·P/BASE − B_q` (quote atoms, signed).
pub fn equity(
    base: i64,
    cost_basis: i64,
    margin: i64,
    funding_index: i64,
    funding_snapshot: i64,
    price: u64,
) -> MathResult<i128> {
    let f = funding_owed(base, funding_index, funding_snapshot)?;
    let v = position_value(base, price)?;
    sub(add(sub(margin as i128, f)?, v)?, cost_basis as i128)
}

/// Margin requirement `|q|·P/BASE · ratio_bps/1e4`, rounded up (the requirement is never
/// understated). Used with `mmr_bps` for maintenance and `imr_bps` for initial margin.
pub fn margin_requirement(base: i64, price: u64, ratio_bps: u32) -> MathResult<i128> {
    let num = mul(mul((base as i128).abs(), price as i128)?, ratio_bps as i128)?;
    div_ceil(num, mul(BASE_PRECISION, BPS)?)
}

/// Fee on a notional, rounded up (the payer never pays less than the rate).
pub fn fee(notional: u64, fee_bps: u32) -> MathResult<u64> {
    to_u64(div_ceil(mul(notional as i128, fee_bps as i128)?, BPS)?)
}

/// Liquidatable: `eq(P) < mm(P)`.
pub fn is_liquidatable(equity: i128, maintenance: i128) -> bool {
    equity < maintenance
}

/// Bankrupt: `eq(P) < 0`.
pub fn is_bankrupt(equity: i128) -> bool {
    equity < 0
}

/// Bankruptcy price, where equity is zero: `P_b = (B_q − C)·BASE/q + (F − F_i)`.
/// Rounded against the owner: up for a long (it is bankrupt sooner), down for a short.
/// `None` for a flat position.
pub fn bankruptcy_price(
    base: i64,
    cost_basis: i64,
    margin: i64,
    funding_index: i64,
    funding_snapshot: i64,
) -> MathResult<Option<i128>> {
    if base == 0 {
        return Ok(None);
    }
    let num = mul(sub(cost_basis as i128, margin as i128)?, BASE_PRECISION)?;
    let q = base as i128;
    let part = if base > 0 {
        div_ceil(num, q)?
    } else {
        div_floor(num, q)?
    };
    Ok(Some(add(
        part,
        sub(funding_index as i128, funding_snapshot as i128)?,
    )?))
}

/// Rank key `K = P_b − F = (B_q − C)·BASE/q − F_i` (price atoms). Funding moves every
/// bankruptcy price of a side by the same amount, so the order of `K` only changes when a
/// position itself changes. The division rounds toward −∞; the key is saturated to the `i64`
/// range (it is an ordering key, not an amount: saturated keys of one side stay in order
/// among themselves by age).
pub fn rank_key(base: i64, cost_basis: i64, margin: i64, funding_snapshot: i64) -> MathResult<i64> {
    if base == 0 {
        return Err(AdlError::NoOpenPosition);
    }
    let num = mul(sub(cost_basis as i128, margin as i128)?, BASE_PRECISION)?;
    let k = sub(div_floor(num, base as i128)?, funding_snapshot as i128)?;
    Ok(saturate_i64(k))
}

/// Entry price `E = B_q·BASE/q` (price atoms, positive), rounded down and saturated; an
/// ordering key and a display value, never used to move money.
pub fn entry_price(base: i64, cost_basis: i64) -> MathResult<i64> {
    if base == 0 {
        return Err(AdlError::NoOpenPosition);
    }
    let e = div_floor(mul(cost_basis as i128, BASE_PRECISION)?, base as i128)?;
    Ok(saturate_i64(e))
}

/// `by_leverage` sort key: ascending order is most leveraged first.
/// Longs: larger `K` is more leveraged, so the key is `−K`; shorts: smaller `K`, key `K`.
pub fn leverage_sort_key(is_long: bool, rank_key: i64) -> i64 {
    if is_long {
        rank_key.saturating_neg()
    } else {
        rank_key
    }
}

/// `by_entry` sort key: ascending order is most profitable first.
/// Longs: lowest entry first (key `E`); shorts: highest entry first (key `−E`).
pub fn entry_sort_key(is_long: bool, entry_price: i64) -> i64 {
    if is_long {
        entry_price
    } else {
        entry_price.saturating_neg()
    }
}

/// Tie-break of both queue arrays: older position first (lower open sequence), the slot
/// index packed in the low 24 bits so an entry names its slot.
pub const SLOT_BITS: u32 = 24;
pub const MAX_SLOTS: u32 = 1 << SLOT_BITS;

pub fn queue_order(open_seq: u64, slot: u32) -> MathResult<u64> {
    if slot >= MAX_SLOTS || open_seq >= (1u64 << (64 - SLOT_BITS)) {
        return Err(AdlError::MathOverflow);
    }
    Ok((open_seq << SLOT_BITS) | slot as u64)
}

pub fn slot_of_order(order: u64) -> u32 {
    (order & (MAX_SLOTS as u64 - 1)) as u32
}

/// Effective leverage in basis points at price `P`: `|q|·P/BASE / eq(P) · 1e4`, rounded up.
/// `None` when equity is zero or negative (infinite leverage).
pub fn leverage_bps(base: i64, price: u64, equity: i128) -> MathResult<Option<u64>> {
    if equity <= 0 {
        return Ok(None);
    }
    let notional = div_floor(mul((base as i128).abs(), price as i128)?, BASE_PRECISION)?;
    Ok(Some(to_u64(div_ceil(mul(notional, BPS)?, equity)?)?))
}

/// Whether a trade price lies inside the oracle band: `|P − P_o| ≤ P_o·band_bps/1e4`
/// (band rounded down: the band is never wider than configured).
pub fn within_band(price: u64, oracle_price: u64, band_bps: u32) -> MathResult<bool> {
    let band = div_floor(mul(oracle_price as i128, band_bps as i128)?, BPS)?;
    Ok((price as i128 - oracle_price as i128).abs() <= band)
}

/// Oracle confidence check: `conf·1e4 ≤ P·max_conf_bps`.
pub fn confidence_ok(price: u64, confidence: u64, max_conf_bps: u32) -> MathResult<bool> {
    Ok(mul(confidence as i128, BPS)? <= mul(price as i128, max_conf_bps as i128)?)
}

/// Outcome of applying one fill to a position's fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FillOutcome {
    /// Amount moved from the position to the owner's free collateral: released margin plus
    /// realized PnL (never negative; a loss beyond the released margin stays charged to the
    /// remaining margin).
    pub to_free: u64,
    /// Realized PnL of the reduced part (quote atoms, signed).
    pub realized_pnl: i128,
    /// Margin released by the reduced part.
    pub margin_released: i64,
    /// Whether the position's size grew or changed side (initial margin applies).
    pub risk_increasing: bool,
    /// Whether the position was flat before the fill (it opens now).
    pub opened: bool,
    /// Whether the position changed side in this fill (closed, then reopened).
    pub flipped: bool,
}

/// The fields of a position that a fill changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionAmounts {
    pub base: i64,
    pub cost_basis: i64,
    pub margin: i64,
}

/// Applies a fill of signed size `delta` (positive: the owner buys) with unsigned notional
/// `notional` (the same number the counterparty uses) to a position.
///
/// - open / increase: `q += Δq`, `B_q += sign(Δq)·N`;
/// - reduce by `r = |Δq| ≤ |q|`: cost removed `ceil(B_q·r/|q|)` (toward +∞: the realized PnL
///   `−sign(Δq)·N − removed` is never overstated), margin released `floor(C·r/|q|)`;
/// - flip: the notional splits `N_close = floor(N·|q|/|Δq|)`, `N_open = N − N_close`; the old
///   position closes with `N_close`, the new one opens with `N_open` and zero margin.
///
/// A realized loss larger than the released margin is charged to the remaining margin; if
/// that leaves it negative the fill is rejected (`PositionBankrupt`).
pub fn apply_fill(pos: &mut PositionAmounts, delta: i64, notional: u64) -> MathResult<FillOutcome> {
    if delta == 0 {
        return Err(AdlError::ZeroAmount);
    }
    let mut out = FillOutcome::default();
    let n = notional as i128;
    let sign: i128 = if delta > 0 { 1 } else { -1 };
    if pos.base == 0 || (pos.base > 0) == (delta > 0) {
        out.opened = pos.base == 0;
        out.risk_increasing = true;
        pos.base = to_i64(add(pos.base as i128, delta as i128)?)?;
        pos.cost_basis = to_i64(add(pos.cost_basis as i128, mul(sign, n)?)?)?;
        return Ok(out);
    }
    let q_abs = (pos.base as i128).abs();
    let d_abs = (delta as i128).abs();
    let (reduce_abs, close_notional) = if d_abs <= q_abs {
        (d_abs, n)
    } else {
        (q_abs, div_floor(mul(n, q_abs)?, d_abs)?)
    };
    let removed = div_ceil(mul(pos.cost_basis as i128, reduce_abs)?, q_abs)?;
    let released = div_floor(mul(pos.margin as i128, reduce_abs)?, q_abs)?;
    let pnl = sub(mul(-sign, close_notional)?, removed)?;
    let mut remaining_margin = sub(pos.margin as i128, released)?;
    let mut to_free = add(released, pnl)?;
    if to_free < 0 {
        remaining_margin = add(remaining_margin, to_free)?;
        to_free = 0;
    }
    if remaining_margin < 0 {
        return Err(AdlError::PositionBankrupt);
    }
    out.realized_pnl = pnl;
    out.margin_released = to_i64(released)?;
    pos.base = to_i64(add(pos.base as i128, mul(sign, reduce_abs)?)?)?;
    pos.cost_basis = to_i64(sub(pos.cost_basis as i128, removed)?)?;
    pos.margin = to_i64(remaining_margin)?;
    if d_abs > q_abs {
        // Flip: the closed position's margin is all released (remaining is zero here since
        // reduce_abs == q_abs), then the rest opens on the other side.
        to_free = add(to_free, pos.margin as i128)?;
        pos.margin = 0;
        out.flipped = true;
        out.risk_increasing = true;
        let open_notional = sub(n, close_notional)?;
        pos.base = to_i64(mul(sign, sub(d_abs, q_abs)?)?)?;
        pos.cost_basis = to_i64(mul(sign, open_notional)?)?;
    } else if pos.base == 0 {
        // Closed: any margin left after a loss returns to the owner.
        to_free = add(to_free, pos.margin as i128)?;
        pos.margin = 0;
        debug_assert_eq!(pos.cost_basis, 0);
    }
    out.to_free = to_u64(to_free)?;
    Ok(out)
}

/// Size-weighted quintile "lights" (1–5) of a position in its side's ADL queue: with `ahead`
/// the base size strictly ahead of it and `own` its size, the position's midpoint share of
/// the side's open interest `oi` decides the light — 5 for the first fifth (closest to being
/// deleveraged), 1 for the last.
pub fn adl_lights(ahead: u64, own: u64, oi: u64) -> u8 {
    if oi == 0 {
        return 1;
    }
    let mid2 = 2 * ahead as u128 + own as u128; // twice the midpoint
    let fifth = (mid2 * 5) / (2 * oi as u128); // 0..=4 for positions inside the side
    5 - (fifth.min(4) as u8)
}

/// Whether a position is in profit at `price` by its entry-price key (tier 1 of the ADL
/// rank): a long when `E < P`, a short when `E > P`. The same key orders `by_entry`, so the
/// head of that array answers "is any position of this side in profit" in O(1).
pub fn in_profit(is_long: bool, entry_price: i64, price: u64) -> bool {
    let p = price as i128;
    let e = entry_price as i128;
    if is_long {
        e < p
    } else {
        e > p
    }
}

/// Notional of a closing fill rounded against the owner who closes: a long sells (floor:
/// receives no more), a short buys back (ceil: pays no less). With this rounding the full
/// close of a position realizes exactly `equity` at that price.
pub fn close_notional(is_long: bool, base_abs: u64, price: u64) -> MathResult<u64> {
    let num = mul(base_abs as i128, price as i128)?;
    to_u64(if is_long {
        div_floor(num, BASE_PRECISION)?
    } else {
        div_ceil(num, BASE_PRECISION)?
    })
}

/// ADL execution price `P_exec = (B_q − cash)·BASE/q`, where `cash` is the bankrupt
/// position's margin plus what the insurance fund paid (`P_b − I·BASE/q`). Rounded in favour
/// of the bankrupt escrow — up for a long, down for a short — so the fills always cover it
/// and the rounding remainder is never negative.
pub fn adl_exec_price(base: i64, cost_basis: i64, cash: i64) -> MathResult<u64> {
    let num = mul(sub(cost_basis as i128, cash as i128)?, BASE_PRECISION)?;
    let p = if base > 0 {
        div_ceil(num, base as i128)?
    } else {
        div_floor(num, base as i128)?
    };
    if p <= 0 {
        return Err(AdlError::MathOverflow);
    }
    to_u64(p)
}

/// Insurance shares for a stake of `amount`: 1:1 into an empty fund, otherwise
/// `amount·total_shares/balance` rounded down (never more than the stake is worth).
pub fn shares_for_stake(amount: u64, total_shares: u64, balance: u64) -> MathResult<u64> {
    if total_shares == 0 || balance == 0 {
        return Ok(amount);
    }
    to_u64(div_floor(
        mul(amount as i128, total_shares as i128)?,
        balance as i128,
    )?)
}

/// Value of `shares`: `shares·balance/total_shares`, rounded down.
pub fn shares_value(shares: u64, total_shares: u64, balance: u64) -> MathResult<u64> {
    if total_shares == 0 {
        return Ok(0);
    }
    to_u64(div_floor(
        mul(shares as i128, balance as i128)?,
        total_shares as i128,
    )?)
}

/// Splits a liquidation fee: the fund's part `fee·share_bps/1e4` rounded down, the rest to
/// the liquidator.
pub fn split_fee(fee: u64, fund_share_bps: u32) -> MathResult<(u64, u64)> {
    let to_fund = to_u64(div_floor(mul(fee as i128, fund_share_bps as i128)?, BPS)?)?;
    Ok((to_fund, fee - to_fund))
}

/// Funding index change over `elapsed` slots: the premium of the mark over the oracle,
/// `(mark − P_o)·1e4/P_o` bps, clamped to `±max_rate_bps`, applied to the oracle price pro
/// rata of the period: `ΔF = premium_bps·P_o·elapsed / (1e4·period)`, rounded toward zero.
/// Positive: longs pay shorts. No trade yet (`mark = 0`): no funding.
pub fn funding_delta(
    mark: u64,
    oracle: u64,
    elapsed: u64,
    period: u64,
    max_rate_bps: u32,
) -> MathResult<i64> {
    if mark == 0 || oracle == 0 || period == 0 {
        return Ok(0);
    }
    let premium = div_floor(
        mul(sub(mark as i128, oracle as i128)?, BPS)?,
        oracle as i128,
    )?;
    let bound = max_rate_bps as i128;
    let premium = premium.clamp(-bound, bound);
    let num = mul(mul(premium, oracle as i128)?, elapsed as i128)?;
    let den = mul(BPS, period as i128)?;
    to_i64(num.checked_div(den).ok_or(AdlError::MathOverflow)?)
}
