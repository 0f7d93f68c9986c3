//! Operations on a loaded market (market header, book, both queues) shared by the
//! instruction handlers: every change of a position goes through `MarketState::modify`, which
//! re-indexes the position in its side's queue arrays and keeps open interest exact.
//!
//! By concern: `trading` (fills of trades, payouts), `liquidation`, `events` (ADL events,
//! ranked fills, escrow, funding of escrows), `pro_rata` (obligations and the leverage drain).

mod drain;
#[cfg(test)]
mod drain_attack_tests;
mod events;
#[cfg(test)]
mod funding_tests;
mod liquidation;
#[cfg(test)]
mod no_profit_attack_tests;
mod pro_rata;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod second_review_tests;
#[cfg(test)]
mod tests;
mod trading;

pub use drain::DrainStep;
pub use events::{apply_funding, crank_funding, walk_cap};
pub use liquidation::LiquidationOutcome;
pub use pro_rata::obligation_pending;

use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::math;
use crate::state::*;

/// `flag_bankrupt`: stamps the slot `now` at which an open position was first seen bankrupt
/// at `price` (starting its grace period and counting it in `flagged_positions`), or clears
/// the stamp when it has recovered.
pub fn flag_bankrupt(
    market: &mut Market,
    pos: &mut PositionSlot,
    price: u64,
    now: u64,
) -> Result<()> {
    require!(pos.is_open(), AdlError::SlotNotOpen);
    let bankrupt = math::is_bankrupt(pos.equity(market.cumulative_funding, price)?);
    let grace = market.params.bankruptcy_grace_slots;
    if bankrupt && stamp_expired(pos.bankrupt_since_slot, grace, now) {
        // Seen bankrupt again after its window: a new grace period starts now (the old stamp
        // may come from a dip the position recovered from untouched).
        pos.bankrupt_since_slot = now.max(1);
    } else if bankrupt && pos.bankrupt_since_slot == 0 {
        pos.bankrupt_since_slot = now.max(1);
        market.flagged_positions = market
            .flagged_positions
            .checked_add(1)
            .ok_or(AdlError::MathOverflow)?;
    } else if !bankrupt && pos.bankrupt_since_slot != 0 {
        pos.bankrupt_since_slot = 0;
        market.flagged_positions = market
            .flagged_positions
            .checked_sub(1)
            .ok_or(AdlError::CorruptAccount)?;
    }
    Ok(())
}

/// Shortest window in which a bankruptcy stamp counts for `start_adl`, slots. With a window
/// of `grace` alone, a grace of 0 or 1 slot left one slot between the flag and the start: a
/// start landing two slots after the view it was planned on always came too late, the
/// position was flagged anew, and no event ever started (a livelock that needs no attacker,
/// only latency).
pub const MIN_STAMP_WINDOW_SLOTS: u64 = 32;

/// Whether a bankruptcy stamp is too old to count for the grace path of `start_adl`: a stamp
/// counts from `stamp + grace` to `stamp + grace + max(grace, MIN_STAMP_WINDOW_SLOTS)` slots.
/// A stamp set during a brief dip stays on a position that recovered and that nobody
/// touched; without expiry it would let a later dip skip the grace period the fund should
/// have had.
pub fn stamp_expired(stamp: u64, grace: u64, now: u64) -> bool {
    stamp != 0
        && now
            > stamp
                .saturating_add(grace)
                .saturating_add(grace.max(MIN_STAMP_WINDOW_SLOTS))
}

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
    /// Positions that became takeable ahead of a ranked event's cursor during this
    /// instruction, as `(event index, slot)`: each is next in that event's rank and is filled
    /// before the instruction ends (`finish`), so no cursor ever moves back.
    pub arrivals: Vec<(usize, u32)>,
    /// Positions that moved in front of an applying drain's cursor with a cut to take during
    /// this instruction, as `(event index, slot)`: reduced before the instruction ends
    /// (`finish`).
    pub drain_arrivals: Vec<(usize, u32)>,
    /// Drain reductions taken during this instruction before an owner changed a position
    /// still ahead in an applying drain's region (`apply_drain_dues`), for its events.
    pub drain_dues: Vec<(usize, crate::adl::DrainFill)>,
}

/// What `MarketState::finish` did: the ranked fills and the drain reductions of positions
/// that arrived ahead of an event's progress during the instruction.
#[derive(Clone, Debug, Default)]
pub struct Finished {
    pub fills: Vec<(usize, crate::adl::PlannedFill)>,
    pub drains: Vec<(usize, crate::adl::DrainFill)>,
}

/// A position's side, its `by_leverage` entry with the exact key fraction, its `by_entry` entry.
type Entries = (u8, LevEntry, QueueEntry);

impl<'a> MarketState<'a> {
    /// The queue of `side` (`SIDE_LONG` or `SIDE_SHORT`).
    pub fn queue(&self, side: u8) -> &QueueMut<'a> {
        if side == SIDE_LONG {
            &self.long_queue
        } else {
            &self.short_queue
        }
    }

    fn entries_of(&self, slot: u32) -> Result<Option<Entries>> {
        let s = self.book.slot(slot)?;
        if s.is_open() {
            let (side, lev, ent) = s.queue_entries(slot)?;
            Ok(Some((side, (lev, s.key_frac()?), ent)))
        } else {
            Ok(None)
        }
    }

    /// Runs `f` on `side`'s queue with the exact order of its `by_leverage` array: key
    /// fractions are read from the book, except for the `stale` slots — positions already
    /// changed whose entries are not yet re-indexed — whose old fractions are given.
    pub(crate) fn with_queue<R>(
        &mut self,
        side: u8,
        stale: &[(u32, math::KeyFrac)],
        f: impl FnOnce(&mut QueueMut<'a>, &ExactOrder) -> Result<R>,
    ) -> Result<R> {
        let book = &self.book;
        let frac_of = move |s: u32| -> Option<math::KeyFrac> {
            if let Some(&(_, k)) = stale.iter().find(|(x, _)| *x == s) {
                return Some(k);
            }
            book.slot(s)
                .ok()
                .filter(|p| p.is_open())
                .and_then(|p| p.key_frac().ok())
        };
        let ord = ExactOrder {
            is_long: side == SIDE_LONG,
            frac_of: &frac_of,
        };
        let q = if side == SIDE_LONG {
            &mut self.long_queue
        } else {
            &mut self.short_queue
        };
        f(q, &ord)
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
        let old = *self.book.slot(slot)?;
        let base_before = old.base;
        let r = f(self.book.slot_mut(slot)?, self.market)?;
        let touch = self.market.take_touch_seq()?;
        self.book.slot_mut(slot)?.last_touch_seq = touch;
        self.reevaluate_flag(slot)?;
        let base_after = self.book.slot(slot)?.base;
        let after = self.entries_of(slot)?;
        match (before, after) {
            (Some((sb, lb, eb)), Some((sa, la, ea))) if sb == sa => {
                let stale = [(slot, lb.1)];
                let (from, to) =
                    self.with_queue(sb, &stale, |q, o| q.reposition((lb, eb), (la, ea), o))?;
                self.queue_removed(sb, &[(from, old)])?;
                self.queue_inserted(sb, to, slot)?;
            }
            (b, a) => {
                if let Some((sb, lb, eb)) = b {
                    let stale = [(slot, lb.1)];
                    let at = self.with_queue(sb, &stale, |q, o| q.remove(lb, eb, o))?;
                    self.queue_removed(sb, &[(at, old)])?;
                }
                if let Some((sa, la, ea)) = a {
                    let at = self.with_queue(sa, &[], |q, o| q.insert(la, ea, o))?;
                    self.queue_inserted(sa, at, slot)?;
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

    /// Active ranked events whose counterparties are on `side`.
    fn walked_events(&self, side: u8) -> impl Iterator<Item = usize> + '_ {
        self.market
            .adl_events
            .iter()
            .enumerate()
            .filter(move |(_, e)| {
                e.status == EVENT_ACTIVE && e.mode == ADL_MODE_RANKED_QUEUE && e.side != side
            })
            .map(|(i, _)| i)
    }

    /// Upkeep of every saved progress on `side` (ranked walks' cursors, drains' cursors and
    /// sums) after entries left its `by_leverage` at the indices given (before the removal),
    /// with the positions as they were. Every queue change goes through here and
    /// `queue_inserted`. O(events × removed).
    pub(crate) fn queue_removed(&mut self, side: u8, gone: &[(usize, PositionSlot)]) -> Result<()> {
        self.walks_removed(side, gone);
        self.drains_removed(side, gone)
    }

    /// Upkeep of every saved progress on `side` after slot `slot`'s entry entered its
    /// `by_leverage` at `at` (see `queue_removed`).
    pub(crate) fn queue_inserted(&mut self, side: u8, at: usize, slot: u32) -> Result<()> {
        self.walks_inserted(side, at, slot)?;
        self.drains_inserted(side, at, slot)
    }

    /// `AdlWalk` upkeep after entries left `side`'s `by_leverage` at the indices `gone`
    /// (indices before the removal): each cursor moves back by the removed entries before it,
    /// so it keeps pointing at the same entry. O(events × removed).
    fn walks_removed(&mut self, side: u8, gone: &[(usize, PositionSlot)]) {
        let events: Vec<usize> = self.walked_events(side).collect();
        for i in events {
            for c in self.market.adl_walks[i].cursor.iter_mut() {
                let before = gone.iter().filter(|(g, _)| *g < *c as usize).count();
                *c -= before as u32;
            }
        }
    }

    /// `AdlWalk` upkeep after slot `slot`'s entry entered `side`'s `by_leverage` at `at`.
    /// A cursor never moves back: before a cursor, a position that is not takeable in the
    /// cursor's tier is passed at once (the cursor moves forward by one, so it keeps pointing
    /// at the same entry). A position that is takeable in tier 1 ahead of the tier-1 cursor —
    /// or anywhere once tier 1 is done — is the next counterparty in rank (everything ahead
    /// of it was passed as not takeable); likewise in tier 2 once tier 1 is done. It is
    /// recorded as an arrival and filled before the instruction ends (`serve_arrivals`), so
    /// neither a margin toggle nor any other position change can make a walk read entries
    /// again or starve the event. (A tier-2 arrival ahead of the tier-2 cursor while tier 1 is
    /// not done cannot occur: that cursor then still stands at the end of the certainly
    /// ineligible prefix; were it to occur, the cursor would move to it, having passed nothing.)
    fn walks_inserted(&mut self, side: u8, at: usize, slot: u32) -> Result<()> {
        let events: Vec<usize> = self.walked_events(side).collect();
        if events.is_empty() {
            return Ok(());
        }
        let pos = *self.book.slot(slot)?;
        let funding = self.market.cumulative_funding;
        for i in events {
            let ev = self.market.adl_events[i];
            let tier_price = self.market.adl_walks[i].tier_price_or(ev.exec_price);
            let tier1_done = ev.walk_flags & WALK_TIER1_DONE != 0;
            let tier2_done = ev.walk_flags & WALK_TIER2_DONE != 0;
            let mut arrival = false;
            for t in 0..2usize {
                let c = self.market.adl_walks[i].cursor[t] as usize;
                let takeable =
                    crate::adl::takeable(&pos, funding, ev.exec_price, tier_price, t as u8 + 1);
                let ahead = at < c;
                if takeable {
                    let due = if t == 0 {
                        tier1_done || ahead
                    } else {
                        tier1_done && (tier2_done || ahead)
                    };
                    if due {
                        arrival = true;
                    } else if ahead {
                        // Tier 2 ahead of its cursor while tier 1 runs (see above).
                        self.market.adl_walks[i].cursor[t] = at as u32;
                        continue;
                    }
                }
                if ahead {
                    self.market.adl_walks[i].cursor[t] += 1;
                }
            }
            if arrival && !self.arrivals.contains(&(i, slot)) {
                self.arrivals.push((i, slot));
            }
        }
        Ok(())
    }

    /// Fills the positions that arrived ahead of a ranked event's cursor during this
    /// instruction (`walks_inserted`), each only if it is still next in that event's rank
    /// (open, takeable in its tier, and ahead of the cursor — or the tier is done), in rank
    /// order. A fill's own queue change may make another arrival; the loop ends because every
    /// fill closes a position or uses up its event. Returns `(event index, fill)` in order.
    pub fn serve_arrivals(&mut self) -> Result<Vec<(usize, crate::adl::PlannedFill)>> {
        let mut served = Vec::new();
        while let Some((i, f)) = self.next_arrival()? {
            self.apply_adl_fills(i, &[f])?;
            served.push((i, f));
        }
        Ok(served)
    }

    /// The first due arrival in rank order, with its fill; stale ones are dropped.
    fn next_arrival(&mut self) -> Result<Option<(usize, crate::adl::PlannedFill)>> {
        let funding = self.market.cumulative_funding;
        // (event, tier, by_leverage index, fill)
        let mut best: Option<(usize, u8, usize, crate::adl::PlannedFill)> = None;
        let list = core::mem::take(&mut self.arrivals);
        let mut keep = Vec::with_capacity(list.len());
        for &(i, slot) in &list {
            let ev = self.market.adl_events[i];
            if ev.status != EVENT_ACTIVE
                || ev.mode != ADL_MODE_RANKED_QUEUE
                || ev.base_remaining == 0
            {
                continue;
            }
            let pos = *self.book.slot(slot)?;
            if !pos.is_open() || pos.side() == ev.side {
                continue;
            }
            let w = self.market.adl_walks[i];
            let Some(tier) = crate::adl::tier_at(&pos, w.tier_price_or(ev.exec_price)) else {
                continue;
            };
            let Ok(mut f) =
                crate::adl::plan_fill(slot, &pos, funding, ev.exec_price, ev.base_remaining)
            else {
                continue;
            };
            f.tier = tier;
            let idx = self.lev_index(slot)?;
            let tier1_done = ev.walk_flags & WALK_TIER1_DONE != 0;
            let tier2_done = ev.walk_flags & WALK_TIER2_DONE != 0;
            let due = if tier == 1 {
                tier1_done || idx < w.cursor[0] as usize
            } else {
                tier1_done && (tier2_done || idx < w.cursor[1] as usize)
            };
            if !due {
                // Behind the cursor again: the walk will meet it in its turn.
                continue;
            }
            keep.push((i, slot));
            let better = match &best {
                None => true,
                Some((bi, bt, bx, _)) => {
                    (ev.id, tier, idx) < (self.market.adl_events[*bi].id, *bt, *bx)
                }
            };
            if better {
                best = Some((i, tier, idx, f));
            }
        }
        self.arrivals = keep;
        Ok(best.map(|(i, _, _, f)| {
            self.arrivals.retain(|&(j, s)| !(j == i && s == f.slot));
            (i, f)
        }))
    }

    /// Index of an open position's entry in its side's `by_leverage` (one binary search).
    pub fn lev_index(&self, slot: u32) -> Result<usize> {
        let pos = self.book.slot(slot)?;
        let (side, lev, _) = pos.queue_entries(slot)?;
        let frac = pos.key_frac()?;
        let book = &self.book;
        let frac_of = move |s: u32| -> Option<math::KeyFrac> {
            book.slot(s)
                .ok()
                .filter(|p| p.is_open())
                .and_then(|p| p.key_frac().ok())
        };
        let ord = ExactOrder {
            is_long: side == SIDE_LONG,
            frac_of: &frac_of,
        };
        let q = self.queue(side);
        crate::state::lev_find(q.by_leverage, q.len(), (lev, frac), &ord)
            .ok_or_else(|| AdlError::QueueCorrupt.into())
    }

    /// What every instruction that changed positions does last: fills the arrivals ahead of
    /// ranked walks' cursors (`serve_arrivals`) and reduces the positions that left an
    /// applying drain's region above its level (`serve_drain_arrivals`), until neither has
    /// any (each serving closes a position, brings one to a drain's level, or uses up an
    /// event). Returns them for the instruction's events.
    pub fn finish(&mut self) -> Result<Finished> {
        let mut out = Finished {
            drains: core::mem::take(&mut self.drain_dues),
            ..Finished::default()
        };
        loop {
            let fills = self.serve_arrivals()?;
            let drains = self.serve_drain_arrivals()?;
            if fills.is_empty() && drains.is_empty() {
                self.keep_worst_keys();
                return Ok(out);
            }
            out.fills.extend(fills);
            out.drains.extend(drains);
        }
    }

    /// Keeps `Market::worst_long_key` / `worst_short_key` equal to the heads of the sides'
    /// `by_leverage` (O(1); every instruction ends here).
    pub fn keep_worst_keys(&mut self) {
        self.market.worst_long_key = if self.long_queue.is_empty() {
            i64::MIN
        } else {
            // Longs are stored with the sort key −K.
            self.long_queue.by_leverage[0].key.saturating_neg()
        };
        self.market.worst_short_key = if self.short_queue.is_empty() {
            i64::MAX
        } else {
            self.short_queue.by_leverage[0].key
        };
    }

    /// Settles a position's funding (re-indexing it) and returns it with its equity at
    /// `price` — how liquidation and ADL start judge a position.
    pub fn settled_equity(&mut self, slot: u32, price: u64) -> Result<(PositionSlot, i128)> {
        self.modify(slot, |pos, market| {
            pos.settle_funding(market.cumulative_funding, &mut market.funding_pool)?;
            Ok(())
        })?;
        let pos = *self.book.slot(slot)?;
        let eq = pos.equity(self.market.cumulative_funding, price)?;
        Ok((pos, eq))
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
