//! Ranked ADL end to end: the worked example of docs/adl.md with exact atoms for every
//! party, and adversarial rank proofs, each rejected with nothing changed.

use adl_client::ix;
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::{price, Fixture, BASE, USDC};

/// Parties of the worked example.
pub struct Example {
    pub f: Fixture,
    /// Bankrupt short.
    pub x: usize,
    pub l1: usize,
    pub l2: usize,
    pub l3: usize,
    pub l4: usize,
    /// Another short (not bankrupt).
    pub m: usize,
    pub staker: usize,
}

/// Builds the book of the worked example and crashes the price to 115:
/// X short 11.0 at 100 (margin 110) against L1 (4.0, margin 50), L3 (3.0, margin 40) and
/// L2 (4.0 of its 5.0, margin 125); M short 1.0 to L2 at 100 and 2.0 to L4 at 115 (margin
/// 60); L4 long 2.0 at 115 (margin 50). The fund holds 30 USDC staked.
pub async fn example() -> Example {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(64).await;
    let x = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let l1 = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let l2 = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let l3 = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let l4 = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let m = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let staker = f.add_user(1_000 * USDC, 0).await;
    f.stake(staker, 30 * USDC).await.unwrap();
    f.trade(0, x, l1, -4 * BASE, price(100), 40 * USDC, 50 * USDC)
        .await
        .unwrap();
    f.trade(0, x, l3, -3 * BASE, price(100), 30 * USDC, 40 * USDC)
        .await
        .unwrap();
    f.trade(0, x, l2, -4 * BASE, price(100), 40 * USDC, 100 * USDC)
        .await
        .unwrap();
    f.trade(0, l2, m, BASE, price(100), 25 * USDC, 20 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
    f.set_price(0, price(112), 0).await.unwrap();
    f.trade(0, l4, m, 2 * BASE, price(115), 50 * USDC, 40 * USDC)
        .await
        .unwrap();
    f.set_price(0, price(115), 0).await.unwrap();
    check(&mut f).await;
    Example {
        f,
        x,
        l1,
        l2,
        l3,
        l4,
        m,
        staker,
    }
}

async fn start(e: &mut Example) -> u32 {
    let xs = e.f.slot_of(0, e.x).await.unwrap();
    let ix = ix::start_adl(&e.f.exchange, &e.f.markets[0], &e.f.users[e.x].key(), xs);
    e.f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut e.f).await;
    xs
}

async fn slots(e: &mut Example) -> (u32, u32, u32, u32, u32) {
    (
        e.f.slot_of(0, e.l1).await.unwrap(),
        e.f.slot_of(0, e.l2).await.unwrap(),
        e.f.slot_of(0, e.l3).await.unwrap(),
        e.f.slot_of(0, e.l4).await.unwrap(),
        e.f.slot_of(0, e.m).await.unwrap(),
    )
}

#[tokio::test]
async fn worked_example_exact_atoms() {
    let mut e = example().await;
    let x_free_before = e.f.user_account(e.x).await.free_collateral;
    // X: 1,000 deposited − 110 margin − taker fees 5 bps of 400 + 300 + 400 = 0.55.
    assert_eq!(x_free_before, 1_000 * USDC - 110 * USDC - 550_000);
    // X at 115: equity 110 − 1,265 + 1,100 = −55. The fund holds 30 < 55, so liquidation
    // cannot clear it and ADL may start.
    let s = e.f.market_snapshot(0).await;
    let xs = e.f.slot_of(0, e.x).await.unwrap();
    assert_eq!(
        s.book.slots[xs as usize].equity(0, price(115)).unwrap(),
        -55_000_000
    );
    let xs2 = start(&mut e).await;
    assert_eq!(xs, xs2);
    let s = e.f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    // I = 30; cash = 110 + 30 = 140; P_exec = floor((1,100 + 140)·1e9 / 11e9) = 112.727272.
    assert_eq!(ev.status, EVENT_ACTIVE);
    assert_eq!(ev.fund_paid, 30 * USDC);
    assert_eq!(ev.exec_price, 112_727_272);
    assert_eq!(ev.oracle_price, price(115));
    assert_eq!(
        (ev.base_total, ev.base_remaining),
        (11 * BASE as u64, 11 * BASE as u64)
    );
    assert_eq!(
        (ev.escrow_cost, ev.escrow_cash),
        (-1_100_000_000, 140_000_000)
    );
    assert_eq!(ev.side, SIDE_SHORT);
    // The fund is empty: its shares are void (new epoch).
    let fund = e.f.fund().await;
    assert_eq!(
        (
            fund.balance,
            fund.total_shares,
            fund.share_epoch,
            fund.total_paid
        ),
        (0, 0, 1, 30 * USDC)
    );
    // X's slot is free, its account no longer references it, its free collateral unchanged.
    let ux = e.f.user_account(e.x).await;
    assert_eq!(ux.num_positions, 0);
    assert_eq!(ux.free_collateral, x_free_before);
    // Open interest still balanced: the escrow's 11.0 counts on the short side.
    assert_eq!(s.market.open_interest_short, 14 * BASE as u64);
    assert_eq!(s.market.open_interest_long, 14 * BASE as u64);

    // Rank at P_exec: tier 1 (in profit: entry 100 < 112.73) by leverage key K:
    // L1 (400 − 50)/4 = 87.5, L3 (300 − 40)/3 = 86.67, L2 (500 − 125)/5 = 75;
    // tier 2: L4 (entry 115, K = 90) — the most leveraged, but at a loss.
    let (s1, s2, s3, s4, _) = slots(&mut e).await;
    let plan = s.next_adl_counterparties(0, 10);
    let planned: Vec<(u32, u64)> = plan.iter().map(|p| (p.slot, p.base)).collect();
    assert_eq!(
        planned,
        vec![
            (s1, 4 * BASE as u64),
            (s3, 3 * BASE as u64),
            (s2, 4 * BASE as u64)
        ]
    );
    let lev: Vec<u32> = s.long_queue.by_leverage.iter().map(|q| q.slot()).collect();
    assert_eq!(lev, vec![s4, s1, s3, s2]);

    let ix = ix::auto_deleverage(&e.f.exchange, &e.f.markets[0], 0, ev.id, vec![s1, s3, s2]);
    e.f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut e.f).await;
    let s = e.f.market_snapshot(0).await;
    let b = &s.book.slots;
    // L1 closes 4.0 at 112.727272: notional 450.909088, PnL 50.909088, margin 50 → 100.909088.
    assert_eq!(
        (
            b[s1 as usize].status,
            b[s1 as usize].base,
            b[s1 as usize].adl_payout
        ),
        (SLOT_ADL_CLOSED, 0, 100_909_088)
    );
    // L3 closes 3.0: notional 338.181816, PnL 38.181816, margin 40 → 78.181816.
    assert_eq!(
        (b[s3 as usize].status, b[s3 as usize].adl_payout),
        (SLOT_ADL_CLOSED, 78_181_816)
    );
    // L2 closes 4.0 of 5.0: notional 450.909088, cost removed 400, PnL 50.909088, margin
    // released 100 → 150.909088; keeps 1.0 with cost 100 and margin 25 (same key 75).
    let p2 = b[s2 as usize];
    assert_eq!(
        (p2.status, p2.base, p2.cost_basis, p2.margin, p2.adl_payout),
        (SLOT_OPEN, BASE, 100_000_000, 25_000_000, 150_909_088)
    );
    // L4 untouched.
    assert_eq!(
        (b[s4 as usize].base, b[s4 as usize].adl_payout),
        (2 * BASE, 0)
    );
    // The escrow received 450.909088 + 338.181816 + 450.909088 = 1,239.999992 of the
    // 1,240 it needed: 8 atoms of rounding in its favour go to the sink.
    let ev = s.market.adl_events[0];
    assert_eq!((ev.status, ev.base_remaining, ev.fills), (EVENT_DONE, 0, 3));
    assert_eq!(s.market.rounding_sink, 8);
    assert_eq!(
        (s.market.open_interest_long, s.market.open_interest_short),
        (3 * BASE as u64, 3 * BASE as u64)
    );
    // Queues: L1 and L3 gone, L2 still there with an unchanged key.
    assert_eq!(s.long_queue.header.len, 2);
    assert_eq!(
        s.long_queue
            .by_leverage
            .iter()
            .map(|q| (q.slot(), q.key))
            .collect::<Vec<_>>(),
        vec![(s4, -90_000_000), (s2, -75_000_000)]
    );

    // Claims are permissionless and pay only the owner.
    let l1_free = e.f.user_account(e.l1).await.free_collateral;
    let ix = ix::claim_adl_payout(&e.f.exchange, &e.f.markets[0], &e.f.users[e.l1].key());
    e.f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut e.f).await;
    let u1 = e.f.user_account(e.l1).await;
    assert_eq!(u1.free_collateral, l1_free + 100_909_088);
    assert_eq!(u1.num_positions, 0);
    let l2_free = e.f.user_account(e.l2).await.free_collateral;
    let ix = ix::claim_adl_payout(&e.f.exchange, &e.f.markets[0], &e.f.users[e.l2].key());
    e.f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut e.f).await;
    assert_eq!(
        e.f.user_account(e.l2).await.free_collateral,
        l2_free + 150_909_088
    );
    // L3 never claims: its next trade settles the payout first and opens a new position.
    let l3_free = e.f.user_account(e.l3).await.free_collateral;
    e.f.trade(0, e.l3, e.m, BASE, price(115), 20 * USDC, 10 * USDC)
        .await
        .unwrap();
    check(&mut e.f).await;
    // + payout − 20 margin − 5 bps of 115.
    assert_eq!(
        e.f.user_account(e.l3).await.free_collateral,
        l3_free + 78_181_816 - 20 * USDC - 57_500
    );
    let _ = e.staker;
}

#[tokio::test]
async fn adversarial_rank_proofs_are_rejected() {
    let mut e = example().await;
    let xs = start(&mut e).await;
    let (s1, s2, s3, s4, sm) = slots(&mut e).await;
    let ev = e.f.market_snapshot(0).await.market.adl_events[0];
    let m = e.f.markets[0];
    let ex = e.f.exchange;
    let claims: Vec<(Vec<u32>, AdlError, &str)> = vec![
        (vec![s3], AdlError::WrongAdlCounterparty, "skips L1"),
        (vec![s3, s1], AdlError::WrongAdlCounterparty, "reorders"),
        (vec![s1, s1], AdlError::WrongAdlCounterparty, "duplicate"),
        (
            vec![sm],
            AdlError::WrongAdlCounterparty,
            "same side as the bankrupt",
        ),
        (vec![xs], AdlError::WrongAdlCounterparty, "the freed slot"),
        (
            vec![63],
            AdlError::WrongAdlCounterparty,
            "a never-used slot",
        ),
        (
            vec![s4],
            AdlError::WrongAdlCounterparty,
            "tier 2 before tier 1 is exhausted",
        ),
        (
            vec![s1, s3, s2, s4],
            AdlError::AdlProofTooLong,
            "more than the event needs",
        ),
        (vec![], AdlError::AdlProofEmpty, "empty"),
    ];
    for (proof, err, what) in claims {
        let before = state_bytes(&mut e.f).await;
        let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, proof);
        let r = e.f.bank.send(&[ix], &[]).await;
        assert_adl_err(r, err);
        assert_eq!(before, state_bytes(&mut e.f).await, "{what} changed state");
    }
    // Wrong event id, empty ring entry, index past the ring.
    for (index, id) in [(0u8, ev.id + 1), (1, 0), (200, 0)] {
        let ix = ix::auto_deleverage(&ex, &m, index, id, vec![s1]);
        assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlEventNotActive);
    }
    // Another market's book and queues with this market's event.
    e.f.add_market(8).await;
    let mut ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![s1]);
    let other = e.f.markets[1];
    ix.accounts[2].pubkey = other.book;
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::BookMismatch);
    // The other market has no event.
    let ix = ix::auto_deleverage(&ex, &other, 0, ev.id, vec![s1]);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlEventNotActive);
    // In two batches: the first fill, then the rest; then the event is finished.
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![s1]);
    e.f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut e.f).await;
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![s1]);
    assert_adl_err(
        e.f.bank.send(&[ix], &[]).await,
        AdlError::WrongAdlCounterparty,
    );
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![s3, s2]);
    e.f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut e.f).await;
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![s4]);
    assert_adl_err(e.f.bank.send(&[ix], &[]).await, AdlError::AdlEventNotActive);
    assert_eq!(e.f.market_snapshot(0).await.market.rounding_sink, 8);
}

/// X short 4.0 at 100 (margin 40) against L1; M sells 2.0 to L4 at 115 (oracle 112); L1
/// sells 2.0 to N at 117 (oracle 115). Longs: L1 2.0 @100, L4 2.0 @115, N 2.0 @117.
/// Returns (fixture, x, l1, l4, n).
async fn tier_book() -> (Fixture, usize, usize, usize, usize) {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(16).await;
    let x = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let l1 = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let l4 = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let m = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let n = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    f.trade(0, x, l1, -4 * BASE, price(100), 40 * USDC, 50 * USDC)
        .await
        .unwrap();
    f.set_price(0, price(112), 0).await.unwrap();
    f.trade(0, l4, m, 2 * BASE, price(115), 50 * USDC, 40 * USDC)
        .await
        .unwrap();
    f.set_price(0, price(115), 0).await.unwrap();
    f.trade(0, n, l1, 2 * BASE, price(117), 30 * USDC, 0)
        .await
        .unwrap();
    let _ = m;
    (f, x, l1, l4, n)
}

#[tokio::test]
async fn tier_two_only_after_tier_one_is_exhausted() {
    // X short 4.0 at 100 (margin 40) against L1. M sells 2.0 to L4 at 115 (oracle 112);
    // L1 sells 2.0 to N at 117 (oracle 115). Longs: L1 2.0 @100, L4 2.0 @115, N 2.0 @117.
    let (mut f, x, l1, l4, n) = tier_book().await;
    check(&mut f).await;
    // X at 115: 40 − 460 + 400 = −20; the fund is empty: I = 0, P_exec = (400 + 40)/4 = 110.
    let xs = f.slot_of(0, x).await.unwrap();
    let ix = ix::start_adl(&f.exchange, &f.markets[0], &f.users[x].key(), xs);
    f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    assert_eq!((ev.exec_price, ev.fund_paid), (110_000_000, 0));
    let (s1, s4, sn) = (
        f.slot_of(0, l1).await.unwrap(),
        f.slot_of(0, l4).await.unwrap(),
        f.slot_of(0, n).await.unwrap(),
    );
    // Tier 1: L1 (entry 100). Tier 2 by leverage: N (K = (234 − 30)/2 = 102), L4 (90).
    let plan: Vec<(u32, u8, u64)> = s
        .next_adl_counterparties(0, 10)
        .iter()
        .map(|p| (p.slot, p.tier, p.base))
        .collect();
    assert_eq!(
        plan,
        vec![(s1, 1, 2 * BASE as u64), (sn, 2, 2 * BASE as u64)]
    );
    let (m0, ex) = (f.markets[0], f.exchange);
    for bad in [vec![sn], vec![s4], vec![s1, s4]] {
        let ix = ix::auto_deleverage(&ex, &m0, 0, ev.id, bad);
        assert_adl_err(
            f.bank.send(&[ix], &[]).await,
            AdlError::WrongAdlCounterparty,
        );
    }
    let ix = ix::auto_deleverage(&ex, &m0, 0, ev.id, vec![s1, sn]);
    f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    // L1: 2.0 at 110 = 220, PnL 20, margin 25 → 45. N: 220 − 234 = −14, margin 30 → 16.
    assert_eq!(s.book.slots[s1 as usize].adl_payout, 45_000_000);
    assert_eq!(s.book.slots[sn as usize].adl_payout, 16_000_000);
    assert_eq!(s.book.slots[s4 as usize].base, 2 * BASE);
    assert_eq!(s.market.adl_events[0].status, EVENT_DONE);
    assert_eq!(s.market.rounding_sink, 0);
}

#[tokio::test]
async fn stale_flag_does_not_exempt_from_adl() {
    // Attack: N, the most leveraged tier-2 long, gets its position flagged bankrupt during a
    // dip to 100 (equity 30 + 200 − 234 = −4) and the flag stays when the price comes back;
    // before, ADL passed flagged positions over, so N escaped and L4 was closed instead.
    // Now eligibility is N's equity at P_exec (30 + 220 − 234 = 16 ≥ 0) alone.
    let (mut f, x, l1, l4, n) = tier_book().await;
    let sn = f.slot_of(0, n).await.unwrap();
    f.set_price(0, price(100), 0).await.unwrap();
    let m0 = f.markets[0];
    f.bank
        .send(&[ix::flag_bankrupt(&f.exchange, &m0, sn)], &[])
        .await
        .unwrap();
    f.set_price(0, price(115), 0).await.unwrap();
    check(&mut f).await;
    let xs = f.slot_of(0, x).await.unwrap();
    let ix = ix::start_adl(&f.exchange, &m0, &f.users[x].key(), xs);
    f.bank.send(&[ix], &[]).await.unwrap();
    let s = f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    let (s1, s4) = (
        f.slot_of(0, l1).await.unwrap(),
        f.slot_of(0, l4).await.unwrap(),
    );
    assert!(s.book.slots[sn as usize].bankrupt_since_slot > 0);
    // N (stale flag) is next after L1 (tier 1): by leverage N (K 102) before L4 (K 90).
    let plan: Vec<u32> = s
        .next_adl_counterparties(0, 10)
        .iter()
        .map(|p| p.slot)
        .collect();
    assert_eq!(plan, vec![s1, sn]);
    let ex = f.exchange;
    let before = state_bytes(&mut f).await;
    // The keeper that passes N over to close L4 is rejected, state unchanged.
    let ix = ix::auto_deleverage(&ex, &m0, 0, ev.id, vec![s1, s4]);
    assert_adl_err(
        f.bank.send(&[ix], &[]).await,
        AdlError::WrongAdlCounterparty,
    );
    assert_eq!(before, state_bytes(&mut f).await);
    let ix = ix::auto_deleverage(&ex, &m0, 0, ev.id, vec![s1, sn]);
    f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    assert_eq!(s.market.adl_events[0].status, EVENT_DONE);
    // N closed at 110: payout 30 + 220 − 234 = 16; L4 untouched.
    assert_eq!(s.book.slots[sn as usize].adl_payout, 16 * USDC);
    assert_eq!(s.book.slots[s4 as usize].base, 2 * BASE);
}

/// Issue case: two longs of 3.0 at 100 with margins 50.000001 (older) and 50.000000
/// (newer). Exact keys (300 − C)/3: 83.33333300 and 83.333333333…; both round to the same
/// stored key 83,333,333 price atoms, and age used to decide — the older, less leveraged one
/// first. The queue now orders equal stored keys by the exact remainder: the newer, more
/// leveraged long is first in line, and a proof naming the older one first is rejected.
#[tokio::test]
async fn near_tie_is_decided_by_the_exact_key_not_by_age() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(16).await;
    let older = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let newer = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let c = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    f.trade(0, older, c, 3 * BASE, price(100), 50_000_001, 31 * USDC)
        .await
        .unwrap();
    f.trade(0, newer, c, 3 * BASE, price(100), 50_000_000, 30 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
    let (so, sn, sc) = (
        f.slot_of(0, older).await.unwrap(),
        f.slot_of(0, newer).await.unwrap(),
        f.slot_of(0, c).await.unwrap(),
    );
    let s = f.market_snapshot(0).await;
    let (po, pn) = (s.book.slots[so as usize], s.book.slots[sn as usize]);
    // The stored keys are equal; the exact remainders differ (0/3e9 against 1e9/3e9).
    let (_, lo, _) = po.queue_entries(so).unwrap();
    let (_, ln, _) = pn.queue_entries(sn).unwrap();
    assert_eq!(lo.key, ln.key);
    assert_eq!(lo.key, -83_333_333);
    assert_eq!(po.key_frac().unwrap().num, 0);
    assert_eq!(pn.key_frac().unwrap().num, 1_000_000_000);
    let order: Vec<u32> = s.long_queue.by_leverage.iter().map(|e| e.slot()).collect();
    assert_eq!(order, vec![sn, so]);
    // C (short 6.0 at 100, 61 margin) is bankrupt at 112; the fund is empty: ADL.
    f.set_price(0, price(112), 0).await.unwrap();
    let ix = ix::start_adl(&f.exchange, &f.markets[0], &f.users[c].key(), sc);
    f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut f).await;
    let ev = f.market_snapshot(0).await.market.adl_events[0];
    let (ex, m) = (f.exchange, f.markets[0]);
    let before = state_bytes(&mut f).await;
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![so, sn]);
    assert_adl_err(
        f.bank.send(&[ix], &[]).await,
        AdlError::WrongAdlCounterparty,
    );
    assert_eq!(before, state_bytes(&mut f).await);
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, vec![sn, so]);
    f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut f).await;
    assert_eq!(
        f.market_snapshot(0).await.market.adl_events[0].status,
        EVENT_DONE
    );
}
