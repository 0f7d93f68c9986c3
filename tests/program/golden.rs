//! Golden fixture for the TypeScript client and the web viewer: the worked example with an
//! ADL event active, as real account bytes, with the Rust-computed queue rows. Written to
//! `target/golden/snapshot.json` on every run (the TypeScript tests read it); a copy is kept
//! in `app/fixtures/snapshot.json` for offline use of the viewer.

use std::fmt::Write;

use adl_engine::state::*;
use adl_engine_tests::check;
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
