//! Trades: one side of a fill, and moving ADL payouts to their owners.

use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::math::{self, FillOutcome};
use crate::state::*;

use super::MarketState;

/// One side of a trade: its slot, the fill's outcome, the fee charged.
pub type TradeSide = (u32, FillOutcome, u64);

impl MarketState<'_> {
    /// `trade`: a matched fill between two users at `args.price` — the band and minimum-size
    /// checks, both sides (`fill_user`), the minimum position left, and the trade's premium
    /// for funding: the funding index is brought up to `now` on the open interest before the
    /// trade (`crank_funding`), then the trade's notional-weighted premium joins the current
    /// window (it sets the next window's rate, `Market::accrue_premium`). Returns each side's
    /// (slot, outcome, fee).
    pub fn trade(
        &mut self,
        taker: &mut UserAccount,
        maker: &mut UserAccount,
        args: &crate::instructions::TradeArgs,
        oracle_price: u64,
        now: u64,
    ) -> Result<(TradeSide, TradeSide)> {
        let params = self.market.params;
        require!(
            math::within_band(args.price, oracle_price, params.oracle_band_bps)?,
            AdlError::PriceOutsideBand
        );
        require!(
            args.taker_base.unsigned_abs() >= params.min_trade_base,
            AdlError::TradeTooSmall
        );
        let premium = math::premium_bps(args.price, oracle_price, params.max_funding_rate_bps)?;
        let notional = math::fill_notional(args.taker_base.unsigned_abs(), args.price)?;
        // Funding up to now is applied before the fills (`crank_funding`), on the open interest
        // that held it: a position opened now never pays for slots before it existed.
        super::crank_funding(self.market, oracle_price, now)?;
        let t = self.fill_user(
            taker,
            args.taker_base,
            notional,
            args.taker_margin,
            params.taker_fee_bps,
            oracle_price,
        )?;
        let m = self.fill_user(
            maker,
            -args.taker_base,
            notional,
            args.maker_margin,
            params.maker_fee_bps,
            oracle_price,
        )?;
        self.require_min_position(t.0)?;
        self.require_min_position(m.0)?;
        self.market.mark_price = args.price;
        self.market.record_trade_premium(notional, premium)?;
        Ok((t, m))
    }

    /// `add_margin` (`delta > 0`) / `remove_margin` (`delta < 0`) on the user's position:
    /// funding settled, the margin moved from or to free collateral; a removal must leave the
    /// margin non-negative and the position at initial margin at `oracle_price`. Returns the
    /// slot and its margin after.
    pub fn change_margin(
        &mut self,
        user: &mut UserAccount,
        delta: i64,
        oracle_price: u64,
    ) -> Result<(u32, i64)> {
        require!(delta != 0, AdlError::ZeroAmount);
        // Pending pro-rata obligations and payouts first, as every instruction of the owner
        // does: an obligation may close the position, and margin must never be moved into a
        // slot that ADL closed (it would be lost when the slot is released).
        self.apply_user_obligations(user)?;
        self.settle_payout(user)?;
        let slot = self.user_slot(user)?;
        if delta > 0 {
            user.debit(delta as u64)?;
        }
        let margin = self.modify(slot, |pos, market| {
            pos.settle_funding(market.cumulative_funding, &mut market.funding_pool)?;
            pos.margin = math::to_i64(math::add(pos.margin as i128, delta as i128)?)?;
            Ok(pos.margin)
        })?;
        if delta < 0 {
            require!(margin >= 0, AdlError::InsufficientMargin);
            self.require_initial_margin(slot, oracle_price)?;
            user.credit(delta.unsigned_abs())?;
        }
        Ok((slot, margin))
    }

    /// Requires a trader's position left open by a trade to be at least the market's
    /// minimum position size (a liquidator's takeover is exempt: it must be able to take
    /// over a position of any size).
    pub fn require_min_position(&self, slot: u32) -> Result<()> {
        let s = self.book.slot(slot)?;
        require!(
            !s.is_open() || s.base.unsigned_abs() >= self.market.params.min_position_base,
            AdlError::PositionTooSmall
        );
        Ok(())
    }

    /// One side of a trade: settles funding, applies the fill, moves `margin_add` from free
    /// collateral into the position, charges the fee, releases a closed slot, and enforces
    /// initial margin if risk grew or non-negative equity after a reduction. Returns the fill
    /// outcome and the fee charged.
    #[allow(clippy::too_many_arguments)]
    pub fn fill_user(
        &mut self,
        user: &mut UserAccount,
        delta: i64,
        notional: u64,
        margin_add: u64,
        fee_bps: u32,
        oracle_price: u64,
    ) -> Result<(u32, FillOutcome, u64)> {
        self.apply_user_obligations(user)?;
        self.settle_payout(user)?;
        let slot = match user.position_slot(&self.key) {
            Some(_) => self.user_slot(user)?,
            None => {
                let seq = self.market.take_position_seq()?;
                let touch = self.market.take_touch_seq()?;
                let slot = self.book.allocate(user.owner, seq, touch)?;
                user.add_position(self.key, slot)?;
                self.market.num_positions += 1;
                slot
            }
        };
        user.debit(margin_add)?;
        let outcome = self.modify(slot, |pos, market| {
            if pos.base != 0 {
                pos.settle_funding(market.cumulative_funding, &mut market.funding_pool)?;
            } else {
                pos.funding_snapshot = market.cumulative_funding;
            }
            let mut a = pos.amounts();
            let out = math::apply_fill(&mut a, delta, notional)?;
            if a.base == 0 {
                require!(margin_add == 0, AdlError::NoOpenPosition);
            } else {
                a.margin = math::to_i64(math::add(a.margin as i128, margin_add as i128)?)?;
            }
            pos.set_amounts(a);
            if out.flipped {
                pos.open_seq = market.take_position_seq()?;
            }
            Ok(out)
        })?;
        user.credit(outcome.to_free)?;
        let fee = math::fee(notional, fee_bps)?;
        user.debit(fee)?;
        self.market.fee_pool = math::add_u64(self.market.fee_pool, fee)?;
        let after = *self.book.slot(slot)?;
        if after.base == 0 {
            self.book.release(slot)?;
            user.remove_position(&self.key)?;
            self.market.num_positions -= 1;
        } else {
            if outcome.risk_increasing {
                self.require_initial_margin(slot, oracle_price)?;
            } else {
                // A reduction (e.g. at the band edge) must not leave a bankrupt remainder.
                let eq = after.equity(self.market.cumulative_funding, oracle_price)?;
                require!(!math::is_bankrupt(eq), AdlError::PositionBankrupt);
            }
        }
        Ok((slot, outcome, fee))
    }

    /// Moves a position's pending ADL payout to its owner (any touch by the owner does this
    /// first) and frees a slot that ADL closed. Returns the amount credited.
    pub fn settle_payout(&mut self, user: &mut UserAccount) -> Result<u64> {
        let Some(slot) = user.position_slot(&self.key) else {
            return Ok(0);
        };
        if self.payouts_paused {
            return Ok(0);
        }
        let s = self.book.slot_mut(slot)?;
        require_keys_eq!(s.owner, user.owner, AdlError::SlotNotOwned);
        let payout = s.adl_payout;
        s.adl_payout = 0;
        let closed = s.status == SLOT_ADL_CLOSED;
        user.credit(payout)?;
        if closed {
            self.book.release(slot)?;
            user.remove_position(&self.key)?;
            self.market.num_positions -= 1;
        }
        Ok(payout)
    }
}
