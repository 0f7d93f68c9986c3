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
        self.settle_payout(user)?;
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
        now_slot: u64,
    ) -> Result<LiquidationOutcome> {
        require!(base > 0, AdlError::ZeroAmount);
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
        let taken = if bankrupt {
            pos.base.unsigned_abs()
        } else {
            base.min(pos.base.unsigned_abs())
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
                p.last_update_slot = now_slot;
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
                p.last_update_slot = now_slot;
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
        let (lslot, _, _) = self.fill_user(
            liquidator,
            -delta,
            notional,
            liquidator_margin,
            0,
            price,
            now_slot,
        )?;
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
            padding: [0],
            fills: 0,
            reserved: [0],
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
        Ok(event)
    }

    /// Applies verified ADL fills of event `index`: each counterparty closes at `P_exec`
    /// (its realized PnL plus released margin become its payout), the escrow shrinks by the
    /// same size; closed positions leave the queues in one compaction pass per array.
    pub fn apply_adl_fills(
        &mut self,
        index: usize,
        fills: &[crate::adl::PlannedFill],
        now_slot: u64,
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
            let (_, lev, ent) = self.book.slot(f.slot)?.queue_entries(f.slot)?;
            let funding_index = self.market.cumulative_funding;
            let s = self.book.slot_mut(f.slot)?;
            // Exactly the planned arithmetic: settle funding, then the fill.
            let mut pool = self.market.funding_pool;
            let paid = s.settle_funding(funding_index, &mut pool)?;
            require!(paid == f.funding, AdlError::QueueCorrupt);
            s.set_amounts(f.after);
            s.adl_payout = math::add_u64(s.adl_payout, f.outcome.to_free)?;
            s.last_update_slot = now_slot;
            let closed = s.base == 0;
            if closed {
                s.status = SLOT_ADL_CLOSED;
                gone_lev.push(lev);
                gone_ent.push(ent);
            } else {
                moved = Some((f.slot, lev, ent));
            }
            self.market.funding_pool = pool;
            ev.base_remaining -= f.base;
            ev.fills += 1;
            let n = f.notional as i128;
            ev.escrow_cash = math::to_i64(if event.side == SIDE_LONG {
                math::add(ev.escrow_cash as i128, n)?
            } else {
                math::sub(ev.escrow_cash as i128, n)?
            })?;
            self.market.open_interest_long = math::sub_u64(
                self.market.open_interest_long,
                f.base,
                AdlError::MathOverflow,
            )?;
            self.market.open_interest_short = math::sub_u64(
                self.market.open_interest_short,
                f.base,
                AdlError::MathOverflow,
            )?;
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
            // The escrow is closed; what rounding left in it (never negative) goes to the sink.
            let residual = math::sub(ev.escrow_cash as i128, ev.escrow_cost as i128)?;
            self.market.rounding_sink =
                math::add_u64(self.market.rounding_sink, math::to_u64(residual)?)?;
            ev.escrow_cash = 0;
            ev.escrow_cost = 0;
            ev.status = EVENT_DONE;
        }
        self.market.adl_events[index] = ev;
        Ok(())
    }
}
