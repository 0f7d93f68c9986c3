//! Formula tests on hand-computed values, rounding directions, and property tests of the
//! fill arithmetic and the sorted-array queue operations.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::error::AdlError;

const P100: u64 = 100_000_000;
const ONE: i64 = 1_000_000_000;

#[test]
fn division_rounding_directions() {
    assert_eq!(div_floor(7, 2).unwrap(), 3);
    assert_eq!(div_floor(-7, 2).unwrap(), -4);
    assert_eq!(div_floor(7, -2).unwrap(), -4);
    assert_eq!(div_floor(-7, -2).unwrap(), 3);
    assert_eq!(div_ceil(7, 2).unwrap(), 4);
    assert_eq!(div_ceil(-7, 2).unwrap(), -3);
    assert_eq!(div_ceil(7, -2).unwrap(), -3);
    assert_eq!(div_ceil(-7, -2).unwrap(), 4);
    assert_eq!(div_ceil(6, 3).unwrap(), 2);
    assert!(matches!(div_floor(1, 0), Err(AdlError::MathOverflow)));
    assert!(matches!(
        div_floor(i128::MIN, -1),
        Err(AdlError::MathOverflow)
    ));
    assert!(matches!(mul(i128::MAX, 2), Err(AdlError::MathOverflow)));
    assert!(matches!(to_u64(-1), Err(AdlError::MathOverflow)));
}

#[test]
fn notional_fee_and_value() {
    // 1.5 base at 100.123456 = 150.185184 quote.
    assert_eq!(
        fill_notional(1_500_000_000, 100_123_456).unwrap(),
        150_185_184
    );
    // 1 atom at 100: 0.1 quote atoms, rounded down.
    assert_eq!(fill_notional(1, P100).unwrap(), 0);
    // Fees round up: 5 bps of 1_000_001 = 500.0005 → 501.
    assert_eq!(fee(1_000_001, 5).unwrap(), 501);
    assert_eq!(fee(1_000_000, 5).unwrap(), 500);
    // Values round toward −∞: a short owes more.
    assert_eq!(position_value(-1, P100).unwrap(), -1);
    assert_eq!(position_value(1, P100).unwrap(), 0);
}

#[test]
fn equity_requirements_and_status() {
    // Long 2.0 bought for 200 with 25 margin, funding index moved 0.5 against it.
    let eq = equity(2 * ONE, 200_000_000, 25_000_000, 500_000, 0, 95_000_000).unwrap();
    // 25 − 1 (funding) + 190 − 200 = 14.
    assert_eq!(eq, 14_000_000);
    // Maintenance 5 % of 190 = 9.5; initial 10 % = 19.
    assert_eq!(
        margin_requirement(2 * ONE, 95_000_000, 500).unwrap(),
        9_500_000
    );
    assert_eq!(
        margin_requirement(2 * ONE, 95_000_000, 1_000).unwrap(),
        19_000_000
    );
    // Requirement rounds up: 1 atom of base at 100 with 5 % is 0.005 → 1.
    assert_eq!(margin_requirement(1, P100, 500).unwrap(), 1);
    assert!(!is_liquidatable(14_000_000, 9_500_000));
    assert!(is_liquidatable(9_499_999, 9_500_000));
    assert!(is_bankrupt(-1));
    assert!(!is_bankrupt(0));
}

#[test]
fn funding_rounds_against_the_owner() {
    // A long pays when the index rises; 3 atoms of base × 1 price atom / 1e9 → 1 (ceil).
    assert_eq!(funding_owed(3, 1, 0).unwrap(), 1);
    // A short receives: −3·1/1e9 = −3e−9 → 0 (ceil toward +∞: receives less).
    assert_eq!(funding_owed(-3, 1, 0).unwrap(), 0);
    assert_eq!(funding_owed(-ONE, 2_000_000, 0).unwrap(), -2_000_000);
}

#[test]
fn bankruptcy_price_and_rank_key() {
    // Long 1.0 at 100 with 10 margin: P_b = 90. Short 1.0 at 100 with 10 margin: 110.
    assert_eq!(
        bankruptcy_price(ONE, 100_000_000, 10_000_000, 0, 0).unwrap(),
        Some(90_000_000)
    );
    assert_eq!(
        bankruptcy_price(-ONE, -100_000_000, 10_000_000, 0, 0).unwrap(),
        Some(110_000_000)
    );
    // Funding shifts P_b of both sides by F − F_i; K = P_b − F stays.
    assert_eq!(
        bankruptcy_price(ONE, 100_000_000, 10_000_000, 700, 200).unwrap(),
        Some(90_000_500)
    );
    assert_eq!(
        rank_key(ONE, 100_000_000, 10_000_000, 200).unwrap(),
        89_999_800
    );
    // Equity at the bankruptcy price is zero (exact case).
    assert_eq!(
        equity(ONE, 100_000_000, 10_000_000, 0, 0, 90_000_000).unwrap(),
        0
    );
    // Rounding: long P_b rounds up, short down (both: bankrupt sooner).
    assert_eq!(
        bankruptcy_price(3, 301, 0, 0, 0).unwrap(),
        Some(100_333_333_334)
    );
    assert_eq!(
        bankruptcy_price(-3, -301, 0, 0, 0).unwrap(),
        Some(100_333_333_333)
    );
    assert!(matches!(
        rank_key(0, 0, 0, 0),
        Err(AdlError::NoOpenPosition)
    ));
    // Saturation of an extreme key (dust size, big margin).
    assert_eq!(rank_key(1, 0, i64::MAX, 0).unwrap(), i64::MIN);
}

#[test]
fn leverage_and_sort_keys() {
    // Notional 100, equity 12.5 → 8x = 80_000 bps.
    assert_eq!(leverage_bps(ONE, P100, 12_500_000).unwrap(), Some(80_000));
    assert_eq!(leverage_bps(ONE, P100, 0).unwrap(), None);
    assert_eq!(leverage_sort_key(true, 90), -90);
    assert_eq!(leverage_sort_key(false, 90), 90);
    assert_eq!(entry_sort_key(true, 100), 100);
    assert_eq!(entry_sort_key(false, 100), -100);
    assert_eq!(entry_price(3 * ONE, 301_500_000).unwrap(), 100_500_000);
    assert_eq!(entry_price(-3 * ONE, -301_500_000).unwrap(), 100_500_000);
    assert!(in_profit(true, 99, 100));
    assert!(!in_profit(true, 100, 100));
    assert!(in_profit(false, 101, 100));
    assert_eq!(slot_of_order(queue_order(7, 12_345).unwrap()), 12_345);
    assert!(queue_order(0, MAX_SLOTS).is_err());
}

#[test]
fn band_and_confidence() {
    assert!(within_band(105_000_000, P100, 500).unwrap());
    assert!(!within_band(105_000_001, P100, 500).unwrap());
    assert!(within_band(95_000_000, P100, 500).unwrap());
    assert!(!within_band(94_999_999, P100, 500).unwrap());
    assert!(confidence_ok(P100, 2_000_000, 200).unwrap());
    assert!(!confidence_ok(P100, 2_000_001, 200).unwrap());
}

#[test]
fn lights_by_size_weighted_quintile() {
    assert_eq!(adl_lights(0, 10, 100), 5); // midpoint 5 %
    assert_eq!(adl_lights(15, 10, 100), 4); // midpoint 20 % → second fifth
    assert_eq!(adl_lights(90, 10, 100), 1); // midpoint 95 %
    assert_eq!(adl_lights(0, 100, 100), 3); // the whole side: midpoint 50 %
    assert_eq!(adl_lights(0, 0, 0), 1);
}

#[test]
fn fill_open_increase_reduce_close_flip() {
    let mut p = PositionAmounts::default();
    let o = apply_fill(&mut p, 2 * ONE, 201_000_000).unwrap();
    assert!(o.opened && o.risk_increasing);
    assert_eq!(
        p,
        PositionAmounts {
            base: 2 * ONE,
            cost_basis: 201_000_000,
            margin: 0
        }
    );
    p.margin = 30_000_000;
    // Reduce 0.5 at 99: removed ceil(201e6/4) = 50_250_000, PnL −750_000, released 7.5e6.
    let o = apply_fill(&mut p, -ONE / 2, 49_500_000).unwrap();
    assert_eq!(o.realized_pnl, -750_000);
    assert_eq!(o.margin_released, 7_500_000);
    assert_eq!(o.to_free, 6_750_000);
    assert!(!o.risk_increasing);
    assert_eq!(
        p,
        PositionAmounts {
            base: 1_500_000_000,
            cost_basis: 150_750_000,
            margin: 22_500_000
        }
    );
    // Rounding of the removed cost: 3 atoms of cost over 2 atoms of size, half removed.
    let mut q = PositionAmounts {
        base: 2,
        cost_basis: 3,
        margin: 10,
    };
    let o = apply_fill(&mut q, -1, 1).unwrap();
    assert_eq!(o.realized_pnl, 1 - 2); // removed ceil(1.5) = 2
    assert_eq!(o.to_free, 5 - 1);
    assert_eq!((q.cost_basis, q.margin), (1, 5));
    // Loss beyond released margin is charged to the remaining margin.
    let mut r = PositionAmounts {
        base: 2 * ONE,
        cost_basis: 200_000_000,
        margin: 20_000_000,
    };
    let o = apply_fill(&mut r, -ONE, 90_000_000).unwrap(); // PnL −10e6, released 10e6
    assert_eq!(o.to_free, 0);
    assert_eq!(r.margin, 10_000_000);
    let mut r = PositionAmounts {
        base: 2 * ONE,
        cost_basis: 200_000_000,
        margin: 20_000_000,
    };
    let o = apply_fill(&mut r, -ONE, 85_000_000).unwrap(); // PnL −15e6
    assert_eq!(o.to_free, 0);
    assert_eq!(r.margin, 5_000_000);
    // Close at a loss larger than all margin: rejected.
    let mut r = PositionAmounts {
        base: ONE,
        cost_basis: 100_000_000,
        margin: 10_000_000,
    };
    assert!(matches!(
        apply_fill(&mut r, -ONE, 89_999_999),
        Err(AdlError::PositionBankrupt)
    ));
    // A funding deficit (margin −10) is netted out of a profitable partial reduction: 1.0 of
    // 10.0 (cost 1,000) sold at 105 frees −1 + 5 = 4, all netted; margin −10 + 1 + 4 = −5.
    let mut d = PositionAmounts {
        base: 10 * ONE,
        cost_basis: 1_000_000_000,
        margin: -10_000_000,
    };
    let o = apply_fill(&mut d, -ONE, 105_000_000).unwrap();
    assert_eq!(o.to_free, 0);
    assert_eq!(o.realized_pnl, 5_000_000);
    assert_eq!(d.margin, -5_000_000);
    assert_eq!((d.base, d.cost_basis), (9 * ONE, 900_000_000));
    // The full close of the same position realizes 50 − 10 = 40.
    let mut d = PositionAmounts {
        base: 10 * ONE,
        cost_basis: 1_000_000_000,
        margin: -10_000_000,
    };
    let o = apply_fill(&mut d, -10 * ONE, 1_050_000_000).unwrap();
    assert_eq!(o.to_free, 40_000_000);
    assert_eq!(d, PositionAmounts::default());
    // Flip: long 1.0 (cost 100) sells 3.0 for 300.9 → closes with 100.3, opens −2.0 for 200.6.
    let mut f = PositionAmounts {
        base: ONE,
        cost_basis: 100_000_000,
        margin: 20_000_000,
    };
    let o = apply_fill(&mut f, -3 * ONE, 300_900_000).unwrap();
    assert!(o.flipped && o.risk_increasing);
    assert_eq!(o.realized_pnl, 300_000);
    assert_eq!(o.to_free, 20_300_000);
    assert_eq!(
        f,
        PositionAmounts {
            base: -2 * ONE,
            cost_basis: -200_600_000,
            margin: 0
        }
    );
    assert!(matches!(
        apply_fill(&mut f, 0, 1),
        Err(AdlError::ZeroAmount)
    ));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Two counterparties fill the same notional: sizes mirror each other and
        /// free + margin − cost basis is conserved exactly by every fill (the two sides'
        /// cost bases round in opposite directions, so they need not mirror).
        #[test]
        fn fills_conserve_value(
            fills in prop::collection::vec((-50i64..50, 50_000_000u64..150_000_000), 1..40),
        ) {
            let mut a = PositionAmounts { margin: 1_000_000_000_000, ..Default::default() };
            let mut b = a;
            let (mut free_a, mut free_b) = (0i128, 0i128);
            let total = |p: &PositionAmounts, free: i128| free + p.margin as i128 - p.cost_basis as i128;
            let start = total(&a, 0) + total(&b, 0);
            for (tenths, px) in fills {
                let d = tenths * 100_000_000 + 1;
                let n = fill_notional(d.unsigned_abs(), px).unwrap();
                let (sa, sb) = (a, b);
                match (apply_fill(&mut a, d, n), apply_fill(&mut b, -d, n)) {
                    (Ok(oa), Ok(ob)) => {
                        free_a += oa.to_free as i128;
                        free_b += ob.to_free as i128;
                    }
                    _ => { a = sa; b = sb; }
                }
                prop_assert_eq!(a.base, -b.base);
                prop_assert_eq!(total(&a, free_a) + total(&b, free_b), start);
            }
        }

        /// For a fixed funding index, the rank key orders a side exactly as the bankruptcy
        /// price does (up to the key's rounding), at every price.
        #[test]
        fn rank_key_orders_like_bankruptcy_price(
            p in (1i64..100, 80_000_000i64..120_000_000, 1i64..50_000_000),
            q in (1i64..100, 80_000_000i64..120_000_000, 1i64..50_000_000),
            fidx in -1_000_000i64..1_000_000,
        ) {
            let pos = |(s, e, m): (i64, i64, i64)| {
                let base = s * 100_000_000;
                (base, (base as i128 * e as i128 / BASE_PRECISION) as i64, m)
            };
            let (a, b) = (pos(p), pos(q));
            let ka = rank_key(a.0, a.1, a.2, 0).unwrap();
            let kb = rank_key(b.0, b.1, b.2, 0).unwrap();
            let pa = bankruptcy_price(a.0, a.1, a.2, fidx, 0).unwrap().unwrap();
            let pb = bankruptcy_price(b.0, b.1, b.2, fidx, 0).unwrap().unwrap();
            if ka > kb { prop_assert!(pa >= pb); }
            if pa > pb + 1 { prop_assert!(ka >= kb); }
        }
    }
}

#[test]
fn premium_is_clamped_and_unbiased() {
    // Mark 101 over 100: 100 bps, clamped to 50.
    assert_eq!(premium_bps(101_000_000, P100, 50).unwrap(), 50);
    assert_eq!(premium_bps(99_000_000, P100, 50).unwrap(), -50);
    // ±0.99 bps both round toward zero: no sign bias.
    assert_eq!(premium_bps(100_009_900, P100, 50).unwrap(), 0);
    assert_eq!(premium_bps(99_990_100, P100, 50).unwrap(), 0);
    assert_eq!(premium_bps(99_900_000, P100, 50).unwrap(), -10);
    assert!(matches!(
        premium_bps(1, 0, 50),
        Err(AdlError::InvalidOraclePrice)
    ));
}

#[test]
fn funding_weight_is_set_by_the_fees() {
    // 4·50/(5 + 2) = 28.57… → 29; fees of 200 bps make k = 1; no fee: trades cannot move it.
    assert_eq!(funding_weight_k(50, 5, 2), Some(29));
    assert_eq!(funding_weight_k(50, 100, 100), Some(1));
    assert_eq!(funding_weight_k(0, 5, 2), Some(1));
    assert_eq!(funding_weight_k(50, 0, 0), None);
}

#[test]
fn premium_weight_rounds_toward_zero() {
    // 105,000 atoms at 50 bps: 525 exactly; 1,999 atoms at ±50 bps: ±9.995 → ±9.
    assert_eq!(premium_weight(105_000, 50).unwrap(), 525);
    assert_eq!(premium_weight(1_999, 50).unwrap(), 9);
    assert_eq!(premium_weight(1_999, -50).unwrap(), -9);
}

#[test]
fn a_window_rate_is_weighted_by_notional_against_k_open_interest() {
    let s = PREMIUM_ACC_SCALE;
    // 1,000 USDC of open interest, k = 29; a window that traded 29,000 USDC at +50 bps
    // (X = 145 USDC): r = 1e4·145/(29,000 + 29,000) = 25 bps; over 4 slots: 100 bps·slots.
    let oi = open_interest_notional(10 * 1_000_000_000, 7 * 1_000_000_000, P100).unwrap();
    assert_eq!(oi, 1_000_000_000);
    assert_eq!(
        window_accrual(145_000_000, 29_000_000_000, Some(29), oi, 4).unwrap(),
        100 * s
    );
    // A minimum trade (0.001 at 100.5: 100,500 atoms, +50 bps, X = 502): r = 1e4·502/
    // (100,500 + 29e9) = 0.0001731… bps; over 100 slots 0.01731 bps·slots → 1,731 units
    // (toward zero) — about 1/289,000 of the cap.
    assert_eq!(
        window_accrual(502, 100_500, Some(29), oi, 100).unwrap(),
        1_731
    );
    assert_eq!(
        window_accrual(-502, 100_500, Some(29), oi, 100).unwrap(),
        -1_731
    );
    // No fee (k = None), no premium, or no open interest and no volume: nothing accrues.
    assert_eq!(window_accrual(145_000_000, 1, None, oi, 4).unwrap(), 0);
    assert_eq!(window_accrual(0, 1, Some(29), oi, 4).unwrap(), 0);
    assert_eq!(window_accrual(5, 0, Some(29), 0, 4).unwrap(), 0);
}

#[test]
fn funding_step_carries_its_remainder() {
    let s = PREMIUM_ACC_SCALE;
    // 50 bps for 10 slots of a 100-slot period at 100: ΔF = 500·100e6/(1e4·100) = 50,000.
    assert_eq!(funding_step(500 * s, 0, P100, 100).unwrap(), (50_000, 0));
    // −10 bps for 1 slot of a 7-slot period: −0.1/7 = −14,285.714… → −14,285, and the
    // remainder −5e9 (= −0.714… · 7e4 · 1e5) is carried.
    let (d, c) = funding_step(-10 * s, 0, P100, 7).unwrap();
    assert_eq!((d, c), (-14_285, -5_000_000_000));
    // Seven such one-slot steps apply exactly −0.1, the same as one seven-slot step.
    let (mut total, mut carry) = (0i64, 0i64);
    for _ in 0..7 {
        let (d, c) = funding_step(-10 * s, carry, P100, 7).unwrap();
        total += d;
        carry = c;
    }
    assert_eq!((total, carry), (-100_000, 0));
    assert_eq!(funding_step(-70 * s, 0, P100, 7).unwrap(), (-100_000, 0));
    // A per-slot increment below one atom is not erased: 1 bps of 1.0 over a
    // 1,000,000-slot period is 1e-10 per slot; 10,000 cranks of one slot apply 1 atom.
    let mut carry = 0i64;
    let mut total = 0i64;
    for _ in 0..10_000 {
        let (d, c) = funding_step(s, carry, 1_000_000, 1_000_000).unwrap();
        total += d;
        carry = c;
    }
    assert_eq!(total, 1);
    assert!(matches!(
        funding_step(1, 0, 1, 0),
        Err(AdlError::MathOverflow)
    ));
}

#[test]
fn escrow_funding_rounds_against_the_escrow() {
    // A long escrow of 1.5 pays 1.5 × 0.000_001 = 1.5 → 2 atoms; receiving, −1.5 → −1.
    assert_eq!(escrow_funding(3 * ONE / 2, 1).unwrap(), 2);
    assert_eq!(escrow_funding(3 * ONE / 2, -1).unwrap(), -1);
    assert_eq!(escrow_funding(-(3 * ONE / 2), 1).unwrap(), -1);
}

#[test]
fn shares_use_a_virtual_offset() {
    // The first stake mints 1,000 shares per atom and is worth exactly what was staked.
    assert_eq!(shares_for_stake(100, 0, 0).unwrap(), 100_000);
    assert_eq!(shares_value(100_000, 100_000, 100).unwrap(), 100);
    // A balance present before the first stake (1,000 atoms) is not the first staker's:
    // 1 atom buys floor(1·1,000/1,001) = 0 shares; 10,000 atoms buy 9,990 shares, worth
    // floor(9,990·11,001/10,990) = 9,999 atoms (one atom of rounding, to the fund).
    assert_eq!(shares_for_stake(1, 0, 1_000).unwrap(), 0);
    assert_eq!(shares_for_stake(10_000, 0, 1_000).unwrap(), 9_990);
    assert_eq!(shares_value(9_990, 9_990, 11_000).unwrap(), 9_999);
    // Wiped below 1/1,000 of the first-stake price: 1e6 atoms staked (1e9 shares) with 999
    // atoms left is wiped; with 1,000 left it is not.
    assert!(shares_wiped(1_000_000_000, 999));
    assert!(!shares_wiped(1_000_000_000, 1_000));
    assert!(!shares_wiped(0, 0));
}

#[test]
fn exact_tier_and_eligibility() {
    // A short of 2.0 with cost −179.999999 (entry 89.9999995) at 89.999999 is in profit: the
    // entry key rounds up for shorts, so the key test agrees with the exact one.
    let (q, b) = (-2 * ONE, -179_999_999i64);
    assert!(unrealized_in_profit(q, b, 89_999_999).unwrap());
    assert_eq!(entry_price(q, b).unwrap(), 90_000_000);
    assert!(in_profit(false, entry_price(q, b).unwrap(), 89_999_999));
    assert!(!unrealized_in_profit(q, b, 90_000_000).unwrap());
    assert!(!in_profit(false, entry_price(q, b).unwrap(), 90_000_000));
    // Longs round down: entry 100.0000005 is not in profit at 100.000000, is at 100.000001.
    let (q, b) = (2 * ONE, 200_000_001i64);
    assert_eq!(entry_price(q, b).unwrap(), 100_000_000);
    assert!(!unrealized_in_profit(q, b, 100_000_000).unwrap());
    assert!(!in_profit(true, entry_price(q, b).unwrap(), 100_000_000));
    assert!(unrealized_in_profit(q, b, 100_000_001).unwrap());
    // Exactly zero equity is eligible: a short of 1.0 at 100 with no margin, at 100.
    assert!(equity_non_negative(-ONE, -100_000_000, 0, 100_000_000).unwrap());
    assert!(!equity_non_negative(-ONE, -100_000_000, 0, 100_000_001).unwrap());
    // Sub-atom equity: q = −3 atoms, B = −1, C = 0 at P = 333,333,333 has exact equity
    // (1e9 − 999,999,999)/1e9 = +1e-9 ≥ 0; one price atom more makes it negative.
    assert!(equity_non_negative(-3, -1, 0, 333_333_333).unwrap());
    assert!(!equity_non_negative(-3, -1, 0, 333_333_334).unwrap());
}
