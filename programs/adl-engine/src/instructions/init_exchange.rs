use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::error::AdlError;
use crate::events::ExchangeInitialized;
use crate::state::Exchange;

/// Collateral decimals supported in v1.
pub const COLLATERAL_DECIMALS: u8 = 6;

#[derive(Accounts)]
pub struct InitExchange<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(
        init,
        payer = admin,
        space = 8 + Exchange::INIT_SPACE,
        seeds = [Exchange::SEED, admin.key().as_ref()],
        bump
    )]
    pub exchange: Box<Account<'info, Exchange>>,
    pub collateral_mint: Box<Account<'info, Mint>>,
    #[account(
        init,
        payer = admin,
        seeds = [Exchange::VAULT_SEED, exchange.key().as_ref()],
        bump,
        token::mint = collateral_mint,
        token::authority = exchange,
    )]
    pub vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

impl InitExchange<'_> {
    pub fn validate(&self) -> Result<()> {
        require!(
            self.collateral_mint.decimals == COLLATERAL_DECIMALS,
            AdlError::InvalidCollateralMint
        );
        Ok(())
    }
}

pub fn handle_init_exchange(ctx: Context<InitExchange>) -> Result<()> {
    ctx.accounts.validate()?;
    let exchange = &mut ctx.accounts.exchange;
    exchange.admin = ctx.accounts.admin.key();
    exchange.collateral_mint = ctx.accounts.collateral_mint.key();
    exchange.vault = ctx.accounts.vault.key();
    exchange.paused = 0;
    exchange.market_count = 0;
    exchange.oracle_count = 0;
    exchange.bump = ctx.bumps.exchange;
    exchange.vault_bump = ctx.bumps.vault;
    emit!(ExchangeInitialized {
        exchange: exchange.key(),
        admin: exchange.admin,
        collateral_mint: exchange.collateral_mint,
        vault: exchange.vault,
    });
    Ok(())
}
