//! Operations on a loaded market (market header, book, both queues) shared by the
//! instruction handlers: every change of a position goes through `MarketState::modify`, which
//! re-indexes the position in its side's queue arrays and keeps open interest exact.
//!
//! By concern: `trading` (fills of trades, payouts), `liquidation`, `events` (ADL events,
//! ranked fills, escrow, funding of escrows), `pro_rata` (obligations and the leverage drain).

mod events;
mod liquidation;
mod pro_rata;
mod trading;

pub use events::apply_funding;
pub use liquidation::LiquidationOutcome;
pub use pro_rata::obligation_pending;

use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::math;
use crate::state::*;

pub struct MarketState<'a> {
    pub key: Pubkey,
    pub market: &'a mut Market,
    pub book: BookMut<'a>,
    pub long_queue: QueueMut<'a>,
    pub short_queue: QueueMut<'a>,
    /// The fresh oracle price when the instruction has one: every position change then
    /// re-evaluates the position's bankruptcy flag (cleared when equity ≥ 0 at this price).
    pub price: Option<u64>,
    /// Whether payout claims are paused: then no instruction moves an ADL payout (trades,
    /// liquidations and ADL starts leave it on the slot) — one pause semantics for payouts.
    pub payouts_paused: bool,
}

type Entries = (u8, QueueEntry, QueueEntry);

impl<'a> MarketState<'a> {
    fn queue(&mut self, side: u8) -> &mut QueueMut<'a> {
        if side == SIDE_LONG {
            &mut self.long_queue
        } else {
            &mut self.short_queue
        }
    }

    fn entries_of(&self, slot: u32) -> Result<Option<Entries>> {
        let s = self.book.slot(slot)?;
        if s.is_open() {
            Ok(Some(s.queue_entries(slot)?))
        } else {
            Ok(None)
        }
    }

    /// Runs `f` on a position and then re-indexes it (one binary search and one shift per
    /// array when it stays on its side; remove/insert when it opens, closes or flips) and
    /// updates open interest by the change of its size.
    pub fn modify<R>(
        &mut self,
        slot: u32,
        f: impl FnOnce(&mut PositionSlot, &mut Market) -> Result<R>,
    ) -> Result<R> {
        self.apply_obligations(slot)?;
        let before = self.entries_of(slot)?;
        let base_before = self.book.slot(slot)?.base;
        let r = f(self.book.slot_mut(slot)?, self.market)?;
        let touch = self.market.take_touch_seq()?;
        self.book.slot_mut(slot)?.last_touch_seq = touch;
        self.reevaluate_flag(slot)?;
        let base_after = self.book.slot(slot)?.base;
        let after = self.entries_of(slot)?;
        match (before, after) {
            (Some((sb, lb, eb)), Some((sa, la, ea))) if sb == sa => {
                self.queue(sb).reposition((lb, eb), (la, ea))?;
            }
            (b, a) => {
                if let Some((sb, lb, eb)) = b {
                    self.queue(sb).remove(lb, eb)?;
                }
                if let Some((sa, la, ea)) = a {
                    self.queue(sa).insert(la, ea)?;
                }
            }
        }
        let long_delta = (base_after.max(0) as i128) - (base_before.max(0) as i128);
        let short_delta = (-(base_after.min(0) as i128)) - (-(base_before.min(0) as i128));
        self.market.open_interest_long = math::to_u64(math::add(
            self.market.open_interest_long as i128,
            long_delta,
        )?)?;
        self.market.open_interest_short = math::to_u64(math::add(
            self.market.open_interest_short as i128,
            short_delta,
        )?)?;
        Ok(r)
    }

    /// Clears a position's bankruptcy flag when it is no longer bankrupt at the instruction's
    /// oracle price (or no longer open): a flag is never older than the bankruptcy it
    /// records, so a top-up cannot carry an old stamp into a later bankruptcy (grace bypass).
    pub fn reevaluate_flag(&mut self, slot: u32) -> Result<()> {
        let funding = self.market.cumulative_funding;
        let price = self.price;
        let s = self.book.slot_mut(slot)?;
        if s.bankrupt_since_slot == 0 {
            return Ok(());
        }
        let clear = if !s.is_open() {
            true
        } else if let Some(p) = price {
            !math::is_bankrupt(s.equity(funding, p)?)
        } else {
            false
        };
        if clear {
            self.clear_flag(slot)?;
        }
        Ok(())
    }

    /// Clears a slot's bankruptcy flag and keeps the market's count of flagged positions.
    pub fn clear_flag(&mut self, slot: u32) -> Result<()> {
        let s = self.book.slot_mut(slot)?;
        if s.bankrupt_since_slot != 0 {
            s.bankrupt_since_slot = 0;
            self.market.flagged_positions = self
                .market
                .flagged_positions
                .checked_sub(1)
                .ok_or(AdlError::CorruptAccount)?;
        }
        Ok(())
    }

    /// Prepares an instruction that acts on `slot` of `user` (a liquidation, an ADL start):
    /// applies the user's pending obligations and payout first, then requires the slot to be
    /// the user's open position in this market.
    pub fn owned_open_slot(&mut self, user: &mut UserAccount, slot: u32) -> Result<()> {
        self.apply_user_obligations(user)?;
        self.settle_payout(user)?;
        require!(
            user.position_slot(&self.key) == Some(slot),
            AdlError::SlotNotOwned
        );
        self.user_slot(user).map(|_| ())
    }

    /// Settles a slot's funding and sets the amounts a plan computed — exactly the arithmetic
    /// the plan dry-ran (other funding means the plan was made on other state). Bookkeeping
    /// of queues and escrow is the caller's.
    pub fn apply_planned(
        &mut self,
        slot: u32,
        funding: i128,
        after: math::PositionAmounts,
    ) -> Result<&mut PositionSlot> {
        let funding_index = self.market.cumulative_funding;
        let mut pool = self.market.funding_pool;
        let s = self.book.slot_mut(slot)?;
        let paid = s.settle_funding(funding_index, &mut pool)?;
        require!(paid == funding, AdlError::QueueCorrupt);
        s.set_amounts(after);
        self.market.funding_pool = pool;
        self.book.slot_mut(slot)
    }

    /// One ADL counterparty fill on the slot (ranked or pro-rata): the planned amounts, the
    /// payout, `SLOT_ADL_CLOSED` and no flag when fully closed. Returns whether it closed.
    pub fn apply_adl_fill(&mut self, f: &crate::adl::PlannedFill) -> Result<bool> {
        let s = self.apply_planned(f.slot, f.funding, f.after)?;
        s.adl_payout = math::add_u64(s.adl_payout, f.outcome.to_free)?;
        let closed = s.base == 0;
        if closed {
            s.status = SLOT_ADL_CLOSED;
            self.clear_flag(f.slot)?;
        }
        Ok(closed)
    }

    /// The user's open slot in this market, checked against the book.
    pub fn user_slot(&self, user: &UserAccount) -> Result<u32> {
        let slot = user
            .position_slot(&self.key)
            .ok_or(AdlError::NoOpenPosition)?;
        let s = self.book.slot(slot)?;
        require!(s.status == SLOT_OPEN, AdlError::SlotNotOpen);
        require_keys_eq!(s.owner, user.owner, AdlError::SlotNotOwned);
        Ok(slot)
    }

    /// Requires equity ≥ initial margin at `price` (after a risk-increasing change).
    pub fn require_initial_margin(&self, slot: u32, price: u64) -> Result<()> {
        let s = self.book.slot(slot)?;
        let eq = s.equity(self.market.cumulative_funding, price)?;
        let im = math::margin_requirement(s.base, price, self.market.params.imr_bps)?;
        require!(eq >= im, AdlError::InsufficientMargin);
        Ok(())
    }
}
