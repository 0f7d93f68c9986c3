use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::TradeFilled;
use crate::instructions::with_market_state;
use crate::math;
use crate::state::*;

/// A matched fill between two users, both signing. The taker's size is signed (positive:
/// the taker buys); the maker takes the opposite. Each side may move margin from its free
/// collateral into its position in the same instruction.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TradeArgs {
    /// Signed size for the taker, base atoms.
    pub taker_base: i64,
    /// Fill price, price atoms; must lie in the oracle band.
    pub price: u64,
    /// Margin the taker moves from free collateral into its position.
    pub taker_margin: u64,
    /// Margin the maker moves from free collateral into its position.
    pub maker_margin: u64,
}

#[derive(Accounts)]
pub struct Trade<'info> {
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
    pub taker_user: AccountLoader<'info, UserAccount>,
    pub taker: Signer<'info>,
    #[account(mut)]
    pub maker_user: AccountLoader<'info, UserAccount>,
    pub maker: Signer<'info>,
}

/// Checks a user account against its signer and the exchange.
pub fn check_user(user: &UserAccount, owner: &Pubkey, exchange: &Pubkey) -> Result<()> {
    require_keys_eq!(user.exchange, *exchange, AdlError::ExchangeMismatch);
    require_keys_eq!(user.owner, *owner, AdlError::UserOwnerMismatch);
    Ok(())
}

pub fn handle_trade(ctx: Context<Trade>, args: TradeArgs) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::Trade)?;
    require!(args.taker_base != 0 && args.price > 0, AdlError::ZeroAmount);
    require!(args.taker_base != i64::MIN, AdlError::MathOverflow);
    require_keys_neq!(a.taker_user.key(), a.maker_user.key(), AdlError::SelfTrade);
    let exchange_key = a.exchange.key();
    let market_key = a.market.key();
    let mut market = a.market.load_mut()?;
    let oracle_price = checked_oracle_price(&market, &exchange_key, &a.oracle)?;
    let now = Clock::get()?.slot;
    let payouts_paused = a.exchange.is_paused(PauseBit::ClaimPayout);
    let mut taker = a.taker_user.load_mut()?;
    let mut maker = a.maker_user.load_mut()?;
    check_user(&taker, a.taker.key, &exchange_key)?;
    check_user(&maker, a.maker.key, &exchange_key)?;
    let notional = math::fill_notional(args.taker_base.unsigned_abs(), args.price)?;
    let book = a.book.to_account_info();
    let long_queue = a.long_queue.to_account_info();
    let short_queue = a.short_queue.to_account_info();
    let (t, m) = with_market_state(
        market_key,
        &mut market,
        &book,
        &long_queue,
        &short_queue,
        |st| {
            st.price = Some(oracle_price);
            st.payouts_paused = payouts_paused;
            st.trade(&mut taker, &mut maker, &args, oracle_price, now)
        },
    )?;
    emit!(TradeFilled {
        market: market_key,
        taker: taker.owner,
        maker: maker.owner,
        taker_base: args.taker_base,
        price: args.price,
        notional,
        taker_fee: t.2,
        maker_fee: m.2,
        taker_slot: t.0,
        maker_slot: m.0,
        taker_realized_pnl: math::saturate_i64(t.1.realized_pnl),
        maker_realized_pnl: math::saturate_i64(m.1.realized_pnl),
    });
    Ok(())
}
