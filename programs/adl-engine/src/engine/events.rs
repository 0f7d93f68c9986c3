//! ADL events: starting one, ranked fills, the escrow's accounting, and escrow funding.

use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::math;
use crate::state::*;

use super::MarketState;

impl MarketState<'_> {
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
        self.owned_open_slot(owner, slot)?;
        let index = self
            .market
            .free_event_index()
            .ok_or(AdlError::AdlEventRingFull)?;
        let params = self.market.params;
        let (pos, eq) = self.settled_equity(slot, price)?;
        require!(math::is_bankrupt(eq), AdlError::NotBankrupt);
        let deficit = math::to_u64(-eq)?;
        let available = fund.available(params.max_insurance_per_event);
        let stamp = pos.bankrupt_since_slot;
        let grace = params.bankruptcy_grace_slots;
        let grace_over = stamp != 0 && now_slot >= stamp.saturating_add(grace);
        if available >= deficit {
            require!(
                !super::stamp_expired(stamp, grace, now_slot),
                AdlError::BankruptcyStampExpired
            );
            require!(grace_over, AdlError::InsuranceCanCover);
        }
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
        self.market.adl_walks[index] = AdlWalk {
            tier_price: exec_price,
            cursor: [0, 0],
        };
        self.market.adl_drains[index] = AdlDrain::default();
        if event.mode == ADL_MODE_PRO_RATA {
            self.begin_pro_rata(index)?;
        }
        Ok(self.market.adl_events[index])
    }

    /// `auto_deleverage` of ranked event `index`: resumes the event's walk from its saved
    /// cursors (at most `ADL_WALK_CAP` entries read), checks that `slots` are exactly the next
    /// counterparties in ADL rank (`WrongAdlCounterparty` logs the rank position and the slot
    /// that should have come), saves the walk's cursors and applies the fills. An empty
    /// `slots` is a progress-only call, accepted only when the walk reaches its cap before
    /// the next counterparty. A remainder below the market's minimum position size is never
    /// left waiting: the same walk goes on to fill it (within the same cap), so the proof need
    /// not list the counterparties of such a dust remainder. Returns the fills (the proof's,
    /// then the dust's) and the walk's entries read.
    pub fn auto_deleverage(
        &mut self,
        index: usize,
        slots: &[u32],
    ) -> Result<(Vec<crate::adl::PlannedFill>, usize)> {
        let event = self.market.adl_events[index];
        let saved = self.market.adl_walks[index];
        let min_size = self.market.params.min_position_base;
        let q = self.queue(if event.side == SIDE_LONG {
            SIDE_SHORT
        } else {
            SIDE_LONG
        });
        let len = q.len();
        let book = &*self.book.slots;
        let mut walk = crate::adl::RankWalk::resume(
            &q.by_leverage[..len],
            |s| book.get(s as usize),
            self.market.cumulative_funding,
            event.exec_price,
            &saved,
            event.walk_flags,
            event.base_remaining,
            walk_cap(),
        );
        let mut fills = crate::adl::verify_proof(&mut walk, slots).map_err(|e| {
            if let crate::adl::ProofError::WrongCounterparty {
                position,
                given,
                expected,
            } = e
            {
                msg!(
                    "ADL rank proof: position {} names slot {}, slot {} is next in rank",
                    position,
                    given,
                    expected
                );
            }
            AdlError::from(e)
        })?;
        if !fills.is_empty() {
            while walk.remaining() > 0 && walk.remaining() < min_size {
                match walk.next_fill() {
                    Some(f) => fills.push(f),
                    None => break,
                }
            }
        }
        let (cursor, reads, done) = (walk.cursors(), walk.reads, walk.done_flags());
        // Saved before the fills are applied: their queue changes keep the cursors valid.
        self.market.adl_walks[index].cursor = cursor;
        let ev = &mut self.market.adl_events[index];
        ev.walk_flags = (ev.walk_flags & !(WALK_TIER1_DONE | WALK_TIER2_DONE)) | done;
        self.apply_adl_fills(index, &fills)?;
        Ok((fills, reads))
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
        let mut gone_pos = Vec::with_capacity(fills.len());
        let mut moved: Option<(u32, LevEntry, QueueEntry, PositionSlot)> = None;
        // Every filled position's entry as it stands, with its key fraction: the arrays are
        // searched with these until they are re-indexed.
        let mut stale = Vec::with_capacity(fills.len());
        let mut ev = event;
        for f in fills {
            let touch = self.market.take_touch_seq()?;
            let pos = *self.book.slot(f.slot)?;
            let (_, lev, ent) = pos.queue_entries(f.slot)?;
            let frac = pos.key_frac()?;
            stale.push((f.slot, frac));
            if self.apply_adl_fill(f)? {
                gone_lev.push((lev, frac));
                gone_ent.push(ent);
                gone_pos.push(pos);
            } else {
                moved = Some((f.slot, (lev, frac), ent, pos));
            }
            self.book.slot_mut(f.slot)?.last_touch_seq = touch;
            self.escrow_fill(&mut ev, f.base, f.notional)?;
        }
        let gone = self.with_queue(cp_side, &stale, |q, o| q.remove_many(gone_lev, gone_ent, o))?;
        let gone: Vec<(usize, PositionSlot)> = gone.into_iter().zip(gone_pos).collect();
        self.queue_removed(cp_side, &gone)?;
        if let Some((slot, lev, ent, old)) = moved {
            let pos = *self.book.slot(slot)?;
            let (_, nlev, nent) = pos.queue_entries(slot)?;
            let nfrac = pos.key_frac()?;
            let (from, to) = self.with_queue(cp_side, &stale, |q, o| {
                q.reposition((lev, ent), ((nlev, nfrac), nent), o)
            })?;
            self.queue_removed(cp_side, &[(from, old)])?;
            self.queue_inserted(cp_side, to, slot)?;
        }
        if ev.base_remaining == 0 {
            self.close_event(&mut ev)?;
        }
        self.market.adl_events[index] = ev;
        Ok(())
    }

    /// The escrow's side of one counterparty fill: its size shrinks by `base`, it receives
    /// (bankrupt long: sells) or pays (bankrupt short: buys back) `notional`, and both sides'
    /// open interest fall by `base`. The one place escrow accounting happens.
    pub(super) fn escrow_fill(
        &mut self,
        ev: &mut AdlEvent,
        base: u64,
        notional: u64,
    ) -> Result<()> {
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
    /// A short escrow whose `P_exec` sits at its one-atom floor (`math::adl_exec_price`: its
    /// cash could not buy back at any positive price) can end a few atoms short; the sink,
    /// the market's rounding reserve, covers that (never below zero: then the fee pool), so an
    /// event always ends.
    pub fn close_event(&mut self, ev: &mut AdlEvent) -> Result<()> {
        let residual = math::sub(ev.escrow_cash as i128, ev.escrow_cost as i128)?;
        if residual < 0 {
            let short = math::to_u64(-residual)?;
            let from_sink = short.min(self.market.rounding_sink);
            self.market.rounding_sink -= from_sink;
            self.market.fee_pool = math::to_u64(math::sub(
                self.market.fee_pool as i128,
                (short - from_sink) as i128,
            )?)?;
            ev.escrow_cash = ev.escrow_cost;
        }
        let residual = math::sub(ev.escrow_cash as i128, ev.escrow_cost as i128)?;
        self.market.rounding_sink =
            math::add_u64(self.market.rounding_sink, math::to_u64(residual)?)?;
        ev.escrow_cash = 0;
        ev.escrow_cost = 0;
        ev.status = EVENT_DONE;
        Ok(())
    }
}

/// The walk cap of `auto_deleverage` and of drain steps: `ADL_WALK_CAP` (tests may lower it
/// to exercise capped transactions on small books: `meter::set_walk_cap`).
pub fn walk_cap() -> usize {
    crate::meter::walk_cap()
}

/// `update_funding`'s body: accrues the premium up to `now` at the oracle `price`, turns it
/// into an index change with the carried remainder (`math::funding_step`) and applies it
/// (`apply_funding`). Returns the index change.
pub fn crank_funding(market: &mut Market, price: u64, now: u64) -> Result<i64> {
    market.accrue_premium(now, price)?;
    let (delta, carry) = math::funding_step(
        market.premium_acc as i128,
        market.funding_carry,
        price,
        market.params.funding_period_slots,
    )?;
    market.premium_acc = 0;
    market.funding_carry = carry;
    apply_funding(market, delta)?;
    market.last_funding_slot = now;
    Ok(delta)
}

/// Applies a funding index change `delta` to a market, including its ADL escrows. Each active
/// event's escrow pays (or receives) the funding of the size it still holds from its cash
/// into the funding pool, rounded up with the over-payment carried on the event
/// (`math::escrow_funding_carried`: over the event's life it pays the exact funding plus less
/// than one atom), and its execution price moves by exactly `delta`, like every bankruptcy
/// price of the market (`P_b = K + F`). So `P_exec` never moves by more than the funding
/// delta, whatever the size left (a residue is never divided by a small remaining size), ADL
/// eligibility at `P_exec` is unchanged (exact equity is invariant when `F` and the price
/// move together), and the counterparties who receive the escrow's funding give it back
/// through `P_exec`. Bounded: at most `ADL_EVENT_RING` events.
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
        let (pay, prepaid) = math::escrow_funding_carried(signed, delta, ev.funding_prepaid)?;
        ev.escrow_cash = math::to_i64(math::sub(ev.escrow_cash as i128, pay)?)?;
        ev.funding_prepaid = prepaid;
        pool = math::add(pool, pay)?;
        let p = math::add(ev.exec_price as i128, delta as i128)?;
        // A price at or below zero would need funding of the whole price during one event.
        require!(p > 0, AdlError::MathOverflow);
        ev.exec_price = math::to_u64(p)?;
    }
    market.funding_pool = math::to_i64(pool)?;
    Ok(())
}
