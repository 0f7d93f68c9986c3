use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::FundingUpdated;
use crate::instructions::trade::checked_oracle_price;
use crate::math;
use crate::state::*;

#[derive(Accounts)]
pub struct UpdateFunding<'info> {
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    pub oracle: Box<Account<'info, Oracle>>,
}

/// Permissionless funding crank: moves the cumulative funding index by the bounded premium
/// of the mark over the oracle for the slots since the last update. Positions settle lazily
/// (`F_i`) into the funding pool; the rank keys do not move (`K = P_b − F`).
pub fn handle_update_funding(ctx: Context<UpdateFunding>) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::UpdateFunding)?;
    let mut m = a.market.load_mut()?;
    let price = checked_oracle_price(&m, &a.exchange.key(), &a.oracle)?;
    let now = Clock::get()?.slot;
    require!(now > m.last_funding_slot, AdlError::FundingTooSoon);
    let elapsed = now - m.last_funding_slot;
    let delta = math::funding_delta(
        m.mark_price,
        price,
        elapsed,
        m.params.funding_period_slots,
        m.params.max_funding_rate_bps,
    )?;
    m.cumulative_funding = math::to_i64(math::add(m.cumulative_funding as i128, delta as i128)?)?;
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
