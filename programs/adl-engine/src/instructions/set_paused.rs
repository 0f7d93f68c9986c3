use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::PauseBitsSet;
use crate::state::Exchange;

#[derive(Accounts)]
pub struct SetPaused<'info> {
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ AdlError::Unauthorized)]
    pub exchange: Box<Account<'info, Exchange>>,
}

/// Sets the exchange's pause bits (one per `PauseBit`).
pub fn handle_set_paused(ctx: Context<SetPaused>, paused: u64) -> Result<()> {
    let exchange = &mut ctx.accounts.exchange;
    exchange.paused = paused;
    emit!(PauseBitsSet {
        exchange: exchange.key(),
        paused,
    });
    Ok(())
}
