//! The Pyth pull oracle: markets that read a `PriceUpdateV2` account — real account bytes
//! serialized by the Pyth SDK's own types, owned by the Pyth receiver program — trade and
//! liquidate on a fresh price, and every bad update is rejected by name with nothing changed.

use adl_client::ix::{self, OracleConfig};
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes, ten_x_long};
use adl_harness::fixture::{price, Fixture, BASE, USDC};
use anchor_lang::prelude::Pubkey;

const FEED: [u8; 32] = [0xEF; 32];
const MAX_AGE: u64 = 60;

/// A Pyth update of `units · 10^-8` with confidence `conf` (same exponent).
fn update(units: i64, conf: u64, exponent: i32, publish_time: i64, slot: u64) -> PriceUpdateV2 {
    PriceUpdateV2 {
        write_authority: Pubkey::new_from_array([7; 32]),
        verification_level: VerificationLevel::Full,
        price_message: PriceFeedMessage {
            feed_id: FEED,
            price: units,
            conf,
            exponent,
            publish_time,
            prev_publish_time: publish_time - 1,
            ema_price: units,
            ema_conf: conf,
        },
        posted_slot: slot,
    }
}

fn pyth_cfg() -> OracleConfig {
    OracleConfig {
        kind: ORACLE_KIND_PYTH,
        feed_id: FEED,
        max_age_secs: MAX_AGE,
    }
}

/// A 10x long (A) against B on market 0, then the market switched to a Pyth account at 100.
async fn pyth_market() -> (Fixture, Pubkey, usize, usize, usize) {
    let (mut f, a, b, c) = ten_x_long().await;
    let key = Pubkey::new_unique();
    let (slot, now) = f.clock().await;
    f.put_pyth_update(
        &key,
        &update(100_0000_0000, 100_000, -8, now, slot),
        &PYTH_RECEIVER_ID,
    );
    f.set_market_oracle(0, key, pyth_cfg()).await.unwrap();
    check(&mut f).await;
    (f, key, a, b, c)
}

#[tokio::test]
async fn pyth_price_trades_and_liquidates() {
    let (mut f, key, a, b, c) = pyth_market().await;
    let s = f.market_snapshot(0).await;
    assert_eq!(s.market.oracle_kind, ORACLE_KIND_PYTH);
    assert_eq!(s.market.oracle, key);
    assert_eq!(s.market.oracle_feed_id, FEED);
    // 100.00000000 at exponent −8 is 100.000000 in price atoms; confidence 0.001 → 1,000.
    assert_eq!((s.oracle.price, s.oracle.confidence), (price(100), 1_000));
    // A trade at the Pyth price.
    f.trade(0, c, b, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
    // The price falls to 94.5: A (10 long at 100, 100 margin) has equity 45 < maintenance
    // 47.25 and is liquidated whole by C at the Pyth price.
    let (slot, now) = f.clock().await;
    f.put_pyth_update(
        &key,
        &update(94_5000_0000, 100_000, -8, now, slot),
        &PYTH_RECEIVER_ID,
    );
    f.liquidate(0, a, c, u64::MAX, 200 * USDC).await.unwrap();
    check(&mut f).await;
    assert_eq!(f.slot_of(0, a).await, None);
    let sc = f.slot_of(0, c).await.unwrap();
    // C held 1.0 long and took over A's 10.0.
    assert_eq!(
        f.market_snapshot(0).await.book.slots[sc as usize].base,
        11 * BASE
    );
}

/// Golden fixture for the TypeScript client: a market on a Pyth account, as real account
/// bytes, with the price the program reads from it (`<target>/golden/pyth.json`).
#[tokio::test]
async fn write_pyth_golden_snapshot() {
    let (mut f, key, _a, _b, _c) = pyth_market().await;
    let (slot, now) = f.clock().await;
    // 101.23456789 ± 0.00123456 at −8: the program reads 101.234567 and 0.001235 (up).
    f.put_pyth_update(
        &key,
        &update(101_2345_6789, 123_456, -8, now, slot),
        &PYTH_RECEIVER_ID,
    );
    let m = f.markets[0];
    let s = f.market_snapshot(0).await;
    assert_eq!((s.oracle.price, s.oracle.confidence), (101_234_567, 1_235));
    assert_eq!(s.oracle_publish_time, Some(now));
    let mut accounts = serde_json::Map::new();
    for (name, k) in [
        ("exchange", f.exchange),
        ("fund", f.fund_key()),
        ("market", m.market),
        ("oracle", key),
        ("book", m.book),
        ("long_queue", m.long_queue),
        ("short_queue", m.short_queue),
    ] {
        let data = f.bank.data(&k).await;
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        accounts.insert(
            name.to_string(),
            serde_json::json!({ "key": k.to_string(), "data": hex }),
        );
    }
    let out = serde_json::json!({
        "program": adl_engine::ID.to_string(),
        "accounts": accounts,
        "expected": {
            "oracle_kind": ORACLE_KIND_PYTH,
            "oracle_price": s.oracle.price.to_string(),
            "oracle_confidence": s.oracle.confidence.to_string(),
            "publish_time": now.to_string(),
            "posted_slot": slot.to_string(),
            "feed_id": FEED.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        },
    });
    let dir = crate::golden_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pyth.json"),
        serde_json::to_string_pretty(&out).unwrap(),
    )
    .unwrap();
}

/// Each bad update, written over the market's account, makes a trade fail with its own
/// error and changes nothing.
#[tokio::test]
async fn bad_pyth_updates_are_rejected_by_name() {
    let (mut f, key, _a, b, c) = pyth_market().await;
    let (slot, now) = f.clock().await;
    let good = update(100_0000_0000, 100_000, -8, now, slot);
    let mut wrong_feed = good.clone();
    wrong_feed.price_message.feed_id = [0xAA; 32];
    let mut partial = good.clone();
    partial.verification_level = VerificationLevel::Partial { num_signatures: 12 };
    let cases: Vec<(&str, PriceUpdateV2, Pubkey, AdlError)> = vec![
        (
            "stale: published MAX_AGE + 1 s ago",
            update(100_0000_0000, 100_000, -8, now - MAX_AGE as i64 - 1, slot),
            PYTH_RECEIVER_ID,
            AdlError::StaleOracle,
        ),
        (
            "published in the future",
            update(100_0000_0000, 100_000, -8, now + 3_600, slot),
            PYTH_RECEIVER_ID,
            AdlError::StaleOracle,
        ),
        (
            "another feed",
            wrong_feed,
            PYTH_RECEIVER_ID,
            AdlError::OracleFeedMismatch,
        ),
        (
            "partially verified",
            partial,
            PYTH_RECEIVER_ID,
            AdlError::OracleNotFullyVerified,
        ),
        (
            "owned by another program",
            good.clone(),
            anchor_lang::system_program::ID,
            AdlError::OracleWrongOwner,
        ),
        (
            "confidence 2.5 % > 2 %",
            update(100_0000_0000, 2_5000_0000, -8, now, slot),
            PYTH_RECEIVER_ID,
            AdlError::OracleConfidenceTooWide,
        ),
        (
            "negative price",
            update(-100_0000_0000, 100_000, -8, now, slot),
            PYTH_RECEIVER_ID,
            AdlError::InvalidOraclePrice,
        ),
        (
            "zero price",
            update(0, 0, -8, now, slot),
            PYTH_RECEIVER_ID,
            AdlError::InvalidOraclePrice,
        ),
        (
            "exponent −19",
            update(100_0000_0000, 100_000, -19, now, slot),
            PYTH_RECEIVER_ID,
            AdlError::OracleExponentOutOfRange,
        ),
        (
            "exponent +1",
            update(10, 0, 1, now, slot),
            PYTH_RECEIVER_ID,
            AdlError::OracleExponentOutOfRange,
        ),
        (
            "a price that converts to zero atoms (1e-10)",
            update(1, 0, -10, now, slot),
            PYTH_RECEIVER_ID,
            AdlError::InvalidOraclePrice,
        ),
    ];
    for (what, u, owner, err) in cases {
        f.put_pyth_update(&key, &u, &owner);
        let before = state_bytes(&mut f).await;
        let ix = f.trade_ix(0, c, b, BASE, price(100), 20 * USDC, 20 * USDC);
        let r = f.send_as(&[ix], &[c, b]).await;
        assert_adl_err(r, err);
        assert_eq!(state_bytes(&mut f).await, before, "{what}: state changed");
    }
    // Not a PriceUpdateV2 at all (a pushed oracle's bytes under the receiver's ownership).
    let pushed = f.bank.account(&f.oracles[0]).await.unwrap();
    let mut fake = pushed.clone();
    fake.owner = PYTH_RECEIVER_ID;
    f.bank.ctx.set_account(&key, &fake.into());
    let before = state_bytes(&mut f).await;
    let ix = f.trade_ix(0, c, b, BASE, price(100), 20 * USDC, 20 * USDC);
    assert_adl_err(
        f.send_as(&[ix], &[c, b]).await,
        AdlError::InvalidOracleAccount,
    );
    assert_eq!(state_bytes(&mut f).await, before);
    // A good update again: the same trade goes through.
    let (slot, now) = f.clock().await;
    f.put_pyth_update(
        &key,
        &update(100_0000_0000, 100_000, -8, now, slot),
        &PYTH_RECEIVER_ID,
    );
    f.trade(0, c, b, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
}

/// A genuine update whose publish time is slightly after the cluster clock (the clock trails
/// wall time) counts as age 0 up to `PYTH_MAX_FUTURE_SECS`: a trade and a liquidation go
/// through with it. Before, anyone could post such an update to a sponsored feed and make
/// liquidation fail with `StaleOracle` until the clock caught up. One second beyond the bound
/// is still refused, with nothing changed.
#[tokio::test]
async fn pyth_publish_time_slightly_in_the_future_counts_as_fresh() {
    use adl_engine::state::PYTH_MAX_FUTURE_SECS;
    let (mut f, key, a, b, c) = pyth_market().await;
    let (slot, now) = f.clock().await;
    for ahead in [1, PYTH_MAX_FUTURE_SECS] {
        f.put_pyth_update(
            &key,
            &update(100_0000_0000, 100_000, -8, now + ahead, slot),
            &PYTH_RECEIVER_ID,
        );
        f.trade(0, c, b, BASE, price(100), 20 * USDC, 20 * USDC)
            .await
            .unwrap();
        check(&mut f).await;
    }
    // Beyond the bound: refused by name, nothing changed.
    f.put_pyth_update(
        &key,
        &update(
            100_0000_0000,
            100_000,
            -8,
            now + PYTH_MAX_FUTURE_SECS + 1,
            slot,
        ),
        &PYTH_RECEIVER_ID,
    );
    let before = state_bytes(&mut f).await;
    let ix = f.trade_ix(0, c, b, BASE, price(100), 20 * USDC, 20 * USDC);
    assert_adl_err(f.send_as(&[ix], &[c, b]).await, AdlError::StaleOracle);
    assert_eq!(state_bytes(&mut f).await, before);
    // A fall to 94.5 posted 1 s ahead of the clock: the 10x long A is liquidated at once.
    f.put_pyth_update(
        &key,
        &update(94_5000_0000, 100_000, -8, now + 1, slot),
        &PYTH_RECEIVER_ID,
    );
    f.liquidate(0, a, c, u64::MAX, 200 * USDC).await.unwrap();
    check(&mut f).await;
    assert_eq!(f.slot_of(0, a).await, None);
}

/// `set_market_oracle`: admin only, a checked account of the kind asked for, never while an
/// ADL event is active; back to the pushed oracle works too.
#[tokio::test]
async fn set_market_oracle_checks_its_account_and_waits_for_adl() {
    let (mut f, a, _b, _c) = ten_x_long().await;
    let key = Pubkey::new_unique();
    let (slot, now) = f.clock().await;
    // Not the admin.
    let ix = ix::set_market_oracle(
        &f.users[a].key(),
        &f.exchange,
        &f.markets[0].market,
        &key,
        pyth_cfg(),
    );
    assert_adl_err(f.send_as(&[ix], &[a]).await, AdlError::Unauthorized);
    // No account there yet (owned by the system program).
    assert_adl_err(
        f.set_market_oracle(0, key, pyth_cfg()).await,
        AdlError::OracleWrongOwner,
    );
    let mut partial = update(100_0000_0000, 100_000, -8, now, slot);
    partial.verification_level = VerificationLevel::Partial { num_signatures: 3 };
    f.put_pyth_update(&key, &partial, &PYTH_RECEIVER_ID);
    assert_adl_err(
        f.set_market_oracle(0, key, pyth_cfg()).await,
        AdlError::OracleNotFullyVerified,
    );
    f.put_pyth_update(
        &key,
        &update(100_0000_0000, 100_000, -8, now, slot),
        &PYTH_RECEIVER_ID,
    );
    let mut other = pyth_cfg();
    other.feed_id = [1; 32];
    assert_adl_err(
        f.set_market_oracle(0, key, other).await,
        AdlError::OracleFeedMismatch,
    );
    let mut no_age = pyth_cfg();
    no_age.max_age_secs = 0;
    assert_adl_err(
        f.set_market_oracle(0, key, no_age).await,
        AdlError::InvalidMarketParams,
    );
    // A pushed "oracle" that is really a Pyth account.
    let pushed_kind = OracleConfig {
        kind: ORACLE_KIND_PUSHED,
        ..OracleConfig::default()
    };
    assert_adl_err(
        f.set_market_oracle(0, key, pushed_kind).await,
        AdlError::OracleWrongOwner,
    );
    f.set_market_oracle(0, key, pyth_cfg()).await.unwrap();
    check(&mut f).await;
    // A bankrupt position and an ADL event: the oracle is frozen until it completes.
    let (slot, now) = f.clock().await;
    f.put_pyth_update(
        &key,
        &update(80_0000_0000, 100_000, -8, now, slot),
        &PYTH_RECEIVER_ID,
    );
    let sa = f.slot_of(0, a).await.unwrap();
    let flag = ix::flag_bankrupt(&f.exchange, &f.markets[0], sa);
    f.bank.send(&[flag], &[]).await.unwrap();
    // The fixture's fund is empty: ADL may start at once.
    let start = ix::start_adl(&f.exchange, &f.markets[0], &f.users[a].key(), sa);
    f.bank.send(&[start], &[]).await.unwrap();
    check(&mut f).await;
    let back = OracleConfig {
        kind: ORACLE_KIND_PUSHED,
        ..OracleConfig::default()
    };
    let pushed = f.oracles[0];
    let before = state_bytes(&mut f).await;
    assert_adl_err(
        f.set_market_oracle(0, pushed, back).await,
        AdlError::AdlEventActive,
    );
    assert_eq!(state_bytes(&mut f).await, before);
}

/// Back to the pushed oracle when no event is active.
#[tokio::test]
async fn market_returns_to_the_pushed_oracle() {
    let (mut f, _key, _a, b, c) = pyth_market().await;
    let back = OracleConfig {
        kind: ORACLE_KIND_PUSHED,
        ..OracleConfig::default()
    };
    let pushed = f.oracles[0];
    f.set_market_oracle(0, pushed, back).await.unwrap();
    let s = f.market_snapshot(0).await;
    assert_eq!(
        (
            s.market.oracle_kind,
            s.market.oracle,
            s.market.oracle_feed_id
        ),
        (ORACLE_KIND_PUSHED, pushed, [0; 32])
    );
    f.trade(0, c, b, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
}

/// The keeper reads a Pyth market like any other: after the Pyth price falls it liquidates the
/// 10x long at the Pyth price (one tick, invariants after it).
#[tokio::test]
async fn keeper_liquidates_on_a_pyth_market() {
    let (mut f, key, a, _b, _c) = pyth_market().await;
    let keeper = f.add_user(100_000 * USDC, 50_000 * USDC).await;
    let (slot, now) = f.clock().await;
    f.put_pyth_update(
        &key,
        &update(94_5000_0000, 100_000, -8, now, slot),
        &PYTH_RECEIVER_ID,
    );
    let s = f.market_snapshot(0).await;
    assert_eq!(s.oracle.price, 94_500_000);
    let cfg = adl_keeper::keeper::KeeperConfig::new(f.exchange);
    let kp = f.users[keeper].kp.insecure_clone();
    let chain = adl_harness::chain::BankChain::new(&mut f, kp);
    let r = adl_keeper::keeper::tick(&chain, &cfg, 100).await.unwrap();
    assert_eq!(r.liquidations, 1);
    let mut g = chain.fixture().await;
    check(&mut g).await;
    assert_eq!(g.slot_of(0, a).await, None);
}
