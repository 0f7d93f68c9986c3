//! Helpers shared by the integration tests: error assertions and "nothing changed" checks.
#![allow(deprecated)]

use adl_engine::error::AdlError;
use adl_keeper::fixture::{code, custom_error, Fixture};
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
        adl_keeper::client::vault_pda(&f.exchange),
        f.fund_key(),
    ];
    for m in &f.markets {
        keys.extend([m.market, m.oracle, m.book, m.long_queue, m.short_queue]);
    }
    for u in &f.users {
        keys.push(adl_keeper::client::user_pda(&f.exchange, &u.key()));
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
