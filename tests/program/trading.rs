//! Happy paths with exact atoms: deposit, withdraw, open, reduce, close, flip, margin moves,
//! queue order.

use adl_client::ix;
use adl_engine::math;
use adl_engine::state::*;
use adl_engine_tests::check;
use adl_harness::fixture::{price, Fixture, BASE, USDC};

#[tokio::test]
async fn deposit_and_withdraw_move_exact_atoms() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(64).await;
    let a = f.add_user(5_000 * USDC, 1_234_567_891).await;
    check(&mut f).await;
    assert_eq!(f.user_account(a).await.free_collateral, 1_234_567_891);
    assert_eq!(
        f.token_balance(&f.users[a].token.clone()).await,
        5_000 * USDC - 1_234_567_891
    );
    let ix = ix::withdraw(
        &f.users[a].key(),
        &f.exchange,
        &f.users[a].token,
        234_567_891,
    );
    f.send_as(&[ix], &[a]).await.unwrap();
    check(&mut f).await;
    assert_eq!(f.user_account(a).await.free_collateral, 1_000_000_000);
    assert_eq!(
        f.token_balance(&f.users[a].token.clone()).await,
        4_000 * USDC
    );
    let vault = ix::vault_pda(&f.exchange);
    assert_eq!(f.token_balance(&vault).await, 1_000 * USDC);
}

#[tokio::test]
async fn open_reduce_close_with_exact_atoms() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(64).await;
    let a = f.add_user(10_000 * USDC, 10_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 10_000 * USDC).await;

    // A buys 2.0 from B at 100.50. Notional 2e9·100.5e6/1e9 = 201_000_000.
    // Fees: taker 5 bps = 100_500, maker 2 bps = 40_200.
    f.trade(0, a, b, 2 * BASE, 100_500_000, 30 * USDC, 25 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let ua = f.user_account(a).await;
    let ub = f.user_account(b).await;
    let pa = s.book.slots[ua.position_slot(&s.key).unwrap() as usize];
    let pb = s.book.slots[ub.position_slot(&s.key).unwrap() as usize];
    assert_eq!(
        (pa.base, pa.cost_basis, pa.margin),
        (2 * BASE, 201_000_000, 30_000_000)
    );
    assert_eq!(
        (pb.base, pb.cost_basis, pb.margin),
        (-2 * BASE, -201_000_000, 25_000_000)
    );
    assert_eq!(ua.free_collateral, 10_000 * USDC - 30 * USDC - 100_500);
    assert_eq!(ub.free_collateral, 10_000 * USDC - 25 * USDC - 40_200);
    assert_eq!(s.market.fee_pool, 140_700);
    assert_eq!(
        (s.market.open_interest_long, s.market.open_interest_short),
        (2 * BASE as u64, 2 * BASE as u64)
    );

    // B (taker) buys back 0.5 from A at 99.00. Notional 49_500_000.
    // B: removed cost ceil(−201e6·0.25) = −50_250_000, PnL −49.5e6 + 50.25e6 = +750_000,
    //    released margin 6_250_000, fee 24_750.
    // A: removed cost 50_250_000, PnL 49.5e6 − 50.25e6 = −750_000, released 7_500_000,
    //    fee 9_900.
    f.trade(0, b, a, BASE / 2, 99_000_000, 0, 0).await.unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let ua = f.user_account(a).await;
    let ub = f.user_account(b).await;
    let pa = s.book.slots[ua.position_slot(&s.key).unwrap() as usize];
    let pb = s.book.slots[ub.position_slot(&s.key).unwrap() as usize];
    assert_eq!(
        (pa.base, pa.cost_basis, pa.margin),
        (1_500_000_000, 150_750_000, 22_500_000)
    );
    assert_eq!(
        (pb.base, pb.cost_basis, pb.margin),
        (-1_500_000_000, -150_750_000, 18_750_000)
    );
    assert_eq!(ua.free_collateral, 9_969_899_500 + 6_750_000 - 9_900);
    assert_eq!(ub.free_collateral, 9_974_959_800 + 7_000_000 - 24_750);
    assert_eq!(s.market.fee_pool, 175_350);

    // Rank keys: A long K = (150.75e6 − 22.5e6)·1e9/1.5e9 = 85_500_000;
    // B short K = (−150.75e6 − 18.75e6)·1e9/(−1.5e9) = 113_000_000.
    assert_eq!(s.long_queue.by_leverage[0].key, -85_500_000);
    assert_eq!(s.short_queue.by_leverage[0].key, 113_000_000);
    assert_eq!(s.long_queue.by_entry[0].key, 100_500_000);
    assert_eq!(s.short_queue.by_entry[0].key, -100_500_000);

    // A closes: sells 1.5 to B at 101.00. Notional 151_500_000.
    // A: PnL 151.5e6 − 150.75e6 = +750_000, releases all 22_500_000, taker fee 75_750.
    // B: PnL −151.5e6 + 150.75e6 = −750_000, releases 18_750_000, maker fee 30_300.
    f.trade(0, a, b, -1_500_000_000, 101_000_000, 0, 0)
        .await
        .unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let ua = f.user_account(a).await;
    let ub = f.user_account(b).await;
    assert_eq!(ua.num_positions, 0);
    assert_eq!(ub.num_positions, 0);
    assert_eq!(s.book.header.num_open, 0);
    assert_eq!((s.long_queue.header.len, s.short_queue.header.len), (0, 0));
    assert_eq!(
        ua.free_collateral,
        9_976_639_600 + 750_000 + 22_500_000 - 75_750
    );
    assert_eq!(
        ub.free_collateral,
        9_981_935_050 - 750_000 + 18_750_000 - 30_300
    );
    // Everything is back in free collateral except the fees.
    assert_eq!(
        ua.free_collateral + ub.free_collateral + s.market.fee_pool,
        20_000 * USDC
    );
    // Both slots are on the free list.
    assert_eq!(s.book.header.high_water, 2);
}

#[tokio::test]
async fn flip_closes_then_reopens_with_split_notional() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(64).await;
    let a = f.add_user(10_000 * USDC, 10_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 10_000 * USDC).await;
    f.trade(0, a, b, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    // A sells 3.0 at 100.3: closes 1.0 and opens −2.0. Notional 300_900_000 splits
    // N_close = floor(300.9e6·1/3) = 100_300_000 and N_open = 200_600_000.
    f.trade(0, a, b, -3 * BASE, 100_300_000, 30 * USDC, 30 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let ua = f.user_account(a).await;
    let pa = s.book.slots[ua.position_slot(&s.key).unwrap() as usize];
    assert_eq!(
        (pa.base, pa.cost_basis, pa.margin),
        (-2 * BASE, -200_600_000, 30 * USDC as i64)
    );
    // Taker fees: 50_000 (first fill) + ceil(300.9e6·5/1e4) = 150_450.
    // Free: 10_000e6 − 20e6 − 50_000 + (20e6 + 300_000 PnL) − 30e6 − 150_450.
    assert_eq!(
        ua.free_collateral,
        10_000 * USDC - 50_000 + 300_000 - 30 * USDC - 150_450
    );
    // A re-entered the queue on the short side with a new (younger) open sequence.
    assert_eq!(pa.open_seq, 2);
    assert_eq!(s.short_queue.header.len, 1);
    assert_eq!(s.long_queue.header.len, 1);
}

#[tokio::test]
async fn margin_moves_reindex_and_respect_initial_margin() {
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(64).await;
    let a = f.add_user(10_000 * USDC, 10_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 10_000 * USDC).await;
    f.trade(0, a, b, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    let ix = ix::add_margin(&f.exchange, &m, &f.users[a].key(), 5 * USDC);
    f.send_as(&[ix], &[a]).await.unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let slot = f.user_account(a).await.position_slot(&s.key).unwrap();
    assert_eq!(s.book.slots[slot as usize].margin, 25 * USDC as i64);
    // K = (100e6 − 25e6)·1e9/1e9 = 75_000_000.
    assert_eq!(s.long_queue.by_leverage[0].key, -75_000_000);
    // Initial margin at 100 is 10 USDC: removing 15 leaves exactly 10 (allowed).
    let ix = ix::remove_margin(&f.exchange, &m, &f.users[a].key(), 15 * USDC);
    f.send_as(&[ix], &[a]).await.unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    assert_eq!(s.book.slots[slot as usize].margin, 10 * USDC as i64);
    assert_eq!(s.long_queue.by_leverage[0].key, -90_000_000);
    assert_eq!(
        f.user_account(a).await.free_collateral,
        10_000 * USDC - 20 * USDC - 50_000 - 5 * USDC + 15 * USDC
    );
}

#[tokio::test]
async fn queue_orders_by_leverage_and_entry() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(64).await;
    let mm = f.add_user(1_000_000 * USDC, 1_000_000 * USDC).await;
    // Four longs: (size, price, margin). K = (B − C)·1e9/q.
    let longs = [
        (BASE, price(100), 50 * USDC),      // K = 50_000_000
        (2 * BASE, price(99), 30 * USDC),   // K = (198e6 − 30e6)/2 = 84_000_000
        (BASE, price(101), 11 * USDC),      // K = 90_000_000
        (3 * BASE, 100_500_000, 60 * USDC), // K = (301.5e6 − 60e6)/3 = 80_500_000
    ];
    let mut users = vec![];
    for (size, px, margin) in longs {
        let u = f.add_user(1_000 * USDC, 1_000 * USDC).await;
        f.trade(0, u, mm, size, px, margin, 300 * USDC)
            .await
            .unwrap();
        check(&mut f).await;
        users.push(u);
    }
    let s = f.market_snapshot(0).await;
    let slot_of = |u: usize, ua: &UserAccount| ua.position_slot(&s.key).map(|x| (u, x));
    let mut slots = vec![];
    for &u in &users {
        let ua = f.user_account(u).await;
        slots.push(slot_of(u, &ua).unwrap().1);
    }
    let lev_order: Vec<u32> = s.long_queue.by_leverage.iter().map(|e| e.slot()).collect();
    assert_eq!(lev_order, vec![slots[2], slots[1], slots[3], slots[0]]);
    let keys: Vec<i64> = s.long_queue.by_leverage.iter().map(|e| e.key).collect();
    assert_eq!(
        keys,
        vec![-90_000_000, -84_000_000, -80_500_000, -50_000_000]
    );
    let entry_order: Vec<u32> = s.long_queue.by_entry.iter().map(|e| e.slot()).collect();
    assert_eq!(entry_order, vec![slots[1], slots[0], slots[3], slots[2]]);
    // Leverage order equals bankruptcy-price order at any price (same funding index).
    for w in s.long_queue.by_leverage.windows(2) {
        let p0 = s.book.slots[w[0].slot() as usize];
        let p1 = s.book.slots[w[1].slot() as usize];
        let pb = |p: &PositionSlot| {
            math::bankruptcy_price(p.base, p.cost_basis, p.margin, 0, 0)
                .unwrap()
                .unwrap()
        };
        assert!(pb(&p0) >= pb(&p1));
    }
}
