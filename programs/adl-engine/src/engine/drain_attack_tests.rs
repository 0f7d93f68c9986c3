//! Adversarial review of the program-levelled leverage drain (water-filling measure, head-first
//! apply, cuts taken before an owner's change, arrivals in front of the cursor). Every test
//! performs an attack end to end on the engine's own transitions (`MarketState`) and asserts
//! the SAFE outcome, so a failing test is an attack that works.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::MarketState;
use crate::adl::{self, DrainFill};
use crate::meter;
use crate::state::*;
use crate::testkit::*;

// ---------------------------------------------------------------------------------------------
// Helpers (independent of the program's drain code except the pure definitions in `adl`).
// ---------------------------------------------------------------------------------------------

/// A user account for slot `s` as its owner's instruction sees it.
fn owner_of(st: &MarketState, s: u32) -> UserAccount {
    let mut u = user(0);
    u.owner = st.book.slot(s).unwrap().owner;
    u.add_position(st.key, s).unwrap();
    u
}

/// Size of slot `s` now (0 once closed).
fn size_now(st: &MarketState, s: u32) -> i64 {
    let p = st.book.slot(s).unwrap();
    if p.is_open() {
        p.base
    } else {
        0
    }
}

/// A drain market: `longs` (slots 0..n), a bankrupt short of `q` atoms at `P_exec` = `p_exec`
/// (slot n), leverage-drain mode, event 0 started at oracle 130.
fn drain_market(longs: &[Long], q: i64, p_exec: u64, spare: usize) -> Bufs {
    let mut b = market(longs, q, p_exec, spare);
    b.market.adl_mode = ADL_MODE_LEVERAGE_DRAIN;
    let ev = start(&mut b);
    assert_eq!(ev.mode, ADL_MODE_LEVERAGE_DRAIN);
    b
}

/// The single-transaction drain of event `i` on the side as it is now, at drain price
/// `price`: `(level, S, [(slot, cut)])`.
fn one_shot_at(st: &MarketState, i: usize, price: u64) -> (u64, u64, Vec<(u32, u64)>) {
    let ev = st.market.adl_events[i];
    let len = st.long_queue.len();
    let book = &*st.book.slots;
    let lev = &st.long_queue.by_leverage[..len];
    let r = adl::drain_region(
        lev,
        |s| book.get(s as usize),
        st.market.cumulative_funding,
        ev.exec_price,
        price,
        ev.base_remaining,
    )
    .unwrap();
    let (level, cuts) = adl::drain_optimum(
        lev,
        |s| book.get(s as usize),
        st.market.cumulative_funding,
        ev.exec_price,
        price,
        ev.base_remaining,
    )
    .unwrap();
    (level, r.sum_base, cuts)
}

fn one_shot(st: &MarketState, i: usize) -> (u64, u64, Vec<(u32, u64)>) {
    let p = st.market.adl_events[i].exec_price;
    one_shot_at(st, i, p)
}

/// Every invariant of the brief, checked independently (counterparties are longs).
fn check(b: &mut Bufs, what: &str) {
    b.with_raw(|st, _, _| {
        // Open interest: the book plus the escrows of active events, per side.
        let (mut long, mut short) = (0u64, 0u64);
        for s in 0..st.book.header.high_water {
            let p = st.book.slot(s).unwrap();
            if p.is_open() {
                if p.base > 0 {
                    long += p.base as u64;
                } else {
                    short += p.base.unsigned_abs();
                }
            }
        }
        for e in st.market.adl_events.iter() {
            if e.status == EVENT_ACTIVE {
                if e.side == SIDE_LONG {
                    long += e.base_remaining;
                } else {
                    short += e.base_remaining;
                }
            }
        }
        assert_eq!(st.market.open_interest_long, long, "{what}: long OI");
        assert_eq!(st.market.open_interest_short, short, "{what}: short OI");
        let len = st.long_queue.len();
        for i in 0..ADL_EVENT_RING {
            let e = st.market.adl_events[i];
            if e.status != EVENT_ACTIVE {
                continue;
            }
            // The escrow: exact equity at P_exec at least minus one atom.
            let q = e.base_remaining as i128;
            let signed_q = if e.side == SIDE_LONG { q } else { -q };
            let eq = (e.escrow_cash as i128 - e.escrow_cost as i128) * 1_000_000_000
                + signed_q * e.exec_price as i128;
            assert!(eq > -1_000_000_000, "{what}: escrow {i} exact equity {eq}");
            if e.mode != ADL_MODE_LEVERAGE_DRAIN {
                continue;
            }
            let d = st.market.adl_drains[i];
            if d.phase == DRAIN_MEASURING || d.phase == DRAIN_TRIMMING {
                assert!(d.cursor as usize <= len, "{what}: measuring cursor {d:?}");
                let (mut sb, mut se) = (0u64, 0u64);
                for ent in &st.long_queue.by_leverage[..d.cursor as usize] {
                    let p = st.book.slot(ent.slot()).unwrap();
                    if let Some((s, eq)) =
                        adl::drain_terms(p, st.market.cumulative_funding, e.exec_price).unwrap()
                    {
                        sb += s;
                        se += eq;
                    }
                }
                assert_eq!((sb, se), (d.sum_base, d.sum_equity), "{what}: sums");
            }
            if d.phase == DRAIN_APPLYING {
                assert!(
                    d.cursor <= d.end && d.end as usize <= len,
                    "{what}: cursor/end {d:?} len {len}"
                );
                let per_atom =
                    (d.level_bps as u128 * 1_000_000_000).div_ceil(d.price as u128 * 10_000);
                for ent in &st.long_queue.by_leverage[..d.cursor as usize] {
                    let p = st.book.slot(ent.slot()).unwrap();
                    let cut = match adl::drain_terms(p, st.market.cumulative_funding, e.exec_price)
                        .unwrap()
                    {
                        Some((s, eq)) => adl::drain_cut(s, eq, d.level_bps, d.price).unwrap(),
                        None => 0,
                    };
                    assert!(
                        cut as u128 <= 3 * per_atom + 1,
                        "{what}: slot {} in front of the cursor with a cut of {cut}",
                        ent.slot()
                    );
                }
            }
        }
        // Queue order (exact key, then age).
        let key = |s: u32| {
            let p = st.book.slot(s).unwrap();
            let m = (p.cost_basis as i128 - p.margin as i128) * 1_000_000_000
                - p.funding_snapshot as i128 * p.base as i128;
            (m, p.base as i128, p.open_seq)
        };
        for w in st.long_queue.by_leverage[..len].windows(2) {
            let (a, c) = (key(w[0].slot()), key(w[1].slot()));
            let (l, r) = (a.0 * c.1, c.0 * a.1);
            assert!(l > r || (l == r && a.2 < c.2), "{what}: long queue order");
        }
    });
}

/// Drain reductions of event `i` per slot, from step outputs and `Bufs::drained`.
#[derive(Default, Debug)]
struct Tally {
    per_slot: BTreeMap<u32, u64>,
    fills: usize,
}

impl Tally {
    fn add(&mut self, i: usize, fs: &[(usize, DrainFill)]) {
        for (e, f) in fs {
            if *e == i {
                *self.per_slot.entry(f.slot).or_default() += f.base;
                self.fills += 1;
            }
        }
    }
    fn take_drained(&mut self, b: &mut Bufs, i: usize) {
        let d = core::mem::take(&mut b.drained);
        self.add(i, &d);
    }
    fn of(&self, s: u32) -> u64 {
        self.per_slot.get(&s).copied().unwrap_or(0)
    }
    fn total(&self) -> u64 {
        self.per_slot.values().sum()
    }
}

/// One keeper step of drain `i` (begin when idle); an `Err` is a bug (honest keeper).
fn keeper_step(b: &mut Bufs, i: usize, t: &mut Tally, what: &str) -> crate::engine::DrainStep {
    let phase = b.market.adl_drains[i].phase;
    let r = b.with(|st, _| {
        if phase == DRAIN_IDLE {
            st.drain_begin(i)
                .map(|_| crate::engine::DrainStep::default())
        } else {
            st.drain_step(i)
        }
    });
    let step = r.unwrap_or_else(|e| panic!("{what}: honest drain step failed: {e:?}"));
    t.add(i, &step.fills.iter().map(|f| (i, *f)).collect::<Vec<_>>());
    t.take_drained(b, i);
    check(b, what);
    step
}

/// Runs drain `i` until the event is done or ranked; returns the number of steps.
fn run_drain(b: &mut Bufs, i: usize, t: &mut Tally) -> usize {
    let mut steps = 0;
    while b.market.adl_events[i].status == EVENT_ACTIVE
        && b.market.adl_events[i].mode == ADL_MODE_LEVERAGE_DRAIN
    {
        keeper_step(b, i, t, &format!("keeper step {steps}"));
        steps += 1;
        assert!(steps < 5_000, "the drain never ends");
    }
    steps
}

// ---------------------------------------------------------------------------------------------
// 4. Accounting: no adversary, random books — the multi-transaction drain equals the one-shot.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// **Accounting / rounding: does the multi-transaction drain equal the single-transaction
    /// optimum on odd books?** Random longs (odd sizes, entries, margins), a random event
    /// (sometimes larger than the side), P_exec with odd cents and a walk cap of 1–5 (many
    /// measuring and applying steps). After every step: open interest per side, escrow exact
    /// equity, measuring sums equal a recount, cursor ≤ end ≤ len, nothing cuttable in front
    /// of the cursor, queue order. At the end: every slot's total drain cut equals the one-shot
    /// cut of the book at begin, Σ cuts = Q (or, side short: every region position closed and
    /// the rest ranked), exactly one measuring pass, no step fails. Who would lose: honest
    /// positions cut twice by rounding re-cuts (a cut position re-landing inside the region).
    ///
    /// Observed: PASSES (400 cases, about 1.5 s in debug): every slot's cut equals the one-shot
    /// cut exactly (so no slot was ever cut twice), Σ cuts = Q, no step fails, every invariant
    /// holds after every step.
    #[test]
    fn accounting_multi_tx_drain_equals_one_shot_on_random_books(
        book in prop::collection::vec((85u64..115, 6i64..60, 1i64..4, 0i64..1_000_000_000), 4..40),
        q_units in 1i64..40,
        q_atoms in 0i64..1_000_000_000,
        p_cents in 9_500u64..10_500,
        cap in 1usize..6,
    ) {
        let longs: Vec<Long> = book
            .iter()
            .map(|&(e, m, q, r)| {
                let size = q * ONE + r;
                let entry = px(e) + (r as u64 % 1_000_000);
                let notional = (size as i128 * entry as i128 / ONE as i128) as i64;
                (size, entry, notional * m / 100 + r % 997)
            })
            .collect();
        let q = q_units * ONE / 2 + q_atoms;
        let mut b = drain_market(&longs, q, p_cents * 10_000, 4);
        meter::set_walk_cap(Some(cap));
        let (_, s_region, want) = b.with(|st, _| one_shot(st, 0));
        let side_short = s_region < q as u64;
        check(&mut b, "start");
        let mut t = Tally::default();
        let steps = run_drain(&mut b, 0, &mut t);
        meter::set_walk_cap(None);
        let passes = b.market.adl_drains[0].passes;
        if side_short {
            prop_assert_eq!(b.market.adl_events[0].mode, ADL_MODE_RANKED_QUEUE);
            for &(s, _) in &want {
                prop_assert_eq!(b.with(|st, _| size_now(st, s)), 0, "slot {} not closed", s);
            }
        } else {
            prop_assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
            prop_assert_eq!(t.total(), q as u64);
            let got: Vec<(u32, u64)> = want.iter().map(|&(s, _)| (s, t.of(s))).collect();
            prop_assert_eq!(
                &got, &want,
                "multi-tx cuts differ from one-shot (steps {}, fills {}, passes {})",
                steps, t.fills, passes
            );
            prop_assert_eq!(t.per_slot.len(), want.iter().filter(|c| c.1 > 0).count());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Dump onto others: grow a measured position between measuring steps (stale joins).
// ---------------------------------------------------------------------------------------------

/// The dilution book (P_exec 100, every entry 100 so drain equity = margin): slot 0 an honest
/// 20x long W (2.0, 10 USD); slots 1..=20 honest 1.5x longs H (0.05, 3.33 USD); slots 21..=30
/// honest 1.2x longs L (1.0, 83.33 USD); slot 31 the attacker X (10.0, 1,000 USD: 1x, last).
/// Event 3.5.
fn dilution_book() -> Bufs {
    let mut longs: Vec<Long> = vec![(2 * ONE, px(100), 10 * USD)];
    longs.extend(vec![(ONE / 20, px(100), 3_333_333); 20]);
    longs.extend(vec![(ONE, px(100), 83_333_333); 10]);
    longs.push((10 * ONE, px(100), 1_000 * USD));
    drain_market(&longs, 7 * ONE / 2, px(100), 4)
}

/// **Attack: dilute the level by re-levering after low-leverage positions joined.** The
/// region grows from the head while `S < Q` with no leverage test, and a position's join is
/// never revisited. The attacker X waits at 1x at the end of the queue. The measuring step
/// (walk cap 21) reads W and the twenty 1.5x longs (S = 3.0 < Q = 3.5: all join). Then X
/// withdraws 900 USD of margin (10x, allowed at oracle 100) and lands before the cursor: its
/// terms are added to the sums. The next step reads L (1.2x) — no join — and fixes
/// ℓ = (13 − 3.5)·100/176.7 ≈ 5.38x over {W, X, 20 × H}. On the same state the one-shot drain's
/// region is {W, X} at ℓ ≈ 7.73x (H would not join once X is in the prefix). The level is too
/// low: W is cut to 5.38x (1.46 instead of 1.23) and X, capped by what is left, keeps 7.96x
/// (cut 2.04 instead of 2.27). Who profits: X (keeps ≈ 0.235 more size than the level allows,
/// ADL at P_exec avoided); who loses: W, the honest head (0.235 more closed at P_exec).
///
/// Safe outcome asserted: the level fixed equals the one-shot level of the state it was fixed
/// on, and W's cut is at most its one-shot cut there.
///
/// Observed before the fix: FAILS — level 53,773 bps (one-shot on the state at fix: 77,272),
/// region 22 positions (one-shot: 2); W cut 1,462,270,108 atoms (one-shot 1,227,280,155:
/// +234,989,953), X cut 2,037,729,892 (one-shot 2,272,719,845): a join was decided once with
/// the sums of the moment, and a position entering before the measuring cursor was added to
/// the sums without re-deciding the joins after it. Now: PASSES — the pass trims the region's
/// tail before fixing the level (`DRAIN_TRIMMING`, `adl::drain_trims`): level 77,272 over
/// {W, X}, W cut 1,227,280,155 and X 2,272,719,845, as in one pass.
#[test]
fn attack_relever_between_measuring_steps_dilutes_the_level() {
    let mut b = dilution_book();
    meter::set_walk_cap(Some(21));
    let mut t = Tally::default();
    keeper_step(&mut b, 0, &mut t, "begin");
    let s1 = keeper_step(&mut b, 0, &mut t, "measure 1");
    assert!(!s1.verified, "{s1:?}");
    assert_eq!(b.market.adl_drains[0].sum_base, 3 * ONE as u64);
    // X withdraws 900 USD: 10x, now before the cursor.
    b.with(|st, _| {
        let mut u = owner_of(st, 31);
        st.change_margin(&mut u, -900 * USD, px(100)).unwrap();
    });
    t.take_drained(&mut b, 0);
    check(&mut b, "X re-levers");
    // The measuring pass (then its trimming) runs to the level, however many steps the cap
    // takes.
    let mut steps = 0;
    while b.market.adl_drains[0].phase != DRAIN_APPLYING {
        keeper_step(&mut b, 0, &mut t, "measure 2");
        steps += 1;
        assert!(steps < 10);
    }
    let d = b.market.adl_drains[0];
    // The one-shot drain of the state the level was fixed on.
    let (want_level, _, want) = b.with(|st, _| one_shot_at(st, 0, d.price));
    run_drain(&mut b, 0, &mut t);
    meter::set_walk_cap(None);
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
    let want_w = want.iter().find(|c| c.0 == 0).unwrap().1;
    let want_x = want.iter().find(|c| c.0 == 31).map_or(0, |c| c.1);
    println!(
        "level {} (one-shot at fix {}), region {} (one-shot {}); W cut {} (one-shot {}), X cut {} \
         (one-shot {})",
        d.level_bps,
        want_level,
        d.measured,
        want.len(),
        t.of(0),
        want_w,
        t.of(31),
        want_x
    );
    assert_eq!(
        d.level_bps, want_level,
        "the level fixed is not the one-shot level of the state it was fixed on"
    );
    assert!(t.of(0) <= want_w, "W cut {} > one-shot {want_w}", t.of(0));
}

// ---------------------------------------------------------------------------------------------
// 1. Escape: owner actions of a region position between applying steps.
// ---------------------------------------------------------------------------------------------

/// Escape book (P_exec 100, entries 100): slots 0..=2 honest 10x (1.0, 10 USD), slot 3 the
/// attacker A at 8x (2.0, 25 USD), slots 4..=6 honest 6x (1.0, 16.67 USD), slots 7..=16 honest
/// 1.5x (1.0, 66.67 USD). Event 3.0: region slots 0..=6 at ℓ ≈ 4.76x.
fn escape_book() -> Bufs {
    let mut longs: Vec<Long> = vec![(ONE, px(100), 10 * USD); 3];
    longs.push((2 * ONE, px(100), 25 * USD));
    longs.extend(vec![(ONE, px(100), 16_666_667); 3]);
    longs.extend(vec![(ONE, px(100), 66_666_667); 10]);
    drain_market(&longs, 3 * ONE, px(100), 8)
}

const A: u32 = 3;

#[derive(Clone, Copy, Debug)]
enum Escape {
    SellHalf,
    BuyMore,
    Flip,
    CloseAll,
    RemoveThenAddMargin,
    AddMargin,
    FriendlyLiquidation,
    /// A sells its whole size to its own second account (a new long at 10x).
    MoveToSecondAccount,
}

/// Runs the escape attempt `how` after `after` applying steps (walk cap 1) and returns
/// `(attacker's drain cut, honest drain cut, one-shot attacker cut, one-shot honest cut)`.
fn escape(how: Escape, after: usize) -> (u64, u64, u64, u64) {
    let mut b = escape_book();
    let (_, _, want) = b.with(|st, _| one_shot(st, 0));
    let want_a = want.iter().find(|c| c.0 == A).unwrap().1;
    let want_h: u64 = want.iter().filter(|c| c.0 != A).map(|c| c.1).sum();
    meter::set_walk_cap(Some(1));
    let mut t = Tally::default();
    while b.market.adl_drains[0].phase != DRAIN_APPLYING {
        keeper_step(&mut b, 0, &mut t, "measure");
    }
    for k in 0..after {
        keeper_step(&mut b, 0, &mut t, &format!("apply {k}"));
    }
    assert_eq!(b.market.adl_events[0].status, EVENT_ACTIVE);
    assert_eq!(t.of(A), 0, "A not cut yet");
    let what = format!("{how:?}");
    let mut fund = b.fund;
    b.with(|st, users| {
        let mut u = owner_of(st, A);
        st.price = Some(px(130));
        match how {
            Escape::SellHalf => {
                st.fill_user(&mut u, -ONE / 2, 50 * USD as u64, 0, 0, px(130))
                    .unwrap();
            }
            Escape::BuyMore => {
                st.fill_user(&mut u, ONE, 100 * USD as u64, 20 * USD as u64, 0, px(130))
                    .unwrap();
            }
            Escape::Flip => {
                // The size left after the due the instruction takes first.
                st.apply_user_obligations(&u).unwrap();
                let size = st.book.slot(A).unwrap().base + ONE;
                let n = (size as u128 * px(100) as u128 / ONE as u128) as u64;
                st.fill_user(&mut u, -size, n, 60 * USD as u64, 0, px(130))
                    .unwrap();
            }
            Escape::CloseAll => {
                // The size left after the due the instruction takes first.
                st.apply_user_obligations(&u).unwrap();
                let size = st.book.slot(A).unwrap().base;
                let n = (size as u128 * px(100) as u128 / ONE as u128) as u64;
                st.fill_user(&mut u, -size, n, 0, 0, px(130)).unwrap();
            }
            Escape::RemoveThenAddMargin => {
                st.change_margin(&mut u, -5 * USD, px(130)).unwrap();
                st.change_margin(&mut u, 5 * USD, px(130)).unwrap();
            }
            Escape::AddMargin => {
                st.change_margin(&mut u, 500 * USD, px(130)).unwrap();
            }
            Escape::FriendlyLiquidation => {
                // At oracle 81 A (after its due: 1.19 with 25 USD) is below maintenance; a
                // friendly liquidator takes 1.0 of it.
                st.price = Some(px(81));
                let mut liq = user(500);
                st.liquidate(
                    A,
                    &mut u,
                    &mut liq,
                    &mut fund,
                    ONE as u64,
                    60 * USD as u64,
                    px(81),
                )
                .unwrap();
                users.push(liq);
            }
            Escape::MoveToSecondAccount => {
                // The size left after the due the instruction takes first.
                st.apply_user_obligations(&u).unwrap();
                let size = st.book.slot(A).unwrap().base;
                let n = (size as u128 * px(100) as u128 / ONE as u128) as u64;
                let mut second = user(600);
                st.fill_user(&mut u, -size, n, 0, 0, px(130)).unwrap();
                st.fill_user(&mut second, size, n, (n / 10) + 1, 0, px(130))
                    .unwrap();
                users.push(second);
            }
        }
    });
    b.fund = fund;
    t.take_drained(&mut b, 0);
    check(&mut b, &what);
    run_drain(&mut b, 0, &mut t);
    meter::set_walk_cap(None);
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE, "{what}");
    assert_eq!(t.total(), 3 * ONE as u64, "{what}: Σ cuts = Q");
    let got_h: u64 = (0..17u32).filter(|&s| s != A).map(|s| t.of(s)).sum();
    (t.of(A), got_h, want_a, want_h)
}

/// **Attack: a region position ahead of the cursor escapes or shrinks its cut by an owner
/// action between applying steps** — sell half, buy more, flip, close, remove-then-add margin,
/// add margin, a friendly partial liquidation at oracle 81, selling everything to its own
/// second account — after 1 and after 3 applying steps (walk cap 1, so one position per step).
/// Who would profit: the attacker A (8x, 2.0); who would lose: the honest longs, who would
/// absorb A's cut. Safe outcome: A's drain cut is at least its one-shot cut (its due is taken
/// before the action) and the honest longs lose at most their one-shot cuts.
///
/// Observed: PASSES — in all 16 runs A's drain cut is exactly its one-shot cut (809,525,096
/// atoms) and the honest longs' exactly theirs (2,190,474,904), except MoveToSecondAccount where
/// the second account reuses A's released slot 3 at 10x and is cut as well (slot 3 total
/// 1,428,569,712; honest 1,571,430,288 < one-shot): the due is always taken first.
#[test]
fn attack_region_position_escapes_by_owner_actions_between_steps() {
    for how in [
        Escape::SellHalf,
        Escape::BuyMore,
        Escape::Flip,
        Escape::CloseAll,
        Escape::RemoveThenAddMargin,
        Escape::AddMargin,
        Escape::FriendlyLiquidation,
        Escape::MoveToSecondAccount,
    ] {
        for after in [1, 3] {
            let (a, h, want_a, want_h) = escape(how, after);
            println!("{how:?} after {after}: A cut {a} (one-shot {want_a}), honest {h} (one-shot {want_h})");
            assert!(
                a >= want_a,
                "{how:?}/{after}: A cut {a} < one-shot {want_a}"
            );
            assert!(
                h <= want_h,
                "{how:?}/{after}: honest cut {h} > one-shot {want_h}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1b. Re-lever after the cut: a cut position that is the last entry of the region.
// ---------------------------------------------------------------------------------------------

/// Re-lever book (P_exec 100, entries 100): slot 0 an honest-looking 20x long W (2.0, 10 USD,
/// the attacker), slot 1 an honest 10x long X (10.0, 100 USD), slots 2..=11 honest 1.5x longs.
/// Event 3.5: region {W, X} at ℓ ≈ 7.73x; after its cut W lands after X and before the 1.5x
/// longs, i.e. as the last entry of the region `[cursor, end)`.
fn relever_book() -> Bufs {
    let mut longs: Vec<Long> = vec![(2 * ONE, px(100), 10 * USD), (10 * ONE, px(100), 100 * USD)];
    longs.extend(vec![(ONE, px(100), 66_666_667); 10]);
    drain_market(&longs, 7 * ONE / 2, px(100), 4)
}

/// Runs the re-lever attack: W is cut in the first applying step (walk cap 1), then
/// withdraws margin to reach `target_x10` tenths of leverage at 100; the keeper finishes.
/// Returns (W's index and the region's end right after the re-lever, W's drain cut, X's
/// drain cut, X's one-shot cut).
fn relever(target_x10: i64) -> (usize, u32, u64, u64, u64) {
    let mut b = relever_book();
    let want_x = b.with(|st, _| {
        let ev = st.market.adl_events[0];
        one_shot_at(st, 0, ev.exec_price).2
    });
    let want_x = want_x.iter().find(|c| c.0 == 1).map_or(0, |c| c.1);
    meter::set_walk_cap(Some(1));
    let mut t = Tally::default();
    while b.market.adl_drains[0].phase != DRAIN_APPLYING {
        keeper_step(&mut b, 0, &mut t, "measure");
    }
    keeper_step(&mut b, 0, &mut t, "apply W");
    assert!(t.of(0) > 0 && t.of(1) == 0, "{t:?}");
    let d1 = b.market.adl_drains[0];
    let w_at = b.with(|st, _| st.lev_index(0).unwrap());
    println!(
        "after W's cut: cursor {} end {} W at {w_at}",
        d1.cursor, d1.end
    );
    // W re-levers: margin down to size·100/target.
    b.with(|st, _| {
        let p = *st.book.slot(0).unwrap();
        let want_margin = (p.base as i128 * 100 * 10 / target_x10 as i128 / 1_000) as i64;
        let delta = want_margin - p.margin;
        let mut u = owner_of(st, 0);
        st.price = Some(px(130));
        st.change_margin(&mut u, delta, px(130)).unwrap();
    });
    t.take_drained(&mut b, 0);
    check(&mut b, "W re-levers");
    let d2 = b.market.adl_drains[0];
    let w_at = b.with(|st, _| st.lev_index(0).unwrap());
    println!(
        "after W's re-lever: cursor {} end {} W at {w_at}",
        d2.cursor, d2.end
    );
    run_drain(&mut b, 0, &mut t);
    meter::set_walk_cap(None);
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
    assert_eq!(t.total(), 7 * ONE as u64 / 2);
    (w_at, d2.end, t.of(0), t.of(1), want_x)
}

/// **Attack: be cut first, then re-lever above the level and stay out of the region.** An
/// entry inserted in front of the applying cursor with a cut left is an arrival (cut at once);
/// one inserted inside `[cursor, end)` is cut in its turn. W is cut to ℓ ≈ 7.73x and lands as
/// the region's last entry (after X, before the 1.5x longs). It then withdraws margin to 9x:
/// its reposition removes it (`end` − 1) and re-inserts it at the same index — equal to `end`.
/// Before the fix that index was outside the region although W is above the level; now an
/// entry at `end` with more cut than one fill's rounding joins the region. Control: re-levering
/// to 11x (above X) lands it at the cursor, inside the region.
///
/// Safe outcome asserted: after the re-lever W is inside the region in both cases; the honest
/// X is never cut more than its one-shot cut; the event takes exactly its size.
///
/// Observed: PASSES after the fix (`drains_inserted`: `at == end` with a cut joins the region).
/// At 9x W is behind X, which is more leveraged: X takes its one-shot cut (2,272,719,845 atoms)
/// and uses up the event, so W keeps 9x — as it could have re-levered after the event. At 11x W
/// is ahead of X and is cut again (W 1,457,185,605, X 2,042,814,395). Before the fix, at 9x W
/// was at index `end` = 1, outside the region (found by this review).
#[test]
fn attack_cut_position_relevers_into_the_region_end_and_keeps_it() {
    for target in [110, 90] {
        let (w_at, end, w_cut, x_cut, want_x) = relever(target);
        println!(
            "re-lever to {}x: W at {w_at} of end {end}; W cut {w_cut}, X cut {x_cut} (one-shot \
             {want_x})",
            target as f64 / 10.0
        );
        assert!(
            w_at < end as usize,
            "re-lever to {target}/10 x: W outside the region"
        );
        assert!(x_cut <= want_x, "X cut {x_cut} > one-shot {want_x}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Jam: an adversary interleaved with an honest keeper (random), every invariant each op.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    /// A new long at 100: (entry, margin %, size tenths).
    Open(u64, i64, i64),
    /// Margin change of a random open long, USD (negative: removal).
    Margin(prop::sample::Index, i64),
    /// A random long removes all the margin initial margin at 100 allows.
    MaxOut(prop::sample::Index),
    /// A random long trades `k` tenths of its size (sign: buy/sell).
    Trade(prop::sample::Index, i64),
    /// A random long flips to a short of 1.0.
    Flip(prop::sample::Index),
    /// A random long is partially liquidated at the price given.
    Liquidate(prop::sample::Index, u64, i64),
    /// Funding index change.
    Funding(i64),
    /// A new bankrupt short in drain mode (margin/unit USD, size units).
    NewEvent(u64, i64),
    /// A keeper transaction of a random drain event.
    Keeper(prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (85u64..115, 11i64..60, 1i64..40).prop_map(|(e, m, q)| Op::Open(e, m, q)),
        3 => (any::<prop::sample::Index>(), -30i64..30).prop_map(|(i, d)| Op::Margin(i, d)),
        3 => any::<prop::sample::Index>().prop_map(Op::MaxOut),
        3 => (any::<prop::sample::Index>(), -9i64..10).prop_map(|(i, k)| Op::Trade(i, k)),
        1 => any::<prop::sample::Index>().prop_map(Op::Flip),
        1 => (any::<prop::sample::Index>(), 70u64..100, 1i64..10)
            .prop_map(|(i, p, k)| Op::Liquidate(i, p, k)),
        2 => (-3_000_000i64..3_000_000).prop_map(Op::Funding),
        1 => (10u64..29, 1i64..6).prop_map(|(m, q)| Op::NewEvent(m, q)),
        8 => any::<prop::sample::Index>().prop_map(Op::Keeper),
    ]
}

/// Jam statistics: drain fills outside keeper steps (dues, arrivals), keeper steps, most
/// measuring passes of a drain, cases.
static STATS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

fn open_longs(st: &MarketState) -> Vec<u32> {
    (0..st.book.header.high_water)
        .filter(|&s| st.book.slot(s).is_ok_and(|p| p.is_open() && p.base > 0))
        .collect()
}

fn active_drains(b: &Bufs) -> Vec<usize> {
    (0..ADL_EVENT_RING)
        .filter(|&i| {
            let e = b.market.adl_events[i];
            e.status == EVENT_ACTIVE && e.mode == ADL_MODE_LEVERAGE_DRAIN
        })
        .collect()
}

/// Runs `body` as one instruction (rolled back on error, `finish` otherwise).
fn instruction(
    b: &mut Bufs,
    body: impl FnOnce(
        &mut MarketState,
        &mut Vec<UserAccount>,
        &mut InsuranceFund,
    ) -> anchor_lang::Result<()>,
) -> bool {
    let saved = b.clone();
    let (r, pending) = b.with_raw(body);
    if r.is_err() {
        *b = saved;
        return false;
    }
    let done = b.finish(pending).unwrap();
    b.drained.extend(done.drains);
    true
}

/// Applies one adversary op; keeper ops must not fail. Returns the keeper steps run.
fn apply_op(b: &mut Bufs, op: &Op, now: &mut u64, tallies: &mut [Tally]) -> usize {
    *now += 1;
    let what = format!("{op:?}");
    let mut keeper = 0;
    match op.clone() {
        Op::Open(e, m, q) => {
            instruction(b, |st, users, _| {
                let mut u = user(100_000 + users.len());
                let size = q * ONE / 10;
                let notional = (size as i128 * px(e) as i128 / ONE as i128) as u64;
                let margin = (notional as i64 * m / 100) as u64;
                st.price = Some(px(100));
                st.fill_user(&mut u, size, notional, margin, 0, px(100))?;
                users.push(u);
                Ok(())
            });
        }
        Op::Margin(i, d) => {
            instruction(b, |st, _, _| {
                let open = open_longs(st);
                if open.is_empty() || d == 0 {
                    return Ok(());
                }
                let s = open[i.index(open.len())];
                let mut u = owner_of(st, s);
                st.price = Some(px(100));
                st.change_margin(&mut u, d * USD, px(100)).map(|_| ())
            });
        }
        Op::MaxOut(i) => {
            instruction(b, |st, _, _| {
                let open = open_longs(st);
                if open.is_empty() {
                    return Ok(());
                }
                let s = open[i.index(open.len())];
                let p = *st.book.slot(s).unwrap();
                let eq = p.equity(st.market.cumulative_funding, px(100))?;
                let im =
                    crate::math::margin_requirement(p.base, px(100), st.market.params.imr_bps)?;
                let free = (eq - im).min(p.margin as i128 - 1);
                if free <= 0 {
                    return Ok(());
                }
                let mut u = owner_of(st, s);
                st.price = Some(px(100));
                st.change_margin(&mut u, -(free as i64), px(100))
                    .map(|_| ())
            });
        }
        Op::Trade(i, k) => {
            instruction(b, |st, _, _| {
                let open = open_longs(st);
                if open.is_empty() || k == 0 {
                    return Ok(());
                }
                let s = open[i.index(open.len())];
                let base = st.book.slot(s).unwrap().base;
                let size = (base * k / 10).signum() * (base * k / 10).abs().max(1_000_000);
                let mut u = owner_of(st, s);
                st.price = Some(px(100));
                let notional = (size.unsigned_abs() as u128 * px(100) as u128 / ONE as u128) as u64;
                let add = if size > 0 { notional / 5 } else { 0 };
                st.fill_user(&mut u, size, notional, add, 0, px(100))?;
                st.require_min_position(s)
            });
        }
        Op::Flip(i) => {
            instruction(b, |st, _, _| {
                let open = open_longs(st);
                if open.is_empty() {
                    return Ok(());
                }
                let s = open[i.index(open.len())];
                let base = st.book.slot(s).unwrap().base;
                let mut u = owner_of(st, s);
                st.price = Some(px(100));
                let size = base + ONE;
                let notional = (size as u128 * px(100) as u128 / ONE as u128) as u64;
                st.fill_user(&mut u, -size, notional, 30 * USD as u64, 0, px(100))
                    .map(|_| ())
            });
        }
        Op::Liquidate(i, p, k) => {
            instruction(b, |st, users, fund| {
                let open = open_longs(st);
                if open.is_empty() {
                    return Ok(());
                }
                let s = open[i.index(open.len())];
                let base = st.book.slot(s).unwrap().base as u64;
                let mut u = owner_of(st, s);
                let mut liq = user(200_000 + users.len());
                st.price = Some(px(p));
                let take = (base * k as u64 / 10).max(1_000_000);
                let margin = (take as u128 * px(p) as u128 / ONE as u128) as u64 / 4;
                st.liquidate(s, &mut u, &mut liq, fund, take, margin, px(p))?;
                users.push(liq);
                Ok(())
            });
        }
        Op::Funding(d) => {
            instruction(b, |st, _, _| super::apply_funding(st.market, d));
        }
        Op::NewEvent(m, q) => {
            let t = *now;
            instruction(b, |st, users, fund| {
                if st.market.free_event_index().is_none() {
                    return Ok(());
                }
                let mut u = user(300_000 + users.len());
                let notional = (q * 100 * USD) as u64;
                let (slot, _, _) = st.fill_user(
                    &mut u,
                    -q * ONE,
                    notional,
                    (q * m as i64 * USD) as u64,
                    0,
                    px(100),
                )?;
                st.market.adl_mode = ADL_MODE_LEVERAGE_DRAIN;
                st.price = Some(px(130));
                st.start_adl(slot, &mut u, fund, px(130), t)?;
                users.push(u);
                Ok(())
            });
        }
        Op::Keeper(i) => {
            let act = active_drains(b);
            if !act.is_empty() {
                let ix = act[i.index(act.len())];
                keeper_step(b, ix, &mut tallies[ix], &what);
                keeper = 1;
            }
        }
    }
    STATS[0].fetch_add(b.drained.len(), Ordering::Relaxed);
    for (ix, t) in tallies.iter_mut().enumerate() {
        let d: Vec<(usize, DrainFill)> = b.drained.iter().filter(|f| f.0 == ix).copied().collect();
        t.add(ix, &d);
    }
    b.drained.clear();
    check(b, &what);
    keeper
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// **Jam / starve / accounting under an adversary.** A random book and one drain event
    /// (more drain events may start), walk cap 1–6; the adversary opens, tops up, withdraws,
    /// maxes out, trades, flips, gets liquidated, cranks funding and starts new drain events
    /// between honest keeper steps. After every op: open interest, escrows, measuring sums,
    /// cursor ≤ end ≤ len, nothing cuttable in front of a cursor, queue order; no honest keeper
    /// step fails. Then the keeper alone must end every drain (or hand it to rank order) within
    /// a bound of steps, and each event's drain cuts must not exceed its size. Who would lose:
    /// the event's counterparty (a stuck escrow) or honest longs (over-cut).
    ///
    /// Observed: PASSES (400 cases, about 1.5 s in debug; 452 dues/arrivals, 7,369 final keeper
    /// steps, at most 3 measuring passes with several concurrent drains; no keeper step failed).
    #[test]
    fn jam_drain_under_an_adversary(
        book in prop::collection::vec((85u64..115, 11i64..60, 1i64..4), 6..30),
        ops in prop::collection::vec(op(), 1..80),
        q in 1i64..12,
        cap in 1usize..7,
    ) {
        let longs: Vec<Long> = book
            .iter()
            .map(|&(e, m, q)| (q * ONE, px(e), q * e as i64 * USD * m / 100))
            .collect();
        let mut b = drain_market(&longs, q * ONE, px(100), 200);
        meter::set_walk_cap(Some(cap));
        let mut tallies: Vec<Tally> = (0..ADL_EVENT_RING).map(|_| Tally::default()).collect();
        let mut now = 10u64;
        check(&mut b, "start");
        // Σ sizes of the events each ring index held (indices are reused).
        let mut sizes = [0u64; ADL_EVENT_RING];
        let mut ids = [u64::MAX; ADL_EVENT_RING];
        let mut seen = |b: &Bufs, sizes: &mut [u64; ADL_EVENT_RING]| {
            for i in 0..ADL_EVENT_RING {
                let e = b.market.adl_events[i];
                if e.base_total > 0 && e.id != ids[i] {
                    ids[i] = e.id;
                    sizes[i] += e.base_total;
                }
            }
        };
        seen(&b, &mut sizes);
        for op in &ops {
            apply_op(&mut b, op, &mut now, &mut tallies);
            seen(&b, &mut sizes);
        }
        // The keeper alone.
        let mut steps = 0;
        while let Some(&ix) = active_drains(&b).first() {
            keeper_step(&mut b, ix, &mut tallies[ix], "final keeper");
            STATS[2].fetch_max(b.market.adl_drains[ix].passes as usize, Ordering::Relaxed);
            steps += 1;
            prop_assert!(steps < 2_000, "drain {} never ends: {:?}", ix, b.market.adl_drains[ix]);
        }
        meter::set_walk_cap(None);
        STATS[1].fetch_add(steps, Ordering::Relaxed);
        if STATS[3].fetch_add(1, Ordering::Relaxed) % 100 == 99 {
            println!(
                "jam stats: out-of-step drain fills {}, final keeper steps {}, most passes {}",
                STATS[0].load(Ordering::Relaxed),
                STATS[1].load(Ordering::Relaxed),
                STATS[2].load(Ordering::Relaxed)
            );
        }
        for (ix, t) in tallies.iter().enumerate() {
            let total = sizes[ix];
            prop_assert!(t.total() <= total, "event {}: drained {} > size {}", ix, t.total(), total);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Arithmetic edges (pure functions).
// ---------------------------------------------------------------------------------------------

/// Water-fills `(s, e)` terms in the order given, like `drain_region`, and returns
/// (level, Σ cuts capped head-first, Σ uncapped cuts, S).
fn pure_drain(terms: &[(u64, u64)], q: u64, price: u64) -> (u64, u64, u64, u64) {
    let (mut sb, mut se) = (0u64, 0u64);
    let mut region = vec![];
    for &(s, e) in terms {
        if !adl::drain_joins(sb, se, q, s, e) {
            break;
        }
        sb += s;
        se += e;
        region.push((s, e));
    }
    let level = adl::drain_level(sb, se, q, price);
    let (mut left, mut raw) = (q, 0u64);
    for &(s, e) in &region {
        let c = adl::drain_cut(s, e, level, price).unwrap();
        raw += c;
        left -= c.min(left);
    }
    (level, q - left, raw, sb)
}

/// **Arithmetic edges: zero drain equity, the level cap, huge sizes and prices.** A region
/// must always cover the event when the side can (`S ≥ Q`): Σ cuts at the level ≥ Q, and no
/// call may fail or overflow. Cases: every position with e = 0 (eq ≤ 2 atoms); e = 0
/// interleaved with normal ones; leverage above the 10,000x cap; `(S − Q)·P·1e4` beyond 128
/// bits; i64::MAX sizes at a u64::MAX price. Who would lose: the event (a region that does
/// not cover it measures again forever).
///
/// Observed: PASSES — every case covers Q (level capped at 100,000,000 bps in all six; no
/// overflow).
#[test]
fn arithmetic_edges_cover_the_event() {
    let p = px(100);
    type Case = (Vec<(u64, u64)>, u64, u64);
    let cases: Vec<Case> = vec![
        (vec![(ONE as u64, 0); 5], 3 * ONE as u64, p),
        (
            vec![(ONE as u64, 0), (ONE as u64, 10), (ONE as u64, 0)],
            2 * ONE as u64,
            p,
        ),
        (vec![(ONE as u64, 1); 10], 3 * ONE as u64, p),
        (vec![(u64::MAX / 4, 1); 3], u64::MAX / 2, u64::MAX),
        (vec![(i64::MAX as u64, u64::MAX / 2)], 1, u64::MAX),
        (vec![(i64::MAX as u64, 1), (1, 1)], 5, u64::MAX / 3),
    ];
    for (terms, q, price) in cases {
        let (level, capped, raw, s) = pure_drain(&terms, q, price);
        println!("level {level}, covered {capped} of {q} (raw {raw}, S {s})");
        assert!(level <= MAX_DRAIN_LEVEL_BPS);
        if s >= q {
            assert_eq!(capped, q, "{terms:?}: the region does not cover the event");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// **Arithmetic: coverage and overshoot bound on random regions** (the order of
    /// `by_leverage` is the exact leverage, so terms are sorted by `s/(e+2)` descending, the
    /// drain equity being floored and two atoms held back). Σ cuts ≥ Q whenever S ≥ Q, and the
    /// overshoot is below `k + E·BASE/(P·1e4) + 1` as documented.
    ///
    /// Observed: PASSES (2,000 cases).
    #[test]
    fn arithmetic_random_regions_cover_and_bound_the_overshoot(
        raw in prop::collection::vec((1u64..10_000_000_000, 0u64..5_000_000_000), 1..30),
        q in 1u64..50_000_000_000,
        price in 1u64..1_000_000_000_000,
    ) {
        let mut terms = raw.clone();
        terms.sort_by(|a, b| ((b.0 as u128) * (a.1 as u128 + 2)).cmp(&((a.0 as u128) * (b.1 as u128 + 2))));
        let (mut sb, mut se, mut k) = (0u64, 0u64, 0u64);
        for &(s, e) in &terms {
            if !adl::drain_joins(sb, se, q, s, e) {
                break;
            }
            sb += s;
            se += e;
            k += 1;
        }
        let (level, capped, rawc, s) = pure_drain(&terms, q, price);
        if s >= q {
            prop_assert_eq!(capped, q);
            if level < MAX_DRAIN_LEVEL_BPS {
                let bound = k as u128 + (se as u128 * 1_000_000_000).div_ceil(price as u128 * 10_000) + 1;
                prop_assert!(((rawc - q) as u128) < bound, "overshoot {} ≥ {}", rawc - q, bound);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Second review: the trimming phase, the `end` rounding threshold, SIDE_SHORT, jams.
// ---------------------------------------------------------------------------------------------

/// Keeper steps of drain 0 until its phase is `phase` (at most 50).
fn step_until(b: &mut Bufs, t: &mut Tally, phase: u8, what: &str) {
    let mut k = 0;
    while b.market.adl_drains[0].phase != phase {
        keeper_step(b, 0, t, &format!("{what} {k}"));
        k += 1;
        assert!(k < 50, "{what}: phase {phase} never reached");
    }
}

/// The one-shot cut of `slot` in `cuts` (0 when not in the region).
fn cut_in(cuts: &[(u32, u64)], slot: u32) -> u64 {
    cuts.iter().find(|c| c.0 == slot).map_or(0, |c| c.1)
}

/// **Attack: leave the region while it is being trimmed, so the level is fixed on a region
/// that no longer covers the event.** Book (P_exec 100, entries 100): slots 0, 1 honest 10x
/// (1.0, 10 USD), slot 2 the attacker X at 10x (1.0, 10 USD), slot 3 the attacker's second
/// account B at 1.2x (10.0, 833.33 USD). Event 2.5: region {0, 1, X}, level 1.67x, B is the
/// boundary. Walk cap 1: the step that reads B ends the forward pass and leaves the pass in
/// `DRAIN_TRIMMING` with no read left. X then closes (a plain sell, no due in TRIMMING):
/// `drains_removed` subtracts it, S = 2.0 < Q. The trimming step keeps slot 1 (the rest does
/// not cover Q) and fixes ℓ = `drain_level(2.0, 20, 2.5)` = 0 without looking at B again:
/// both honest longs are closed whole at P_exec, and a second pass takes the 0.5 left from B.
/// On the state at fix the one-shot region is {0, 1, B} at ℓ ≈ 1.11x. Who profits: the
/// attacker (B cut 0.5 instead of ≈ 0.72, X out at the oracle); who loses: the honest head
/// (closed whole instead of cut to 1.11x).
///
/// Safe outcome asserted: the level fixed is the one-shot level of the state it was fixed on,
/// and no honest long is cut more than its one-shot cut there.
///
/// Observed before the fix: FAILS — level 0 (one-shot at fix 11,132 bps); slots 0 and 1 cut
/// 1,000,000,000 each (one-shot 888,680,023: +111,319,977 each), B cut 500,000,000 (one-shot
/// 722,639,954: −222,639,954); a second pass took the 0.5 left from B. The pass never re-read
/// the forward boundary before fixing the level, though `drains_removed` had changed the sums.
/// Now: PASSES — before the level is fixed the region must cover the event and the position at
/// the cursor must not join it, else the pass goes forward again: level 11,132, cuts
/// 888,680,023 / 888,680,023 / 722,639,954 as in one pass, one pass.
#[test]
fn attack_leave_region_during_trimming_fixes_level_zero() {
    let mut longs: Vec<Long> = vec![(ONE, px(100), 10 * USD); 3];
    longs.push((10 * ONE, px(100), 833_333_333));
    let mut b = drain_market(&longs, 5 * ONE / 2, px(100), 8);
    meter::set_walk_cap(Some(1));
    let mut t = Tally::default();
    keeper_step(&mut b, 0, &mut t, "begin");
    step_until(&mut b, &mut t, DRAIN_TRIMMING, "measure");
    assert_eq!(b.market.adl_drains[0].cursor, 3);
    // X sells its whole position at the oracle.
    b.with(|st, _| {
        let mut u = owner_of(st, 2);
        st.price = Some(px(100));
        st.fill_user(&mut u, -ONE, 100 * USD as u64, 0, 0, px(100))
            .unwrap();
    });
    t.take_drained(&mut b, 0);
    check(&mut b, "X leaves");
    step_until(&mut b, &mut t, DRAIN_APPLYING, "trim");
    let d = b.market.adl_drains[0];
    let (want_level, _, want) = b.with(|st, _| one_shot_at(st, 0, d.price));
    let mut passes = d.passes;
    while b.market.adl_events[0].status == EVENT_ACTIVE {
        keeper_step(&mut b, 0, &mut t, "apply");
        passes = passes.max(b.market.adl_drains[0].passes);
    }
    meter::set_walk_cap(None);
    println!(
        "level {} (one-shot at fix {want_level}); cuts 0: {} 1: {} B: {} (one-shot {} {} {}); \
         status {} passes {passes}",
        d.level_bps,
        t.of(0),
        t.of(1),
        t.of(3),
        cut_in(&want, 0),
        cut_in(&want, 1),
        cut_in(&want, 3),
        b.market.adl_events[0].status
    );
    assert_eq!(
        d.level_bps, want_level,
        "level fixed on a region that no longer covers Q"
    );
    for s in [0, 1] {
        assert!(
            t.of(s) <= cut_in(&want, s),
            "honest slot {s} cut {} > one-shot {}",
            t.of(s),
            cut_in(&want, s)
        );
    }
}

/// **Attack: re-lever into the boundary's index while the pass trims, and stay out of the
/// region.** Book (P_exec 100, entries 100): slot 0 honest 20x (2.0, 10 USD), slot 1 honest
/// 10x (10.0, 100 USD), slots 2..=11 honest 1.5x (1.0, 66.67 USD), slot 12 the attacker X at
/// 1x (10.0, 1,000 USD). Event 3.5: region {0, 1} at 7.73x. Walk cap 1: the step that reads
/// the boundary (a 1.5x long) leaves the pass in `DRAIN_TRIMMING`. X withdraws 888.89 USD
/// (9x, allowed at oracle 100) and lands between slot 1 and the boundary — at index ==
/// cursor, which `drains_inserted` does not count (`at < cursor` only) and trimming (which
/// reads backwards from `cursor − 1`) never reads. The level is fixed at 7.73x over {0, 1}
/// with X, at 9x, right at `end` (the `rounding_cut` rule applies to APPLYING only). One-shot
/// at fix: region {0, 1, X} at ≈ 8.37x. Who profits: X (keeps 9x, cut 0 instead of ≈ 0.70);
/// who loses: slots 0 and 1 (cut to 7.73x instead of 8.37x).
///
/// Safe outcome asserted: level fixed = one-shot level at fix; X cut at least its one-shot
/// cut; honest cuts at most theirs.
///
/// Observed before the fix: FAILS — cursor 2, X at 2, end 2; level 77,272 bps (one-shot at fix
/// 83,668); X cut 0 (one-shot 703,479,664); slot 0 cut 1,227,280,155 (one-shot 1,163,320,168),
/// slot 1 2,272,719,845 (one-shot 1,633,200,168): honest +703,479,664 in all. Now: PASSES — an
/// entry inserted at the cursor while trimming joins the sums and is the new tail: level
/// 83,668, X cut 703,479,664, slots 0 and 1 as in one pass.
#[test]
fn attack_relever_to_the_cursor_during_trimming_escapes() {
    let mut longs: Vec<Long> = vec![(2 * ONE, px(100), 10 * USD), (10 * ONE, px(100), 100 * USD)];
    longs.extend(vec![(ONE, px(100), 66_666_667); 10]);
    longs.push((10 * ONE, px(100), 1_000 * USD));
    let mut b = drain_market(&longs, 7 * ONE / 2, px(100), 4);
    const X: u32 = 12;
    meter::set_walk_cap(Some(1));
    let mut t = Tally::default();
    keeper_step(&mut b, 0, &mut t, "begin");
    step_until(&mut b, &mut t, DRAIN_TRIMMING, "measure");
    let cursor = b.market.adl_drains[0].cursor;
    b.with(|st, _| {
        let mut u = owner_of(st, X);
        st.change_margin(&mut u, -888_888_889, px(100)).unwrap();
    });
    t.take_drained(&mut b, 0);
    check(&mut b, "X re-levers");
    let x_at = b.with(|st, _| st.lev_index(X).unwrap());
    step_until(&mut b, &mut t, DRAIN_APPLYING, "trim");
    let d = b.market.adl_drains[0];
    let (want_level, _, want) = b.with(|st, _| one_shot_at(st, 0, d.price));
    run_drain(&mut b, 0, &mut t);
    meter::set_walk_cap(None);
    println!(
        "cursor {cursor}, X at {x_at}, end {}; level {} (one-shot at fix {want_level}); X cut {} \
         (one-shot {}), 0: {} ({}), 1: {} ({})",
        d.end,
        d.level_bps,
        t.of(X),
        cut_in(&want, X),
        t.of(0),
        cut_in(&want, 0),
        t.of(1),
        cut_in(&want, 1)
    );
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
    assert_eq!(d.level_bps, want_level, "level fixed without X");
    assert!(t.of(X) >= cut_in(&want, X), "X escaped its cut");
    for s in [0, 1] {
        assert!(t.of(s) <= cut_in(&want, s), "honest slot {s} over-cut");
    }
}

/// **Attack: get a drain declared side-short while the side covers the event.** Two honest
/// 10x longs (1.0 each) face an event of 2.5: the side alone is short. Found by the second
/// review: the forward pass reached the side's end and the pass then waited in trimming; the
/// attacker opened a 5.0 long at 1x, appended at the cursor and never counted, and the level
/// was fixed at 0 with `DRAIN_SIDE_SHORT`: the honest longs closed whole and the rest (0.5)
/// went to the ranked walk. Now a side found short is fixed in the same step (nothing to trim:
/// the forward pass joins every position while `S < Q`), and a position that appears during
/// applying at the region's end with a cut joins the region, so X takes the 0.5 in the drain.
///
/// Safe outcome asserted: the event ends as a drain (not ranked); the honest longs are closed
/// whole (the side was short when the level was fixed); X is cut exactly the 0.5 left.
///
/// Observed before the fix: FAILS — flags SIDE_SHORT | REACHED_END at level 0 while S at fix
/// was 7.0 ≥ Q (one-shot level 8,653 bps); the 0.5 went to the ranked walk. Now: PASSES.
#[test]
fn attack_side_short_declared_while_the_side_covers() {
    let longs: Vec<Long> = vec![(ONE, px(100), 10 * USD); 2];
    let mut b = drain_market(&longs, 5 * ONE / 2, px(100), 4);
    meter::set_walk_cap(Some(1));
    let mut t = Tally::default();
    keeper_step(&mut b, 0, &mut t, "begin");
    step_until(&mut b, &mut t, DRAIN_APPLYING, "measure");
    let d = b.market.adl_drains[0];
    assert_eq!(d.flags, DRAIN_SIDE_SHORT | DRAIN_REACHED_END);
    assert_eq!(d.level_bps, 0);
    let x = b.with(|st, _| {
        let mut u = user(700);
        st.price = Some(px(100));
        st.fill_user(
            &mut u,
            5 * ONE,
            500 * USD as u64,
            500 * USD as u64,
            0,
            px(100),
        )
        .unwrap()
        .0
    });
    t.take_drained(&mut b, 0);
    check(&mut b, "X opens");
    run_drain(&mut b, 0, &mut t);
    meter::set_walk_cap(None);
    println!(
        "cuts 0: {} 1: {} X: {}; mode {} status {}",
        t.of(0),
        t.of(1),
        t.of(x),
        b.market.adl_events[0].mode,
        b.market.adl_events[0].status
    );
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
    assert_eq!(b.market.adl_events[0].mode, ADL_MODE_LEVERAGE_DRAIN);
    assert_eq!(
        (t.of(0), t.of(1), t.of(x)),
        (ONE as u64, ONE as u64, ONE as u64 / 2)
    );
}

/// **Attack: the `end` rounding threshold (`rounding_cut`).** The relever book: W (slot 0) is
/// cut to ℓ ≈ 7.73x in the first applying step and lands at `end`. W then withdraws 1 quote
/// atom at a time (six times), as long as the drain is applying: an entry re-inserted at `end` joins the
/// region only if its cut exceeds `rounding_cut` (3·⌈ℓ·BASE/(P_d·1e4)⌉ + 1 = 235 base atoms
/// here). Who would profit: W (size above the level kept); who would lose: the positions
/// behind it in the region. Safe outcome asserted: after the drain W's cut at the level (the
/// size it keeps above the level) is at most `rounding_cut`, the honest X is cut at most its
/// one-shot cut, and the event takes exactly its size.
///
/// Observed: PASSES — one and two withdrawn atoms leave W 155 and 232 base atoms above the
/// level outside the region (≤ 235); the third makes it 309 > 235 and W joins the region and
/// is cut by the next due (then the cycle repeats). Maximum gain: `rounding_cut` base atoms,
/// here 232 ≤ 235 atoms = 2.35e-7 units ≈ 23 quote atoms (2.3e-5 USD) at P_d 100; in value
/// about 3·ℓ/1e4 quote atoms whatever the price. Nobody honest absorbs it: X is cut 309
/// atoms *less* than its one-shot cut (2,272,719,536 vs 2,272,719,845), W's re-cuts
/// count towards the event.
#[test]
fn rounding_cut_threshold_bounds_the_gain_at_end() {
    let mut b = relever_book();
    let want_x = b.with(|st, _| {
        let ev = st.market.adl_events[0];
        cut_in(&one_shot_at(st, 0, ev.exec_price).2, 1)
    });
    meter::set_walk_cap(Some(1));
    let mut t = Tally::default();
    step_until(&mut b, &mut t, DRAIN_APPLYING, "measure");
    let d = b.market.adl_drains[0];
    let per_atom = (d.level_bps as u128 * 1_000_000_000).div_ceil(d.price as u128 * 10_000);
    let rounding = (3 * per_atom + 1) as u64;
    keeper_step(&mut b, 0, &mut t, "apply W");
    assert!(t.of(0) > 0);
    let w_cut_now = |b: &mut Bufs| {
        b.with(|st, _| {
            let d = st.market.adl_drains[0];
            let ev = st.market.adl_events[0];
            let p = st.book.slot(0).unwrap();
            match adl::drain_terms(p, st.market.cumulative_funding, ev.exec_price).unwrap() {
                Some((s, e)) => adl::drain_cut(s, e, d.level_bps, d.price).unwrap(),
                None => 0,
            }
        })
    };
    let mut excess = 0;
    for k in 0..6 {
        if b.market.adl_drains[0].phase != DRAIN_APPLYING {
            break;
        }
        b.with(|st, _| {
            let mut u = owner_of(st, 0);
            st.price = Some(px(100));
            st.change_margin(&mut u, -1, px(100)).unwrap();
        });
        t.take_drained(&mut b, 0);
        check(&mut b, &format!("W withdraws 1 atom ({k})"));
        let d = b.market.adl_drains[0];
        let at = b.with(|st, _| st.lev_index(0).unwrap());
        let c = w_cut_now(&mut b);
        println!(
            "withdrawal {k}: W at {at}, cursor {} end {}, W's cut at the level {c} (rounding \
             {rounding})",
            d.cursor, d.end
        );
        if at >= d.end as usize {
            excess = excess.max(c);
        }
    }
    run_drain(&mut b, 0, &mut t);
    meter::set_walk_cap(None);
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
    assert_eq!(t.total(), 7 * ONE as u64 / 2);
    println!(
        "W's largest cut kept outside the region {excess} base atoms; X cut {} (one-shot \
         {want_x})",
        t.of(1)
    );
    assert!(
        excess <= rounding,
        "W kept {excess} > rounding cut {rounding}"
    );
    assert!(t.of(1) <= want_x);
}

/// **Jam: re-read the measuring cursor with free margin moves.** A position just before the
/// measuring cursor that changes its margin by one atom (rank unchanged) is removed before the
/// cursor (its terms leave the sums, the cursor steps back) and re-inserted at the cursor, so
/// the forward pass reads it again. The attacker does this once between every two honest
/// measuring steps. Book: 40 longs at 10x..2x, a large event (the region is most of the side).
/// Safe outcome asserted: with walk cap `c`, each attacker action costs the keeper at most one
/// read, so the measuring steps are at most those without the attacker times c/(c−1) plus 2,
/// the pass ends, one pass, and the drain still equals the one-shot of the state at fix. With
/// a cap of 1 (not the program's: its cap is 1,024) each action undoes the only read of a
/// step, so the attacker can stall the forward pass one transaction per transaction.
///
/// Observed: PASSES — cap 2: 20 measuring steps alone, 39 with 38 toggles; cap 3: 14 → 20
/// with 19; cap 8: 5 → 6 with 5; level 16,949 = one-shot at fix, one pass each time. One
/// extra read per attacker action, no amplification (an action costs the keeper ≤ 1 of its
/// 1,024 reads); trimming only moves the cursor back and no phase returns to measuring, so
/// passes do not grow with margin toggles.
#[test]
fn jam_margin_toggles_reread_the_measuring_cursor() {
    let longs: Vec<Long> = (0..40)
        .map(|i| (ONE, px(100), (10 + i as i64 * 1_000_000 / 1_000_000) * USD))
        .collect();
    let q = 20 * ONE;
    let measure = |cap: usize, attack: bool| -> (usize, usize, u64, bool) {
        let mut b = drain_market(&longs, q, px(100), 4);
        meter::set_walk_cap(Some(cap));
        let mut t = Tally::default();
        keeper_step(&mut b, 0, &mut t, "begin");
        let (mut steps, mut actions) = (0, 0);
        while b.market.adl_drains[0].phase == DRAIN_MEASURING {
            keeper_step(&mut b, 0, &mut t, "measure");
            steps += 1;
            assert!(steps < 500, "the forward pass never ends");
            let d = b.market.adl_drains[0];
            if attack && d.phase == DRAIN_MEASURING && d.cursor > 0 {
                let s = b.with(|st, _| st.long_queue.by_leverage[d.cursor as usize - 1].slot());
                let delta = if actions % 2 == 0 { 1 } else { -1 };
                b.with(|st, _| {
                    let mut u = owner_of(st, s);
                    st.change_margin(&mut u, delta, px(100)).unwrap();
                });
                t.take_drained(&mut b, 0);
                check(&mut b, "toggle");
                actions += 1;
            }
        }
        step_until(&mut b, &mut t, DRAIN_APPLYING, "trim");
        let d = b.market.adl_drains[0];
        let (want_level, _, _) = b.with(|st, _| one_shot_at(st, 0, d.price));
        run_drain(&mut b, 0, &mut t);
        meter::set_walk_cap(None);
        let ok = d.level_bps == want_level
            && b.market.adl_events[0].status == EVENT_DONE
            && b.market.adl_drains[0].passes <= 1;
        (steps, actions, d.level_bps, ok)
    };
    for cap in [2usize, 3, 8] {
        let (base, _, _, ok0) = measure(cap, false);
        let (steps, actions, level, ok) = measure(cap, true);
        println!("cap {cap}: {base} measuring steps alone, {steps} with {actions} toggles (level {level})");
        assert!(
            ok0 && ok,
            "cap {cap}: drain differs from the one-shot at fix"
        );
        assert!(
            steps * (cap - 1) <= base * cap + 2 * cap,
            "cap {cap}: {steps} steps > bound (alone {base})"
        );
    }
}
