//! ADL policies other than the ranked queue: choosing a market's mode, cranking pro-rata
//! obligations, and the liveness fallback from a ranked event to pro-rata.

use anchor_lang::prelude::*;

use crate::engine::obligation_pending;
use crate::error::AdlError;
use crate::events::*;
use crate::instructions::with_market_state;
use crate::state::*;

#[derive(Accounts)]
pub struct SetAdlMode<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ AdlError::Unauthorized)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
}

/// Chooses the policy of the market's future ADL events (`ADL_MODE_*`).
pub fn handle_set_adl_mode(ctx: Context<SetAdlMode>, mode: u8) -> Result<()> {
    require!(
        mode <= ADL_MODE_LEVERAGE_DRAIN,
        AdlError::InvalidMarketParams
    );
    let mut m = ctx.accounts.market.load_mut()?;
    require_keys_eq!(
        m.exchange,
        ctx.accounts.exchange.key(),
        AdlError::ExchangeMismatch
    );
    m.adl_mode = mode;
    emit!(AdlModeSet {
        market: ctx.accounts.market.key(),
        mode,
    });
    Ok(())
}

/// Accounts of the permissionless event cranks: no per-user accounts.
#[derive(Accounts)]
pub struct AdlEventCrank<'info> {
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub book: AccountLoader<'info, PositionBook>,
    #[account(mut)]
    pub long_queue: AccountLoader<'info, AdlQueue>,
    #[account(mut)]
    pub short_queue: AccountLoader<'info, AdlQueue>,
}

fn active_event(market: &Market, index: u8, id: u64) -> Result<(usize, AdlEvent)> {
    let i = index as usize;
    let ev = *market
        .adl_events
        .get(i)
        .ok_or(AdlError::AdlEventNotActive)?;
    require!(
        ev.status == EVENT_ACTIVE && ev.id == id,
        AdlError::AdlEventNotActive
    );
    Ok((i, ev))
}

/// Applies the pro-rata obligations of the listed slots (any order, each at most once).
pub fn handle_apply_pro_rata(
    ctx: Context<AdlEventCrank>,
    event_index: u8,
    event_id: u64,
    slots: Vec<u32>,
) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::AutoDeleverage)?;
    let market_key = a.market.key();
    let mut market = a.market.load_mut()?;
    require_keys_eq!(
        market.exchange,
        a.exchange.key(),
        AdlError::ExchangeMismatch
    );
    let (index, ev) = active_event(&market, event_index, event_id)?;
    require!(ev.mode == ADL_MODE_PRO_RATA, AdlError::AdlWrongMode);
    require!(!slots.is_empty(), AdlError::AdlProofEmpty);
    let book = a.book.to_account_info();
    let lq = a.long_queue.to_account_info();
    let sq = a.short_queue.to_account_info();
    with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        for &slot in &slots {
            let e = st.market.adl_events[index];
            require!(
                obligation_pending(&e, st.book.slot(slot)?),
                AdlError::ObligationNotPending
            );
            st.apply_obligations(slot)?;
        }
        Ok(())
    })?;
    let ev = market.adl_events[index];
    emit!(ProRataApplied {
        market: market_key,
        event_id,
        slots: slots.len() as u32,
        base_remaining: ev.base_remaining,
        pending: ev.pending,
    });
    Ok(())
}

/// Liveness fallback: after its deadline, anyone may turn the remainder of a ranked (or
/// leverage-drain) event into pro-rata obligations over the counterparty side.
pub fn handle_adl_switch_to_pro_rata(
    ctx: Context<AdlEventCrank>,
    event_index: u8,
    event_id: u64,
) -> Result<()> {
    let a = &ctx.accounts;
    let market_key = a.market.key();
    let mut market = a.market.load_mut()?;
    require_keys_eq!(
        market.exchange,
        a.exchange.key(),
        AdlError::ExchangeMismatch
    );
    let (index, ev) = active_event(&market, event_index, event_id)?;
    require!(ev.mode != ADL_MODE_PRO_RATA, AdlError::AdlWrongMode);
    require!(
        Clock::get()?.slot > ev.deadline_slot,
        AdlError::AdlDeadlineNotReached
    );
    let book = a.book.to_account_info();
    let lq = a.long_queue.to_account_info();
    let sq = a.short_queue.to_account_info();
    with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        st.begin_pro_rata(index)
    })?;
    emit!(AdlSwitchedToProRata {
        market: market_key,
        event_id,
        base_remaining: market.adl_events[index].base_remaining,
    });
    Ok(())
}

/// Leverage drain: the keeper supplies the level `ℓ*` (bps at `P_exec`) and the slots above
/// it; the program checks that they are exactly the eligible positions above `ℓ*` and that
/// reducing each to `ℓ*` gives the event's size, then reduces them (equity kept).
pub fn handle_adl_drain(
    ctx: Context<AdlEventCrank>,
    event_index: u8,
    event_id: u64,
    level_bps: u64,
    slots: Vec<u32>,
) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::AutoDeleverage)?;
    let market_key = a.market.key();
    let mut market = a.market.load_mut()?;
    require_keys_eq!(
        market.exchange,
        a.exchange.key(),
        AdlError::ExchangeMismatch
    );
    let (index, ev) = active_event(&market, event_index, event_id)?;
    require!(ev.mode == ADL_MODE_LEVERAGE_DRAIN, AdlError::AdlWrongMode);
    require!(!market.pro_rata_pending(ev.side), AdlError::ProRataPending);
    let book = a.book.to_account_info();
    let lq = a.long_queue.to_account_info();
    let sq = a.short_queue.to_account_info();
    let n = with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        let fills = {
            let q = if ev.side == SIDE_LONG {
                &st.short_queue
            } else {
                &st.long_queue
            };
            let slots_ref = &*st.book.slots;
            crate::adl::verify_drain(
                &q.by_leverage[..q.len()],
                |s| slots_ref.get(s as usize),
                st.market.cumulative_funding,
                ev.exec_price,
                ev.base_remaining,
                level_bps,
                &slots,
            )
            .map_err(AdlError::from)?
        };
        st.apply_drain(index, &fills)?;
        Ok(fills.len())
    })?;
    emit!(AdlDrained {
        market: market_key,
        event_id,
        level_bps,
        positions: n as u32,
    });
    Ok(())
}
