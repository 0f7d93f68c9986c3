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

/// The part of the exact rank key that `rank_key` rounds away: `K = rank_key + num/den`
/// with `0 ≤ num < den = |q|` (`num = |N − q·⌊N/q⌋|`, `N = (B_q − C)·BASE`). Equal stored keys
/// are ordered by it exactly (`frac_cmp`), so the queue order is the exact leverage order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyFrac {
    pub num: u64,
    pub den: u64,
}

pub fn rank_key_frac(base: i64, cost_basis: i64, margin: i64) -> MathResult<KeyFrac> {
    if base == 0 {
        return Err(AdlError::NoOpenPosition);
    }
    let num = mul(sub(cost_basis as i128, margin as i128)?, BASE_PRECISION)?;
    let q = base as i128;
    let rem = sub(num, mul(q, div_floor(num, q)?)?)?;
    Ok(KeyFrac {
        num: to_u64(rem.abs())?,
        den: base.unsigned_abs(),
    })
}

/// Exact comparison of two fractions in `[0, 1)`: `a.num·b.den` against `b.num·a.den`, each
/// below 2^126 (no rounding).
pub fn frac_cmp(a: KeyFrac, b: KeyFrac) -> core::cmp::Ordering {
    (a.num as u128 * b.den as u128).cmp(&(b.num as u128 * a.den as u128))
}

/// Entry price `E = B_q·BASE/q` (price atoms, positive), saturated; an ordering key and a
/// display value, never used to move money. Rounded down for a long and up for a short, so
/// that for every whole-atom price `P` the integer key answers "in profit at `P`" exactly:
/// a long is in profit iff `floor(E) < P`, a short iff `ceil(E) > P` (see `in_profit`).
pub fn entry_price(base: i64, cost_basis: i64) -> MathResult<i64> {
    if base == 0 {
        return Err(AdlError::NoOpenPosition);
    }
    let num = mul(cost_basis as i128, BASE_PRECISION)?;
    let e = if base > 0 {
        div_floor(num, base as i128)?
    } else {
        div_ceil(num, base as i128)?
    };
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
/// A realized loss larger than the released margin is charged to the remaining margin; a
/// negative remaining margin (a funding deficit) is netted out of what the fill frees. A
/// full close (or the closing half of a flip) that still leaves a negative margin is
/// rejected (`PositionBankrupt`); a partial reduction may leave a negative margin backed by
/// the remainder's unrealized profit — the caller checks the remainder's equity.
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
    if remaining_margin < 0 && to_free > 0 {
        // A margin deficit (funding settled beyond the margin) is netted out of what the
        // fill frees before anything reaches the owner.
        let netted = to_free.min(-remaining_margin);
        to_free = sub(to_free, netted)?;
        remaining_margin = add(remaining_margin, netted)?;
    }
    if remaining_margin < 0 && reduce_abs == q_abs {
        // Closing at a loss larger than everything the position holds.
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
/// rank): a long when `E < P`, a short when `E > P`. With `entry_price` rounded down for
/// longs and up for shorts this equals the exact test `unrealized_in_profit` for every
/// whole-atom price; the same key orders `by_entry`, so the head of that array answers "is
/// any position of this side in profit" in O(1).
pub fn in_profit(is_long: bool, entry_price: i64, price: u64) -> bool {
    let p = price as i128;
    let e = entry_price as i128;
    if is_long {
        e < p
    } else {
        e > p
    }
}

/// Exact "in profit at `P`": `q·P − B_q·BASE > 0` (cross-multiplied in `i128`, no rounding;
/// for a short both `q` and `B_q` are negative, so this is `E > P`).
pub fn unrealized_in_profit(base: i64, cost_basis: i64, price: u64) -> MathResult<bool> {
    let v = mul(base as i128, price as i128)?;
    let c = mul(cost_basis as i128, BASE_PRECISION)?;
    Ok(sub(v, c)? > 0)
}

/// Exact "equity ≥ 0 at `P`" for a position whose funding is settled into `margin`:
/// `C·BASE + q·P − B_q·BASE ≥ 0` (cross-multiplied, no rounding).
pub fn equity_non_negative(
    base: i64,
    cost_basis: i64,
    margin: i64,
    price: u64,
) -> MathResult<bool> {
    let c = mul(sub(margin as i128, cost_basis as i128)?, BASE_PRECISION)?;
    Ok(add(c, mul(base as i128, price as i128)?)? >= 0)
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
/// and the rounding remainder is never negative. Recomputed after every funding update
/// while the event is open (`engine::apply_funding`): it is the escrow's bankruptcy price.
pub fn adl_exec_price(base: i64, cost_basis: i64, cash: i64) -> MathResult<u64> {
    let num = mul(sub(cost_basis as i128, cash as i128)?, BASE_PRECISION)?;
    let p = if base > 0 {
        div_ceil(num, base as i128)?
    } else {
        div_floor(num, base as i128)?
    };
    // At least one price atom: an escrow whose cash already covers its cost (funding it
    // received during the event) needs nothing more; what it receives goes to the sink.
    to_u64(p.max(1))
}

/// Virtual shares of the insurance fund: every share computation acts as if `VIRTUAL_SHARES`
/// more shares and one more atom existed. The first stake mints `VIRTUAL_SHARES` shares per
/// atom; a balance present before the first stake (or donated to inflate the share price)
/// mostly belongs to the virtual shares, so neither a first 1-atom staker nor a share
/// inflation can take value from a later staker beyond one share's rounding (the
/// ERC-4626 "virtual offset" defence).
pub const VIRTUAL_SHARES: i128 = 1_000;

/// A fund whose share price fell below `1/WIPE_FACTOR` of the first-stake price is treated
/// as wiped (a new share epoch starts), so share counts never grow towards `u64::MAX`.
pub const WIPE_FACTOR: i128 = 1_000;

/// Insurance shares for a stake of `amount`: `amount·(S + V)/(balance + 1)`, rounded down
/// (never more than the stake is worth; the remainder stays with the fund).
pub fn shares_for_stake(amount: u64, total_shares: u64, balance: u64) -> MathResult<u64> {
    to_u64(div_floor(
        mul(amount as i128, add(total_shares as i128, VIRTUAL_SHARES)?)?,
        add(balance as i128, 1)?,
    )?)
}

/// Value of `shares`: `shares·(balance + 1)/(S + V)`, rounded down (the fund keeps the
/// remainder).
pub fn shares_value(shares: u64, total_shares: u64, balance: u64) -> MathResult<u64> {
    to_u64(div_floor(
        mul(shares as i128, add(balance as i128, 1)?)?,
        add(total_shares as i128, VIRTUAL_SHARES)?,
    )?)
}

/// Earnings still vesting at `now` of an amount `vesting` that vests linearly from `since` to
/// `end`: `vesting·(end − now)/(end − since)` before `end`, 0 after; rounded up when `round_up`
/// (what a leaving staker may not take) and down otherwise (the remainder carried into a new
/// schedule).
pub fn vesting_left(
    vesting: u64,
    since: u64,
    end: u64,
    now: u64,
    round_up: bool,
) -> MathResult<u64> {
    if now >= end || end <= since {
        return Ok(0);
    }
    let left = end - now.max(since);
    let num = mul(vesting as i128, left as i128)?;
    let den = (end - since) as i128;
    let q = if round_up {
        div_ceil(num, den)?
    } else {
        div_floor(num, den)?
    };
    to_u64(q)
}

/// Whether the fund's share price has fallen so far (`S > balance·V·WIPE_FACTOR`) that its
/// shares must be retired (see `WIPE_FACTOR`).
pub fn shares_wiped(total_shares: u64, balance: u64) -> bool {
    total_shares > 0 && (total_shares as i128) > (balance as i128) * VIRTUAL_SHARES * WIPE_FACTOR
}

/// Splits a liquidation fee: the fund's part `fee·share_bps/1e4` rounded down, the rest to
/// the liquidator.
pub fn split_fee(fee: u64, fund_share_bps: u32) -> MathResult<(u64, u64)> {
    let to_fund = to_u64(div_floor(mul(fee as i128, fund_share_bps as i128)?, BPS)?)?;
    Ok((to_fund, fee - to_fund))
}

/// Premium of a trade price over the oracle, `(mark − P_o)·1e4/P_o` bps, rounded toward zero
/// (no bias toward either sign) and clamped to `±max_rate_bps`.
pub fn premium_bps(mark: u64, oracle: u64, max_rate_bps: u32) -> MathResult<i64> {
    if oracle == 0 {
        return Err(AdlError::InvalidOraclePrice);
    }
    let num = mul(sub(mark as i128, oracle as i128)?, BPS)?;
    let p = num / oracle as i128; // toward zero
    let bound = max_rate_bps as i128;
    to_i64(p.clamp(-bound, bound))
}

/// Units of the accrued premium (`Market::premium_acc`) per bps·slot: the rate of a window is
/// a ratio, accrued with this much precision so that truncation per accrual (toward zero) is
/// at most 1e-5 bps·slot.
pub const PREMIUM_ACC_SCALE: i128 = 100_000;

/// Weight `k` of the zero-premium prior in the funding rate, in units of open interest:
/// `⌈4·max_rate/(taker_fee + maker_fee)⌉`, or `None` when trades pay no fee (then no trade can
/// move funding: a self-trade would be free). With this `k`, moving a window's rate costs a
/// self-trader at least twice what the move can earn it (docs/architecture.md, "Funding").
pub fn funding_weight_k(max_rate_bps: u32, taker_fee_bps: u32, maker_fee_bps: u32) -> Option<u64> {
    let fees = taker_fee_bps as u64 + maker_fee_bps as u64;
    if fees == 0 {
        return None;
    }
    Some((4 * max_rate_bps as u64).div_ceil(fees).max(1))
}

/// A trade's premium weight: `notional·premium/1e4` quote atoms, rounded toward zero (a trade
/// never weighs more than its exact premium).
pub fn premium_weight(notional: u64, premium_bps: i64) -> MathResult<i64> {
    to_i64(mul(notional as i128, premium_bps as i128)? / BPS)
}

/// Open interest as notional at `price`: `max(long, short)·price/BASE`, rounded down.
pub fn open_interest_notional(long: u64, short: u64, price: u64) -> MathResult<i128> {
    div_floor(mul(long.max(short) as i128, price as i128)?, BASE_PRECISION)
}

/// Premium accrued by a window's rate over `slots`, in `PREMIUM_ACC_SCALE` units of bps·slots:
/// the rate is the notional-weighted premium of the window's trades against a zero-premium
/// weight of `k` times the open interest, `r = 1e4·X/(Y + k·O)` bps (`X` Σ premium weights,
/// `Y` Σ notional, `O` open interest notional now), so `|r| ≤ max_rate` and a window whose
/// volume is small against `k·O` moves funding little. Rounded toward zero. `k = None`: 0.
pub fn window_accrual(
    premium: i64,
    notional: u64,
    k: Option<u64>,
    oi_notional: i128,
    slots: u64,
) -> MathResult<i128> {
    let Some(k) = k else { return Ok(0) };
    let den = add(notional as i128, mul(k as i128, oi_notional)?)?;
    if den == 0 || premium == 0 || slots == 0 {
        return Ok(0);
    }
    let num = mul(
        mul(mul(premium as i128, BPS)?, PREMIUM_ACC_SCALE)?,
        slots as i128,
    )?;
    Ok(num / den) // toward zero
}

/// Funding index change for an accrued premium `acc` (bps·slots × `PREMIUM_ACC_SCALE`):
/// `ΔF = acc·P_o/(1e4·SCALE·period)` plus the remainder `carry` of earlier updates, rounded toward
/// zero; the new remainder is returned and carried, so no funding is lost to rounding and
/// the number of cranks never changes the total. Returns `(ΔF, carry)`; positive ΔF: longs
/// pay shorts. (Each position's share is rounded against it in `funding_owed`.)
pub fn funding_step(acc: i128, carry: i64, oracle: u64, period: u64) -> MathResult<(i64, i64)> {
    if period == 0 {
        return Err(AdlError::MathOverflow);
    }
    let num = add(mul(acc, oracle as i128)?, carry as i128)?;
    let den = mul(mul(BPS, PREMIUM_ACC_SCALE)?, period as i128)?;
    let delta = num / den; // toward zero; the remainder is carried
    let rest = sub(num, mul(delta, den)?)?;
    Ok((to_i64(delta)?, to_i64(rest)?))
}

/// Funding owed by an ADL escrow of signed size `base` for an index change `delta`
/// (positive: the escrow pays), rounded up like every position's funding.
pub fn escrow_funding(base: i64, delta: i64) -> MathResult<i128> {
    div_ceil(mul(base as i128, delta as i128)?, BASE_PRECISION)
}

/// Funding an ADL escrow of signed size `base` pays for an index change `delta`, with the
/// over-payment of earlier updates carried: `prepaid` (in quote atoms × 1e-9, `< BASE`) is
/// what the escrow already paid beyond the exact amount. Returns `(pay, prepaid')` with
/// `pay = ceil((q·ΔF − prepaid)/BASE)` (positive: the escrow pays) and
/// `prepaid' = pay·BASE − (q·ΔF − prepaid)` in `[0, BASE)`: over any number of updates the
/// escrow has paid exactly `Σ q·ΔF/BASE` plus `prepaid'/BASE` — at least the exact funding
/// (the pool stays backed) and less than one atom more. `P_exec` moves by exactly `ΔF`, so
/// the escrow's exact equity at `P_exec` falls by `prepaid'/BASE < 1` atom at most, and its
/// integer residual at the end stays ≥ 0 (docs/adl.md, "Funding during an event").
pub fn escrow_funding_carried(base: i64, delta: i64, prepaid: u32) -> MathResult<(i128, u32)> {
    let owed = sub(mul(base as i128, delta as i128)?, prepaid as i128)?;
    let pay = div_ceil(owed, BASE_PRECISION)?;
    let carry = sub(mul(pay, BASE_PRECISION)?, owed)?;
    Ok((
        pay,
        u32::try_from(carry).map_err(|_| AdlError::MathOverflow)?,
    ))
}

/// Exact equity at `price` with funding settled exactly, scaled by `BASE`:
/// `C·BASE − q·(F − F_i) + q·P − B·BASE` (no rounding anywhere). Invariant under a funding
/// change that moves `F` and `price` together: `−q·ΔF + q·ΔF = 0` — which is why ADL
/// eligibility at `P_exec` never changes while funding runs.
pub fn exact_equity_scaled(
    base: i64,
    cost_basis: i64,
    margin: i64,
    funding_index: i64,
    funding_snapshot: i64,
    price: u64,
) -> MathResult<i128> {
    let q = base as i128;
    let funding = mul(q, sub(funding_index as i128, funding_snapshot as i128)?)?;
    let c = mul(sub(margin as i128, cost_basis as i128)?, BASE_PRECISION)?;
    add(sub(c, funding)?, mul(q, price as i128)?)
}

/// ADL eligibility at `P_exec`: exact equity (funding settled exactly) of at least one quote
/// atom. The atom is what the fill's two roundings (funding owed up, notional against the
/// owner) can cost together, so an eligible position's fill never leaves it below zero in
/// atoms; a position between zero and one atom of exact equity is ineligible (documented
/// deviation of less than one atom). Exact, so funding never changes it.
pub fn adl_eligible(
    base: i64,
    cost_basis: i64,
    margin: i64,
    funding_index: i64,
    funding_snapshot: i64,
    price: u64,
) -> MathResult<bool> {
    let eq = exact_equity_scaled(
        base,
        cost_basis,
        margin,
        funding_index,
        funding_snapshot,
        price,
    )?;
    Ok(eq >= BASE_PRECISION)
}
