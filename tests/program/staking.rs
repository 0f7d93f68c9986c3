//! Unstaking at the exchange's market limit: every market is checked for losses (flags and
//! the heads of its queues at a fresh oracle price) in pages that fit Solana's packet, within
//! `UNSTAKE_CHECK_SLOTS`; a round that is incomplete or too old does not pay.

use adl_client::ix::{self, MarketAccounts};
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check};
use adl_harness::fixture::{default_params, price, Fixture, UNSTAKE_COOLDOWN_SLOTS, USDC};
use anchor_lang::solana_program::instruction::Instruction;
use solana_keypair::Keypair;
use solana_signer::Signer;
use solana_transaction::Transaction;

const PACKET: usize = 1_232;

/// Serialized size of a signed transaction of `ixs` paid by `payer` (with a compute-budget
/// instruction, as clients send on a cluster).
fn size(ixs: &[Instruction], payer: &Keypair) -> usize {
    let mut all = vec![
        solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(
            1_400_000,
        ),
    ];
    all.extend_from_slice(ixs);
    let tx = Transaction::new_signed_with_payer(
        &all,
        Some(&payer.pubkey()),
        &[payer],
        solana_hash::Hash::default(),
    );
    bincode::serialize(&tx).unwrap().len()
}

/// An exchange with `n` markets, each with its own oracle, and a staker holding a matured
/// unstake request of its whole stake (100 USDC).
async fn exchange_with_markets(n: usize) -> (Fixture, usize) {
    let mut f = Fixture::new(price(100)).await;
    for i in 0..n {
        let oracle = if i == 0 {
            f.oracles[0]
        } else {
            f.add_oracle(price(100)).await
        };
        let (ixs, kps, m) = f.market_instructions(oracle, 2, 2, default_params()).await;
        f.bank
            .send(&ixs, &[&kps[0], &kps[1], &kps[2]])
            .await
            .unwrap();
        f.markets.push(m);
    }
    let s = f.add_user(1_000 * USDC, 0).await;
    f.stake(s, 100 * USDC).await.unwrap();
    let (k, t) = (f.users[s].key(), f.users[s].token);
    let ix = ix::if_request_unstake(&k, &f.exchange, &t, 100_000 * USDC);
    f.send_as(&[ix], &[s]).await.unwrap();
    f.bank.warp(UNSTAKE_COOLDOWN_SLOTS).await;
    (f, s)
}

/// Refreshes every oracle's price.
async fn refresh(f: &mut Fixture) {
    for i in 0..f.oracles.len() {
        f.set_price(i, price(100), 0).await.unwrap();
    }
}

#[tokio::test]
async fn unstake_checks_every_market_at_the_market_limit() {
    let (mut f, s) = exchange_with_markets(MAX_MARKETS as usize).await;
    // The limit holds: one more market is refused by name.
    let (ixs, kps, _) = f
        .market_instructions(f.oracles[0], 2, 2, default_params())
        .await;
    assert_adl_err(
        f.bank.send(&ixs, &[&kps[0], &kps[1], &kps[2]]).await,
        AdlError::MarketLimitReached,
    );
    refresh(&mut f).await;
    let (k, t) = (f.users[s].key(), f.users[s].token);
    let kp = f.users[s].kp.insecure_clone();
    let markets: Vec<MarketAccounts> = f.markets.clone();
    // The largest page of (market, oracle) pairs that fits a packet, paid by the staker.
    let page = (1..=MAX_MARKETS as usize)
        .take_while(|&n| {
            size(&[ix::if_check_markets(&k, &f.exchange, &markets[..n])], &kp) <= PACKET
        })
        .last()
        .unwrap();
    let last = (1..=MAX_MARKETS as usize)
        .take_while(|&n| size(&[ix::if_unstake(&k, &f.exchange, &t, &markets[..n])], &kp) <= PACKET)
        .last()
        .unwrap();
    assert!(page >= 12 && last >= 11, "page {page}, last {last}");
    // Pages of if_check_markets, then if_unstake with the rest: all within one check round.
    let per_tx = page.min(last);
    let ixs = ix::unstake_in_pages(&k, &f.exchange, &t, &markets, per_tx);
    let txs = ixs.len();
    for ix in &ixs {
        assert!(size(std::slice::from_ref(ix), &kp) <= PACKET);
    }
    let (pages, unstake) = ixs.split_at(txs - 1);
    let mut at = 0;
    for ix in pages {
        f.send_as(std::slice::from_ref(ix), &[s]).await.unwrap();
        at += per_tx;
        assert_eq!(
            f.stake_account(s).await.unwrap().checked_markets as usize,
            at
        );
    }
    // Out of order (a page that skips a market) is refused by name.
    let skip = ix::if_unstake(&k, &f.exchange, &t, &markets[at + 1..]);
    assert_adl_err(f.send_as(&[skip], &[s]).await, AdlError::MarketListMismatch);
    let before = f.token_balance(&t).await;
    f.send_as(unstake, &[s]).await.unwrap();
    check(&mut f).await;
    assert_eq!(f.token_balance(&t).await, before + 100 * USDC);
    assert_eq!(f.stake_account(s).await.unwrap().checked_markets, 0);
    println!(
        "unstake at {} markets: pages of {page} (if_check_markets), last {last} \
         (if_unstake); {txs} transactions",
        MAX_MARKETS
    );
}

#[tokio::test]
async fn a_check_round_expires_after_unstake_check_slots() {
    let (mut f, s) = exchange_with_markets(3).await;
    let (k, t) = (f.users[s].key(), f.users[s].token);
    let markets = f.markets.clone();
    let ix = ix::if_check_markets(&k, &f.exchange, &markets);
    f.send_as(&[ix], &[s]).await.unwrap();
    assert_eq!(f.stake_account(s).await.unwrap().checked_markets, 3);
    // Too late: the round is older than UNSTAKE_CHECK_SLOTS; unstaking needs a new round.
    f.bank.warp(UNSTAKE_CHECK_SLOTS + 1).await;
    refresh(&mut f).await;
    let bare = ix::if_unstake(&k, &f.exchange, &t, &[]);
    assert_adl_err(
        f.send_as(std::slice::from_ref(&bare), &[s]).await,
        AdlError::UnstakeCheckIncomplete,
    );
    // A partial round does not pay either.
    let ix = ix::if_check_markets(&k, &f.exchange, &markets[..2]);
    f.send_as(&[ix], &[s]).await.unwrap();
    assert_adl_err(
        f.send_as(&[bare], &[s]).await,
        AdlError::UnstakeCheckIncomplete,
    );
    // Checking with no markets given is refused by name.
    let empty = ix::if_check_markets(&k, &f.exchange, &[]);
    assert_adl_err(
        f.send_as(&[empty], &[s]).await,
        AdlError::MarketListMismatch,
    );
    let ix = ix::if_unstake(&k, &f.exchange, &t, &markets[2..]);
    f.send_as(&[ix], &[s]).await.unwrap();
    check(&mut f).await;
}
