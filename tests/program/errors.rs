//! Every named error of the instructions so far, triggered through a real transaction (or,
//! for the defensive checks no transaction can reach, through the state functions), and
//! each rejected instruction leaves every account unchanged.

use adl_client::accounts::read_zero_copy;
use adl_client::ix::{self, MarketParamsArgs, TradeArgs};
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::{default_params, price, Fixture, BASE, USDC};
use anchor_lang::solana_program::instruction::Instruction;
use anchor_spl::token::spl_token;
use solana_account::Account;
use solana_keypair::Keypair;
use solana_program_pack::Pack;
use solana_signer::Signer;

/// A market with two funded users; A long 1.0 against B at 100.
async fn setup() -> (Fixture, usize, usize) {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(8).await;
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    f.trade(0, a, b, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    (f, a, b)
}

/// Sends `ixs` (signed by `signers`), expects `e`, and checks nothing changed.
async fn rejects(f: &mut Fixture, ixs: &[Instruction], signers: &[&Keypair], e: AdlError) {
    let before = state_bytes(f).await;
    let r = f.bank.send(ixs, signers).await;
    assert_adl_err(r, e);
    assert_eq!(before, state_bytes(f).await, "{e:?} changed state");
    check(f).await;
}

fn trade_ix(
    f: &Fixture,
    taker: usize,
    maker: usize,
    taker_base: i64,
    px: u64,
    tm: u64,
    mm: u64,
) -> Instruction {
    ix::trade(
        &f.exchange,
        &f.markets[0],
        &f.users[taker].key(),
        &f.users[maker].key(),
        TradeArgs {
            taker_base,
            price: px,
            taker_margin: tm,
            maker_margin: mm,
        },
    )
}

fn kp(f: &Fixture, u: usize) -> Keypair {
    f.users[u].kp.insecure_clone()
}

#[tokio::test]
async fn unauthorized_admin() {
    let (mut f, a, _) = setup().await;
    let ix = ix::set_paused(&f.users[a].key(), &f.exchange, 1);
    let k = kp(&f, a);
    rejects(&mut f, &[ix], &[&k], AdlError::Unauthorized).await;
    let ix = ix::update_market_params(
        &f.users[a].key(),
        &f.exchange,
        &f.markets[0].market,
        default_params(),
    );
    rejects(&mut f, &[ix], &[&k], AdlError::Unauthorized).await;
}

#[tokio::test]
async fn oracle_authority_mismatch() {
    let (mut f, a, _) = setup().await;
    let ix = ix::set_oracle_price(&f.users[a].key(), &f.exchange, &f.oracles[0], price(90), 0);
    let k = kp(&f, a);
    rejects(&mut f, &[ix], &[&k], AdlError::OracleAuthorityMismatch).await;
}

#[tokio::test]
async fn instruction_paused() {
    let (mut f, a, b) = setup().await;
    let ix = ix::set_paused(
        &f.admin.pubkey(),
        &f.exchange,
        PauseBit::Trade.mask() | PauseBit::Deposit.mask(),
    );
    f.bank.send(&[ix], &[]).await.unwrap();
    let ix = trade_ix(&f, a, b, BASE, price(100), 10 * USDC, 10 * USDC);
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::InstructionPaused).await;
    let ix = ix::deposit(&f.users[a].key(), &f.exchange, &f.users[a].token, USDC);
    rejects(&mut f, &[ix], &[&ka], AdlError::InstructionPaused).await;
    // Unpaused, the same trade goes through.
    let ix = ix::set_paused(&f.admin.pubkey(), &f.exchange, 0);
    f.bank.send(&[ix], &[]).await.unwrap();
    f.trade(0, a, b, BASE, price(100), 10 * USDC, 10 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
}

#[tokio::test]
async fn invalid_market_params() {
    let (mut f, _, _) = setup().await;
    let bad = MarketParamsArgs {
        mmr_bps: 1_000,
        imr_bps: 1_000,
        ..default_params()
    };
    let ix = ix::update_market_params(&f.admin.pubkey(), &f.exchange, &f.markets[0].market, bad);
    rejects(&mut f, &[ix], &[], AdlError::InvalidMarketParams).await;
    let r = f
        .try_add_market(
            8,
            MarketParamsArgs {
                oracle_band_bps: 0,
                ..default_params()
            },
        )
        .await;
    assert_adl_err(r.map(|_| ()), AdlError::InvalidMarketParams);
}

#[tokio::test]
async fn zero_amount() {
    let (mut f, a, b) = setup().await;
    let ka = kp(&f, a);
    let ix = ix::deposit(&f.users[a].key(), &f.exchange, &f.users[a].token, 0);
    rejects(&mut f, &[ix], &[&ka], AdlError::ZeroAmount).await;
    let ix = ix::withdraw(&f.users[a].key(), &f.exchange, &f.users[a].token, 0);
    rejects(&mut f, &[ix], &[&ka], AdlError::ZeroAmount).await;
    let kb = kp(&f, b);
    let ix = trade_ix(&f, a, b, 0, price(100), 0, 0);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::ZeroAmount).await;
    let ix = ix::add_margin(&f.exchange, &f.markets[0], &f.users[a].key(), 0);
    rejects(&mut f, &[ix], &[&ka], AdlError::ZeroAmount).await;
}

#[tokio::test]
async fn invalid_oracle_price() {
    let (mut f, _, _) = setup().await;
    let auth = f.oracle_authority.insecure_clone();
    let ix = ix::set_oracle_price(&auth.pubkey(), &f.exchange, &f.oracles[0], 0, 0);
    rejects(&mut f, &[ix], &[&auth], AdlError::InvalidOraclePrice).await;
}

#[tokio::test]
async fn stale_oracle() {
    let (mut f, a, b) = setup().await;
    f.bank.warp(151).await;
    let ix = trade_ix(&f, a, b, BASE, price(100), 10 * USDC, 10 * USDC);
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::StaleOracle).await;
}

#[tokio::test]
async fn oracle_confidence_too_wide() {
    let (mut f, a, b) = setup().await;
    // 2.01 % of 100 is over the 2 % limit.
    f.set_price(0, price(100), 2_010_000).await.unwrap();
    let ix = trade_ix(&f, a, b, BASE, price(100), 10 * USDC, 10 * USDC);
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    rejects(
        &mut f,
        &[ix],
        &[&ka, &kb],
        AdlError::OracleConfidenceTooWide,
    )
    .await;
}

#[tokio::test]
async fn oracle_mismatch() {
    let (mut f, a, b) = setup().await;
    let other = f.add_oracle(price(100)).await;
    let mut ix = trade_ix(&f, a, b, BASE, price(100), 10 * USDC, 10 * USDC);
    ix.accounts[2].pubkey = other;
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::OracleMismatch).await;
}

/// A funded admin keypair with a mint of `decimals`; returns (admin, mint).
async fn new_admin_and_mint(
    f: &mut Fixture,
    decimals: u8,
) -> (Keypair, anchor_lang::prelude::Pubkey) {
    let admin = Keypair::new();
    let mint = Keypair::new();
    let payer = f.admin.pubkey();
    let rent = f.bank.rent_exempt(spl_token::state::Mint::LEN).await;
    let ixs = [
        solana_system_interface::instruction::transfer(&payer, &admin.pubkey(), 1_000_000_000),
        ix::token::create_token_account(&payer, &mint.pubkey(), rent, spl_token::state::Mint::LEN),
        ix::token::initialize_mint(&mint.pubkey(), &payer, decimals),
    ];
    f.bank.send(&ixs, &[&mint]).await.unwrap();
    (admin, mint.pubkey())
}

/// A second exchange (another admin) with one oracle whose authority is the fixture's.
async fn second_exchange(
    f: &mut Fixture,
) -> (
    Keypair,
    anchor_lang::prelude::Pubkey,
    anchor_lang::prelude::Pubkey,
) {
    let (admin, _) = new_admin_and_mint(f, 6).await;
    let mint = f.mint;
    let ex2 = ix::exchange_pda(&admin.pubkey());
    let ixs = [
        ix::init_exchange(&admin.pubkey(), &mint),
        ix::init_oracle(
            &admin.pubkey(),
            &ex2,
            0,
            &f.oracle_authority.pubkey(),
            price(100),
            0,
        ),
    ];
    f.bank.send(&ixs, &[&admin]).await.unwrap();
    (admin, ex2, ix::oracle_pda(&ex2, 0))
}

#[tokio::test]
async fn exchange_mismatch() {
    let (mut f, a, _) = setup().await;
    let (admin2, ex2, oracle2) = second_exchange(&mut f).await;
    let auth = f.oracle_authority.insecure_clone();
    // Oracle of exchange 2 named with exchange 1.
    let ix = ix::set_oracle_price(&auth.pubkey(), &f.exchange, &oracle2, price(90), 0);
    rejects(&mut f, &[ix], &[&auth], AdlError::ExchangeMismatch).await;
    // A market of exchange 1 built on exchange 2's oracle.
    let (ixs, kps, _) = f.market_instructions(oracle2, 8, 8, default_params()).await;
    rejects(
        &mut f,
        &ixs,
        &[&kps[0], &kps[1], &kps[2]],
        AdlError::ExchangeMismatch,
    )
    .await;
    // A user account of exchange 1 used on exchange 2: deposit names exchange 2 but the
    // user PDA of exchange 1.
    let _ = admin2;
    let ka = kp(&f, a);
    let mut ix = ix::deposit(&f.users[a].key(), &ex2, &f.users[a].token, USDC);
    ix.accounts[2].pubkey = ix::user_pda(&f.exchange, &f.users[a].key());
    rejects(&mut f, &[ix], &[&ka], AdlError::ExchangeMismatch).await;
}

#[tokio::test]
async fn invalid_collateral_mint() {
    let (mut f, _, _) = setup().await;
    let (admin, mint9) = new_admin_and_mint(&mut f, 9).await;
    let ix = ix::init_exchange(&admin.pubkey(), &mint9);
    rejects(&mut f, &[ix], &[&admin], AdlError::InvalidCollateralMint).await;
}

#[tokio::test]
async fn book_and_queue_mismatch() {
    let (mut f, a, b) = setup().await;
    f.add_market(8).await;
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    let other = f.markets[1];
    let mut ix = trade_ix(&f, a, b, BASE, price(100), 10 * USDC, 10 * USDC);
    ix.accounts[3].pubkey = other.book;
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::BookMismatch).await;
    let mut ix = trade_ix(&f, a, b, BASE, price(100), 10 * USDC, 10 * USDC);
    ix.accounts[4].pubkey = other.long_queue;
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::QueueMismatch).await;
    // Long and short queue swapped.
    let mut ix = trade_ix(&f, a, b, BASE, price(100), 10 * USDC, 10 * USDC);
    ix.accounts.swap(4, 5);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::QueueMismatch).await;
}

#[tokio::test]
async fn vault_mismatch() {
    let (mut f, a, b) = setup().await;
    let ka = kp(&f, a);
    // The "vault" replaced by B's token account.
    let mut ix = ix::deposit(&f.users[a].key(), &f.exchange, &f.users[a].token, USDC);
    ix.accounts[3].pubkey = f.users[b].token;
    rejects(&mut f, &[ix], &[&ka], AdlError::VaultMismatch).await;
    // Withdraw to a token account of another mint.
    let (_, other_mint) = new_admin_and_mint(&mut f, 6).await;
    let acct = Keypair::new();
    let payer = f.admin.pubkey();
    let rent = f.bank.rent_exempt(spl_token::state::Account::LEN).await;
    let ixs = [
        ix::token::create_token_account(
            &payer,
            &acct.pubkey(),
            rent,
            spl_token::state::Account::LEN,
        ),
        ix::token::initialize_account(&acct.pubkey(), &other_mint, &f.users[a].key()),
    ];
    f.bank.send(&ixs, &[&acct]).await.unwrap();
    let ix = ix::withdraw(&f.users[a].key(), &f.exchange, &acct.pubkey(), USDC);
    rejects(&mut f, &[ix], &[&ka], AdlError::VaultMismatch).await;
}

#[tokio::test]
async fn account_size_mismatch() {
    let (mut f, _, _) = setup().await;
    let oracle = f.oracles[0];
    // Queues smaller than the book.
    let (ixs, kps, _) = f.market_instructions(oracle, 16, 8, default_params()).await;
    rejects(
        &mut f,
        &ixs,
        &[&kps[0], &kps[1], &kps[2]],
        AdlError::AccountSizeMismatch,
    )
    .await;
    // A book one byte longer than an exact number of slots.
    let (mut ixs, kps, m) = f.market_instructions(oracle, 8, 8, default_params()).await;
    let len = PositionBook::space(8) + 1;
    let rent = f.bank.rent_exempt(len).await;
    ixs[0] = ix::create_account(&f.admin.pubkey(), &m.book, rent, len);
    rejects(
        &mut f,
        &ixs,
        &[&kps[0], &kps[1], &kps[2]],
        AdlError::AccountSizeMismatch,
    )
    .await;
    // A book too small for one slot.
    let (mut ixs, kps, m) = f.market_instructions(oracle, 8, 8, default_params()).await;
    let len = PositionBook::space(0) + 8;
    let rent = f.bank.rent_exempt(len).await;
    ixs[0] = ix::create_account(&f.admin.pubkey(), &m.book, rent, len);
    rejects(
        &mut f,
        &ixs,
        &[&kps[0], &kps[1], &kps[2]],
        AdlError::AccountSizeMismatch,
    )
    .await;
}

#[tokio::test]
async fn user_owner_mismatch() {
    let (mut f, a, b) = setup().await;
    let ka = kp(&f, a);
    // A signs, but the user account is B's.
    let mut ix = ix::withdraw(&f.users[a].key(), &f.exchange, &f.users[a].token, USDC);
    ix.accounts[2].pubkey = ix::user_pda(&f.exchange, &f.users[b].key());
    rejects(&mut f, &[ix], &[&ka], AdlError::UserOwnerMismatch).await;
    let mut ix = ix::add_margin(&f.exchange, &f.markets[0], &f.users[a].key(), USDC);
    ix.accounts[6].pubkey = ix::user_pda(&f.exchange, &f.users[b].key());
    rejects(&mut f, &[ix], &[&ka], AdlError::UserOwnerMismatch).await;
}

#[tokio::test]
async fn price_outside_band() {
    let (mut f, a, b) = setup().await;
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    // Band 5 %: 105.000001 is outside, 105 is inside.
    let ix = trade_ix(&f, a, b, BASE, 105_000_001, 20 * USDC, 20 * USDC);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::PriceOutsideBand).await;
    let ix = trade_ix(&f, a, b, -BASE, 94_999_999, 0, 0);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::PriceOutsideBand).await;
}

#[tokio::test]
async fn insufficient_collateral() {
    let (mut f, a, b) = setup().await;
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    let free = f.user_account(a).await.free_collateral;
    let ix = ix::withdraw(&f.users[a].key(), &f.exchange, &f.users[a].token, free + 1);
    rejects(&mut f, &[ix], &[&ka], AdlError::InsufficientCollateral).await;
    let ix = trade_ix(&f, a, b, BASE, price(100), free + 1, 0);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::InsufficientCollateral).await;
    let ix = ix::add_margin(&f.exchange, &f.markets[0], &f.users[a].key(), free + 1);
    rejects(&mut f, &[ix], &[&ka], AdlError::InsufficientCollateral).await;
}

#[tokio::test]
async fn insufficient_margin() {
    let (mut f, a, b) = setup().await;
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    // A (long 1.0, margin 20) buys 3.0 more with no new margin: 4.0 at 100 needs 40.
    let ix = trade_ix(&f, a, b, 3 * BASE, price(100), 0, 40 * USDC);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::InsufficientMargin).await;
    // Removing margin below initial (10 USDC for 1.0 at 100): 20 − 10.000001.
    let ix = ix::remove_margin(&f.exchange, &f.markets[0], &f.users[a].key(), 10_000_001);
    rejects(&mut f, &[ix], &[&ka], AdlError::InsufficientMargin).await;
}

#[tokio::test]
async fn position_bankrupt() {
    let (mut f, a, b) = setup().await;
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    // A: long 1.0 at 100 with 20 margin. Oracle 82: band 77.9–86.1. Closing at 78 realizes
    // −22 > 20 of margin.
    f.set_price(0, price(82), 0).await.unwrap();
    let ix = trade_ix(&f, a, b, -BASE, price(78), 0, 0);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::PositionBankrupt).await;
}

#[tokio::test]
async fn no_open_position() {
    let (mut f, a, b) = setup().await;
    let c = f.add_user(1_000 * USDC, 1_000 * USDC).await;
    let kc = kp(&f, c);
    let ix = ix::add_margin(&f.exchange, &f.markets[0], &f.users[c].key(), USDC);
    rejects(&mut f, &[ix], &[&kc], AdlError::NoOpenPosition).await;
    // Closing a position while asking to add margin to it.
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    let ix = trade_ix(&f, a, b, -BASE, price(100), USDC, 0);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::NoOpenPosition).await;
}

/// Writes a user account whose position reference was altered, to reach the defensive
/// slot checks that no instruction sequence can reach.
async fn corrupt_user_ref(f: &mut Fixture, user: usize, slot: u32) {
    let key = ix::user_pda(&f.exchange, &f.users[user].key());
    let acct = f.bank.account(&key).await.unwrap();
    let mut u: UserAccount = read_zero_copy(&acct.data).unwrap();
    u.positions[0].slot = slot;
    let mut data = acct.data.clone();
    data[8..8 + core::mem::size_of::<UserAccount>()].copy_from_slice(bytemuck::bytes_of(&u));
    f.bank
        .ctx
        .set_account(&key, &Account { data, ..acct }.into());
}

#[tokio::test]
async fn slot_not_owned_and_not_open() {
    let (mut f, a, b) = setup().await;
    let ka = kp(&f, a);
    let s = f.market_snapshot(0).await;
    let slot_b = f.user_account(b).await.position_slot(&s.key).unwrap();
    corrupt_user_ref(&mut f, a, slot_b).await;
    let ix = ix::add_margin(&f.exchange, &f.markets[0], &f.users[a].key(), USDC);
    let r = f.bank.send(&[ix], &[&ka]).await;
    assert_adl_err(r, AdlError::SlotNotOwned);
    // Never used, free: it has no owner. Every instruction of the owner settles its pending
    // obligations and payout first, and that refuses a slot the user does not own.
    corrupt_user_ref(&mut f, a, 5).await;
    let ix = ix::add_margin(&f.exchange, &f.markets[0], &f.users[a].key(), USDC);
    let r = f.bank.send(&[ix], &[&ka]).await;
    assert_adl_err(r, AdlError::SlotNotOwned);
    corrupt_user_ref(&mut f, a, 1_000).await; // past capacity
    let ix = ix::add_margin(&f.exchange, &f.markets[0], &f.users[a].key(), USDC);
    let r = f.bank.send(&[ix], &[&ka]).await;
    assert_adl_err(r, AdlError::SlotNotOpen);
}

#[tokio::test]
async fn book_full() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(2).await;
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let c = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    f.trade(0, a, b, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    let (ka, kc) = (kp(&f, a), kp(&f, c));
    let ix = trade_ix(&f, c, a, BASE, price(100), 20 * USDC, 0);
    rejects(&mut f, &[ix], &[&kc, &ka], AdlError::BookFull).await;
    // Closing frees slots that are then reused.
    f.trade(0, b, a, BASE, price(100), 0, 0).await.unwrap();
    f.trade(0, c, a, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
    assert_eq!(f.market_snapshot(0).await.book.header.high_water, 2);
}

#[tokio::test]
async fn user_positions_full() {
    let mut f = Fixture::new(price(100)).await;
    let a = f.add_user(100_000 * USDC, 10_000 * USDC).await;
    let b = f.add_user(100_000 * USDC, 10_000 * USDC).await;
    for m in 0..=MAX_USER_POSITIONS {
        f.add_market(2).await;
        let r = f
            .send_as(
                &[ix::trade(
                    &f.exchange,
                    &f.markets[m],
                    &f.users[a].key(),
                    &f.users[b].key(),
                    TradeArgs {
                        taker_base: BASE,
                        price: price(100),
                        taker_margin: 20 * USDC,
                        maker_margin: 20 * USDC,
                    },
                )],
                &[a, b],
            )
            .await;
        if m < MAX_USER_POSITIONS {
            r.unwrap();
        } else {
            assert_adl_err(r, AdlError::UserPositionsFull);
        }
    }
    check(&mut f).await;
    assert_eq!(
        f.user_account(a).await.num_positions as usize,
        MAX_USER_POSITIONS
    );
}

#[tokio::test]
async fn self_trade() {
    let (mut f, a, _) = setup().await;
    let ka = kp(&f, a);
    let ix = trade_ix(&f, a, a, BASE, price(100), 10 * USDC, 10 * USDC);
    rejects(&mut f, &[ix], &[&ka], AdlError::SelfTrade).await;
}

#[tokio::test]
async fn math_overflow() {
    let (mut f, a, b) = setup().await;
    let (ka, kb) = (kp(&f, a), kp(&f, b));
    let ix = ix::add_margin(&f.exchange, &f.markets[0], &f.users[a].key(), u64::MAX);
    rejects(&mut f, &[ix], &[&ka], AdlError::MathOverflow).await;
    // Notional above u64: 9.2e18 base atoms at 5000 is 4.6e19 quote atoms.
    f.set_price(0, price(5_000), 0).await.unwrap();
    let ix = trade_ix(&f, a, b, i64::MAX, price(5_000), 0, 0);
    rejects(&mut f, &[ix], &[&ka, &kb], AdlError::MathOverflow).await;
}
