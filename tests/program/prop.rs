//! Property test: random sequences of trades, margin moves, price shocks and recoveries,
//! liquidations, bankruptcy flags, ADL events with the keeper's (sometimes corrupted) rank
//! proofs, payout claims, stakes and fee sweeps on the real program keep every invariant
//! after every step; a rejected instruction changes nothing.

use adl_client::ix;
use adl_engine::state::{ADL_MODE_LEVERAGE_DRAIN, ADL_MODE_PRO_RATA, ADL_MODE_RANKED_QUEUE};
use adl_engine_tests::state_bytes;
use adl_harness::fixture::{price, Fixture, BASE, USDC};
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
    SetMode {
        mode: u8,
    },
    /// Crank up to `k` pending pro-rata obligations of the oldest pro-rata event.
    ProRata {
        k: usize,
    },
    /// Drain the oldest leverage-drain event at the keeper's level.
    Drain,
    /// Switch the oldest non-pro-rata event to pro-rata (succeeds after its deadline).
    Switch,
    // The adversarial mix.
    /// A one-atom trade at the band edge (always rejected: below the minimum size).
    DustTrade {
        taker: usize,
        maker: usize,
        up: bool,
    },
    /// A minimum-size wash trade between two wallets at the band edge.
    WashTrade {
        taker: usize,
        maker: usize,
        up: bool,
    },
    /// Flag one's own position and top it up in the same transaction.
    FlagTopUp {
        user: usize,
        amount: u64,
    },
    /// Remove margin down to exactly the initial-margin limit.
    RemoveToLimit {
        user: usize,
    },
    /// Stake a single atom.
    TinyStake {
        user: usize,
    },
    /// Unstake timing: 0 request all, 1 execute (after `slots`), 2 cancel.
    Unstake {
        user: usize,
        action: u8,
        slots: u64,
    },
}

const USERS: usize = 6;

/// The adversarial actors' operations, mixed with the ordinary ones.
fn adversarial_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => op(),
        1 => (0..USERS, 0..USERS, any::<bool>()).prop_map(|(taker, maker, up)| Op::DustTrade { taker, maker, up }),
        2 => (0..USERS, 0..USERS, any::<bool>()).prop_map(|(taker, maker, up)| Op::WashTrade { taker, maker, up }),
        1 => (0..USERS, 1u64..40).prop_map(|(user, a)| Op::FlagTopUp { user, amount: a * USDC }),
        1 => (0..USERS).prop_map(|user| Op::RemoveToLimit { user }),
        1 => (0..USERS).prop_map(|user| Op::TinyStake { user }),
        2 => (0..USERS, 0u8..3, 0u64..400).prop_map(|(user, action, slots)| Op::Unstake { user, action, slots }),
    ]
}

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
        1 => (0u8..3).prop_map(|mode| Op::SetMode { mode }),
        2 => (1usize..4).prop_map(|k| Op::ProRata { k }),
        2 => Just(Op::Drain),
        1 => Just(Op::Switch),
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

/// Cases per run: 24 in CI; `PROPTEST_CASES` for long runs (docs/reliability.md).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
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
        Op::SetMode { .. } => "set_mode",
        Op::ProRata { .. } => "apply_pro_rata",
        Op::Drain => "adl_drain",
        Op::Switch => "switch_to_pro_rata",
        Op::DustTrade { .. } => "dust_trade",
        Op::WashTrade { .. } => "wash_trade",
        Op::FlagTopUp { .. } => "flag_top_up",
        Op::RemoveToLimit { .. } => "remove_to_limit",
        Op::TinyStake { .. } => "tiny_stake",
        Op::Unstake { action: 0, .. } => "request_unstake",
        Op::Unstake { action: 1, .. } => "unstake",
        Op::Unstake { .. } => "cancel_unstake",
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
        let mut before = state_bytes(&mut f).await;
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
                let ix = ix::add_margin(&f.exchange, &m, &f.users[user].key(), amount);
                f.send_as(&[ix], &[user]).await
            }
            Op::RemoveMargin { user, amount } => {
                let ix = ix::remove_margin(&f.exchange, &m, &f.users[user].key(), amount);
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
                let ix = ix::liquidate(
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
                    .send(&[ix::flag_bankrupt(&f.exchange, &m, slot)], &[])
                    .await
            }
            Op::StartAdl { target } => {
                let target = liquidatable(&mut f, oracle, true).await.unwrap_or(target);
                let Some(slot) = f.slot_of(0, target).await else {
                    continue;
                };
                let ix = ix::start_adl(&f.exchange, &m, &f.users[target].key(), slot);
                f.bank.send(&[ix], &[]).await
            }
            Op::Adl { k, corrupt } => {
                let s = f.market_snapshot(0).await;
                let Some((index, ev)) = s
                    .active_events()
                    .filter(|(_, e)| e.mode == ADL_MODE_RANKED_QUEUE)
                    .min_by_key(|(_, e)| e.id)
                else {
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
                let ix = ix::auto_deleverage(&f.exchange, &m, index as u8, ev.id, slots);
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
                let ix = ix::claim_adl_payout(&f.exchange, &m, &owner);
                f.bank.send(&[ix], &[]).await
            }
            Op::Stake { user, amount } => f.stake(user, amount).await,
            Op::Sweep => {
                f.bank
                    .send(&[ix::sweep_fees(&f.exchange, &m.market)], &[])
                    .await
            }
            Op::Funding { slots } => {
                f.bank.warp(slots).await;
                f.set_price(0, oracle, 0).await.unwrap();
                let ix = ix::update_funding(&f.exchange, &m);
                f.bank.send(&[ix], &[]).await
            }
            Op::SetMode { mode } => {
                let ix = ix::set_adl_mode(&f.admin_key(), &f.exchange, &m.market, mode);
                f.bank.send(&[ix], &[]).await
            }
            Op::ProRata { k } => {
                let s = f.market_snapshot(0).await;
                let Some((index, ev)) = s
                    .active_events()
                    .filter(|(_, e)| e.mode == ADL_MODE_PRO_RATA)
                    .min_by_key(|(_, e)| e.id)
                else {
                    continue;
                };
                let mut slots = s.pending_pro_rata_slots(index);
                slots.truncate(k);
                if slots.is_empty() {
                    continue;
                }
                let ix = ix::apply_pro_rata(&f.exchange, &m, index as u8, ev.id, slots);
                let r = f.bank.send(&[ix], &[]).await;
                prop_assert!(r.is_ok(), "pending obligations rejected: {:?}", r);
                r
            }
            Op::Drain => {
                let s = f.market_snapshot(0).await;
                let Some((index, ev)) = s
                    .active_events()
                    .filter(|(_, e)| e.mode == ADL_MODE_LEVERAGE_DRAIN)
                    .min_by_key(|(_, e)| e.id)
                else {
                    continue;
                };
                // Begin (the program finds the level), or take the next step of the drain in
                // progress (each bounded; the drain always ends).
                let ix = if s.market.adl_drains[index].phase == adl_engine::state::DRAIN_IDLE {
                    ix::adl_drain_begin(&f.exchange, &m, index as u8, ev.id)
                } else {
                    ix::adl_drain_step(&f.exchange, &m, index as u8, ev.id)
                };
                let r = f.bank.send(&[ix], &[]).await;
                prop_assert!(
                    r.is_ok(),
                    "the keeper's drain transaction was rejected: {:?}",
                    r
                );
                r
            }
            Op::Switch => {
                let s = f.market_snapshot(0).await;
                let Some((index, ev)) = s
                    .active_events()
                    .filter(|(_, e)| e.mode != ADL_MODE_PRO_RATA)
                    .min_by_key(|(_, e)| e.id)
                else {
                    continue;
                };
                let ix = ix::adl_switch_to_pro_rata(&f.exchange, &m, index as u8, ev.id);
                f.bank.send(&[ix], &[]).await
            }
            Op::DustTrade { taker, maker, up } => {
                let band = oracle / 20;
                let px = if up { oracle + band } else { oracle - band };
                let r = f.trade(0, taker, maker, 1, px, USDC, USDC).await;
                prop_assert!(r.is_err(), "a dust trade was accepted");
                r
            }
            Op::WashTrade { taker, maker, up } => {
                let band = oracle / 20;
                let px = if up { oracle + band } else { oracle - band };
                let min = adl_client::bootstrap::MIN_TRADE_BASE as i64;
                f.trade(0, taker, maker, min, px, USDC, USDC).await
            }
            Op::FlagTopUp { user, amount } => {
                let Some(slot) = f.slot_of(0, user).await else {
                    continue;
                };
                let ixs = [
                    ix::flag_bankrupt(&f.exchange, &m, slot),
                    ix::add_margin(&f.exchange, &m, &f.users[user].key(), amount),
                ];
                f.send_as(&ixs, &[user]).await
            }
            Op::RemoveToLimit { user } => {
                let Some(slot) = f.slot_of(0, user).await else {
                    continue;
                };
                let s = f.market_snapshot(0).await;
                let p = s.book.slots[slot as usize];
                let fidx = s.market.cumulative_funding;
                let settled = p.margin as i128
                    - adl_engine::math::funding_owed(p.base, fidx, p.funding_snapshot).unwrap();
                let eq = p.equity(fidx, oracle).unwrap();
                let im =
                    adl_engine::math::margin_requirement(p.base, oracle, s.market.params.imr_bps)
                        .unwrap();
                let room = (eq - im).min(settled);
                if room <= 0 {
                    continue;
                }
                let ix = ix::remove_margin(&f.exchange, &m, &f.users[user].key(), room as u64);
                f.send_as(&[ix], &[user]).await
            }
            Op::TinyStake { user } => f.stake(user, 1).await,
            Op::Unstake {
                user,
                action,
                slots,
            } => {
                let (k, t) = (f.users[user].key(), f.users[user].token);
                let ix = match action {
                    0 => {
                        let Some(st) = f.stake_account(user).await else {
                            continue;
                        };
                        if st.shares == 0 {
                            continue;
                        }
                        ix::if_request_unstake(&k, &f.exchange, &t, st.shares)
                    }
                    1 => {
                        // Time passes (the oracle refreshed) before the unstake is tried.
                        f.bank.warp(slots).await;
                        f.set_price(0, oracle, 0).await.unwrap();
                        before = state_bytes(&mut f).await;
                        ix::if_unstake(&k, &f.exchange, &t, &[m])
                    }
                    _ => ix::if_cancel_unstake(&k, &f.exchange, &t),
                };
                f.send_as(&[ix], &[user]).await
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

/// Sequences built to reach ADL in every mode: a book, a mode, a price shock that leaves
/// bankruptcies the empty fund cannot cover, then events driven by keepers and traders.
fn adl_ops() -> impl Strategy<Value = Vec<Op>> {
    let book = prop::collection::vec(
        (0..USERS, 0..USERS, 2i64..30, 10u64..20).prop_map(|(taker, maker, tenths, pct)| {
            let notional = tenths.unsigned_abs() * 10 * USDC;
            Op::Trade {
                taker,
                maker,
                base: if taker % 2 == 0 {
                    tenths * BASE / 10
                } else {
                    -tenths * BASE / 10
                },
                px_bps: 0,
                taker_margin: notional * pct / 100,
                maker_margin: notional * pct / 100,
            }
        }),
        6..12,
    );
    let shock = prop_oneof![(75u64..86), (114u64..126)].prop_map(|dollars| Op::Price { dollars });
    let events = prop::collection::vec(
        prop_oneof![
            4 => (0..USERS).prop_map(|target| Op::StartAdl { target }),
            3 => (1usize..5).prop_map(|k| Op::Adl { k, corrupt: false }),
            3 => (1usize..4).prop_map(|k| Op::ProRata { k }),
            3 => Just(Op::Drain),
            1 => Just(Op::Switch),
            2 => (100u64..200).prop_map(|slots| Op::Funding { slots }),
            2 => (0..USERS).prop_map(|user| Op::Claim { user }),
            2 => (0..USERS, 0..USERS, -10i64..10).prop_map(|(taker, maker, tenths)| Op::Trade {
                taker,
                maker,
                base: tenths * BASE / 10 + 1,
                px_bps: 0,
                taker_margin: 30 * USDC,
                maker_margin: 30 * USDC,
            }),
        ],
        10..30,
    );
    (book, 0u8..3, shock, events).prop_map(|(mut ops, mode, shock, events)| {
        ops.push(Op::SetMode { mode });
        ops.push(shock);
        ops.extend(events);
        ops
    })
}

/// Runs `cases()` cases of `strategy` on the bank, then requires that each of `required`
/// succeeded at least once (the run exercised the mechanism, not only rejected it).
fn run_cases(strategy: impl Strategy<Value = Vec<Op>>, required: &[&str]) {
    use proptest::test_runner::{Config, TestRunner};
    let stats = std::sync::Mutex::new(Stats::default());
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        ..Config::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runner
        .run(&strategy, |ops| rt.block_on(run(ops, &stats)))
        .unwrap();
    let st = stats.into_inner().unwrap();
    eprintln!("successful operations over all cases: {:?}", st.ok);
    for k in required {
        assert!(
            st.ok.get(k).copied().unwrap_or(0) > 0,
            "no successful {k}: {st:?}"
        );
    }
}

#[test]
fn random_adl_events_in_every_mode() {
    run_cases(
        adl_ops(),
        &[
            "start_adl",
            "auto_deleverage",
            "apply_pro_rata",
            "adl_drain",
            "claim",
        ],
    );
}

/// The adversarial actor mix: dust and band-edge wash trades, flag/top-up sequences, margin
/// removed to the limit, 1-atom stakes, fee sweeps and unstake timing around bankruptcies,
/// among the ordinary operations; every invariant (conservation, solvency, flags) after
/// every step, dust always rejected, rejections change nothing.
#[test]
fn adversarial_actor_mix_keeps_invariants() {
    run_cases(
        prop::collection::vec(adversarial_op(), 30..70),
        &[
            "wash_trade",
            "flag_top_up",
            "remove_to_limit",
            "tiny_stake",
            "request_unstake",
            "funding",
        ],
    );
}

#[test]
fn random_sequences_keep_invariants() {
    run_cases(
        prop::collection::vec(op(), 30..70),
        &[
            "trade",
            "liquidate",
            "start_adl",
            "auto_deleverage",
            "claim",
            "stake",
            "funding",
        ],
    );
}
