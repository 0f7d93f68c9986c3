//! The ADL rank of a side, as shown to traders: tier 1 (in profit at the price) in
//! `by_leverage` order, then tier 2 in `by_leverage` order; size ahead and lights. Used
//! off-chain by the keeper, the viewer and the tests (it allocates; handlers never call it).

use crate::math;
use crate::state::{PositionSlot, QueueEntry};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RankedPosition {
    /// 1-based place in the side's ADL rank.
    pub rank: u32,
    pub slot: u32,
    /// 1: in profit at the price; 2: the rest.
    pub tier: u8,
    /// Base size (absolute) of the positions ahead of this one.
    pub size_ahead: u64,
    /// 1–5, size-weighted quintile (5: first to be deleveraged).
    pub lights: u8,
}

/// Ranks one side from its `by_leverage` array. `slot` resolves an entry's slot to the
/// position; `oi` is the side's open interest (base atoms).
pub fn rank_side<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot>,
    price: u64,
    oi: u64,
) -> Vec<RankedPosition> {
    let mut tiers: [Vec<(u32, u64)>; 2] = [Vec::new(), Vec::new()];
    for e in by_leverage {
        let Some(p) = slot(e.slot()) else { continue };
        let is_long = p.base > 0;
        let entry = math::entry_price(p.base, p.cost_basis).unwrap_or(0);
        let t = if math::in_profit(is_long, entry, price) {
            0
        } else {
            1
        };
        tiers[t].push((e.slot(), p.base.unsigned_abs()));
    }
    let mut out = Vec::with_capacity(by_leverage.len());
    let mut ahead = 0u64;
    for (t, list) in tiers.iter().enumerate() {
        for &(slot, size) in list {
            out.push(RankedPosition {
                rank: out.len() as u32 + 1,
                slot,
                tier: t as u8 + 1,
                size_ahead: ahead,
                lights: math::adl_lights(ahead, size, oi),
            });
            ahead = ahead.saturating_add(size);
        }
    }
    out
}
