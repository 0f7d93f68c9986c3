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
    ) -> Result<(u32, FillOutcome, u64)> {
        self.apply_user_obligations(user)?;
        self.settle_payout(user)?;
        let slot = match user.position_slot(&self.key) {
            Some(_) => self.user_slot(user)?,
            None => {
                let seq = self.market.take_position_seq()?;
                let touch = self.market.take_touch_seq()?;
                let slot = self.book.allocate(user.owner, seq, touch)?;
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
            Ok(out)
        })?;
        user.credit(outcome.to_free)?;
        let fee = math::fee(notional, fee_bps)?;
        user.debit(fee)?;
        self.market.fee_pool = math::add_u64(self.market.fee_pool, fee)?;
        let after = *self.book.slot(slot)?;
        if after.base == 0 {
            self.book.release(slot)?;
            user.remove_position(&self.key)?;
            self.market.num_positions -= 1;
        } else {
            require!(
                after.base.unsigned_abs() >= self.market.params.min_position_base,
                AdlError::PositionTooSmall
            );
            if outcome.risk_increasing {
                self.require_initial_margin(slot, oracle_price)?;
            } else {
                // A reduction (e.g. at the band edge) must not leave a bankrupt remainder.
                let eq = after.equity(self.market.cumulative_funding, oracle_price)?;
                require!(!math::is_bankrupt(eq), AdlError::PositionBankrupt);
            }
        }
        Ok((slot, outcome, fee))
    }
}

/// Result of a liquidation, for the event.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiquidationOutcome {
    pub base: u64,
    pub notional: u64,
    pub fee: u64,
    pub fee_to_fund: u64,
    pub fee_to_liquidator: u64,
    pub fund_paid: u64,
    pub bankrupt: bool,
    pub liquidator_slot: u32,
}

impl MarketState<'_> {
    /// Moves a position's pending ADL payout to its owner (any touch by the owner does this
    /// first) and frees a slot that ADL closed. Returns the amount credited.
    pub fn settle_payout(&mut self, user: &mut UserAccount) -> Result<u64> {
        let Some(slot) = user.position_slot(&self.key) else {
            return Ok(0);
        };
        if self.payouts_paused {
            return Ok(0);
        }
        let s = self.book.slot_mut(slot)?;
        require_keys_eq!(s.owner, user.owner, AdlError::SlotNotOwned);
        let payout = s.adl_payout;
        s.adl_payout = 0;
        let closed = s.status == SLOT_ADL_CLOSED;
        user.credit(payout)?;
        if closed {
            self.book.release(slot)?;
            user.remove_position(&self.key)?;
            self.market.num_positions -= 1;
        }
        Ok(payout)
    }

    /// Liquidates `base` of a position below maintenance at `price` (the whole of a bankrupt
    /// one), the liquidator taking it over at the oracle price.
    #[allow(clippy::too_many_arguments)]
    pub fn liquidate(
        &mut self,
        slot: u32,
        liquidatee: &mut UserAccount,
        liquidator: &mut UserAccount,
        fund: &mut InsuranceFund,
        base: u64,
        liquidator_margin: u64,
        price: u64,
    ) -> Result<LiquidationOutcome> {
        require!(base > 0, AdlError::ZeroAmount);
        self.apply_user_obligations(liquidatee)?;
        self.settle_payout(liquidatee)?;
        require!(
            liquidatee.position_slot(&self.key) == Some(slot),
            AdlError::SlotNotOwned
        );
        self.user_slot(liquidatee)?;
        let params = self.market.params;
        // Settle funding, then judge the position at the oracle price.
        self.modify(slot, |pos, market| {
            pos.settle_funding(market.cumulative_funding, &mut market.funding_pool)?;
            Ok(())
        })?;
        let pos = *self.book.slot(slot)?;
        let eq = pos.equity(self.market.cumulative_funding, price)?;
        let mm = math::margin_requirement(pos.base, price, params.mmr_bps)?;
        require!(math::is_liquidatable(eq, mm), AdlError::NotLiquidatable);
        let bankrupt = math::is_bankrupt(eq);
        let is_long = pos.base > 0;
        let size = pos.base.unsigned_abs();
        let taken = if bankrupt || size - base.min(size) < params.min_position_base {
            // A bankrupt position goes whole; so does one whose remainder would be dust.
            size
        } else {
            base
        };
        let notional = math::close_notional(is_long, taken, price)?;
        let fee = math::fee(notional, params.liquidation_fee_bps)?;
        let mut out = LiquidationOutcome {
            base: taken,
            notional,
            bankrupt,
            ..LiquidationOutcome::default()
        };
        let delta = if is_long {
            -(taken as i64)
        } else {
            taken as i64
        };
        if bankrupt {
            // Full close at the oracle price realizes exactly `eq`; the fund pays the
            // deficit and the liquidator's part of the fee.
            let deficit = math::to_u64(-eq)?;
            let (_, to_liquidator) = math::split_fee(fee, params.liquidation_fee_to_fund_bps)?;
            let pay = math::add_u64(deficit, to_liquidator)?;
            require!(
                pay <= fund.available(params.max_insurance_per_event),
                AdlError::InsufficientInsurance
            );
            fund.pay(pay)?;
            out.fund_paid = pay;
            out.fee = to_liquidator;
            out.fee_to_liquidator = to_liquidator;
            let o = self.modify(slot, |p, _| {
                p.margin = math::to_i64(math::add(p.margin as i128, deficit as i128)?)?;
                let mut a = p.amounts();
                let o = math::apply_fill(&mut a, delta, notional)?;
                p.set_amounts(a);
                Ok(o)
            })?;
            liquidatee.credit(o.to_free)?;
            liquidator.credit(to_liquidator)?;
        } else {
            let o = self.modify(slot, |p, _| {
                let mut a = p.amounts();
                let o = math::apply_fill(&mut a, delta, notional)?;
                // The fee comes from what the fill frees, then from the remaining margin,
                // never below zero.
                let from_free = fee.min(o.to_free);
                let from_margin = (fee - from_free).min(a.margin.max(0) as u64);
                a.margin -= from_margin as i64;
                p.set_amounts(a);
                Ok((o, from_free, from_margin))
            })?;
            let (o, from_free, from_margin) = o;
            let paid = from_free + from_margin;
            let (to_fund, to_liquidator) =
                math::split_fee(paid, params.liquidation_fee_to_fund_bps)?;
            fund.earn(to_fund)?;
            liquidatee.credit(o.to_free - from_free)?;
            liquidator.credit(to_liquidator)?;
            out.fee = paid;
            out.fee_to_fund = to_fund;
            out.fee_to_liquidator = to_liquidator;
        }
        if self.book.slot(slot)?.base == 0 {
            self.book.release(slot)?;
            liquidatee.remove_position(&self.key)?;
            self.market.num_positions -= 1;
        }
        let (lslot, _, _) =
            self.fill_user(liquidator, -delta, notional, liquidator_margin, 0, price)?;
        out.liquidator_slot = lslot;
        Ok(out)
    }

    /// Opens an ADL event for a bankrupt position: the fund pays what it can (`I`), the
    /// position moves into the event's escrow at `P_exec = P_b − I·BASE/q`, its slot is freed.
    /// Open interest is unchanged (the escrow's size still counts).
    pub fn start_adl(
        &mut self,
        slot: u32,
        owner: &mut UserAccount,
        fund: &mut InsuranceFund,
        price: u64,
        now_slot: u64,
    ) -> Result<AdlEvent> {
        self.apply_user_obligations(owner)?;
        self.settle_payout(owner)?;
        require!(
            owner.position_slot(&self.key) == Some(slot),
            AdlError::SlotNotOwned
        );
        self.user_slot(owner)?;
        let index = self
            .market
            .free_event_index()
            .ok_or(AdlError::AdlEventRingFull)?;
        let params = self.market.params;
        self.modify(slot, |pos, market| {
            pos.settle_funding(market.cumulative_funding, &mut market.funding_pool)?;
            Ok(())
        })?;
        let pos = *self.book.slot(slot)?;
        let eq = pos.equity(self.market.cumulative_funding, price)?;
        require!(math::is_bankrupt(eq), AdlError::NotBankrupt);
        let deficit = math::to_u64(-eq)?;
        let available = fund.available(params.max_insurance_per_event);
        let grace_over = pos.bankrupt_since_slot != 0
            && now_slot
                >= pos
                    .bankrupt_since_slot
                    .saturating_add(params.bankruptcy_grace_slots);
        require!(
            available < deficit || grace_over,
            AdlError::InsuranceCanCover
        );
        let paid = deficit.min(available);
        fund.pay(paid)?;
        let cash = math::to_i64(math::add(pos.margin as i128, paid as i128)?)?;
        let exec_price = math::adl_exec_price(pos.base, pos.cost_basis, cash)?;
        let side = pos.side();
        let id = self.market.next_event_id;
        self.market.next_event_id = id.checked_add(1).ok_or(AdlError::MathOverflow)?;
        let event = AdlEvent {
            owner: pos.owner,
            id,
            base_total: pos.base.unsigned_abs(),
            base_remaining: pos.base.unsigned_abs(),
            exec_price,
            oracle_price: price,
            start_slot: now_slot,
            deadline_slot: now_slot.saturating_add(params.adl_deadline_slots),
            fund_paid: paid,
            escrow_cost: pos.cost_basis,
            escrow_cash: cash,
            side,
            status: EVENT_ACTIVE,
            mode: self.market.adl_mode,
            ..AdlEvent::default()
        };
        // Out of the book and queues; the escrow keeps its size in open interest.
        self.modify(slot, |p, _| {
            p.base = 0;
            p.cost_basis = 0;
            p.margin = 0;
            Ok(())
        })?;
        if side == SIDE_LONG {
            self.market.open_interest_long =
                math::add_u64(self.market.open_interest_long, event.base_total)?;
        } else {
            self.market.open_interest_short =
                math::add_u64(self.market.open_interest_short, event.base_total)?;
        }
        self.book.release(slot)?;
        owner.remove_position(&self.key)?;
        self.market.num_positions -= 1;
        self.market.adl_events[index] = event;
        if event.mode == ADL_MODE_PRO_RATA {
            self.begin_pro_rata(index)?;
        }
        Ok(self.market.adl_events[index])
    }

    /// Applies verified ADL fills of event `index`: each counterparty closes at `P_exec`
    /// (its realized PnL plus released margin become its payout), the escrow shrinks by the
    /// same size; closed positions leave the queues in one compaction pass per array.
    pub fn apply_adl_fills(
        &mut self,
        index: usize,
        fills: &[crate::adl::PlannedFill],
    ) -> Result<()> {
        let event = self.market.adl_events[index];
        let cp_side = if event.side == SIDE_LONG {
            SIDE_SHORT
        } else {
            SIDE_LONG
        };
        let mut gone_lev = Vec::with_capacity(fills.len());
        let mut gone_ent = Vec::with_capacity(fills.len());
        let mut moved: Option<(u32, QueueEntry, QueueEntry)> = None;
        let mut ev = event;
        for f in fills {
            let touch = self.market.take_touch_seq()?;
            let (_, lev, ent) = self.book.slot(f.slot)?.queue_entries(f.slot)?;
            let funding_index = self.market.cumulative_funding;
            let s = self.book.slot_mut(f.slot)?;
            // Exactly the planned arithmetic: settle funding, then the fill.
            let mut pool = self.market.funding_pool;
            let paid = s.settle_funding(funding_index, &mut pool)?;
            require!(paid == f.funding, AdlError::QueueCorrupt);
            s.set_amounts(f.after);
            s.adl_payout = math::add_u64(s.adl_payout, f.outcome.to_free)?;
            s.last_touch_seq = touch;
            let closed = s.base == 0;
            if closed {
                s.status = SLOT_ADL_CLOSED;
                gone_lev.push(lev);
                gone_ent.push(ent);
            } else {
                moved = Some((f.slot, lev, ent));
            }
            self.market.funding_pool = pool;
            if closed {
                self.clear_flag(f.slot)?;
            }
            self.escrow_fill(&mut ev, f.base, f.notional)?;
        }
        let q = if cp_side == SIDE_LONG {
            &mut self.long_queue
        } else {
            &mut self.short_queue
        };
        q.remove_many(gone_lev, gone_ent)?;
        if let Some((slot, lev, ent)) = moved {
            let (_, nlev, nent) = self.book.slot(slot)?.queue_entries(slot)?;
            let q = if cp_side == SIDE_LONG {
                &mut self.long_queue
            } else {
                &mut self.short_queue
            };
            q.reposition((lev, ent), (nlev, nent))?;
        }
        if ev.base_remaining == 0 {
            self.close_event(&mut ev)?;
        }
        self.market.adl_events[index] = ev;
        Ok(())
    }
}

impl MarketState<'_> {
    /// Applies the pending pro-rata obligations of a user's slot in this market, if any.
    pub fn apply_user_obligations(&mut self, user: &UserAccount) -> Result<()> {
        match user.position_slot(&self.key) {
            Some(slot) => self.apply_obligations(slot),
            None => Ok(()),
        }
    }

    /// Applies every pending pro-rata obligation of `slot` (oldest event first): each active
    /// pro-rata event reduces a position that was open and untouched since its start by
    /// `ceil(|q|·Q/OI)` (at most what the event still needs), at the event's `P_exec`, the
    /// realized PnL and released margin becoming the slot's payout. Ineligible positions
    /// (flagged, or negative equity after the fill) are passed over. Each slot is reduced at
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
        // Re-index once for all the obligations applied.
        let q = if side == SIDE_LONG {
            &mut self.long_queue
        } else {
            &mut self.short_queue
        };
        if s.is_open() {
            let (_, nlev, nent) = s.queue_entries(slot)?;
            q.reposition((lev, ent), (nlev, nent))?;
        } else {
            q.remove(lev, ent)?;
        }
        Ok(())
    }

    /// One counterparty fill of event `index` on the slot's fields and the escrow (no queue
    /// work: the caller re-indexes).
    fn fill_from_event(&mut self, index: usize, f: &crate::adl::PlannedFill) -> Result<()> {
        let mut ev = self.market.adl_events[index];
        let funding_index = self.market.cumulative_funding;
        let mut pool = self.market.funding_pool;
        let s = self.book.slot_mut(f.slot)?;
        let paid = s.settle_funding(funding_index, &mut pool)?;
        require!(paid == f.funding, AdlError::QueueCorrupt);
        s.set_amounts(f.after);
        s.adl_payout = math::add_u64(s.adl_payout, f.outcome.to_free)?;
        let closed = s.base == 0;
        if closed {
            s.status = SLOT_ADL_CLOSED;
        }
        self.market.funding_pool = pool;
        if closed {
            self.clear_flag(f.slot)?;
        }
        self.escrow_fill(&mut ev, f.base, f.notional)?;
        self.market.adl_events[index] = ev;
        Ok(())
    }

    /// Closes a pro-rata event whose size is used up (the escrow's rounding remainder goes to
    /// the sink); one whose obligations are all applied but that still has size left (shares
    /// of ineligible positions) continues as a ranked event.
    fn finish_pro_rata(&mut self, index: usize) -> Result<()> {
        let mut ev = self.market.adl_events[index];
        if ev.base_remaining == 0 {
            self.close_event(&mut ev)?;
        } else if ev.pending == 0 {
            ev.mode = ADL_MODE_RANKED_QUEUE;
        }
        self.market.adl_events[index] = ev;
        Ok(())
    }

    /// The escrow's side of one counterparty fill: its size shrinks by `base`, it receives
    /// (bankrupt long: sells) or pays (bankrupt short: buys back) `notional`, and both sides'
    /// open interest fall by `base`. The one place escrow accounting happens.
    fn escrow_fill(&mut self, ev: &mut AdlEvent, base: u64, notional: u64) -> Result<()> {
        ev.base_remaining = math::sub_u64(ev.base_remaining, base, AdlError::MathOverflow)?;
        ev.fills += 1;
        let n = notional as i128;
        ev.escrow_cash = math::to_i64(if ev.side == SIDE_LONG {
            math::add(ev.escrow_cash as i128, n)?
        } else {
            math::sub(ev.escrow_cash as i128, n)?
        })?;
        let m = &mut *self.market;
        m.open_interest_long = math::sub_u64(m.open_interest_long, base, AdlError::MathOverflow)?;
        m.open_interest_short = math::sub_u64(m.open_interest_short, base, AdlError::MathOverflow)?;
        Ok(())
    }

    /// Ends an event whose size is used up: what rounding left in the escrow goes to the sink.
    pub fn close_event(&mut self, ev: &mut AdlEvent) -> Result<()> {
        let residual = math::sub(ev.escrow_cash as i128, ev.escrow_cost as i128)?;
        self.market.rounding_sink =
            math::add_u64(self.market.rounding_sink, math::to_u64(residual)?)?;
        ev.escrow_cash = 0;
        ev.escrow_cost = 0;
        ev.status = EVENT_DONE;
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

impl MarketState<'_> {
    /// Applies verified leverage-drain reductions of event `index`: each position keeps its
    /// equity in its margin (no payout), is re-indexed, and the escrow takes the opposite
    /// fills; the event is done when its size is used up.
    pub fn apply_drain(&mut self, index: usize, fills: &[crate::adl::DrainFill]) -> Result<()> {
        let mut ev = self.market.adl_events[index];
        let cp_side = if ev.side == SIDE_LONG {
            SIDE_SHORT
        } else {
            SIDE_LONG
        };
        for f in fills {
            let (_, lev, ent) = self.book.slot(f.slot)?.queue_entries(f.slot)?;
            let touch = self.market.take_touch_seq()?;
            let funding_index = self.market.cumulative_funding;
            let mut pool = self.market.funding_pool;
            let s = self.book.slot_mut(f.slot)?;
            let paid = s.settle_funding(funding_index, &mut pool)?;
            require!(paid == f.funding, AdlError::QueueCorrupt);
            s.set_amounts(f.after);
            s.last_touch_seq = touch;
            let open = s.is_open();
            self.market.funding_pool = pool;
            let q = if cp_side == SIDE_LONG {
                &mut self.long_queue
            } else {
                &mut self.short_queue
            };
            if open {
                let (_, nlev, nent) = self.book.slot(f.slot)?.queue_entries(f.slot)?;
                q.reposition((lev, ent), (nlev, nent))?;
            } else {
                // Drained to zero size: what equity it had is its payout.
                q.remove(lev, ent)?;
                let s = self.book.slot_mut(f.slot)?;
                let payout = math::to_u64(s.margin.max(0) as i128)?;
                s.adl_payout = math::add_u64(s.adl_payout, payout)?;
                s.margin = 0;
                s.status = SLOT_ADL_CLOSED;
                self.clear_flag(f.slot)?;
            }
            self.escrow_fill(&mut ev, f.base, f.notional)?;
        }
        if ev.base_remaining == 0 {
            self.close_event(&mut ev)?;
        }
        self.market.adl_events[index] = ev;
        Ok(())
    }
}

/// Applies a funding index change `delta` to a market, including its ADL escrows: each
/// active event's escrow pays (or receives) the funding of the size it still holds from its
/// cash into the funding pool (rounded up: the escrow pays at least the exact amount), and its
/// execution price moves with it — `P_exec` is the escrow's bankruptcy price, recomputed from
/// its cost and cash exactly as at the event's start, so the counterparties who receive that
/// funding give it back through `P_exec` and the escrow stays exactly covered. Without this the
/// counterparties would be credited funding that nobody paid (an unbacked funding pool).
/// Bounded: at most `ADL_EVENT_RING` events.
pub fn apply_funding(market: &mut Market, delta: i64) -> Result<()> {
    market.cumulative_funding =
        math::to_i64(math::add(market.cumulative_funding as i128, delta as i128)?)?;
    if delta == 0 {
        return Ok(());
    }
    let mut pool = market.funding_pool as i128;
    for ev in market.adl_events.iter_mut() {
        if ev.status != EVENT_ACTIVE || ev.base_remaining == 0 {
            continue;
        }
        let q = math::to_i64(ev.base_remaining as i128)?;
        let signed = if ev.side == SIDE_LONG { q } else { -q };
        let f = math::escrow_funding(signed, delta)?;
        ev.escrow_cash = math::to_i64(math::sub(ev.escrow_cash as i128, f)?)?;
        pool = math::add(pool, f)?;
        ev.exec_price = math::adl_exec_price(signed, ev.escrow_cost, ev.escrow_cash)?;
    }
    market.funding_pool = math::to_i64(pool)?;
    Ok(())
}
