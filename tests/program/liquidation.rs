//! Liquidation (partial, bankrupt with the fund paying), the insurance fund's staking and
//! the staker race, the bankruptcy flag and grace period, the event ring, and the errors of
//! these instructions — exact atoms throughout, invariants after every step.

use adl_client::ix;
use adl_engine::error::AdlError;
use adl_engine::state::*;
use adl_engine_tests::{assert_adl_err, check, state_bytes};
use adl_harness::fixture::{price, Fixture, BASE, UNSTAKE_COOLDOWN_SLOTS, USDC};
use anchor_lang::solana_program::instruction::Instruction;

/// A long 10.0 at 100 with 100 margin (10x) against B; C is a liquidator with 1,000.
async fn setup() -> (Fixture, usize, usize, usize) {
    adl_engine_tests::ten_x_long().await
}

fn liq(
    f: &Fixture,
    owner: usize,
    liquidator: usize,
    slot: u32,
    base: u64,
    margin: u64,
) -> Instruction {
    ix::liquidate(
        &f.exchange,
        &f.markets[0],
        &f.users[owner].key(),
        &f.users[liquidator].key(),
        slot,
        base,
        margin,
    )
}

async fn rejects(f: &mut Fixture, ix: Instruction, signers: &[usize], e: AdlError) {
    let before = state_bytes(f).await;
    assert_adl_err(f.send_as(&[ix], signers).await, e);
    assert_eq!(before, state_bytes(f).await, "{e:?} changed state");
}

#[tokio::test]
async fn partial_liquidation_exact_atoms() {
    let (mut f, a, _, c) = setup().await;
    let sa = f.slot_of(0, a).await.unwrap();
    // At 100 A is healthy.
    let ix = liq(&f, a, c, sa, 4 * BASE as u64, 50 * USDC);
    rejects(&mut f, ix, &[c], AdlError::NotLiquidatable).await;
    // At 94.5: equity 100 + 945 − 1,000 = 45 < maintenance 47.25.
    f.set_price(0, 94_500_000, 0).await.unwrap();
    let a_free = f.user_account(a).await.free_collateral;
    let c_free = f.user_account(c).await.free_collateral;
    let ix = liq(&f, a, a, sa, BASE as u64, 0);
    rejects(&mut f, ix, &[a], AdlError::CannotLiquidateSelf).await;
    let ix = liq(&f, a, c, sa, 0, 50 * USDC);
    rejects(&mut f, ix, &[c], AdlError::ZeroAmount).await;
    f.send_as(&[liq(&f, a, c, sa, 4 * BASE as u64, 50 * USDC)], &[c])
        .await
        .unwrap();
    check(&mut f).await;
    // 4.0 at 94.5 = 378. A: cost removed 400, PnL −22, margin released 40 → 18; fee 1 % of
    // 378 = 3.78 → A receives 14.22. Fee split: fund 1.89, liquidator 1.89.
    let s = f.market_snapshot(0).await;
    let p = s.book.slots[sa as usize];
    assert_eq!(
        (p.base, p.cost_basis, p.margin),
        (6 * BASE, 600_000_000, 60_000_000)
    );
    assert_eq!(f.user_account(a).await.free_collateral, a_free + 14_220_000);
    assert_eq!(
        f.user_account(c).await.free_collateral,
        c_free - 50 * USDC + 1_890_000
    );
    let sc = f.slot_of(0, c).await.unwrap();
    let pc = s.book.slots[sc as usize];
    assert_eq!(
        (pc.base, pc.cost_basis, pc.margin),
        (4 * BASE, 378_000_000, 50_000_000)
    );
    let fund = f.fund().await;
    assert_eq!((fund.balance, fund.total_earned), (1_890_000, 1_890_000));
}

#[tokio::test]
async fn bankrupt_liquidation_paid_by_the_fund() {
    let (mut f, a, _, c) = setup().await;
    let s1 = f.add_user(1_000 * USDC, 0).await;
    f.stake(s1, 100 * USDC).await.unwrap();
    let sa = f.slot_of(0, a).await.unwrap();
    // At 89: equity 100 + 890 − 1,000 = −10. Liquidation takes all 10.0 even when asked for 1.
    f.set_price(0, price(89), 0).await.unwrap();
    let a_free = f.user_account(a).await.free_collateral;
    let c_free = f.user_account(c).await.free_collateral;
    f.send_as(&[liq(&f, a, c, sa, BASE as u64, 100 * USDC)], &[c])
        .await
        .unwrap();
    check(&mut f).await;
    // Deficit 10 + liquidator's half of the 8.9 fee = 14.45 paid by the fund.
    let fund = f.fund().await;
    assert_eq!(
        (fund.balance, fund.total_paid),
        (100 * USDC - 14_450_000, 14_450_000)
    );
    assert_eq!(f.user_account(a).await.free_collateral, a_free);
    assert_eq!(f.user_account(a).await.num_positions, 0);
    assert_eq!(
        f.user_account(c).await.free_collateral,
        c_free - 100 * USDC + 4_450_000
    );
    let s = f.market_snapshot(0).await;
    let pc = s.book.slots[f.slot_of(0, c).await.unwrap() as usize];
    assert_eq!(
        (pc.base, pc.cost_basis, pc.margin),
        (10 * BASE, 890_000_000, 100_000_000)
    );
}

#[tokio::test]
async fn insufficient_insurance_and_start_adl_conditions() {
    let (mut f, a, _, c) = setup().await;
    let s1 = f.add_user(1_000 * USDC, 0).await;
    f.stake(s1, 5 * USDC).await.unwrap();
    let sa = f.slot_of(0, a).await.unwrap();
    let m = f.markets[0];
    let start = |f: &Fixture| ix::start_adl(&f.exchange, &m, &f.users[a].key(), sa);
    // Healthy: not bankrupt.
    let ix = start(&f);
    rejects(&mut f, ix, &[], AdlError::NotBankrupt).await;
    // At 89 the deficit is 10 (+ 4.45 fee): the fund's 5 cannot pay — liquidation fails…
    f.set_price(0, price(89), 0).await.unwrap();
    let ix = liq(&f, a, c, sa, 10 * BASE as u64, 100 * USDC);
    rejects(&mut f, ix, &[c], AdlError::InsufficientInsurance).await;
    // …and with 100 more staked the fund covers it, so ADL may not start.
    let s2 = f.add_user(1_000 * USDC, 0).await;
    f.stake(s2, 100 * USDC).await.unwrap();
    let ix = start(&f);
    rejects(&mut f, ix, &[], AdlError::InsuranceCanCover).await;
    // The grace period: flag now, wait 50 slots, then ADL may start although the fund
    // could pay (no liquidator came).
    let ix = ix::flag_bankrupt(&f.exchange, &m, sa);
    f.bank.send(&[ix], &[]).await.unwrap();
    let since = f.market_snapshot(0).await.book.slots[sa as usize].bankrupt_since_slot;
    assert!(since > 0);
    f.bank.warp(49).await;
    f.set_price(0, price(89), 0).await.unwrap();
    let ix = start(&f);
    rejects(&mut f, ix, &[], AdlError::InsuranceCanCover).await;
    f.bank.warp(2).await;
    f.set_price(0, price(89), 0).await.unwrap();
    let ix = start(&f);
    f.bank.send(&[ix], &[]).await.unwrap();
    check(&mut f).await;
    let ev = f.market_snapshot(0).await.market.adl_events[0];
    // The fund paid the whole deficit (10): P_exec = (1,000 − 110)/10 = 89, the oracle price.
    assert_eq!((ev.fund_paid, ev.exec_price), (10 * USDC, price(89)));
}

#[tokio::test]
async fn bankruptcy_flag_set_and_cleared() {
    let (mut f, a, _, _) = setup().await;
    let sa = f.slot_of(0, a).await.unwrap();
    let m = f.markets[0];
    f.set_price(0, price(89), 0).await.unwrap();
    f.bank
        .send(&[ix::flag_bankrupt(&f.exchange, &m, sa)], &[])
        .await
        .unwrap();
    let since = f.market_snapshot(0).await.book.slots[sa as usize].bankrupt_since_slot;
    assert!(since > 0);
    // A second flag keeps the first stamp.
    f.bank.warp(3).await;
    f.set_price(0, price(89), 0).await.unwrap();
    f.bank
        .send(&[ix::flag_bankrupt(&f.exchange, &m, sa)], &[])
        .await
        .unwrap();
    assert_eq!(
        f.market_snapshot(0).await.book.slots[sa as usize].bankrupt_since_slot,
        since
    );
    // Recovered: cleared.
    f.set_price(0, price(95), 0).await.unwrap();
    f.bank
        .send(&[ix::flag_bankrupt(&f.exchange, &m, sa)], &[])
        .await
        .unwrap();
    assert_eq!(
        f.market_snapshot(0).await.book.slots[sa as usize].bankrupt_since_slot,
        0
    );
    check(&mut f).await;
    // A free slot cannot be flagged.
    let ix = ix::flag_bankrupt(&f.exchange, &m, 9);
    assert_adl_err(f.bank.send(&[ix], &[]).await, AdlError::SlotNotOpen);
}

#[tokio::test]
async fn staker_race_pays_the_lower_value() {
    let (mut f, a, _, c) = setup().await;
    let s1 = f.add_user(1_000 * USDC, 0).await;
    let s2 = f.add_user(1_000 * USDC, 0).await;
    f.stake(s1, 60 * USDC).await.unwrap();
    f.stake(s2, 40 * USDC).await.unwrap();
    check(&mut f).await;
    let stake_ix = |f: &Fixture, u: usize, what: u8, n: u64| {
        let (k, t) = (f.users[u].key(), f.users[u].token);
        match what {
            0 => ix::if_request_unstake(&k, &f.exchange, &t, n),
            1 => ix::if_cancel_unstake(&k, &f.exchange, &t),
            _ => ix::if_unstake(&k, &f.exchange, &t, &[f.markets[0]]),
        }
    };
    // The first stake mints 1,000 shares per atom (virtual-share offset).
    let ix = stake_ix(&f, s1, 0, 60_000 * USDC + 1);
    rejects(&mut f, ix, &[s1], AdlError::InsufficientShares).await;
    let ix = stake_ix(&f, s1, 1, 0);
    rejects(&mut f, ix, &[s1], AdlError::NoUnstakePending).await;
    let ix = stake_ix(&f, s1, 2, 0);
    rejects(&mut f, ix, &[s1], AdlError::NoUnstakePending).await;
    // S1 asks to leave with all its shares while the fund is whole: value 60.
    f.send_as(&[stake_ix(&f, s1, 0, 60_000 * USDC)], &[s1])
        .await
        .unwrap();
    let st = f.stake_account(s1).await.unwrap();
    assert_eq!(
        (st.pending_shares, st.pending_value),
        (60_000 * USDC, 60 * USDC)
    );
    let ix = stake_ix(&f, s1, 0, 1);
    rejects(&mut f, ix, &[s1], AdlError::UnstakeAlreadyPending).await;
    // A bankruptcy costs the fund 14.45 before the cooldown ends.
    let sa = f.slot_of(0, a).await.unwrap();
    f.set_price(0, price(89), 0).await.unwrap();
    f.send_as(&[liq(&f, a, c, sa, BASE as u64, 100 * USDC)], &[c])
        .await
        .unwrap();
    check(&mut f).await;
    let ix = stake_ix(&f, s1, 2, 0);
    rejects(&mut f, ix, &[s1], AdlError::UnstakeCooldownActive).await;
    f.bank.warp(UNSTAKE_COOLDOWN_SLOTS).await;
    let t1 = f.users[s1].token;
    let before = f.token_balance(&t1).await;
    f.send_as(&[stake_ix(&f, s1, 2, 0)], &[s1]).await.unwrap();
    check(&mut f).await;
    // Now worth 60 % of 85.55 = 51.33 < 60: S1 gets 51.33 and bears its share of the loss.
    assert_eq!(f.token_balance(&t1).await, before + 51_330_000);
    let fund = f.fund().await;
    assert_eq!(
        (fund.balance, fund.total_shares),
        (34_220_000, 40_000 * USDC)
    );
    // S2 asks when its shares are worth 34.22; fees then raise the fund; S2 still gets 34.22.
    f.send_as(&[stake_ix(&f, s2, 0, 40_000 * USDC)], &[s2])
        .await
        .unwrap();
    let fees = f.market_snapshot(0).await.market.fee_pool;
    assert!(fees > 0);
    f.bank
        .send(&[ix::sweep_fees(&f.exchange, &f.markets[0].market)], &[])
        .await
        .unwrap();
    assert_eq!(f.fund().await.balance, 34_220_000 + fees);
    f.bank.warp(UNSTAKE_COOLDOWN_SLOTS).await;
    // Unstaking checks the market at a fresh oracle price.
    f.set_price(0, price(89), 0).await.unwrap();
    let t2 = f.users[s2].token;
    let before = f.token_balance(&t2).await;
    f.send_as(&[stake_ix(&f, s2, 2, 0)], &[s2]).await.unwrap();
    check(&mut f).await;
    assert_eq!(f.token_balance(&t2).await, before + 34_220_000);
    assert_eq!(f.fund().await.balance, fees);
    // Cancelling keeps the shares.
    f.stake(s1, 10 * USDC).await.unwrap();
    let half = f.stake_account(s1).await.unwrap().shares / 2;
    f.send_as(&[stake_ix(&f, s1, 0, half)], &[s1])
        .await
        .unwrap();
    f.send_as(&[stake_ix(&f, s1, 1, 0)], &[s1]).await.unwrap();
    let st = f.stake_account(s1).await.unwrap();
    assert_eq!(st.pending_shares, 0);
    assert!(st.shares > 0);
    check(&mut f).await;
}

#[tokio::test]
async fn event_ring_full_and_nothing_to_claim() {
    let mut f = Fixture::new(price(100)).await;
    f.add_market(32).await;
    let long = f.add_user(10_000 * USDC, 5_000 * USDC).await;
    let mut shorts = vec![];
    for _ in 0..=ADL_EVENT_RING {
        let s = f.add_user(1_000 * USDC, 100 * USDC).await;
        f.trade(0, s, long, -BASE, price(100), 10 * USDC, 50 * USDC)
            .await
            .unwrap();
        shorts.push(s);
    }
    let ix = ix::claim_adl_payout(&f.exchange, &f.markets[0], &f.users[long].key());
    assert_adl_err(f.bank.send(&[ix], &[]).await, AdlError::NothingToClaim);
    // At 115 every short is bankrupt (10 − 15 = −5) and the fund is empty.
    f.set_price(0, price(115), 0).await.unwrap();
    let m = f.markets[0];
    for (i, &s) in shorts.iter().enumerate() {
        let slot = f.slot_of(0, s).await.unwrap();
        let ix = ix::start_adl(&f.exchange, &m, &f.users[s].key(), slot);
        let r = f.bank.send(&[ix], &[]).await;
        if i < ADL_EVENT_RING {
            r.unwrap();
            check(&mut f).await;
        } else {
            assert_adl_err(r, AdlError::AdlEventRingFull);
        }
    }
    // Resolving one event frees its ring entry for the last bankruptcy.
    let s = f.market_snapshot(0).await;
    let next: Vec<u32> = s
        .next_adl_counterparties(0, 4)
        .iter()
        .map(|p| p.slot)
        .collect();
    let id = s.market.adl_events[0].id;
    f.bank
        .send(&[ix::auto_deleverage(&f.exchange, &m, 0, id, next)], &[])
        .await
        .unwrap();
    check(&mut f).await;
    let last = *shorts.last().unwrap();
    let slot = f.slot_of(0, last).await.unwrap();
    f.bank
        .send(
            &[ix::start_adl(&f.exchange, &m, &f.users[last].key(), slot)],
            &[],
        )
        .await
        .unwrap();
    check(&mut f).await;
    assert_eq!(
        f.market_snapshot(0).await.market.adl_events[0].id,
        ADL_EVENT_RING as u64
    );
}

#[tokio::test]
async fn liquidation_leaving_dust_or_asking_too_much_takes_the_whole_position() {
    // A remainder below `min_position_base` (one atom here) is not left behind: the whole
    // position is taken over.
    let (mut f, a, _, c) = setup().await;
    let sa = f.slot_of(0, a).await.unwrap();
    f.set_price(0, 94_500_000, 0).await.unwrap();
    f.send_as(&[liq(&f, a, c, sa, 10 * BASE as u64 - 1, 200 * USDC)], &[c])
        .await
        .unwrap();
    check(&mut f).await;
    assert_eq!(f.slot_of(0, a).await, None);
    let sc = f.slot_of(0, c).await.unwrap();
    assert_eq!(
        f.market_snapshot(0).await.book.slots[sc as usize].base,
        10 * BASE
    );
    // On a market without a minimum position, asking for more than the position takes
    // exactly the position.
    let m = f
        .try_add_market(
            16,
            adl_engine::state::MarketParamsArgs {
                min_position_base: 0,
                ..adl_harness::fixture::default_params()
            },
        )
        .await
        .unwrap();
    let (x, y) = (
        f.add_user(10_000 * USDC, 1_000 * USDC).await,
        f.add_user(10_000 * USDC, 1_000 * USDC).await,
    );
    f.set_price(0, price(100), 0).await.unwrap();
    f.trade(1, x, y, 2 * BASE, price(100), 20 * USDC, 40 * USDC)
        .await
        .unwrap();
    f.set_price(0, 94_500_000, 0).await.unwrap();
    let sx = f.slot_of(1, x).await.unwrap();
    let ix = ix::liquidate(
        &f.exchange,
        &m,
        &f.users[x].key(),
        &f.users[c].key(),
        sx,
        u64::MAX,
        100 * USDC,
    );
    f.send_as(&[ix], &[c]).await.unwrap();
    check(&mut f).await;
    assert_eq!(f.slot_of(1, x).await, None);
    let sc = f.slot_of(1, c).await.unwrap();
    assert_eq!(
        f.market_snapshot(1).await.book.slots[sc as usize].base,
        2 * BASE
    );
}
