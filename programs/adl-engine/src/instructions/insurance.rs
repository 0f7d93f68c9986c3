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
    f.vest_end = f.vest_slot;
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

/// Accounts of `if_check_markets`.
#[derive(Accounts)]
pub struct CheckMarkets<'info> {
    pub staker: Signer<'info>,
    pub exchange: Box<Account<'info, Exchange>>,
    pub fund: AccountLoader<'info, InsuranceFund>,
    #[account(mut)]
    pub stake: Box<Account<'info, InsuranceStake>>,
}

/// Checks the next markets of the exchange for losses the fund may take, for the staker's
/// unstake: remaining accounts are `(market, oracle)` pairs continuing from
/// `InsuranceStake::checked_markets` (see `check_markets`). Exchanges with more markets than
/// fit one transaction are checked in pages, then `if_unstake` takes the rest.
pub fn handle_if_check_markets(ctx: Context<CheckMarkets>) -> Result<()> {
    let a = ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Unstake)?;
    {
        let f = a.fund.load()?;
        require_keys_eq!(f.exchange, a.exchange.key(), AdlError::ExchangeMismatch);
    }
    require_keys_eq!(a.stake.fund, a.fund.key(), AdlError::ExchangeMismatch);
    require_keys_eq!(a.stake.staker, a.staker.key(), AdlError::UserOwnerMismatch);
    require!(
        !ctx.remaining_accounts.is_empty(),
        AdlError::MarketListMismatch
    );
    check_markets(
        &a.exchange,
        &mut a.stake,
        ctx.remaining_accounts,
        Clock::get()?.slot,
    )
}

/// Pays `min(value at request, value now)` (values on the vested balance,
/// `InsuranceFund::exit_balance`) of the requested shares after the cooldown and within the
/// window that follows it (a request is not a standing option on future losses); the
/// difference stays with the remaining stakers. Waits while a loss is visible: every market of
/// the exchange must have been checked within `UNSTAKE_CHECK_SLOTS` (remaining accounts:
/// `(market, oracle)` pairs from `checked_markets` on, after any `if_check_markets` pages) —
/// no position flagged bankrupt and none bankrupt at the market's fresh oracle price — so a
/// staker cannot exit at full value ahead of a bankruptcy the fund must pay, flagged or not.
pub fn handle_if_unstake(ctx: Context<StakeOp>) -> Result<()> {
    let a = ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Unstake)?;
    let now = Clock::get()?.slot;
    // The request first (pending, cooldown, window), then the markets: either failing
    // reverts the whole instruction.
    let (shares, pay) = {
        let mut f = a.fund.load_mut()?;
        a.validate(&f)?;
        f.unstake(&mut a.stake, now)?
    };
    check_markets(&a.exchange, &mut a.stake, ctx.remaining_accounts, now)?;
    require!(
        a.stake.checked_markets == a.exchange.market_count
            && now <= a.stake.check_start_slot.saturating_add(UNSTAKE_CHECK_SLOTS),
        AdlError::UnstakeCheckIncomplete
    );
    a.stake.checked_markets = 0;
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

/// Checks `(market, oracle)` pairs for the stake's unstake, continuing its round from
/// `checked_markets` (a round older than `UNSTAKE_CHECK_SLOTS` starts again at market 0):
/// each market must be the exchange's market of the next index (PDA, owner, discriminator),
/// its oracle fresh (`checked_oracle_price`), no position flagged bankrupt, and no position
/// bankrupt at that price — O(1) per market from the heads of its queues
/// (`Market::may_hold_bankrupt`). Bounded by the pairs given (at most `MAX_MARKETS`).
pub fn check_markets(
    exchange: &Account<Exchange>,
    stake: &mut InsuranceStake,
    pairs: &[AccountInfo],
    now: u64,
) -> Result<()> {
    require!(pairs.len().is_multiple_of(2), AdlError::MarketListMismatch);
    if stake.checked_markets == 0
        || now > stake.check_start_slot.saturating_add(UNSTAKE_CHECK_SLOTS)
    {
        stake.checked_markets = 0;
        stake.check_start_slot = now;
    }
    let ex = exchange.key();
    for pair in pairs.chunks(2) {
        let (info, oracle) = (&pair[0], &pair[1]);
        let index = stake.checked_markets;
        require!(index < exchange.market_count, AdlError::MarketListMismatch);
        require_keys_eq!(*info.owner, crate::ID, AdlError::MarketListMismatch);
        let m: Market = {
            let data = info.try_borrow_data()?;
            let end = 8 + core::mem::size_of::<Market>();
            require!(
                data.len() >= end && data[..8] == *Market::DISCRIMINATOR,
                AdlError::MarketListMismatch
            );
            bytemuck::pod_read_unaligned(&data[8..end])
        };
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
        let price = checked_oracle_price(&m, &ex, oracle)?;
        require!(
            m.flagged_positions == 0 && !m.may_hold_bankrupt(price),
            AdlError::InsuranceLossPending
        );
        stake.checked_markets = index + 1;
    }
    Ok(())
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
