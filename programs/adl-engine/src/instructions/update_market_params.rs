use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::MarketParamsUpdated;
use crate::state::*;

#[derive(Accounts)]
pub struct UpdateMarketParams<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ AdlError::Unauthorized)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
}

/// Replaces a market's risk parameters (validated as at creation).
pub fn handle_update_market_params(
    ctx: Context<UpdateMarketParams>,
    params: MarketParamsArgs,
) -> Result<()> {
    let params = params.validated()?;
    let mut m = ctx.accounts.market.load_mut()?;
    require_keys_eq!(
        m.exchange,
        ctx.accounts.exchange.key(),
        AdlError::ExchangeMismatch
    );
    m.set_params(params, Clock::get()?.slot);
    emit!(MarketParamsUpdated {
        market: ctx.accounts.market.key(),
    });
    Ok(())
}
