use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::Liquidated;
use crate::instructions::trade::check_user;
use crate::instructions::with_market_state;
use crate::state::*;

/// Permissionless liquidation: the liquidator takes over `base` of a position below
/// maintenance (all of it when bankrupt) at the oracle price, posting `margin` from its free
/// collateral; the insurance fund covers a bankrupt position's deficit.
#[derive(Accounts)]
pub struct Liquidate<'info> {
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
    pub fund: AccountLoader<'info, InsuranceFund>,
    /// The liquidated position's owner's account (receives what the position frees).
    #[account(mut)]
    pub liquidatee_user: AccountLoader<'info, UserAccount>,
    #[account(mut)]
    pub liquidator_user: AccountLoader<'info, UserAccount>,
    pub liquidator: Signer<'info>,
}

pub fn handle_liquidate(ctx: Context<Liquidate>, slot: u32, base: u64, margin: u64) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Liquidate)?;
    require_keys_neq!(
        a.liquidatee_user.key(),
        a.liquidator_user.key(),
        AdlError::CannotLiquidateSelf
    );
    let exchange_key = a.exchange.key();
    let market_key = a.market.key();
    let mut market = a.market.load_mut()?;
    let price = checked_oracle_price(&market, &exchange_key, &a.oracle)?;
    let mut fund = a.fund.load_mut()?;
    require_keys_eq!(fund.exchange, exchange_key, AdlError::ExchangeMismatch);
    let mut liquidatee = a.liquidatee_user.load_mut()?;
    let mut liquidator = a.liquidator_user.load_mut()?;
    require_keys_eq!(
        liquidatee.exchange,
        exchange_key,
        AdlError::ExchangeMismatch
    );
    check_user(&liquidator, a.liquidator.key, &exchange_key)?;
    let book = a.book.to_account_info();
    let lq = a.long_queue.to_account_info();
    let sq = a.short_queue.to_account_info();
    let owner = liquidatee.owner;
    let payouts_paused = a.exchange.is_paused(PauseBit::ClaimPayout);
    let out = with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        st.price = Some(price);
        st.payouts_paused = payouts_paused;
        st.liquidate(
            slot,
            &mut liquidatee,
            &mut liquidator,
            &mut fund,
            base,
            margin,
            price,
        )
    })?;
    emit!(Liquidated {
        market: market_key,
        slot,
        owner,
        liquidator: liquidator.owner,
        base: out.base,
        price,
        fee: out.fee,
        fee_to_fund: out.fee_to_fund,
        fund_paid: out.fund_paid,
        bankrupt: out.bankrupt,
    });
    Ok(())
}
