use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::error::AdlError;
use crate::events::CollateralWithdrawn;
use crate::instructions::deposit::check_user_and_vault;
use crate::state::*;

#[derive(Accounts)]
pub struct Withdraw<'info> {
    pub owner: Signer<'info>,
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub user: AccountLoader<'info, UserAccount>,
    #[account(mut)]
    pub vault: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub destination: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Withdraws free collateral to any token account of the collateral mint.
pub fn handle_withdraw(ctx: Context<Withdraw>, amount: u64) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Withdraw)?;
    require!(amount > 0, AdlError::ZeroAmount);
    let free = {
        let mut u = a.user.load_mut()?;
        check_user_and_vault(&a.exchange, &u, a.owner.key, &a.vault.key(), &a.destination)?;
        u.debit(amount)?;
        u.free_collateral
    };
    let admin = a.exchange.admin;
    let seeds: &[&[u8]] = &[Exchange::SEED, admin.as_ref(), &[a.exchange.bump]];
    token::transfer(
        CpiContext::new_with_signer(
            a.token_program.key(),
            Transfer {
                from: a.vault.to_account_info(),
                to: a.destination.to_account_info(),
                authority: a.exchange.to_account_info(),
            },
            &[seeds],
        ),
        amount,
    )?;
    emit!(CollateralWithdrawn {
        owner: a.owner.key(),
        amount,
        free_collateral: free,
    });
    Ok(())
}
