use anchor_lang::prelude::*;

use crate::engine::apply_funding;
use crate::error::AdlError;
use crate::events::FundingUpdated;
use crate::math;
use crate::state::*;

#[derive(Accounts)]
pub struct UpdateFunding<'info> {
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: the market's oracle of its kind (pushed `Oracle` or Pyth `PriceUpdateV2`),
    /// checked by `state::oracle::checked_oracle_price` (key, owner, data, age, confidence).
    pub oracle: UncheckedAccount<'info>,
}

/// Permissionless funding crank: moves the cumulative funding index by the time-weighted
/// premium accrued since the last update (each trade's premium counts for the slots it stood,
/// at most one period), carrying the division's remainder, and charges active ADL escrows
/// their funding (`engine::apply_funding`). Positions settle lazily (`F_i`) into the funding
/// pool; the rank keys do not move (`K = P_b − F`).
pub fn handle_update_funding(ctx: Context<UpdateFunding>) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::UpdateFunding)?;
    let mut m = a.market.load_mut()?;
    let price = checked_oracle_price(&m, &a.exchange.key(), &a.oracle)?;
    let now = Clock::get()?.slot;
    require!(now > m.last_funding_slot, AdlError::FundingTooSoon);
    let elapsed = now - m.last_funding_slot;
    m.accrue_premium(now)?;
    let (delta, carry) = math::funding_step(
        m.premium_acc as i128,
        m.funding_carry,
        price,
        m.params.funding_period_slots,
    )?;
    m.premium_acc = 0;
    m.funding_carry = carry;
    apply_funding(&mut m, delta)?;
    m.last_funding_slot = now;
    emit!(FundingUpdated {
        market: a.market.key(),
        delta,
        cumulative_funding: m.cumulative_funding,
        mark_price: m.mark_price,
        oracle_price: price,
        elapsed_slots: elapsed,
    });
    Ok(())
}
