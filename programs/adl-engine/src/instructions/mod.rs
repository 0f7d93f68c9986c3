//! One file per instruction: the `Accounts` struct, its `validate()`, then the handler.

pub mod add_margin;
pub mod adl;
pub mod adl_modes;
pub mod create_user;
pub mod deposit;
pub mod init_exchange;
pub mod init_market;
pub mod init_oracle;
pub mod insurance;
pub mod liquidate;
pub mod remove_margin;
pub mod set_market_oracle;
pub mod set_oracle_price;
pub mod set_paused;
pub mod trade;
pub mod update_funding;
pub mod update_market_params;
pub mod withdraw;

pub use add_margin::*;
pub use adl::*;
pub use adl_modes::*;
pub use create_user::*;
pub use deposit::*;
pub use init_exchange::*;
pub use init_market::*;
pub use init_oracle::*;
pub use insurance::*;
pub use liquidate::*;
pub use remove_margin::*;
pub use set_market_oracle::*;
pub use set_oracle_price::*;
pub use set_paused::*;
pub use trade::*;
pub use update_funding::*;
pub use update_market_params::*;
pub use withdraw::*;

use anchor_lang::prelude::*;

use crate::engine::MarketState;
use crate::error::AdlError;
use crate::state::*;

/// Borrows a market's book and queues and runs `f` on the combined state. Checks that the
/// accounts passed are the market's and that they name the market back.
pub fn with_market_state<'info, R>(
    market_key: Pubkey,
    market: &mut Market,
    book: &AccountInfo<'info>,
    long_queue: &AccountInfo<'info>,
    short_queue: &AccountInfo<'info>,
    f: impl FnOnce(&mut MarketState) -> Result<R>,
) -> Result<R> {
    require_keys_eq!(market.book, *book.key, AdlError::BookMismatch);
    require_keys_eq!(market.long_queue, *long_queue.key, AdlError::QueueMismatch);
    require_keys_eq!(
        market.short_queue,
        *short_queue.key,
        AdlError::QueueMismatch
    );
    let mut book_data = book.try_borrow_mut_data()?;
    let mut long_data = long_queue.try_borrow_mut_data()?;
    let mut short_data = short_queue.try_borrow_mut_data()?;
    let book = book_mut(&mut book_data)?;
    let long_queue = queue_mut(&mut long_data)?;
    let short_queue = queue_mut(&mut short_data)?;
    require_keys_eq!(book.header.market, market_key, AdlError::BookMismatch);
    require_keys_eq!(
        long_queue.header.market,
        market_key,
        AdlError::QueueMismatch
    );
    require_keys_eq!(
        short_queue.header.market,
        market_key,
        AdlError::QueueMismatch
    );
    require!(long_queue.header.side == SIDE_LONG, AdlError::QueueMismatch);
    require!(
        short_queue.header.side == SIDE_SHORT,
        AdlError::QueueMismatch
    );
    let mut st = MarketState {
        key: market_key,
        market,
        book,
        long_queue,
        short_queue,
        price: None,
        payouts_paused: false,
        arrivals: Vec::new(),
        drain_arrivals: Vec::new(),
        drain_dues: Vec::new(),
    };
    let r = f(&mut st)?;
    // Positions that became next in a ranked ADL event's rank during the instruction are
    // filled before it ends (docs/adl.md, "Liveness").
    let done = st.finish()?;
    for (i, f) in done.drains {
        emit!(crate::events::AdlDrainFilled {
            market: market_key,
            event_id: st.market.adl_events[i].id,
            slot: f.slot,
            base: f.base,
            notional: f.notional,
        });
    }
    for (i, fill) in done.fills {
        emit!(crate::events::AdlFilled {
            market: market_key,
            event_id: st.market.adl_events[i].id,
            slot: fill.slot,
            owner: st.book.slot(fill.slot)?.owner,
            base: fill.base,
            notional: fill.notional,
            payout: fill.outcome.to_free,
            tier: fill.tier,
        });
    }
    Ok(r)
}
