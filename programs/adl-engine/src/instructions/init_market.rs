use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::MarketInitialized;
use crate::math::MAX_SLOTS;
use crate::state::*;

/// Creates a market. The book and both queues are created by the client with a system
/// `create_account` (owner: this program) in the same transaction; their capacities come
/// from their sizes, which must be exact (`PositionBook::space`, `AdlQueue::space`) and the
/// queues must hold at least the book's capacity. The three accounts sign this instruction.
#[derive(Accounts)]
pub struct InitMarket<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(mut, has_one = admin @ AdlError::Unauthorized)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(has_one = exchange @ AdlError::ExchangeMismatch)]
    pub oracle: Box<Account<'info, Oracle>>,
    #[account(
        init,
        payer = admin,
        space = 8 + core::mem::size_of::<Market>(),
        seeds = [Market::SEED, exchange.key().as_ref(), &exchange.market_count.to_le_bytes()],
        bump
    )]
    pub market: AccountLoader<'info, Market>,
    /// Must sign: a zeroed program-owned account can only be bound to a market by whoever
    /// holds its key (no third party can claim accounts the operator pre-created).
    #[account(zero, signer @ AdlError::NewAccountMustSign)]
    pub book: AccountLoader<'info, PositionBook>,
    #[account(zero, signer @ AdlError::NewAccountMustSign)]
    pub long_queue: AccountLoader<'info, AdlQueue>,
    #[account(zero, signer @ AdlError::NewAccountMustSign)]
    pub short_queue: AccountLoader<'info, AdlQueue>,
    pub system_program: Program<'info, System>,
}

impl InitMarket<'_> {
    /// Returns the book capacity after checking all three sizes.
    pub fn validate(&self) -> Result<u32> {
        let book_len = self.book.as_ref().data_len();
        let cap = PositionBook::capacity_for_len(book_len);
        require!(
            cap > 0 && cap <= MAX_SLOTS as usize && book_len == PositionBook::space(cap),
            AdlError::AccountSizeMismatch
        );
        for q in [&self.long_queue, &self.short_queue] {
            let len = q.as_ref().data_len();
            let qcap = AdlQueue::capacity_for_len(len);
            require!(
                qcap >= cap && qcap <= MAX_SLOTS as usize && len == AdlQueue::space(qcap),
                AdlError::AccountSizeMismatch
            );
        }
        Ok(cap as u32)
    }
}

pub fn handle_init_market(ctx: Context<InitMarket>, params: MarketParamsArgs) -> Result<()> {
    let capacity = ctx.accounts.validate()?;
    let params = params.validated()?;
    let market_key = ctx.accounts.market.key();
    let exchange = &mut ctx.accounts.exchange;
    let index = exchange.market_count;
    require!(index < MAX_MARKETS, AdlError::MarketLimitReached);
    exchange.market_count = index + 1;
    {
        let mut m = ctx.accounts.market.load_init()?;
        m.exchange = exchange.key();
        m.oracle = ctx.accounts.oracle.key();
        m.book = ctx.accounts.book.key();
        m.long_queue = ctx.accounts.long_queue.key();
        m.short_queue = ctx.accounts.short_queue.key();
        m.params = params;
        m.market_index = index;
        m.bump = ctx.bumps.market;
        m.adl_mode = ADL_MODE_RANKED_QUEUE;
        m.oracle_kind = ORACLE_KIND_PUSHED;
        let now = Clock::get()?.slot;
        m.last_funding_slot = now;
        m.premium_since_slot = now;
        m.funding_window = now / m.params.funding_period_slots;
        m.worst_long_key = i64::MIN;
        m.worst_short_key = i64::MAX;
    }
    {
        let mut b = ctx.accounts.book.load_init()?;
        b.market = market_key;
        b.capacity = capacity;
        b.free_head = NIL;
    }
    for (q, side) in [
        (&ctx.accounts.long_queue, SIDE_LONG),
        (&ctx.accounts.short_queue, SIDE_SHORT),
    ] {
        let qcap = AdlQueue::capacity_for_len(q.as_ref().data_len()) as u32;
        let mut h = q.load_init()?;
        h.market = market_key;
        h.capacity = qcap;
        h.side = side;
    }
    emit!(MarketInitialized {
        market: market_key,
        market_index: index,
        oracle: ctx.accounts.oracle.key(),
        book: ctx.accounts.book.key(),
        long_queue: ctx.accounts.long_queue.key(),
        short_queue: ctx.accounts.short_queue.key(),
        capacity,
    });
    Ok(())
}
