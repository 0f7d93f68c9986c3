//! Helpers shared by the integration tests: error assertions and "nothing changed" checks.
#![allow(deprecated)]

use adl_engine::error::AdlError;
use adl_harness::fixture::{code, custom_error, price, Fixture, BASE, USDC};
use solana_program_test::BanksClientError;

/// Asserts that `r` failed with the program error `e`.
#[track_caller]
pub fn assert_adl_err(r: Result<(), BanksClientError>, e: AdlError) {
    match r {
        Ok(()) => panic!("expected {e:?}, the transaction succeeded"),
        Err(err) => assert_eq!(
            custom_error(&err),
            Some(code(e)),
            "expected {e:?} ({}), got {err}",
            code(e)
        ),
    }
}

/// Serialized state of the whole exchange, for "a rejected instruction changed nothing".
pub async fn state_bytes(f: &mut Fixture) -> Vec<Vec<u8>> {
    let mut keys = vec![
        f.exchange,
        adl_client::ix::vault_pda(&f.exchange),
        f.fund_key(),
    ];
    for m in &f.markets {
        keys.extend([m.market, m.oracle, m.book, m.long_queue, m.short_queue]);
    }
    for u in &f.users {
        keys.push(adl_client::ix::user_pda(&f.exchange, &u.key()));
        keys.push(u.token);
    }
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        out.push(f.bank.data(&k).await);
    }
    out
}

/// Runs the invariant checkers and panics with their message.
pub async fn check(f: &mut Fixture) {
    if let Err(e) = f.check_invariants().await {
        panic!("invariant broken: {e}");
    }
}

/// One market at 100: A long 10.0 at 100 with 100 margin (10x) against B (200 margin); C, a
/// third funded user (a liquidator or counterparty). Returns (fixture, a, b, c).
pub async fn ten_x_long() -> (Fixture, usize, usize, usize) {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(16).await;
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let c = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    f.trade(0, a, b, 10 * BASE, price(100), 100 * USDC, 200 * USDC)
        .await
        .unwrap_or_else(|e| panic!("setup trade failed: {e}"));
    check(&mut f).await;
    (f, a, b, c)
}
