//! ADL liveness attacks, end to end on the bank: an event run down to a one-atom remainder,
//! a leverage drain on a side padded with minimum-size positions, and a bankruptcy stamp left
//! by a brief dip. (The walk's state across mode changes and margin toggles is attacked on
//! the engine's own transitions at 30,000 positions: `engine::tests::attack_*`; the
//! adversarial property test is `adl-sim`'s `liveness_under_an_adversary`.)

use adl_client::ix;
use adl_engine::adl;
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::{price, Fixture, BASE, USDC};

/// Attack 1 (jam by a tiny remainder). X (short 1.001000001) is bankrupt; the attacker's long
/// A (1.001, thin margin) is first in rank and takes all but one base atom. Before, the
/// event then held 1 atom: every funding crank charged its escrow one quote atom (rounded
/// up) and recomputed `P_exec` as cost minus cash over one atom — 1,000 USD higher per crank —
/// so nobody was eligible, the event never ended and eight of them filled the ring. Now the
/// keeper's transaction fills the dust from the next counterparty at once, and `P_exec`
/// only ever moves by the funding delta.
#[tokio::test]
async fn tiny_remainder_is_filled_at_once_and_cannot_jam_adl() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(16).await;
    let x = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let a = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let c = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let atom = 1;
    let milli = BASE / 1_000;
    f.trade(0, a, x, BASE, price(100), 11 * USDC, 10 * USDC)
        .await
        .unwrap();
    f.trade(0, b, x, milli + atom, price(100), 50 * USDC, 10 * USDC)
        .await
        .unwrap();
    f.trade(0, a, c, milli, price(100), 0, 10 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
    f.set_price(0, price(125), 0).await.unwrap();
    let m = f.markets[0];
    let ex = f.exchange;
    let xs = f.slot_of(0, x).await.unwrap();
    f.bank
        .send(&[ix::start_adl(&ex, &m, &f.users[x].key(), xs)], &[])
        .await
        .unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    assert_eq!(ev.base_remaining, (BASE + milli + atom) as u64);
    let (sa, sb) = (
        f.slot_of(0, a).await.unwrap(),
        f.slot_of(0, b).await.unwrap(),
    );
    // The keeper names A, first in rank; the 1-atom remainder is B's at once.
    let plan = s.adl_plan(0, 1);
    assert_eq!(
        plan.fills.iter().map(|p| p.slot).collect::<Vec<_>>(),
        vec![sa]
    );
    assert_eq!(plan.fills[0].base, (BASE + milli) as u64);
    f.bank
        .send(&[ix::auto_deleverage(&ex, &m, 0, ev.id, vec![sa])], &[])
        .await
        .unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    assert_eq!((ev.status, ev.base_remaining, ev.fills), (EVENT_DONE, 0, 2));
    assert_eq!(s.book.slots[sb as usize].base, milli);
    // Nothing is left to jam: a funding crank moves no event, the ring is free.
    f.bank.warp(120).await;
    f.set_price(0, price(125), 0).await.unwrap();
    f.bank
        .send(&[ix::update_funding(&ex, &m)], &[])
        .await
        .unwrap();
    check(&mut f).await;
    assert!(!f.market_snapshot(0).await.market.any_event_active());
}

/// Attack 4 (dust makes a leverage drain unprovable). 230 minimum-size longs at high leverage
/// pad the drain's set. Before, the drain claim had to list every position above the level
/// in one transaction (about 207 four-byte slots fit), so this drain could not be proven and
/// the deadline's pro-rata fallback took 11/60 of the attacker's 5x whale instead of the
/// drain's share. Now the drain is measured and applied over bounded transactions that list
/// no slots; it finishes as a drain and the whale is cut exactly as the single-transaction
/// optimum on the state the level was verified on.
#[tokio::test]
async fn dust_positions_cannot_make_a_drain_unprovable() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(512).await;
    let m = f.markets[0];
    let ex = f.exchange;
    let x = f.add_user(10_000 * USDC, 10_000 * USDC).await;
    let whale = f.add_user(10_000 * USDC, 10_000 * USDC).await;
    let mm = f.add_user(100_000 * USDC, 100_000 * USDC).await;
    // The whale: long 50 at 5x.
    f.trade(
        0,
        whale,
        mm,
        50 * BASE,
        price(100),
        1_000 * USDC,
        1_000 * USDC,
    )
    .await
    .unwrap();
    // Honest longs at 4x–9x.
    for lev in [4u64, 6, 8, 9] {
        let u = f.add_user(1_000 * USDC, 1_000 * USDC).await;
        f.trade(0, u, mm, 5 * BASE, price(100), 500 * USDC / lev, 0)
            .await
            .unwrap();
    }
    // 230 minimum-size longs at 10x.
    let milli = BASE / 1_000;
    for _ in 0..230 {
        let u = f.add_user(10 * USDC, 10 * USDC).await;
        f.trade(0, u, mm, milli, price(100), 10_000, 0)
            .await
            .unwrap();
    }
    // X: short 15 at 100 with 1.5x-thin margin, bankrupt at 110.
    f.trade(0, mm, x, 15 * BASE, price(100), 0, 150 * USDC)
        .await
        .unwrap();
    let ix = ix::set_adl_mode(&f.admin_key(), &ex, &m.market, ADL_MODE_LEVERAGE_DRAIN);
    f.bank.send(&[ix], &[]).await.unwrap();
    f.set_price(0, price(112), 0).await.unwrap();
    check(&mut f).await;
    let xs = f.slot_of(0, x).await.unwrap();
    f.bank
        .send(&[ix::start_adl(&ex, &m, &f.users[x].key(), xs)], &[])
        .await
        .unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    assert_eq!(ev.mode, ADL_MODE_LEVERAGE_DRAIN);
    // The single-transaction drain on this state, and how many slots the old claim needed.
    let (_, optimum) = adl::drain_optimum(
        &s.long_queue.by_leverage,
        |i| s.book.slots.get(i as usize),
        s.market.cumulative_funding,
        ev.exec_price,
        ev.exec_price,
        ev.base_remaining,
    )
    .unwrap();
    assert!(
        optimum.len() > 230,
        "{} positions above the level",
        optimum.len()
    );
    let ws = f.slot_of(0, whale).await.unwrap();
    let whale_cut = optimum.iter().find(|c| c.0 == ws).unwrap().1;
    let whale_before = s.book.slots[ws as usize].base;
    // The keeper drives the drain; every transaction is checked.
    f.bank
        .send(&[ix::adl_drain_begin(&ex, &m, 0, ev.id)], &[])
        .await
        .unwrap();
    let mut txs = 1;
    while f.market_snapshot(0).await.market.adl_events[0].status == EVENT_ACTIVE {
        let ix = ix::adl_drain_step(&ex, &m, 0, ev.id);
        f.bank.send(&[ix], &[]).await.unwrap();
        check(&mut f).await;
        txs += 1;
        assert!(txs < 40);
    }
    let s = f.market_snapshot(0).await;
    assert_eq!(s.market.adl_events[0].mode, ADL_MODE_LEVERAGE_DRAIN);
    assert_eq!(s.market.adl_events[0].status, EVENT_DONE);
    // Begin, one measuring step, ⌈positions cut / 32⌉ applying steps.
    let cut = optimum.iter().filter(|c| c.1 > 0).count();
    assert_eq!(txs, 1 + 1 + cut.div_ceil(ADL_DRAIN_BATCH));
    let whale_after = s.book.slots[ws as usize].base;
    assert_eq!((whale_before - whale_after) as u64, whale_cut);
    // Every position of the optimum was cut by exactly its cut.
    let total: u64 = optimum.iter().map(|c| c.1).sum();
    assert_eq!(total, 15 * BASE as u64);
}

/// A bankruptcy stamp from a brief dip stays on a position that recovered and that nobody
/// touched. Before, a later dip let `start_adl` skip the grace period the fund should have
/// had (the fund could pay; the counterparties were hit). Now a stamp counts only within a
/// window after its grace period; an expired one must be renewed by `flag_bankrupt`, which
/// starts a new grace period.
#[tokio::test]
async fn stale_bankruptcy_stamp_cannot_skip_the_grace_period() {
    let (mut f, a, _, _) = adl_engine_tests::ten_x_long().await;
    let st = f.add_user(10_000 * USDC, 0).await;
    f.stake(st, 5_000 * USDC).await.unwrap();
    let m = f.markets[0];
    let ex = f.exchange;
    let sa = f.slot_of(0, a).await.unwrap();
    // A dip: A (long 10 at 100, margin 100) is bankrupt at 89 and flagged.
    f.set_price(0, price(89), 0).await.unwrap();
    f.bank
        .send(&[ix::flag_bankrupt(&ex, &m, sa)], &[])
        .await
        .unwrap();
    let stamp = f.market_snapshot(0).await.book.slots[sa as usize].bankrupt_since_slot;
    assert!(stamp > 0);
    // It recovers; nobody touches it; long after its grace window, a second dip.
    f.set_price(0, price(100), 0).await.unwrap();
    f.bank.warp(300).await;
    f.set_price(0, price(89), 0).await.unwrap();
    check(&mut f).await;
    let start = ix::start_adl(&ex, &m, &f.users[a].key(), sa);
    let before = state_bytes(&mut f).await;
    assert_adl_err(
        f.bank.send(std::slice::from_ref(&start), &[]).await,
        AdlError::BankruptcyStampExpired,
    );
    assert_eq!(before, state_bytes(&mut f).await);
    // Flagged again: a new stamp, a new grace period; the fund can cover, so no ADL yet.
    f.bank
        .send(&[ix::flag_bankrupt(&ex, &m, sa)], &[])
        .await
        .unwrap();
    let renewed = f.market_snapshot(0).await.book.slots[sa as usize].bankrupt_since_slot;
    assert!(renewed >= stamp + 300, "{stamp} -> {renewed}");
    assert_adl_err(
        f.bank.send(std::slice::from_ref(&start), &[]).await,
        AdlError::InsuranceCanCover,
    );
    // After the grace period, within its window, ADL may start.
    f.bank.warp(60).await;
    f.set_price(0, price(89), 0).await.unwrap();
    f.bank.send(&[start], &[]).await.unwrap();
    check(&mut f).await;
    assert!(f.market_snapshot(0).await.market.any_event_active());
}
