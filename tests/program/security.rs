//! Account substitution (sealevel checklist): for every instruction, every account it takes
//! is replaced in turn by a wrong one — the other market's account of the same role, another
//! exchange's, another user's, an uninitialized key, another program — and every such
//! transaction must fail with a named error and leave every account unchanged. The untouched
//! instruction then succeeds, so each failure was the substitution's.

use adl_client::ix::{self, TradeArgs};
use adl_engine::state::*;
use adl_engine_tests::{check, state_bytes};
use adl_harness::fixture::{custom_error, price, Fixture, BASE, USDC};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::adl::example;

/// Accounts a substitution may use, by role.
struct Pool {
    other_market: ix::MarketAccounts,
    other_exchange: Pubkey,
    other_oracle: Pubkey,
    other_user: Pubkey,
    other_token: Pubkey,
    other_signer: Keypair,
}

/// Candidates for replacing `key`: accounts of the same role elsewhere (unless `generic_only`),
/// plus generic wrong ones. Never `key` itself.
fn candidates(
    pool: &Pool,
    key: &Pubkey,
    m: &ix::MarketAccounts,
    generic_only: bool,
) -> Vec<Pubkey> {
    let same_role = if *key == m.market {
        vec![pool.other_market.market]
    } else if *key == m.book {
        vec![pool.other_market.book, m.long_queue]
    } else if *key == m.long_queue {
        vec![pool.other_market.long_queue, m.short_queue]
    } else if *key == m.short_queue {
        vec![pool.other_market.short_queue, m.long_queue]
    } else if *key == m.oracle {
        vec![pool.other_oracle]
    } else {
        vec![pool.other_exchange, pool.other_user, pool.other_token]
    };
    let mut out = if generic_only { vec![] } else { same_role };
    out.extend([
        Pubkey::new_unique(),
        anchor_lang::system_program::ID,
        ix::PROGRAM_ID,
    ]);
    out.retain(|c| c != key);
    out
}

/// Substitutes every non-signer account of `ix` and every signer (with another keypair).
/// At `choice` indices the caller legitimately chooses among accounts of that role (another
/// market of the exchange, any oracle of the authority…): only generic wrong accounts —
/// uninitialized, the system program, the program itself — are tried there.
async fn all_substitutions_fail(
    f: &mut Fixture,
    pool: &Pool,
    name: &str,
    ix: Instruction,
    signers: &[&Keypair],
    choice: &[usize],
) {
    let m = f.markets[0];
    for i in 0..ix.accounts.len() {
        let meta = ix.accounts[i].clone();
        let subs: Vec<(Pubkey, Option<&Keypair>)> = if meta.is_signer {
            vec![(pool.other_signer.pubkey(), Some(&pool.other_signer))]
        } else {
            candidates(pool, &meta.pubkey, &m, choice.contains(&i))
                .into_iter()
                .map(|k| (k, None))
                .collect()
        };
        for (sub, kp) in subs {
            let mut bad = ix.clone();
            bad.accounts[i].pubkey = sub;
            let mut s: Vec<&Keypair> = signers
                .iter()
                .copied()
                .filter(|k| k.pubkey() != meta.pubkey)
                .collect();
            if let Some(kp) = kp {
                s.push(kp);
            }
            let before = state_bytes(f).await;
            let r = f.bank.send(&[bad], &s).await;
            let Err(e) = r else {
                panic!("{name}: account {i} replaced by {sub} was accepted");
            };
            assert!(
                custom_error(&e).is_some()
                    || e.to_string().contains("Error processing Instruction"),
                "{name}: account {i}: not a program error: {e}"
            );
            assert_eq!(
                before,
                state_bytes(f).await,
                "{name}: account {i} substitution changed state"
            );
        }
    }
    f.bank
        .send(&[ix], signers)
        .await
        .unwrap_or_else(|e| panic!("{name}: the valid instruction failed: {e}"));
    check(f).await;
}

#[tokio::test]
async fn every_account_of_every_instruction_is_checked() {
    let mut e = example().await;
    let f = &mut e.f;
    f.add_market(16).await;
    let other_market = f.markets[1];
    let other_oracle = f.add_oracle(price(115)).await;
    // Another exchange (another admin) for cross-exchange substitution.
    let admin2 = Keypair::new();
    let payer = f.admin_key();
    f.bank
        .send(
            &[solana_system_interface::instruction::transfer(
                &payer,
                &admin2.pubkey(),
                1_000_000_000,
            )],
            &[],
        )
        .await
        .unwrap();
    let mint = f.mint;
    f.bank
        .send(&[ix::init_exchange(&admin2.pubkey(), &mint)], &[&admin2])
        .await
        .unwrap();
    let other_exchange = ix::exchange_pda(&admin2.pubkey());
    let pool = Pool {
        other_market,
        other_exchange,
        other_oracle,
        other_user: ix::user_pda(&f.exchange, &f.users[e.m].key()),
        other_token: f.users[e.m].token,
        other_signer: f.users[e.m].kp.insecure_clone(),
    };
    let m = f.markets[0];
    let ex = f.exchange;
    let k = |u: usize| f.users[u].kp.insecure_clone();
    let (l1, l2, l3, x) = (k(e.l1), k(e.l2), k(e.l3), k(e.x));
    let admin = f.admin.insecure_clone();
    let auth = f.oracle_authority.insecure_clone();
    let staker = k(e.staker);
    let user_key = |f: &Fixture, u: usize| f.users[u].key();

    // Trading and collateral.
    let ix = ix::deposit(&staker.pubkey(), &ex, &f.users[e.staker].token, 2 * USDC);
    all_substitutions_fail(f, &pool, "deposit", ix, &[&staker], &[]).await;
    // The destination of a withdrawal is the owner's choice (any account of the mint).
    let ix = ix::withdraw(&staker.pubkey(), &ex, &f.users[e.staker].token, USDC);
    all_substitutions_fail(f, &pool, "withdraw", ix, &[&staker], &[4]).await;
    let ix = ix::trade(
        &ex,
        &m,
        &l1.pubkey(),
        &l3.pubkey(),
        TradeArgs {
            taker_base: BASE / 10,
            price: price(115),
            taker_margin: 5 * USDC,
            maker_margin: 5 * USDC,
        },
    );
    all_substitutions_fail(f, &pool, "trade", ix, &[&l1, &l3], &[]).await;
    let ix = ix::add_margin(&ex, &m, &l2.pubkey(), USDC);
    all_substitutions_fail(f, &pool, "add_margin", ix, &[&l2], &[]).await;
    let ix = ix::remove_margin(&ex, &m, &l2.pubkey(), USDC);
    all_substitutions_fail(f, &pool, "remove_margin", ix, &[&l2], &[]).await;
    // Admin and oracle.
    // The authority may publish to any of its oracles: the oracle account is its choice.
    let ix = ix::set_oracle_price(&auth.pubkey(), &ex, &m.oracle, price(115), 0);
    all_substitutions_fail(f, &pool, "set_oracle_price", ix, &[&auth], &[2]).await;
    let ix = ix::update_market_params(
        &admin.pubkey(),
        &ex,
        &m.market,
        adl_harness::fixture::default_params(),
    );
    all_substitutions_fail(f, &pool, "update_market_params", ix, &[&admin], &[2]).await;
    let ix = ix::set_paused(&admin.pubkey(), &ex, 0);
    all_substitutions_fail(f, &pool, "set_paused", ix, &[&admin], &[]).await;
    let ix = ix::set_adl_mode(&admin.pubkey(), &ex, &m.market, ADL_MODE_RANKED_QUEUE);
    all_substitutions_fail(f, &pool, "set_adl_mode", ix, &[&admin], &[2]).await;
    let ix = ix::update_funding(&ex, &m);
    f.bank.warp(2).await;
    f.set_price(0, price(115), 0).await.unwrap();
    // Cranks serve whichever market the caller names (its oracle must match it).
    all_substitutions_fail(f, &pool, "update_funding", ix, &[], &[1]).await;
    let ix = ix::sweep_fees(&ex, &m.market);
    all_substitutions_fail(f, &pool, "sweep_fees", ix, &[], &[1]).await;
    // Insurance.
    let ix = ix::if_stake(&staker.pubkey(), &ex, &f.users[e.staker].token, USDC);
    all_substitutions_fail(f, &pool, "if_stake", ix, &[&staker], &[]).await;
    // The staker's token account is its choice (the source of a stake must be signed for by
    // its owner, the SPL Token program checks that); requests do not move tokens.
    let ix = ix::if_request_unstake(&staker.pubkey(), &ex, &f.users[e.staker].token, 1);
    all_substitutions_fail(f, &pool, "if_request_unstake", ix, &[&staker], &[5]).await;
    // Bankruptcy and ADL: X is bankrupt at 115.
    let xs = f.slot_of(0, e.x).await.unwrap();
    let ix = ix::flag_bankrupt(&ex, &m, xs);
    all_substitutions_fail(f, &pool, "flag_bankrupt", ix, &[], &[]).await;
    let ix = ix::start_adl(&ex, &m, &x.pubkey(), xs);
    all_substitutions_fail(f, &pool, "start_adl", ix, &[], &[]).await;
    let s = f.market_snapshot(0).await;
    let ev = s.market.adl_events[0];
    let slots: Vec<u32> = s
        .next_adl_counterparties(0, 2)
        .iter()
        .map(|p| p.slot)
        .collect();
    let ix = ix::auto_deleverage(&ex, &m, 0, ev.id, slots);
    all_substitutions_fail(f, &pool, "auto_deleverage", ix, &[], &[]).await;
    let ix = ix::claim_adl_payout(&ex, &m, &user_key(f, e.l1));
    all_substitutions_fail(f, &pool, "claim_adl_payout", ix, &[], &[]).await;
    // Liquidation: L4 (2.0 at 115, margin 50) at 90 is below maintenance.
    f.set_price(0, price(90), 0).await.unwrap();
    let l4s = f.slot_of(0, e.l4).await.unwrap();
    let ix = ix::liquidate(
        &ex,
        &m,
        &user_key(f, e.l4),
        &l2.pubkey(),
        l4s,
        BASE as u64,
        60 * USDC,
    );
    all_substitutions_fail(f, &pool, "liquidate", ix, &[&l2], &[]).await;
}
