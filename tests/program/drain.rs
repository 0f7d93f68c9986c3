//! Leverage drain on the worked example's book: the keeper's level and set are accepted,
//! every near-miss is rejected, and the reductions match an independent computation.

use adl_client::ix;
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::BASE;

use crate::adl::example;

#[tokio::test]
async fn leverage_drain_worked_example() {
    let mut e = example().await;
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
    let s = e.f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    assert_eq!(
        (ev.mode, ev.exec_price),
        (ADL_MODE_LEVERAGE_DRAIN, 112_727_272)
    );
    let (s1, s2, s3, s4) = (
        e.f.slot_of(0, e.l1).await.unwrap(),
        e.f.slot_of(0, e.l2).await.unwrap(),
        e.f.slot_of(0, e.l3).await.unwrap(),
        e.f.slot_of(0, e.l4).await.unwrap(),
    );
    // At 112.727272 the longs' leverages are 4.96x (L4), 4.47x (L1), 4.33x (L3), 2.99x (L2);
    // reducing all four to 0.8184x frees 11.000300085 ≥ 11.0, while 0.8185x frees only
    // 10.999933554: ℓ* = 8,184 bps.
    let (level, set) = s.drain_plan(0).unwrap();
    assert_eq!(level, 8_184);
    assert_eq!(set, vec![s4, s1, s3, s2]);
    let bad: Vec<(u64, Vec<u32>)> = vec![
        (level + 1, set.clone()),
        (level - 1, set.clone()),
        (level, vec![s4, s1, s3]),
        (level, vec![s1, s4, s3, s2]),
        (level, vec![s4, s1, s3, s2, s2]),
        (level, vec![]),
    ];
    for (l, slots) in bad {
        let before = state_bytes(&mut e.f).await;
        let ix = ix::adl_drain(&ex, &m, 0, ev.id, l, slots);
        assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::WrongDrainClaim);
        assert_eq!(before, state_bytes(&mut e.f).await);
    }
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![s4]);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlWrongMode);
    let ix = ix::apply_pro_rata(&ex, &m, 0, ev.id, vec![s4]);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlWrongMode);

    e.f.bank
        .send(&[ix::adl_drain(&ex, &m, 0, ev.id, level, set)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    // (slot, size left, cost left, margin) from an independent computation: the overshoot
    // 300,085 atoms is handed back by L2, the least leveraged. Target sizes hold one atom of
    // equity back for the fill's rounding: size ≤ ℓ*·(eq − 1)/P.
    let want = [
        (s4, 329_999_984, 37_949_998, 46_204_544),
        (s1, 732_663_368, 73_266_336, 91_584_281),
        (s3, 567_669_335, 56_766_933, 70_956_933),
        (s2, 1_369_667_313, 136_966_731, 171_204_231),
    ];
    let mut total_cut = 0i64;
    let before = [
        (s4, 2 * BASE),
        (s1, 4 * BASE),
        (s3, 3 * BASE),
        (s2, 5 * BASE),
    ];
    for ((slot, base, cost, margin), (_, was)) in want.iter().zip(before) {
        let p = s.book.slots[*slot as usize];
        assert_eq!(
            (p.base, p.cost_basis, p.margin, p.adl_payout),
            (*base, *cost, *margin, 0)
        );
        total_cut += was - base;
        // No touched position is left above ℓ* + 1 bps (the hand-back of the overshoot):
        // |q|·P·1e4 ≤ (ℓ* + 1)·eq·BASE, exactly.
        let eq = p.equity(0, ev.exec_price).unwrap();
        assert!(
            (p.base.unsigned_abs() as i128) * (ev.exec_price as i128) * 10_000
                <= ((level + 1) as i128) * eq * 1_000_000_000,
            "slot {slot} above {} bps",
            level + 1
        );
    }
    assert_eq!(total_cut, 11 * BASE);
    let ev = s.market.adl_events[0];
    assert_eq!((ev.status, ev.base_remaining), (EVENT_DONE, 0));
    // The escrow paid 1,239.999991 of 1,240: 9 atoms to the sink.
    assert_eq!(s.market.rounding_sink, 9);
}
