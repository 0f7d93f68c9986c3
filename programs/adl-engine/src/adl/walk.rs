//! The ranked ADL walk, shared by the program (to verify a keeper's `RankProof`) and by the
//! keeper and tests (to compute the next counterparties). Pure: reads queue arrays and
//! slots, allocates at most one entry per fill.
//!
//! ADL rank of the counterparty side:
//! 1. tier 1 — eligible positions in profit at the event's tier price (`P_exec` when the
//!    event started, `AdlWalk::tier_price`), in `by_leverage` order;
//! 2. tier 2 — the other eligible positions, in `by_leverage` order, only once tier 1 is
//!    exhausted (the tier-1 cursor reached the end of `by_leverage`).
//!
//! A position is eligible when its exact equity at `P_exec` (funding settled exactly) is at
//! least one quote atom (`fill::eligible`); tiers are decided exactly by cross-multiplication.
//! A bankruptcy flag plays no part (a stale flag must exempt nobody), and every eligible
//! position can be filled partially or whole (`plan_fill`).

use crate::error::AdlError;
use crate::math;
use crate::state::{PositionSlot, QueueEntry};

use super::fill::{plan_fill, tier_at, PlannedFill, Skip};

/// Walks one side's queue in ADL rank order: tier 1 (in profit at the event's tier price)
/// in `by_leverage` order, then tier 2 once tier 1 is exhausted. Each step returns the first
/// entry of `by_leverage` at or after the tier's cursor that is untaken, eligible at `P_exec`
/// and of the tier; every entry read before it is passed over for good (`AdlWalk`), so
/// across the transactions of an event each entry is passed at most once per tier, plus once
/// for every time another position change moves an entry the walk had passed behind its
/// cursor again (docs/adl.md, "Liveness"). A position that becomes takeable ahead of a cursor
/// never pulls the cursor back: it is next in rank and the instruction that changed it fills
/// it (`MarketState::serve_arrivals`). The prefix of `by_leverage` that is certainly
/// ineligible at `P_exec` is passed by one binary search. A walk reads at most `cap` entries;
/// then it stops (`capped`) and its cursors are saved.
///
/// A tier whose cursor reached the end of the array is done for the event
/// (`WALK_TIER1_DONE`, `WALK_TIER2_DONE`): it is not scanned again, and every position that
/// later becomes takeable in it is filled at once by the instruction that changed it.
pub struct RankWalk<'a, F: Fn(u32) -> Option<&'a PositionSlot>> {
    by_leverage: &'a [QueueEntry],
    slot: F,
    funding_index: i64,
    exec_price: u64,
    tier_price: u64,
    remaining: u64,
    taken: Vec<u32>,
    /// Per tier: the leading `by_leverage` entries passed over for that tier.
    cursor: [usize; 2],
    /// Per tier: the walk passed the whole array (`WALK_TIER*_DONE`).
    done: [bool; 2],
    cap: usize,
    /// The walk stopped at `cap` entries read.
    pub capped: bool,
    /// Queue entries read by the walk so far (binary searches not included).
    pub reads: usize,
}

impl<'a, F: Fn(u32) -> Option<&'a PositionSlot>> RankWalk<'a, F> {
    /// A walk that starts at the head, ranks tiers at `exec_price` and has no cap — the
    /// definition in one pass (simulator, benches, tests).
    pub fn fresh(
        by_leverage: &'a [QueueEntry],
        slot: F,
        funding_index: i64,
        exec_price: u64,
        remaining: u64,
    ) -> Self {
        Self::resume(
            by_leverage,
            slot,
            funding_index,
            exec_price,
            &crate::state::AdlWalk {
                tier_price: exec_price,
                cursor: [0, 0],
            },
            0,
            remaining,
            usize::MAX,
        )
    }

    /// The walk of an event's next transaction: from the event's saved cursors and done
    /// flags (`AdlEvent::walk_flags`), at most `cap` entries read (the program uses
    /// `ADL_WALK_CAP`).
    #[allow(clippy::too_many_arguments)]
    pub fn resume(
        by_leverage: &'a [QueueEntry],
        slot: F,
        funding_index: i64,
        exec_price: u64,
        saved: &crate::state::AdlWalk,
        flags: u8,
        remaining: u64,
        cap: usize,
    ) -> Self {
        let len = by_leverage.len();
        RankWalk {
            by_leverage,
            slot,
            funding_index,
            exec_price,
            tier_price: saved.tier_price_or(exec_price),
            remaining,
            taken: Vec::new(),
            cursor: [
                (saved.cursor[0] as usize).min(len),
                (saved.cursor[1] as usize).min(len),
            ],
            done: [
                flags & crate::state::WALK_TIER1_DONE != 0,
                flags & crate::state::WALK_TIER2_DONE != 0,
            ],
            cap,
            capped: false,
            reads: 0,
        }
        .skip_ineligible_prefix()
    }

    /// Eligibility at `P_exec` is monotone in the rank key: a long is certainly ineligible
    /// when `K > P_exec − F` (its bankruptcy price `K + F` is above `P_exec`; settling its
    /// funding only raises it), a short when `K < P_exec − F` — in sort-key terms, every
    /// entry whose key is below `F − P_exec` (longs) or `P_exec − F` (shorts). Those form a
    /// prefix of `by_leverage`, passed over with one binary search instead of one read each.
    /// (Entries just past the prefix may still be ineligible; the walk checks each exactly.)
    /// Funding moves `P_exec` and `F` together, so the prefix stays put.
    fn skip_ineligible_prefix(mut self) -> Self {
        let start = ineligible_prefix_end(
            self.by_leverage,
            &self.slot,
            self.funding_index,
            self.exec_price,
        );
        self.cursor = [self.cursor[0].max(start), self.cursor[1].max(start)];
        self
    }

    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The cursors to save on the event (`AdlWalk::cursor`).
    pub fn cursors(&self) -> [u32; 2] {
        [self.cursor[0] as u32, self.cursor[1] as u32]
    }

    /// The done bits to save on the event (`AdlEvent::walk_flags`, `WALK_TIER*_DONE`).
    pub fn done_flags(&self) -> u8 {
        let mut f = 0;
        if self.done[0] {
            f |= crate::state::WALK_TIER1_DONE;
        }
        if self.done[1] {
            f |= crate::state::WALK_TIER2_DONE;
        }
        f
    }

    /// Whether the position of `e` can be taken in tier `tier` now (untaken, of the tier at
    /// the tier price, eligible at `P_exec`), with its plan.
    fn plan(&self, e: &QueueEntry, tier: u8) -> Result<PlannedFill, Skip> {
        let s = e.slot();
        // `taken` is kept sorted: O(log k) per check, not O(k).
        if self.taken.binary_search(&s).is_ok() {
            return Err(Skip::Permanent);
        }
        crate::meter::slot(1);
        let pos = (self.slot)(s).ok_or(Skip::Permanent)?;
        // The tier is cheap to tell (entry price against the tier price): check it first.
        if tier_at(pos, self.tier_price) != Some(tier) {
            return Err(Skip::Permanent);
        }
        let mut p = plan_fill(s, pos, self.funding_index, self.exec_price, self.remaining)?;
        p.tier = tier;
        Ok(p)
    }

    /// Scans `by_leverage` for tier `tier` from its cursor and returns the first takeable
    /// entry's plan; every entry before it is passed (the cursor moves past it). `None` at
    /// the end of the array (the tier is then done) or at the cap (`capped`).
    fn scan(&mut self, tier: u8) -> Option<PlannedFill> {
        let t = tier as usize - 1;
        if self.done[t] {
            return None;
        }
        while self.cursor[t] < self.by_leverage.len() {
            if self.reads >= self.cap {
                self.capped = true;
                return None;
            }
            self.reads += 1;
            crate::meter::read(1);
            match self.plan(&self.by_leverage[self.cursor[t]], tier) {
                Ok(p) => return Some(p),
                Err(_) => self.cursor[t] += 1,
            }
        }
        self.done[t] = true;
        None
    }

    /// The next counterparty in ADL rank, or `None` when the event's size is used up, no
    /// eligible position is left, or the walk reached its cap (`capped`).
    pub fn next_fill(&mut self) -> Option<PlannedFill> {
        if self.remaining == 0 || self.capped {
            return None;
        }
        let p = match self.scan(1) {
            Some(p) => p,
            None if self.capped => return None,
            // Tier 1 exhausted: its cursor is at the end of the array.
            None => self.scan(2)?,
        };
        let at = self.taken.partition_point(|&s| s < p.slot);
        self.taken.insert(at, p.slot);
        self.remaining -= p.base;
        Some(p)
    }
}

/// End of the prefix of `by_leverage` that is certainly ineligible at `price` (see
/// `RankWalk::skip_ineligible_prefix`): one slot read and one binary search.
pub fn ineligible_prefix_end<'a>(
    by_leverage: &[QueueEntry],
    slot: &impl Fn(u32) -> Option<&'a PositionSlot>,
    funding_index: i64,
    price: u64,
) -> usize {
    let Some(first) = by_leverage.first() else {
        return 0;
    };
    crate::meter::slot(1);
    let Some(pos) = slot(first.slot()) else {
        return 0;
    };
    let (f, p) = (funding_index as i128, price as i128);
    let threshold = math::saturate_i64(if pos.base > 0 { f - p } else { p - f });
    crate::meter::search(by_leverage.len());
    by_leverage.partition_point(|e| e.key < threshold)
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
    /// The proof lists more slots than the event needs, than are eligible, or than one
    /// transaction's walk reaches within `ADL_WALK_CAP` entries.
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
        // Progress only: allowed when the walk reaches its cap before the next counterparty
        // (its cursors are then saved); otherwise the proof must name that counterparty.
        return match walk.next_fill() {
            None if walk.capped => Ok(Vec::new()),
            _ => Err(ProofError::Empty),
        };
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
