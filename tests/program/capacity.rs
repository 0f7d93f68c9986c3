//! Large books: a market whose book holds 100,000 positions (10.4 MB, within Solana's
//! 10 MiB account limit) and a 50,000-position market, created in one transaction each with
//! the client's `create_account`s, then traded on.

use adl_engine::state::*;
use adl_engine_tests::check;
use adl_harness::fixture::{price, Fixture, BASE, USDC};

async fn large_market(capacity: usize) {
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(capacity).await;
    let book_len = f.bank.account(&m.book).await.unwrap().data.len();
    assert_eq!(book_len, PositionBook::space(capacity));
    assert!(book_len <= MAX_ACCOUNT_LEN);
    let s = f.market_snapshot(0).await;
    assert_eq!(s.book.header.capacity as usize, capacity);
    assert_eq!(s.long_queue.header.capacity as usize, capacity);
    assert_eq!(s.short_queue.header.capacity as usize, capacity);
    let mut users = vec![];
    for _ in 0..12 {
        users.push(f.add_user(10_000 * USDC, 5_000 * USDC).await);
    }
    // Six longs against six shorts, then everyone trades with a neighbour: opens, increases,
    // reductions and flips, invariants after each.
    for k in 0..6 {
        let size = (k as i64 + 1) * BASE / 4;
        f.trade(
            0,
            users[k],
            users[k + 6],
            size,
            price(100) + k as u64 * 10_000,
            50 * USDC,
            50 * USDC,
        )
        .await
        .unwrap();
        check(&mut f).await;
    }
    for k in 0..11 {
        let size = if k % 2 == 0 { BASE / 3 } else { -(BASE / 5) };
        f.trade(
            0,
            users[k],
            users[k + 1],
            size,
            price(100) - k as u64 * 20_000,
            30 * USDC,
            30 * USDC,
        )
        .await
        .unwrap();
        check(&mut f).await;
    }
    let s = f.market_snapshot(0).await;
    assert_eq!(s.book.header.capacity as usize, capacity);
    assert_eq!(
        s.long_queue.header.len + s.short_queue.header.len,
        s.book.header.num_open
    );
    assert!(s.book.header.num_open >= 10);
}

#[tokio::test]
async fn book_of_100k_positions() {
    large_market(100_000).await;
}

#[tokio::test]
async fn book_of_50k_positions() {
    large_market(50_000).await;
}
