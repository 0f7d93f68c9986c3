//! Rank soundness against a brute-force ranker, partial fills, and drain levels.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::math;
use crate::state::{PositionSlot, QueueEntry, SIDE_LONG, SLOT_OPEN};
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

    /// The drain's region and level, checked independently of `adl::drain` by exact
    /// cross-multiplication: the level is the largest whose linear reduction over the region
    /// covers the event, `(S − Q)·P·1e4 ≥ ℓ·E·BASE > (S − Q)·P·1e4 − E·BASE`; every position
    /// of the region is above it and every eligible one outside is at most the region's
    /// level up to the rounding of its drain equity; the cuts, applied from the head, sum to
    /// the event's size (or close every eligible position when the side is smaller); every
    /// position given its full cut is left at most `ℓ` with non-negative equity; the
    /// overshoot kept by the tail is below `k + E·BASE/(P·1e4) + 1`.
    #[test]
    fn drain_levels_are_exact(
        specs in prop::collection::vec(spec(), 1..30),
        side_long in any::<bool>(),
        price in 85_000_000u64..115_000_000,
        remaining_tenths in 1u64..150,
    ) {
        const BASE: i128 = 1_000_000_000;
        let slots = book(&specs);
        let side = if side_long { SIDE_LONG } else { crate::state::SIDE_SHORT };
        let (lev, _) = arrays(&slots, side);
        let remaining = remaining_tenths * 100_000_000;
        let get = |s: u32| slots.get(s as usize);
        let p128 = price as i128;
        // Exact equity ×BASE (funding index 0), and the drain equity e = max(⌊eq⌋ − 2, 0).
        let eq_scaled = |p: &PositionSlot| {
            p.margin as i128 * BASE + p.base as i128 * p128 - p.cost_basis as i128 * BASE
        };
        let e_of = |p: &PositionSlot| (eq_scaled(p).div_euclid(BASE) - 2).max(0);
        let eligible: Vec<(u32, &PositionSlot)> = slots
            .iter()
            .enumerate()
            .filter(|(_, p)| p.side() == side && eq_scaled(p) >= BASE)
            .map(|(i, p)| (i as u32, p))
            .collect();
        let (level, cuts) = drain_optimum(&lev, get, 0, price, price, remaining).unwrap();
        let q = remaining as i128;
        let s_sum: i128 = cuts.iter().map(|c| slots[c.0 as usize].base.unsigned_abs() as i128).sum();
        let e_sum: i128 = cuts.iter().map(|c| e_of(&slots[c.0 as usize])).sum();
        let total: i128 = eligible.iter().map(|(_, p)| p.base.unsigned_abs() as i128).sum();
        if s_sum < q {
            // The side cannot cover the event: every eligible position is closed.
            prop_assert_eq!(s_sum, total);
            prop_assert_eq!(level, 0);
            for &(s, cut) in &cuts {
                prop_assert_eq!(cut, slots[s as usize].base.unsigned_abs());
            }
            return Ok(());
        }
        prop_assert_eq!(cuts.iter().map(|c| c.1 as i128).sum::<i128>(), q);
        let num = (s_sum - q) * p128 * 10_000;
        let l = level as i128;
        if level < crate::state::MAX_DRAIN_LEVEL_BPS {
            prop_assert!(l * e_sum * BASE <= num && num < (l + 1) * e_sum * BASE,
                "level {} is not the largest covering one", level);
        }
        let mut full_cuts = 0i128;
        let mut capped = false;
        for &(s, cut) in &cuts {
            let p = slots[s as usize];
            let size = p.base.unsigned_abs() as i128;
            let e = e_of(&p);
            // In the region: above the level in drain-equity terms.
            prop_assert!(size * p128 * 10_000 > l * e * BASE, "slot {} in the region but not above", s);
            let keep = (l * e * BASE).div_euclid(p128 * 10_000).min(size);
            let full = size - keep;
            full_cuts += full;
            // Head first: full cuts until the event is used up, then nothing.
            if capped {
                prop_assert_eq!(cut, 0);
            } else if (cut as i128) < full {
                capped = true;
            } else {
                prop_assert_eq!(cut as i128, full);
            }
            if cut == 0 {
                continue;
            }
            let f = drain_fill(s, &p, 0, price, cut).unwrap();
            let eq_after = f.after.margin as i128 * BASE + f.after.base as i128 * p128
                - f.after.cost_basis as i128 * BASE;
            prop_assert!(eq_after >= 0, "slot {} left with negative equity", s);
            if cut as i128 == full && f.after.base != 0 {
                prop_assert!((f.after.base.unsigned_abs() as i128) * p128 * 10_000 <= l * eq_after,
                    "slot {} left above {} bps", s, level);
            }
        }
        let k = cuts.len() as i128;
        prop_assert!((full_cuts - q) * p128 * 10_000 < (k + 1) * p128 * 10_000 + e_sum * BASE,
            "overshoot {} too large", full_cuts - q);
        for (i, p) in &eligible {
            if !cuts.iter().any(|c| c.0 == *i) {
                let size = p.base.unsigned_abs() as i128;
                prop_assert!(size * e_sum < (s_sum - q) * (e_of(p) + 3),
                    "slot {} outside the region but above its level", i);
            }
        }
    }
}
