//! Bounded work of `auto_deleverage` on adversarial books of 100,000 positions on one side,
//! and the walk's saved cursors against the definition of ADL rank. The code under test is
//! the handlers' own (`MarketState::start_adl`, `MarketState::auto_deleverage`, `fill_user`)
//! on in-memory buffers with the accounts' real layouts; the cost meter counts the work.
//!
//! The books are written slot by slot and their queue arrays sorted once (inserting 100,000
//! positions one by one would shift megabytes per insert and say nothing about ADL); every
//! change after that goes through the program's paths.
#![allow(clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;

use super::MarketState;
use crate::adl::{plan_fill, tier_at, PlannedFill, RankWalk};
use crate::meter::{self, Counts};
use crate::state::*;

use crate::testkit::*;

/// One keeper transaction: plan, then the instruction's own code. Returns the fills, the
/// walk's reads and the meter's counts for the instruction alone.
fn keeper_tx(b: &mut Bufs, max: usize) -> (Vec<PlannedFill>, usize, Counts) {
    b.with(|st, _| {
        let (slots, capped) = keeper_plan(st, 0, max);
        assert!(
            !slots.is_empty() || capped,
            "the keeper has nothing to submit"
        );
        meter::reset();
        let (fills, reads) = st.auto_deleverage(0, &slots).unwrap();
        let c = meter::counts();
        assert_eq!(fills.iter().map(|f| f.slot).collect::<Vec<_>>(), slots);
        (fills, reads, c)
    })
}

/// The definition of the next counterparty, by brute force over every open long (not the
/// walk's code): tier 1 (in profit at the tier price, exactly) before tier 2, eligible at
/// `P_exec` (exactly), most leveraged first by the queue's order.
fn definition_next(st: &MarketState, index: usize) -> Option<u32> {
    let ev = st.market.adl_events[index];
    let tier_price = st.market.adl_walks[index].tier_price_or(ev.exec_price);
    let frac_of = |s: u32| st.book.slot(s).ok().and_then(|p| p.key_frac().ok());
    let ord = ExactOrder {
        is_long: true,
        frac_of: &frac_of,
    };
    let mut best: Option<(u8, QueueEntry, u32)> = None;
    for i in 0..st.book.header.high_water {
        let p = st.book.slot(i).unwrap();
        if !p.is_open() || p.side() != SIDE_LONG {
            continue;
        }
        if plan_fill(
            i,
            p,
            st.market.cumulative_funding,
            ev.exec_price,
            ev.base_remaining,
        )
        .is_err()
        {
            continue;
        }
        let tier = tier_at(p, tier_price).unwrap();
        let key = p.queue_entries(i).unwrap().1;
        let before = |(t, k, _): (u8, QueueEntry, u32)| {
            tier.cmp(&t).then_with(|| ord.cmp_entries(&key, &k)) == core::cmp::Ordering::Less
        };
        if best.is_none_or(before) {
            best = Some((tier, key, i));
        }
    }
    best.map(|b| b.2)
}

/// The walk's invariant: no entry before a saved cursor can be taken in its tier (checked
/// by evaluating every one of them, not with the walk's code).
fn check_cursors(st: &MarketState, index: usize) {
    let ev = st.market.adl_events[index];
    if ev.status != EVENT_ACTIVE {
        return;
    }
    let w = st.market.adl_walks[index];
    let tier_price = w.tier_price_or(ev.exec_price);
    for (t, &c) in w.cursor.iter().enumerate() {
        for e in &st.long_queue.by_leverage[..c as usize] {
            let p = st.book.slot(e.slot()).unwrap();
            assert!(
                !crate::adl::takeable(
                    p,
                    st.market.cumulative_funding,
                    ev.exec_price,
                    tier_price,
                    t as u8 + 1
                ),
                "slot {} before cursor {c} of tier {} is takeable",
                e.slot(),
                t + 1
            );
        }
    }
}

/// The queue arrays hold exactly the open longs, sorted.
fn check_queue(st: &MarketState) {
    let len = st.long_queue.len();
    let lev = &st.long_queue.by_leverage[..len];
    let frac_of = |s: u32| st.book.slot(s).ok().and_then(|p| p.key_frac().ok());
    let ord = ExactOrder {
        is_long: true,
        frac_of: &frac_of,
    };
    assert!(lev
        .windows(2)
        .all(|w| ord.cmp_entries(&w[0], &w[1]) == core::cmp::Ordering::Less));
    for e in lev {
        let p = st.book.slot(e.slot()).unwrap();
        assert_eq!(p.queue_entries(e.slot()).unwrap().1, *e);
    }
}

/// Runs an event to its end with a keeper of `max` fills per transaction; per transaction
/// the walk's reads stay within the cap and no entry is moved by an element loop. Returns
/// (fills in order, transactions, total walk reads, per-transaction counts).
fn run_event(b: &mut Bufs, max: usize) -> (Vec<PlannedFill>, usize, usize, Vec<(usize, Counts)>) {
    let mut all = vec![];
    let (mut txs, mut total) = (0, 0);
    let mut per_tx = vec![];
    while b.market.adl_events[0].status == EVENT_ACTIVE {
        let (fills, reads, c) = keeper_tx(b, max);
        assert!(reads <= ADL_WALK_CAP, "tx {txs}: {reads} reads");
        assert_eq!(c.elements_moved, 0);
        txs += 1;
        total += reads;
        per_tx.push((fills.len(), c));
        all.extend(fills);
        assert!(txs < 10_000, "the event does not advance");
    }
    b.with(|st, _| check_queue(st));
    (all, txs, total, per_tx)
}

const N: usize = 100_000;

/// (a) 50,000 eligible tier-2 longs (entry 110, 30 % margin: bankruptcy price 77) are more
/// leveraged than every tier-1 long (entry 90, 50 %: 45); event of 30 at `P_exec` 100.
/// Without saved cursors every transaction would read the 50,000 tier-2 entries again
/// before its first fill; with them each is passed once per event, at most `ADL_WALK_CAP`
/// per transaction (progress-only transactions save the cursor).
#[test]
fn budget_a_tier2_block_ahead_of_tier1_is_passed_once_per_event() {
    let mut longs: Vec<Long> = vec![(ONE, px(110), 33 * USD); N / 2];
    longs.extend(vec![(ONE, px(90), 45 * USD); N / 2]);
    let mut b = market(&longs, 30 * ONE, px(100), 0);
    let ev = start(&mut b);
    assert_eq!(ev.exec_price, px(100));
    // A walk from the head (what every transaction did before cursors were saved) reads
    // all 50,000 tier-2 entries before its first fill.
    b.with(|st, _| {
        let book = &*st.book.slots;
        let mut w = RankWalk::fresh(
            &st.long_queue.by_leverage[..N],
            |s| book.get(s as usize),
            0,
            ev.exec_price,
            ev.base_remaining,
        );
        assert_eq!(w.next_fill().map(|f| f.slot), Some(50_000));
        assert_eq!(w.reads, 50_001);
    });
    let (fills, txs, total, per_tx) = run_event(&mut b, 24);
    // The 30 oldest tier-1 longs, in order (they are identical but for age).
    assert_eq!(
        fills.iter().map(|f| f.slot).collect::<Vec<_>>(),
        (50_000u32..50_030).collect::<Vec<_>>()
    );
    assert!(fills.iter().all(|f| f.tier == 1));
    // ⌈50,000 / 2,048⌉ − 1 = 24 progress-only transactions, then 24 fills and 6 fills.
    assert_eq!(txs, 26);
    assert!(per_tx[..24].iter().all(|(f, _)| *f == 0));
    assert_eq!((per_tx[24].0, per_tx[25].0), (24, 6));
    // Each entry passed once: 50,000 + one read per fill + one re-read of each taken entry
    // within a transaction (23 + 5).
    assert_eq!(total, 50_000 + 30 + 23 + 5);
}

/// (b) 50,000 longs ineligible at `P_exec` (entry 102, 1 %: bankruptcy price 100.98 > 100)
/// rank ahead of 50,000 eligible tier-1 longs: one binary search passes them.
#[test]
fn budget_b_ineligible_block_at_the_head_costs_a_binary_search() {
    let mut longs: Vec<Long> = vec![(ONE, px(102), 1_020_000); N / 2];
    longs.extend(vec![(ONE, px(90), 45 * USD); N / 2]);
    let mut b = market(&longs, 30 * ONE, px(100), 0);
    start(&mut b);
    let (fills, txs, total, per_tx) = run_event(&mut b, 24);
    assert_eq!(
        fills.iter().map(|f| f.slot).collect::<Vec<_>>(),
        (50_000u32..50_030).collect::<Vec<_>>()
    );
    assert_eq!(txs, 2);
    assert_eq!(total, (1 + 2 * 23) + (1 + 2 * 5));
    for (k, c) in per_tx {
        // Entries read: the prefix search and the walk, plus two binary searches per fill
        // per array to remove the closed positions — O(k + log n), 17 = ⌈log₂ 100,001⌉.
        assert!(
            c.entries_read <= (17 + 2 * k as u64 + 1) + 2 * 2 * 17 * k as u64,
            "{c:?}"
        );
    }
}

/// (c) 10,000 positions of exactly the minimum size (0.001) at the head (10 % margin:
/// bankruptcy price 81), then 90,000 of 1.0 (50 %): an event of 30 fills all 10,000
/// minimum-size positions and 20 more — many transactions, each bounded by its fills.
#[test]
fn budget_c_minimum_size_positions_at_the_head_cost_per_fill() {
    let mut longs: Vec<Long> = vec![(1_000_000, px(90), 9_000); 10_000];
    longs.extend(vec![(ONE, px(90), 45 * USD); N - 10_000]);
    let mut b = market(&longs, 30 * ONE, px(100), 0);
    start(&mut b);
    let (fills, txs, total, per_tx) = run_event(&mut b, 24);
    assert_eq!(fills.len(), 10_020);
    assert_eq!(
        fills.iter().map(|f| f.slot).collect::<Vec<_>>(),
        (0u32..10_020).collect::<Vec<_>>()
    );
    assert_eq!(txs, 10_020usize.div_ceil(24));
    assert_eq!(total, 10_020 + (10_020 - txs));
    for (k, c) in per_tx {
        assert!(
            c.entries_read <= (17 + 2 * k as u64 + 1) + 2 * 2 * 17 * k as u64,
            "{c:?}"
        );
        // The closed entries at the head leave by one memmove per kept run: at most the
        // whole array per array, never an element loop.
        assert!(c.memmove_entries <= 2 * N as u64);
    }
}

/// (d) The random book of the planning bench (sizes 0.1–10, entries 80–120, margins
/// 5–50 % of notional), event of 150 at `P_exec` 112.
#[test]
fn budget_d_random_book() {
    let longs = random_longs(N, 0x9E37_79B9_7F4A_7C15);
    let mut b = market(&longs, 150 * ONE, px(112), 0);
    start(&mut b);
    // The definition's first counterparty is the walk's.
    let first = b.with(|st, _| definition_next(st, 0));
    let (fills, _txs, total, per_tx) = run_event(&mut b, 24);
    assert_eq!(Some(fills[0].slot), first);
    assert_eq!(fills.iter().map(|f| f.base).sum::<u64>(), 150 * ONE as u64);
    // Entries passed once per event: the walk reads at most every entry once per tier
    // plus two reads per fill.
    assert!(total <= 2 * N + 2 * fills.len(), "{total}");
    for (k, c) in per_tx {
        assert!(c.entries_read <= ADL_WALK_CAP as u64 + 17 + 2 * 2 * 17 * k as u64);
    }
}

fn new_long(st: &mut MarketState, users: &mut Vec<UserAccount>, entry: u64, margin: i64) -> u32 {
    let mut u = user(users.len() + 1_000_000);
    let (slot, _, _) = st
        .fill_user(&mut u, ONE, entry, margin as u64, 0, px(100))
        .unwrap();
    users.push(u);
    slot
}

fn cursor_entry(st: &MarketState) -> QueueEntry {
    st.long_queue.by_leverage[st.market.adl_walks[0].cursor[0] as usize]
}

/// Queue changes before a saved cursor keep it on the same entry, and a cursor never moves
/// back: a takeable position entering before it is next in rank and is filled by the
/// instruction that made it (`MarketState::finish`), so the walk never reads the passed
/// entries again; after each change the next fill is the definition's.
#[test]
fn saved_cursors_follow_inserts_and_removals() {
    meter::set_walk_cap(Some(16));
    let mut longs: Vec<Long> = vec![(ONE, px(110), 33 * USD); 40];
    longs.extend(vec![(ONE, px(90), 45 * USD); 40]);
    let mut b = market(&longs, 10 * ONE, px(100), 10);
    start(&mut b);
    // Progress only: 16 tier-2 entries passed.
    let (f, reads, _) = keeper_tx(&mut b, 24);
    assert!(f.is_empty());
    assert_eq!(reads, 16);
    assert_eq!(b.market.adl_walks[0].cursor, [16, 0]);
    let at = b.with(|st, users| {
        let at = cursor_entry(st);
        // A tier-2 long more leveraged than the block (entry 110, margin 25: bankruptcy
        // price 85) enters at the head: passed at once, the cursor stays on its entry.
        new_long(st, users, px(110), 25 * USD);
        assert_eq!(st.market.adl_walks[0].cursor, [17, 0]);
        assert_eq!(cursor_entry(st), at);
        // A passed position closes: the cursor moves back by one, same entry.
        let mut owner = user(2);
        owner.add_position(st.key, 1).unwrap();
        st.fill_user(&mut owner, -ONE, 110_000_000, 0, 0, px(100))
            .unwrap();
        assert_eq!(st.market.adl_walks[0].cursor, [16, 0]);
        assert_eq!(cursor_entry(st), at);
        at
    });
    let s = b.with(|st, users| {
        // A takeable tier-1 long (entry 90, margin 4.5: bankruptcy price 85.5) enters at
        // the head: it is next in rank. The cursor stays on its entry (moves forward by
        // one index) and the long is recorded as an arrival.
        let s = new_long(st, users, px(90), 4_500_000);
        assert_eq!(st.market.adl_walks[0].cursor, [17, 0]);
        assert_eq!(cursor_entry(st), at);
        assert_eq!(definition_next(st, 0), Some(s));
        assert_eq!(st.arrivals, vec![(0, s)]);
        s
    });
    // The instruction that opened it filled it before it ended, at P_exec: closed, payout.
    assert_eq!(b.served.len(), 1);
    assert_eq!((b.served[0].0, b.served[0].1.slot), (0, s));
    assert_eq!(b.served[0].1.base, ONE as u64);
    b.with(|st, _| {
        assert_eq!(st.book.slot(s).unwrap().status, SLOT_ADL_CLOSED);
        assert_eq!(st.market.adl_walks[0].cursor, [16, 0]);
        assert_eq!(cursor_entry(st), at);
        check_cursors(st, 0);
    });
    // The walk goes on from its cursor: the 16 passed entries are not read again, the next
    // 16 of the block are passed.
    let (f, reads, _) = keeper_tx(&mut b, 1);
    assert_eq!((f.len(), reads), (0, 16));
    assert_eq!(b.market.adl_walks[0].cursor, [32, 0]);
    loop {
        let expected = b.with(|st, _| definition_next(st, 0));
        let (f, _, _) = keeper_tx(&mut b, 24);
        if let Some(first) = f.first() {
            assert_eq!(Some(first.slot), expected);
        }
        if b.market.adl_events[0].status != EVENT_ACTIVE {
            break;
        }
    }
    meter::set_walk_cap(None);
}

/// A leverage drain of another event moves positions from before a ranked event's saved
/// cursor to after it (16 tier-2 longs passed, the cursor at the first tier-1 long): the
/// cursor follows, so no tier-1 long slips behind it, and the ranked event's fills are still
/// the definition's. (Without the upkeep in `apply_drain_fill` the cursor would stay at 16 and
/// skip the tier-1 longs shifted in front of it.) The drain runs over several steps, the
/// queues checked after each.
#[test]
fn saved_cursors_follow_a_drain_of_another_event() {
    meter::set_walk_cap(Some(16));
    let mut longs: Vec<Long> = vec![(ONE, px(110), 33 * USD); 16];
    longs.extend(vec![(ONE, px(90), 45 * USD); 40]);
    let mut b = market(&longs, 10 * ONE, px(100), 10);
    start(&mut b);
    let (f, _, _) = keeper_tx(&mut b, 24);
    assert!(f.is_empty());
    assert_eq!(b.market.adl_walks[0].cursor, [16, 0]);
    // A second bankrupt short (30 at 100 with 450 margin, bankrupt at 130) in drain mode.
    let mut fund = b.fund;
    b.with(|st, users| {
        let mut u = user(2_000_000);
        let (slot, _, _) = st
            .fill_user(
                &mut u,
                -30 * ONE,
                px(100) * 30,
                450 * USD as u64,
                0,
                px(100),
            )
            .unwrap();
        st.market.adl_mode = ADL_MODE_LEVERAGE_DRAIN;
        st.start_adl(slot, &mut u, &mut fund, px(130), 2).unwrap();
        users.push(u);
        let ev = st.market.adl_events[1];
        assert_eq!(
            (ev.status, ev.mode),
            (EVENT_ACTIVE, ADL_MODE_LEVERAGE_DRAIN)
        );
        st.drain_begin(1).unwrap();
        let mut fills = vec![];
        while st.market.adl_events[1].status == EVENT_ACTIVE {
            let step = st.drain_step(1).unwrap();
            assert!(!step.abandoned);
            fills.extend(step.fills);
            check_queue(st);
            check_cursors(st, 0);
        }
        let moved_tier2 = fills.iter().filter(|f| f.slot < 16).count();
        assert!(moved_tier2 > 0);
        check_queue(st);
        check_cursors(st, 0);
        // The cursor moved back by the passed entries that left its prefix.
        assert!(st.market.adl_walks[0].cursor[0] < 16);
    });
    loop {
        let expected = b.with(|st, _| definition_next(st, 0));
        let (f, _, _) = keeper_tx(&mut b, 24);
        if let Some(first) = f.first() {
            assert_eq!(Some(first.slot), expected);
        }
        b.with(|st, _| check_cursors(st, 0));
        if b.market.adl_events[0].status != EVENT_ACTIVE {
            break;
        }
    }
    meter::set_walk_cap(None);
}

#[derive(Clone, Debug)]
enum Op {
    /// A new long: (entry price, margin %).
    Open(u64, i64),
    /// A margin top-up of a random open long, quote units.
    AddMargin(prop::sample::Index, i64),
    /// A random open long closes.
    Close(prop::sample::Index),
    /// A funding index change (the escrow pays its funding, `P_exec` moves with it).
    Funding(i64),
    /// A keeper transaction.
    Adl(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (85u64..115, 11i64..60).prop_map(|(e, m)| Op::Open(e, m)),
        (any::<prop::sample::Index>(), 1i64..30).prop_map(|(i, m)| Op::AddMargin(i, m)),
        any::<prop::sample::Index>().prop_map(Op::Close),
        (-3_000_000i64..3_000_000).prop_map(Op::Funding),
        (1usize..6).prop_map(Op::Adl),
        (1usize..6).prop_map(Op::Adl),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// With trades, margin changes, closes and funding between transactions and a small
    /// walk cap,
    /// every transaction's fills are exactly the definition's next counterparties (computed
    /// by brute force before each fill), and the event always advances.
    #[test]
    fn saved_cursors_give_the_definitions_order(
        book in prop::collection::vec((85u64..115, 11i64..60, 1i64..4), 10..60),
        ops in prop::collection::vec(op(), 1..60),
        cap in 1usize..12,
    ) {
        meter::set_walk_cap(Some(cap));
        let longs: Vec<Long> = book
            .iter()
            .map(|&(e, m, q)| (q * ONE, px(e), q * e as i64 * USD * m / 100))
            .collect();
        let mut b = market(&longs, 20 * ONE, px(100), ops.len());
        start(&mut b);
        let mut ops = ops.into_iter();
        let mut guard = 0;
        while b.market.adl_events[0].status == EVENT_ACTIVE {
            guard += 1;
            prop_assert!(guard < 10_000);
            b.with(|st, _| check_cursors(st, 0));
            let op = ops.next().unwrap_or(Op::Adl(24));
            match op {
                Op::Open(e, m) => b.with(|st, users| {
                    // Only opens that meet the initial margin at 100 (a rejected instruction
                    // would be rolled back; here it would leave half its changes).
                    let margin = e as i64 * USD * m / 100;
                    if margin - (e as i64 - 100) * USD >= 10 * USD {
                        let mut u = user(users.len() + 1_000_000);
                        st.fill_user(&mut u, ONE, px(e), margin as u64, 0, px(100)).unwrap();
                        users.push(u);
                    }
                }),
                Op::Funding(delta) => b.with(|st, _| {
                    super::apply_funding(st.market, delta).unwrap();
                }),
                Op::AddMargin(i, add) => b.with(|st, _| {
                    let open: Vec<u32> = (0..st.book.header.high_water)
                        .filter(|&s| st.book.slot(s).is_ok_and(|p| p.is_open() && p.base > 0))
                        .collect();
                    if !open.is_empty() {
                        let s = open[i.index(open.len())];
                        st.modify(s, |p, _| { p.margin += add * USD; Ok(()) }).unwrap();
                    }
                }),
                Op::Close(i) => b.with(|st, _| {
                    let open: Vec<u32> = (0..st.book.header.high_water)
                        .filter(|&s| st.book.slot(s).is_ok_and(|p| p.is_open() && p.base > 0))
                        .collect();
                    if !open.is_empty() {
                        let s = open[i.index(open.len())];
                        st.modify(s, |p, _| { p.base = 0; p.cost_basis = 0; p.margin = 0; Ok(()) }).unwrap();
                        let oi = st.book.slot(s).unwrap().base;
                        prop_assert_eq!(oi, 0);
                    }
                    Ok(())
                })?,
                Op::Adl(max) => {
                    let mut expected = vec![];
                    // The definition, applied fill by fill on a copy of the state.
                    let mut copy = Bufs {
                        market: b.market,
                        book: b.book.clone(),
                        long: b.long.clone(),
                        short: b.short.clone(),
                        users: vec![],
                        fund: b.fund,
                        served: vec![],
                        drained: vec![],
                    };
                    let (slots, capped) = b.with(|st, _| keeper_plan(st, 0, max));
                    if slots.is_empty() && !capped {
                        // Nothing eligible is left: the definition agrees (the event would
                        // wait for its deadline and fall back to pro-rata).
                        prop_assert_eq!(b.with(|st, _| definition_next(st, 0)), None);
                        break;
                    }
                    for &s in &slots {
                        let next = copy.with(|st, _| definition_next(st, 0));
                        expected.push(next);
                        copy.with(|st, _| {
                            let ev = st.market.adl_events[0];
                            let p = *st.book.slot(s).unwrap();
                            let f = plan_fill(s, &p, st.market.cumulative_funding, ev.exec_price, ev.base_remaining).unwrap();
                            st.apply_adl_fills(0, &[f]).unwrap();
                        });
                    }
                    prop_assert_eq!(slots.iter().map(|&s| Some(s)).collect::<Vec<_>>(), expected);
                    let (fills, reads) = b.with(|st, _| st.auto_deleverage(0, &slots)).unwrap();
                    prop_assert!(reads <= cap);
                    prop_assert_eq!(fills.len(), slots.len());
                    b.with(|st, _| check_queue(st));
                }
            }
        }
        meter::set_walk_cap(None);
    }
}

/// `|a|·|b|` as 256 bits (hi, lo), for exact comparisons beyond i128.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let lo = a0 * b0;
    let mid1 = a1 * b0;
    let mid2 = a0 * b1;
    let hi = a1 * b1;
    let (mid, carry_mid) = mid1.overflowing_add(mid2);
    let (lo2, carry_lo) = lo.overflowing_add(mid << 64);
    let hi2 = hi + (mid >> 64) + ((carry_mid as u128) << 64) + carry_lo as u128;
    (hi2, lo2)
}

/// Exact rank key of a position as a fraction `M/q` with `M = (B − C)·BASE − F_i·q`
/// (so `K = M/q`), compared between two positions of one side by `M_a·q_b` against
/// `M_b·q_a` in 256 bits — an independent rational evaluation, not the program's
/// floor-plus-remainder code.
fn exact_key_cmp(a: &PositionSlot, b: &PositionSlot) -> core::cmp::Ordering {
    let m = |p: &PositionSlot| {
        (p.cost_basis as i128 - p.margin as i128) * 1_000_000_000
            - p.funding_snapshot as i128 * p.base as i128
    };
    // Same side: q_a·q_b > 0, so the comparison keeps its direction.
    let signed = |x: i128, q: i64| -> (bool, (u128, u128)) {
        let neg = (x < 0) != (q < 0) && x != 0;
        (neg, mul_wide(x.unsigned_abs(), q.unsigned_abs() as u128))
    };
    let (na, va) = signed(m(a), b.base);
    let (nb, vb) = signed(m(b), a.base);
    match (na, nb) {
        (false, true) => core::cmp::Ordering::Greater,
        (true, false) => core::cmp::Ordering::Less,
        (false, false) => va.cmp(&vb),
        (true, true) => vb.cmp(&va),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// Books of near-ties built through the program's own paths (`fill_user`, margin
    /// changes): positions a few atoms apart in size, cost and margin, opened at funding
    /// indexes a few atoms apart, on both sides. The `by_leverage` order the program keeps is
    /// exactly the order of the exact rank key (longs: larger first; shorts: smaller first),
    /// then age — evaluated independently as rationals in 256-bit arithmetic.
    #[test]
    fn queue_order_is_the_exact_leverage_order(
        specs in prop::collection::vec(
            (any::<bool>(), -3i64..=3, -3i64..=3, -3i64..=3, -2i64..=2),
            2..40,
        ),
        bumps in prop::collection::vec((any::<prop::sample::Index>(), -3i64..=3), 0..10),
        size_units in 1i64..=7,
    ) {
        let mut b = empty(specs.len() + 2);
        b.with(|st, users| {
            for (i, &(long, dq, dn, dm, df)) in specs.iter().enumerate() {
                super::apply_funding(st.market, df).unwrap();
                let q = size_units * ONE + dq;
                let notional = (size_units * 100 * USD + dn) as u64;
                let margin = (size_units * 50 * USD + dm) as u64;
                let mut u = user(i + 10);
                let delta = if long { q } else { -q };
                st.fill_user(&mut u, delta, notional, margin, 0, px(100)).unwrap();
                users.push(u);
            }
            // Margin changes re-index positions among their near-ties.
            for (idx, add) in &bumps {
                let u = &users[1 + idx.index(users.len() - 1)];
                let s = u.position_slot(&st.key).unwrap();
                st.modify(s, |p, _| {
                    p.margin += add;
                    Ok(())
                })
                .unwrap();
            }
            for side in [SIDE_LONG, SIDE_SHORT] {
                let q = if side == SIDE_LONG { &st.long_queue } else { &st.short_queue };
                let got: Vec<u32> = q.by_leverage[..q.len()].iter().map(|e| e.slot()).collect();
                let mut want = got.clone();
                want.sort_by(|&x, &y| {
                    let (a, b) = (st.book.slot(x).unwrap(), st.book.slot(y).unwrap());
                    let k = exact_key_cmp(a, b);
                    let k = if side == SIDE_LONG { k.reverse() } else { k };
                    k.then(a.open_seq.cmp(&b.open_seq))
                });
                assert_eq!(got, want, "side {side}");
            }
        });
    }
}

/// Margin change of slot `s` through the program's own path (`change_margin`), as the
/// owner's instruction does it.
fn owner_of(st: &MarketState, s: u32) -> UserAccount {
    let mut u = user(0);
    u.owner = st.book.slot(s).unwrap().owner;
    u.add_position(st.key, s).unwrap();
    u
}

/// Attack 1 (jam by a tiny remainder). An attacker ran an event down to one base atom of
/// remainder and cranks funding. Before, `P_exec` was recomputed from the escrow's cost
/// minus cash over the remaining size: its funding charge, rounded up, put 1 quote atom over
/// 1 base atom — `P_exec` jumped by 1,000 USD per crank, nobody was eligible, the event could
/// never finish and eight of them filled the ring. Now `P_exec` moves by exactly the funding
/// delta whatever the size left (the charge's rounding carried on the event), and the
/// transaction that leaves a remainder below the minimum position size fills it at once.
#[test]
fn attack_tiny_remainder_cannot_move_p_exec_or_jam_the_event() {
    // The attacker's own long, most leveraged, takes all but one atom of the event.
    let mut longs: Vec<Long> = vec![(ONE, px(90), 5 * USD)];
    longs.extend(vec![(ONE, px(90), 45 * USD); 5]);
    let mut b = market(&longs, ONE + 1, px(100), 2);
    let ev = start(&mut b);
    assert_eq!(ev.base_remaining, ONE as u64 + 1);
    // The keeper names the attacker's long only; the walk fills the 1-atom dust at once.
    let (plan, _) = b.with(|st, _| keeper_plan(st, 0, 1));
    assert_eq!(plan, vec![0]);
    let (fills, _) = b.with(|st, _| st.auto_deleverage(0, &plan)).unwrap();
    assert_eq!((fills.len(), fills[1].base), (2, 1));
    let ev = b.market.adl_events[0];
    assert_eq!((ev.status, ev.base_remaining, ev.fills), (EVENT_DONE, 0, 2));
    // The engine's funding on a 1-atom escrow: P_exec moves by exactly ΔF.
    let mut b = market(&longs, ONE + 1, px(100), 2);
    start(&mut b);
    b.with(|st, _| {
        let p_exec = st.market.adl_events[0].exec_price;
        let f = plan_fill(0, st.book.slot(0).unwrap(), 0, p_exec, ONE as u64).unwrap();
        st.apply_adl_fills(0, &[f]).unwrap();
    });
    let ev = b.market.adl_events[0];
    assert_eq!(ev.base_remaining, 1);
    let mut price = ev.exec_price;
    for delta in [37_i64, -41, 1, 999, -1_000] {
        b.with(|st, _| super::apply_funding(st.market, delta).unwrap());
        let ev = b.market.adl_events[0];
        assert_eq!(
            ev.exec_price as i64,
            price as i64 + delta,
            "P_exec moved by more than ΔF"
        );
        price = ev.exec_price;
        // The escrow paid the exact funding plus what it carries (< 1 atom in all).
        assert!(u64::from(ev.funding_prepaid) < ONE as u64);
    }
    // Still everyone eligible at P_exec; the next keeper transaction finishes it.
    let (fills, _, _) = keeper_tx(&mut b, 1);
    assert_eq!(fills[0].base, 1);
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
}

/// Attack 2 (stale cursors after ranked → pro-rata → ranked). A ranked walk passed 32
/// tier-2 longs; after the deadline the event went pro-rata; while it was pro-rata, 20 of
/// the passed longs closed (the array shifted under the saved cursor), and when every
/// obligation was applied with size left (the ineligible longs' shares) the event came
/// back to ranked. Before, the old cursor skipped the first tier-1 winners (their proof was
/// rejected, `WrongAdlCounterparty`) and let a tier-2 loser's proof through. Now the walk
/// restarts on the mode change and every fill is the definition's.
#[test]
fn attack_stale_cursors_after_a_pro_rata_round_trip() {
    meter::set_walk_cap(Some(16));
    // 5 longs ineligible at 100 (entry 110, 1 % margin), 40 tier-2 longs (entry 110, 30 %),
    // 40 tier-1 longs (entry 90, 50 %).
    let mut longs: Vec<Long> = vec![(ONE, px(110), 1_100_000); 5];
    longs.extend(vec![(ONE, px(110), 33 * USD); 40]);
    longs.extend(vec![(ONE, px(90), 45 * USD); 40]);
    let mut b = market(&longs, 20 * ONE, px(100), 10);
    start(&mut b);
    for _ in 0..2 {
        let (f, _, _) = keeper_tx(&mut b, 24);
        assert!(f.is_empty());
    }
    assert_eq!(b.market.adl_walks[0].cursor[0], 5 + 32);
    // The deadline fallback (the handler's body).
    b.with(|st, _| {
        st.market.adl_events[0].walk_flags |= WALK_FALLBACK_USED;
        st.begin_pro_rata(0).unwrap();
    });
    assert_eq!(b.market.adl_events[0].mode, ADL_MODE_PRO_RATA);
    // 20 passed tier-2 longs close while the event is pro-rata (their obligations first).
    for s in 5..25u32 {
        b.with(|st, _| {
            st.apply_obligations(s).unwrap();
            let base = st.book.slot(s).unwrap().base;
            let notional = (base as u128 * px(100) as u128 / ONE as u128) as u64;
            let mut u = owner_of(st, s);
            st.fill_user(&mut u, -base, notional, 0, 0, px(100))
                .unwrap();
        });
    }
    // Every obligation applied: the ineligible longs' shares are left.
    let pending: Vec<u32> = b.with(|st, _| {
        let ev = st.market.adl_events[0];
        (0..st.book.header.high_water)
            .filter(|&s| super::obligation_pending(&ev, st.book.slot(s).unwrap()))
            .collect()
    });
    for s in pending {
        b.with(|st, _| st.apply_obligations(s).unwrap());
    }
    let ev = b.market.adl_events[0];
    assert_eq!((ev.status, ev.mode), (EVENT_ACTIVE, ADL_MODE_RANKED_QUEUE));
    assert!(ev.base_remaining > 0);
    // The walk restarted: every fill to the end is the definition's next.
    assert_eq!(b.market.adl_walks[0].cursor, [0, 0]);
    while b.market.adl_events[0].status == EVENT_ACTIVE {
        let expected = b.with(|st, _| definition_next(st, 0));
        let (f, _, _) = keeper_tx(&mut b, 24);
        if let Some(first) = f.first() {
            assert_eq!(Some(first.slot), expected);
        }
        b.with(|st, _| check_cursors(st, 0));
    }
    meter::set_walk_cap(None);
}

/// Attack 3 (starvation by a margin toggle). 30,000 tier-2 longs rank ahead of tier 1; the
/// walk passes them over ⌈30,000 / 2,048⌉ progress-only transactions. Before every keeper
/// transaction the attacker toggles a tier-1 long: margin out (it jumps ahead of the cursor as
/// takeable — before, the cursor was pulled back to it), margin in (it goes back behind;
/// before, the walk then read the whole block again: 0 fills in 1,000 transactions). Now the
/// cursor never moves back: the position that jumped ahead is next in rank and the
/// instruction that moved it fills it before it ends, so the toggle costs the attacker its
/// position and the event finishes within ⌈n/cap⌉ + ⌈k/batch⌉ + 2 keeper transactions.
#[test]
fn attack_margin_toggle_cannot_starve_an_event() {
    const BLOCK: usize = 30_000;
    const ATTACKERS: usize = 40;
    let mut longs: Vec<Long> = vec![(ONE, px(110), 33 * USD); BLOCK];
    // The attacker's tier-1 longs (entry 90, 50 % margin), then 20 honest tier-1 longs.
    longs.extend(vec![(ONE, px(90), 45 * USD); ATTACKERS + 20]);
    let mut b = market(&longs, 20 * ONE, px(100), 0);
    start(&mut b);
    // The first keeper transaction passes 2,048 entries of the block.
    let (f, _, _) = keeper_tx(&mut b, 24);
    assert!(f.is_empty());
    let mut txs = 1;
    let mut toggles = 0;
    let mut next_attacker = BLOCK as u32;
    while b.market.adl_events[0].status == EVENT_ACTIVE {
        // The attacker's toggle, as two instructions of one transaction.
        if (next_attacker as usize) < BLOCK + ATTACKERS {
            let s = next_attacker;
            next_attacker += 1;
            let served_before = b.served.len();
            let cursor_entry_before = b.with(|st, _| cursor_entry(st));
            let removed = b.with(|st, _| {
                let mut u = owner_of(st, s);
                st.change_margin(&mut u, -(40 * USD), px(100)).is_ok()
            });
            assert!(removed);
            // Filled at P_exec by the instruction that moved it ahead, not re-read later.
            assert_eq!(b.served.len(), served_before + 1);
            assert_eq!(b.served.last().unwrap().1.slot, s);
            let added = b.with(|st, _| {
                let mut u = owner_of(st, s);
                st.change_margin(&mut u, 40 * USD, px(100)).is_ok()
            });
            assert!(!added, "the toggled position is gone");
            toggles += 1;
            if b.market.adl_events[0].status == EVENT_ACTIVE {
                // The cursor still stands on the same entry: it never moved back.
                assert_eq!(b.with(|st, _| cursor_entry(st)), cursor_entry_before);
                b.with(|st, _| check_cursors(st, 0));
            }
        }
        if b.market.adl_events[0].status != EVENT_ACTIVE {
            break;
        }
        let expected = b.with(|st, _| definition_next(st, 0));
        let (f, reads, _) = keeper_tx(&mut b, 24);
        assert!(reads <= ADL_WALK_CAP);
        if let Some(first) = f.first() {
            assert_eq!(Some(first.slot), expected);
        }
        txs += 1;
        assert!(txs < 100, "starved");
    }
    // 20 of size, 20 toggled positions filled by their own instructions: the keeper's part is
    // the block and the rest.
    println!("toggles {toggles}, keeper transactions {txs}");
    assert!(toggles >= 10);
    assert!(
        txs <= BLOCK.div_ceil(ADL_WALK_CAP) + 2,
        "{txs} keeper transactions"
    );
}

/// (e) A leverage drain at 100,000 positions with 50,000 above the level: 50,000 longs at 10x
/// (margin 10 per 1.0 at 100) and 50,000 at 2x; an event of 25,000 at `P_exec` 100 drains
/// the 10x longs to 5x. Every measuring transaction reads at most `ADL_DRAIN_READ_CAP` entries,
/// every applying one at most `ADL_WALK_CAP`, and reduces
/// at most `ADL_DRAIN_BATCH` positions, nothing is moved by an element loop, and the final
/// sizes are exactly the single-transaction drain on the state the level was found on.
#[test]
fn budget_e_drain_with_50000_positions_above_the_level() {
    let mut longs: Vec<Long> = vec![(ONE, px(100), 10 * USD); N / 2];
    longs.extend(vec![(ONE, px(100), 50 * USD); N / 2]);
    let mut b = market(&longs, 25_000 * ONE, px(100), 0);
    b.market.adl_mode = ADL_MODE_LEVERAGE_DRAIN;
    let ev = start(&mut b);
    assert_eq!((ev.mode, ev.exec_price), (ADL_MODE_LEVERAGE_DRAIN, px(100)));
    let (level, optimum) = b.with(|st, _| {
        let q = &st.long_queue;
        let book = &*st.book.slots;
        let get = |s: u32| book.get(s as usize);
        let lev = &q.by_leverage[..q.len()];
        crate::adl::drain_optimum(lev, get, 0, ev.exec_price, ev.exec_price, ev.base_remaining)
            .unwrap()
    });
    assert_eq!(optimum.len(), N / 2, "the 10x half is the region");
    // By hand: S = 50,000.0, E = 50,000 × (10 USD − 2 atoms); ℓ = ⌊25,000e9·100e6·1e4 /
    // ((5e11 − 1e5)·1e9)⌋ = ⌊50,000.01⌋. Each keeps ⌊50,000·(1e7 − 2)·1e9/1e12⌋ = 5e8 − 100
    // atoms, so the cut is 500,000,100 atoms: 49,999 full cuts (24,999,504,999,900 atoms),
    // the 50,000th takes the rest, 495,000,100 atoms.
    assert_eq!(level, 50_000);
    for (i, &(_, cut)) in optimum.iter().enumerate() {
        let want = if i < 49_999 { 500_000_100 } else { 495_000_100 };
        assert_eq!(cut, want, "cut {i}");
    }
    b.with(|st, _| st.drain_begin(0).unwrap());
    let (mut measuring, mut applying) = (0usize, 0usize);
    while b.market.adl_events[0].status == EVENT_ACTIVE {
        let phase = b.market.adl_drains[0].phase;
        meter::reset();
        let step = b.with(|st, _| st.drain_step(0).unwrap());
        let c = meter::counts();
        assert!(!step.abandoned);
        assert!(step.reads <= ADL_WALK_CAP && step.fills.len() <= ADL_DRAIN_BATCH);
        assert_eq!(c.elements_moved, 0);
        // The walk's reads, one binary search for the region's start, and per reduction the
        // searches of one re-index (the exact order reads at most ⌈log₂ n⌉ slots per search).
        assert!(
            c.entries_read <= (ADL_WALK_CAP + 17 + step.fills.len() * 5 * 17) as u64,
            "{c:?}"
        );
        if phase == DRAIN_MEASURING {
            measuring += 1;
        } else {
            applying += 1;
        }
    }
    // ⌈50,001 / 1,024⌉ measuring steps (the region and its first position not above), then
    // ⌈50,000 / 32⌉ applying steps.
    assert_eq!(measuring, 50_001usize.div_ceil(ADL_DRAIN_READ_CAP));
    assert_eq!(applying, (N / 2).div_ceil(ADL_DRAIN_BATCH));
    b.with(|st, _| {
        for &(s, cut) in &optimum {
            assert_eq!(
                st.book.slot(s).unwrap().base,
                ONE - cut as i64,
                "slot {s} is not the optimum's"
            );
        }
        check_queue(st);
    });
}

/// A short escrow whose `P_exec` sat at its one-atom floor (its cash could not buy back at any
/// positive price: a dust position with negative margin after funding) can end a few atoms
/// short. Found by the 1,000,000-operation soak (event of 2 base atoms, `P_exec` 1, escrow
/// cash −1, cost −1). The sink covers the shortfall, then the fee pool, so the event ends.
#[test]
fn close_event_covers_a_floor_escrow_from_the_sink_then_the_fee_pool() {
    let mut b = market(&[(ONE, px(100), 50 * USD)], ONE, px(100), 0);
    b.market.rounding_sink = 3;
    b.market.fee_pool = 10;
    let mut ev = AdlEvent {
        escrow_cash: -6,
        escrow_cost: -1,
        status: EVENT_ACTIVE,
        side: SIDE_SHORT,
        ..AdlEvent::default()
    };
    b.with(|st, _| st.close_event(&mut ev).unwrap());
    assert_eq!(
        (
            b.market.rounding_sink,
            b.market.fee_pool,
            ev.status,
            ev.escrow_cash
        ),
        (0, 8, EVENT_DONE, 0)
    );
}
