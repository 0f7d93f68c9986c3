#![allow(clippy::unwrap_used, clippy::panic)]
//! Second adversarial review of 9c932cf (trades crank funding; vesting merged at the
//! amount-weighted mean end; stakes priced on the whole balance; unstake check with the
//! rounding margin) on top of 86b89b9. Each test plays an attack end to end on the program's
//! own state transitions and asserts the SAFE outcome: a passing test is a defence that held;
//! an `#[ignore = "open: …"]` test is an attack that works.

use crate::state::*;
use crate::testkit::{empty, px, two_sided, user, Bufs, ONE};

// ---------------------------------------------------------------------------------------------
// Funding harness (as no_profit_attack_tests: oracle flat at 100, taker 5 bps, maker 2 bps,
// max rate 50 bps, period 100 slots → k = 29).
// ---------------------------------------------------------------------------------------------

const P: u64 = 100_000_000;
const PERIOD: u64 = 100;

#[derive(Clone)]
struct World {
    b: Bufs,
    now: u64,
}

impl World {
    fn new() -> Self {
        let mut b = empty(16);
        let p = &mut b.market.params;
        p.taker_fee_bps = 5;
        p.maker_fee_bps = 2;
        p.max_funding_rate_bps = 50;
        p.funding_period_slots = PERIOD;
        p.oracle_band_bps = 500;
        p.max_oracle_staleness_slots = 1_000;
        let now = 1_000;
        b.market.last_funding_slot = now;
        b.market.premium_since_slot = now;
        b.market.funding_window = now / PERIOD;
        b.users = (0..8).map(user).collect();
        World { b, now }
    }

    /// `taker` trades `base` with `maker` at `premium_bps` off the oracle (margins 20 % when
    /// `open`).
    fn trade_m(&mut self, taker: usize, maker: usize, base: i64, premium_bps: i64, open: bool) {
        let pct = if open { 20 } else { 0 };
        crate::testkit::trade_off_oracle(
            &mut self.b,
            (taker, maker),
            base,
            premium_bps,
            pct,
            (P, self.now),
        )
        .unwrap();
    }

    fn crank(&mut self) -> i64 {
        crate::engine::crank_funding(&mut self.b.market, P, self.now).unwrap()
    }

    /// Free collateral plus position equity at the oracle (funding settled).
    fn value(&mut self, accounts: &[usize]) -> i128 {
        crate::testkit::value_at(&mut self.b, accounts, P)
    }
}

/// **S-F1 — a trade's crank is the same crank as the keeper's: front-running it (a trade in
/// the keeper's slot), cranking every slot, or cranking twice in one slot changes neither the
/// funding index nor any escrow's `P_exec` beyond the carried rounding.**
///
/// A long 10.0 (account 3) against a short 10.0 (account 1); honest flow of 1.0 at +50 bps
/// opened and closed in every window for 20 periods. Run A: the keeper cranks once per
/// period. Run B: an attacker cranks at every slot (as a trade in every slot does: the
/// trade's crank runs before its fill, on the same open interest) and twice in the same slot.
/// Measured: identical funding index (the per-accrual truncation is 1e-5 bps·slot, carried
/// remainder keeps ΔF exact); the second crank in a slot returns ΔF = 0 and leaves the carry
/// as it was (no double charge). `update_funding` after a trade in the same slot fails
/// `FundingTooSoon` — harmless now, the trade already brought the index to the slot.
#[test]
fn s_f1_crank_frequency_and_front_running_change_nothing() {
    let run = |every_slot: bool| {
        let mut w = World::new();
        w.trade_m(3, 1, 10 * ONE, 0, true);
        let start = w.now;
        for i in 0..20u64 {
            let base = start + i * PERIOD;
            for s in base + 1..=base + PERIOD {
                w.now = s;
                if s == base + 10 {
                    w.trade_m(4, 5, ONE, 50, true);
                }
                if s == base + 11 {
                    w.trade_m(4, 5, -ONE, 50, false);
                }
                if every_slot || s == base + PERIOD {
                    w.crank();
                }
                if every_slot && s % 7 == 0 {
                    let carry = w.b.market.funding_carry;
                    let acc = w.b.market.premium_acc;
                    assert_eq!(w.crank(), 0, "second crank in a slot moved funding");
                    assert_eq!(w.b.market.funding_carry, carry);
                    assert_eq!(w.b.market.premium_acc, acc);
                }
            }
        }
        (w.b.market.cumulative_funding, w.value(&[3]), w.value(&[1]))
    };
    let (fa, la, sa) = run(false);
    let (fb, lb, sb) = run(true);
    println!(
        "S-F1: index keeper-only {fa}, every slot {fb}; long {la} vs {lb}; short {sa} vs {sb}"
    );
    assert!(fa > 0);
    // Truncation toward zero per accrual: at most 1 unit of 1e-5 bps·slot per slot, i.e.
    // ≤ 2,000·P/(1e9·100) < 3 price atoms of index over 2,000 slots.
    assert!((fa - fb).abs() <= 3, "index {fa} vs {fb}");
    assert!((la - lb).abs() <= 30 && (sa - sb).abs() <= 30);
}

/// **S-F2 — the O-inflation lever: standing wash open interest (a hedged long/short pair of
/// one actor) enters the prior `k·O` of every window's rate and damps funding for as long as
/// it stands, for a one-time fee.**
///
/// The attacker (account 1) is long 10.0 against a victim short 10.0 (account 3). Honest
/// traders (4/5) trade 29.0 at +50 bps, opened and closed in every window (Y ≈ 5,829 USD,
/// X/Y = 50 bps): undisturbed the rate is 1e4·X/(Y + 29·1,000 USD) ≈ 8.4 bps per period and
/// the attacker, the payer, pays ≈ 0.84 USD per period to the victim. Attack: at the start
/// the attacker self-trades a hedged 90.0 (accounts 2 long / 6 short, 9,000 USD notional,
/// 6.3 USD of fees): O becomes 10,000 USD, the rate ≈ 1.0 bps; the hedge's own funding nets
/// to zero across its two accounts. Measured over 50 periods: funding index 4,069,023 (no
/// hedge) vs 481,357 (hedge); the attacker's three accounts end 29,576,660 atoms (29.58 USD,
/// fees paid) better off; the victim receives 35,876,660 atoms less. Break-even ≈ 9 periods,
/// then linear in time. Fix: do not let standing open interest set the prior — use a
/// per-market reference notional (admin parameter, or a slow average capped by it) for `O`,
/// or a time-weighted OI over the window with the prior capped at the window's own `Y`
/// scale; at minimum document that wash OI dampens funding. The claimed bound ("moving funding costs more than it can earn",
/// docs/architecture.md) covers trades that move `X`; the prior's `O` can be moved with a
/// one-time fee and then holds for ever. Who profits: a large payer; who loses: the receiving
/// side.
#[test]
#[ignore = "open: 9,000 USD wash OI (6.3 USD fees): index 4,069,023 -> 481,357 over 50 periods; payer +29,576,660 atoms, victim -35,876,660"]
fn s_f2_wash_open_interest_damps_funding_for_a_one_time_fee() {
    let run = |attack: bool| {
        let mut w = World::new();
        w.trade_m(1, 3, 10 * ONE, 0, true);
        if attack {
            w.trade_m(2, 6, 90 * ONE, 0, true);
        }
        let start = w.now;
        for i in 0..50u64 {
            let base = start + i * PERIOD;
            w.now = base + 10;
            w.trade_m(4, 5, 29 * ONE, 50, true);
            w.now = base + 11;
            w.trade_m(4, 5, -29 * ONE, 50, false);
            w.now = base + PERIOD;
            w.crank();
        }
        (
            w.value(&[1, 2, 6]),
            w.value(&[3]),
            w.b.market.cumulative_funding,
        )
    };
    let (a0, v0, f0) = run(false);
    let (a1, v1, f1) = run(true);
    let gain = a1 - a0;
    println!(
        "S-F2: funding index {f0} (no hedge) vs {f1} (hedge); attacker gain {gain} atoms, \
         victim loss {} atoms",
        v0 - v1
    );
    assert!(gain <= 0, "wash OI gained the payer {gain} atoms");
}

// ---------------------------------------------------------------------------------------------
// Insurance fund (vest 100 slots, cooldown 10, window 20 as the other suites).
// ---------------------------------------------------------------------------------------------

const USDC: u64 = 1_000_000;
const VEST: u64 = 100;
const COOLDOWN: u64 = 10;
const WINDOW: u64 = 20;

fn fund() -> InsuranceFund {
    crate::testkit::insurance_fund(COOLDOWN, WINDOW, VEST)
}

use crate::testkit::stake_account;

fn exit(f: &mut InsuranceFund, s: &mut InsuranceStake, now: u64) -> u64 {
    let held = s.shares;
    if held == 0 || f.request_unstake(s, held, now).is_err() {
        return 0;
    }
    f.unstake(s, now + COOLDOWN).map(|(_, p)| p).unwrap_or(0)
}

/// **S-I1 — the merged schedule vests a new earning faster than `fee_vest_slots`: merged
/// with a large remainder close to its end, fees waiting in a pool reach a stake made just
/// before their sweep within the cooldown.**
///
/// The honest staker holds 100,000 USDC. A 3,600 USDC earning (a big sweep or liquidation
/// share) was swept at t − 95: at t its remainder is 180 USDC with 5 slots to go. 10 USDC of
/// fees wait in a market's pool, accrued while only the honest staker was at risk. At t the
/// attacker stakes 1,000,000 USDC (priced on the whole balance: it pays for the 180 still
/// vesting) and sweeps (permissionless): the merged end is ⌈(180·5 + 10·100)/190⌉ = 10 slots
/// — the 10 USDC vest in 10 slots, not 100. It requests at t + 10 and is paid at t + 20.
/// Per-earning rule (`settle_vesting` doc: "an earning never vests faster than linearly over
/// `fee_vest_slots`"): its share of the 10 USDC over the 20 slots it stayed is ≤
/// α·10·20/100 = 1,812,255 atoms. Measured: gain 9,061,254 atoms (α·10 USDC — all of it),
/// the honest staker leaves with 9,061,254 atoms less (103,600,938,745 vs 103,609,999,999). Bound in general: gain − α·N·c/L ≤ α·E_live·(c/L)²/4 (E_live the earnings
/// still vesting), so within the property test's loose bound `f·E·(r − t)/L`, but 10× the
/// per-earning rule here. Fix: give the merge the full period, `vest_end = now +
/// fee_vest_slots` (the chord from `(now, rest + new)` to `(now + L, 0)` lies above the convex
/// sum of the two linear schedules, so nothing vests faster than its own schedule; slowing the
/// rest then needs a real earning, ≥ `sweep_min_fees`), or keep per-bucket tranches.
#[test]
fn s_i1_merge_compresses_new_fees_behind_a_short_remainder() {
    let t = 10_000;
    let run = |attack: bool| {
        let mut f = fund();
        let mut honest = stake_account();
        f.stake(&mut honest, 100_000 * USDC, t - 200).unwrap();
        f.earn(3_600 * USDC).unwrap();
        f.settle_vesting(t - 95).unwrap();
        let mut att = stake_account();
        let staked = 1_000_000 * USDC;
        if attack {
            f.stake(&mut att, staked, t).unwrap();
        }
        // The sweep of the 10 USDC waiting in the pool (permissionless, same slot).
        f.earn(10 * USDC).unwrap();
        f.settle_vesting(t).unwrap();
        let end = f.vest_end;
        // The attacker requests once the merged schedule has ended (t + 10) and is paid at
        // t + 20 (`min(value at request, value now)`).
        let a = if attack {
            exit(&mut f, &mut att, t + 10)
        } else {
            0
        };
        let h = exit(&mut f, &mut honest, t + 10 * VEST);
        (a as i128 - if attack { staked as i128 } else { 0 }, h, end)
    };
    let (_, h0, end0) = run(false);
    let (gain, h1, end1) = run(true);
    // α = 1,000,000 / 1,103,600 of the shares; the rule: its share of the 10 USDC vested
    // over the 20 slots it stayed (generous: the property test counts only to the request).
    let allowed =
        (1_000_000u128 * 10 * USDC as u128 * 20).div_ceil(1_103_600 * VEST as u128) as i128 + 4;
    println!(
        "S-I1: vest_end−t {} (alone) / {} (attack); attacker gain {gain} (rule allows \
         {allowed}); honest leaves with {h0} alone, {h1} attacked (lost {})",
        end0 - t,
        end1 - t,
        h0 as i128 - h1 as i128
    );
    assert!(
        gain <= allowed,
        "attacker took {gain} atoms of earlier fees"
    );
}

/// **S-I2 — a staker cannot leave with more than its share: after a loss that clamps the
/// nominal vesting amount (the fund drained by an exit, then a loss), `exit_balance` falls by
/// less than the loss, but
/// the leaver's take stays at most its share of the balance and below what staying pays.**
///
/// Honest staker 1,000 USDC and the attacker 1,000 USDC; 1,000 USDC of fees swept at t. The
/// attacker leaves half way (t + 50) at the vested value; the honest staker is left with a
/// fund of 1,800 USDC whose nominal `vesting` is 1,000. A 900 USDC loss at t + 55 clamps the
/// nominal `vesting` to 900 (not the 450 still locked): `exit_balance` falls 1,350 → 495 USDC
/// instead of → 450 (the loss reaches 45 USDC of what was still vesting, released at once).
/// Measured: exit balance 1,350,000,001 → 495,000,000; leaving right after the loss pays
/// 495,000,000 atoms, waiting 900,000,001; the share of the balance is 900,000,001 — a leaver never takes more than its share, and
/// leaving early still costs the leaver (held; the clamp is only imprecise: clamp what is
/// locked now, `vesting_left(..)`, re-basing `vest_slot = now`).
#[test]
fn s_i2_loss_clamping_vesting_never_pays_a_leaver_beyond_its_share() {
    let t = 10_000;
    let mut f = fund();
    let (mut h, mut a) = (stake_account(), stake_account());
    f.stake(&mut h, 1_000 * USDC, t).unwrap();
    f.stake(&mut a, 1_000 * USDC, t).unwrap();
    f.earn(1_000 * USDC).unwrap();
    f.settle_vesting(t).unwrap();
    let paid_a = exit(&mut f, &mut a, t + 40);
    let before = f.exit_balance(t + 55).unwrap();
    f.pay(900 * USDC).unwrap();
    let after = f.exit_balance(t + 55).unwrap();
    let share_of_balance = f.balance as u128 * h.shares as u128 / f.total_shares as u128;
    let mut f2 = f;
    let mut h2 = h.clone();
    let leave_now = exit(&mut f, &mut h, t + 55);
    let leave_late = exit(&mut f2, &mut h2, t + 10 * VEST);
    println!(
        "S-I2: attacker left with {paid_a}; exit balance {before} → {after} on a 900 USDC loss; \
         honest leaving now {leave_now}, later {leave_late}, share of balance {share_of_balance}"
    );
    assert!(leave_now as u128 <= share_of_balance);
    assert!(leave_now <= leave_late);
    assert!(paid_a <= 1_000 * USDC + 1_000 * USDC / 2);
}

// ---------------------------------------------------------------------------------------------
// Unstake check: a bankrupt position below q_min (a liquidator's remainder).
// ---------------------------------------------------------------------------------------------

/// **S-U1 — a liquidator's remainder may be any size (liquidation never checks the
/// liquidator's minimum position): a 1-atom short left by netting is bankrupt by rounding at
/// every price once funding moves, far outside `may_hold_bankrupt`'s margin
/// `g = ⌈2·BASE/q_min⌉ + 1` (2,001 price atoms; for 1 base atom the rounding spans 1e9).**
///
/// Long 1.0 at 2,000 (margin 120 USD, account 1) and the liquidator's short 1.000000001 at
/// 2,000 (margin 1,000 USD, account 2). At 1,900 the long is below maintenance (not
/// bankrupt); the liquidator takes it whole, netting its short down to base −1, cost −2,
/// margin 1 (K = 3,000,000,000). Shorts then pay one atom of funding index and the oracle
/// is at 2,500. Measured: the 1-atom short's equity is −1 (bankrupt: the fund pays the
/// deficit), while `may_hold_bankrupt(2,500 USD)` is false (it would need P ≥ K + F − 2,001) —
/// a staker unstakes ahead of it. Impact per dust position: ≤ 2 quote atoms of
/// deficit plus the liquidator's fee share on a ~0 notional (low; it scales only with the
/// number of liquidations that leave dust). Fix: require the liquidator's resulting position
/// to be 0 or ≥ `min_position_base` (`require_min_position(out.liquidator_slot)`), or take the
/// margin over the smallest open size instead of `q_min`.
/// Left open on purpose: a minimum on the liquidator's remainder was tried and removed — it let
/// anyone shape a position whose liquidation nets a keeper to dust and so refuse (jam) that
/// keeper's transactions. The loss per dust position is bounded as measured above.
#[test]
#[ignore = "open (bounded): a 1-atom liquidator remainder bankrupt by rounding (equity -1) escapes may_hold_bankrupt; <= 2 atoms + fee share per dust position"]
fn s_u1_dust_liquidator_remainder_escapes_the_unstake_check() {
    let mut b = two_sided(
        &[(ONE, px(2_000), 120 * 1_000_000)],
        &[(ONE + 1, px(2_000), 1_000 * 1_000_000)],
    );
    b.users = (0..3).map(user).collect();
    b.with(|st, users| {
        users[1].add_position(st.key, 0).unwrap();
        users[2].add_position(st.key, 1).unwrap();
    });
    let mut fund = b.fund;
    let out = b.with(|st, users| {
        let (mut liq, mut u) = (users[2], users[1]);
        let o = st
            .liquidate(0, &mut u, &mut liq, &mut fund, ONE as u64, 0, px(1_900))
            .unwrap();
        users[1] = u;
        users[2] = liq;
        o
    });
    let s = out.liquidator_slot;
    let pos = b.with(|st, _| *st.book.slot(s).unwrap());
    assert_eq!(pos.base, -1, "the liquidator's remainder is one base atom");
    // Shorts pay one index atom (ΔF < 0).
    crate::engine::apply_funding(&mut b.market, -1).unwrap();
    b.with(|_, _| {});
    let f = b.market.cumulative_funding;
    let price = px(2_500);
    let eq = b.with(|st, _| st.book.slot(s).unwrap().equity(f, price).unwrap());
    assert_eq!(eq, -1);
    assert!(
        b.market.may_hold_bankrupt(price),
        "a bankrupt 1-atom position is not seen by the unstake check"
    );
}
