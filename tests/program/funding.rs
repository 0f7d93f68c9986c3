//! Funding: the crank moves the index by the previous window's notional-weighted premium,
//! positions settle lazily into the signed funding pool with exact conservation, and funding
//! alone never moves a queue.

use adl_client::ix;
use adl_engine::error::AdlError;
use adl_engine::math;
use adl_engine_tests::{assert_adl_err, check};
use adl_harness::fixture::{price, Fixture, BASE, USDC};

async fn crank(f: &mut Fixture) -> Result<(), solana_program_test::BanksClientError> {
    let ix = ix::update_funding(&f.exchange, &f.markets[0]);
    f.bank.send(&[ix], &[]).await
}

#[tokio::test]
async fn premium_moves_index_and_positions_settle_exactly() {
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(16).await;
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    // Mark 101 over oracle 100: premium 100 bps, bounded to 50. The trade's window sets the
    // next window's rate: r = 1e4·X/(Y + k·OI) with X = 202 USDC × 50 bps = 1,010,000 atoms,
    // Y = 202 USDC, OI = 2.0 × 100 = 200 USDC and k = ⌈4·50/(5 + 2)⌉ = 29: 1.68 bps.
    f.trade(0, a, b, 2 * BASE, price(101), 30 * USDC, 30 * USDC)
        .await
        .unwrap();
    let s0 = f.market_snapshot(0).await;
    let queues_before = (
        s0.long_queue.by_leverage.clone(),
        s0.short_queue.by_leverage.clone(),
    );
    assert_eq!(
        (s0.market.window_premium, s0.market.window_notional),
        (1_010_000, 202_000_000)
    );
    // A crank in the trade's own window applies nothing (the window before it had no trades).
    let t0 = s0.market.premium_since_slot;
    let next = (t0 / 100 + 1) * 100;
    f.bank.warp(next - t0 - 5).await;
    f.set_price(0, price(100), 0).await.unwrap();
    crank(&mut f).await.unwrap();
    assert_eq!(f.market_snapshot(0).await.market.cumulative_funding, 0);
    // Ten slots into the next window: acc = ⌊1,010,000·1e4·1e5·L/(202e6 + 29·200e6)⌋ units of
    // 1e-5 bps·slot over the L slots since the window began; ΔF = ⌊acc·100e6/(1e4·1e5·100)⌋.
    f.bank.warp(15).await;
    f.set_price(0, price(100), 0).await.unwrap();
    crank(&mut f).await.unwrap();
    assert_adl_err(crank(&mut f).await, AdlError::FundingTooSoon);
    check(&mut f).await;
    let s1 = f.market_snapshot(0).await;
    let l = (s1.market.last_funding_slot - next) as i128;
    assert!(l >= 10, "{l} slots into the window");
    let acc = 1_010_000i128 * 10_000 * 100_000 * l / (202_000_000 + 29 * 200_000_000);
    let delta = (acc * 100_000_000 / (10_000 * 100_000 * 100)) as i64;
    assert!(delta > 0);
    assert_eq!(s1.market.cumulative_funding, delta);
    // Funding alone moves no queue entry.
    assert_eq!(
        (
            s1.long_queue.by_leverage.clone(),
            s1.short_queue.by_leverage.clone()
        ),
        queues_before
    );
    // The long's bankruptcy price rose by exactly the index change (rounding of its own part
    // aside, which is identical): P_b(F) − P_b(0) = F.
    let sa = f.slot_of(0, a).await.unwrap();
    let p = s1.book.slots[sa as usize];
    let pb = |fi: i64| {
        math::bankruptcy_price(p.base, p.cost_basis, p.margin, fi, p.funding_snapshot)
            .unwrap()
            .unwrap()
    };
    assert_eq!(pb(delta) - pb(0), delta as i128);
    // A touches its position: pays 2.0 × Δ into the pool; B receives the same.
    let ix = ix::add_margin(&f.exchange, &m, &f.users[a].key(), USDC);
    f.send_as(&[ix], &[a]).await.unwrap();
    check(&mut f).await;
    let s2 = f.market_snapshot(0).await;
    assert_eq!(
        s2.book.slots[sa as usize].margin,
        30 * USDC as i64 + USDC as i64 - 2 * delta
    );
    assert_eq!(s2.market.funding_pool, 2 * delta);
    let ix = ix::add_margin(&f.exchange, &m, &f.users[b].key(), USDC);
    f.send_as(&[ix], &[b]).await.unwrap();
    check(&mut f).await;
    let s3 = f.market_snapshot(0).await;
    let sb = f.slot_of(0, b).await.unwrap();
    assert_eq!(
        s3.book.slots[sb as usize].margin,
        31 * USDC as i64 + 2 * delta
    );
    assert_eq!(s3.market.funding_pool, 0);
}

#[tokio::test]
async fn long_funding_sequence_keeps_conservation_and_queues() {
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(32).await;
    let users: Vec<usize> = {
        let mut v = vec![];
        for _ in 0..6 {
            v.push(f.add_user(10_000 * USDC, 2_000 * USDC).await);
        }
        v
    };
    for k in 0..3 {
        let size = (k as i64 + 1) * BASE / 3;
        f.trade(
            0,
            users[k],
            users[k + 3],
            size,
            price(100) + 300_000 * k as u64,
            20 * USDC,
            20 * USDC,
        )
        .await
        .unwrap();
    }
    check(&mut f).await;
    for step in 0..24u64 {
        f.bank.warp(3 + step % 7).await;
        // The oracle wanders around the mark: the premium changes sign.
        let oracle = price(100) - 1_500_000 + (step * 137_000) % 3_000_000;
        f.set_price(0, oracle, 0).await.unwrap();
        let before = f.market_snapshot(0).await;
        crank(&mut f).await.unwrap();
        let after = f.market_snapshot(0).await;
        assert_eq!(before.long_queue.by_leverage, after.long_queue.by_leverage);
        assert_eq!(before.short_queue.by_entry, after.short_queue.by_entry);
        check(&mut f).await;
        // Every few steps someone touches a position (settles funding) or trades.
        let u = users[(step % 6) as usize];
        if step % 3 == 0 {
            let ix = ix::add_margin(&f.exchange, &m, &f.users[u].key(), USDC);
            f.send_as(&[ix], &[u]).await.unwrap();
        } else if step % 3 == 1 {
            let v = users[((step + 1) % 6) as usize];
            f.trade(0, u, v, BASE / 10, oracle, 5 * USDC, 5 * USDC)
                .await
                .unwrap();
        }
        check(&mut f).await;
    }
    let s = f.market_snapshot(0).await;
    assert_ne!(s.market.cumulative_funding, 0);
}
