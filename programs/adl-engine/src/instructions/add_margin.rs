use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::MarginChanged;
use crate::instructions::trade::check_user;
use crate::instructions::with_market_state;
use crate::state::*;

/// Accounts of `add_margin` and `remove_margin`.
#[derive(Accounts)]
pub struct ChangeMargin<'info> {
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: the market's oracle of its kind (pushed `Oracle` or Pyth `PriceUpdateV2`),
    /// checked by `state::oracle::checked_oracle_price` (key, owner, data, age, confidence).
    pub oracle: UncheckedAccount<'info>,
    #[account(mut)]
    pub book: AccountLoader<'info, PositionBook>,
    #[account(mut)]
    pub long_queue: AccountLoader<'info, AdlQueue>,
    #[account(mut)]
    pub short_queue: AccountLoader<'info, AdlQueue>,
    #[account(mut)]
    pub user: AccountLoader<'info, UserAccount>,
    pub owner: Signer<'info>,
}

/// Moves `delta` (positive: add, negative: remove) between free collateral and the user's
/// position in this market, settling funding first and re-indexing the position. Removal
/// must leave the position at or above initial margin at the oracle price.
pub fn change_margin(ctx: Context<ChangeMargin>, delta: i64, bit: PauseBit) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(bit)?;
    let exchange_key = a.exchange.key();
    let market_key = a.market.key();
    let mut market = a.market.load_mut()?;
    let oracle_price = checked_oracle_price(&market, &exchange_key, &a.oracle)?;
    let mut user = a.user.load_mut()?;
    check_user(&user, a.owner.key, &exchange_key)?;
    let book = a.book.to_account_info();
    let long_queue = a.long_queue.to_account_info();
    let short_queue = a.short_queue.to_account_info();
    let (slot, margin) = with_market_state(
        market_key,
        &mut market,
        &book,
        &long_queue,
        &short_queue,
        |st| {
            st.price = Some(oracle_price);
            st.payouts_paused = a.exchange.is_paused(PauseBit::ClaimPayout);
            st.change_margin(&mut user, delta, oracle_price)
        },
    )?;
    emit!(MarginChanged {
        market: market_key,
        owner: user.owner,
        slot,
        delta,
        margin,
    });
    Ok(())
}

pub fn handle_add_margin(ctx: Context<ChangeMargin>, amount: u64) -> Result<()> {
    let delta = i64::try_from(amount).map_err(|_| AdlError::MathOverflow)?;
    change_margin(ctx, delta, PauseBit::AddMargin)
}
