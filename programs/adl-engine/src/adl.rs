//! The ranked ADL walk, shared by the program (to verify a keeper's `RankProof`) and by the
//! keeper and tests (to compute the next counterparties). Pure: reads queue arrays and
//! slots, allocates at most one entry per fill.
//!
//! ADL rank of the counterparty side at `P_exec`:
//! 1. tier 1 — eligible positions in profit at `P_exec`, in `by_leverage` order;
//! 2. tier 2 — the other eligible positions, in `by_leverage` order, only once tier 1 is
//!    exhausted (checked from the head of `by_entry`, the most profitable first).
//!
//! A position is eligible when its equity at `P_exec` (funding settled) is ≥ 0, decided
//! exactly by cross-multiplication; tiers are decided exactly the same way. A bankruptcy flag
//! plays no part (a stale flag must exempt nobody), and every eligible position can be filled
//! partially or whole (`plan_fill`).

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
    /// Not open, or negative equity at `P_exec` (exactly, by cross-multiplication): stays
    /// ineligible for the whole event (neither depends on the size still to fill). A
    /// bankruptcy flag does not make a position ineligible: eligibility is decided from the
    /// position's fields alone, so a stale flag exempts nobody.
    Permanent,
    /// Nothing left to fill (defensive: `remaining` is zero).
    ThisSize,
}

/// Tier of a position at `price`: 1 when in profit (exactly: `q·P > B_q·BASE`), else 2.
pub fn tier_at(pos: &PositionSlot, price: u64) -> Option<u8> {
    let p = math::unrealized_in_profit(pos.base, pos.cost_basis, price).ok()?;
    Some(if p { 1 } else { 2 })
}

/// Dry-runs the fill of a counterparty at `exec_price` for up to `remaining` base atoms.
///
/// Every position with equity ≥ 0 at `P_exec` can be filled, partially or whole: a margin
/// deficit (funding settled beyond the margin) is netted out of what the fill frees, and if
/// rounding would leave the remainder a few atoms below zero equity, those atoms are kept in
/// its margin instead of being paid out (never in the owner's favour).
pub fn plan_fill(
    slot: u32,
    pos: &PositionSlot,
    funding_index: i64,
    exec_price: u64,
    remaining: u64,
) -> Result<PlannedFill, Skip> {
    if !pos.is_open() {
        return Err(Skip::Permanent);
    }
    let funding = math::funding_owed(pos.base, funding_index, pos.funding_snapshot)
        .map_err(|_| Skip::Permanent)?;
    let settled_margin = math::sub(pos.margin as i128, funding)
        .and_then(math::to_i64)
        .map_err(|_| Skip::Permanent)?;
    let eligible = math::equity_non_negative(pos.base, pos.cost_basis, settled_margin, exec_price)
        .map_err(|_| Skip::Permanent)?;
    if !eligible {
        return Err(Skip::Permanent);
    }
    let is_long = pos.base > 0;
    let base = pos.base.unsigned_abs().min(remaining);
    if base == 0 {
        return Err(Skip::ThisSize);
    }
    let notional = math::close_notional(is_long, base, exec_price).map_err(|_| Skip::Permanent)?;
    let mut after = PositionAmounts {
        base: pos.base,
        cost_basis: pos.cost_basis,
        margin: settled_margin,
    };
    let delta = if is_long { -(base as i64) } else { base as i64 };
    let mut outcome = math::apply_fill(&mut after, delta, notional).map_err(|_| Skip::Permanent)?;
    if after.base != 0 {
        keep_rank_and_solvency(pos, settled_margin, exec_price, &mut after, &mut outcome)
            .map_err(|_| Skip::Permanent)?;
    }
    let tier = tier_at(pos, exec_price).ok_or(Skip::Permanent)?;
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

/// Adjusts the remainder of a partial ADL fill (and the payout) so that:
///
/// 1. its rank key never moves back in line: the remainder is at least as leveraged as the
///    position was (funding settled) — exactly, `(B' − C')/q' ≥ (B − C)/q` for a long and
///    `≤` for a short, i.e. `C' ≤ (B'·q − (B − C)·q')/q`. The rounding of the fill (cost
///    removed up, margin released down) would otherwise leave a little more margin per unit
///    in the remainder and move it back; that margin is paid out with the fill instead;
/// 2. its equity at `P_exec` stays ≥ 0 (exactly): margin that rounding would pay out of a
///    zero-equity remainder stays in it. Only a remainder within one margin atom of zero
///    equity can be moved back by this (by less than one atom of margin).
///
/// Total value is unchanged: what leaves the margin enters the payout and back.
fn keep_rank_and_solvency(
    pos: &PositionSlot,
    settled_margin: i64,
    exec_price: u64,
    after: &mut PositionAmounts,
    outcome: &mut FillOutcome,
) -> Result<(), AdlError> {
    let (q, qr) = (pos.base as i128, after.base as i128);
    let before = math::sub(pos.cost_basis as i128, settled_margin as i128)?;
    // C'max = floor((B'·q − (B − C)·q')/q): the largest margin that keeps the key in place.
    let num = math::sub(
        math::mul(after.cost_basis as i128, q)?,
        math::mul(before, qr)?,
    )?;
    let cmax = math::div_floor(num, q)?;
    if (after.margin as i128) > cmax {
        let extra = math::sub(after.margin as i128, cmax)?;
        after.margin = math::to_i64(cmax)?;
        outcome.to_free = math::to_u64(math::add(outcome.to_free as i128, extra)?)?;
    }
    if !math::equity_non_negative(after.base, after.cost_basis, after.margin, exec_price)? {
        // Smallest margin with equity ≥ 0: ceil((B'·BASE − q'·P)/BASE).
        let need = math::div_ceil(
            math::sub(
                math::mul(after.cost_basis as i128, math::BASE_PRECISION)?,
                math::mul(qr, exec_price as i128)?,
            )?,
            math::BASE_PRECISION,
        )?;
        let short = math::to_u64(math::sub(need, after.margin as i128)?)?;
        let moved = short.min(outcome.to_free);
        outcome.to_free -= moved;
        after.margin = math::to_i64(math::add(after.margin as i128, moved as i128)?)?;
    }
    Ok(())
}

/// Walks one side's queue in ADL rank order: tier 1 (in profit at the event's tier price)
/// in `by_leverage` order, then tier 2 once tier 1 is exhausted. Each step returns the first
/// entry of `by_leverage` at or after the tier's cursor that is untaken, eligible at `P_exec`
/// and of the tier; every entry read before it is passed over for good (`AdlWalk`), so
/// across the transactions of an event each entry is passed at most once per tier (plus
/// re-reads caused by positions that change before a cursor). The prefix of `by_leverage`
/// that is certainly ineligible at `P_exec` is passed by one binary search. A walk reads at
/// most `cap` entries; then it stops (`capped`) and its cursors are saved.
///
/// Tier 1 is exhausted exactly when its cursor reaches the end of the array.
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
            remaining,
            usize::MAX,
        )
    }

    /// The walk of an event's next transaction: from the event's saved cursors, at most
    /// `cap` entries read (the program uses `ADL_WALK_CAP`).
    pub fn resume(
        by_leverage: &'a [QueueEntry],
        slot: F,
        funding_index: i64,
        exec_price: u64,
        saved: &crate::state::AdlWalk,
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
    /// (Entries just past the prefix may still be ineligible by funding rounding; the walk
    /// checks each exactly.) Funding moves `P_exec` and `F` together, so the prefix stays put.
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
    /// the end of the array or at the cap (`capped`).
    fn scan(&mut self, tier: u8) -> Option<PlannedFill> {
        let t = tier as usize - 1;
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

/// Whether a position entering or moving in the queue can be taken in tier `tier` of an
/// event (`AdlWalk` upkeep): of the tier at `tier_price` and eligible at `exec_price`.
pub fn takeable(
    pos: &PositionSlot,
    funding_index: i64,
    exec_price: u64,
    tier_price: u64,
    tier: u8,
) -> bool {
    tier_at(pos, tier_price) == Some(tier)
        && plan_fill(0, pos, funding_index, exec_price, u64::MAX).is_ok()
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::state::{SIDE_LONG, SLOT_OPEN};
    use anchor_lang::prelude::Pubkey;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// (long?, size tenths, entry price, margin % of notional, flagged?)
    type Spec = (bool, u64, u64, u64, bool);

    fn book(specs: &[Spec]) -> Vec<PositionSlot> {
        specs
            .iter()
            .enumerate()
            .map(|(i, &(long, tenths, entry, margin_pct, flagged))| {
                let base = (tenths * 100_000_000) as i64 * if long { 1 } else { -1 };
                let cost = (base as i128 * entry as i128 / 1_000_000_000) as i64;
                let margin = (cost.unsigned_abs() * margin_pct / 100) as i64;
                PositionSlot {
                    owner: Pubkey::new_from_array([i as u8; 32]),
                    base,
                    cost_basis: cost,
                    margin,
                    open_seq: i as u64,
                    bankrupt_since_slot: if flagged { 7 } else { 0 },
                    status: SLOT_OPEN,
                    ..PositionSlot::default()
                }
            })
            .collect()
    }

    fn arrays(slots: &[PositionSlot], side: u8) -> (Vec<QueueEntry>, Vec<QueueEntry>) {
        let mut lev = vec![];
        let mut ent = vec![];
        for (i, s) in slots.iter().enumerate() {
            let (sd, l, e) = s.queue_entries(i as u32).unwrap();
            if sd == side {
                lev.push(l);
                ent.push(e);
            }
        }
        crate::state::sort_by_leverage(&mut lev, slots);
        ent.sort();
        (lev, ent)
    }

    /// The definition, by brute force over every position at each step.
    fn brute(
        slots: &[PositionSlot],
        side: u8,
        price: u64,
        mut remaining: u64,
        k: usize,
    ) -> Vec<(u32, u64)> {
        let mut taken = BTreeSet::new();
        let mut out = vec![];
        while out.len() < k && remaining > 0 {
            let mut elig: Vec<(QueueEntry, PlannedFill)> = vec![];
            for (i, s) in slots.iter().enumerate() {
                let i = i as u32;
                if !s.is_open() || s.side() != side || taken.contains(&i) {
                    continue;
                }
                if let Ok(p) = plan_fill(i, s, 0, price, remaining) {
                    elig.push((s.queue_entries(i).unwrap().1, p));
                }
            }
            let Some(tier) = elig.iter().map(|(_, p)| p.tier).min() else {
                break;
            };
            let frac_of = |s: u32| slots.get(s as usize).and_then(|p| p.key_frac().ok());
            let ord = crate::state::ExactOrder {
                is_long: side == SIDE_LONG,
                frac_of: &frac_of,
            };
            let (_, p) = elig
                .into_iter()
                .filter(|(_, p)| p.tier == tier)
                .min_by(|(a, _), (b, _)| ord.cmp_entries(a, b))
                .unwrap();
            taken.insert(p.slot);
            remaining -= p.base;
            out.push((p.slot, p.base));
        }
        out
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            any::<bool>(),
            1u64..40,
            80_000_000u64..120_000_000,
            1u64..40,
            prop::bool::weighted(0.1),
        )
    }

    /// 50,000 longs ineligible at `P_exec` (entry 100, 1 % margin: bankruptcy price 99 > 98)
    /// rank ahead of 50,000 eligible ones (entry 90, 20 %): the walk passes the ineligible
    /// prefix with one binary search, not 50,000 reads.
    #[test]
    fn ineligible_prefix_is_passed_by_binary_search() {
        let mut specs: Vec<Spec> = vec![(true, 10, 100_000_000, 1, false); 50_000];
        specs.extend(vec![(true, 10, 90_000_000, 20, false); 50_000]);
        let slots = book(&specs);
        let (lev, _) = arrays(&slots, SIDE_LONG);
        crate::meter::reset();
        let mut walk = RankWalk::fresh(
            &lev,
            |s| slots.get(s as usize),
            0,
            98_000_000,
            10 * 1_000_000_000,
        );
        let got: Vec<u32> = (0..10)
            .filter_map(|_| walk.next_fill())
            .map(|p| p.slot)
            .collect();
        // The ten oldest eligible positions, tier 1, in rank order.
        assert_eq!(got, (50_000u32..50_010).collect::<Vec<_>>());
        let c = crate::meter::counts();
        // One search (17 reads), then one read for the first fill and two for each next one
        // (the entry the previous fill took, then the next) — not the 50,000 of a walk from
        // the head.
        assert_eq!(walk.reads, 1 + 2 * 9);
        assert_eq!(c.entries_read, 17 + 1 + 2 * 9, "{c:?}");
        assert_eq!(walk.remaining(), 0);
        // The walk agrees with the definition (brute force over every position).
        assert_eq!(
            got,
            brute(&slots, SIDE_LONG, 98_000_000, 10 * 1_000_000_000, 10)
                .iter()
                .map(|t| t.0)
                .collect::<Vec<_>>()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

        /// A partial ADL fill never moves the remainder back in line (its exact leverage key,
        /// funding settled, stays or moves forward), leaves it with equity ≥ 0 at `P_exec`,
        /// and conserves value — except that a remainder within one margin atom of zero
        /// equity may move back by less than one atom of margin. Checked with exact
        /// cross-multiplication, independent of the program's key code.
        #[test]
        fn partial_fills_never_move_the_remainder_back(
            long in any::<bool>(),
            q_units in 1u64..2_000_000,
            entry in 50_000_000u64..150_000_000,
            margin_bps in -500i64..5_000,
            funding in -2_000_000i64..2_000_000,
            exec in 40_000_000u64..160_000_000,
            cut in 1u64..1_000_000,
        ) {
            const BASE: i128 = 1_000_000_000;
            let q_abs = (q_units * 1_000_000) as i128; // 0.001 .. 2,000 base units
            let q = if long { q_abs } else { -q_abs };
            let cost = q * entry as i128 / 1_000_000_000;
            let margin = (cost.abs() * margin_bps as i128 / 10_000) as i64;
            let pos = PositionSlot {
                base: q as i64,
                cost_basis: cost as i64,
                margin,
                funding_snapshot: 0,
                status: crate::state::SLOT_OPEN,
                ..PositionSlot::default()
            };
            let r = ((q_abs as u128 * cut as u128 / 1_000_000) as u64).max(1);
            prop_assume!((r as i128) < q_abs);
            let Ok(p) = plan_fill(0, &pos, funding, exec, r) else {
                // Only ineligible positions are refused: exact equity < 0 at P_exec.
                let f = math::funding_owed(pos.base, funding, 0).unwrap();
                let cs = margin as i128 - f;
                prop_assert!(cs * BASE + q * exec as i128 - cost * BASE < 0);
                return Ok(());
            };
            let cs = margin as i128 - p.funding;
            let (b1, c1, q1) = (p.after.cost_basis as i128, p.after.margin as i128, p.after.base as i128);
            prop_assert_eq!(q1, q - q.signum() * r as i128);
            // Remainder equity ≥ 0 at P_exec, exactly.
            let eq1 = c1 * BASE + q1 * exec as i128 - b1 * BASE;
            prop_assert!(eq1 >= 0);
            // Key: (B1 − C1)/q1 versus (B − Cs)/q, cross-multiplied by q·q1 > 0.
            let lhs = (b1 - c1) * q;
            let rhs = (cost - cs) * q1;
            let forward = if long { lhs >= rhs } else { lhs <= rhs };
            if !forward {
                // Only by the solvency rule, by less than one margin atom.
                let cmax_plus = c1 - 1;
                prop_assert!((cmax_plus * BASE + q1 * exec as i128 - b1 * BASE) < 0);
                let lhs2 = (b1 - cmax_plus) * q;
                let back_by_solvency_only = if long { lhs2 >= rhs } else { lhs2 <= rhs };
                prop_assert!(back_by_solvency_only);
            }
            // Value: settled margin + realized PnL = payout + remainder margin.
            prop_assert_eq!(cs + p.outcome.realized_pnl, p.outcome.to_free as i128 + c1);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

        /// The walk returns exactly the brute-force rank order, and a proof is accepted if and
        /// only if it is exactly a prefix of it.
        #[test]
        fn walk_equals_brute_force_and_proofs_are_exact(
            specs in prop::collection::vec(spec(), 1..40),
            side_long in any::<bool>(),
            price in 85_000_000u64..115_000_000,
            remaining_tenths in 1u64..200,
            k in 1usize..12,
            mutation in 0u8..6,
            pick in any::<prop::sample::Index>(),
        ) {
            let slots = book(&specs);
            let side = if side_long { SIDE_LONG } else { crate::state::SIDE_SHORT };
            let (lev, _) = arrays(&slots, side);
            let remaining = remaining_tenths * 100_000_000;
            let truth = brute(&slots, side, price, remaining, k);
            let mut walk = RankWalk::fresh(&lev, |s| slots.get(s as usize), 0, price, remaining);
            let mut got = vec![];
            while got.len() < k {
                match walk.next_fill() {
                    Some(p) => got.push((p.slot, p.base)),
                    None => break,
                }
            }
            prop_assert_eq!(&got, &truth);
            // Rank soundness: no fill while an eligible higher-ranked one is left, no fill at
            // negative equity — implied by equality with the definition; check equity too.
            for &(s, _) in &got {
                let p = slots[s as usize];
                prop_assert!(p.equity(0, price).unwrap() >= 0);
            }
            let true_slots: Vec<u32> = truth.iter().map(|t| t.0).collect();
            let all: Vec<u32> = (0..slots.len() as u32).collect();
            let mut proof = true_slots.clone();
            match mutation {
                0 => {}
                1 if proof.len() >= 2 => proof.swap(0, 1),
                2 if !proof.is_empty() => { proof.remove(0); }
                3 if !proof.is_empty() => proof.push(proof[0]),
                4 => proof.push(*pick.get(&all)),
                5 if !proof.is_empty() => { let i = pick.index(proof.len()); proof[i] = *pick.get(&all); }
                _ => {}
            }
            let mut walk = RankWalk::fresh(&lev, |s| slots.get(s as usize), 0, price, remaining);
            let accepted = verify_proof(&mut walk, &proof).is_ok();
            // The full truth up to k may be shorter than what is available: extend it.
            let longer = brute(&slots, side, price, remaining, proof.len());
            let exact = !proof.is_empty() && longer.len() >= proof.len()
                && longer.iter().map(|t| t.0).collect::<Vec<_>>() == proof;
            prop_assert_eq!(accepted, exact, "proof {:?} truth {:?}", proof, longer);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

        /// The keeper's drain level is accepted; the reductions sum to the event's size;
        /// no reduced position is left above ℓ* + 1 bps (the hand-back of the overshoot) and
        /// no eligible untouched one was above ℓ*; ℓ* ± 1 are rejected.
        #[test]
        fn drain_levels_are_exact(
            specs in prop::collection::vec(spec(), 1..30),
            side_long in any::<bool>(),
            price in 85_000_000u64..115_000_000,
            remaining_tenths in 1u64..150,
        ) {
            let slots = book(&specs);
            let side = if side_long { SIDE_LONG } else { crate::state::SIDE_SHORT };
            let (lev, _) = arrays(&slots, side);
            let remaining = remaining_tenths * 100_000_000;
            let get = |s: u32| slots.get(s as usize);
            let Some((level, set)) = find_drain_level(&lev, get, 0, price, remaining) else {
                // Only when the eligible size cannot cover the event.
                let total: u64 = drain_set(&lev, get, 0, price, 0).unwrap().iter().map(|s| s.1.base.unsigned_abs()).sum();
                prop_assert!(total < remaining);
                return Ok(());
            };
            let fills = verify_drain(&lev, get, 0, price, remaining, level, &set).unwrap();
            prop_assert_eq!(fills.iter().map(|f| f.base).sum::<u64>(), remaining);
            for f in &fills {
                let eq = math::equity(f.after.base, f.after.cost_basis, f.after.margin, 0, 0, price).unwrap();
                if f.after.base != 0 {
                    // Exactly: |q|·P·1e4 ≤ (ℓ* + 1)·eq·BASE.
                    prop_assert!(eq > 0 && !above(f.after.base.unsigned_abs(), eq, price, level + 1).unwrap(),
                        "slot {} left above {} bps", f.slot, level + 1);
                }
            }
            for (i, s) in slots.iter().enumerate() {
                if s.side() != side || set.contains(&(i as u32)) {
                    continue;
                }
                if let Some((_, eq, _)) = drain_candidate(s, 0, price) {
                    prop_assert!(!above(s.base.unsigned_abs(), eq, price, level).unwrap());
                }
            }
            prop_assert!(verify_drain(&lev, get, 0, price, remaining, level + 1, &drain_set(&lev, get, 0, price, level + 1).unwrap().iter().map(|s| s.0).collect::<Vec<_>>()).is_err());
            if level > 0 {
                let lower: Vec<u32> = drain_set(&lev, get, 0, price, level - 1).unwrap().iter().map(|s| s.0).collect();
                let r = verify_drain(&lev, get, 0, price, remaining, level - 1, &lower);
                prop_assert!(r.is_err());
            }
        }
    }
}

/// A position's pro-rata share of an event: `ceil(|q|·Q/OI)`, at most what the event still
/// needs. Rounded up so the shares always cover `Q`; the last ones applied may get less.
pub fn pro_rata_share(base_abs: u64, ev: &crate::state::AdlEvent) -> Result<u64, AdlError> {
    if ev.pro_rata_oi == 0 {
        return Ok(0);
    }
    let share = math::to_u64(math::div_ceil(
        math::mul(base_abs as i128, ev.pro_rata_base as i128)?,
        ev.pro_rata_oi as i128,
    )?)?;
    Ok(share.min(ev.base_remaining).min(base_abs))
}

/// Largest size (base atoms) a position of equity `eq` may keep at price `P` without its
/// leverage exceeding `level_bps`: `floor(level·(eq − 1)·BASE / (P·1e4))`, 0 when `eq ≤ 1`.
/// One atom of equity is held back because the reducing fill's notional is rounded against
/// the owner and may cost it that atom: the leverage after the fill is then still at most
/// the level.
pub fn drain_target_size(eq: i128, level_bps: u64, price: u64) -> Result<u64, AdlError> {
    if eq <= 1 || price == 0 {
        return Ok(0);
    }
    let num = math::mul(math::mul(level_bps as i128, eq - 1)?, math::BASE_PRECISION)?;
    math::to_u64(math::div_floor(num, math::mul(price as i128, math::BPS)?)?)
}

/// One reduction of a leverage drain: the position keeps its equity (realized PnL stays in
/// its margin), so its leverage falls with its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainFill {
    pub slot: u32,
    pub base: u64,
    pub notional: u64,
    pub after: PositionAmounts,
    pub funding: i128,
}

/// Why a leverage-drain claim was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainError {
    /// The listed slots are not exactly the eligible positions above the level, in rank order.
    WrongSet,
    /// The level does not give the event's size: need `R(ℓ) ≥ Q > R(ℓ+1)`.
    WrongLevel,
    Overflow,
}

impl From<DrainError> for AdlError {
    fn from(e: DrainError) -> Self {
        match e {
            DrainError::Overflow => AdlError::MathOverflow,
            _ => AdlError::WrongDrainClaim,
        }
    }
}

impl From<AdlError> for DrainError {
    fn from(_: AdlError) -> Self {
        DrainError::Overflow
    }
}

/// Settled amounts and equity at `price` of an eligible drain candidate (`None`: not open,
/// or negative equity; a bankruptcy flag does not matter).
fn drain_candidate(
    pos: &PositionSlot,
    funding_index: i64,
    price: u64,
) -> Option<(PositionAmounts, i128, i128)> {
    if !pos.is_open() {
        return None;
    }
    let funding = math::funding_owed(pos.base, funding_index, pos.funding_snapshot).ok()?;
    let margin = math::to_i64(math::sub(pos.margin as i128, funding).ok()?).ok()?;
    if !math::equity_non_negative(pos.base, pos.cost_basis, margin, price).ok()? {
        return None;
    }
    // Exactly non-negative; the floored value can be −1 at exactly zero equity.
    let eq = math::equity(pos.base, pos.cost_basis, margin, 0, 0, price)
        .ok()?
        .max(0);
    Some((
        PositionAmounts {
            base: pos.base,
            cost_basis: pos.cost_basis,
            margin,
        },
        eq,
        funding,
    ))
}

/// `|q|·P·1e4 > level·eq·BASE`: leverage above `level_bps` (any size at zero equity).
fn above(base_abs: u64, eq: i128, price: u64, level_bps: u64) -> Result<bool, AdlError> {
    let lhs = math::mul(math::mul(base_abs as i128, price as i128)?, math::BPS)?;
    let rhs = math::mul(math::mul(level_bps as i128, eq)?, math::BASE_PRECISION)?;
    Ok(lhs > rhs)
}

/// The eligible positions above `level_bps` in `by_leverage` order (equal rounded keys are
/// followed to the end of their group, where rank-key rounding could hide one).
pub fn drain_set<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot>,
    funding_index: i64,
    price: u64,
    level_bps: u64,
) -> Result<Vec<(u32, PositionAmounts, i128, i128)>, AdlError> {
    let mut out = Vec::new();
    let mut stop_key: Option<i64> = None;
    // The certainly ineligible prefix holds no candidate: one binary search passes it.
    let start = ineligible_prefix_end(by_leverage, &slot, funding_index, price);
    for e in &by_leverage[start..] {
        crate::meter::read(1);
        if let Some(k) = stop_key {
            if e.key != k {
                break;
            }
        }
        let Some(pos) = slot(e.slot()) else { continue };
        let Some((amounts, eq, funding)) = drain_candidate(pos, funding_index, price) else {
            continue;
        };
        if above(pos.base.unsigned_abs(), eq, price, level_bps)? {
            out.push((e.slot(), amounts, eq, funding));
        } else if stop_key.is_none() {
            stop_key = Some(e.key);
        }
    }
    Ok(out)
}

/// Checks a leverage-drain claim — the level `ℓ*` and the slots above it — and returns the
/// reductions: each listed position down to `ℓ*` (`R(ℓ*) ≥ Q > R(ℓ*+1)`), the overshoot
/// `R(ℓ*) − Q` handed back from the least leveraged listed positions, none above `ℓ*+1`.
pub fn verify_drain<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot>,
    funding_index: i64,
    price: u64,
    remaining: u64,
    level_bps: u64,
    slots: &[u32],
) -> Result<Vec<DrainFill>, DrainError> {
    let set = drain_set(by_leverage, slot, funding_index, price, level_bps)?;
    if set.len() != slots.len() || set.iter().zip(slots).any(|(s, &g)| s.0 != g) {
        return Err(DrainError::WrongSet);
    }
    let mut cuts = Vec::with_capacity(set.len());
    let (mut at_level, mut at_next) = (0u128, 0u128);
    for (_, a, eq, _) in &set {
        let size = a.base.unsigned_abs();
        let keep = drain_target_size(*eq, level_bps, price)?.min(size);
        let keep_next = drain_target_size(*eq, level_bps.saturating_add(1), price)?.min(size);
        at_level += (size - keep) as u128;
        at_next += (size - keep_next) as u128;
        cuts.push((size - keep, size - keep_next));
    }
    if at_level < remaining as u128 || at_next >= remaining as u128 {
        return Err(DrainError::WrongLevel);
    }
    let mut overshoot = (at_level - remaining as u128) as u64;
    let mut fills = Vec::with_capacity(set.len());
    for (i, (s, a, _, funding)) in set.iter().enumerate().rev() {
        let (cut, cut_next) = cuts[i];
        let back = overshoot.min(cut - cut_next);
        overshoot -= back;
        let r = cut - back;
        if r == 0 {
            continue;
        }
        let is_long = a.base > 0;
        let notional = math::close_notional(is_long, r, price)?;
        let q_abs = a.base.unsigned_abs() as i128;
        let removed = math::div_ceil(math::mul(a.cost_basis as i128, r as i128)?, q_abs)?;
        let signed_n = if is_long {
            notional as i128
        } else {
            -(notional as i128)
        };
        let pnl = math::sub(signed_n, removed)?;
        let after = PositionAmounts {
            base: if is_long {
                a.base - r as i64
            } else {
                a.base + r as i64
            },
            cost_basis: math::to_i64(math::sub(a.cost_basis as i128, removed)?)?,
            margin: math::to_i64(math::add(a.margin as i128, pnl)?)?,
        };
        fills.push(DrainFill {
            slot: *s,
            base: r,
            notional,
            after,
            funding: *funding,
        });
    }
    fills.reverse();
    Ok(fills)
}

/// The keeper's side: the level `ℓ*` (largest with `R(ℓ) ≥ Q`) and its slot set, found by
/// binary search over levels. `None` when the side's eligible size cannot cover `Q`.
pub fn find_drain_level<'a>(
    by_leverage: &[QueueEntry],
    slot: impl Fn(u32) -> Option<&'a PositionSlot> + Copy,
    funding_index: i64,
    price: u64,
    remaining: u64,
) -> Option<(u64, Vec<u32>)> {
    let reduction = |level: u64| -> Option<u128> {
        let set = drain_set(by_leverage, slot, funding_index, price, level).ok()?;
        let mut total = 0u128;
        for (_, a, eq, _) in &set {
            let size = a.base.unsigned_abs();
            total += (size - drain_target_size(*eq, level, price).ok()?.min(size)) as u128;
        }
        Some(total)
    };
    if reduction(0)? < remaining as u128 {
        return None;
    }
    // R is non-increasing in the level: find the largest level with R(level) ≥ Q.
    let (mut lo, mut hi) = (0u64, 100_000_000u64);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if reduction(mid)? >= remaining as u128 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let set = drain_set(by_leverage, slot, funding_index, price, lo).ok()?;
    Some((lo, set.into_iter().map(|s| s.0).collect()))
}
