//! Operations on a loaded market (market header, book, both queues) shared by the
//! instruction handlers: every change of a position goes through `MarketState::modify`, which
//! re-indexes the position in its side's queue arrays and keeps open interest exact.

use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::math::{self, FillOutcome};
use crate::state::*;

pub struct MarketState<'a> {
    pub key: Pubkey,
    pub market: &'a mut Market,
    pub book: BookMut<'a>,
    pub long_queue: QueueMut<'a>,
    pub short_queue: QueueMut<'a>,
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
        let before = self.entries_of(slot)?;
        let base_before = self.book.slot(slot)?.base;
        let r = f(self.book.slot_mut(slot)?, self.market)?;
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

    /// One side of a trade: settles funding, applies the fill, moves `margin_add` from free
    /// collateral into the position, charges the fee, releases a closed slot, and enforces
    /// initial margin if risk grew. Returns the fill outcome and the fee charged.
    #[allow(clippy::too_many_arguments)]
    pub fn fill_user(
        &mut self,
        user: &mut UserAccount,
        delta: i64,
        notional: u64,
        margin_add: u64,
        fee_bps: u32,
        oracle_price: u64,
        now_slot: u64,
    ) -> Result<(u32, FillOutcome, u64)> {
        let slot = match user.position_slot(&self.key) {
            Some(_) => self.user_slot(user)?,
            None => {
                let seq = self.market.take_position_seq()?;
                let slot = self.book.allocate(user.owner, seq, now_slot)?;
                user.add_position(self.key, slot)?;
                self.market.num_positions += 1;
                slot
            }
        };
        user.debit(margin_add)?;
        let outcome = self.modify(slot, |pos, market| {
            if pos.base != 0 {
                pos.settle_funding(market.cumulative_funding, &mut market.funding_pool)?;
            } else {
                pos.funding_snapshot = market.cumulative_funding;
            }
            let mut a = pos.amounts();
            let out = math::apply_fill(&mut a, delta, notional)?;
            if a.base == 0 {
                require!(margin_add == 0, AdlError::NoOpenPosition);
            } else {
                a.margin = math::to_i64(math::add(a.margin as i128, margin_add as i128)?)?;
            }
            pos.set_amounts(a);
            if out.flipped {
                pos.open_seq = market.take_position_seq()?;
            }
            pos.last_update_slot = now_slot;
            Ok(out)
        })?;
        user.credit(outcome.to_free)?;
        let fee = math::fee(notional, fee_bps)?;
        user.debit(fee)?;
        self.market.fee_pool = math::add_u64(self.market.fee_pool, fee)?;
        if self.book.slot(slot)?.base == 0 {
            self.book.release(slot)?;
            user.remove_position(&self.key)?;
            self.market.num_positions -= 1;
        } else if outcome.risk_increasing {
            self.require_initial_margin(slot, oracle_price)?;
        }
        Ok((slot, outcome, fee))
    }
}
