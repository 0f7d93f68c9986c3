//! Adversarial review of the ADL liveness mechanisms (arrivals, saved cursors, multi-transaction
//! drain, pro-rata obligations, funding of escrows). Every test performs an attack end to end
//! on the engine's own transitions (`MarketState`) and asserts the SAFE outcome, so a failing
//! test is an attack that works. Results are in each test's doc comment.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::MarketState;
use crate::adl::{plan_fill, tier_at};
use crate::meter;
use crate::state::*;
use crate::testkit::*;

// ---------------------------------------------------------------------------------------------
// Helpers (written here, independent of the program's walk).
// ---------------------------------------------------------------------------------------------

/// A user account for slot `s` as its owner's instruction sees it.
fn owner_of(st: &MarketState, s: u32) -> UserAccount {
    let mut u = user(0);
    u.owner = st.book.slot(s).unwrap().owner;
    u.add_position(st.key, s).unwrap();
    u
}

/// One keeper transaction of ranked event `i`: the program's own plan, then the instruction.
fn keeper_tx(b: &mut Bufs, i: usize, max: usize) -> Vec<crate::adl::PlannedFill> {
    b.with(|st, _| {
        let (slots, capped) = keeper_plan(st, i, max);
        if slots.is_empty() && !capped {
            return vec![];
        }
        st.auto_deleverage(i, &slots).unwrap().0
    })
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

/// Brute-force next counterparty of event `i` (counterparties are longs): tier 1 (in profit at
/// the tier price, exactly) before tier 2, eligible at `P_exec`, most leveraged first (exact
/// key by cross-multiplication), then oldest.
fn definition_next(st: &MarketState, i: usize) -> Option<u32> {
    let ev = st.market.adl_events[i];
    let tier_price = st.market.adl_walks[i].tier_price_or(ev.exec_price);
    let mut best: Option<(u8, i128, i128, u64, u32)> = None;
    for s in 0..st.book.header.high_water {
        let p = st.book.slot(s).unwrap();
        if !p.is_open() || p.side() != SIDE_LONG {
            continue;
        }
        if plan_fill(
            s,
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
        // K = M/q with M = (B − C)·BASE − F_i·q; larger K = more leveraged for a long.
        let m = (p.cost_basis as i128 - p.margin as i128) * 1_000_000_000
            - p.funding_snapshot as i128 * p.base as i128;
        let q = p.base as i128;
        let better = match best {
            None => true,
            Some((bt, bm, bq, bseq, _)) => {
                if tier != bt {
                    tier < bt
                } else {
                    // m/q > bm/bq  <=>  m·bq > bm·q (q, bq > 0)
                    let l = m * bq;
                    let r = bm * q;
                    l > r || (l == r && p.open_seq < bseq)
                }
            }
        };
        if better {
            best = Some((tier, m, q, p.open_seq, s));
        }
    }
    best.map(|b| b.4)
}

/// The walk invariant for ranked event `i`: no entry before `cursor[t]` is takeable in tier
/// `t`, and none at all in a tier that is done. Returns a description of the first breach.
fn cursor_breach(st: &MarketState, i: usize) -> Option<String> {
    let ev = st.market.adl_events[i];
    if ev.status != EVENT_ACTIVE || ev.mode != ADL_MODE_RANKED_QUEUE {
        return None;
    }
    let w = st.market.adl_walks[i];
    let tier_price = w.tier_price_or(ev.exec_price);
    let len = st.long_queue.len();
    for t in 0..2usize {
        let done = ev.walk_flags
            & if t == 0 {
                WALK_TIER1_DONE
            } else {
                WALK_TIER2_DONE
            }
            != 0;
        let end = if done {
            len
        } else {
            (w.cursor[t] as usize).min(len)
        };
        for (k, e) in st.long_queue.by_leverage[..end].iter().enumerate() {
            let p = st.book.slot(e.slot()).unwrap();
            if crate::adl::takeable(
                p,
                st.market.cumulative_funding,
                ev.exec_price,
                tier_price,
                t as u8 + 1,
            ) {
                return Some(format!(
                    "event {i}: slot {} at index {k} takeable in tier {} (cursor {:?}, flags {})",
                    e.slot(),
                    t + 1,
                    w.cursor,
                    ev.walk_flags
                ));
            }
        }
    }
    None
}

/// A recount of a measuring drain's sums over the entries before its cursor: `(S, E)`
/// recounted and as kept.
fn drain_recount(st: &MarketState, i: usize) -> Option<((u64, u64), (u64, u64))> {
    let ev = st.market.adl_events[i];
    let d = st.market.adl_drains[i];
    if ev.status != EVENT_ACTIVE
        || ev.mode != ADL_MODE_LEVERAGE_DRAIN
        || !(d.phase == DRAIN_MEASURING || d.phase == DRAIN_TRIMMING)
    {
        return None;
    }
    let (mut sb, mut se) = (0u64, 0u64);
    for e in &st.long_queue.by_leverage[..(d.cursor as usize).min(st.long_queue.len())] {
        let p = st.book.slot(e.slot()).unwrap();
        if let Some((size, eq)) =
            crate::adl::drain_terms(p, st.market.cumulative_funding, ev.exec_price).unwrap()
        {
            sb += size;
            se += eq;
        }
    }
    Some(((sb, se), (d.sum_base, d.sum_equity)))
}

/// The single-transaction drain of event `i` on the side as it is: `(slot, cut)` in order.
fn one_shot(st: &MarketState, i: usize) -> Vec<(u32, u64)> {
    let ev = st.market.adl_events[i];
    let len = st.long_queue.len();
    let book = &*st.book.slots;
    crate::adl::drain_optimum(
        &st.long_queue.by_leverage[..len],
        |s| book.get(s as usize),
        st.market.cumulative_funding,
        ev.exec_price,
        ev.exec_price,
        ev.base_remaining,
    )
    .unwrap()
    .1
}

/// Runs drain event `i` step by step until it is done or has become ranked.
fn run_drain(b: &mut Bufs, i: usize) -> usize {
    let mut steps = 0;
    while b.market.adl_events[i].status == EVENT_ACTIVE
        && b.market.adl_events[i].mode == ADL_MODE_LEVERAGE_DRAIN
    {
        b.with(|st, _| st.drain_step(i).unwrap());
        steps += 1;
        assert!(steps < 1_000);
    }
    steps
}

/// Finishes ranked event `i` with an honest keeper.
fn run_ranked(b: &mut Bufs, i: usize) {
    let mut guard = 0;
    while b.market.adl_events[i].status == EVENT_ACTIVE {
        assert_eq!(b.market.adl_events[i].mode, ADL_MODE_RANKED_QUEUE);
        let (slots, capped) = b.with(|st, _| keeper_plan(st, i, 24));
        assert!(
            !slots.is_empty() || capped,
            "starved: nothing eligible is left"
        );
        keeper_tx(b, i, 24);
        guard += 1;
        assert!(guard < 1_000);
    }
}

// ---------------------------------------------------------------------------------------------
// Attack 1: money into a slot its own pro-rata obligation just closed.
// ---------------------------------------------------------------------------------------------

/// **Attack / victim: margin top-up lands in a slot that `modify` closed first.**
/// `change_margin` checks that the slot is open (`user_slot`), then `modify` applies the slot's
/// pending pro-rata obligations *before* running the margin change. When the obligation is
/// the whole position (the bankrupt short was the whole other side: `ceil(|q|·Q/OI) = |q|`),
/// the slot becomes `SLOT_ADL_CLOSED` and the top-up is written into the closed slot's margin;
/// the owner's next instruction (or anyone's `claim_adl_payout`) releases the slot and only
/// its `adl_payout` is credited. Who loses: any long that adds margin while a pro-rata event
/// it owes is open (a normal reaction to a crash); the money stays in the vault owned by
/// nobody (conservation breaks). Who profits: nobody directly.
///
/// Observed before the fix: the owner ended 10 USD (the whole top-up) poorer than the owner who
/// did nothing; the closed slot held `margin = 10 USD` when it was released. Now
/// `change_margin` applies obligations and payouts before it looks the slot up, as every other
/// instruction of the owner does, and refuses the top-up (`NoOpenPosition`).
#[test]
fn attack_add_margin_into_a_slot_closed_by_its_own_pro_rata_obligation() {
    // Four longs of 1.0 against one short of 4.0 (the short is the whole other side).
    let longs: Vec<Long> = vec![(ONE, px(90), 45 * USD); 4];
    let mut b = market(&longs, 4 * ONE, px(100), 2);
    b.market.adl_mode = ADL_MODE_PRO_RATA;
    start(&mut b);
    let ev = b.market.adl_events[0];
    assert_eq!((ev.mode, ev.pending), (ADL_MODE_PRO_RATA, 4));
    // What the owner of slot 0 gets if it does nothing (the obligation applied by a crank).
    let mut idle = b.clone();
    let idle_total = idle.with(|st, _| {
        let mut u = owner_of(st, 0);
        let before = u.free_collateral;
        st.apply_obligations(0).unwrap();
        let paid = st.settle_payout(&mut u).unwrap();
        assert_eq!(before + paid, u.free_collateral);
        u.free_collateral
    });
    // The owner tops its margin up by 10 USD instead. The instruction applies the
    // obligation first, which closes the position: the top-up is refused (the transaction
    // rolls back, so the owner is exactly where doing nothing leaves it). Before, the 10 USD
    // were written into the ADL-closed slot and lost when the slot was released.
    let mut tried = b.clone();
    let r = tried.with(|st, _| {
        let mut u = owner_of(st, 0);
        st.change_margin(&mut u, 10 * USD, px(100)).map(|_| u)
    });
    match r {
        Err(e) => assert_eq!(e, crate::error::AdlError::NoOpenPosition.into()),
        Ok(mut u) => {
            let total = tried.with(|st, _| {
                st.settle_payout(&mut u).unwrap();
                u.free_collateral
            });
            assert_eq!(
                total, idle_total,
                "the top-up was lost in a slot its pro-rata obligation closed"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Attack 2: anyone can turn a leverage-drain event into a ranked event.
// ---------------------------------------------------------------------------------------------

/// Book of the drain attacks: slot 0 a 20x long of 10.0 at a loss (entry 110, tier 2 at
/// `P_exec` 100), slots 1..=40 honest 3.3x longs in profit (entry 90), slots 41..=60 honest
/// 1.8x longs; a bankrupt short of 8.0 at `P_exec` 100 in leverage-drain mode.
fn drain_book() -> Bufs {
    let mut longs: Vec<Long> = vec![(10 * ONE, px(110), 150 * USD)];
    longs.extend(vec![(ONE, px(90), 20 * USD); 40]);
    longs.extend(vec![(ONE, px(90), 45 * USD); 20]);
    let mut b = market(&longs, 8 * ONE, px(100), 4);
    b.market.adl_mode = ADL_MODE_LEVERAGE_DRAIN;
    start(&mut b);
    b
}

/// **Attack: veto the market's drain policy.** Before, `adl_drain_begin` took a level from
/// anyone and a level that did not fit handed the event to the ranked walk, so the first
/// caller chose the policy: `adl_drain_begin(MAX)` and one step spared a 20x whale (drain cut
/// 8.0 of its 10.0) and closed 8.0 of honest 3.3x longs instead. Now nobody supplies a level:
/// the attacker begins the drain first, steps it, and interleaves its own changes (a new
/// position, a margin top-up of an honest long it controls) — the event stays a drain and
/// ends exactly as the single-transaction drain of the book at its begin, the whale cut.
#[test]
fn attack_anyone_can_veto_a_leverage_drain_with_a_wrong_level() {
    let mut honest = drain_book();
    let want = honest.with(|st, _| one_shot(st, 0));
    honest.with(|st, _| st.drain_begin(0).unwrap());
    run_drain(&mut honest, 0);
    assert_eq!(honest.market.adl_events[0].status, EVENT_DONE);
    for &(s, cut) in &want {
        let before = if s == 0 { 10 * ONE } else { ONE };
        assert_eq!(
            honest.with(|st, _| size_now(st, s)),
            before - cut as i64,
            "slot {s}"
        );
    }
    let whale_cut = want.iter().find(|c| c.0 == 0).unwrap().1;
    assert!(
        whale_cut > 7 * ONE as u64,
        "the drain cuts the whale: {whale_cut}"
    );
    // The attacker begins (there is no level to choose) and steps once; every begin while a
    // drain runs is refused.
    let mut b = drain_book();
    b.with(|st, _| st.drain_begin(0).unwrap());
    let again = b.with(|st, _| st.drain_begin(0).unwrap_err());
    assert_eq!(again, crate::error::AdlError::DrainInProgress.into());
    let s1 = b.with(|st, _| st.drain_step(0).unwrap());
    assert!(s1.verified && !s1.abandoned, "{s1:?}");
    run_drain(&mut b, 0);
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
    assert_eq!(b.market.adl_events[0].mode, ADL_MODE_LEVERAGE_DRAIN);
    for &(s, cut) in &want {
        let before = if s == 0 { 10 * ONE } else { ONE };
        assert_eq!(
            b.with(|st, _| size_now(st, s)),
            before - cut as i64,
            "slot {s}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Attack 3: a position of the region leaves before its turn and the rest falls on others.
// ---------------------------------------------------------------------------------------------

/// **Attack: a position of the drain's region waits for its turn, then adds margin.** The
/// drain reduces its region `ADL_DRAIN_BATCH` = 32 positions per transaction from the head.
/// Between two drain steps a position still ahead in the region adds margin to land below the
/// level. Before, the region was used up with its cut left and the event continued ranked
/// with a fresh walk, closing honest longs the drain had already cut (whale cut 0 instead of
/// 4.0; the honest longs took the whole 12.0). Now the margin move first takes the
/// position's drain cut at its state before the move (`apply_drain_dues`): the final sizes
/// equal the single-transaction drain's, and the honest longs lose nothing more.
#[test]
fn attack_drain_head_escapes_by_adding_margin_before_its_turn() {
    // 64 honest 4.5x longs, a 10.0 long at 4.4x (the attacker, after them in the region), 20
    // at 1.8x; a bankrupt short of 12.0 at `P_exec` 100 in drain mode.
    let fresh = || {
        let mut longs: Vec<Long> = vec![(ONE, px(90), 12 * USD); 64];
        longs.push((10 * ONE, px(90), 123 * USD));
        longs.extend(vec![(ONE, px(90), 45 * USD); 20]);
        let mut b = market(&longs, 12 * ONE, px(100), 4);
        b.market.adl_mode = ADL_MODE_LEVERAGE_DRAIN;
        start(&mut b);
        b
    };
    let want = fresh().with(|st, _| one_shot(st, 0));
    let book = || {
        let mut b = fresh();
        b.with(|st, _| st.drain_begin(0).unwrap());
        // Measuring: one step (85 entries).
        let s = b.with(|st, _| st.drain_step(0).unwrap());
        assert!(s.verified, "{s:?}");
        b
    };
    let level = book().market.adl_drains[0].level_bps;
    // The attacker's full cut at the level, by hand: equity at 100 is 123 + 10 × 10 = 223 USD,
    // drain equity 223e6 − 2 atoms; it keeps ⌊ℓ·e·1e9/(100e6·1e4)⌋ of its 10e9 atoms.
    let e: i128 = 223_000_000 - 2;
    let full_cut = 10 * ONE as i128 - (level as i128 * e * 1_000_000_000) / (100_000_000 * 10_000);
    // The one-shot drain reaches it last and gives it only what is left (the overshoot stays
    // with the tail of the region).
    let attacker_cut = want.iter().find(|c| c.0 == 64).map(|c| c.1).unwrap_or(0);
    assert!(
        attacker_cut > 0 && (attacker_cut as i128) < full_cut,
        "{want:?}"
    );
    let honest_cut = |st: &MarketState| -> i64 {
        (0..85)
            .filter(|&s| s != 64)
            .map(|s| ONE - size_now(st, s))
            .sum()
    };
    let mut honest = book();
    run_drain(&mut honest, 0);
    assert_eq!(honest.market.adl_events[0].status, EVENT_DONE);
    let others_honest = honest.with(|st, _| honest_cut(st));
    // The attack: the first applying step reduces 32 honest longs; then the attacker adds
    // margin before its turn.
    let mut b = book();
    let s1 = b.with(|st, _| st.drain_step(0).unwrap());
    assert_eq!(s1.fills.len(), ADL_DRAIN_BATCH);
    assert!(s1.fills.iter().all(|f| f.slot != 64));
    b.with(|st, _| {
        let mut u = owner_of(st, 64);
        st.change_margin(&mut u, 500 * USD, px(100)).unwrap();
    });
    assert_eq!(
        b.drained
            .iter()
            .map(|(_, f)| (f.slot, f.base as i128))
            .collect::<Vec<_>>(),
        vec![(64, full_cut)],
        "the margin move takes the attacker's whole cut first"
    );
    run_drain(&mut b, 0);
    assert_eq!(b.market.adl_events[0].status, EVENT_DONE);
    assert_eq!(b.market.adl_events[0].mode, ADL_MODE_LEVERAGE_DRAIN);
    let others = b.with(|st, _| honest_cut(st));
    println!(
        "attacker cut {full_cut} (one-shot {attacker_cut}); honest longs cut {others} (one-shot \
         {others_honest})"
    );
    // The escape attempt costs the attacker the tail's share of the overshoot: the honest
    // longs lose exactly that much less than in the one-shot drain, and the event is whole.
    assert_eq!(
        others as i128,
        others_honest as i128 - (full_cut - attacker_cut as i128)
    );
    assert_eq!(others as i128 + full_cut, 12 * ONE as i128);
    assert_eq!(
        b.with(|st, _| size_now(st, 64)) as i128,
        10 * ONE as i128 - full_cut
    );
}

// ---------------------------------------------------------------------------------------------
// Attack 4: a fresh position harvests a stale P_exec atomically, as an arrival.
// ---------------------------------------------------------------------------------------------

/// **Attack: self-trade into an arrival when the oracle has crossed `P_exec`.** A ranked
/// event's `P_exec` (100, short bankrupt at 130) stays fixed while the oracle falls to 90.
/// The walk has passed a block of tier-2 longs. The attacker self-trades 5.0 at the oracle
/// (long account A, short account B); A's long is tier 1 (entry 90 < tier price 100),
/// eligible and more leveraged than the passed block, so it is an *arrival*: the trade
/// instruction itself closes it at `P_exec` 100. B keeps a short at the oracle (flat value).
/// Who profits: the attacker, `(P_exec − oracle)·size`, risk-free within one instruction.
/// Who loses: the escrow's cash, i.e. the insurance fund's payment and the bankrupt margin
/// (which at the current oracle were no longer needed), and the honest longs that would have
/// been filled at that price.
///
/// Observed: FAILS — the attacker gains 50 USD (10 USD/unit on 5.0) in one instruction;
/// nothing re-checks `P_exec` against the oracle before an arrival is filled.
#[test]
#[ignore = "open attack (docs/adl.md, Known open attacks): P_exec is not capped at the oracle for positions opened after the event"]
fn attack_fresh_position_harvests_a_stale_p_exec_as_an_arrival() {
    meter::set_walk_cap(Some(16));
    // 20 tier-2 longs (entry 110, margin 40: bankrupt at 70), 20 tier-1 longs (90, 45 → 45).
    let mut longs: Vec<Long> = vec![(ONE, px(110), 40 * USD); 20];
    longs.extend(vec![(ONE, px(90), 45 * USD); 20]);
    let mut b = market(&longs, 20 * ONE, px(100), 8);
    start(&mut b);
    // One keeper transaction passes 16 tier-2 longs (progress only).
    assert!(keeper_tx(&mut b, 0, 24).is_empty());
    assert_eq!(b.market.adl_walks[0].cursor[0], 16);
    // The oracle is now 90. The attacker's two accounts self-trade 5.0 at 90.
    let (gain, served) = b.with(|st, users| {
        let mut a = user(500);
        let mut s = user(501);
        let before = a.free_collateral as i128 + s.free_collateral as i128;
        let notional = 450 * USD as u64;
        let (sa, _, _) = st
            .fill_user(&mut a, 5 * ONE, notional, 60 * USD as u64, 0, px(90))
            .unwrap();
        let (sb, _, _) = st
            .fill_user(&mut s, -5 * ONE, notional, 60 * USD as u64, 0, px(90))
            .unwrap();
        let arrivals = st.arrivals.clone();
        // What instructions do last.
        let done = st.finish().unwrap();
        let pa = *st.book.slot(sa).unwrap();
        let pb = *st.book.slot(sb).unwrap();
        let value_a = a.free_collateral as i128
            + pa.adl_payout as i128
            + if pa.is_open() {
                pa.equity(st.market.cumulative_funding, px(90)).unwrap()
            } else {
                0
            };
        let value_b =
            s.free_collateral as i128 + pb.equity(st.market.cumulative_funding, px(90)).unwrap();
        users.push(a);
        users.push(s);
        println!(
            "arrivals {arrivals:?}, served {:?}",
            done.fills
                .iter()
                .map(|f| (f.0, f.1.slot, f.1.base, f.1.notional))
                .collect::<Vec<_>>()
        );
        (value_a + value_b - before, done.fills.len())
    });
    meter::set_walk_cap(None);
    println!("attacker's gain at the oracle: {gain} quote atoms ({served} arrival fills)");
    assert!(
        gain <= 0,
        "a position opened at the oracle was filled at a stale P_exec in the same instruction: \
         +{gain} atoms"
    );
}

// ---------------------------------------------------------------------------------------------
// Defence: several concurrent events of every mode on one side, under an adversary.
// ---------------------------------------------------------------------------------------------

use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// A new long at 100: (entry, margin %, size in units).
    Open(u64, i64, i64),
    /// Margin change of a random open long, USD (negative: removal).
    Margin(prop::sample::Index, i64),
    /// A random long sells part of its size at 100 (tenths of its size).
    Reduce(prop::sample::Index, i64),
    /// A random long flips to a short of 1.0 at 100.
    Flip(prop::sample::Index),
    /// A random long removes all the margin initial margin at 100 allows (jumps forward).
    MaxOut(prop::sample::Index),
    /// A random long is liquidated at the price given (partially, by a new liquidator).
    Liquidate(prop::sample::Index, u64, i64),
    /// Funding index change.
    Funding(i64),
    /// A new bankrupt short (margin/unit in USD, `P_exec` = 100 + it), in a mode.
    NewEvent(u64, u8, i64),
    /// A keeper transaction of a random event (ranked: proof; drain: begin or step; pro-rata:
    /// crank), at most `max` fills. The attacker's and the keeper's are the same: nobody
    /// chooses a drain's level.
    Keeper(prop::sample::Index, usize),
    /// The deadline fallback of a random event.
    Fallback(prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (85u64..115, 11i64..60, 1i64..4).prop_map(|(e, m, q)| Op::Open(e, m, q)),
        3 => (85u64..100, 11i64..16, 1i64..4).prop_map(|(e, m, q)| Op::Open(e, m, q)),
        3 => (any::<prop::sample::Index>(), -30i64..30).prop_map(|(i, d)| Op::Margin(i, d)),
        2 => (any::<prop::sample::Index>(), 1i64..10).prop_map(|(i, k)| Op::Reduce(i, k)),
        4 => any::<prop::sample::Index>().prop_map(Op::MaxOut),
        1 => any::<prop::sample::Index>().prop_map(Op::Flip),
        2 => (any::<prop::sample::Index>(), 70u64..100, 1i64..10)
            .prop_map(|(i, p, k)| Op::Liquidate(i, p, k)),
        2 => (-3_000_000i64..3_000_000).prop_map(Op::Funding),
        1 => (10u64..29, 0u8..3, 1i64..6).prop_map(|(m, mode, q)| Op::NewEvent(m, mode, q)),
        6 => (any::<prop::sample::Index>(), 1usize..6).prop_map(|(i, m)| Op::Keeper(i, m)),
        1 => any::<prop::sample::Index>().prop_map(Op::Fallback),
    ]
}

fn open_longs(st: &MarketState) -> Vec<u32> {
    (0..st.book.header.high_water)
        .filter(|&s| st.book.slot(s).is_ok_and(|p| p.is_open() && p.base > 0))
        .collect()
}

fn active(b: &Bufs) -> Vec<usize> {
    (0..ADL_EVENT_RING)
        .filter(|&i| b.market.adl_events[i].status == EVENT_ACTIVE)
        .collect()
}

/// Every invariant the docs state, checked independently after every operation.
fn check_all(b: &mut Bufs, what: &str) {
    b.with(|st, _| {
        for i in 0..ADL_EVENT_RING {
            if let Some(m) = cursor_breach(st, i) {
                panic!("after {what}: {m}");
            }
            if let Some((recount, kept)) = drain_recount(st, i) {
                assert_eq!(recount, kept, "after {what}: drain sums of event {i}");
            }
            let e = st.market.adl_events[i];
            if e.status != EVENT_ACTIVE {
                continue;
            }
            let d = st.market.adl_drains[i];
            if e.mode == ADL_MODE_LEVERAGE_DRAIN && d.phase == DRAIN_APPLYING {
                // Nothing in front of the cursor has a cut left to take beyond the rounding
                // of one fill (≤ 3 atoms of drain equity, each worth ⌈ℓ·BASE/(P_d·1e4)⌉ base
                // atoms of kept size): no position escaped the drain by moving in front of it.
                let per_atom = (d.level_bps as u128 * 1_000_000_000).div_ceil(d.price as u128 * 10_000);
                let c = (d.cursor as usize).min(st.long_queue.len());
                for ent in &st.long_queue.by_leverage[..c] {
                    let p = st.book.slot(ent.slot()).unwrap();
                    let cut = match crate::adl::drain_terms(p, st.market.cumulative_funding, e.exec_price).unwrap() {
                        Some((size, eq)) => crate::adl::drain_cut(size, eq, d.level_bps, d.price).unwrap(),
                        None => 0,
                    };
                    assert!(
                        cut as u128 <= 3 * per_atom + 1,
                        "after {what}: slot {} in front of drain {i}'s cursor with a cut of {cut} left",
                        ent.slot()
                    );
                }
                assert!(d.cursor <= d.end && d.end as usize <= st.long_queue.len(), "after {what}: drain {i} cursor/end");
            }
            if e.mode == ADL_MODE_PRO_RATA {
                let owing = (0..st.book.header.high_water)
                    .filter(|&s| super::obligation_pending(&e, st.book.slot(s).unwrap()))
                    .count();
                assert_eq!(
                    owing, e.pending as usize,
                    "after {what}: pending of event {i}"
                );
            }
            // The escrow: exact equity at P_exec at least minus its carried fraction.
            let q = e.base_remaining as i128;
            let signed_q = if e.side == SIDE_LONG { q } else { -q };
            let eq = (e.escrow_cash as i128 - e.escrow_cost as i128) * 1_000_000_000
                + signed_q * e.exec_price as i128;
            assert!(
                eq > -1_000_000_000,
                "after {what}: escrow {i} exact equity {eq} below minus one atom"
            );
        }
        // Queue order and contents (exact key, then age).
        let len = st.long_queue.len();
        let arr = &st.long_queue.by_leverage[..len];
        let key = |s: u32| {
            let p = st.book.slot(s).unwrap();
            let m = (p.cost_basis as i128 - p.margin as i128) * 1_000_000_000
                - p.funding_snapshot as i128 * p.base as i128;
            (m, p.base as i128, p.open_seq)
        };
        for w in arr.windows(2) {
            let (a, c) = (key(w[0].slot()), key(w[1].slot()));
            let (l, r) = (a.0 * c.1, c.0 * a.1);
            assert!(
                l > r || (l == r && a.2 < c.2),
                "after {what}: long queue out of order"
            );
        }
        assert_eq!(len, open_longs(st).len(), "after {what}: long queue length");
    });
}

/// Runs `body` as one instruction: rolled back on error; otherwise the arrivals it recorded
/// are served (`finish`) and each served ranked fill is checked against the definition at the
/// moment of the fill (replayed on a copy). Returns whether it succeeded.
fn instruction(
    b: &mut Bufs,
    what: &str,
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
    let mut copy = b.clone();
    serve_checked(b, &mut copy, pending, what);
    stat(what.split(['(', ' ']).next().unwrap_or("?"), 1);
    true
}

/// What every instruction does last (`finish`), with each served ranked fill checked against
/// the definition at the moment of the fill (replayed on `copy`, the state before `finish`).
fn serve_checked(b: &mut Bufs, copy: &mut Bufs, pending: Pending, what: &str) {
    let done = b
        .finish(pending)
        .unwrap_or_else(|e| panic!("{what}: finishing the instruction failed: {e:?}"));
    stat("arrival_fills", done.fills.len() as u64);
    stat("drain_arrivals", done.drains.len() as u64);
    if done.drains.is_empty() {
        for (i, f) in &done.fills {
            let next = copy.with_raw(|st, _, _| definition_next(st, *i)).0;
            assert_eq!(
                next,
                Some(f.slot),
                "{what}: arrival fill of event {i} is slot {}, the definition's next is {next:?}",
                f.slot
            );
            copy.with_raw(|st, _, _| st.apply_adl_fills(*i, &[*f]).unwrap());
        }
    }
}

thread_local! {
    static STATS: std::cell::RefCell<std::collections::BTreeMap<String, u64>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

fn stat(k: &str, n: u64) {
    STATS.with(|m| *m.borrow_mut().entry(k.to_string()).or_default() += n);
}

fn step(b: &mut Bufs, op: &Op, now: &mut u64) {
    *now += 1;
    let what = format!("{op:?}");
    match op.clone() {
        Op::Open(e, m, q) => {
            instruction(b, &what, |st, users, _| {
                let mut u = user(100_000 + users.len());
                let notional = (q * e as i64 * USD) as u64;
                let margin = (notional as i64 * m / 100) as u64;
                st.fill_user(&mut u, q * ONE, notional, margin, 0, px(100))?;
                users.push(u);
                Ok(())
            });
        }
        Op::Margin(i, d) => {
            instruction(b, &what, |st, _, _| {
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
            instruction(b, &what, |st, _, _| {
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
        Op::Reduce(i, k) => {
            instruction(b, &what, |st, _, _| {
                let open = open_longs(st);
                if open.is_empty() {
                    return Ok(());
                }
                let s = open[i.index(open.len())];
                let base = st.book.slot(s).unwrap().base;
                let cut = (base * k / 10).max(1_000_000);
                let mut u = owner_of(st, s);
                st.price = Some(px(100));
                let notional = (cut as u128 * px(100) as u128 / ONE as u128) as u64;
                st.fill_user(&mut u, -cut, notional, 0, 0, px(100))?;
                st.require_min_position(s)
            });
        }
        Op::Flip(i) => {
            instruction(b, &what, |st, _, _| {
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
            instruction(b, &what, |st, users, fund| {
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
            instruction(b, &what, |st, _, _| super::apply_funding(st.market, d));
        }
        Op::NewEvent(m, mode, q) => {
            let t = *now;
            instruction(b, &what, |st, users, fund| {
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
                st.market.adl_mode = mode;
                st.price = Some(px(130));
                st.start_adl(slot, &mut u, fund, px(130), t)?;
                users.push(u);
                Ok(())
            });
        }
        Op::Keeper(i, max) => {
            let act = active(b);
            if act.is_empty() {
                return;
            }
            let ix = act[i.index(act.len())];
            let ev = b.market.adl_events[ix];
            match ev.mode {
                ADL_MODE_RANKED_QUEUE => {
                    if b.market.pro_rata_pending(ev.side) {
                        return;
                    }
                    let (slots, capped) = b.with_raw(|st, _, _| keeper_plan(st, ix, max)).0;
                    if slots.is_empty() && !capped {
                        // Starved: nothing eligible, the definition agrees.
                        let next = b.with_raw(|st, _, _| definition_next(st, ix)).0;
                        assert_eq!(
                            next, None,
                            "{what}: the walk finds nothing, the definition {next:?}"
                        );
                        return;
                    }
                    // The definition, fill by fill, on a copy.
                    let mut copy = b.clone();
                    let (r, pending) = b.with_raw(|st, _, _| st.auto_deleverage(ix, &slots));
                    let (fills, _) =
                        r.unwrap_or_else(|e| panic!("{what}: the keeper's own plan failed: {e:?}"));
                    stat("keeper_txs", 1);
                    stat("keeper_fills", fills.len() as u64);
                    for f in &fills {
                        let next = copy.with_raw(|st, _, _| definition_next(st, ix)).0;
                        assert_eq!(next, Some(f.slot), "{what}: keeper fill of event {ix}");
                        copy.with_raw(|st, _, _| st.apply_adl_fills(ix, &[*f]).unwrap());
                    }
                    // The fills' queue changes may have made arrivals for other events.
                    serve_checked(b, &mut copy, pending, &what);
                }
                ADL_MODE_PRO_RATA => {
                    instruction(b, &what, |st, _, _| {
                        let e = st.market.adl_events[ix];
                        let owing: Vec<u32> = (0..st.book.header.high_water)
                            .filter(|&s| super::obligation_pending(&e, st.book.slot(s).unwrap()))
                            .take(max)
                            .collect();
                        for s in owing {
                            st.apply_obligations(s)?;
                        }
                        Ok(())
                    });
                }
                _ => {
                    if b.market.pro_rata_pending(ev.side) {
                        return;
                    }
                    let phase = b.market.adl_drains[ix].phase;
                    let ok = instruction(b, &what, |st, _, _| {
                        if phase == DRAIN_IDLE {
                            st.drain_begin(ix)
                        } else {
                            st.drain_step(ix).map(|_| ())
                        }
                    });
                    assert!(ok, "{what}: a drain transaction failed");
                }
            }
        }
        Op::Fallback(i) => {
            let act = active(b);
            if act.is_empty() {
                return;
            }
            let ix = act[i.index(act.len())];
            instruction(b, &what, |st, _, _| {
                let e = st.market.adl_events[ix];
                if e.mode == ADL_MODE_PRO_RATA || e.walk_flags & WALK_FALLBACK_USED != 0 {
                    return Ok(());
                }
                st.market.adl_events[ix].walk_flags |= WALK_FALLBACK_USED;
                st.market.adl_drains[ix] = AdlDrain::default();
                st.begin_pro_rata(ix)
            });
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// **Defence: order, cursors, drain sums, pro-rata bookkeeping and escrow solvency under
    /// an adversary with several concurrent events of every mode on one side.** The attacker
    /// opens, tops up, removes margin, partially closes, flips, gets liquidated, cranks
    /// funding, starts new bankruptcies (ranked, pro-rata, drain, up to the ring's 8), begins
    /// and steps drains and uses the fallback, between keeper transactions with a
    /// small walk cap. After every operation: no takeable position ahead of any ranked cursor
    /// (none in a done tier), every drain's sums equal a recount, no cut left in front of an
    /// applying drain's cursor beyond one fill's rounding, every pro-rata `pending` equal to the slots that owe, the
    /// queue in exact order, every escrow's exact equity above minus one atom; every keeper
    /// fill and every arrival fill equal to the brute-force next counterparty; no keeper's own
    /// plan and no drain transaction fails; every event ends when the keeper runs alone.
    ///
    /// Observed: PASSES (400 cases × up to 160 operations; about 7,000 opens, 3,200 max-outs,
    /// 1,700 keeper transactions, 1,250 new events, 900 fallbacks, 190 liquidations, 145
    /// arrival fills and 11 drain arrivals in all).
    #[test]
    fn defence_concurrent_events_under_an_adversary(
        book in prop::collection::vec((85u64..115, 11i64..60, 1i64..4), 8..40),
        ops in prop::collection::vec(op(), 1..160),
        cap in 2usize..10,
    ) {
        meter::set_walk_cap(Some(cap));
        let longs: Vec<Long> = book
            .iter()
            .map(|&(e, m, q)| (q * ONE, px(e), q * e as i64 * USD * m / 100))
            .collect();
        let mut b = market(&longs, 6 * ONE, px(100), 200);
        start(&mut b);
        let mut now = 10u64;
        check_all(&mut b, "start");
        for op in &ops {
            step(&mut b, op, &mut now);
            check_all(&mut b, &format!("{op:?}"));
        }
        // The keeper alone finishes every event that has eligible size.
        let mut guard = 0;
        loop {
            let act = active(&b);
            let Some(&ix) = act.first() else { break };
            guard += 1;
            prop_assert!(guard < 5_000, "an event never ends: {:?}", b.market.adl_events[ix]);
            let ev = b.market.adl_events[ix];
            if ev.mode == ADL_MODE_RANKED_QUEUE && !b.market.pro_rata_pending(ev.side) {
                let (slots, capped) = b.with_raw(|st, _, _| keeper_plan(st, ix, 24)).0;
                if slots.is_empty() && !capped {
                    // Starved: nothing eligible on the side (checked against the definition).
                    prop_assert_eq!(b.with_raw(|st, _, _| definition_next(st, ix)).0, None);
                    // Retire it so the others can be checked.
                    b.market.adl_events[ix].status = EVENT_DONE;
                    continue;
                }
            }
            let pr = (0..ADL_EVENT_RING).find(|&i| {
                let e = b.market.adl_events[i];
                e.status == EVENT_ACTIVE && e.mode == ADL_MODE_PRO_RATA && e.pending > 0
            });
            let target = pr.unwrap_or(ix);
            let act = active(&b);
            let pos = act.iter().position(|&x| x == target).unwrap();
            // Keeper op for `target` (Index picks by proportion: build one that lands on it).
            let op = Op::Keeper(index_for(pos, act.len()), 24);
            step(&mut b, &op, &mut now);
            check_all(&mut b, "final keeper");
        }
        meter::set_walk_cap(None);
        stat("cases", 1);
        stat("events_started", b.market.next_event_id);
        STATS.with(|m| {
            let m = m.borrow();
            if m.get("cases").copied().unwrap_or(0) % 100 == 0 {
                println!("stats {m:?}");
            }
        });
    }
}

/// A `prop::sample::Index` that selects `pos` out of `len`.
fn index_for(pos: usize, len: usize) -> prop::sample::Index {
    // Index::index(len) = (raw * len) >> 64 style; search a raw value that maps to `pos`.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    loop {
        let v = any::<prop::sample::Index>()
            .new_tree(&mut runner)
            .unwrap()
            .current();
        if v.index(len) == pos {
            return v;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Defence: mode changes and walk restarts stay within the bound.
// ---------------------------------------------------------------------------------------------

/// **Attack: bounce an event between modes.** A drain can no longer be vetoed (nobody supplies
/// its level), so the attacker starts from the drain: waits for the deadline and uses the
/// fallback (drain → pro-rata); five ineligible longs (bankrupt at `P_exec`) keep part of the
/// size unpaid, so the event comes back ranked (fresh walk); the attacker then tries the
/// fallback again.
///
/// Observed: PASSES — Drain → ProRata → Ranked: two mode changes and one fresh walk; the
/// second fallback is refused (`WALK_FALLBACK_USED`) and the event ends in rank order.
#[test]
fn defence_mode_bounces_stay_within_the_bound_after_a_drain_veto() {
    // 5 ineligible longs, the 20x whale, 40 honest 3.3x longs, 20 at 1.8x; event 8.0 (drain).
    let mut longs: Vec<Long> = vec![(ONE, px(110), 1_100_000); 5];
    longs.push((10 * ONE, px(110), 150 * USD));
    longs.extend(vec![(ONE, px(90), 20 * USD); 40]);
    longs.extend(vec![(ONE, px(90), 45 * USD); 20]);
    let mut b = market(&longs, 8 * ONE, px(100), 4);
    b.market.adl_mode = ADL_MODE_LEVERAGE_DRAIN;
    start(&mut b);
    let mut modes = vec![b.market.adl_events[0].mode];
    let mut restarts = 0;
    let note = |b: &Bufs, modes: &mut Vec<u8>, restarts: &mut u32| {
        let m = b.market.adl_events[0].mode;
        if b.market.adl_events[0].status == EVENT_ACTIVE && *modes.last().unwrap() != m {
            modes.push(m);
            if m == ADL_MODE_RANKED_QUEUE {
                assert_eq!(b.market.adl_walks[0].cursor, [0, 0], "a fresh walk");
                assert_eq!(
                    b.market.adl_events[0].walk_flags & (WALK_TIER1_DONE | WALK_TIER2_DONE),
                    0
                );
                *restarts += 1;
            }
        }
    };
    // A drain begun and measured, then abandoned by the fallback.
    b.with(|st, _| st.drain_begin(0).unwrap());
    b.with(|st, _| st.drain_step(0).unwrap());
    note(&b, &mut modes, &mut restarts);
    // The fallback, as `handle_adl_switch_to_pro_rata` does it (deadline passed).
    let fallback = |b: &mut Bufs| -> bool {
        let ev = b.market.adl_events[0];
        if ev.status != EVENT_ACTIVE
            || ev.mode == ADL_MODE_PRO_RATA
            || ev.walk_flags & WALK_FALLBACK_USED != 0
        {
            return false;
        }
        b.market.adl_events[0].walk_flags |= WALK_FALLBACK_USED;
        b.with(|st, _| {
            st.market.adl_drains[0] = AdlDrain::default();
            st.begin_pro_rata(0).unwrap();
        });
        true
    };
    assert!(fallback(&mut b));
    note(&b, &mut modes, &mut restarts);
    // Crank every obligation.
    loop {
        let owing: Vec<u32> = b.with(|st, _| {
            let e = st.market.adl_events[0];
            (0..st.book.header.high_water)
                .filter(|&s| super::obligation_pending(&e, st.book.slot(s).unwrap()))
                .collect()
        });
        if owing.is_empty() {
            break;
        }
        b.with(|st, _| {
            for s in owing.into_iter().take(8) {
                st.apply_obligations(s).unwrap();
            }
        });
    }
    note(&b, &mut modes, &mut restarts);
    assert_eq!(
        b.market.adl_events[0].status, EVENT_ACTIVE,
        "size left by the ineligible longs"
    );
    // The attacker tries again.
    assert!(!fallback(&mut b), "a second fallback");
    run_ranked(&mut b, 0);
    println!("modes {modes:?} (0 ranked, 1 pro-rata, 2 drain), fresh walks {restarts}");
    assert_eq!(
        modes,
        vec![
            ADL_MODE_LEVERAGE_DRAIN,
            ADL_MODE_PRO_RATA,
            ADL_MODE_RANKED_QUEUE
        ]
    );
    assert_eq!(restarts, 1);
}

// ---------------------------------------------------------------------------------------------
// Defence: bankruptcy stamp windows at the edges.
// ---------------------------------------------------------------------------------------------

/// **Attack: use a stamp outside its window (grace 0, grace `u64::MAX`).** With a fund able to
/// cover the deficit, `start_adl` needs a stamp at least `grace` old and within its window.
/// Grace 0: the window is the stamp's slot and the next; two slots later the stamp is stale
/// (`BankruptcyStampExpired`) until `flag_bankrupt` stamps it anew. Grace `u64::MAX`: the
/// window never opens before slot `u64::MAX` (saturating), so the fund pays through
/// liquidation instead.
///
/// Observed: PASSES.
#[test]
fn defence_bankruptcy_stamp_windows_at_the_edges() {
    use super::stamp_expired;
    assert!(!stamp_expired(0, 0, u64::MAX));
    // The window is max(grace, MIN_STAMP_WINDOW_SLOTS = 32) slots after the grace.
    assert_eq!(super::MIN_STAMP_WINDOW_SLOTS, 32);
    assert!(!stamp_expired(100, 0, 132) && stamp_expired(100, 0, 133));
    assert!(!stamp_expired(100, 1, 133) && stamp_expired(100, 1, 134));
    assert!(!stamp_expired(100, 50, 200) && stamp_expired(100, 50, 201));
    assert!(!stamp_expired(1, u64::MAX, u64::MAX));
    assert!(!stamp_expired(u64::MAX, u64::MAX / 2, u64::MAX));
    let setup = |grace: u64| {
        let longs: Vec<Long> = vec![(ONE, px(90), 45 * USD); 8];
        let mut b = market(&longs, 4 * ONE, px(100), 2);
        b.market.params.bankruptcy_grace_slots = grace;
        b.market.params.max_insurance_per_event = u64::MAX;
        b.fund.balance = 1_000_000 * USD as u64;
        b
    };
    let flag = |b: &mut Bufs, now: u64| {
        b.with(|st, _| {
            let n = st.market.num_positions - 1;
            let pos = st.book.slot_mut(n).unwrap();
            super::flag_bankrupt(st.market, pos, px(130), now).unwrap();
        })
    };
    let try_start = |b: &mut Bufs, now: u64| -> anchor_lang::Result<AdlEvent> {
        let mut fund = b.fund;
        let saved = b.clone();
        let r = b.with(|st, users| {
            let n = st.market.num_positions - 1;
            st.start_adl(n, &mut users[0], &mut fund, px(130), now)
        });
        if r.is_ok() {
            b.fund = fund;
        } else {
            *b = saved;
        }
        r
    };
    let code = |r: anchor_lang::Result<AdlEvent>| match r {
        Err(anchor_lang::error::Error::AnchorError(e)) => e.error_code_number,
        Ok(_) => 0,
        Err(_) => 1,
    };
    let err = |e: crate::error::AdlError| anchor_lang::error::Error::from(e);
    let num = |e: anchor_lang::error::Error| match e {
        anchor_lang::error::Error::AnchorError(a) => a.error_code_number,
        _ => 1,
    };
    // Grace 0.
    let mut b = setup(0);
    assert_eq!(
        code(try_start(&mut b, 100)),
        num(err(crate::error::AdlError::InsuranceCanCover))
    );
    flag(&mut b, 100);
    let mut late = b.clone();
    assert_eq!(
        code(try_start(&mut late, 133)),
        num(err(crate::error::AdlError::BankruptcyStampExpired))
    );
    flag(&mut late, 133);
    assert_eq!(late.book.len(), b.book.len());
    assert_eq!(code(try_start(&mut late, 133)), 0, "re-stamped: starts");
    let mut last = b.clone();
    assert_eq!(code(try_start(&mut last, 132)), 0, "the window's last slot");
    assert_eq!(code(try_start(&mut b, 101)), 0, "inside the window");
    // Grace u64::MAX.
    let mut b = setup(u64::MAX);
    flag(&mut b, 100);
    // (At slot u64::MAX itself the saturated window opens: unreachable.)
    assert_eq!(
        code(try_start(&mut b, u64::MAX - 1)),
        num(err(crate::error::AdlError::InsuranceCanCover))
    );
}
