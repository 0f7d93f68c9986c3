//! Property test: random sequences of trades, margin moves, price shocks and recoveries,
//! liquidations, bankruptcy flags, ADL events with the keeper's (sometimes corrupted) rank
//! proofs, payout claims, stakes and fee sweeps on the real program keep every invariant
//! after every step; a rejected instruction changes nothing.

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
    Liquidate {
        target: usize,
        liquidator: usize,
        tenths: u64,
    },
    Flag {
        target: usize,
    },
    StartAdl {
        target: usize,
    },
    /// Run the next `k` fills of the oldest active event; `corrupt` swaps the first two.
    Adl {
        k: usize,
        corrupt: bool,
    },
    Claim {
        user: usize,
    },
    Stake {
        user: usize,
        amount: u64,
    },
    Sweep,
    /// Advance `slots`, refresh the oracle, crank funding.
    Funding {
        slots: u64,
    },
}

const USERS: usize = 6;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..USERS, 0..USERS, -40i64..40, -300i32..300, 10u64..30, 10u64..30).prop_map(
            |(taker, maker, tenths, px_bps, tm, mm)| {
                // Margin as a percentage of the notional: from near initial margin to ~3x.
                let notional = tenths.unsigned_abs() * 10 * USDC;
                Op::Trade {
                    taker,
                    maker,
                    base: tenths * BASE / 10 + 1,
                    px_bps,
                    taker_margin: notional * tm / 100,
                    maker_margin: notional * mm / 100,
                }
            }
        ),
        1 => (0..USERS, 1u64..50).prop_map(|(user, a)| Op::AddMargin { user, amount: a * USDC }),
        1 => (0..USERS, 1u64..50).prop_map(|(user, a)| Op::RemoveMargin { user, amount: a * USDC }),
        2 => (75u64..125).prop_map(|dollars| Op::Price { dollars }),
        2 => (0..USERS, 0..USERS, 1u64..60).prop_map(|(target, liquidator, tenths)| Op::Liquidate { target, liquidator, tenths }),
        1 => (0..USERS).prop_map(|target| Op::Flag { target }),
        2 => (0..USERS).prop_map(|target| Op::StartAdl { target }),
        2 => (1usize..5, prop::bool::weighted(0.2)).prop_map(|(k, corrupt)| Op::Adl { k, corrupt }),
        3 => (0..USERS).prop_map(|user| Op::Claim { user }),
        1 => (0..USERS, 1u64..30).prop_map(|(user, a)| Op::Stake { user, amount: a * USDC }),
        1 => Just(Op::Sweep),
        2 => (1u64..40).prop_map(|slots| Op::Funding { slots }),
    ]
}

/// The first user whose position is liquidatable (or bankrupt) at `oracle`.
async fn liquidatable(f: &mut Fixture, oracle: u64, bankrupt: bool) -> Option<usize> {
    let s = f.market_snapshot(0).await;
    for (_, p) in s.book.open_slots() {
        let eq = p.equity(s.market.cumulative_funding, oracle).ok()?;
        let mm =
            adl_engine::math::margin_requirement(p.base, oracle, s.market.params.mmr_bps).ok()?;
        if (bankrupt && eq < 0) || (!bankrupt && eq < mm) {
            return f.users.iter().position(|u| u.key() == p.owner);
        }
    }
    None
}

/// Successful operations by kind over all cases, to show the run exercised them.
#[derive(Default, Debug)]
struct Stats {
    ok: std::collections::BTreeMap<&'static str, usize>,
}

fn kind(op: &Op) -> &'static str {
    match op {
        Op::Trade { .. } => "trade",
        Op::AddMargin { .. } => "add_margin",
        Op::RemoveMargin { .. } => "remove_margin",
        Op::Price { .. } => "price",
        Op::Liquidate { .. } => "liquidate",
        Op::Flag { .. } => "flag",
        Op::StartAdl { .. } => "start_adl",
        Op::Adl { .. } => "auto_deleverage",
        Op::Claim { .. } => "claim",
        Op::Stake { .. } => "stake",
        Op::Sweep => "sweep",
        Op::Funding { .. } => "funding",
    }
}

async fn run(ops: Vec<Op>, stats: &std::sync::Mutex<Stats>) -> Result<(), TestCaseError> {
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(16).await;
    for _ in 0..USERS {
        f.add_user(5_000 * USDC, 2_000 * USDC).await;
    }
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
            Op::Liquidate {
                target,
                liquidator,
                tenths,
            } => {
                // Half the time a keeper's pick: the first liquidatable position.
                let target = match liquidatable(&mut f, oracle, false).await {
                    Some(u) if tenths % 2 == 0 => u,
                    _ => target,
                };
                let Some(slot) = f.slot_of(0, target).await else {
                    continue;
                };
                let ix = client::liquidate(
                    &f.exchange,
                    &m,
                    &f.users[target].key(),
                    &f.users[liquidator].key(),
                    slot,
                    tenths * BASE as u64 / 10,
                    500 * USDC,
                );
                f.send_as(&[ix], &[liquidator]).await
            }
            Op::Flag { target } => {
                let Some(slot) = f.slot_of(0, target).await else {
                    continue;
                };
                f.bank
                    .send(&[client::flag_bankrupt(&f.exchange, &m, slot)], &[])
                    .await
            }
            Op::StartAdl { target } => {
                let target = liquidatable(&mut f, oracle, true).await.unwrap_or(target);
                let Some(slot) = f.slot_of(0, target).await else {
                    continue;
                };
                let ix = client::start_adl(&f.exchange, &m, &f.users[target].key(), slot);
                f.bank.send(&[ix], &[]).await
            }
            Op::Adl { k, corrupt } => {
                let s = f.market_snapshot(0).await;
                let Some((index, ev)) = s.active_events().min_by_key(|(_, e)| e.id) else {
                    continue;
                };
                let mut slots: Vec<u32> = s
                    .next_adl_counterparties(index, k)
                    .iter()
                    .map(|p| p.slot)
                    .collect();
                if slots.is_empty() {
                    continue;
                }
                let wrong = corrupt && slots.len() >= 2;
                if wrong {
                    slots.swap(0, 1);
                }
                let ix = client::auto_deleverage(&f.exchange, &m, index as u8, ev.id, slots);
                let r = f.bank.send(&[ix], &[]).await;
                prop_assert_eq!(
                    r.is_err(),
                    wrong,
                    "keeper's own plan rejected or a swapped one accepted: {:?}",
                    r
                );
                r
            }
            Op::Claim { user } => {
                // A keeper's pick when there is a payout to claim.
                let s = f.market_snapshot(0).await;
                let owner = s
                    .allocated_slots()
                    .find(|(_, p)| p.adl_payout > 0)
                    .map(|(_, p)| p.owner)
                    .unwrap_or(f.users[user].key());
                let ix = client::claim_adl_payout(&f.exchange, &m, &owner);
                f.bank.send(&[ix], &[]).await
            }
            Op::Stake { user, amount } => f.stake(user, amount).await,
            Op::Sweep => {
                f.bank
                    .send(&[client::sweep_fees(&f.exchange, &m.market)], &[])
                    .await
            }
            Op::Funding { slots } => {
                f.bank.warp(slots).await;
                f.set_price(0, oracle, 0).await.unwrap();
                let ix = client::update_funding(&f.exchange, &m);
                f.bank.send(&[ix], &[]).await
            }
        };
        if r.is_err() {
            prop_assert_eq!(
                &before,
                &state_bytes(&mut f).await,
                "a rejected {:?} changed state",
                op
            );
        } else if let Ok(mut st) = stats.lock() {
            *st.ok.entry(kind(&op)).or_default() += 1;
        }
        if let Err(e) = f.check_invariants().await {
            return Err(TestCaseError::fail(format!("after {op:?}: {e}")));
        }
    }
    Ok(())
}

#[test]
fn random_sequences_keep_invariants() {
    use proptest::test_runner::{Config, TestRunner};
    let stats = std::sync::Mutex::new(Stats::default());
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runner
        .run(&prop::collection::vec(op(), 30..70), |ops| {
            rt.block_on(run(ops, &stats))
        })
        .unwrap();
    let st = stats.into_inner().unwrap();
    eprintln!("successful operations over all cases: {:?}", st.ok);
    // The run must have exercised the mechanism, not only rejected it.
    for k in [
        "trade",
        "liquidate",
        "start_adl",
        "auto_deleverage",
        "claim",
        "stake",
    ] {
        assert!(
            st.ok.get(k).copied().unwrap_or(0) > 0,
            "no successful {k}: {st:?}"
        );
    }
}
