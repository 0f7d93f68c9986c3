//! The README's first command: the demo runs to the end, prints both queues and reports
//! exact conservation.

#[tokio::test]
async fn demo_prints_both_queues_and_exact_conservation() {
    let report = adl_harness::demo::run().await.unwrap();
    assert!(report.contains("LONG queue at price 104.000000 (9 positions"));
    assert!(report.contains("SHORT queue at price 104.000000 (10 positions"));
    assert!(report.contains("-> exact"));
    assert!(report.contains("-> solvent"));
    // The crash: liquidations, one paid by the fund, then an ADL event run to the end.
    assert!(report.contains("deficit paid by the fund"));
    assert!(report.contains("the fund cannot cover it: ADL event 0"));
    assert!(report.contains("ADL fill: slot"));
    assert!(report.contains("status done"));
    assert!(report.contains("ADL payouts claimed by the keeper"));
    assert!(report.contains("keeper liquidates slot"));
    assert!(report.contains("keeper flags slot"));
    // Ranks 1..=10 on the short side, each with lights.
    let short = report.split("SHORT queue").nth(1).unwrap();
    assert_eq!(
        short
            .lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count(),
        10
    );
}
