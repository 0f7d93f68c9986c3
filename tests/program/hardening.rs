//! Re-initialization, every pause bit, and arithmetic edges (dust positions, extreme prices
//! and sizes): rejected with a named error and nothing changed, or exact to the atom.

use adl_client::ix::{self, TradeArgs};
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::{custom_error, default_params, price, Fixture, BASE, USDC};
use anchor_lang::solana_program::instruction::Instruction;
use solana_keypair::Keypair;
use solana_signer::Signer;

async fn rejected_unchanged(
    f: &mut Fixture,
    ixs: &[Instruction],
    signers: &[&Keypair],
) -> Option<u32> {
    let before = state_bytes(f).await;
    let err = f
        .bank
        .send(ixs, signers)
        .await
        .expect_err("must be rejected");
    assert_eq!(
        before,
        state_bytes(f).await,
        "a rejected instruction changed state"
    );
    custom_error(&err)
}

#[tokio::test]
async fn nothing_initializes_twice() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(8).await;
    let a = f.add_user(1_000 * USDC, 100 * USDC).await;
    let admin = f.admin_key();
    let (ex, mint) = (f.exchange, f.mint);
    // Exchange, fund, user: the address is in use (the system program's
    // AccountAlreadyInUse inside Anchor's `init`).
    rejected_unchanged(&mut f, &[ix::init_exchange(&admin, &mint)], &[]).await;
    rejected_unchanged(
        &mut f,
        &[ix::init_insurance_fund(&admin, &ex, 1, 1, 1)],
        &[],
    )
    .await;
    let ka = f.users[a].kp.insecure_clone();
    rejected_unchanged(&mut f, &[ix::create_user(&ka.pubkey(), &ex)], &[&ka]).await;
    // A market on a book and queues that already belong to a market: Anchor's `zero`
    // constraint sees their discriminator (ConstraintZero, 2013).
    let m0 = f.markets[0];
    let (ixs, kps, accounts) = f
        .market_instructions(m0.oracle, 8, 8, default_params())
        .await;
    f.bank
        .send(&ixs, &[&kps[0], &kps[1], &kps[2]])
        .await
        .unwrap();
    f.markets.push(accounts);
    let mut again = accounts;
    again.market = ix::market_pda(&ex, 2);
    let ix = ix::init_market(&admin, &ex, &again, default_params());
    assert_eq!(
        rejected_unchanged(&mut f, &[ix], &[&kps[0], &kps[1], &kps[2]]).await,
        Some(2013)
    );
    check(&mut f).await;
}

#[tokio::test]
async fn every_pause_bit_stops_its_instruction() {
    let mut f = Fixture::new(price(100)).await;
    let m = f.add_market(16).await;
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    f.stake(a, 10 * USDC).await.unwrap();
    f.trade(0, a, b, BASE, price(100), 20 * USDC, 20 * USDC)
        .await
        .unwrap();
    let (ex, admin) = (f.exchange, f.admin_key());
    let (ka, kb) = (
        f.users[a].kp.insecure_clone(),
        f.users[b].kp.insecure_clone(),
    );
    let auth = f.oracle_authority.insecure_clone();
    let newbie = Keypair::new();
    let payer = f.admin_key();
    f.bank
        .send(
            &[solana_system_interface::instruction::transfer(
                &payer,
                &newbie.pubkey(),
                100_000_000,
            )],
            &[],
        )
        .await
        .unwrap();
    let sa = f.slot_of(0, a).await.unwrap();
    let ta = f.users[a].token;
    let cases: Vec<(PauseBit, Instruction, Vec<&Keypair>)> = vec![
        (
            PauseBit::Deposit,
            ix::deposit(&ka.pubkey(), &ex, &ta, USDC),
            vec![&ka],
        ),
        (
            PauseBit::Withdraw,
            ix::withdraw(&ka.pubkey(), &ex, &ta, USDC),
            vec![&ka],
        ),
        (
            PauseBit::Trade,
            ix::trade(
                &ex,
                &m,
                &ka.pubkey(),
                &kb.pubkey(),
                TradeArgs {
                    taker_base: BASE,
                    price: price(100),
                    taker_margin: 20 * USDC,
                    maker_margin: 20 * USDC,
                },
            ),
            vec![&ka, &kb],
        ),
        (
            PauseBit::AddMargin,
            ix::add_margin(&ex, &m, &ka.pubkey(), USDC),
            vec![&ka],
        ),
        (
            PauseBit::RemoveMargin,
            ix::remove_margin(&ex, &m, &ka.pubkey(), USDC),
            vec![&ka],
        ),
        (
            PauseBit::CreateUser,
            ix::create_user(&newbie.pubkey(), &ex),
            vec![&newbie],
        ),
        (
            PauseBit::SetOraclePrice,
            ix::set_oracle_price(&auth.pubkey(), &ex, &m.oracle, price(100), 0),
            vec![&auth],
        ),
        (
            PauseBit::Liquidate,
            ix::liquidate(&ex, &m, &ka.pubkey(), &kb.pubkey(), sa, BASE as u64, 0),
            vec![&kb],
        ),
        (
            PauseBit::StartAdl,
            ix::start_adl(&ex, &m, &ka.pubkey(), sa),
            vec![],
        ),
        (
            PauseBit::AutoDeleverage,
            ix::auto_deleverage(&ex, &m, 0, 0, vec![sa]),
            vec![],
        ),
        (
            PauseBit::Stake,
            ix::if_stake(&ka.pubkey(), &ex, &ta, USDC),
            vec![&ka],
        ),
        (
            PauseBit::Unstake,
            ix::if_request_unstake(&ka.pubkey(), &ex, &ta, 1),
            vec![&ka],
        ),
        (
            PauseBit::ClaimPayout,
            ix::claim_adl_payout(&ex, &m, &ka.pubkey()),
            vec![],
        ),
        (PauseBit::UpdateFunding, ix::update_funding(&ex, &m), vec![]),
    ];
    for (bit, ix, signers) in cases {
        f.bank
            .send(&[ix::set_paused(&admin, &ex, bit.mask())], &[])
            .await
            .unwrap();
        let code = rejected_unchanged(&mut f, &[ix], &signers).await;
        assert_eq!(
            code,
            Some(adl_harness::fixture::code(AdlError::InstructionPaused)),
            "{bit:?}"
        );
    }
    f.bank
        .send(&[ix::set_paused(&admin, &ex, 0)], &[])
        .await
        .unwrap();
    check(&mut f).await;
}

#[tokio::test]
async fn dust_and_extreme_values() {
    // A price of one atom per whole unit, and positions of one base atom (a market whose
    // minimum trade and position sizes are one atom).
    let mut f = Fixture::new(1).await;
    f.try_add_market(
        16,
        adl_engine::state::MarketParamsArgs {
            min_trade_base: 1,
            min_position_base: 1,
            ..default_params()
        },
    )
    .await
    .unwrap();
    let a = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    let b = f.add_user(10_000 * USDC, 1_000 * USDC).await;
    // 1 atom at price 1: notional 0, fees 0. The requirement rounds up to one atom and the
    // short's value rounds down to −1 atom, so two atoms of margin are needed.
    f.trade(0, a, b, 1, 1, 2, 2).await.unwrap();
    check(&mut f).await;
    let s = f.market_snapshot(0).await;
    let p = s.book.slots[f.slot_of(0, a).await.unwrap() as usize];
    assert_eq!((p.base, p.cost_basis, p.margin), (1, 0, 2));
    // K = (0 − 2)·1e9/1 = −2e9: a bankruptcy price far below zero (it cannot go bankrupt);
    // the long's sort key is −K.
    assert_eq!(s.long_queue.by_leverage[0].key, 2_000_000_000);
    f.trade(0, a, b, -1, 1, 0, 0).await.unwrap();
    check(&mut f).await;
    assert_eq!(f.user_account(a).await.num_positions, 0);
    // A huge price (9.2e12 per unit) trades without overflow at a small size (one base
    // atom: notional 9,223.37 USDC, initial margin 922.34)…
    f.set_price(0, u64::MAX / 2, 0).await.unwrap();
    f.trade(0, a, b, 1, u64::MAX / 2, 950 * USDC, 950 * USDC)
        .await
        .unwrap();
    check(&mut f).await;
    // …and overflows with a named error, changing nothing, at a large one.
    let ix = ix::trade(
        &f.exchange,
        &f.markets[0],
        &f.users[a].key(),
        &f.users[b].key(),
        TradeArgs {
            taker_base: i64::MAX / 2,
            price: u64::MAX / 2,
            taker_margin: 0,
            maker_margin: 0,
        },
    );
    let (ka, kb) = (
        f.users[a].kp.insecure_clone(),
        f.users[b].kp.insecure_clone(),
    );
    let before = state_bytes(&mut f).await;
    assert_adl_err(
        f.bank.send(&[ix], &[&ka, &kb]).await,
        AdlError::MathOverflow,
    );
    assert_eq!(before, state_bytes(&mut f).await);
    // i64::MIN as a size is refused outright (its absolute value does not exist).
    let ix = ix::trade(
        &f.exchange,
        &f.markets[0],
        &ka.pubkey(),
        &kb.pubkey(),
        TradeArgs {
            taker_base: i64::MIN,
            price: u64::MAX / 2,
            taker_margin: 0,
            maker_margin: 0,
        },
    );
    assert_adl_err(
        f.bank.send(&[ix], &[&ka, &kb]).await,
        AdlError::MathOverflow,
    );
    check(&mut f).await;
}
