use anchor_lang::prelude::*;

use crate::engine::crank_funding;
use crate::error::AdlError;
use crate::events::FundingUpdated;
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

/// Permissionless funding crank: moves the cumulative funding index by the premium accrued
/// since the last update (each window's rate is the previous window's notional-weighted
/// premium against `k` × open interest, `Market::accrue_premium`), carrying the division's
/// remainder, and charges active ADL escrows their funding (`engine::apply_funding`). Positions settle lazily (`F_i`) into the funding
/// pool; the rank keys do not move (`K = P_b − F`).
pub fn handle_update_funding(ctx: Context<UpdateFunding>) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::UpdateFunding)?;
    let mut m = a.market.load_mut()?;
    let price = checked_oracle_price(&m, &a.exchange.key(), &a.oracle)?;
    let now = Clock::get()?.slot;
    require!(now > m.last_funding_slot, AdlError::FundingTooSoon);
    let elapsed = now - m.last_funding_slot;
    let delta = crank_funding(&mut m, price, now)?;
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
