//! The deploy bootstrap (`adl-keeper bootstrap`, used by migrations/deploy.sh) against the
//! in-process bank: it creates mint, exchange, fund, oracle and markets with their large
//! accounts, and a second run changes nothing.

use adl_client::accounts::{read_borsh, read_zero_copy};
use adl_client::bootstrap::{bootstrap, default_params, parse_feed_id, BootstrapPlan, PythSource};
use adl_client::chain::Chain;
use adl_engine::state::*;
use adl_engine_tests::state_bytes;
use adl_harness::chain::BankChain;
use adl_harness::fixture::{price, Fixture, USDC};
use solana_signer::Signer;

/// A fixture and a key with 50 SOL to bootstrap another exchange with.
async fn funded_admin() -> (Fixture, solana_keypair::Keypair) {
    let mut f = Fixture::new(price(100)).await;
    let admin = f.add_user(1_000 * USDC, 0).await;
    let admin_kp = f.users[admin].kp.insecure_clone();
    let payer = f.admin_key();
    let ix =
        solana_system_interface::instruction::transfer(&payer, &admin_kp.pubkey(), 50_000_000_000);
    f.bank.send(&[ix], &[]).await.unwrap();
    (f, admin_kp)
}

#[tokio::test]
async fn bootstrap_creates_an_exchange_and_is_idempotent() {
    let (mut f, admin_kp) = funded_admin().await;
    let plan = BootstrapPlan {
        mint: None,
        oracle_price: price(250),
        unstake_cooldown_slots: 9_000,
        unstake_window_slots: 9_000,
        fee_vest_slots: 9_000,
        market_capacities: vec![128, 1_024],
        params: default_params(),
        pyth: None,
    };
    let chain = BankChain::new(&mut f, admin_kp.insecure_clone());
    let done = bootstrap(&chain, &plan).await.unwrap();
    assert_eq!(
        done.exchange,
        adl_client::ix::exchange_pda(&admin_kp.pubkey())
    );
    let accounts = chain
        .accounts(&[
            done.exchange,
            done.fund,
            done.oracle,
            done.markets[1].market,
            done.markets[1].book,
        ])
        .await
        .unwrap();
    let ex: Exchange = read_borsh(&accounts[0].as_ref().unwrap().data).unwrap();
    assert_eq!(
        (
            ex.admin,
            ex.collateral_mint,
            ex.market_count,
            ex.oracle_count
        ),
        (admin_kp.pubkey(), done.mint, 2, 1)
    );
    let fund: InsuranceFund = read_zero_copy(&accounts[1].as_ref().unwrap().data).unwrap();
    assert_eq!(fund.unstake_cooldown_slots, 9_000);
    let oracle: Oracle = read_borsh(&accounts[2].as_ref().unwrap().data).unwrap();
    assert_eq!(
        (oracle.price, oracle.authority),
        (price(250), admin_kp.pubkey())
    );
    let market: Market = read_zero_copy(&accounts[3].as_ref().unwrap().data).unwrap();
    assert_eq!(market.book, done.markets[1].book);
    let book: PositionBook = read_zero_copy(&accounts[4].as_ref().unwrap().data).unwrap();
    assert_eq!(book.capacity, 1_024);
    assert_eq!(
        accounts[4].as_ref().unwrap().data.len(),
        PositionBook::space(1_024)
    );
    // Again: nothing new, same keys.
    let before = {
        let mut g = chain.fixture().await;
        state_bytes(&mut g).await
    };
    let again = bootstrap(&chain, &plan).await.unwrap();
    assert_eq!(again, done);
    let mut g = chain.fixture().await;
    assert_eq!(before, state_bytes(&mut g).await);
}

/// `adl-keeper bootstrap --pyth-feed … --pyth-account …`: every market reads the Pyth account
/// (set after creation on the pushed oracle); a second run changes nothing.
#[tokio::test]
async fn bootstrap_points_markets_at_a_pyth_account() {
    let (mut f, admin_kp) = funded_admin().await;
    let feed = parse_feed_id("0xef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d")
        .unwrap();
    assert_eq!(feed[0], 0xef);
    assert_eq!(parse_feed_id("ef0d"), None);
    // SOL/USD's sponsored account on shard 0, as Pyth publishes it.
    assert_eq!(
        adl_client::bootstrap::sponsored_feed_account(0, &feed).to_string(),
        "7UVimffxr9ow1uXYxsr4LHAcV58mLzhmwaeKvJ1pjLiE"
    );
    let account = anchor_lang::prelude::Pubkey::new_unique();
    let (slot, now) = f.clock().await;
    let update = PriceUpdateV2 {
        write_authority: admin_kp.pubkey(),
        verification_level: VerificationLevel::Full,
        price_message: PriceFeedMessage {
            feed_id: feed,
            price: 250_0000_0000,
            conf: 1_000,
            exponent: -8,
            publish_time: now,
            prev_publish_time: now - 1,
            ema_price: 250_0000_0000,
            ema_conf: 1_000,
        },
        posted_slot: slot,
    };
    f.put_pyth_update(&account, &update, &PYTH_RECEIVER_ID);
    let plan = BootstrapPlan {
        mint: None,
        oracle_price: price(250),
        unstake_cooldown_slots: 9_000,
        unstake_window_slots: 9_000,
        fee_vest_slots: 9_000,
        market_capacities: vec![128],
        params: default_params(),
        pyth: Some(PythSource {
            feed_id: feed,
            account,
            max_age_secs: 30,
        }),
    };
    let chain = BankChain::new(&mut f, admin_kp.insecure_clone());
    let done = bootstrap(&chain, &plan).await.unwrap();
    assert_eq!(done.markets[0].oracle, account);
    let raw = chain.accounts(&[done.markets[0].market]).await.unwrap();
    let market: Market = read_zero_copy(&raw[0].as_ref().unwrap().data).unwrap();
    assert_eq!(
        (
            market.oracle_kind,
            market.oracle,
            market.oracle_feed_id,
            market.max_oracle_age_secs
        ),
        (ORACLE_KIND_PYTH, account, feed, 30)
    );
    let market_before = raw[0].as_ref().unwrap().data.clone();
    let before = {
        let mut g = chain.fixture().await;
        state_bytes(&mut g).await
    };
    assert_eq!(bootstrap(&chain, &plan).await.unwrap(), done);
    let after = chain.accounts(&[done.markets[0].market]).await.unwrap();
    assert_eq!(after[0].as_ref().unwrap().data, market_before);
    let mut g = chain.fixture().await;
    assert_eq!(before, state_bytes(&mut g).await);
}
