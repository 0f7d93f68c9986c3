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
fn funding_delta_bounded_premium() {
    // Mark 101 over 100: 100 bps, bounded to 50 bps per 100 slots; 10 slots → 0.05.
    assert_eq!(
        funding_delta(101_000_000, P100, 10, 100, 50).unwrap(),
        50_000
    );
    // Mark 99.9: −10 bps (inside the bound); 10 slots → −0.01.
    assert_eq!(
        funding_delta(99_900_000, P100, 10, 100, 50).unwrap(),
        -10_000
    );
    // Rounding toward zero: −10 bps of 100 (−0.1) over 1 slot of a 7-slot period
    // → −0.0142857… → −14,285 price atoms.
    assert_eq!(funding_delta(99_900_000, P100, 1, 7, 50).unwrap(), -14_285);
    // No trade yet: no funding.
    assert_eq!(funding_delta(0, P100, 10, 100, 50).unwrap(), 0);
}
