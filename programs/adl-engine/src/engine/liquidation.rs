//! Liquidation: takeover at the oracle price; bankrupt positions whole, the fund paying.

use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::math;
use crate::state::*;

use super::MarketState;

/// Result of a liquidation, for the event.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiquidationOutcome {
    pub base: u64,
    pub notional: u64,
    pub fee: u64,
    pub fee_to_fund: u64,
    pub fee_to_liquidator: u64,
    pub fund_paid: u64,
    pub bankrupt: bool,
    pub liquidator_slot: u32,
}

impl MarketState<'_> {
    /// Liquidates `base` of a position below maintenance at `price` (the whole of a bankrupt
    /// one), the liquidator taking it over at the oracle price.
    #[allow(clippy::too_many_arguments)]
    pub fn liquidate(
        &mut self,
        slot: u32,
        liquidatee: &mut UserAccount,
        liquidator: &mut UserAccount,
        fund: &mut InsuranceFund,
        base: u64,
        liquidator_margin: u64,
        price: u64,
    ) -> Result<LiquidationOutcome> {
        require!(base > 0, AdlError::ZeroAmount);
        self.owned_open_slot(liquidatee, slot)?;
        let params = self.market.params;
        // Settle funding, then judge the position at the oracle price.
        let (pos, eq) = self.settled_equity(slot, price)?;
        let mm = math::margin_requirement(pos.base, price, params.mmr_bps)?;
        require!(math::is_liquidatable(eq, mm), AdlError::NotLiquidatable);
        let bankrupt = math::is_bankrupt(eq);
        let is_long = pos.base > 0;
        let size = pos.base.unsigned_abs();
        let want = base.min(size);
        let taken = if bankrupt || size - want < params.min_position_base {
            // A bankrupt position goes whole; so does one whose remainder would be dust.
            size
        } else {
            want
        };
        let notional = math::close_notional(is_long, taken, price)?;
        let fee = math::fee(notional, params.liquidation_fee_bps)?;
        let mut out = LiquidationOutcome {
            base: taken,
            notional,
            bankrupt,
            ..LiquidationOutcome::default()
        };
        let delta = if is_long {
            -(taken as i64)
        } else {
            taken as i64
        };
        if bankrupt {
            // Full close at the oracle price realizes exactly `eq`; the fund pays the
            // deficit and the liquidator's part of the fee.
            let deficit = math::to_u64(-eq)?;
            let (_, to_liquidator) = math::split_fee(fee, params.liquidation_fee_to_fund_bps)?;
            let pay = math::add_u64(deficit, to_liquidator)?;
            require!(
                pay <= fund.available(params.max_insurance_per_event),
                AdlError::InsufficientInsurance
            );
            fund.pay(pay)?;
            out.fund_paid = pay;
            out.fee = to_liquidator;
            out.fee_to_liquidator = to_liquidator;
            let o = self.modify(slot, |p, _| {
                p.margin = math::to_i64(math::add(p.margin as i128, deficit as i128)?)?;
                let mut a = p.amounts();
                let o = math::apply_fill(&mut a, delta, notional)?;
                p.set_amounts(a);
                Ok(o)
            })?;
            liquidatee.credit(o.to_free)?;
            liquidator.credit(to_liquidator)?;
        } else {
            let o = self.modify(slot, |p, _| {
                let mut a = p.amounts();
                let o = math::apply_fill(&mut a, delta, notional)?;
                // The fee comes from what the fill frees, then from the remaining margin,
                // never below zero.
                let from_free = fee.min(o.to_free);
                let from_margin = (fee - from_free).min(a.margin.max(0) as u64);
                a.margin -= from_margin as i64;
                p.set_amounts(a);
                Ok((o, from_free, from_margin))
            })?;
            let (o, from_free, from_margin) = o;
            let paid = from_free + from_margin;
            let (to_fund, to_liquidator) =
                math::split_fee(paid, params.liquidation_fee_to_fund_bps)?;
            fund.earn(to_fund)?;
            liquidatee.credit(o.to_free - from_free)?;
            liquidator.credit(to_liquidator)?;
            out.fee = paid;
            out.fee_to_fund = to_fund;
            out.fee_to_liquidator = to_liquidator;
        }
        if self.book.slot(slot)?.base == 0 {
            self.book.release(slot)?;
            liquidatee.remove_position(&self.key)?;
            self.market.num_positions -= 1;
        }
        let (lslot, _, _) =
            self.fill_user(liquidator, -delta, notional, liquidator_margin, 0, price)?;
        // No minimum applies to the liquidator's resulting position: a rule there would let
        // anyone shape a position whose liquidation nets a keeper to dust and so refuse that
        // keeper's transaction (a jam). The cost of dust is bounded instead: see
        // `Market::may_hold_bankrupt`.
        out.liquidator_slot = lslot;
        Ok(out)
    }
}
