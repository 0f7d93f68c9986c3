//! The leverage drain over several transactions: a measuring pass that finds the region and
//! its level by water-filling from the head of `by_leverage`, with sums kept exact by every
//! queue change, then batched reductions from the head of the region (`state::AdlDrain`,
//! `adl::drain`). A measuring transaction reads at most `ADL_DRAIN_READ_CAP` entries, an
//! applying one reduces at most `ADL_DRAIN_BATCH` positions (reading at most `ADL_WALK_CAP`);
//! unchanged, the result is the single-transaction drain (`adl::drain_optimum`) on the state
//! at the time the level was fixed. Nobody supplies the level.

use anchor_lang::prelude::*;

use crate::adl::{self, DrainFill};
use crate::error::AdlError;
use crate::math;
use crate::state::*;

use super::{events::walk_cap, MarketState};

/// What one `adl_drain_step` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainStep {
    /// Queue entries read.
    pub reads: usize,
    /// Positions that joined the region in this step.
    pub measured: u32,
    /// The measuring pass ended in this step and the level was fixed.
    pub verified: bool,
    /// The region was used up with size left and the whole side had been measured: the
    /// event continues in rank order.
    pub abandoned: bool,
    /// Reductions applied in this step.
    pub fills: Vec<DrainFill>,
}

/// The most cut one drain fill's roundings can leave on a position given its whole cut (three
/// atoms of drain equity, each worth `⌈ℓ·BASE/(P_d·1e4)⌉` base atoms of kept size, plus one):
/// a position cut by the drain itself that lands at its region's end is not taken again.
fn rounding_cut(d: &AdlDrain) -> u64 {
    let per_atom = (d.level_bps as u128 * math::BASE_PRECISION as u128)
        .div_ceil((d.price as u128 * math::BPS as u128).max(1));
    u64::try_from(per_atom.saturating_mul(3).saturating_add(1)).unwrap_or(u64::MAX)
}

impl MarketState<'_> {
    fn cp_side(&self, index: usize) -> u8 {
        if self.market.adl_events[index].side == SIDE_LONG {
            SIDE_SHORT
        } else {
            SIDE_LONG
        }
    }

    /// Start of the eligible part of the counterparty side's `by_leverage` (the certainly
    /// ineligible prefix passed by one binary search).
    fn drain_region_start(&self, index: usize) -> usize {
        let ev = self.market.adl_events[index];
        let q = self.queue(self.cp_side(index));
        let book = &*self.book.slots;
        adl::ineligible_prefix_end(
            &q.by_leverage[..q.len()],
            &|s| book.get(s as usize),
            self.market.cumulative_funding,
            ev.exec_price,
        )
    }

    /// A position's drain terms `(s, e)` in event `index` (`None`: not eligible).
    fn drain_terms_of(&self, index: usize, pos: &PositionSlot) -> Result<Option<(u64, u64)>> {
        let ev = self.market.adl_events[index];
        Ok(adl::drain_terms(
            pos,
            self.market.cumulative_funding,
            ev.exec_price,
        )?)
    }

    /// A position's cut in applying drain `index` (0 when not eligible).
    fn drain_cut_of(&self, index: usize, pos: &PositionSlot) -> Result<u64> {
        let d = self.market.adl_drains[index];
        Ok(match self.drain_terms_of(index, pos)? {
            Some((s, e)) => adl::drain_cut(s, e, d.level_bps, d.price)?,
            None => 0,
        })
    }

    /// `adl_drain_begin`: starts measuring a drain of event `index` at the event's current
    /// `P_exec`.
    pub fn drain_begin(&mut self, index: usize) -> Result<()> {
        let ev = self.market.adl_events[index];
        require!(
            ev.status == EVENT_ACTIVE && ev.mode == ADL_MODE_LEVERAGE_DRAIN,
            AdlError::AdlWrongMode
        );
        require!(
            self.market.adl_drains[index].phase == DRAIN_IDLE,
            AdlError::DrainInProgress
        );
        let passes = self.market.adl_drains[index].passes;
        self.start_measuring(index, passes);
        Ok(())
    }

    fn start_measuring(&mut self, index: usize, passes: u16) {
        let start = self.drain_region_start(index);
        self.market.adl_drains[index] = AdlDrain {
            price: self.market.adl_events[index].exec_price,
            cursor: start as u32,
            phase: DRAIN_MEASURING,
            passes: passes.saturating_add(1),
            ..AdlDrain::default()
        };
    }

    /// `adl_drain_step`: one transaction of drain `index` — measuring or trimming (at most
    /// `ADL_DRAIN_READ_CAP` entries read, plus one for the check before the level is fixed) or
    /// applying (at most `ADL_DRAIN_BATCH` reductions and `ADL_WALK_CAP` entries read).
    pub fn drain_step(&mut self, index: usize) -> Result<DrainStep> {
        let ev = self.market.adl_events[index];
        require!(
            ev.status == EVENT_ACTIVE && ev.mode == ADL_MODE_LEVERAGE_DRAIN,
            AdlError::AdlWrongMode
        );
        match self.market.adl_drains[index].phase {
            DRAIN_MEASURING | DRAIN_TRIMMING => self.drain_measure(index),
            DRAIN_APPLYING => self.drain_apply(index),
            _ => err!(AdlError::DrainNotStarted),
        }
    }

    fn drain_measure(&mut self, index: usize) -> Result<DrainStep> {
        let mut out = DrainStep::default();
        let side = self.cp_side(index);
        let q = self.market.adl_events[index].base_remaining;
        let mut d = self.market.adl_drains[index];
        let len = self.queue(side).len();
        let start = self.drain_region_start(index);
        let mut cursor = (d.cursor as usize).max(start);
        let cap = walk_cap().min(ADL_DRAIN_READ_CAP);
        if d.phase == DRAIN_MEASURING {
            let mut boundary = false;
            while cursor < len {
                if out.reads >= cap {
                    break;
                }
                out.reads += 1;
                crate::meter::read(1);
                let slot = self.queue(side).by_leverage[cursor].slot();
                crate::meter::slot(1);
                let pos = *self.book.slot(slot)?;
                match self.drain_terms_of(index, &pos)? {
                    None => cursor += 1,
                    Some((s, e)) => {
                        if !adl::drain_joins(d.sum_base, d.sum_equity, q, s, e) {
                            boundary = true;
                            break;
                        }
                        d.sum_base = math::add_u64(d.sum_base, s)?;
                        d.sum_equity = math::add_u64(d.sum_equity, e)?;
                        d.measured += 1;
                        out.measured += 1;
                        cursor += 1;
                    }
                }
            }
            if !boundary && cursor < len {
                d.cursor = u32::try_from(cursor).map_err(|_| AdlError::MathOverflow)?;
                self.market.adl_drains[index] = d;
                return Ok(out);
            }
            if !boundary {
                d.flags |= DRAIN_REACHED_END;
            }
            if d.sum_base < q {
                // The whole eligible side does not cover the event (the forward pass joins
                // every position while `S < Q`, so it stopped at the side's end): nothing to
                // trim; every eligible position is closed and the rest goes to the ranked walk.
                d.flags |= DRAIN_SIDE_SHORT;
                self.fix_drain(index, &mut d, cursor, start, q)?;
                out.verified = true;
                self.market.adl_drains[index] = d;
                return Ok(out);
            }
            d.phase = DRAIN_TRIMMING;
        }
        // Trimming: back over the tail while its last position is not above the level of the
        // rest (it joined before positions entering in front of it raised that level).
        let mut kept = false;
        while cursor > start {
            if out.reads >= cap {
                break;
            }
            out.reads += 1;
            crate::meter::read(1);
            let slot = self.queue(side).by_leverage[cursor - 1].slot();
            crate::meter::slot(1);
            let pos = *self.book.slot(slot)?;
            match self.drain_terms_of(index, &pos)? {
                None => cursor -= 1,
                Some((s, e)) => {
                    if !adl::drain_trims(d.sum_base, d.sum_equity, q, s, e) {
                        kept = true;
                        break;
                    }
                    d.sum_base -= s;
                    d.sum_equity -= e;
                    d.measured = d.measured.saturating_sub(1);
                    cursor -= 1;
                }
            }
        }
        d.cursor = u32::try_from(cursor).map_err(|_| AdlError::MathOverflow)?;
        if kept || cursor <= start {
            // Before the level is fixed, the region must still be a water-filling fixed
            // point: it covers the event, and the position at the cursor (its first one after,
            // when eligible) does not join it. Changes before the cursor while the pass
            // trimmed (a position reduced or closed, equity added) can break either; then the
            // pass goes forward again from the cursor.
            // This one read may exceed the cap by one: the check must see the state the level
            // is fixed on, in the same transaction as the trim that ended.
            let next = match self.queue(side).by_leverage[..len].get(cursor) {
                Some(entry) => {
                    out.reads += 1;
                    crate::meter::read(1);
                    let pos = *self.book.slot(entry.slot())?;
                    self.drain_terms_of(index, &pos)?
                }
                _ => None,
            };
            let extend = d.sum_base < q
                || next.is_some_and(|(s, e)| adl::drain_joins(d.sum_base, d.sum_equity, q, s, e));
            if extend {
                d.phase = DRAIN_MEASURING;
                d.flags &= !DRAIN_REACHED_END;
            } else {
                self.fix_drain(index, &mut d, cursor, start, q)?;
                out.verified = true;
            }
        }
        self.market.adl_drains[index] = d;
        Ok(out)
    }

    /// Fixes drain `index`'s level on the region `[start, cursor)` and starts applying.
    fn fix_drain(
        &mut self,
        index: usize,
        d: &mut AdlDrain,
        cursor: usize,
        start: usize,
        q: u64,
    ) -> Result<()> {
        d.level_bps = adl::drain_level(d.sum_base, d.sum_equity, q, d.price);
        d.end = u32::try_from(cursor).map_err(|_| AdlError::MathOverflow)?;
        d.cursor = u32::try_from(start).map_err(|_| AdlError::MathOverflow)?;
        d.phase = DRAIN_APPLYING;
        let _ = index;
        Ok(())
    }

    /// The event continues as a ranked event with a fresh walk.
    fn drain_to_ranked(&mut self, index: usize) {
        let ev = &mut self.market.adl_events[index];
        ev.mode = ADL_MODE_RANKED_QUEUE;
        ev.walk_flags &= WALK_FALLBACK_USED;
        self.market.adl_walks[index].cursor = [0, 0];
    }

    fn drain_apply(&mut self, index: usize) -> Result<DrainStep> {
        let mut out = DrainStep::default();
        let side = self.cp_side(index);
        let cap = walk_cap();
        loop {
            let d = self.market.adl_drains[index];
            let ev = self.market.adl_events[index];
            if ev.status != EVENT_ACTIVE || ev.base_remaining == 0 || d.cursor >= d.end {
                break;
            }
            if out.fills.len() >= ADL_DRAIN_BATCH || out.reads >= cap {
                return Ok(out);
            }
            out.reads += 1;
            crate::meter::read(1);
            let slot = self.queue(side).by_leverage[d.cursor as usize].slot();
            crate::meter::slot(1);
            // Its queue change removes it from the cursor (the next entry takes its index)
            // and puts it back at or after the cursor: it is less leveraged now. A position
            // is cut once per pass: if it landed on the cursor again (its exact leverage is
            // still above that of the next ones), the cursor passes it.
            let Some(f) = self.drain_due(index, slot)? else {
                self.market.adl_drains[index].cursor += 1;
                continue;
            };
            out.fills.push(f);
            let d = self.market.adl_drains[index];
            if d.phase == DRAIN_APPLYING
                && self.book.slot(slot)?.is_open()
                && self.lev_index(slot)? == d.cursor as usize
            {
                self.market.adl_drains[index].cursor += 1;
            }
        }
        out.abandoned = self.finish_drain(index)?;
        Ok(out)
    }

    /// Ends a drain whose region is used up: done when its size is used up; otherwise
    /// (positions of the region were reduced meanwhile by other events or liquidations) a new
    /// measuring pass begins, unless the whole side was already measured without covering the
    /// event — then the rest continues in rank order. Returns whether it went to rank order.
    fn finish_drain(&mut self, index: usize) -> Result<bool> {
        let ev = self.market.adl_events[index];
        if ev.status != EVENT_ACTIVE {
            return Ok(false);
        }
        let d = self.market.adl_drains[index];
        if ev.base_remaining == 0 {
            self.market.adl_drains[index] = AdlDrain::default();
            return Ok(false);
        }
        if d.flags & DRAIN_SIDE_SHORT != 0 {
            self.market.adl_drains[index] = AdlDrain::default();
            self.drain_to_ranked(index);
            return Ok(true);
        }
        self.start_measuring(index, d.passes);
        Ok(false)
    }

    /// Applies one reduction of drain `index`: the position keeps its equity in its margin
    /// (no payout) and is re-indexed (walks and drains follow); one drained to zero size is
    /// paid its equity. The escrow takes the opposite fill; the event is done when its size
    /// is used up.
    pub(crate) fn apply_drain_fill(&mut self, index: usize, f: &DrainFill) -> Result<()> {
        let cp_side = self.cp_side(index);
        let old = *self.book.slot(f.slot)?;
        let (_, lev, ent) = old.queue_entries(f.slot)?;
        let stale = [(f.slot, old.key_frac()?)];
        let lev = (lev, stale[0].1);
        let touch = self.market.take_touch_seq()?;
        let s = self.apply_planned(f.slot, f.funding, f.after)?;
        s.last_touch_seq = touch;
        if s.is_open() {
            let now = *self.book.slot(f.slot)?;
            let (_, nlev, nent) = now.queue_entries(f.slot)?;
            let new = ((nlev, now.key_frac()?), nent);
            let (from, to) =
                self.with_queue(cp_side, &stale, |q, o| q.reposition((lev, ent), new, o))?;
            self.queue_removed(cp_side, &[(from, old)])?;
            self.queue_inserted(cp_side, to, f.slot)?;
        } else {
            let at = self.with_queue(cp_side, &stale, |q, o| q.remove(lev, ent, o))?;
            self.queue_removed(cp_side, &[(at, old)])?;
            let s = self.book.slot_mut(f.slot)?;
            let payout = math::to_u64(s.margin.max(0) as i128)?;
            s.adl_payout = math::add_u64(s.adl_payout, payout)?;
            s.margin = 0;
            s.status = SLOT_ADL_CLOSED;
            self.clear_flag(f.slot)?;
        }
        let mut ev = self.market.adl_events[index];
        self.escrow_fill(&mut ev, f.base, f.notional)?;
        if ev.base_remaining == 0 {
            self.close_event(&mut ev)?;
            self.market.adl_drains[index] = AdlDrain::default();
        }
        self.market.adl_events[index] = ev;
        Ok(())
    }

    /// Active drains whose counterparties are on `side`, measuring or applying.
    fn drains_on(&self, side: u8) -> impl Iterator<Item = usize> + '_ {
        self.market
            .adl_events
            .iter()
            .enumerate()
            .filter(move |(i, e)| {
                e.status == EVENT_ACTIVE
                    && e.mode == ADL_MODE_LEVERAGE_DRAIN
                    && e.side != side
                    && self.market.adl_drains[*i].phase != DRAIN_IDLE
            })
            .map(|(i, _)| i)
    }

    /// Drain upkeep after entries left `side`'s `by_leverage` at the indices given (before
    /// the removal), with the positions as they were: cursors and ends keep pointing at the
    /// same entries, and a measured position leaves the sums with the terms it was counted
    /// with (eligibility and exact equity do not change unless the position does).
    pub(crate) fn drains_removed(
        &mut self,
        side: u8,
        gone: &[(usize, PositionSlot)],
    ) -> Result<()> {
        let drains: Vec<usize> = self.drains_on(side).collect();
        for i in drains {
            let mut d = self.market.adl_drains[i];
            let before = gone.iter().filter(|(g, _)| *g < d.cursor as usize).count();
            if d.phase == DRAIN_MEASURING || d.phase == DRAIN_TRIMMING {
                for (g, old) in gone {
                    if *g >= d.cursor as usize {
                        continue;
                    }
                    if let Some((s, e)) = self.drain_terms_of(i, old)? {
                        d.sum_base = d.sum_base.checked_sub(s).ok_or(AdlError::QueueCorrupt)?;
                        d.sum_equity = d.sum_equity.checked_sub(e).ok_or(AdlError::QueueCorrupt)?;
                        d.measured = d.measured.saturating_sub(1);
                    }
                }
            } else {
                let in_end = gone.iter().filter(|(g, _)| *g < d.end as usize).count();
                d.end -= in_end as u32;
            }
            d.cursor -= before as u32;
            self.market.adl_drains[i] = d;
        }
        Ok(())
    }

    /// Drain upkeep after slot `slot`'s entry entered `side`'s `by_leverage` at `at`. While
    /// measuring, a position entering before the cursor is counted at once. While applying, a
    /// position entering within the rest of the region is reduced in its turn; one entering
    /// in front of the cursor with a cut to take (its owner made it more leveraged, or it is
    /// new) is reduced before the instruction ends (`serve_drain_arrivals`).
    pub(crate) fn drains_inserted(&mut self, side: u8, at: usize, slot: u32) -> Result<()> {
        let drains: Vec<usize> = self.drains_on(side).collect();
        if drains.is_empty() {
            return Ok(());
        }
        let pos = *self.book.slot(slot)?;
        for i in drains {
            let mut d = self.market.adl_drains[i];
            if d.phase == DRAIN_MEASURING || d.phase == DRAIN_TRIMMING {
                // Measuring, an entry at the cursor is read next; trimming reads backwards
                // from the cursor, so one inserted at it joins the sums and is the new tail.
                if at < d.cursor as usize || (d.phase == DRAIN_TRIMMING && at == d.cursor as usize)
                {
                    d.cursor += 1;
                    if let Some((s, e)) = self.drain_terms_of(i, &pos)? {
                        d.sum_base = math::add_u64(d.sum_base, s)?;
                        d.sum_equity = math::add_u64(d.sum_equity, e)?;
                        d.measured += 1;
                    }
                }
            } else {
                // An entry at `end` with more cut to take than one fill's rounding (its owner
                // re-levered it there after its cut, or it is new) joins the region: entries
                // after `end` are at most the region's boundary, which is at most the level.
                if at < d.end as usize
                    || (at == d.end as usize && self.drain_cut_of(i, &pos)? > rounding_cut(&d))
                {
                    d.end += 1;
                }
                if at < d.cursor as usize {
                    d.cursor += 1;
                    if self.drain_cut_of(i, &pos)? > 0 && !self.drain_arrivals.contains(&(i, slot))
                    {
                        self.drain_arrivals.push((i, slot));
                    }
                }
            }
            self.market.adl_drains[i] = d;
        }
        Ok(())
    }

    /// Whether event `i` is an active drain in its applying phase with size still to take.
    fn drain_applying(&self, i: usize) -> bool {
        let ev = self.market.adl_events[i];
        ev.status == EVENT_ACTIVE
            && ev.mode == ADL_MODE_LEVERAGE_DRAIN
            && self.market.adl_drains[i].phase == DRAIN_APPLYING
            && ev.base_remaining > 0
    }

    /// Reduces the positions that entered an applying drain's region in front of its cursor
    /// with a cut to take (`drains_inserted`), each only if it still has one and still lies
    /// in front of the cursor.
    pub(crate) fn serve_drain_arrivals(&mut self) -> Result<Vec<(usize, DrainFill)>> {
        let mut served = Vec::new();
        while let Some((i, slot)) = self.drain_arrivals.pop() {
            if !self.drain_applying(i) {
                continue;
            }
            let d = self.market.adl_drains[i];
            let ev = self.market.adl_events[i];
            let pos = *self.book.slot(slot)?;
            if !pos.is_open() || pos.side() == ev.side || self.lev_index(slot)? >= d.cursor as usize
            {
                continue;
            }
            if let Some(f) = self.drain_due(i, slot)? {
                served.push((i, f));
            }
        }
        Ok(served)
    }

    /// Cuts `slot` in applying drain `i` now (its cut at the level, capped by what the event
    /// still needs), if it has one. Returns the reduction.
    fn drain_due(&mut self, i: usize, slot: u32) -> Result<Option<DrainFill>> {
        let ev = self.market.adl_events[i];
        let pos = *self.book.slot(slot)?;
        let cut = self.drain_cut_of(i, &pos)?.min(ev.base_remaining);
        if cut == 0 {
            return Ok(None);
        }
        let f = adl::drain_fill(
            slot,
            &pos,
            self.market.cumulative_funding,
            ev.exec_price,
            cut,
        )?;
        self.apply_drain_fill(i, &f)?;
        Ok(Some(f))
    }

    /// Before its owner changes `slot` (a trade, a margin move, a liquidation of it): every
    /// applying drain whose region still has the position ahead (`cursor ≤ index < end`)
    /// cuts it first, as it would in its turn — so adding margin, trading or being taken over
    /// cannot move a position out of a drain it was measured in. O(1) per drain on its side
    /// (one binary search).
    pub fn apply_drain_dues(&mut self, slot: u32) -> Result<Vec<(usize, DrainFill)>> {
        let mut out = Vec::new();
        for i in 0..ADL_EVENT_RING {
            let pos = *self.book.slot(slot)?;
            if !pos.is_open() {
                break;
            }
            let ev = self.market.adl_events[i];
            let d = self.market.adl_drains[i];
            if !self.drain_applying(i) || pos.side() == ev.side {
                continue;
            }
            let at = self.lev_index(slot)?;
            if at < d.cursor as usize || at >= d.end as usize {
                continue;
            }
            if let Some(f) = self.drain_due(i, slot)? {
                out.push((i, f));
            }
        }
        Ok(out)
    }
}
