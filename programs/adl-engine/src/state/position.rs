use anchor_lang::prelude::*;
use core::mem::{align_of, size_of};

use crate::error::AdlError;
use crate::math::{self, PositionAmounts};
use crate::state::queue::QueueEntry;
use crate::state::{SIDE_LONG, SIDE_SHORT};

/// Slot status values.
pub const SLOT_FREE: u8 = 0;
pub const SLOT_OPEN: u8 = 1;
/// Closed by ADL; holds the owner's payout until it is claimed.
pub const SLOT_ADL_CLOSED: u8 = 2;

/// Marks "no slot" in free lists and references.
pub const NIL: u32 = u32::MAX;

/// One position of a market (isolated margin). 104 bytes.
///
/// ABI (offsets within the slot): `owner` @0, `base` @32, `cost_basis` @40, `margin` @48,
/// `funding_snapshot` @56, `adl_payout` @64, `open_seq` @72, `last_touch_seq` @80,
/// `bankrupt_since_slot` @88, `status` @96, `flags` @97, `next_free` @100.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PositionSlot {
    /// Wallet that owns the position (the `UserAccount` is PDA `["user", exchange, owner]`).
    pub owner: Pubkey,
    /// Signed size `q`, base atoms (long > 0).
    pub base: i64,
    /// Signed cost basis `B_q = q·E/BASE`, quote atoms (negative for shorts).
    pub cost_basis: i64,
    /// Isolated margin `C`, quote atoms (negative only after funding exceeded it).
    pub margin: i64,
    /// Funding snapshot `F_i`, price atoms.
    pub funding_snapshot: i64,
    /// ADL payout owed to the owner, quote atoms.
    pub adl_payout: u64,
    /// Open sequence number (older first in the queues).
    pub open_seq: u64,
    /// Market touch sequence of the last change (`Market::touch_seq`): orders changes
    /// against ADL events' starts (a pro-rata obligation is pending while this is older).
    pub last_touch_seq: u64,
    /// Slot at which the position was first seen bankrupt (0: not flagged).
    pub bankrupt_since_slot: u64,
    /// `SLOT_FREE`, `SLOT_OPEN` or `SLOT_ADL_CLOSED`.
    pub status: u8,
    pub flags: u8,
    pub padding: [u8; 2],
    /// Next free slot in the free list (`NIL` at the end).
    pub next_free: u32,
}

const _: () = assert!(size_of::<PositionSlot>() == 104);
const _: () = assert!(align_of::<PositionSlot>() == 8);

impl PositionSlot {
    pub fn is_open(&self) -> bool {
        self.status == SLOT_OPEN && self.base != 0
    }

    /// Allocated to an owner (open, or closed by ADL with a payout to claim).
    pub fn is_allocated(&self) -> bool {
        self.status != SLOT_FREE
    }

    pub fn side(&self) -> u8 {
        if self.base > 0 {
            SIDE_LONG
        } else {
            SIDE_SHORT
        }
    }

    pub fn amounts(&self) -> PositionAmounts {
        PositionAmounts {
            base: self.base,
            cost_basis: self.cost_basis,
            margin: self.margin,
        }
    }

    pub fn set_amounts(&mut self, a: PositionAmounts) {
        self.base = a.base;
        self.cost_basis = a.cost_basis;
        self.margin = a.margin;
    }

    /// Equity at `price` with the market's funding index.
    pub fn equity(&self, funding_index: i64, price: u64) -> Result<i128> {
        Ok(math::equity(
            self.base,
            self.cost_basis,
            self.margin,
            funding_index,
            self.funding_snapshot,
            price,
        )?)
    }

    /// Settles funding into the market's pool: `C −= f`, `F_i = F`. Returns `f`.
    pub fn settle_funding(&mut self, funding_index: i64, funding_pool: &mut i64) -> Result<i128> {
        let f = math::funding_owed(self.base, funding_index, self.funding_snapshot)?;
        self.margin = math::to_i64(math::sub(self.margin as i128, f)?)?;
        *funding_pool = math::to_i64(math::add(*funding_pool as i128, f)?)?;
        self.funding_snapshot = funding_index;
        Ok(f)
    }

    /// The two queue entries of an open position: (`by_leverage`, `by_entry`).
    /// The sub-atom part of the rank key, for exact ordering of equal stored keys.
    pub fn key_frac(&self) -> Result<math::KeyFrac> {
        Ok(math::rank_key_frac(
            self.base,
            self.cost_basis,
            self.margin,
        )?)
    }

    pub fn queue_entries(&self, slot: u32) -> Result<(u8, QueueEntry, QueueEntry)> {
        require!(self.is_open(), AdlError::SlotNotOpen);
        let is_long = self.base > 0;
        let order = math::queue_order(self.open_seq, slot)?;
        let k = math::rank_key(
            self.base,
            self.cost_basis,
            self.margin,
            self.funding_snapshot,
        )?;
        let e = math::entry_price(self.base, self.cost_basis)?;
        Ok((
            self.side(),
            QueueEntry {
                key: math::leverage_sort_key(is_long, k),
                order,
            },
            QueueEntry {
                key: math::entry_sort_key(is_long, e),
                order,
            },
        ))
    }
}
