//! Decoders for the program's accounts as raw bytes (from RPC or BanksClient). Zero-copy
//! data is read with `pod_read_unaligned` (a `Vec<u8>` carries no alignment promise).

use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;
use anchor_lang::AccountDeserialize;
use bytemuck::Pod;
use core::mem::size_of;

/// Reads a zero-copy account's struct (after the discriminator).
pub fn read_zero_copy<T: Pod>(data: &[u8]) -> Option<T> {
    let end = DISCRIMINATOR_LEN + size_of::<T>();
    (data.len() >= end).then(|| bytemuck::pod_read_unaligned(&data[DISCRIMINATOR_LEN..end]))
}

/// The market's oracle as an `Oracle` view, whatever its kind: the pushed `Oracle` as is, or a
/// Pyth `PriceUpdateV2` for the market's feed converted exactly as the program converts it
/// (`pyth_to_price_atoms`; `publish_slot` = the slot it was posted), with its publish time.
/// Age and confidence are judged by the program when it reads the price.
pub fn read_oracle(m: &Market, data: &[u8]) -> Option<(Oracle, Option<i64>)> {
    match m.oracle_kind {
        ORACLE_KIND_PUSHED => read_borsh::<Oracle>(data).map(|o| (o, None)),
        ORACLE_KIND_PYTH => {
            let u: PriceUpdateV2 = read_borsh(data)?;
            let msg = u.price_message;
            if msg.feed_id != m.oracle_feed_id {
                return None;
            }
            let (price, confidence) =
                pyth_to_price_atoms(msg.price, msg.conf, msg.exponent).unwrap_or((0, 0));
            Some((
                Oracle {
                    exchange: m.exchange,
                    authority: Pubkey::default(),
                    price,
                    confidence,
                    publish_slot: u.posted_slot,
                    index: 0,
                    bump: 0,
                    reserved: [0; 32],
                },
                Some(msg.publish_time),
            ))
        }
        _ => None,
    }
}

pub fn read_borsh<T: AccountDeserialize>(data: &[u8]) -> Option<T> {
    T::try_deserialize(&mut &data[..]).ok()
}

fn read_array<T: Pod>(data: &[u8], offset: usize, count: usize) -> Vec<T> {
    let n = size_of::<T>();
    (0..count)
        .filter_map(|i| data.get(offset + i * n..offset + (i + 1) * n))
        .map(bytemuck::pod_read_unaligned)
        .collect()
}

/// A decoded position book.
#[derive(Clone, Debug)]
pub struct BookSnapshot {
    pub header: PositionBook,
    pub slots: Vec<PositionSlot>,
}

impl BookSnapshot {
    pub fn decode(data: &[u8]) -> Option<Self> {
        let header: PositionBook = read_zero_copy(data)?;
        // Only slots below the high-water mark were ever used.
        let slots = read_array(data, BOOK_SLOTS_OFFSET, header.high_water as usize);
        Some(BookSnapshot { header, slots })
    }

    pub fn open_slots(&self) -> impl Iterator<Item = (u32, &PositionSlot)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_open())
            .map(|(i, s)| (i as u32, s))
    }
}

/// A decoded ADL queue (one side).
#[derive(Clone, Debug)]
pub struct QueueSnapshot {
    pub header: AdlQueue,
    pub by_leverage: Vec<QueueEntry>,
    pub by_entry: Vec<QueueEntry>,
}

impl QueueSnapshot {
    pub fn decode(data: &[u8]) -> Option<Self> {
        let header: AdlQueue = read_zero_copy(data)?;
        let cap = header.capacity as usize;
        let len = header.len as usize;
        let by_leverage = read_array(data, QUEUE_ARRAYS_OFFSET, len);
        let by_entry = read_array(data, QUEUE_ARRAYS_OFFSET + cap * QUEUE_ENTRY_LEN, len);
        Some(QueueSnapshot {
            header,
            by_leverage,
            by_entry,
        })
    }
}

/// Everything of one market: header, oracle, book and both queues.
#[derive(Clone, Debug)]
pub struct MarketSnapshot {
    pub key: Pubkey,
    pub market: Market,
    /// The market's oracle in the program's units (`read_oracle`).
    pub oracle: Oracle,
    /// Pyth oracle only: the price's `publish_time` (unix seconds).
    pub oracle_publish_time: Option<i64>,
    pub book: BookSnapshot,
    pub long_queue: QueueSnapshot,
    pub short_queue: QueueSnapshot,
}

impl MarketSnapshot {
    /// Slots allocated to an owner (open, or closed by ADL with a payout to claim).
    pub fn allocated_slots(&self) -> impl Iterator<Item = (u32, &PositionSlot)> {
        self.book
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_allocated())
            .map(|(i, s)| (i as u32, s))
    }

    /// Active ADL events with their ring index.
    pub fn active_events(&self) -> impl Iterator<Item = (usize, &AdlEvent)> {
        self.market
            .adl_events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.status == EVENT_ACTIVE)
    }

    /// What a leverage drain of active event `index` begun now would do, computed in one
    /// pass as the program does over several transactions (`adl::drain_optimum`): the level
    /// (bps) and `(slot, cut)` for every position of its region, most leveraged first. For
    /// display and planning: the program finds the level itself.
    pub fn drain_plan(&self, index: usize) -> (u64, Vec<(u32, u64)>) {
        let ev = self.market.adl_events[index];
        let q = if ev.side == SIDE_LONG {
            &self.short_queue
        } else {
            &self.long_queue
        };
        let slots = &self.book.slots;
        adl_engine::adl::drain_optimum(
            &q.by_leverage,
            |s| slots.get(s as usize),
            self.market.cumulative_funding,
            ev.exec_price,
            ev.exec_price,
            ev.base_remaining,
        )
        .unwrap_or_default()
    }

    /// Slots that still owe an active pro-rata event its obligation.
    pub fn pending_pro_rata_slots(&self, index: usize) -> Vec<u32> {
        let ev = &self.market.adl_events[index];
        self.book
            .slots
            .iter()
            .enumerate()
            .filter(|(_, p)| adl_engine::engine::obligation_pending(ev, p))
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// The next counterparties of an active ranked event, as a keeper submits them (at most
    /// `max`), computed with the program's own rank walk from the event's saved cursors.
    pub fn next_adl_counterparties(
        &self,
        index: usize,
        max: usize,
    ) -> Vec<adl_engine::adl::PlannedFill> {
        self.adl_plan(index, max).fills
    }

    /// The next `auto_deleverage` transaction of a ranked event exactly as the program will
    /// run it: the walk resumes from the event's cursors and stops at `ADL_WALK_CAP` entries
    /// read, so a plan never exceeds the cap. `capped` with no fills: submit an empty proof
    /// (progress only); `reads` is the work the transaction will do.
    pub fn adl_plan(&self, index: usize, max: usize) -> AdlPlan {
        let ev = self.market.adl_events[index];
        let q = if ev.side == SIDE_LONG {
            &self.short_queue
        } else {
            &self.long_queue
        };
        let mut walk = adl_engine::adl::RankWalk::resume(
            &q.by_leverage,
            |s| self.book.slots.get(s as usize),
            self.market.cumulative_funding,
            ev.exec_price,
            &self.market.adl_walks[index],
            ev.walk_flags,
            ev.base_remaining,
            ADL_WALK_CAP,
        );
        let mut fills = Vec::new();
        while fills.len() < max {
            match walk.next_fill() {
                Some(f) => fills.push(f),
                None => break,
            }
        }
        AdlPlan {
            fills,
            capped: walk.capped,
            reads: walk.reads,
        }
    }

    pub fn queue(&self, side: u8) -> &QueueSnapshot {
        if side == SIDE_LONG {
            &self.long_queue
        } else {
            &self.short_queue
        }
    }
}

/// One planned `auto_deleverage` transaction (`MarketSnapshot::adl_plan`).
#[derive(Clone, Debug, Default)]
pub struct AdlPlan {
    pub fills: Vec<adl_engine::adl::PlannedFill>,
    /// The walk stopped at `ADL_WALK_CAP` entries: an empty plan is a progress-only call.
    pub capped: bool,
    /// Queue entries the walk reads (the transaction's work, binary searches aside).
    pub reads: usize,
}
