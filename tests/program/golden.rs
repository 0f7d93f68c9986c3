//! Golden fixture for the TypeScript client and the web viewer: the worked example with an
//! ADL event active, as real account bytes, with the Rust-computed queue rows. Written to
//! `<target>/golden/snapshot.json` on every run (the TypeScript tests read it); a copy is kept
//! in `app/public/fixtures/snapshot.json` for offline use of the viewer (copy it there when an
//! account layout changes).

use std::fmt::Write;

use adl_client::accounts::read_borsh;
use adl_client::ix;
use adl_engine::state::*;
use adl_engine_tests::check;
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
            &[ix::start_adl(&e.f.exchange, &m, &e.f.users[e.x].key(), xs)],
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
    let dir = crate::golden_dir();
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
/// (`<target>/golden/book100k.json`, ~35 MB). The book and queues are the program's layouts
/// built by `adl_engine::testkit::two_sided`; exchange, fund and oracle are real accounts of a
/// fixture. Expected: per side the rank-1 row and one trader's row, from the Rust rank view.
#[tokio::test]
async fn write_100k_snapshot() {
    use adl_client::accounts::{BookSnapshot, MarketSnapshot, QueueSnapshot};
    use adl_engine::testkit::{random_longs, two_sided};
    let mut f = adl_harness::fixture::Fixture::new(adl_harness::fixture::price(100)).await;
    f.add_market(16).await;
    let (longs, shorts) = (
        random_longs(50_000, 0x2545_F491_4F6C_DD1D),
        random_longs(50_000, 0x9E37_79B9_7F4A_7C15),
    );
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
    let dir = crate::golden_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("book100k.json"),
        serde_json::to_string(&out).unwrap(),
    )
    .unwrap();
}

/// Golden instructions for the TypeScript instruction builders: instructions built by the
/// Rust client (the ones every bank test sends), with their account names from the committed
/// IDL, their arguments as JSON, and the PDAs the Rust client derives
/// (`<target>/golden/instructions.json`). The TypeScript test rebuilds each from names and
/// arguments and must produce the same bytes.
#[test]
fn write_golden_instructions() {
    use anchor_lang::prelude::Pubkey;
    let idl: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../idl/adl_engine.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let key = |n: u8| Pubkey::new_from_array([n; 32]);
    let (admin, owner, token) = (key(1), key(2), key(3));
    let exchange = ix::exchange_pda(&admin);
    let m = ix::MarketAccounts {
        market: ix::market_pda(&exchange, 0),
        oracle: key(4),
        book: key(5),
        long_queue: key(6),
        short_queue: key(7),
    };
    let cases: Vec<(
        &str,
        anchor_lang::solana_program::instruction::Instruction,
        Value,
    )> = vec![
        (
            "deposit",
            ix::deposit(&owner, &exchange, &token, 1_234_567),
            json!({ "amount": "1234567" }),
        ),
        (
            "withdraw",
            ix::withdraw(&owner, &exchange, &token, 7),
            json!({ "amount": "7" }),
        ),
        (
            "claim_adl_payout",
            ix::claim_adl_payout(&exchange, &m, &owner),
            json!({}),
        ),
        (
            "if_stake",
            ix::if_stake(&owner, &exchange, &token, u64::MAX),
            json!({ "amount": u64::MAX.to_string() }),
        ),
        (
            "auto_deleverage",
            ix::auto_deleverage(&exchange, &m, 3, 77, vec![5, 1, 4_000_000]),
            json!({ "event_index": 3, "event_id": "77", "proof": { "slots": [5, 1, 4_000_000] } }),
        ),
        (
            "trade",
            ix::trade(
                &exchange,
                &m,
                &owner,
                &admin,
                ix::TradeArgs {
                    taker_base: -2_500_000_000,
                    price: 101_000_000,
                    taker_margin: 30_000_000,
                    maker_margin: 0,
                },
            ),
            json!({ "args": { "taker_base": "-2500000000", "price": "101000000",
                              "taker_margin": "30000000", "maker_margin": "0" } }),
        ),
        (
            "set_market_oracle",
            ix::set_market_oracle(
                &admin,
                &exchange,
                &m.market,
                &key(8),
                ix::OracleConfig {
                    kind: ORACLE_KIND_PYTH,
                    feed_id: [0xEF; 32],
                    max_age_secs: 60,
                },
            ),
            json!({ "cfg": { "kind": 1, "feed_id": vec![0xEF; 32], "max_age_secs": "60" } }),
        ),
        (
            "init_oracle",
            ix::init_oracle(&admin, &exchange, 0, &key(9), 100_000_000, 5),
            json!({ "authority": key(9).to_string(), "price": "100000000", "confidence": "5" }),
        ),
    ];
    let mut out = vec![];
    for (name, ix, args) in cases {
        let spec = idl["instructions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap();
        let names: Vec<&str> = spec["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), ix.accounts.len(), "{name}");
        let accounts: serde_json::Map<String, Value> = names
            .iter()
            .zip(&ix.accounts)
            .map(|(n, a)| (n.to_string(), json!(a.pubkey.to_string())))
            .collect();
        let keys: Vec<Value> = ix
            .accounts
            .iter()
            .map(|a| json!({ "pubkey": a.pubkey.to_string(), "signer": a.is_signer, "writable": a.is_writable }))
            .collect();
        out.push(json!({ "name": name, "accounts": accounts, "args": args,
            "program_id": ix.program_id.to_string(), "keys": keys, "data": hex(&ix.data) }));
    }
    let pdas = json!({
        "admin": admin.to_string(), "owner": owner.to_string(),
        "exchange": exchange.to_string(),
        "vault": ix::vault_pda(&exchange).to_string(),
        "user": ix::user_pda(&exchange, &owner).to_string(),
        "fund": ix::insurance_fund_pda(&exchange).to_string(),
        "stake": ix::stake_pda(&ix::insurance_fund_pda(&exchange), &owner).to_string(),
        "market0": m.market.to_string(),
    });
    let dir = crate::golden_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("instructions.json"),
        serde_json::to_string_pretty(&json!({ "instructions": out, "pdas": pdas })).unwrap(),
    )
    .unwrap();
}
