//! Property test: random trade, margin and price sequences on the real program keep every
//! invariant after every step; a rejected instruction changes nothing.

use adl_engine::state::MAX_USER_POSITIONS;
use adl_engine_tests::state_bytes;
use adl_keeper::client;
use adl_keeper::fixture::{price, Fixture, BASE, USDC};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Trade {
        taker: usize,
        maker: usize,
        base: i64,
        px_bps: i32,
        taker_margin: u64,
        maker_margin: u64,
    },
    AddMargin {
        user: usize,
        amount: u64,
    },
    RemoveMargin {
        user: usize,
        amount: u64,
    },
    Price {
        dollars: u64,
    },
}

const USERS: usize = 6;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..USERS, 0..USERS, -40i64..40, -600i32..600, 0u64..400, 0u64..400).prop_map(
            |(taker, maker, tenths, px_bps, tm, mm)| Op::Trade {
                taker,
                maker,
                base: tenths * BASE / 10 + 1,
                px_bps,
                taker_margin: tm * USDC / 4,
                maker_margin: mm * USDC / 4,
            }
        ),
        1 => (0..USERS, 1u64..50).prop_map(|(user, a)| Op::AddMargin { user, amount: a * USDC }),
        1 => (0..USERS, 1u64..50).prop_map(|(user, a)| Op::RemoveMargin { user, amount: a * USDC }),
        1 => (90u64..110).prop_map(|dollars| Op::Price { dollars }),
    ]
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(16).await;
    for _ in 0..USERS {
        f.add_user(5_000 * USDC, 2_000 * USDC).await;
    }
    let _ = MAX_USER_POSITIONS;
    let mut oracle = price(100);
    for op in ops {
        let before = state_bytes(&mut f).await;
        let r = match op {
            Op::Trade {
                taker,
                maker,
                base,
                px_bps,
                taker_margin,
                maker_margin,
            } => {
                let px = (oracle as i128 * (10_000 + px_bps as i128) / 10_000) as u64;
                f.trade(0, taker, maker, base, px, taker_margin, maker_margin)
                    .await
            }
            Op::AddMargin { user, amount } => {
                let ix = client::add_margin(&f.exchange, &m, &f.users[user].key(), amount);
                f.send_as(&[ix], &[user]).await
            }
            Op::RemoveMargin { user, amount } => {
                let ix = client::remove_margin(&f.exchange, &m, &f.users[user].key(), amount);
                f.send_as(&[ix], &[user]).await
            }
            Op::Price { dollars } => {
                oracle = price(dollars);
                f.set_price(0, oracle, 0).await
            }
        };
        if r.is_err() {
            prop_assert_eq!(
                &before,
                &state_bytes(&mut f).await,
                "a rejected {:?} changed state",
                op
            );
        }
        if let Err(e) = f.check_invariants().await {
            return Err(TestCaseError::fail(format!("after {op:?}: {e}")));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_invariants(ops in prop::collection::vec(op(), 10..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}
