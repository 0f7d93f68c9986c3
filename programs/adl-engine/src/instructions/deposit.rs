use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::error::AdlError;
use crate::events::CollateralDeposited;
use crate::state::*;

#[derive(Accounts)]
pub struct Deposit<'info> {
    pub owner: Signer<'info>,
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub user: AccountLoader<'info, UserAccount>,
    #[account(mut)]
    pub vault: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub owner_token: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Checks shared by deposit and withdraw: the user account is the signer's on this
/// exchange, the vault is the exchange's, the other token account holds the collateral mint.
pub fn check_user_and_vault(
    exchange: &Account<Exchange>,
    user: &UserAccount,
    owner: &Pubkey,
    vault: &Pubkey,
    other_token: &TokenAccount,
) -> Result<()> {
    require_keys_eq!(user.exchange, exchange.key(), AdlError::ExchangeMismatch);
    require_keys_eq!(user.owner, *owner, AdlError::UserOwnerMismatch);
    require_keys_eq!(*vault, exchange.vault, AdlError::VaultMismatch);
    require_keys_eq!(
        other_token.mint,
        exchange.collateral_mint,
        AdlError::VaultMismatch
    );
    Ok(())
}

pub fn handle_deposit(ctx: Context<Deposit>, amount: u64) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Deposit)?;
    require!(amount > 0, AdlError::ZeroAmount);
    let free = {
        let mut u = a.user.load_mut()?;
        check_user_and_vault(&a.exchange, &u, a.owner.key, &a.vault.key(), &a.owner_token)?;
        u.credit(amount)?;
        u.free_collateral
    };
    token::transfer(
        CpiContext::new(
            a.token_program.key(),
            Transfer {
                from: a.owner_token.to_account_info(),
                to: a.vault.to_account_info(),
                authority: a.owner.to_account_info(),
            },
        ),
        amount,
    )?;
    emit!(CollateralDeposited {
        owner: a.owner.key(),
        amount,
        free_collateral: free,
    });
    Ok(())
}
