//! The ranked ADL walk, shared by the program (to verify a keeper's `RankProof`) and by the
//! keeper and tests (to compute the next counterparties). Pure: reads queue arrays and
//! slots, allocates at most one entry per fill.
//!
//! ADL rank of the counterparty side at `P_exec`:
//! 1. tier 1 — eligible positions in profit at `P_exec`, in `by_leverage` order;
//! 2. tier 2 — the other eligible positions, in `by_leverage` order, only once tier 1 is
//!    exhausted (checked from the head of `by_entry`, the most profitable first).
//!
//! A position is eligible when it is not flagged bankrupt and its fill at `P_exec` (the whole
//! position, or the rest of the event's size) leaves it with non-negative equity and margin.

use crate::error::AdlError;
use crate::math::{self, FillOutcome, PositionAmounts};
use crate::state::{PositionSlot, QueueEntry};

/// One planned ADL fill against a counterparty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedFill {
    pub slot: u32,
    /// Base atoms closed (absolute).
    pub base: u64,
    /// Fill notional, rounded against the counterparty.
    pub notional: u64,
    /// Counterparty amounts after funding settlement and the fill.
    pub after: PositionAmounts,
    /// Funding the counterparty settles first.
    pub funding: i128,
    pub outcome: FillOutcome,
    /// Tier it was taken from (1 or 2).
    pub tier: u8,
}

/// Why a counterparty cannot be filled now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not open, flagged bankrupt, or negative equity at `P_exec`: stays ineligible for the
    /// whole event (none of these depend on the size still to fill).
    Permanent,
    /// The fill of the size still to fill would leave a negative margin (rounding on a
    /// partial fill of a nearly empty margin): may become eligible for a smaller size.
    ThisSize,
}

/// Dry-runs the fill of a counterparty at `exec_price` for up to `remaining` base atoms.
pub fn plan_fill(
    slot: u32,
    pos: &PositionSlot,
    funding_index: i64,
    exec_price: u64,
    remaining: u64,
) -> Result<PlannedFill, Skip> {
    if !pos.is_open() || pos.bankrupt_since_slot != 0 {
        return Err(Skip::Permanent);
    }
    let funding = math::funding_owed(pos.base, funding_index, pos.funding_snapshot)
        .map_err(|_| Skip::Permanent)?;
    let settled_margin = math::sub(pos.margin as i128, funding)
        .and_then(math::to_i64)
        .map_err(|_| Skip::Permanent)?;
    let eq = math::equity(pos.base, pos.cost_basis, settled_margin, 0, 0, exec_price)
        .map_err(|_| Skip::Permanent)?;
    if eq < 0 {
        return Err(Skip::Permanent);
    }
    let is_long = pos.base > 0;
    let base = pos.base.unsigned_abs().min(remaining);
    if base == 0 {
        return Err(Skip::ThisSize);
    }
    let notional = math::close_notional(is_long, base, exec_price).map_err(|_| Skip::ThisSize)?;
    let mut after = PositionAmounts {
        base: pos.base,
        cost_basis: pos.cost_basis,
        margin: settled_margin,
    };
    let delta = if is_long { -(base as i64) } else { base as i64 };
    let outcome = math::apply_fill(&mut after, delta, notional).map_err(|_| Skip::ThisSize)?;
    let entry = math::entry_price(pos.base, pos.cost_basis).map_err(|_| Skip::Permanent)?;
    let tier = if math::in_profit(is_long, entry, exec_price) {
        1
    } else {
        2
    };
    Ok(PlannedFill {
        slot,
        base,
        notional,
        after,
        funding,
        outcome,
        tier,
    })
}

/// Walks one side's queue in ADL rank order. Each step returns the first entry of
/// `by_leverage` that is untaken, eligible for the size still to fill, and in the current
/// tier (tier 1 while any eligible untaken position is in profit, checked from the head of
/// `by_entry`). Leading entries that can never be taken again are passed over once
/// (cursors), so a batch of `k` fills reads `O(k + skipped)` entries.
pub struct RankWalk<'a, F: Fn(u32) -> Option<&'a PositionSlot>> {
    by_leverage: &'a [QueueEntry],
    by_entry: &'a [QueueEntry],
    slot: F,
    funding_index: i64,
    exec_price: u64,
    remaining: u64,
    taken: Vec<u32>,
    lev_cursor: usize,
    entry_cursor: usize,
    /// Queue entries read so far (cost evidence).
    pub reads: usize,
}

impl<'a, F: Fn(u32) -> Option<&'a PositionSlot>> RankWalk<'a, F> {
    pub fn new(
        by_leverage: &'a [QueueEntry],
        by_entry: &'a [QueueEntry],
        slot: F,
        funding_index: i64,
        exec_price: u64,
        remaining: u64,
    ) -> Self {
        RankWalk {
            by_leverage,
            by_entry,
            slot,
            funding_index,
            exec_price,
            remaining,
            taken: Vec::new(),
            lev_cursor: 0,
            entry_cursor: 0,
            reads: 0,
        }
    }

    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    fn plan(&self, e: &QueueEntry) -> Result<PlannedFill, Skip> {
        let s = e.slot();
        if self.taken.contains(&s) {
            return Err(Skip::Permanent);
        }
        let pos = (self.slot)(s).ok_or(Skip::Permanent)?;
        plan_fill(s, pos, self.funding_index, self.exec_price, self.remaining)
    }

    /// Scans `arr` from `*cursor`, advancing the cursor over permanently skipped entries,
    /// and returns the first plan accepted by `want`.
    fn scan(&mut self, by_entry: bool, want: impl Fn(&PlannedFill) -> bool) -> Option<PlannedFill> {
        let arr = if by_entry {
            self.by_entry
        } else {
            self.by_leverage
        };
        let mut i = if by_entry {
            self.entry_cursor
        } else {
            self.lev_cursor
        };
        let mut leading = true;
        while i < arr.len() {
            self.reads += 1;
            let r = self.plan(&arr[i]);
            if leading && r == Err(Skip::Permanent) {
                if by_entry {
                    self.entry_cursor = i + 1;
                } else {
                    self.lev_cursor = i + 1;
                }
            } else {
                leading = false;
            }
            if let Ok(p) = r {
                if want(&p) {
                    return Some(p);
                }
            }
            i += 1;
        }
        None
    }

    /// The next counterparty in ADL rank, or `None` when the event's size is used up or no
    /// eligible position is left.
    pub fn next_fill(&mut self) -> Option<PlannedFill> {
        if self.remaining == 0 {
            return None;
        }
        // The most profitable eligible position decides whether tier 1 is non-empty.
        let tier = match self.scan(true, |_| true) {
            Some(p) => p.tier,
            None => return None,
        };
        let p = self.scan(false, |p| p.tier == tier)?;
        self.taken.push(p.slot);
        self.remaining -= p.base;
        Some(p)
    }
}

/// Why a `RankProof` was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofError {
    /// `slots[position]` is `given`, but `expected` is next in rank.
    WrongCounterparty {
        position: usize,
        given: u32,
        expected: u32,
    },
    /// The proof lists more slots than the event needs or than are eligible.
    TooLong {
        position: usize,
    },
    Empty,
}

impl From<ProofError> for AdlError {
    fn from(e: ProofError) -> Self {
        match e {
            ProofError::WrongCounterparty { .. } => AdlError::WrongAdlCounterparty,
            ProofError::TooLong { .. } => AdlError::AdlProofTooLong,
            ProofError::Empty => AdlError::AdlProofEmpty,
        }
    }
}

/// Checks that `slots` are exactly the next counterparties in ADL rank and returns their
/// fills in order.
pub fn verify_proof<'a, F: Fn(u32) -> Option<&'a PositionSlot>>(
    walk: &mut RankWalk<'a, F>,
    slots: &[u32],
) -> Result<Vec<PlannedFill>, ProofError> {
    if slots.is_empty() {
        return Err(ProofError::Empty);
    }
    let mut fills = Vec::with_capacity(slots.len());
    for (position, &given) in slots.iter().enumerate() {
        match walk.next_fill() {
            None => return Err(ProofError::TooLong { position }),
            Some(p) if p.slot != given => {
                return Err(ProofError::WrongCounterparty {
                    position,
                    given,
                    expected: p.slot,
                })
            }
            Some(p) => fills.push(p),
        }
    }
    Ok(fills)
}
