//! The adversarial soak of the ADL lifecycle (`adl_sim::soak`), short: the long run is
//! `cargo run -p adl-sim --release --bin adl-soak` (docs/reliability.md).

use adl_sim::soak::{run, SoakConfig};
use proptest::prelude::*;

/// One run of 20,000 operations with every invariant checked after every operation: events
/// of all three modes start, end, and stay within their bound of keeper transactions while
/// the attacker acts between every pair of honest transactions.
#[test]
fn soak_short_run() {
    let r = run(SoakConfig {
        seed: 7,
        ops: 20_000,
        ..SoakConfig::default()
    });
    println!("{r:#?}");
    assert_eq!(r.events_started, r.events_done);
    assert!(r.events_started >= 10, "{r:?}");
    assert!(
        r.events_by_mode.iter().all(|&n| n > 0),
        "every mode ran: {r:?}"
    );
    assert!(r.keeper_fills > 0 && r.arrival_fills > 0, "{r:?}");
    assert!(r.attacker_ops > 5_000 && r.funding_cranks > 1_000, "{r:?}");
    assert!(r.checks >= r.ops);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Liveness under an adversary, over random seeds, walk caps and keeper batch sizes:
    /// every event ends within its bound; every fill is the definition's; every invariant
    /// holds after every operation.
    #[test]
    fn liveness_under_an_adversary(
        seed in any::<u64>(),
        cap in 2usize..40,
        batch in 1usize..8,
        crank in 1usize..12,
    ) {
        let r = run(SoakConfig {
            seed,
            ops: 2_500,
            cap,
            batch,
            crank,
            traders: 30,
            attackers: 8,
            check_every_op: true,
        });
        prop_assert_eq!(r.events_started, r.events_done);
    }
}
