//! Bankruptcy flagging, starting ADL events, the verified `auto_deleverage`, and payout
//! claims. All permissionless.

use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::*;
use crate::instructions::with_market_state;
use crate::state::*;

/// The keeper's claim: the slots it says are the next counterparties in ADL rank, in order.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct RankProof {
    pub slots: Vec<u32>,
}

#[derive(Accounts)]
pub struct FlagBankrupt<'info> {
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: the market's oracle of its kind (pushed `Oracle` or Pyth `PriceUpdateV2`),
    /// checked by `state::oracle::checked_oracle_price` (key, owner, data, age, confidence).
    pub oracle: UncheckedAccount<'info>,
    #[account(mut)]
    pub book: AccountLoader<'info, PositionBook>,
}

/// Stamps the slot at which a position was first seen bankrupt at the oracle price, or
/// clears the stamp when it has recovered. Starts the bankruptcy grace period, and makes the
/// loss the fund may take visible: unstaking waits while any position is flagged.
pub fn handle_flag_bankrupt(ctx: Context<FlagBankrupt>, slot: u32) -> Result<()> {
    let a = &ctx.accounts;
    let mut market = a.market.load_mut()?;
    let price = checked_oracle_price(&market, &a.exchange.key(), &a.oracle)?;
    require_keys_eq!(market.book, a.book.key(), AdlError::BookMismatch);
    let info = a.book.to_account_info();
    let mut data = info.try_borrow_mut_data()?;
    let mut book = book_mut(&mut data)?;
    let pos = book.slot_mut(slot)?;
    crate::engine::flag_bankrupt(&mut market, pos, price, Clock::get()?.slot)?;
    emit!(BankruptcyFlagged {
        market: a.market.key(),
        slot,
        since_slot: pos.bankrupt_since_slot,
    });
    Ok(())
}

#[derive(Accounts)]
pub struct StartAdl<'info> {
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
    /// The bankrupt position's owner's account (its reference to the slot is removed).
    #[account(mut)]
    pub user: AccountLoader<'info, UserAccount>,
}

pub fn handle_start_adl(ctx: Context<StartAdl>, slot: u32) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::StartAdl)?;
    let exchange_key = a.exchange.key();
    let market_key = a.market.key();
    let mut market = a.market.load_mut()?;
    let price = checked_oracle_price(&market, &exchange_key, &a.oracle)?;
    let mut fund = a.fund.load_mut()?;
    require_keys_eq!(fund.exchange, exchange_key, AdlError::ExchangeMismatch);
    let mut user = a.user.load_mut()?;
    require_keys_eq!(user.exchange, exchange_key, AdlError::ExchangeMismatch);
    let now = Clock::get()?.slot;
    let book = a.book.to_account_info();
    let lq = a.long_queue.to_account_info();
    let sq = a.short_queue.to_account_info();
    let payouts_paused = a.exchange.is_paused(PauseBit::ClaimPayout);
    let ev = with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        st.price = Some(price);
        st.payouts_paused = payouts_paused;
        st.start_adl(slot, &mut user, &mut fund, price, now)
    })?;
    emit!(AdlStarted {
        market: market_key,
        event_id: ev.id,
        owner: ev.owner,
        side: ev.side,
        base: ev.base_total,
        exec_price: ev.exec_price,
        oracle_price: ev.oracle_price,
        fund_paid: ev.fund_paid,
    });
    Ok(())
}

/// No per-user accounts: payouts are recorded on the slots and claimed later.
#[derive(Accounts)]
pub struct AutoDeleverage<'info> {
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

/// Fills the next counterparties of a ranked ADL event. The proof must list exactly the
/// next slots in ADL rank; a wrong one fails with `WrongAdlCounterparty` after logging its
/// rank position and the slot that should have come.
pub fn handle_auto_deleverage(
    ctx: Context<AutoDeleverage>,
    event_index: u8,
    event_id: u64,
    proof: RankProof,
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
    let index = event_index as usize;
    let event = *market
        .adl_events
        .get(index)
        .ok_or(AdlError::AdlEventNotActive)?;
    require!(
        event.status == EVENT_ACTIVE && event.id == event_id,
        AdlError::AdlEventNotActive
    );
    require!(event.mode == ADL_MODE_RANKED_QUEUE, AdlError::AdlWrongMode);
    // Pro-rata obligations on the counterparty side are applied first (they are cranked
    // permissionlessly): a ranked walk over half-applied obligations would rank stale sizes.
    require!(
        !market.pro_rata_pending(event.side),
        AdlError::ProRataPending
    );
    let book = a.book.to_account_info();
    let lq = a.long_queue.to_account_info();
    let sq = a.short_queue.to_account_info();
    let fills = with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        let (fills, _reads) = st.auto_deleverage(index, &proof.slots)?;
        // A filled slot keeps its owner until its payout is claimed.
        let mut owners = Vec::with_capacity(fills.len());
        for f in &fills {
            owners.push(st.book.slot(f.slot)?.owner);
        }
        Ok(fills.into_iter().zip(owners).collect::<Vec<_>>())
    })?;
    for (f, owner) in fills {
        emit!(AdlFilled {
            market: market_key,
            event_id,
            slot: f.slot,
            owner,
            base: f.base,
            notional: f.notional,
            payout: f.outcome.to_free,
            tier: f.tier,
        });
    }
    Ok(())
}

#[derive(Accounts)]
pub struct ClaimAdlPayout<'info> {
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub book: AccountLoader<'info, PositionBook>,
    #[account(mut)]
    pub long_queue: AccountLoader<'info, AdlQueue>,
    #[account(mut)]
    pub short_queue: AccountLoader<'info, AdlQueue>,
    /// The payout's owner's account: the only place a claim can move money to.
    #[account(mut)]
    pub user: AccountLoader<'info, UserAccount>,
}

/// Moves a slot's ADL payout into its owner's free collateral and frees a slot ADL closed.
/// Permissionless, so keepers free closed slots promptly.
pub fn handle_claim_adl_payout(ctx: Context<ClaimAdlPayout>) -> Result<()> {
    let a = &ctx.accounts;
    a.exchange.check_not_paused(PauseBit::ClaimPayout)?;
    let market_key = a.market.key();
    let mut market = a.market.load_mut()?;
    require_keys_eq!(
        market.exchange,
        a.exchange.key(),
        AdlError::ExchangeMismatch
    );
    let mut user = a.user.load_mut()?;
    require_keys_eq!(user.exchange, a.exchange.key(), AdlError::ExchangeMismatch);
    let book = a.book.to_account_info();
    let lq = a.long_queue.to_account_info();
    let sq = a.short_queue.to_account_info();
    let amount = with_market_state(market_key, &mut market, &book, &lq, &sq, |st| {
        let slot = user
            .position_slot(&market_key)
            .ok_or(AdlError::NothingToClaim)?;
        let s = st.book.slot(slot)?;
        require!(
            s.adl_payout > 0 || s.status == SLOT_ADL_CLOSED,
            AdlError::NothingToClaim
        );
        st.settle_payout(&mut user)
    })?;
    emit!(AdlPayoutClaimed {
        market: market_key,
        owner: user.owner,
        amount,
    });
    Ok(())
}
