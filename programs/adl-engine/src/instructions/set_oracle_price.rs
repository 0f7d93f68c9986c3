use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::OraclePriceSet;
use crate::state::{Exchange, Oracle, PauseBit};

#[derive(Accounts)]
pub struct SetOraclePrice<'info> {
    pub authority: Signer<'info>,
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        mut,
        has_one = authority @ AdlError::OracleAuthorityMismatch,
        has_one = exchange @ AdlError::ExchangeMismatch
    )]
    pub oracle: Box<Account<'info, Oracle>>,
}

/// Publishes a price at the current slot.
pub fn handle_set_oracle_price(
    ctx: Context<SetOraclePrice>,
    price: u64,
    confidence: u64,
) -> Result<()> {
    ctx.accounts
        .exchange
        .check_not_paused(PauseBit::SetOraclePrice)?;
    require!(price > 0, AdlError::InvalidOraclePrice);
    let oracle = &mut ctx.accounts.oracle;
    oracle.price = price;
    oracle.confidence = confidence;
    oracle.publish_slot = Clock::get()?.slot;
    emit!(OraclePriceSet {
        oracle: oracle.key(),
        price,
        confidence,
        publish_slot: oracle.publish_slot,
    });
    Ok(())
}
