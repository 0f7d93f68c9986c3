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

/// Applies the pro-rata obligations of the listed slots (any order, each at most once). A
/// listed slot that no longer owes (someone applied it first, or its owner acted) is passed
/// over, so a front-runner cannot void a keeper's batch by applying one of its slots; a
/// transaction that applies none fails (`ObligationNotPending`) and changes nothing.
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
    let applied = with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        let mut applied = 0u32;
        for &slot in &slots {
            let e = st.market.adl_events[index];
            if !obligation_pending(&e, st.book.slot(slot)?) {
                continue;
            }
            st.apply_obligations(slot)?;
            applied += 1;
        }
        require!(applied > 0, AdlError::ObligationNotPending);
        Ok(applied)
    })?;
    let ev = market.adl_events[index];
    emit!(ProRataApplied {
        market: market_key,
        event_id,
        slots: applied,
        base_remaining: ev.base_remaining,
        pending: ev.pending,
    });
    Ok(())
}

/// Liveness fallback: after its deadline, anyone may turn the remainder of a ranked (or
/// leverage-drain) event into pro-rata obligations over the counterparty side — once per
/// event (`AdlFallbackUsed` after that).
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
    // Once per event: what pro-rata leaves (shares of ineligible positions) is finished by a
    // ranked walk, never bounced back into pro-rata.
    require!(
        ev.walk_flags & WALK_FALLBACK_USED == 0,
        AdlError::AdlFallbackUsed
    );
    market.adl_events[index].walk_flags |= WALK_FALLBACK_USED;
    let book = a.book.to_account_info();
    let lq = a.long_queue.to_account_info();
    let sq = a.short_queue.to_account_info();
    with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        // A drain in progress is abandoned: its remainder becomes the obligations.
        st.market.adl_drains[index] = AdlDrain::default();
        st.begin_pro_rata(index)
    })?;
    emit!(AdlSwitchedToProRata {
        market: market_key,
        event_id,
        base_remaining: market.adl_events[index].base_remaining,
    });
    Ok(())
}

/// Leverage drain, first transaction: starts measuring the event's drain at its current
/// `P_exec`; the program finds the region and the level itself (water-filling from the most
/// leveraged counterparty) and then reduces the region over `adl_drain_step` transactions,
/// each bounded (`state::AdlDrain`, docs/adl.md "Leverage drain"). Permissionless; one drain
/// of an event at a time.
pub fn handle_adl_drain_begin(
    ctx: Context<AdlEventCrank>,
    event_index: u8,
    event_id: u64,
) -> Result<()> {
    drain_tx(ctx, event_index, event_id, true)
}

/// Leverage drain, next transaction: measures up to `ADL_DRAIN_READ_CAP` entries (fixing the
/// level where the region ends) or reduces up to `ADL_DRAIN_BATCH` positions.
pub fn handle_adl_drain_step(
    ctx: Context<AdlEventCrank>,
    event_index: u8,
    event_id: u64,
) -> Result<()> {
    drain_tx(ctx, event_index, event_id, false)
}

fn drain_tx(
    ctx: Context<AdlEventCrank>,
    event_index: u8,
    event_id: u64,
    begin: bool,
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
    let step = with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        Ok(if begin {
            st.drain_begin(index)?;
            crate::engine::DrainStep::default()
        } else {
            st.drain_step(index)?
        })
    })?;
    for f in &step.fills {
        emit!(AdlDrainFilled {
            market: market_key,
            event_id,
            slot: f.slot,
            base: f.base,
            notional: f.notional,
        });
    }
    let ev = market.adl_events[index];
    let d = market.adl_drains[index];
    emit!(AdlDrained {
        market: market_key,
        event_id,
        level_bps: d.level_bps,
        phase: d.phase,
        measured: step.measured,
        positions: step.fills.len() as u32,
        abandoned: step.abandoned,
        base_remaining: ev.base_remaining,
    });
    Ok(())
}
