use anchor_lang::prelude::*;

use crate::events::UserCreated;
use crate::state::*;

#[derive(Accounts)]
pub struct CreateUser<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        init,
        payer = owner,
        space = 8 + core::mem::size_of::<UserAccount>(),
        seeds = [UserAccount::SEED, exchange.key().as_ref(), owner.key().as_ref()],
        bump
    )]
    pub user: AccountLoader<'info, UserAccount>,
    pub system_program: Program<'info, System>,
}

pub fn handle_create_user(ctx: Context<CreateUser>) -> Result<()> {
    ctx.accounts
        .exchange
        .check_not_paused(PauseBit::CreateUser)?;
    let mut u = ctx.accounts.user.load_init()?;
    u.owner = ctx.accounts.owner.key();
    u.exchange = ctx.accounts.exchange.key();
    u.bump = ctx.bumps.user;
    for r in u.positions.iter_mut() {
        r.slot = NIL;
    }
    emit!(UserCreated {
        user: ctx.accounts.user.key(),
        owner: u.owner,
    });
    Ok(())
}
