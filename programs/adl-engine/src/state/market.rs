use anchor_lang::prelude::*;
use core::mem::{align_of, size_of};

use crate::error::AdlError;

/// Per-market risk parameters (part of the `Market` account; `MarketParamsArgs` is the
/// instruction-argument form).
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MarketParams {
    /// Initial margin ratio, bps of notional. Must exceed `mmr_bps`.
    pub imr_bps: u32,
    /// Maintenance margin ratio, bps of notional.
    pub mmr_bps: u32,
    /// Taker fee, bps of fill notional.
    pub taker_fee_bps: u32,
    /// Maker fee, bps of fill notional.
    pub maker_fee_bps: u32,
    /// Liquidation fee, bps of the notional taken over (at most `mmr_bps`).
    pub liquidation_fee_bps: u32,
    /// Share of the liquidation fee paid to the insurance fund, bps of the fee.
    pub liquidation_fee_to_fund_bps: u32,
    /// Trade prices must lie within this band around the oracle price, bps.
    pub oracle_band_bps: u32,
    /// Maximum oracle confidence as a share of price, bps.
    pub max_oracle_conf_bps: u32,
    /// Maximum oracle age, slots.
    pub max_oracle_staleness_slots: u64,
    /// Cap on the insurance fund's payment per bankruptcy event, quote atoms.
    pub max_insurance_per_event: u64,
    /// Slots a bankrupt position may wait for a liquidator before ADL may start.
    pub bankruptcy_grace_slots: u64,
    /// Slots after which a ranked ADL event may be switched to pro-rata.
    pub adl_deadline_slots: u64,
    /// Funding period, slots: a premium of `r` bps held for one period moves the funding
    /// index by `r` bps of the oracle price.
    pub funding_period_slots: u64,
    /// Bound on the funding premium, bps per period.
    pub max_funding_rate_bps: u32,
    pub params_padding: u32,
    /// Smallest trade, base atoms (> 0): no dust trade can set the mark for free.
    pub min_trade_base: u64,
    /// Smallest open position a trade or liquidation may leave, base atoms.
    pub min_position_base: u64,
}

const _: () = assert!(size_of::<MarketParams>() == 96);
const _: () = assert!(align_of::<MarketParams>() == 8);

/// Upper bound of `funding_period_slots` (keeps the carried funding remainder in `i64`:
/// it is below `1e4·PREMIUM_ACC_SCALE·period`).
pub const MAX_FUNDING_PERIOD_SLOTS: u64 = 1_000_000_000;

/// Instruction-argument form of `MarketParams`.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarketParamsArgs {
    pub imr_bps: u32,
    pub mmr_bps: u32,
    pub taker_fee_bps: u32,
    pub maker_fee_bps: u32,
    pub liquidation_fee_bps: u32,
    pub liquidation_fee_to_fund_bps: u32,
    pub oracle_band_bps: u32,
    pub max_oracle_conf_bps: u32,
    pub max_oracle_staleness_slots: u64,
    pub max_insurance_per_event: u64,
    pub bankruptcy_grace_slots: u64,
    pub adl_deadline_slots: u64,
    pub funding_period_slots: u64,
    pub max_funding_rate_bps: u32,
    pub min_trade_base: u64,
    pub min_position_base: u64,
}

impl MarketParamsArgs {
    /// Validates ranges and converts to the stored form.
    pub fn validated(&self) -> Result<MarketParams> {
        let ok = self.mmr_bps > 0
            && self.mmr_bps < self.imr_bps
            && self.imr_bps <= 10_000
            && self.taker_fee_bps <= 1_000
            && self.maker_fee_bps <= 1_000
            && self.liquidation_fee_bps <= self.mmr_bps
            && self.liquidation_fee_to_fund_bps <= 10_000
            && self.oracle_band_bps > 0
            && self.oracle_band_bps <= 5_000
            && self.max_oracle_conf_bps <= 10_000
            && self.max_oracle_staleness_slots > 0
            && self.adl_deadline_slots > 0
            && self.funding_period_slots > 0
            && self.funding_period_slots <= MAX_FUNDING_PERIOD_SLOTS
            && self.max_funding_rate_bps <= 1_000
            && self.min_trade_base > 0;
        require!(ok, AdlError::InvalidMarketParams);
        Ok(MarketParams {
            imr_bps: self.imr_bps,
            mmr_bps: self.mmr_bps,
            taker_fee_bps: self.taker_fee_bps,
            maker_fee_bps: self.maker_fee_bps,
            liquidation_fee_bps: self.liquidation_fee_bps,
            liquidation_fee_to_fund_bps: self.liquidation_fee_to_fund_bps,
            oracle_band_bps: self.oracle_band_bps,
            max_oracle_conf_bps: self.max_oracle_conf_bps,
            max_oracle_staleness_slots: self.max_oracle_staleness_slots,
            max_insurance_per_event: self.max_insurance_per_event,
            bankruptcy_grace_slots: self.bankruptcy_grace_slots,
            adl_deadline_slots: self.adl_deadline_slots,
            funding_period_slots: self.funding_period_slots,
            max_funding_rate_bps: self.max_funding_rate_bps,
            params_padding: 0,
            min_trade_base: self.min_trade_base,
            min_position_base: self.min_position_base,
        })
    }
}

/// ADL policies (`Market::adl_mode`).
pub const ADL_MODE_RANKED_QUEUE: u8 = 0;
pub const ADL_MODE_PRO_RATA: u8 = 1;
pub const ADL_MODE_LEVERAGE_DRAIN: u8 = 2;

/// ADL event status values.
pub const EVENT_EMPTY: u8 = 0;
pub const EVENT_ACTIVE: u8 = 1;
pub const EVENT_DONE: u8 = 2;

/// Events one market can hold at once (a ring: finished events are overwritten).
pub const ADL_EVENT_RING: usize = 8;

/// `AdlEvent::walk_flags`: the ranked walk passed the whole side in tier 1 (every position
/// then found takeable in tier 1 is served at once, wherever it is in the queue).
pub const WALK_TIER1_DONE: u8 = 1;
/// `AdlEvent::walk_flags`: the ranked walk passed the whole side in tier 2 as well (the event
/// is starved: nothing eligible was left; every position that becomes takeable is served at
/// once).
pub const WALK_TIER2_DONE: u8 = 2;
/// `AdlEvent::walk_flags`: the deadline fallback to pro-rata was used (at most once per event).
pub const WALK_FALLBACK_USED: u8 = 4;

/// A bankruptcy being resolved by ADL. The bankrupt position moved here ("escrow"): its
/// remaining size still counts in open interest on its side, its cost basis in the cost
/// bases, and `escrow_cash` (its margin plus the fund's payment plus fill proceeds) in the
/// conservation equation. 160 bytes.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AdlEvent {
    /// Owner of the bankrupt position.
    pub owner: Pubkey,
    /// Unique per market (`Market::next_event_id`).
    pub id: u64,
    /// Size of the bankrupt position, base atoms (absolute).
    pub base_total: u64,
    /// Size still to be deleveraged, base atoms (absolute).
    pub base_remaining: u64,
    /// Execution price `P_exec`, price atoms.
    pub exec_price: u64,
    /// Oracle price when the event started.
    pub oracle_price: u64,
    pub start_slot: u64,
    /// After this slot a ranked event may be switched to pro-rata.
    pub deadline_slot: u64,
    /// What the insurance fund paid into the event, quote atoms.
    pub fund_paid: u64,
    /// Cost basis of the escrowed position (signed, unchanged until the event completes).
    pub escrow_cost: i64,
    /// Margin + fund payment + fill proceeds of the escrow (signed), quote atoms.
    pub escrow_cash: i64,
    /// Side of the bankrupt position (`SIDE_LONG`/`SIDE_SHORT`); counterparties are the other side.
    pub side: u8,
    /// `EVENT_*`.
    pub status: u8,
    /// `ADL_MODE_*` this event runs in.
    pub mode: u8,
    /// `WALK_*` bits: the ranked walk's exhausted tiers, and whether the deadline fallback
    /// to pro-rata was used (it may be, once per event).
    pub walk_flags: u8,
    /// Fills so far.
    pub fills: u32,
    /// Pro-rata: positions opened before this open sequence are affected…
    pub start_pos_seq: u64,
    /// …and not touched since this touch sequence (their obligation is still pending).
    pub start_touch_seq: u64,
    /// Pro-rata: the size spread over the counterparty side, base atoms.
    pub pro_rata_base: u64,
    /// Pro-rata: the counterparty side's open interest when it started, base atoms.
    pub pro_rata_oi: u64,
    /// Pro-rata: obligations not yet applied.
    pub pending: u32,
    /// Funding the escrow has paid beyond the exact amount, in quote atoms × 1e-9
    /// (`< BASE_PRECISION`): each funding update charges the escrow `ceil((q·ΔF − prepaid)/BASE)`
    /// and carries the over-payment here, so over the event's life it pays the exact funding
    /// plus less than one atom (`math::escrow_funding_carried`).
    pub funding_prepaid: u32,
}

const _: () = assert!(size_of::<AdlEvent>() == 160);

/// Progress of a ranked ADL event's walk, kept across transactions (`Market::adl_walks`,
/// parallel to `adl_events`). 16 bytes.
///
/// `cursor[t-1]` indexes the counterparty side's `by_leverage` array: every entry before it
/// was found not takeable in tier `t` when the walk passed it (taken, of the other tier, or
/// ineligible at `P_exec`), so no transaction reads it again. Kept valid by the queue
/// changes themselves (`MarketState`): an entry removed before a cursor moves it back by one;
/// an entry inserted before it moves it forward by one when the new position is not
/// takeable in that tier, or back to the insertion point when it is (it is next in rank).
///
/// `tier_price` is `P_exec` when the event started: tier 1 is "in profit at `tier_price`".
/// It stays fixed while funding moves `P_exec` (by the escrow's funding, a few bps per
/// period), so a position's tier changes only when the position itself changes.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AdlWalk {
    pub tier_price: u64,
    pub cursor: [u32; 2],
}

const _: () = assert!(size_of::<AdlWalk>() == 16);

impl AdlWalk {
    /// The tier price, or `exec_price` for an event whose walk was never initialised (an
    /// event started before walks were kept: its `adl_walks` entry is zero).
    pub fn tier_price_or(&self, exec_price: u64) -> u64 {
        if self.tier_price == 0 {
            exec_price
        } else {
            self.tier_price
        }
    }
}

/// `AdlDrain::phase`: no drain in progress (anyone starts one with `adl_drain_begin`).
pub const DRAIN_IDLE: u8 = 0;
/// `AdlDrain::phase`: measuring the region from the head of `by_leverage` (water-filling),
/// at most `ADL_DRAIN_READ_CAP` entries per transaction.
pub const DRAIN_MEASURING: u8 = 1;
/// `AdlDrain::phase`: the level is known; the region's positions are reduced from the head,
/// at most `ADL_DRAIN_BATCH` per transaction.
pub const DRAIN_APPLYING: u8 = 2;
/// `AdlDrain::phase`: the forward pass found the region's end; the cursor moves back over
/// its tail, taking out positions that are not above the level of what remains (they joined
/// while the region did not yet cover the event, before positions that entered in front of
/// them raised it), at most `ADL_DRAIN_READ_CAP` entries per transaction.
pub const DRAIN_TRIMMING: u8 = 3;

/// Highest leverage-drain level, bps (10,000x).
pub const MAX_DRAIN_LEVEL_BPS: u64 = 100_000_000;

/// Most queue entries one measuring `adl_drain_step` reads: each costs an exact equity and a
/// 128-bit comparison (about 550 x86-64 instructions against 64 for an entry the ranked walk
/// passes: docs/BENCHMARKS.md), so the measuring pass reads half what the ranked walk does
/// per transaction.
pub const ADL_DRAIN_READ_CAP: usize = 1_024;

/// Most positions one `adl_drain_step` reduces.
pub const ADL_DRAIN_BATCH: usize = 32;

/// `AdlDrain::flags`: the whole eligible side was measured without covering the event
/// (`S < Q`): the drain closes every eligible position and the rest continues in rank order.
pub const DRAIN_SIDE_SHORT: u8 = 1;
/// `AdlDrain::flags`: the forward pass reached the end of the side.
pub const DRAIN_REACHED_END: u8 = 2;

/// Progress of a leverage drain split over transactions (`Market::adl_drains`, parallel to
/// `adl_events`). 64 bytes.
///
/// The program finds the level itself (`adl::drain`): nobody supplies it, so nobody can pick
/// a wrong one.
/// 1. **measuring**: `cursor` walks the eligible part of `by_leverage` from the head; each
///    position that joins the region (`adl::drain_joins`) adds its size and drain equity to
///    `sum_base` and `sum_equity`; a position change before the cursor takes its old terms
///    out and puts its new ones in, so the sums are always those of the prefix before the
///    cursor. At the first position that does not join (or the end of the side) the pass
///    turns back (**trimming**): positions at the tail that are not above the level of the
///    rest (`!adl::drain_joins` against the sums without them) leave the sums — they joined
///    while the sums did not yet cover the event, before positions entering in front of them
///    raised the level. Where the tail stays, the level is fixed (`adl::drain_level`) and the
///    region is `[start, cursor)`; then
/// 2. **applying**: `cursor` walks the region again from its start to `end`, cutting each
///    position to the level (capped by what the event still needs). A position that its
///    owner changes while still ahead in the region is cut first (`apply_user_drains`); one
///    that moves in front of the cursor while above the level is cut before the instruction
///    ends (`serve_drain_arrivals`). If the region is used up with size left (positions
///    reduced by other events or liquidated meanwhile), the drain measures again.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AdlDrain {
    /// The level `ℓ`, bps of leverage (set when measuring ends).
    pub level_bps: u64,
    /// Price at which leverage and target sizes are measured: `P_exec` when the drain began
    /// (funding moves `P_exec` afterwards; the fills execute at the current `P_exec`).
    pub price: u64,
    /// Measuring: `S`, total size of the region so far, base atoms.
    pub sum_base: u64,
    /// Measuring: `E`, total drain equity of the region so far, quote atoms.
    pub sum_equity: u64,
    /// Measuring: index of the next `by_leverage` entry to read. Applying: index of the next
    /// position of the region to reduce. Kept on its entry by every queue change.
    pub cursor: u32,
    /// Applying: end of the region (exclusive). Kept on its entry by every queue change.
    pub end: u32,
    /// Positions in the region (measured so far, or in all when applying).
    pub measured: u32,
    /// Measuring passes this event's drain has begun (a pass measures again only after the
    /// region was used up by changes the drain does not control).
    pub passes: u16,
    /// `DRAIN_*`.
    pub phase: u8,
    /// `DRAIN_SIDE_SHORT`, `DRAIN_REACHED_END`.
    pub flags: u8,
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AdlDrain>() == 64);

/// Most queue entries one `auto_deleverage` walk reads (entries passed over and entries
/// filled; binary searches not counted). A transaction that reaches it fills what it found,
/// saves its cursors on the event and succeeds, so the event always advances: a keeper
/// submits the fills found within the cap (or none: a progress-only transaction).
pub const ADL_WALK_CAP: usize = 2_048;

/// A perpetual market. Seeds: `["market", exchange, index u16 LE]`.
///
/// ABI (offsets from the start of account data, discriminator at 0): `exchange` @8,
/// `oracle` @40, `book` @72, `long_queue` @104, `short_queue` @136, `params` @168,
/// `open_interest_long` @264, `open_interest_short` @272, `cumulative_funding` @280,
/// `funding_pool` @288, `fee_pool` @296, `rounding_sink` @304, `next_position_seq` @312,
/// `last_funding_slot` @320, `num_positions` @328, `market_index` @332, `bump` @334,
/// `adl_mode` @335, `oracle_kind` @336, `next_event_id` @344, `adl_events` @352 (8 × 160),
/// `mark_price` @1632, `touch_seq` @1640, `funding_window` @1648, `premium_since_slot` @1656,
/// `window_notional` @1664, `premium_acc` @1672, `funding_carry` @1680,
/// `flagged_positions` @1688, `adl_walks` @1696 (8 × 16), `max_oracle_age_secs` @1824,
/// `oracle_feed_id` @1832, `adl_drains` @1864 (8 × 64), `window_premium` @2376,
/// `prev_window_premium` @2384, `prev_window_notional` @2392, `worst_long_key` @2400,
/// `worst_short_key` @2408, `reserved` @2416.
#[account(zero_copy)]
#[derive(Debug)]
pub struct Market {
    pub exchange: Pubkey,
    pub oracle: Pubkey,
    /// The market's `PositionBook` account.
    pub book: Pubkey,
    /// `AdlQueue` of long positions.
    pub long_queue: Pubkey,
    /// `AdlQueue` of short positions.
    pub short_queue: Pubkey,
    pub params: MarketParams,
    /// Open interest of longs, base atoms.
    pub open_interest_long: u64,
    /// Open interest of shorts, base atoms.
    pub open_interest_short: u64,
    /// Cumulative funding index `F`, price atoms (quote atoms per whole base unit).
    pub cumulative_funding: i64,
    /// Funding settled by positions and not yet paid out, quote atoms (signed).
    pub funding_pool: i64,
    /// Trading fees collected, quote atoms.
    pub fee_pool: u64,
    /// Rounding remainders kept for solvency, quote atoms.
    pub rounding_sink: u64,
    /// Sequence number given to the next opened position (queue tie-break: older first).
    pub next_position_seq: u64,
    /// Slot of the last funding update.
    pub last_funding_slot: u64,
    /// Open positions in the book.
    pub num_positions: u32,
    pub market_index: u16,
    pub bump: u8,
    /// `ADL_MODE_*`.
    pub adl_mode: u8,
    /// `ORACLE_KIND_*`.
    pub oracle_kind: u8,
    pub padding: [u8; 7],
    /// Id given to the next ADL event.
    pub next_event_id: u64,
    /// Ring of ADL events.
    pub adl_events: [AdlEvent; ADL_EVENT_RING],
    /// Price of the last trade, price atoms (display; funding uses the windows' weighted
    /// premium).
    pub mark_price: u64,
    /// Counter of position changes (each change stamps the slot's `last_touch_seq`).
    pub touch_seq: u64,
    /// Funding window the `window_*` sums belong to: `slot / funding_period_slots`. Trades of
    /// window `w` set the funding rate of window `w + 1` (`math::window_accrual`).
    pub funding_window: u64,
    /// Slot up to which the premium has been accrued.
    pub premium_since_slot: u64,
    /// Notional traded in the current window, quote atoms (saturating).
    pub window_notional: u64,
    /// Premium accrued since the last funding update, bps·slots × `math::PREMIUM_ACC_SCALE`.
    pub premium_acc: i64,
    /// Remainder of the last funding update's division, carried into the next (units:
    /// price atoms · 1e4 · slots), so rounding never erases funding.
    pub funding_carry: i64,
    /// Positions of this market carrying a bankruptcy flag: a loss the insurance fund may
    /// have to take is visible on-chain while this is non-zero (unstaking waits for it).
    pub flagged_positions: u32,
    pub padding2: u32,
    /// Walk progress of each ranked event, parallel to `adl_events`.
    pub adl_walks: [AdlWalk; ADL_EVENT_RING],
    /// Pyth oracle (`ORACLE_KIND_PYTH`): the oldest accepted `publish_time`, seconds before
    /// the cluster's clock.
    pub max_oracle_age_secs: u64,
    /// Pyth oracle: the feed id the `PriceUpdateV2` account must carry.
    pub oracle_feed_id: [u8; 32],
    /// Progress of each leverage-drain event, parallel to `adl_events`.
    pub adl_drains: [AdlDrain; ADL_EVENT_RING],
    /// Σ premium weights (`math::premium_weight`) of the current window's trades, quote atoms.
    pub window_premium: i64,
    /// The previous window's Σ premium weights: they set the rate now.
    pub prev_window_premium: i64,
    /// The previous window's notional.
    pub prev_window_notional: u64,
    /// Rank key `K` (`math::rank_key`, bankruptcy price less the funding index) of the first
    /// long in `by_leverage` — the long closest to bankruptcy — or `i64::MIN` with no long;
    /// kept by every instruction (`MarketState::finish`). A long is bankrupt at `P` only if
    /// `P ≤ K + F` (`K` rounds down), so unstaking knows in O(1) whether any is.
    pub worst_long_key: i64,
    /// `K` of the first short in `by_leverage`, or `i64::MAX` with no short (a short is
    /// bankrupt at `P` only if `P > K + F`).
    pub worst_short_key: i64,
    pub reserved: [u64; 3],
}

const _: () = assert!(size_of::<Market>() == 2432);
const _: () = assert!(align_of::<Market>() == 8);

impl Market {
    pub const SEED: &'static [u8] = b"market";

    pub fn queue_key(&self, side: u8) -> Pubkey {
        if side == crate::state::SIDE_LONG {
            self.long_queue
        } else {
            self.short_queue
        }
    }

    /// Index of a ring entry free for a new event (empty or finished).
    pub fn free_event_index(&self) -> Option<usize> {
        self.adl_events
            .iter()
            .position(|e| e.status != EVENT_ACTIVE)
    }

    /// Allocates the next touch-sequence number.
    pub fn take_touch_seq(&mut self) -> Result<u64> {
        let seq = self.touch_seq;
        self.touch_seq = seq.checked_add(1).ok_or(AdlError::MathOverflow)?;
        Ok(seq)
    }

    /// Whether an active pro-rata event against `side`'s counterparties still has
    /// obligations to apply (ranked and drain events on that side wait for them).
    pub fn pro_rata_pending(&self, side: u8) -> bool {
        self.adl_events.iter().any(|e| {
            e.status == EVENT_ACTIVE
                && e.mode == ADL_MODE_PRO_RATA
                && e.side == side
                && e.pending > 0
        })
    }

    /// Open interest of a side held by positions in the book (not by ADL escrows).
    pub fn book_open_interest(&self, side: u8) -> u64 {
        let total = if side == crate::state::SIDE_LONG {
            self.open_interest_long
        } else {
            self.open_interest_short
        };
        let escrowed: u64 = self
            .adl_events
            .iter()
            .filter(|e| e.status == EVENT_ACTIVE && e.side == side)
            .map(|e| e.base_remaining)
            .sum();
        total.saturating_sub(escrowed)
    }

    /// Accrues the funding premium up to `now` at `price`: each window's rate is set by the
    /// previous window's trades (`math::window_accrual`: notional-weighted premium against
    /// `k` × the open interest now), so a window with no trades before it accrues nothing.
    /// Windows are rolled as slots pass (at most three steps: two empty windows clear both).
    pub fn accrue_premium(&mut self, now: u64, price: u64) -> Result<()> {
        let period = self.params.funding_period_slots.max(1);
        let k = crate::math::funding_weight_k(
            self.params.max_funding_rate_bps,
            self.params.taker_fee_bps,
            self.params.maker_fee_bps,
        );
        let oi = crate::math::open_interest_notional(
            self.open_interest_long,
            self.open_interest_short,
            price,
        )?;
        let mut t = self.premium_since_slot;
        let mut acc = self.premium_acc as i128;
        loop {
            self.roll_window(t / period);
            if t >= now {
                break;
            }
            let end = now.min((t / period).saturating_add(1).saturating_mul(period));
            if self.prev_window_premium == 0 && self.window_premium == 0 {
                t = now; // nothing stands in this window or the next
                continue;
            }
            acc = crate::math::add(
                acc,
                crate::math::window_accrual(
                    self.prev_window_premium,
                    self.prev_window_notional,
                    k,
                    oi,
                    end - t,
                )?,
            )?;
            t = end;
        }
        self.premium_acc = crate::math::to_i64(acc)?;
        self.premium_since_slot = self.premium_since_slot.max(now);
        Ok(())
    }

    /// Moves the window sums on to window `w` (the current sums become the previous window's
    /// if `w` is the next window, else both clear).
    fn roll_window(&mut self, w: u64) {
        if w < self.funding_window {
            // The window index went back (the period was raised without `set_params`):
            // start afresh rather than wait for it to catch up.
            self.funding_window = w;
            self.window_premium = 0;
            self.window_notional = 0;
            self.prev_window_premium = 0;
            self.prev_window_notional = 0;
            return;
        }
        if w == self.funding_window {
            return;
        }
        if w == self.funding_window + 1 {
            self.prev_window_premium = self.window_premium;
            self.prev_window_notional = self.window_notional;
        } else {
            self.prev_window_premium = 0;
            self.prev_window_notional = 0;
        }
        self.window_premium = 0;
        self.window_notional = 0;
        self.funding_window = w;
    }

    /// Whether a position of either side may be bankrupt at `price`: a long only if
    /// `P ≤ K_long + F + g`, a short only if `P ≥ K_short + F − g`, where `K` is the cached head
    /// key (rounded down, the exact key is below `K + 1`) and `g = ⌈2·BASE/q_min⌉ + 1` price
    /// atoms covers the rounding of a position's equity (its funding and value terms are each
    /// rounded against it by less than one quote atom, which is `BASE/|q|` price atoms) for
    /// every position of at least `q_min = max(min_position_base, min_trade_base)` — at any
    /// place in the queue, since its exact key is at most the head's. Conservative: it may
    /// also answer yes for a position whose equity is a few atoms above zero.
    pub fn may_hold_bankrupt(&self, price: u64) -> bool {
        let q_min = self
            .params
            .min_position_base
            .max(self.params.min_trade_base)
            .max(1) as i128;
        let g = (2 * crate::math::BASE_PRECISION + q_min - 1) / q_min + 1;
        let f = self.cumulative_funding as i128;
        let p = price as i128;
        (self.worst_long_key != i64::MIN && p <= self.worst_long_key as i128 + f + g)
            || (self.worst_short_key != i64::MAX && p >= self.worst_short_key as i128 + f - g)
    }

    /// Replaces the parameters (`update_market_params`). A new funding period starts the
    /// windows afresh at `now` (the premium of the window in progress and any accrual not
    /// yet cranked are dropped: crank `update_funding` before changing the period).
    pub fn set_params(&mut self, params: MarketParams, now: u64) {
        if params.funding_period_slots != self.params.funding_period_slots {
            self.funding_window = now / params.funding_period_slots.max(1);
            self.window_premium = 0;
            self.window_notional = 0;
            self.prev_window_premium = 0;
            self.prev_window_notional = 0;
            self.premium_acc = 0;
            self.funding_carry = 0;
            self.premium_since_slot = now;
        }
        self.params = params;
    }

    /// Adds a trade to the current window (after `accrue_premium` up to the trade's slot).
    pub fn record_trade_premium(&mut self, notional: u64, premium_bps: i64) -> Result<()> {
        let w = crate::math::premium_weight(notional, premium_bps)?;
        self.window_premium = self.window_premium.saturating_add(w);
        self.window_notional = self.window_notional.saturating_add(notional);
        Ok(())
    }

    /// Whether any ADL event is active (the oracle cannot change then).
    pub fn any_event_active(&self) -> bool {
        self.adl_events.iter().any(|e| e.status == EVENT_ACTIVE)
    }

    /// Allocates the next open-sequence number.
    pub fn take_position_seq(&mut self) -> Result<u64> {
        let seq = self.next_position_seq;
        self.next_position_seq = seq.checked_add(1).ok_or(AdlError::MathOverflow)?;
        Ok(seq)
    }
}
