//! Golden fixture for the TypeScript client and the web viewer: the worked example with an
//! ADL event active, as real account bytes, with the Rust-computed queue rows. Written to
//! `target/golden/snapshot.json` on every run (the TypeScript tests read it); a copy is kept
//! in `app/fixtures/snapshot.json` for offline use of the viewer.

use std::fmt::Write;

use adl_engine::state::*;
use adl_engine_tests::check;
use adl_keeper::accounts::read_borsh;
use adl_keeper::client;
use adl_keeper::view::queue_rows;
use serde_json::{json, Value};

use crate::adl::example;

fn hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[tokio::test]
async fn write_golden_snapshot() {
    let mut e = example().await;
    let m = e.f.markets[0];
    let xs = e.f.slot_of(0, e.x).await.unwrap();
    e.f.bank
        .send(
            &[client::start_adl(
                &e.f.exchange,
                &m,
                &e.f.users[e.x].key(),
                xs,
            )],
            &[],
        )
        .await
        .unwrap();
    check(&mut e.f).await;
    let fund = e.f.fund_key();
    let mut accounts = serde_json::Map::new();
    for (name, key) in [
        ("exchange", e.f.exchange),
        ("fund", fund),
        ("market", m.market),
        ("oracle", m.oracle),
        ("book", m.book),
        ("long_queue", m.long_queue),
        ("short_queue", m.short_queue),
    ] {
        let data = e.f.bank.data(&key).await;
        accounts.insert(
            name.to_string(),
            json!({ "key": key.to_string(), "data": hex(&data) }),
        );
    }
    let s = e.f.market_snapshot(0).await;
    let price = s.oracle.price;
    let rows = |side: u8| -> Value {
        queue_rows(&s, side, price)
            .into_iter()
            .map(|r| {
                json!({
                    "rank": r.ranked.rank,
                    "tier": r.ranked.tier,
                    "slot": r.ranked.slot,
                    "owner": r.owner.to_string(),
                    "base": r.base.to_string(),
                    "entry_price": r.entry_price.to_string(),
                    "margin": r.margin.to_string(),
                    "pnl": r.pnl.to_string(),
                    "leverage_bps": r.leverage_bps,
                    "lights": r.ranked.lights,
                    "size_ahead": r.ranked.size_ahead.to_string(),
                })
            })
            .collect()
    };
    let events: Value = s
        .active_events()
        .map(|(i, ev)| {
            json!({
                "index": i,
                "id": ev.id,
                "side": ev.side,
                "base_remaining": ev.base_remaining.to_string(),
                "exec_price": ev.exec_price.to_string(),
                "fund_paid": ev.fund_paid.to_string(),
            })
        })
        .collect();
    let out = json!({
        "program": adl_engine::ID.to_string(),
        "accounts": accounts,
        "expected": {
            "oracle_price": price.to_string(),
            "long": rows(SIDE_LONG),
            "short": rows(SIDE_SHORT),
            "events": events,
            "fund_balance": e.f.fund().await.balance.to_string(),
            "owners": {
                "L1": e.f.users[e.l1].key().to_string(),
                "L4": e.f.users[e.l4].key().to_string(),
            },
        },
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/golden");
    std::fs::create_dir_all(&dir).unwrap();
    let text = serde_json::to_string_pretty(&out).unwrap();
    std::fs::write(dir.join("snapshot.json"), &text).unwrap();
    // The file is what the TypeScript side decodes: check it parses back and holds the
    // event and both queues.
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back["expected"]["long"].as_array().unwrap().len(), 4);
    assert_eq!(back["expected"]["short"].as_array().unwrap().len(), 1);
    assert_eq!(back["expected"]["events"].as_array().unwrap().len(), 1);
}

/// A market of 100,000 positions (50,000 per side: sizes 0.1–10, entries 80–120, margins
/// 5–50 % of notional) as account bytes, for the viewer's large-book test
/// (`target/golden/book100k.json`, ~35 MB). The book and queues are the program's layouts
/// built by `adl_engine::testkit::two_sided`; exchange, fund and oracle are real accounts of a
/// fixture. Expected: per side the rank-1 row and one trader's row, from the Rust rank view.
#[tokio::test]
async fn write_100k_snapshot() {
    use adl_engine::testkit::{px, two_sided, Long, ONE};
    use adl_keeper::accounts::{BookSnapshot, MarketSnapshot, QueueSnapshot};
    let mut f = adl_keeper::fixture::Fixture::new(adl_keeper::fixture::price(100)).await;
    f.add_market(16).await;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let mut side = || -> Vec<Long> {
        (0..50_000)
            .map(|_| {
                let base = (1 + rnd(100) as i64) * ONE / 10;
                let entry = px(80) + rnd(40_000_000);
                let notional = (base as i128 * entry as i128 / ONE as i128) as i64;
                (base, entry, notional * (5 + rnd(46) as i64) / 100)
            })
            .collect()
    };
    let (longs, shorts) = (side(), side());
    let mut b = two_sided(&longs, &shorts);
    let keys = [
        f.markets[0].market,
        anchor_lang::prelude::Pubkey::new_unique(),
        anchor_lang::prelude::Pubkey::new_unique(),
        anchor_lang::prelude::Pubkey::new_unique(),
    ];
    b.market.exchange = f.exchange;
    b.market.oracle = f.oracles[0];
    b.market.book = keys[1];
    b.market.long_queue = keys[2];
    b.market.short_queue = keys[3];
    let mut bytes = b.account_bytes();
    for d in bytes.iter_mut().skip(1) {
        d[8..40].copy_from_slice(keys[0].as_ref());
    }
    let oracle = f.bank.data(&f.oracles[0]).await;
    let snap = MarketSnapshot {
        key: keys[0],
        market: b.market,
        oracle: read_borsh(&oracle).unwrap(),
        oracle_publish_time: None,
        book: BookSnapshot::decode(&bytes[1]).unwrap(),
        long_queue: QueueSnapshot::decode(&bytes[2]).unwrap(),
        short_queue: QueueSnapshot::decode(&bytes[3]).unwrap(),
    };
    assert_eq!(snap.book.slots.len(), 100_000);
    let price = snap.oracle.price;
    let pick = |side: u8, nth: usize| -> Value {
        let rows = queue_rows(&snap, side, price);
        assert_eq!(rows.len(), 50_000);
        let r = &rows[nth];
        json!({ "rank": r.ranked.rank, "tier": r.ranked.tier, "slot": r.ranked.slot,
                "owner": r.owner.to_string(), "lights": r.ranked.lights })
    };
    let mut accounts = serde_json::Map::new();
    for (name, key, data) in [
        ("exchange", f.exchange, f.bank.data(&f.exchange).await),
        ("fund", f.fund_key(), f.bank.data(&f.fund_key()).await),
        ("oracle", f.oracles[0], oracle.clone()),
        ("market", keys[0], bytes[0].clone()),
        ("book", keys[1], bytes[1].clone()),
        ("long_queue", keys[2], bytes[2].clone()),
        ("short_queue", keys[3], bytes[3].clone()),
    ] {
        accounts.insert(
            name.to_string(),
            json!({ "key": key.to_string(), "data": hex(&data) }),
        );
    }
    let out = json!({
        "program": adl_engine::ID.to_string(),
        "accounts": accounts,
        "expected": {
            "positions": 100_000,
            "long_oi": b.market.open_interest_long.to_string(),
            "short_oi": b.market.open_interest_short.to_string(),
            "long_first": pick(SIDE_LONG, 0),
            "short_first": pick(SIDE_SHORT, 0),
            "long_trader": pick(SIDE_LONG, 31_337),
            "short_trader": pick(SIDE_SHORT, 49_999),
        },
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/golden");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("book100k.json"),
        serde_json::to_string(&out).unwrap(),
    )
    .unwrap();
}
