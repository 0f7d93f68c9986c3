//! Leverage drain on the worked example's book, over several transactions: `adl_drain_begin`
//! at the keeper's level, a measuring step that checks the level, an applying step; the
//! reductions match an independent computation; misuse is rejected with nothing changed; a
//! level that does not fit hands the event to the ranked walk.

use adl_client::ix;
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::BASE;

use crate::adl::{example, Example};

const ONE: i128 = 1_000_000_000;

/// Starts the worked example's event in drain mode; returns its id.
async fn drain_event(e: &mut Example) -> u64 {
    let m = e.f.markets[0];
    let ex = e.f.exchange;
    let ix = ix::set_adl_mode(&e.f.admin_key(), &ex, &m.market, ADL_MODE_LEVERAGE_DRAIN);
    e.f.bank.send(&[ix], &[]).await.unwrap();
    let xs = e.f.slot_of(0, e.x).await.unwrap();
    e.f.bank
        .send(&[ix::start_adl(&ex, &m, &e.f.users[e.x].key(), xs)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let ev = e.f.market_snapshot(0).await.market.adl_events[0];
    assert_eq!(
        (ev.mode, ev.exec_price),
        (ADL_MODE_LEVERAGE_DRAIN, 112_727_272)
    );
    ev.id
}

/// The drain written out independently of `adl::drain` (plain integer arithmetic on the
/// example's longs, funding index 0): exact equity at `P`, `keep(ℓ) = ⌊ℓ·(⌊eq⌋ − 2)·BASE /
/// (P·1e4)⌋`, cut to ℓ, overshoot handed back from the least leveraged. Returns each long's
/// (size, cost, margin) after, in the order given (most leveraged first).
fn expected(longs: &[(i128, i128, i128)], p: i128, level: i128, q: i128) -> Vec<(i64, i64, i64)> {
    let keep = |eq: i128, l: i128| {
        if eq <= 2 {
            0
        } else {
            (l * (eq - 2) * ONE).div_euclid(p * 10_000)
        }
    };
    // Exact equity ×BASE: C·BASE + q·P − B·BASE.
    let eqs: Vec<i128> = longs
        .iter()
        .map(|&(b, c, m)| m * ONE + b * p - c * ONE)
        .collect();
    let above = |b: i128, e: i128, l: i128| b * p * 10_000 > l * e;
    let cuts: Vec<(i128, i128)> = longs
        .iter()
        .zip(&eqs)
        .map(|(&(b, _, _), &e)| {
            let eqf = e.div_euclid(ONE);
            let cut = b - keep(eqf, level).min(b);
            let cut_next = if above(b, e, level + 1) {
                b - keep(eqf, level + 1).min(b)
            } else {
                0
            };
            (cut, cut_next)
        })
        .collect();
    let total: i128 = cuts.iter().map(|c| c.0).sum();
    let total_next: i128 = cuts.iter().map(|c| c.1).sum();
    assert!(total >= q && total_next < q, "level {level} does not fit");
    let mut overshoot = total - q;
    let mut out = vec![(0, 0, 0); longs.len()];
    for i in (0..longs.len()).rev() {
        let (b, c, m) = longs[i];
        let back = overshoot.min(cuts[i].0 - cuts[i].1);
        overshoot -= back;
        let r = cuts[i].0 - back;
        // The long sells r at P: notional floored, cost removed rounded up, PnL kept.
        let notional = (r * p).div_euclid(ONE);
        let removed = -((-(c * r)).div_euclid(b));
        out[i] = (
            (b - r) as i64,
            (c - removed) as i64,
            (m + notional - removed) as i64,
        );
    }
    out
}

#[tokio::test]
async fn leverage_drain_worked_example_over_several_transactions() {
    let mut e = example().await;
    let m = e.f.markets[0];
    let ex = e.f.exchange;
    let id = drain_event(&mut e).await;
    let (s1, s2, s3, s4) = (
        e.f.slot_of(0, e.l1).await.unwrap(),
        e.f.slot_of(0, e.l2).await.unwrap(),
        e.f.slot_of(0, e.l3).await.unwrap(),
        e.f.slot_of(0, e.l4).await.unwrap(),
    );
    // At 112.727272 the longs' leverages are 4.96x (L4), 4.47x (L1), 4.33x (L3), 2.99x (L2);
    // the largest level whose reduction covers 11.0 is ℓ* = 8,184 bps (0.8184x).
    let s = e.f.market_snapshot(0).await;
    let level = s.drain_level(0);
    assert_eq!(level, 8_184);

    // Misuse, each rejected with nothing changed.
    for (ix, err) in [
        (
            ix::adl_drain_step(&ex, &m, 0, id),
            AdlError::DrainNotStarted,
        ),
        (
            ix::adl_drain_begin(&ex, &m, 0, id, MAX_DRAIN_LEVEL_BPS + 1),
            AdlError::WrongDrainClaim,
        ),
        (
            ix::auto_deleverage(&ex, &m, 0, id, vec![s4]),
            AdlError::AdlWrongMode,
        ),
        (
            ix::apply_pro_rata(&ex, &m, 0, id, vec![s4]),
            AdlError::AdlWrongMode,
        ),
        (
            ix::adl_drain_begin(&ex, &m, 0, id + 1, level),
            AdlError::AdlEventNotActive,
        ),
    ] {
        let before = state_bytes(&mut e.f).await;
        assert_adl_err(e.f.bank.send(&[ix], &[]).await, err);
        assert_eq!(before, state_bytes(&mut e.f).await);
    }

    // 1. Begin: the level is recorded, nothing is reduced.
    e.f.bank
        .send(&[ix::adl_drain_begin(&ex, &m, 0, id, level)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let d = e.f.market_snapshot(0).await.market.adl_drains[0];
    assert_eq!(
        (d.phase, d.level_bps, d.price, d.measured),
        (DRAIN_MEASURING, level, 112_727_272, 0)
    );
    let before = state_bytes(&mut e.f).await;
    let ix = ix::adl_drain_begin(&ex, &m, 0, id, level);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::DrainInProgress);
    assert_eq!(before, state_bytes(&mut e.f).await);

    // 2. Measuring: the four longs are above the level; R(ℓ) ≥ 11.0 > R(ℓ + 1).
    e.f.bank
        .send(&[ix::adl_drain_step(&ex, &m, 0, id)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    let d = s.market.adl_drains[0];
    assert_eq!((d.phase, d.measured), (DRAIN_APPLYING, 4));
    assert!(d.r_level >= 11 * BASE as u64 && d.r_next < 11 * BASE as u64);
    assert_eq!(d.overshoot, d.r_level - 11 * BASE as u64);
    assert_eq!(s.market.adl_events[0].base_remaining, 11 * BASE as u64);

    // 3. Applying: all four in one step (the batch is 32).
    e.f.bank
        .send(&[ix::adl_drain_step(&ex, &m, 0, id)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    assert_eq!((ev.status, ev.base_remaining), (EVENT_DONE, 0));
    assert_eq!(s.market.adl_drains[0].phase, DRAIN_IDLE);
    // The book before the drain, most leveraged first: (size, cost, margin).
    let was = [
        (s4, (2 * ONE, 230_000_000, 50_000_000)),
        (s1, (4 * ONE, 400_000_000, 50_000_000)),
        (s3, (3 * ONE, 300_000_000, 40_000_000)),
        (s2, (5 * ONE, 500_000_000, 125_000_000)),
    ];
    let want = expected(
        &was.iter().map(|w| w.1).collect::<Vec<_>>(),
        112_727_272,
        level as i128,
        11 * ONE,
    );
    let mut total_cut = 0i64;
    for ((slot, (b, _, _)), (base, cost, margin)) in was.iter().zip(&want) {
        let p = s.book.slots[*slot as usize];
        assert_eq!(
            (p.base, p.cost_basis, p.margin, p.adl_payout),
            (*base, *cost, *margin, 0),
            "slot {slot}"
        );
        total_cut += *b as i64 - base;
        // No reduced position is left above ℓ* + 1 bps, exactly: |q|·P·1e4 ≤ (ℓ*+1)·eq·BASE.
        let eq = p.equity(0, ev.exec_price).unwrap();
        assert!(
            (p.base.unsigned_abs() as i128) * (ev.exec_price as i128) * 10_000
                <= ((level + 1) as i128) * eq * ONE,
            "slot {slot} above {} bps",
            level + 1
        );
    }
    assert_eq!(total_cut, 11 * BASE);
    // The numbers of docs/adl.md ("Side by side"), (size, cost, margin) of L4, L1, L3, L2.
    assert_eq!(
        want,
        vec![
            (329_999_977, 37_949_997, 46_204_543),
            (732_663_389, 73_266_338, 91_584_280),
            (567_669_328, 56_766_932, 70_956_933),
            (1_369_667_306, 136_966_730, 171_204_231),
        ]
    );
    // Every reduction paid the escrow the floor of its notional; the rest is rounding.
    assert_eq!(s.market.rounding_sink, 10);
    // Stepping a finished drain: the event is gone.
    let ix = ix::adl_drain_step(&ex, &m, 0, id);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlEventNotActive);
}

/// A level that no longer fits when the measurement completes (here: one bps too high, so
/// `R(ℓ) < Q`) abandons the drain: the event continues as a ranked event with a fresh walk
/// and is finished in rank order; it is never drained again (no free action can make a
/// drain run forever).
#[tokio::test]
async fn drain_level_that_does_not_fit_hands_the_event_to_the_ranked_walk() {
    let mut e = example().await;
    let m = e.f.markets[0];
    let ex = e.f.exchange;
    let id = drain_event(&mut e).await;
    let level = e.f.market_snapshot(0).await.drain_level(0);
    e.f.bank
        .send(&[ix::adl_drain_begin(&ex, &m, 0, id, level + 1)], &[])
        .await
        .unwrap();
    e.f.bank
        .send(&[ix::adl_drain_step(&ex, &m, 0, id)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    assert_eq!(
        (ev.status, ev.mode, ev.base_remaining),
        (EVENT_ACTIVE, ADL_MODE_RANKED_QUEUE, 11 * BASE as u64)
    );
    assert_eq!(s.market.adl_drains[0].phase, DRAIN_IDLE);
    assert_eq!(s.market.adl_walks[0].cursor, [0, 0]);
    // Drain instructions no longer apply; the ranked walk finishes it (L1, L3, L2).
    let ix = ix::adl_drain_begin(&ex, &m, 0, id, level);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlWrongMode);
    let plan = s.adl_plan(0, 8);
    let (s1, s2, s3) = (
        e.f.slot_of(0, e.l1).await.unwrap(),
        e.f.slot_of(0, e.l2).await.unwrap(),
        e.f.slot_of(0, e.l3).await.unwrap(),
    );
    let slots: Vec<u32> = plan.fills.iter().map(|f| f.slot).collect();
    assert_eq!(slots, vec![s1, s3, s2]);
    e.f.bank
        .send(&[ix::auto_deleverage(&ex, &m, 0, id, slots)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let ev = e.f.market_snapshot(0).await.market.adl_events[0];
    assert_eq!((ev.status, ev.base_remaining), (EVENT_DONE, 0));
}
