//! Pro-rata obligations (applied by cranks or on any touch).

use anchor_lang::prelude::*;

use crate::state::*;

use super::MarketState;

impl MarketState<'_> {
    /// Applies the pending pro-rata obligations of a user's slot in this market, if any.
    pub fn apply_user_obligations(&mut self, user: &UserAccount) -> Result<()> {
        match user.position_slot(&self.key) {
            Some(slot) => {
                self.apply_obligations(slot)?;
                // A position still ahead in an applying drain's region takes its cut before
                // its owner changes it (docs/adl.md, "Leverage drain").
                let dues = self.apply_drain_dues(slot)?;
                self.drain_dues.extend(dues);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Applies every pending pro-rata obligation of `slot` (oldest event first): each active
    /// pro-rata event reduces a position that was open and untouched since its start by
    /// `ceil(|q|·Q/OI)` (at most what the event still needs), at the event's `P_exec`, the
    /// realized PnL and released margin becoming the slot's payout. Positions that are not
    /// eligible at `P_exec` (`adl::eligible`: exact equity below one atom) are passed over —
    /// a bankruptcy flag plays no part, as in every mode. Each slot is reduced at
    /// most once per event: applying stamps a newer touch sequence.
    pub fn apply_obligations(&mut self, slot: u32) -> Result<()> {
        let pos = *self.book.slot(slot)?;
        if !pos.is_open() {
            return Ok(());
        }
        let mut order: [(u64, usize); ADL_EVENT_RING] = [(u64::MAX, 0); ADL_EVENT_RING];
        let mut n = 0;
        for (i, e) in self.market.adl_events.iter().enumerate() {
            if obligation_pending(e, &pos) {
                order[n] = (e.id, i);
                n += 1;
            }
        }
        if n == 0 {
            return Ok(());
        }
        order[..n].sort_unstable();
        let (side, lev, ent) = pos.queue_entries(slot)?;
        let stale = [(slot, pos.key_frac()?)];
        let lev = (lev, stale[0].1);
        for &(_, index) in &order[..n] {
            let ev = self.market.adl_events[index];
            let cur = *self.book.slot(slot)?;
            let share = crate::adl::pro_rata_share(cur.base.unsigned_abs(), &ev)?;
            let planned = if share > 0 && cur.is_open() {
                crate::adl::plan_fill(
                    slot,
                    &cur,
                    self.market.cumulative_funding,
                    ev.exec_price,
                    share,
                )
                .ok()
            } else {
                None
            };
            let mut ev = ev;
            ev.pending = ev.pending.saturating_sub(1);
            self.market.adl_events[index] = ev;
            if let Some(f) = planned {
                self.fill_from_event(index, &f)?;
            }
            self.finish_pro_rata(index)?;
        }
        let touch = self.market.take_touch_seq()?;
        let s = self.book.slot_mut(slot)?;
        s.last_touch_seq = touch;
        // Re-index once for all the obligations applied (ranked walks' cursors follow).
        if s.is_open() {
            let (_, nlev, nent) = s.queue_entries(slot)?;
            let new = ((nlev, s.key_frac()?), nent);
            let (from, to) =
                self.with_queue(side, &stale, |q, o| q.reposition((lev, ent), new, o))?;
            self.queue_removed(side, &[(from, pos)])?;
            self.queue_inserted(side, to, slot)?;
        } else {
            let at = self.with_queue(side, &stale, |q, o| q.remove(lev, ent, o))?;
            self.queue_removed(side, &[(at, pos)])?;
        }
        Ok(())
    }

    /// One counterparty fill of event `index` on the slot's fields and the escrow (no queue
    /// work: the caller re-indexes).
    fn fill_from_event(&mut self, index: usize, f: &crate::adl::PlannedFill) -> Result<()> {
        let mut ev = self.market.adl_events[index];
        self.apply_adl_fill(f)?;
        self.escrow_fill(&mut ev, f.base, f.notional)?;
        self.market.adl_events[index] = ev;
        Ok(())
    }

    /// Closes a pro-rata event whose size is used up (the escrow's rounding remainder goes to
    /// the sink); one whose obligations are all applied but that still has size left (shares
    /// of ineligible positions) continues as a ranked event with a fresh walk: cursors at the
    /// head and no tier done, since the queue changed while the walk was not kept (the
    /// tier price stays the event's). This happens at most once per event: the deadline
    /// fallback is single-use (`WALK_FALLBACK_USED`), and an event that started in pro-rata
    /// mode cannot fall back at all.
    fn finish_pro_rata(&mut self, index: usize) -> Result<()> {
        let mut ev = self.market.adl_events[index];
        if ev.base_remaining == 0 {
            self.close_event(&mut ev)?;
        } else if ev.pending == 0 {
            ev.mode = ADL_MODE_RANKED_QUEUE;
            ev.walk_flags &= WALK_FALLBACK_USED;
            self.market.adl_walks[index].cursor = [0, 0];
        }
        self.market.adl_events[index] = ev;
        Ok(())
    }

    /// Turns an event into a pro-rata event over the counterparty side as it is now: every
    /// open position owes `ceil(|q|·Q/OI)` of the remaining size `Q`.
    pub fn begin_pro_rata(&mut self, index: usize) -> Result<()> {
        let mut ev = self.market.adl_events[index];
        let cp_side = if ev.side == SIDE_LONG {
            SIDE_SHORT
        } else {
            SIDE_LONG
        };
        let pending = if cp_side == SIDE_LONG {
            self.long_queue.len()
        } else {
            self.short_queue.len()
        };
        ev.mode = ADL_MODE_PRO_RATA;
        ev.start_pos_seq = self.market.next_position_seq;
        ev.start_touch_seq = self.market.take_touch_seq()?;
        ev.pro_rata_base = ev.base_remaining;
        ev.pro_rata_oi = self.market.book_open_interest(cp_side);
        ev.pending = pending as u32;
        self.market.adl_events[index] = ev;
        if pending == 0 {
            self.finish_pro_rata(index)?;
        }
        Ok(())
    }
}

/// Whether `pos` still owes event `e` a pro-rata obligation.
pub fn obligation_pending(e: &AdlEvent, pos: &PositionSlot) -> bool {
    e.status == EVENT_ACTIVE
        && e.mode == ADL_MODE_PRO_RATA
        && pos.is_open()
        && pos.side() != e.side
        && pos.open_seq < e.start_pos_seq
        && pos.last_touch_seq < e.start_touch_seq
}
