//! Insurance fund: creation, staking, cooldown-delayed unstaking, fee sweeping.

use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::error::AdlError;
use crate::events::*;
use crate::state::*;

#[derive(Accounts)]
pub struct InitInsuranceFund<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(has_one = admin @ AdlError::Unauthorized)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(
        init,
        payer = admin,
        space = 8 + core::mem::size_of::<InsuranceFund>(),
        seeds = [InsuranceFund::SEED, exchange.key().as_ref()],
        bump
    )]
    pub fund: AccountLoader<'info, InsuranceFund>,
    pub system_program: Program<'info, System>,
}

pub fn handle_init_insurance_fund(
    ctx: Context<InitInsuranceFund>,
    unstake_cooldown_slots: u64,
    unstake_window_slots: u64,
    fee_vest_slots: u64,
) -> Result<()> {
    require!(
        unstake_window_slots > 0 && fee_vest_slots > 0,
        AdlError::ZeroAmount
    );
    let mut f = ctx.accounts.fund.load_init()?;
    f.exchange = ctx.accounts.exchange.key();
    f.unstake_cooldown_slots = unstake_cooldown_slots;
    f.unstake_window_slots = unstake_window_slots;
    f.fee_vest_slots = fee_vest_slots;
    f.vest_slot = Clock::get()?.slot;
    f.bump = ctx.bumps.fund;
    emit!(InsuranceFundInitialized {
        fund: ctx.accounts.fund.key(),
        unstake_cooldown_slots,
        unstake_window_slots,
        fee_vest_slots,
    });
    Ok(())
}

#[derive(Accounts)]
pub struct CreateStake<'info> {
    #[account(mut)]
    pub staker: Signer<'info>,
    pub fund: AccountLoader<'info, InsuranceFund>,
    #[account(
        init,
        payer = staker,
        space = 8 + InsuranceStake::INIT_SPACE,
        seeds = [InsuranceStake::SEED, fund.key().as_ref(), staker.key().as_ref()],
        bump
    )]
    pub stake: Box<Account<'info, InsuranceStake>>,
    pub system_program: Program<'info, System>,
}

pub fn handle_create_stake(ctx: Context<CreateStake>) -> Result<()> {
    let epoch = ctx.accounts.fund.load()?.share_epoch;
    let s = &mut ctx.accounts.stake;
    s.fund = ctx.accounts.fund.key();
    s.staker = ctx.accounts.staker.key();
    s.epoch = epoch;
    s.bump = ctx.bumps.stake;
    Ok(())
}

/// Accounts of every staker instruction.
#[derive(Accounts)]
pub struct StakeOp<'info> {
    pub staker: Signer<'info>,
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub fund: AccountLoader<'info, InsuranceFund>,
    #[account(mut)]
    pub stake: Box<Account<'info, InsuranceStake>>,
    #[account(mut)]
    pub vault: Box<Account<'info, TokenAccount>>,
    /// The staker's collateral token account (source of stakes, destination of unstakes).
    #[account(mut)]
    pub staker_token: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

impl StakeOp<'_> {
    pub fn validate(&self, fund: &InsuranceFund) -> Result<()> {
        require_keys_eq!(
            fund.exchange,
            self.exchange.key(),
            AdlError::ExchangeMismatch
        );
        require_keys_eq!(self.stake.fund, self.fund.key(), AdlError::ExchangeMismatch);
        require_keys_eq!(
            self.stake.staker,
            self.staker.key(),
            AdlError::UserOwnerMismatch
        );
        require_keys_eq!(
            self.vault.key(),
            self.exchange.vault,
            AdlError::VaultMismatch
        );
        require_keys_eq!(
            self.staker_token.mint,
            self.exchange.collateral_mint,
            AdlError::VaultMismatch
        );
        Ok(())
    }
}

pub fn handle_if_stake(ctx: Context<StakeOp>, amount: u64) -> Result<()> {
    let a = ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Stake)?;
    require!(amount > 0, AdlError::ZeroAmount);
    let now = Clock::get()?.slot;
    let (shares, fund_key) = {
        let mut f = a.fund.load_mut()?;
        a.validate(&f)?;
        (f.stake(&mut a.stake, amount, now)?, a.fund.key())
    };
    token::transfer(
        CpiContext::new(
            a.token_program.key(),
            Transfer {
                from: a.staker_token.to_account_info(),
                to: a.vault.to_account_info(),
                authority: a.staker.to_account_info(),
            },
        ),
        amount,
    )?;
    emit!(Staked {
        fund: fund_key,
        staker: a.staker.key(),
        amount,
        shares,
    });
    Ok(())
}

pub fn handle_if_request_unstake(ctx: Context<StakeOp>, shares: u64) -> Result<()> {
    let a = ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Unstake)?;
    require!(shares > 0, AdlError::ZeroAmount);
    let f = a.fund.load()?;
    a.validate(&f)?;
    let now = Clock::get()?.slot;
    let value = f.request_unstake(&mut a.stake, shares, now)?;
    emit!(UnstakeRequested {
        staker: a.staker.key(),
        shares,
        value,
        slot: a.stake.request_slot,
    });
    Ok(())
}

pub fn handle_if_cancel_unstake(ctx: Context<StakeOp>) -> Result<()> {
    let a = ctx.accounts;
    let f = a.fund.load()?;
    a.validate(&f)?;
    a.stake.sync_epoch(&f);
    require!(a.stake.pending_shares > 0, AdlError::NoUnstakePending);
    a.stake.pending_shares = 0;
    a.stake.pending_value = 0;
    a.stake.request_slot = 0;
    emit!(UnstakeCancelled {
        staker: a.staker.key(),
    });
    Ok(())
}

/// Pays `min(value at request, value now)` (values on the vested balance,
/// `InsuranceFund::exit_balance`) of the requested shares after the cooldown and
/// within the window that follows it (a request is not a standing option on future losses);
/// the difference stays with the remaining stakers. Waits while a loss is visible: every
/// market of the exchange is passed as a remaining account, and none may hold a position
/// flagged bankrupt (`flag_bankrupt`, permissionless) — a staker cannot exit at full value
/// ahead of a bankruptcy the fund must pay.
pub fn handle_if_unstake(ctx: Context<StakeOp>) -> Result<()> {
    let a = ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Unstake)?;
    require!(
        flagged_positions(&a.exchange, ctx.remaining_accounts)? == 0,
        AdlError::InsuranceLossPending
    );
    let now = Clock::get()?.slot;
    let (shares, pay) = {
        let mut f = a.fund.load_mut()?;
        a.validate(&f)?;
        f.unstake(&mut a.stake, now)?
    };
    let admin = a.exchange.admin;
    let seeds: &[&[u8]] = &[Exchange::SEED, admin.as_ref(), &[a.exchange.bump]];
    if pay > 0 {
        token::transfer(
            CpiContext::new_with_signer(
                a.token_program.key(),
                Transfer {
                    from: a.vault.to_account_info(),
                    to: a.staker_token.to_account_info(),
                    authority: a.exchange.to_account_info(),
                },
                &[seeds],
            ),
            pay,
        )?;
    }
    emit!(Unstaked {
        staker: a.staker.key(),
        shares,
        paid: pay,
    });
    Ok(())
}

/// Positions flagged bankrupt across every market of the exchange: `markets` must be all of
/// them (`Exchange::market_count`), in index order, each checked as the market PDA of its
/// index. Bounded by the number of markets.
pub fn flagged_positions(exchange: &Account<Exchange>, markets: &[AccountInfo]) -> Result<u64> {
    require!(
        markets.len() == exchange.market_count as usize,
        AdlError::MarketListMismatch
    );
    let ex = exchange.key();
    let mut total = 0u64;
    for (i, info) in markets.iter().enumerate() {
        require_keys_eq!(*info.owner, crate::ID, AdlError::MarketListMismatch);
        let data = info.try_borrow_data()?;
        let end = 8 + core::mem::size_of::<Market>();
        require!(
            data.len() >= end && data[..8] == *Market::DISCRIMINATOR,
            AdlError::MarketListMismatch
        );
        let m: Market = bytemuck::pod_read_unaligned(&data[8..end]);
        let index = i as u16;
        require!(
            m.exchange == ex && m.market_index == index,
            AdlError::MarketListMismatch
        );
        let pda = Pubkey::create_program_address(
            &[Market::SEED, ex.as_ref(), &index.to_le_bytes(), &[m.bump]],
            &crate::ID,
        )
        .map_err(|_| AdlError::MarketListMismatch)?;
        require_keys_eq!(pda, info.key(), AdlError::MarketListMismatch);
        total += m.flagged_positions as u64;
    }
    Ok(total)
}

#[derive(Accounts)]
pub struct SweepFees<'info> {
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub fund: AccountLoader<'info, InsuranceFund>,
}

/// Moves a market's collected trading fees into the insurance fund (permissionless); they
/// vest into the value of shares over `fee_vest_slots` from this slot.
pub fn handle_sweep_fees(ctx: Context<SweepFees>) -> Result<()> {
    let now = Clock::get()?.slot;
    let mut m = ctx.accounts.market.load_mut()?;
    let mut f = ctx.accounts.fund.load_mut()?;
    let ex = ctx.accounts.exchange.key();
    require_keys_eq!(m.exchange, ex, AdlError::ExchangeMismatch);
    require_keys_eq!(f.exchange, ex, AdlError::ExchangeMismatch);
    // Fees swept while the fund has no shares become fund capital owned by no staker: the
    // virtual shares (`math::VIRTUAL_SHARES`) hold them, so a first staker's shares are worth
    // exactly its stake and cannot collect them.
    let amount = m.fee_pool;
    m.fee_pool = 0;
    f.earn(amount)?;
    f.settle_vesting(now)?;
    emit!(FeesSwept {
        market: ctx.accounts.market.key(),
        amount,
    });
    Ok(())
}
