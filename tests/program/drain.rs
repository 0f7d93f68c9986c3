//! Leverage drain on the worked example's book, over several transactions: `adl_drain_begin`
//! (no level: the program finds it), a measuring step that fixes the region and the level, an
//! applying step; the reductions match an independent computation; misuse is rejected with
//! nothing changed; a margin top-up before a position's turn takes its cut first.

use adl_client::ix;
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::{BASE, USDC};

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
/// example's longs, funding index 0): exact equity at `P`, drain equity `e = ⌊eq⌋ − 2`; the
/// region grows from the most leveraged while `S < Q` or `s·E > (S − Q)·e`; the level is
/// `⌊(S − Q)·P·1e4/(E·BASE)⌋`; each position keeps `⌊ℓ·e·BASE/(P·1e4)⌋` and the cuts are taken
/// in the order given (`first` first, then most leveraged first), each capped by what is
/// left. Returns the level, each long's cut, and its (size, cost, margin) after.
#[allow(clippy::type_complexity)]
fn expected(
    longs: &[(i128, i128, i128)],
    p: i128,
    q: i128,
    first: Option<usize>,
) -> (i128, Vec<i128>, Vec<(i64, i64, i64)>) {
    let e_of =
        |&(b, c, m): &(i128, i128, i128)| ((m * ONE + b * p - c * ONE).div_euclid(ONE) - 2).max(0);
    let (mut s_sum, mut e_sum, mut k) = (0i128, 0i128, 0usize);
    for l in longs {
        let e = e_of(l);
        if s_sum >= q && l.0 * e_sum <= (s_sum - q) * e {
            break;
        }
        s_sum += l.0;
        e_sum += e;
        k += 1;
    }
    let level = ((s_sum - q) * p * 10_000).div_euclid(e_sum * ONE);
    let mut order: Vec<usize> = first.into_iter().collect();
    order.extend((0..k).filter(|i| Some(*i) != first));
    let mut left = q;
    let mut cuts = vec![0i128; longs.len()];
    for i in order {
        let (b, _, _) = longs[i];
        let keep = (level * e_of(&longs[i]) * ONE)
            .div_euclid(p * 10_000)
            .min(b);
        cuts[i] = (b - keep).min(left);
        left -= cuts[i];
    }
    assert_eq!(left, 0);
    let after = longs
        .iter()
        .zip(&cuts)
        .map(|(&(b, c, m), &r)| {
            // The long sells r at P: notional floored, cost removed rounded up, PnL kept.
            let notional = (r * p).div_euclid(ONE);
            let removed = -((-(c * r)).div_euclid(b));
            (
                (b - r) as i64,
                (c - removed) as i64,
                (m + notional - removed) as i64,
            )
        })
        .collect();
    (level, cuts, after)
}

/// The example's longs before the drain, most leveraged first: (slot, (size, cost, margin)).
async fn longs(e: &mut Example) -> Vec<(u32, (i128, i128, i128))> {
    vec![
        (
            e.f.slot_of(0, e.l4).await.unwrap(),
            (2 * ONE, 230_000_000, 50_000_000),
        ),
        (
            e.f.slot_of(0, e.l1).await.unwrap(),
            (4 * ONE, 400_000_000, 50_000_000),
        ),
        (
            e.f.slot_of(0, e.l3).await.unwrap(),
            (3 * ONE, 300_000_000, 40_000_000),
        ),
        (
            e.f.slot_of(0, e.l2).await.unwrap(),
            (5 * ONE, 500_000_000, 125_000_000),
        ),
    ]
}

#[tokio::test]
async fn leverage_drain_worked_example_over_several_transactions() {
    let mut e = example().await;
    let m = e.f.markets[0];
    let ex = e.f.exchange;
    let id = drain_event(&mut e).await;
    let was = longs(&mut e).await;
    let s4 = was[0].0;
    // At 112.727272 the longs' leverages are 4.96x (L4), 4.47x (L1), 4.33x (L3), 2.99x (L2);
    // all four are the region (S = 14.0, E = 413.181800 USD) and the level is 8,184 bps.
    let (level, cuts, want) = expected(
        &was.iter().map(|w| w.1).collect::<Vec<_>>(),
        112_727_272,
        11 * ONE,
        None,
    );
    assert_eq!(level, 8_184);
    assert_eq!(
        e.f.market_snapshot(0).await.drain_plan(0),
        (
            8_184,
            was.iter()
                .zip(&cuts)
                .map(|(w, c)| (w.0, *c as u64))
                .collect::<Vec<_>>()
        )
    );

    // Misuse, each rejected with nothing changed.
    for (ix, err) in [
        (
            ix::adl_drain_step(&ex, &m, 0, id),
            AdlError::DrainNotStarted,
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
            ix::adl_drain_begin(&ex, &m, 0, id + 1),
            AdlError::AdlEventNotActive,
        ),
    ] {
        let before = state_bytes(&mut e.f).await;
        assert_adl_err(e.f.bank.send(&[ix], &[]).await, err);
        assert_eq!(before, state_bytes(&mut e.f).await);
    }

    // 1. Begin: the drain price is recorded, nothing is measured or reduced.
    e.f.bank
        .send(&[ix::adl_drain_begin(&ex, &m, 0, id)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let d = e.f.market_snapshot(0).await.market.adl_drains[0];
    assert_eq!(
        (d.phase, d.level_bps, d.price, d.measured, d.passes),
        (DRAIN_MEASURING, 0, 112_727_272, 0, 1)
    );
    let before = state_bytes(&mut e.f).await;
    let ix = ix::adl_drain_begin(&ex, &m, 0, id);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::DrainInProgress);
    assert_eq!(before, state_bytes(&mut e.f).await);

    // 2. Measuring: the four longs join; the level is fixed.
    e.f.bank
        .send(&[ix::adl_drain_step(&ex, &m, 0, id)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    let d = s.market.adl_drains[0];
    assert_eq!(
        (d.phase, d.measured, d.level_bps, d.sum_base, d.sum_equity),
        (DRAIN_APPLYING, 4, 8_184, 14 * BASE as u64, 413_181_800)
    );
    assert_eq!(d.end - d.cursor, 4);
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
    let mut total_cut = 0i64;
    for (i, ((slot, (b, _, _)), (base, cost, margin))) in was.iter().zip(&want).enumerate() {
        let p = s.book.slots[*slot as usize];
        assert_eq!(
            (p.base, p.cost_basis, p.margin, p.adl_payout),
            (*base, *cost, *margin, 0),
            "slot {slot}"
        );
        total_cut += *b as i64 - base;
        // The three given their whole cut are left at most ℓ*, exactly: |q|·P·1e4 ≤ ℓ*·eq·BASE.
        if i < 3 {
            let eq = p.equity(0, ev.exec_price).unwrap();
            assert!(
                (p.base.unsigned_abs() as i128) * (ev.exec_price as i128) * 10_000
                    <= level * eq * ONE,
                "slot {slot} above {level} bps"
            );
        }
    }
    assert_eq!(total_cut, 11 * BASE);
    // The numbers of docs/adl.md ("Side by side"), (size, cost, margin) of L4, L1, L3, L2: L2,
    // the least leveraged of the region, keeps the overshoot (300,114 atoms).
    assert_eq!(
        want,
        vec![
            (329_999_977, 37_949_997, 46_204_543),
            (732_599_969, 73_259_996, 91_585_088),
            (567_599_973, 56_759_997, 70_957_816),
            (1_369_800_081, 136_980_008, 171_202_541),
        ]
    );
    // Every reduction paid the escrow the floor of its notional; the rest is rounding.
    assert_eq!(s.market.rounding_sink, 10);
    // Stepping a finished drain: the event is gone.
    let ix = ix::adl_drain_step(&ex, &m, 0, id);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlEventNotActive);
}

/// **Attack: leave a drain's region by adding margin before one's turn.** After the
/// measuring step fixed the region, L2 (in the region, its turn last) adds 200 USDC of margin,
/// which would take it below the level. The `add_margin` instruction first takes L2's whole
/// cut at its state before the move; the applying step then reduces L4, L1 and L3, and L3,
/// now last, keeps the overshoot. Before, the drain read each position's class when its turn
/// came, and a position that had moved below the level was passed over (the rest went to the
/// ranked walk, onto positions the drain had already cut).
#[tokio::test]
async fn drain_margin_top_up_before_its_turn_takes_the_cut_first() {
    let mut e = example().await;
    let m = e.f.markets[0];
    let ex = e.f.exchange;
    let id = drain_event(&mut e).await;
    let was = longs(&mut e).await;
    for ix in [
        ix::adl_drain_begin(&ex, &m, 0, id),
        ix::adl_drain_step(&ex, &m, 0, id),
    ] {
        e.f.bank.send(&[ix], &[]).await.unwrap();
    }
    assert_eq!(
        e.f.market_snapshot(0).await.market.adl_drains[0].phase,
        DRAIN_APPLYING
    );
    let (level, cuts, want) = expected(
        &was.iter().map(|w| w.1).collect::<Vec<_>>(),
        112_727_272,
        11 * ONE,
        Some(3),
    );
    assert_eq!(level, 8_184);
    // L2's whole cut at ℓ: 5.0 − ⌊8,184 × 188,636,358 × 1e9 / (112,727,272 × 1e4)⌋.
    assert_eq!(cuts[3], 3_630_500_033);
    let kl2 = e.f.users[e.l2].kp.insecure_clone();
    let ix = ix::add_margin(&ex, &m, &e.f.users[e.l2].key(), 200 * USDC);
    e.f.bank.send(&[ix], &[&kl2]).await.unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    let l2 = s.book.slots[was[3].0 as usize];
    assert_eq!(
        (l2.base, l2.cost_basis, l2.margin),
        (want[3].0, want[3].1, want[3].2 + 200 * USDC as i64),
        "L2 cut first, then its margin added"
    );
    assert_eq!(
        s.market.adl_events[0].base_remaining as i128,
        11 * ONE - cuts[3]
    );
    e.f.bank
        .send(&[ix::adl_drain_step(&ex, &m, 0, id)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    assert_eq!(s.market.adl_events[0].status, EVENT_DONE);
    for (i, (slot, _)) in was.iter().enumerate().take(3) {
        let p = s.book.slots[*slot as usize];
        assert_eq!((p.base, p.cost_basis, p.margin), want[i], "slot {slot}");
    }
    // L3, last now, keeps the overshoot instead of L2.
    assert!(cuts[2] < 3 * ONE - 567_599_973);
}
