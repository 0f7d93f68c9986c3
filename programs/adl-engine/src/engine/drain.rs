//! The leverage drain over several transactions: a measuring pass that checks the keeper's
//! level in O(1) from sums kept exact by every queue change, then batched reductions from the
//! least leveraged position above the level towards the head (`state::AdlDrain`,
//! `adl::drain`). A measuring transaction reads at most `ADL_DRAIN_READ_CAP` entries, an
//! applying one reduces at most `ADL_DRAIN_BATCH` positions (reading at most `ADL_WALK_CAP`); the result is the single-transaction optimum on the state at
//! the time the level was verified (`adl::drain_optimum`).

use anchor_lang::prelude::*;

use crate::adl::{self, DrainClass, DrainFill};
use crate::error::AdlError;
use crate::math;
use crate::state::*;

use super::{events::walk_cap, MarketState};

/// What one `adl_drain_step` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainStep {
    /// Queue entries read.
    pub reads: usize,
    /// Positions measured above the level in this step.
    pub measured: u32,
    /// The measuring pass ended in this step and the level was verified.
    pub verified: bool,
    /// The measuring pass ended and the level did not fit: the event continues in rank order.
    pub abandoned: bool,
    /// Reductions applied in this step.
    pub fills: Vec<DrainFill>,
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

    /// A position's class in drain `index` at `level_bps`.
    fn drain_class_of(
        &self,
        index: usize,
        pos: &PositionSlot,
        level_bps: u64,
    ) -> Result<DrainClass> {
        let ev = self.market.adl_events[index];
        let d = self.market.adl_drains[index];
        Ok(adl::drain_class(
            pos,
            self.market.cumulative_funding,
            ev.exec_price,
            d.price,
            level_bps,
        )?)
    }

    /// `adl_drain_begin`: starts measuring a drain of event `index` to `level_bps` at the
    /// event's current `P_exec`.
    pub fn drain_begin(&mut self, index: usize, level_bps: u64) -> Result<()> {
        let ev = self.market.adl_events[index];
        require!(
            ev.status == EVENT_ACTIVE && ev.mode == ADL_MODE_LEVERAGE_DRAIN,
            AdlError::AdlWrongMode
        );
        require!(
            self.market.adl_drains[index].phase == DRAIN_IDLE,
            AdlError::DrainInProgress
        );
        require!(level_bps <= MAX_DRAIN_LEVEL_BPS, AdlError::WrongDrainClaim);
        let start = self.drain_region_start(index);
        self.market.adl_drains[index] = AdlDrain {
            level_bps,
            price: ev.exec_price,
            cursor: u32::try_from(start).map_err(|_| AdlError::MathOverflow)?,
            phase: DRAIN_MEASURING,
            ..AdlDrain::default()
        };
        Ok(())
    }

    /// `adl_drain_step`: one transaction of drain `index` — measuring (at most
    /// `ADL_DRAIN_READ_CAP` entries read; at the end of the region the level is checked) or
    /// applying (at most `ADL_DRAIN_BATCH` reductions and `ADL_WALK_CAP` entries read).
    pub fn drain_step(&mut self, index: usize) -> Result<DrainStep> {
        let ev = self.market.adl_events[index];
        require!(
            ev.status == EVENT_ACTIVE && ev.mode == ADL_MODE_LEVERAGE_DRAIN,
            AdlError::AdlWrongMode
        );
        match self.market.adl_drains[index].phase {
            DRAIN_MEASURING => self.drain_measure(index),
            DRAIN_APPLYING => self.drain_apply(index),
            _ => err!(AdlError::DrainNotStarted),
        }
    }

    fn drain_measure(&mut self, index: usize) -> Result<DrainStep> {
        let mut out = DrainStep::default();
        let side = self.cp_side(index);
        let mut d = self.market.adl_drains[index];
        let len = self.queue(side).len();
        let mut cursor = (d.cursor as usize).max(self.drain_region_start(index));
        let cap = walk_cap().min(ADL_DRAIN_READ_CAP);
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
            match self.drain_class_of(index, &pos, d.level_bps)? {
                DrainClass::Ineligible => cursor += 1,
                DrainClass::Above { cut, cut_next } => {
                    d.r_level = math::add_u64(d.r_level, cut)?;
                    d.r_next = math::add_u64(d.r_next, cut_next)?;
                    d.measured += 1;
                    out.measured += 1;
                    cursor += 1;
                }
                DrainClass::NotAbove => {
                    boundary = true;
                    break;
                }
            }
        }
        d.cursor = u32::try_from(cursor).map_err(|_| AdlError::MathOverflow)?;
        if boundary || cursor >= len {
            let q = self.market.adl_events[index].base_remaining;
            if d.r_level >= q && d.r_next < q {
                d.phase = DRAIN_APPLYING;
                d.overshoot = d.r_level - q;
                out.verified = true;
            } else {
                // The level does not fit the side as it is now: the event is finished in rank
                // order (a fresh walk), never re-drained — so no free action can make a drain
                // run forever.
                self.market.adl_drains[index] = AdlDrain::default();
                self.drain_to_ranked(index);
                out.abandoned = true;
                return Ok(out);
            }
        }
        self.market.adl_drains[index] = d;
        Ok(out)
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
        let start = self.drain_region_start(index);
        let cap = walk_cap();
        loop {
            let d = self.market.adl_drains[index];
            let remaining = self.market.adl_events[index].base_remaining;
            let cursor = d.cursor as usize;
            if remaining == 0 || cursor <= start {
                break;
            }
            if out.fills.len() >= ADL_DRAIN_BATCH || out.reads >= cap {
                return Ok(out);
            }
            out.reads += 1;
            crate::meter::read(1);
            let slot = self.queue(side).by_leverage[cursor - 1].slot();
            crate::meter::slot(1);
            let pos = *self.book.slot(slot)?;
            match self.drain_class_of(index, &pos, d.level_bps)? {
                DrainClass::Above { cut, cut_next } => {
                    let back = d.overshoot.min(cut - cut_next);
                    self.market.adl_drains[index].overshoot -= back;
                    let r = (cut - back).min(remaining);
                    if r == 0 {
                        self.market.adl_drains[index].cursor -= 1;
                        continue;
                    }
                    let ev = self.market.adl_events[index];
                    let f = adl::drain_fill(
                        slot,
                        &pos,
                        self.market.cumulative_funding,
                        ev.exec_price,
                        r,
                    )?;
                    // Its queue change moves the cursor back over it (it is less leveraged
                    // now, so it lands at or after the cursor).
                    self.apply_drain_fill(index, &f)?;
                    out.fills.push(f);
                }
                // Between the region's start and its end every eligible position is above the
                // level (leverage is monotone in the queue order); others are passed.
                DrainClass::Ineligible | DrainClass::NotAbove => {
                    self.market.adl_drains[index].cursor -= 1;
                }
            }
        }
        self.finish_drain(index)?;
        Ok(out)
    }

    /// Ends a drain whose region is used up: done when its size is used up, otherwise (only
    /// when positions changed while it ran) the rest is finished in rank order.
    fn finish_drain(&mut self, index: usize) -> Result<()> {
        let ev = self.market.adl_events[index];
        if ev.status != EVENT_ACTIVE {
            return Ok(());
        }
        self.market.adl_drains[index] = AdlDrain::default();
        if ev.base_remaining > 0 {
            self.drain_to_ranked(index);
        }
        Ok(())
    }

    /// Applies one verified reduction of drain `index`: the position keeps its equity in its
    /// margin (no payout) and is re-indexed (walks and drains follow); one drained to zero
    /// size is paid its equity. The escrow takes the opposite fill; the event is done when
    /// its size is used up.
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
    /// the removal), with the positions as they were: each cursor keeps pointing at the same
    /// entry, and a measured position leaves the sums with the cuts it was counted with.
    pub(crate) fn drains_removed(
        &mut self,
        side: u8,
        gone: &[(usize, PositionSlot)],
    ) -> Result<()> {
        let drains: Vec<usize> = self.drains_on(side).collect();
        for i in drains {
            let mut d = self.market.adl_drains[i];
            let before = gone.iter().filter(|(g, _)| *g < d.cursor as usize).count();
            if d.phase == DRAIN_MEASURING {
                for (g, old) in gone {
                    if *g >= d.cursor as usize {
                        continue;
                    }
                    if let DrainClass::Above { cut, cut_next } =
                        self.drain_class_of(i, old, d.level_bps)?
                    {
                        d.r_level = d.r_level.checked_sub(cut).ok_or(AdlError::QueueCorrupt)?;
                        d.r_next = d
                            .r_next
                            .checked_sub(cut_next)
                            .ok_or(AdlError::QueueCorrupt)?;
                        d.measured = d.measured.saturating_sub(1);
                    }
                }
            }
            d.cursor -= before as u32;
            self.market.adl_drains[i] = d;
        }
        Ok(())
    }

    /// Drain upkeep after slot `slot`'s entry entered `side`'s `by_leverage` at `at`. While
    /// measuring, a position entering before the cursor is counted at once. While applying, a
    /// position entering before the cursor is in the region and is reduced in its turn; one
    /// that lands after the cursor while above `ℓ + 1` (its owner changed it, or it is new)
    /// would escape the region, so it is reduced before the instruction ends
    /// (`serve_drain_arrivals`). Between `ℓ` and `ℓ + 1` it is left: that is where the
    /// overshoot's hand-back leaves positions too.
    pub(crate) fn drains_inserted(&mut self, side: u8, at: usize, slot: u32) -> Result<()> {
        let drains: Vec<usize> = self.drains_on(side).collect();
        if drains.is_empty() {
            return Ok(());
        }
        let pos = *self.book.slot(slot)?;
        for i in drains {
            let mut d = self.market.adl_drains[i];
            if at < d.cursor as usize {
                d.cursor += 1;
                if d.phase == DRAIN_MEASURING {
                    if let DrainClass::Above { cut, cut_next } =
                        self.drain_class_of(i, &pos, d.level_bps)?
                    {
                        d.r_level = math::add_u64(d.r_level, cut)?;
                        d.r_next = math::add_u64(d.r_next, cut_next)?;
                        d.measured += 1;
                    }
                }
            } else if d.phase == DRAIN_APPLYING
                && matches!(
                    self.drain_class_of(i, &pos, d.level_bps.saturating_add(1))?,
                    DrainClass::Above { .. }
                )
                && !self.drain_arrivals.contains(&(i, slot))
            {
                self.drain_arrivals.push((i, slot));
            }
            self.market.adl_drains[i] = d;
        }
        Ok(())
    }

    /// Reduces the positions that left an applying drain's region while above `ℓ + 1`
    /// (`drains_inserted`), each only if it still is and still lies after the cursor.
    pub(crate) fn serve_drain_arrivals(&mut self) -> Result<Vec<(usize, DrainFill)>> {
        let mut served = Vec::new();
        while let Some((i, slot)) = self.drain_arrivals.pop() {
            let ev = self.market.adl_events[i];
            let d = self.market.adl_drains[i];
            if ev.status != EVENT_ACTIVE
                || ev.mode != ADL_MODE_LEVERAGE_DRAIN
                || d.phase != DRAIN_APPLYING
                || ev.base_remaining == 0
            {
                continue;
            }
            let pos = *self.book.slot(slot)?;
            if !pos.is_open() || pos.side() == ev.side {
                continue;
            }
            if !matches!(
                self.drain_class_of(i, &pos, d.level_bps.saturating_add(1))?,
                DrainClass::Above { .. }
            ) || self.lev_index(slot)? < d.cursor as usize
            {
                continue;
            }
            let DrainClass::Above { cut, cut_next } = self.drain_class_of(i, &pos, d.level_bps)?
            else {
                continue;
            };
            let back = d.overshoot.min(cut - cut_next);
            self.market.adl_drains[i].overshoot -= back;
            let r = (cut - back).min(ev.base_remaining);
            if r == 0 {
                continue;
            }
            let f = adl::drain_fill(slot, &pos, self.market.cumulative_funding, ev.exec_price, r)?;
            self.apply_drain_fill(i, &f)?;
            served.push((i, f));
        }
        Ok(served)
    }
}
