//! Pro-rata ADL: the worked example's book under the pro-rata policy (exact shares and
//! payouts), no escape and no double payment, and the liveness fallback from a ranked event.

use adl_client::ix;
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::{price, Fixture, BASE, USDC};
use solana_signer::Signer;

use crate::adl::example;

#[tokio::test]
async fn pro_rata_worked_example() {
    let mut e = example().await;
    let m = e.f.markets[0];
    let ex = e.f.exchange;
    let k = e.f.users[e.l1].kp.insecure_clone();
    let ix = ix::set_adl_mode(&k.pubkey(), &ex, &m.market, ADL_MODE_PRO_RATA);
    assert_adl_err(e.f.bank.send(&[ix], &[&k]).await, AdlError::Unauthorized);
    let admin = e.f.admin.insecure_clone();
    let ix = ix::set_adl_mode(&admin.pubkey(), &ex, &m.market, 3);
    assert_adl_err(
        e.f.bank.send(&[ix], &[]).await,
        AdlError::InvalidMarketParams,
    );
    let ix = ix::set_adl_mode(&admin.pubkey(), &ex, &m.market, ADL_MODE_PRO_RATA);
    e.f.bank.send(&[ix], &[]).await.unwrap();
    let xs = e.f.slot_of(0, e.x).await.unwrap();
    e.f.bank
        .send(&[ix::start_adl(&ex, &m, &e.f.users[e.x].key(), xs)], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    // Same P_exec as the ranked example; the 11.0 is spread over the longs' 14.0.
    assert_eq!((ev.mode, ev.exec_price), (ADL_MODE_PRO_RATA, 112_727_272));
    assert_eq!(
        (ev.pro_rata_base, ev.pro_rata_oi, ev.pending),
        (11 * BASE as u64, 14 * BASE as u64, 4)
    );
    let (s1, s2, s3, s4) = (
        e.f.slot_of(0, e.l1).await.unwrap(),
        e.f.slot_of(0, e.l2).await.unwrap(),
        e.f.slot_of(0, e.l3).await.unwrap(),
        e.f.slot_of(0, e.l4).await.unwrap(),
    );
    let mut pending = s.pending_pro_rata_slots(0);
    pending.sort();
    let mut want = vec![s1, s2, s3, s4];
    want.sort();
    assert_eq!(pending, want);
    // The ranked instruction does not serve a pro-rata event.
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![s1]);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlWrongMode);

    // L1 owes ceil(4.0·11/14) = 3.142857143: notional 354.285712, cost removed 314.285715,
    // margin released 39.285714 → 79.285711; the remainder 0.857142857 (cost 85.714285)
    // would keep 10.714286 of margin, a key of 87.4999989 < 87.5 (moved back): it keeps
    // 10.714285 (key 87.50000015) and the atom joins the payout, 79.285712.
    e.f.bank
        .send(&[ix::apply_pro_rata(&ex, &m, 0, ev.id, vec![s1])], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let p1 = e.f.market_snapshot(0).await.book.slots[s1 as usize];
    assert_eq!(
        (p1.base, p1.cost_basis, p1.margin, p1.adl_payout),
        (857_142_857, 85_714_285, 10_714_285, 79_285_712)
    );
    // At most once per event: a batch of slots that all no longer owe is refused, nothing
    // changed (a slot that does not exist is refused the same way).
    let before = state_bytes(&mut e.f).await;
    let ix = ix::apply_pro_rata(&ex, &m, 0, ev.id, vec![s1, s1]);
    assert_adl_err(
        e.f.bank.send(&[ix], &[]).await,
        AdlError::ObligationNotPending,
    );
    assert_eq!(before, state_bytes(&mut e.f).await);
    let ix = ix::apply_pro_rata(&ex, &m, 0, ev.id, vec![]);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlProofEmpty);

    // L3 cannot escape by acting first: its own trade applies its obligation
    // (ceil(3.0·11/14) = 2.357142858 → payout 61.428570) before closing the rest.
    let l3_free = e.f.user_account(e.l3).await.free_collateral;
    let rest = 3 * BASE - 2_357_142_858;
    e.f.trade(0, e.l3, e.m, -rest, price(115), 0, 20 * USDC)
        .await
        .unwrap();
    check(&mut e.f).await;
    // Payout 61.428570 settled into free collateral, then the rest closed at 115:
    // 0.642857142 × 115 = 73.928571 (floor), cost 64.285714, margin 8.571428, taker fee
    // ceil(73.928571 × 5 bps) = 0.036965.
    assert_eq!(
        e.f.user_account(e.l3).await.free_collateral,
        l3_free + 61_428_570 + (73_928_571 - 64_285_714) + 8_571_428 - 36_965
    );
    // L2 and L4 by crank. L4 comes last and gets the 2 atoms the rounded-up shares
    // overshoot: 1.571428570 instead of 1.571428572. Each keeps one atom less margin than
    // the pro-rata release leaves (its key would move back), paid out instead.
    // Attack: a front-runner applies L2 just before the keeper's batch [L2, L4] lands. Before,
    // the whole batch was refused (`ObligationNotPending`), so one cheap transaction per
    // keeper batch stalled the crank; now L2 is passed over and L4 applied.
    e.f.bank
        .send(&[ix::apply_pro_rata(&ex, &m, 0, ev.id, vec![s2])], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    assert_eq!(e.f.market_snapshot(0).await.market.adl_events[0].pending, 1);
    e.f.bank
        .send(&[ix::apply_pro_rata(&ex, &m, 0, ev.id, vec![s2, s4])], &[])
        .await
        .unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    let (p2, p4) = (s.book.slots[s2 as usize], s.book.slots[s4 as usize]);
    assert_eq!(
        (p2.base, p2.adl_payout),
        (5 * BASE - 3_928_571_429, 148_214_283)
    );
    assert_eq!(
        (p4.base, p4.adl_payout),
        (2 * BASE - 1_571_428_570, 35_714_284)
    );
    let ev = s.market.adl_events[0];
    assert_eq!(
        (ev.status, ev.base_remaining, ev.pending),
        (EVENT_DONE, 0, 0)
    );
    // The escrow paid 1,239.999991 of 1,240: 9 atoms to the sink.
    assert_eq!(s.market.rounding_sink, 9);
}

#[tokio::test]
async fn deadline_fallback_and_pending_pro_rata_blocks_ranked() {
    // Three shorts of 1.0 at 100 (margin 10) against one long of 3.0; at 115 all three are
    // bankrupt and the fund is empty.
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(16).await;
    let long = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let mut shorts = vec![];
    for _ in 0..3 {
        let s = f.add_user(1_000 * USDC, 100 * USDC).await;
        f.trade(0, s, long, -BASE, price(100), 10 * USDC, 40 * USDC)
            .await
            .unwrap();
        shorts.push(s);
    }
    f.set_price(0, price(115), 0).await.unwrap();
    let ex = f.exchange;
    for &s in &shorts[..2] {
        let slot = f.slot_of(0, s).await.unwrap();
        f.bank
            .send(&[ix::start_adl(&ex, &m, &f.users[s].key(), slot)], &[])
            .await
            .unwrap();
    }
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let (e0, e1) = (s.market.adl_events[0], s.market.adl_events[1]);
    assert_eq!(
        (e0.mode, e1.mode),
        (ADL_MODE_RANKED_QUEUE, ADL_MODE_RANKED_QUEUE)
    );
    let ix = ix::adl_switch_to_pro_rata(&ex, &m, 0, e0.id);
    assert_adl_err(
        f.bank.send(&[ix], &[]).await,
        AdlError::AdlDeadlineNotReached,
    );
    f.bank.warp(301).await;
    f.set_price(0, price(115), 0).await.unwrap();
    f.bank
        .send(&[ix::adl_switch_to_pro_rata(&ex, &m, 0, e0.id)], &[])
        .await
        .unwrap();
    check(&mut f).await;
    let ix = ix::adl_switch_to_pro_rata(&ex, &m, 0, e0.id);
    assert_adl_err(f.bank.send(&[ix], &[]).await, AdlError::AdlWrongMode);
    let s = f.market_snapshot(0).await;
    let e0 = s.market.adl_events[0];
    // Q = 1.0 over the long's 3.0 (the escrows hold the shorts' side).
    assert_eq!(
        (e0.mode, e0.pro_rata_base, e0.pro_rata_oi, e0.pending),
        (ADL_MODE_PRO_RATA, BASE as u64, 3 * BASE as u64, 1)
    );
    let ls = f.slot_of(0, long).await.unwrap();
    // The other (ranked) event on the same side waits for the pro-rata obligations.
    let ix = ix::auto_deleverage(&ex, &m, 1, e1.id, vec![ls]);
    assert_adl_err(f.bank.send(&[ix], &[]).await, AdlError::ProRataPending);
    f.bank
        .send(&[ix::apply_pro_rata(&ex, &m, 0, e0.id, vec![ls])], &[])
        .await
        .unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    assert_eq!(s.market.adl_events[0].status, EVENT_DONE);
    assert_eq!(s.book.slots[ls as usize].base, 2 * BASE);
    f.bank
        .send(&[ix::auto_deleverage(&ex, &m, 1, e1.id, vec![ls])], &[])
        .await
        .unwrap();
    check(&mut f).await;
    assert_eq!(
        f.market_snapshot(0).await.book.slots[ls as usize].base,
        BASE
    );
}
