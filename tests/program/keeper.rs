//! The keeper end to end on the in-process bank: it alone resolves a crash with several
//! bankruptcies in each ADL mode; the HTTP API and the alert stream against a running server
//! on loopback with a real HTTP client.

use std::time::Duration;

use adl_client::ix;
use adl_engine::math;
use adl_engine::state::*;
use adl_engine_tests::check;
use adl_harness::chain::BankChain;
use adl_harness::fixture::{price, Fixture, BASE, USDC};
use adl_keeper::budget;
use adl_keeper::keeper::{tick, KeeperConfig, Outcome, TickReport, Work};
use adl_keeper::serve::{refresher, router, PositionJson, QueueRowJson, ServeState};
use adl_keeper::view::queue_rows;

use crate::keeper_attacks::{Adversary, Attack};

/// Twelve traders: six longs against six shorts from 2x to 9x, a keeper with 50,000 USDC,
/// a thin insurance fund (5 USDC).
async fn crash_book(mode: u8) -> (Fixture, usize) {
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(64).await;
    let keeper = f.add_user(100_000 * USDC, 50_000 * USDC).await;
    let staker = f.add_user(1_000 * USDC, 0).await;
    f.stake(staker, 5 * USDC).await.unwrap();
    for (k, lev) in [2u64, 9, 4, 8, 6, 9].iter().enumerate() {
        let long = f.add_user(5_000 * USDC, 2_000 * USDC).await;
        let short = f.add_user(5_000 * USDC, 2_000 * USDC).await;
        let size = (k as i64 + 2) * BASE / 2;
        let margin = (size as u64 / 1_000) * 100 / lev;
        f.trade(0, long, short, size, price(100), margin, 3 * margin)
            .await
            .unwrap();
    }
    let admin = f.admin_key();
    f.bank
        .send(
            &[ix::set_adl_mode(&admin, &f.exchange, &m.market, mode)],
            &[],
        )
        .await
        .unwrap();
    check(&mut f).await;
    (f, keeper)
}

async fn run_keeper(f: &mut Fixture, keeper: usize) -> TickReport {
    let cfg = KeeperConfig::new(f.exchange);
    let kp = f.users[keeper].kp.insecure_clone();
    let chain = BankChain::new(f, kp);
    let mut total = TickReport::default();
    for _ in 0..12 {
        let r = tick(&chain, &cfg, 100).await.unwrap();
        {
            let mut g = chain.fixture().await;
            check(&mut g).await;
        }
        let acted = r.acted();
        total.liquidations += r.liquidations;
        total.flags += r.flags;
        total.adl_started += r.adl_started;
        total.adl_fills += r.adl_fills;
        total.pro_rata_slots += r.pro_rata_slots;
        total.drains += r.drains;
        total.switches += r.switches;
        total.claims += r.claims;
        total.rejected += r.rejected;
        total.actions.extend(r.actions);
        total.budgets.extend(r.budgets);
        if !acted {
            break;
        }
    }
    total
}

#[tokio::test]
async fn keeper_resolves_a_crash_in_each_mode() {
    for mode in [
        ADL_MODE_RANKED_QUEUE,
        ADL_MODE_PRO_RATA,
        ADL_MODE_LEVERAGE_DRAIN,
    ] {
        let (mut f, keeper) = crash_book(mode).await;
        // 100 → 86: the 9x and 8x longs are bankrupt; the 6x one is below maintenance.
        f.set_price(0, price(86), 0).await.unwrap();
        let report = run_keeper(&mut f, keeper).await;
        eprintln!("mode {mode}: {report:?}");
        let s = f.market_snapshot(0).await;
        // Nothing left to do: no event active, nobody bankrupt or liquidatable, no payout
        // waiting in a slot.
        assert_eq!(s.active_events().count(), 0, "mode {mode}: {report:?}");
        for (_, p) in s.book.open_slots() {
            let eq = p.equity(s.market.cumulative_funding, price(86)).unwrap();
            let mm = math::margin_requirement(p.base, price(86), s.market.params.mmr_bps).unwrap();
            assert!(
                p.owner == f.users[keeper].key() || eq >= mm,
                "mode {mode}: a liquidatable position remains"
            );
        }
        assert!(s
            .allocated_slots()
            .all(|(_, p)| p.status == SLOT_OPEN && p.adl_payout == 0));
        assert!(report.adl_started >= 2, "mode {mode}: {report:?}");
        assert!(report.liquidations >= 1, "mode {mode}: {report:?}");
        assert_eq!(
            report.rejected, 0,
            "mode {mode}: every claim accepted: {report:?}"
        );
        // Ranked and pro-rata fills leave payouts the keeper claims; a drain keeps equity in
        // the positions.
        match mode {
            ADL_MODE_RANKED_QUEUE => {
                assert!(report.adl_fills > 0 && report.claims > 0, "{report:?}")
            }
            ADL_MODE_PRO_RATA => {
                assert!(report.pro_rata_slots > 0 && report.claims > 0, "{report:?}")
            }
            _ => assert!(report.drains > 0, "{report:?}"),
        }
        // Every transaction carried its compute budget: on the bank simulation reports
        // nothing, so the limit is the table's for its kind (within 1.4M), and with no fee
        // data the price is 0. The bank accepted each of them with both instructions.
        assert_eq!(report.budgets.len(), report.actions.len());
        assert!(!report.actions.is_empty());
        for ((_, work), (units, fee)) in report.actions.iter().zip(&report.budgets) {
            assert_eq!(*units, budget::table_units(work), "{work:?}");
            assert!(*units <= budget::MAX_UNITS && *units >= 30_000, "{work:?}");
            assert_eq!(*fee, 0);
        }
        eprintln!(
            "mode {mode}: {} keeper transactions, compute-unit limits {:?}",
            report.budgets.len(),
            report.budgets.iter().map(|b| b.0).collect::<Vec<_>>()
        );
        check(&mut f).await;
    }
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let r = client.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn http_api_and_alert_stream() {
    let (mut f, keeper) = crash_book(ADL_MODE_RANKED_QUEUE).await;
    let expected_long = {
        let s = f.market_snapshot(0).await;
        queue_rows(&s, SIDE_LONG, s.oracle.price)
    };
    let an_owner = expected_long[0].owner.to_string();
    let exchange = f.exchange;
    let cfg = KeeperConfig::new(exchange);
    let kp = f.users[keeper].kp.insecure_clone();
    let chain = BankChain::new(&mut f, kp);
    let state = ServeState::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let st = state.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router(st)).await });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let base = format!("http://{addr}");
    let checks = async {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if get(&client, &format!("{base}/markets")).await.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            get(&client, &format!("{base}/health")).await,
            (200, "ok".to_string())
        );
        let (code, body) = get(&client, &format!("{base}/markets")).await;
        assert_eq!(code, 200);
        let markets: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(markets.as_array().unwrap().len(), 1);
        // Sizes 1.0 + 1.5 + … + 3.5 = 13.5 on each side.
        assert_eq!(markets[0]["open_interest_long"], 13_500_000_000u64);
        assert_eq!(markets[0]["oracle_price"], price(100));
        let (code, body) = get(&client, &format!("{base}/markets/0/queue?side=long")).await;
        assert_eq!(code, 200);
        let rows: Vec<QueueRowJson> = serde_json::from_str(&body).unwrap();
        assert_eq!(rows.len(), expected_long.len());
        for (r, e) in rows.iter().zip(&expected_long) {
            assert_eq!(
                (r.rank, r.slot, r.lights, r.size_ahead),
                (
                    e.ranked.rank,
                    e.ranked.slot,
                    e.ranked.lights,
                    e.ranked.size_ahead
                )
            );
            assert_eq!(r.owner, e.owner.to_string());
        }
        let (code, body) = get(&client, &format!("{base}/owners/{an_owner}/positions")).await;
        assert_eq!(code, 200);
        let mine: Vec<PositionJson> = serde_json::from_str(&body).unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!((mine[0].side.as_str(), mine[0].row.rank), ("long", 1));
        assert_eq!(
            get(&client, &format!("{base}/markets/0/queue?side=sideways"))
                .await
                .0,
            400
        );
        assert_eq!(
            get(&client, &format!("{base}/markets/9/queue")).await.0,
            404
        );
        assert_eq!(
            get(&client, &format!("{base}/owners/not-a-key/positions"))
                .await
                .0,
            400
        );
        assert_eq!(
            get(&client, &format!("{base}/events")).await,
            (200, "[]".to_string())
        );

        // Subscribe, then crash the price and let the keeper work one transaction at a time
        // so that the refresher sees each state.
        let mut stream = client.get(format!("{base}/alerts")).send().await.unwrap();
        assert_eq!(stream.headers()["content-type"], "text/event-stream");
        chain
            .fixture()
            .await
            .set_price(0, price(86), 0)
            .await
            .unwrap();
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !(text.contains("\"type\":\"event_started\"") && text.contains("\"type\":\"fill\""))
            && tokio::time::Instant::now() < deadline
        {
            let _ = tick(&chain, &cfg, 1).await.unwrap();
            tokio::time::sleep(Duration::from_millis(60)).await;
            while let Ok(Ok(Some(chunk))) =
                tokio::time::timeout(Duration::from_millis(30), stream.chunk()).await
            {
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
        let _ = stop_tx.send(true);
        text
    };
    let (_, text) = tokio::join!(
        refresher(
            &chain,
            exchange,
            state.clone(),
            Duration::from_millis(25),
            stop_rx
        ),
        checks
    );
    server.abort();
    assert!(
        text.contains("\"type\":\"event_started\""),
        "alerts: {text}"
    );
    assert!(text.contains("\"type\":\"fill\""), "alerts: {text}");
    assert!(
        text.starts_with("data: ") || text.contains("\ndata: "),
        "server-sent events framing: {text}"
    );
}

#[tokio::test]
async fn queue_command_prints_both_sides() {
    let (mut f, keeper) = crash_book(ADL_MODE_RANKED_QUEUE).await;
    let exchange = f.exchange;
    let expected = {
        let s = f.market_snapshot(0).await;
        queue_rows(&s, SIDE_LONG, s.oracle.price)
    };
    let kp = f.users[keeper].kp.insecure_clone();
    let chain = BankChain::new(&mut f, kp);
    let text = adl_keeper::view::queue_report(&chain, &exchange, 0, &[SIDE_LONG, SIDE_SHORT])
        .await
        .unwrap();
    assert!(text
        .contains("LONG queue at price 100.000000 (6 positions, open interest 13.500000000 base)"));
    assert!(text.contains("SHORT queue at price 100.000000 (6 positions"));
    // The first long row is the most leveraged long, rank 1 with five lights.
    let first = text
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap();
    assert!(
        first.contains(&expected[0].owner.to_string()) && first.contains("#####"),
        "{first}"
    );
    let err = adl_keeper::view::queue_report(&chain, &exchange, 3, &[SIDE_LONG])
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "the exchange has no market 3");
}

#[tokio::test]
async fn keeper_sweeps_fees_once_they_reach_its_threshold() {
    // Fees left in a market's pool are what a staker could snipe; the keeper sweeps them so
    // they start vesting. 10.0 at 100 pays 0.7 USDC of fees: under the 1 USDC default, no
    // sweep; 20.0 more (1.4 USDC) passes it and one transaction sweeps all 2.1 USDC.
    let mut f = Fixture::new(price(100)).await;
    f.add_market(16).await;
    let keeper = f.add_user(1_000 * USDC, 0).await;
    let a = f.add_user(10_000 * USDC, 5_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 5_000 * USDC).await;
    let staker = f.add_user(1_000 * USDC, 0).await;
    f.stake(staker, 100 * USDC).await.unwrap();
    f.trade(0, a, b, 10 * BASE, price(100), 500 * USDC, 500 * USDC)
        .await
        .unwrap();
    let mut cfg = KeeperConfig::new(f.exchange);
    cfg.crank_funding = false;
    let kp = f.users[keeper].kp.insecure_clone();
    let chain = BankChain::new(&mut f, kp);
    let r = tick(&chain, &cfg, 10).await.unwrap();
    assert_eq!(r.sweeps, 0, "{r:?}");
    {
        let mut g = chain.fixture().await;
        assert_eq!(g.market_snapshot(0).await.market.fee_pool, 700_000);
        g.trade(0, a, b, 20 * BASE, price(100), 1_000 * USDC, 1_000 * USDC)
            .await
            .unwrap();
    }
    let r = tick(&chain, &cfg, 10).await.unwrap();
    assert_eq!(r.sweeps, 1, "{r:?}");
    let mut g = chain.fixture().await;
    check(&mut g).await;
    assert_eq!(g.market_snapshot(0).await.market.fee_pool, 0);
    let fund = g.fund().await;
    assert_eq!(fund.balance, 100 * USDC + 2_100_000);
    assert_eq!((fund.vesting, fund.unvested_new), (2_100_000, 0));
    drop(g);
    // With sweeping off, the keeper leaves the pool alone.
    {
        let mut g = chain.fixture().await;
        g.trade(0, a, b, -30 * BASE, price(100), 0, 0)
            .await
            .unwrap();
    }
    cfg.sweep_min_fees = 0;
    let r = tick(&chain, &cfg, 10).await.unwrap();
    assert_eq!(r.sweeps, 0, "{r:?}");
}

#[tokio::test]
async fn a_refused_transaction_does_not_stop_other_markets() {
    // Attack (liveness): make one of the keeper's transactions fail every time — here the
    // keeper has no collateral to take a liquidation over — so that a keeper that stopped
    // its tick at the first refusal would never reach any other market. Now the refusing
    // market waits for the next tick and the others are served.
    let mut f = Fixture::new(price(100)).await;
    f.add_market(16).await;
    f.add_market(16).await;
    let keeper = f.add_user(1_000 * USDC, 0).await;
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    f.trade(0, a, b, 10 * BASE, price(100), 100 * USDC, 300 * USDC)
        .await
        .unwrap();
    // A funding period passes in both markets; A (10x long) falls below maintenance at 94.
    f.bank.warp(100).await;
    f.set_price(0, price(94), 0).await.unwrap();
    let cfg = KeeperConfig::new(f.exchange);
    let kp = f.users[keeper].kp.insecure_clone();
    let chain = BankChain::new(&mut f, kp);
    let r = tick(&chain, &cfg, 20).await.unwrap();
    assert_eq!(r.rejected, 1, "{r:?}");
    assert_eq!(r.liquidations, 0, "{r:?}");
    // Market 1's funding was cranked after market 0's liquidation was refused.
    let m1 = chain.fixture().await.markets[1].market;
    assert!(
        r.actions
            .iter()
            .any(|(m, w)| *m == m1 && *w == Work::Funding),
        "{r:?}"
    );
    let mut g = chain.fixture().await;
    check(&mut g).await;
}

/// A long at 10x that falls below maintenance at 94 (not bankrupt), with a keeper and a
/// rival keeper that both hold collateral to take it over.
async fn one_liquidatable() -> (Fixture, usize, usize, usize) {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(16).await;
    let keeper = f.add_user(10_000 * USDC, 5_000 * USDC).await;
    let rival = f.add_user(10_000 * USDC, 5_000 * USDC).await;
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    f.trade(0, a, b, 10 * BASE, price(100), 100 * USDC, 300 * USDC)
        .await
        .unwrap();
    f.set_price(0, price(94), 0).await.unwrap();
    check(&mut f).await;
    (f, keeper, rival, a)
}

#[tokio::test]
async fn a_keeper_that_loses_a_race_counts_it_replans_and_reports_it_in_metrics() {
    // Two keepers see the same liquidation; the rival's lands first. The keeper's own is
    // refused, fresh state no longer calls for it: a lost race, counted (not an error, not
    // a refusal that parks the market), and the keeper plans again from that state. Then
    // `/metrics` over HTTP shows exactly those counts, the queue depths and the last slot.
    let (mut f, keeper, rival, a) = one_liquidatable().await;
    let (a_key, rival_key) = (f.users[a].key(), f.users[rival].key());
    let exchange = f.exchange;
    let mut cfg = KeeperConfig::new(exchange);
    cfg.crank_funding = false;
    let state = ServeState::new();
    let chain = adl_keeper::metrics::Metered::new(
        Adversary::new(
            &mut f,
            keeper,
            Attack::RivalFirst {
                user: rival,
                armed: true.into(),
            },
        ),
        state.metrics.clone(),
    );
    let r = tick(&chain, &cfg, 10).await.unwrap();
    state.metrics.record_tick(&r);
    assert_eq!(
        (r.lost_races, r.rejected, r.liquidations, r.expired),
        (1, 0, 0, 0),
        "{r:?}"
    );
    assert_eq!(r.attempts.len(), 1, "{r:?}");
    assert!(
        matches!(&r.attempts[0], (_, Work::Liquidate { owner, .. }, Outcome::LostRace) if *owner == a_key),
        "{r:?}"
    );
    let view = adl_keeper::keeper::load(&chain, &exchange).await.unwrap();
    state.metrics.observe_view(&view);
    let (slot, long_len, short_len, market) = {
        let mut g = chain.inner.inner.fixture().await;
        check(&mut g).await;
        let s = g.market_snapshot(0).await;
        // The rival holds the long now; A has none.
        let owners: Vec<_> = s.book.open_slots().map(|(_, p)| p.owner).collect();
        assert!(owners.contains(&rival_key) && !owners.contains(&a_key));
        (
            g.bank.slot().await,
            s.long_queue.header.len,
            s.short_queue.header.len,
            s.key,
        )
    };
    // A second tick finds nothing: no refused market was left waiting.
    let r2 = tick(&chain, &cfg, 10).await.unwrap();
    assert_eq!(r2.attempts.len(), 0, "{r2:?}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let st = state.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router(st)).await });
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = resp.text().await.unwrap();
    let value = |series: &str| -> String {
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{series} missing from:\n{body}"))
            .to_string()
    };
    assert_eq!(
        value("adl_keeper_work_found_total{kind=\"liquidate\"}"),
        "1"
    );
    assert_eq!(value("adl_keeper_work_sent_total{kind=\"liquidate\"}"), "0");
    assert_eq!(
        value("adl_keeper_lost_races_total{kind=\"liquidate\"}"),
        "1"
    );
    assert_eq!(
        value("adl_keeper_work_failed_total{kind=\"liquidate\"}"),
        "0"
    );
    assert_eq!(value("adl_keeper_work_sent_total{kind=\"funding\"}"), "0");
    assert_eq!(value("adl_keeper_ticks_total"), "1");
    // One send by the keeper (the rival's goes around the meter), one simulation, one fee
    // read; loads: the plan, the re-check after the refusal, the plan after it, the view for
    // the gauges and the second tick's plan — each 3 batched reads and a slot.
    assert_eq!(
        value("adl_rpc_requests_total{method=\"sendTransaction\"}"),
        "1"
    );
    assert_eq!(
        value("adl_rpc_errors_total{method=\"sendTransaction\"}"),
        "1"
    );
    assert_eq!(
        value("adl_rpc_requests_total{method=\"simulateTransaction\"}"),
        "1"
    );
    assert_eq!(value("adl_rpc_requests_total{method=\"getSlot\"}"), "5");
    assert_eq!(
        value("adl_rpc_requests_total{method=\"getMultipleAccounts\"}"),
        "15"
    );
    assert_eq!(
        value("adl_rpc_latency_seconds_count{method=\"getSlot\"}"),
        "5"
    );
    assert_eq!(value("adl_last_slot"), slot.to_string());
    assert_eq!(
        value(&format!(
            "adl_queue_depth{{market=\"{market}\",index=\"0\",side=\"long\"}}"
        )),
        long_len.to_string()
    );
    assert_eq!(
        value(&format!(
            "adl_queue_depth{{market=\"{market}\",index=\"0\",side=\"short\"}}"
        )),
        short_len.to_string()
    );
    assert_eq!((long_len, short_len), (1, 1));
    assert_eq!(
        value(&format!(
            "adl_active_adl_events{{market=\"{market}\",index=\"0\"}}"
        )),
        "0"
    );
    server.abort();
}

#[tokio::test]
async fn an_expired_transaction_is_replanned_and_a_node_that_confirms_nothing_is_left_alone() {
    // One transaction expires unconfirmed: the keeper plans again from fresh state and the
    // liquidation lands on the second try. A node that confirms nothing: the tick gives up
    // after MAX_EXPIRED_PER_TICK attempts with the error (the loop backs off), nothing moved.
    let (mut f, keeper, _, a) = one_liquidatable().await;
    let a_key = f.users[a].key();
    let mut cfg = KeeperConfig::new(f.exchange);
    cfg.crank_funding = false;
    let chain = Adversary::new(
        &mut f,
        keeper,
        Attack::Expire {
            left: usize::MAX.into(),
        },
    );
    let err = tick(&chain, &cfg, 10).await.unwrap_err();
    assert!(
        matches!(
            &err,
            adl_keeper::keeper::KeeperError::Chain(adl_client::chain::ChainError::Expired(_))
        ),
        "{err}"
    );
    {
        let mut g = chain.inner.fixture().await;
        let s = g.market_snapshot(0).await;
        assert!(s.book.open_slots().any(|(_, p)| p.owner == a_key));
        check(&mut g).await;
    }
    if let Attack::Expire { left } = &chain.attack {
        left.store(1, std::sync::atomic::Ordering::SeqCst);
    }
    let r = tick(&chain, &cfg, 10).await.unwrap();
    let outcomes: Vec<_> = r.attempts.iter().map(|(_, w, o)| (w.kind(), *o)).collect();
    assert_eq!(
        outcomes,
        [
            ("liquidate", Outcome::Expired),
            ("liquidate", Outcome::Sent)
        ],
        "{r:?}"
    );
    assert_eq!((r.expired, r.liquidations, r.rejected), (1, 1, 0));
    let mut g = chain.inner.fixture().await;
    let s = g.market_snapshot(0).await;
    assert!(!s.book.open_slots().any(|(_, p)| p.owner == a_key));
    check(&mut g).await;
}

#[tokio::test]
async fn keeper_waits_out_the_grace_when_the_fund_covers_the_loss_but_not_the_fee() {
    // The fund covers a bankrupt long's loss but not the liquidator's fee share: nobody can
    // liquidate it, and the program starts ADL only after the grace period
    // (`InsuranceCanCover` before it). The keeper flags it, sends nothing else during the
    // grace (no transaction it knows will be refused), and starts the event after it.
    let mut f = Fixture::new(price(100)).await;
    f.add_market(16).await;
    let keeper = f.add_user(10_000 * USDC, 5_000 * USDC).await;
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let staker = f.add_user(10_000 * USDC, 0).await;
    f.trade(0, a, b, 10 * BASE, price(100), 100 * USDC, 300 * USDC)
        .await
        .unwrap();
    f.set_price(0, price(85), 0).await.unwrap();
    let s = f.market_snapshot(0).await;
    let (slot, p) = s
        .book
        .open_slots()
        .find(|(_, p)| p.owner == f.users[a].key())
        .unwrap();
    let eq = p.equity(s.market.cumulative_funding, price(85)).unwrap();
    assert!(eq < 0);
    let deficit = (-eq) as u64;
    let fund_before = f.fund().await.balance;
    f.stake(staker, deficit + 1 - fund_before.min(deficit))
        .await
        .unwrap();
    // The premise: the fund covers the loss, not the loss and the liquidator's share.
    let fee = math::fee(
        math::close_notional(true, p.base.unsigned_abs(), price(85)).unwrap(),
        s.market.params.liquidation_fee_bps,
    )
    .unwrap();
    let (_, to_liquidator) =
        math::split_fee(fee, s.market.params.liquidation_fee_to_fund_bps).unwrap();
    let balance = f.fund().await.balance;
    assert!(
        balance >= deficit && balance < deficit + to_liquidator,
        "{balance} {deficit} {to_liquidator}"
    );
    let grace = s.market.params.bankruptcy_grace_slots;
    let mut cfg = KeeperConfig::new(f.exchange);
    cfg.crank_funding = false;
    let kp = f.users[keeper].kp.insecure_clone();
    let chain = BankChain::new(&mut f, kp);
    let r = tick(&chain, &cfg, 10).await.unwrap();
    let kinds: Vec<_> = r.attempts.iter().map(|(_, w, o)| (w.kind(), *o)).collect();
    assert_eq!(kinds, [("flag", Outcome::Sent)], "{r:?}");
    // Within the grace: nothing to send.
    {
        let mut g = chain.fixture().await;
        g.bank.warp(grace / 2).await;
        g.set_price(0, price(85), 0).await.unwrap();
    }
    let r = tick(&chain, &cfg, 10).await.unwrap();
    assert!(r.attempts.is_empty(), "{r:?}");
    // After it: the event starts, the fund pays the whole loss.
    {
        let mut g = chain.fixture().await;
        g.bank.warp(grace).await;
        g.set_price(0, price(85), 0).await.unwrap();
    }
    let r = tick(&chain, &cfg, 1).await.unwrap();
    assert!(
        matches!(&r.attempts[..], [(_, Work::StartAdl { slot: s, .. }, Outcome::Sent)] if *s == slot),
        "{r:?}"
    );
    let mut g = chain.fixture().await;
    let s = g.market_snapshot(0).await;
    let ev = s.active_events().next().expect("an event").1;
    assert_eq!(ev.fund_paid, deficit);
    check(&mut g).await;
}
