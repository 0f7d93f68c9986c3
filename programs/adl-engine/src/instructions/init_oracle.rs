use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::OracleInitialized;
use crate::state::{Exchange, Oracle};

#[derive(Accounts)]
pub struct InitOracle<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ AdlError::Unauthorized)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        init,
        payer = admin,
        space = 8 + Oracle::INIT_SPACE,
        seeds = [Oracle::SEED, exchange.key().as_ref(), &exchange.oracle_count.to_le_bytes()],
        bump
    )]
    pub oracle: Box<Account<'info, Oracle>>,
    pub system_program: Program<'info, System>,
}

/// Creates a pushed price oracle; `authority` may then publish prices.
pub fn handle_init_oracle(
    ctx: Context<InitOracle>,
    authority: Pubkey,
    price: u64,
    confidence: u64,
) -> Result<()> {
    require!(price > 0, AdlError::InvalidOraclePrice);
    let slot = Clock::get()?.slot;
    let exchange = &mut ctx.accounts.exchange;
    let index = exchange.oracle_count;
    exchange.oracle_count = index.checked_add(1).ok_or(AdlError::MathOverflow)?;
    let oracle = &mut ctx.accounts.oracle;
    oracle.exchange = exchange.key();
    oracle.authority = authority;
    oracle.price = price;
    oracle.confidence = confidence;
    oracle.publish_slot = slot;
    oracle.index = index;
    oracle.bump = ctx.bumps.oracle;
    emit!(OracleInitialized {
        oracle: oracle.key(),
        authority,
        index,
    });
    Ok(())
}
