//! Staking around fees: the no-profit property of the insurance fund's vesting.
//!
//! The attack (issue "no-profit invariants", item 2): fees wait in a market's pool until the
//! permissionless `sweep_fees`; a stake made just before the sweep took nearly all of them
//! from the stakers who had been there while they accrued (measured before vesting: a
//! 100,000 USDC stake and a sweep in one transaction took 69.31 of 70 USDC from an honest
//! 1,000 USDC staker).
//!
//! The rule: earnings vest into what a leaving staker is paid linearly over `fee_vest_slots`
//! (`exit_balance`); new shares are priced on the whole balance, so fees swept before a stake
//! never reach it. Its bound, checked here by an adversary acting between every pair of honest
//! operations: a staker whose shares were bought from slot `t` on and whose unstake request is
//! made at slot `r` gains at most `ceil(f·(A + N + E·(r − t)/L)) + n` atoms, where `f` is the
//! largest fraction of the shares it held in `[t, r]`, `A` what accrued after its stake (fees
//! paid by traders into a pool, liquidation shares), `N` what later stakers paid for earnings
//! still vesting when they bought in, `E` everything the fund earned up to `r`, `L`
//! `fee_vest_slots` and `n` the number of fund operations in `[t, r]` (each may move one atom
//! by rounding). Fees waiting in a pool when it stakes reach it only through the vesting term
//! (in proportion to the slots it stays at risk) or through `N`. With the old rule (every earning at once in the value of shares) the same
//! adversary breaks the bound — `old_rule_breaks_the_bound` shows the check can fail.

#![allow(clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;

use super::InsuranceFund;
use crate::testkit::{insurance_fund, stake_account};

const USDC: u64 = 1_000_000;
const VEST: u64 = 100;
const COOLDOWN: u64 = 10;
const WINDOW: u64 = 20;

fn fund() -> InsuranceFund {
    insurance_fund(COOLDOWN, WINDOW, VEST)
}

/// One operation of the honest world or of the adversary.
#[derive(Clone, Debug)]
enum Op {
    /// Trading fees accrue in a market's pool (not yet in the fund).
    Fees(u64),
    /// Anyone sweeps the pool into the fund.
    Sweep,
    /// A liquidation's fee share reaches the fund directly.
    LiquidationShare(u64),
    /// The fund pays a bankruptcy (at most a tenth of its balance).
    Loss(u16),
    /// An honest staker adds to its stake.
    HonestStake(u64),
    /// Time passes.
    Wait(u64),
}

/// What the adversary does between two honest operations.
#[derive(Clone, Debug)]
enum Move {
    Nothing,
    Stake(u64),
    Request,
    Unstake,
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..200 * USDC).prop_map(Op::Fees),
        Just(Op::Sweep),
        (1u64..5 * USDC).prop_map(Op::LiquidationShare),
        (1u16..1_000).prop_map(Op::Loss),
        (1u64..2_000 * USDC).prop_map(Op::HonestStake),
        (0u64..60).prop_map(Op::Wait),
    ]
}

fn adversary() -> impl Strategy<Value = Move> {
    prop_oneof![
        Just(Move::Nothing),
        (1u64..500_000 * USDC).prop_map(Move::Stake),
        Just(Move::Request),
        Just(Move::Unstake),
        Just(Move::Sweep),
    ]
}

/// Outcome of one run: the adversary's cycles (stake → request → unstake) that broke the
/// bound, and counts.
#[derive(Default, Debug)]
struct Run {
    violations: Vec<String>,
    cycles: usize,
    actions: usize,
    max_gain: i128,
}

/// Plays `script` (an honest operation, then the adversary's move, in turn), checking the
/// bound at every adversary unstake. `old_rule`: every earning counts in share value at once
/// (the rule before vesting), emulated by clearing the vesting state after each operation.
fn play(script: &[(Op, Move)], old_rule: bool) -> Run {
    let mut f = fund();
    let mut honest = stake_account();
    let mut adv = stake_account();
    let mut pool = 0u64;
    let mut now = 1_000u64;
    let mut run = Run::default();
    // The honest staker is there first.
    f.stake(&mut honest, 1_000 * USDC, now).unwrap();
    // The adversary's current cycle: staked total, first stake slot, largest share fraction
    // seen (numerator, denominator), fund operations since the first stake, request slot.
    let mut staked = 0u64;
    let mut since = 0u64;
    let mut frac = (0u128, 1u128);
    let mut ops_in_cycle = 0u64;
    let mut accrued = 0u64;
    let mut premiums = 0u64;
    let mut request_at = None::<u64>;
    let sweep = |f: &mut InsuranceFund, pool: &mut u64, now: u64| {
        f.earn(*pool).unwrap();
        f.settle_vesting(now).unwrap();
        *pool = 0;
    };
    let flatten = |f: &mut InsuranceFund| {
        if old_rule {
            f.vesting = 0;
            f.unvested_new = 0;
        }
    };
    for (o, m) in script {
        run.actions += 2;
        if staked > 0 {
            if let Op::Fees(x) | Op::LiquidationShare(x) = *o {
                accrued += x;
            }
        }
        match *o {
            Op::Fees(x) => pool += x,
            Op::Sweep => sweep(&mut f, &mut pool, now),
            Op::LiquidationShare(x) => f.earn(x).unwrap(),
            Op::Loss(permille) => {
                let x = (f.balance as u128 * permille as u128 / 10_000) as u64;
                f.pay(x).unwrap();
            }
            Op::HonestStake(x) => {
                let before = honest.shares;
                if f.stake(&mut honest, x, now).is_ok() && staked > 0 {
                    // What the newcomer paid for earnings still vesting: its stake less what
                    // its new shares are worth to a leaver now. Existing holders' leaving value
                    // rises by that much (they sold part of their unvested claim).
                    let minted = honest.shares - before;
                    let worth = crate::math::shares_value(
                        minted,
                        f.total_shares,
                        f.exit_balance(now).unwrap(),
                    )
                    .unwrap();
                    premiums += x.saturating_sub(worth);
                }
            }
            Op::Wait(d) => now += d,
        }
        flatten(&mut f);
        if staked > 0 {
            ops_in_cycle += 1;
        }
        // The adversary acts.
        match *m {
            Move::Nothing => {}
            Move::Sweep => {
                sweep(&mut f, &mut pool, now);
                if staked > 0 {
                    ops_in_cycle += 1;
                }
            }
            Move::Stake(x) => {
                if request_at.is_none() && f.stake(&mut adv, x, now).is_ok() {
                    if staked == 0 {
                        since = now;
                        ops_in_cycle = 0;
                        accrued = 0;
                        premiums = 0;
                        frac = (0, 1);
                    }
                    staked += x;
                    ops_in_cycle += 1;
                }
            }
            Move::Request => {
                let held = adv.shares;
                if request_at.is_none()
                    && held > 0
                    && f.request_unstake(&mut adv, held, now).is_ok()
                {
                    request_at = Some(now);
                }
            }
            Move::Unstake => {
                if let Some(r) = request_at {
                    // The adversary waits for the cooldown if it has to; past the window it
                    // cancels and requests again (its cycle then counts to the new request).
                    now = now.max(r + COOLDOWN);
                    if now > r + COOLDOWN + WINDOW {
                        adv.pending_shares = 0;
                        let held = adv.shares;
                        request_at = f.request_unstake(&mut adv, held, now).ok().map(|_| now);
                        if request_at.is_none() {
                            staked = 0; // wiped by a loss epoch
                        }
                    } else if let Ok((_, paid)) = f.unstake(&mut adv, now) {
                        ops_in_cycle += 1;
                        run.cycles += 1;
                        let gain = paid as i128 - staked as i128;
                        run.max_gain = run.max_gain.max(gain);
                        let earned = f.total_earned as u128;
                        let bound = (frac.0
                            * ((accrued as u128 + premiums as u128) * VEST as u128
                                + earned * (r - since) as u128))
                            .div_ceil(frac.1 * VEST as u128)
                            + ops_in_cycle as u128;
                        if gain > bound as i128 {
                            run.violations.push(format!(
                            "gain {gain} > bound {bound} (staked {staked}, slots {}, fraction {}/{}, \
                             earned {earned})",
                            r - since,
                            frac.0,
                            frac.1
                        ));
                        }
                        staked = 0;
                        request_at = None;
                    } else {
                        // Shares wiped by a loss epoch: the cycle ended at a loss.
                        assert_eq!(adv.shares, 0);
                        staked = 0;
                        request_at = None;
                    }
                }
            }
        }
        flatten(&mut f);
        if adv.shares > 0 && f.total_shares > 0 {
            // Largest fraction of the shares held (virtual shares count as held by no one).
            let (n, d) = (adv.shares as u128, f.total_shares as u128 + 1_000);
            if n * frac.1 > frac.0 * d {
                frac = (n, d);
            }
        }
        if adv.shares == 0 && request_at.is_none() && staked > 0 {
            // Shares wiped by a loss epoch: the cycle ended at a loss.
            staked = 0;
        }
        // Solvency of the fund's books: shares are never worth more than the balance.
        assert!(f.exit_balance(now).unwrap() <= f.balance);
    }
    run
}

fn script() -> impl Strategy<Value = Vec<(Op, Move)>> {
    prop::collection::vec((op(), adversary()), 1..120)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// **Stake timing cannot profit.** The adversary stakes, requests, unstakes and sweeps
    /// between every pair of honest operations (fee accrual, sweeps, liquidation shares,
    /// bankruptcy payments, honest stakes, time). No cycle gains more than the vesting bound.
    /// Who would lose: the stakers who were there while the fees accrued.
    #[test]
    fn stake_timing_never_beats_the_vesting_bound(s in script()) {
        let run = play(&s, false);
        prop_assert!(run.violations.is_empty(), "{:?}", run.violations);
    }
}

/// The checker can fail: with every earning counted at once (the old rule), a stake made
/// before a sweep takes its share of fees that accrued before it came.
#[test]
fn old_rule_breaks_the_bound() {
    // The measured attack: 70 USDC of fees wait; a 100,000 USDC stake, then the sweep, then
    // the request in the same slot and the unstake after the cooldown.
    let script = vec![
        (Op::Fees(70 * USDC), Move::Stake(100_000 * USDC)),
        (Op::Wait(0), Move::Sweep),
        (Op::Wait(0), Move::Request),
        (Op::Wait(COOLDOWN), Move::Unstake),
    ];
    let old = play(&script, true);
    assert_eq!(old.cycles, 1);
    assert_eq!(old.violations.len(), 1, "{:?}", old.violations);
    let new = play(&script, false);
    assert_eq!(new.cycles, 1);
    assert!(new.violations.is_empty(), "{:?}", new.violations);
}

/// The measured attack, exact values: with vesting the sniper gets nothing of the swept
/// fees it did not wait for, and the honest staker keeps them.
#[test]
fn stake_before_sweep_gets_nothing_of_earlier_fees() {
    let mut f = fund();
    let (mut honest, mut sniper) = (stake_account(), stake_account());
    let t = 1_000;
    f.stake(&mut honest, 1_000 * USDC, t).unwrap();
    // Honest shares: 1e9·(0 + 1000)/(0 + 1) = 1e12.
    assert_eq!(honest.shares, 1_000_000_000_000);
    let sniper_shares = f.stake(&mut sniper, 100_000 * USDC, t).unwrap();
    // 1e11·(1e12 + 1,000)/(1e9 + 1) = 1e14 exactly.
    assert_eq!(sniper_shares, 100_000_000_000_000);
    f.earn(70 * USDC).unwrap();
    f.settle_vesting(t).unwrap();
    let v = f.request_unstake(&mut sniper, sniper_shares, t).unwrap();
    // Nothing has vested: the sniper's shares are worth ⌊1e14·(101e9 + 1)/(101e12 + 1,000)⌋
    // = 1e11, exactly its stake.
    assert_eq!(v, 100_000_000_000);
    let (_, paid) = f.unstake(&mut sniper, t + COOLDOWN).unwrap();
    assert_eq!(paid, 100_000_000_000);
    // The honest staker, after the vesting period, holds its stake plus all 70 USDC (less
    // the rounding the fund keeps).
    let later = t + COOLDOWN + VEST;
    f.settle_vesting(later).unwrap();
    let held = honest.shares;
    let h = f.request_unstake(&mut honest, held, later).unwrap();
    // ⌊1e12·(1,070,000,000 + 1)/(1e12 + 1,000)⌋ = 1,069,999,999.
    assert_eq!(h, 1_069_999_999);
}

/// The same random adversary against both rules (deterministic seed, 2,000 scripts): the
/// old rule is caught, the vesting rule never is. Prints the counts reported in the issue.
#[test]
fn random_adversary_catches_the_old_rule_only() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut old_bad, mut new_bad, mut cycles, mut actions, mut max_gain) = (0, 0, 0, 0, 0i128);
    for _ in 0..2_000 {
        let s = script().new_tree(&mut runner).unwrap().current();
        let old = play(&s, true);
        let new = play(&s, false);
        old_bad += usize::from(!old.violations.is_empty());
        new_bad += usize::from(!new.violations.is_empty());
        cycles += new.cycles;
        actions += new.actions;
        max_gain = max_gain.max(new.max_gain);
    }
    println!(
        "stake timing: 2000 scripts, {actions} actions, {cycles} adversary cycles; \
         old rule broken in {old_bad}, vesting in {new_bad}; largest vesting gain {max_gain} atoms"
    );
    assert!(old_bad > 0);
    assert_eq!(new_bad, 0);
}
